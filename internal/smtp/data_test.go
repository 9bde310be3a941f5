package smtp

import (
	"bufio"
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/smtpkit/smtpkit/internal/smtptest"
)

// writeBody runs the body writer over in, cut into pieces of at most step
// octets (0: one write), and returns what it wrote and its counters.
func runBodyWriter(t *testing.T, in []byte, dotStuff bool, step int) ([]byte, *bodyWriter) {
	t.Helper()
	var out bytes.Buffer
	bw := bufio.NewWriterSize(&out, 16)
	d := newBodyWriter(bw, dotStuff)
	for rest := in; len(rest) > 0; {
		n := len(rest)
		if step > 0 {
			n = min(n, step)
		}
		if w, err := d.Write(rest[:n]); err != nil || w != n {
			t.Fatalf("Write = %d, %v", w, err)
		}
		rest = rest[n:]
	}
	if err := d.finish(); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), d
}

func TestBodyWriter(t *testing.T) {
	tests := []struct {
		name, in, want string // want is DATA output (dot-stuffed)
	}{
		{"empty", "", ""},
		{"CRLF", "a\r\nb\r\n", "a\r\nb\r\n"},
		{"bare LF", "a\nb\n", "a\r\nb\r\n"},
		{"bare CR", "a\rb\r", "a\r\nb\r\n"},
		{"mixed", "a\r\nb\nc\rd", "a\r\nb\r\nc\r\nd\r\n"},
		{"CR CR LF is a bare CR then CRLF", "a\r\r\nb", "a\r\n\r\nb\r\n"},
		{"LF CR is two line endings", "a\n\rb", "a\r\n\r\nb\r\n"},
		{"no trailing newline", "Subject: x\r\n\r\nbody", "Subject: x\r\n\r\nbody\r\n"},
		{"only a newline", "\n", "\r\n"},
		{"only CR", "\r", "\r\n"},
		{"blank lines", "\n\n\n", "\r\n\r\n\r\n"},
		{"leading dot", ".hidden\r\n", "..hidden\r\n"},
		{"lone dot line", "a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n"},
		{"dot first byte of body", ".", "..\r\n"},
		{"dot after bare LF", "a\n.b", "a\r\n..b\r\n"},
		{"dot after bare CR", "a\r.b", "a\r\n..b\r\n"},
		{"dots inside a line untouched", "a.b.\r\n...\r\n", "a.b.\r\n....\r\n"},
		{"8-bit and NUL pass through", "caf\xc3\xa9\x00\r\n", "caf\xc3\xa9\x00\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, step := range []int{0, 1, 2, 3} {
				got, d := runBodyWriter(t, []byte(tt.in), true, step)
				if string(got) != tt.want {
					t.Fatalf("step %d: DATA output %q, want %q", step, got, tt.want)
				}
				if d.n != int64(len(got)) {
					t.Fatalf("step %d: counted %d octets, wrote %d", step, d.n, len(got))
				}
				plain, _ := runBodyWriter(t, []byte(tt.in), false, step)
				if string(plain) != string(undotStuff(got)) {
					t.Fatalf("step %d: without dot-stuffing %q, want %q", step, plain, undotStuff(got))
				}
				size, err := NormalizedSize(strings.NewReader(tt.in))
				if err != nil || size != int64(len(plain)) || size != d.n-d.stuffed {
					t.Fatalf("NormalizedSize = %d, %v; want %d", size, err, len(plain))
				}
			}
		})
	}
}

// TestBodyWriterProperty: for random content cut at random places, the
// output never has a bare CR or LF, and un-dot-stuffing it gives the
// normalised input.
func TestBodyWriterProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab.\r\n\r\n. \x00\xff")
	for range 3000 {
		in := make([]byte, rng.IntN(64))
		for j := range in {
			in[j] = alphabet[rng.IntN(len(alphabet))]
		}
		step := rng.IntN(8)
		got, d := runBodyWriter(t, in, true, step)
		if i := bareLineEnding(got); i >= 0 {
			t.Fatalf("input %q: bare CR or LF at %d of %q", in, i, got)
		}
		if want := normalizeCRLF(in); !bytes.Equal(undotStuff(got), want) {
			t.Fatalf("input %q: un-dot-stuffed %q, want %q", in, undotStuff(got), want)
		}
		for _, line := range bytes.SplitAfter(got, []byte("\r\n")) {
			if string(line) == ".\r\n" {
				t.Fatalf("input %q: output contains the terminator line: %q", in, got)
			}
		}
		size, _ := NormalizedSize(bytes.NewReader(in))
		if size != int64(len(normalizeCRLF(in))) || size != d.n-d.stuffed {
			t.Fatalf("input %q: NormalizedSize %d, normalised %d, written %d - %d stuffed", in, size, len(normalizeCRLF(in)), d.n, d.stuffed)
		}
	}
}

// FuzzBodyWriter: whatever the content and however it is cut into
// writes, DATA output has no bare CR or LF, never a terminator line, and
// un-dot-stuffs to the normalised content.
func FuzzBodyWriter(f *testing.F) {
	f.Add([]byte("a\r\n.\r\nb"), uint8(1))
	f.Add([]byte("\r\r\n\n.\r."), uint8(3))
	f.Add([]byte(""), uint8(0))
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		got, d := runBodyWriter(t, in, true, int(step%16))
		if i := bareLineEnding(got); i >= 0 {
			t.Fatalf("bare CR or LF at %d of %q", i, got)
		}
		if want := normalizeCRLF(in); !bytes.Equal(undotStuff(got), want) {
			t.Fatalf("un-dot-stuffed %q, want %q", undotStuff(got), want)
		}
		for _, line := range bytes.SplitAfter(got, []byte("\r\n")) {
			if string(line) == ".\r\n" {
				t.Fatalf("output contains the terminator line: %q", got)
			}
		}
		if d.n != int64(len(got)) {
			t.Fatalf("counted %d, wrote %d", d.n, len(got))
		}
	})
}

// bareLineEnding returns the index of a CR or LF that is not part of a
// CRLF pair, or -1.
func bareLineEnding(b []byte) int {
	for i, c := range b {
		if c == '\r' && (i+1 == len(b) || b[i+1] != '\n') {
			return i
		}
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			return i
		}
	}
	return -1
}

// TestNormalizedSizeMatchesWhatIsSent sends the same content with DATA and
// with BDAT and checks that NormalizedSize, TxResult.Octets and the octets
// the server received (un-dot-stuffed for DATA) agree.
func TestNormalizedSizeMatchesWhatIsSent(t *testing.T) {
	bodies := []string{
		"Subject: t\n\n.leading\n..two\nno newline at end",
		"a\r\rb\r\n.\r\n",
		"",
		strings.Repeat(".x\n", 5000),
	}
	for i, body := range bodies {
		size, err := NormalizedSize(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for _, chunking := range []bool{false, true} {
			t.Run(strconv.Itoa(i)+map[bool]string{false: "/DATA", true: "/BDAT"}[chunking], func(t *testing.T) {
				content := smtptest.ExpectData()
				ready := smtptest.Send("354 go ahead")
				if chunking {
					content = smtptest.ExpectBDAT()
					ready = smtptest.Do("no 354 for BDAT", func(*smtptest.Peer) error { return nil })
				}
				script := smtptest.Script{
					smtptest.Expect("MAIL FROM:<a@example.org>"), smtptest.Send("250 ok"),
					smtptest.Expect("RCPT TO:<b@example.org>"), smtptest.Send("250 ok"),
				}
				if !chunking {
					script = append(script, smtptest.Expect("DATA"))
				}
				script = append(script, ready, content, smtptest.Send("250 queued"))
				c, run := scripted(t, script, ClientOptions{})
				res, err := c.Send(&Transaction{From: "a@example.org", Rcpts: []Recipient{{Addr: "b@example.org"}},
					Body: strings.NewReader(body), Chunking: chunking})
				if err != nil {
					t.Fatal(err)
				}
				run.Wait()
				got := run.Bodies()
				if len(got) != 1 {
					t.Fatalf("server read %d bodies", len(got))
				}
				if int64(len(got[0])) != size || res.Octets != size {
					t.Fatalf("NormalizedSize %d, Octets %d, server received %d", size, res.Octets, len(got[0]))
				}
				if want := normalizeCRLF([]byte(body)); !bytes.Equal(got[0], want) {
					t.Fatalf("server received %q, want %q", got[0], want)
				}
			})
		}
	}
}

// patternReader produces size octets of 78-octet lines, every 7th starting
// with a dot, without allocating.
type patternReader struct{ left, pos int }

const patternLine = "The quick brown fox jumps over the lazy dog; 0123456789 abcdefghijklmnopqrstu\n"

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(b) && p.left > 0 {
		line := p.pos / len(patternLine)
		off := p.pos % len(patternLine)
		c := patternLine[off]
		if off == 0 && line%7 == 0 {
			c = '.'
		}
		b[n] = c
		n++
		p.left--
		p.pos++
	}
	return n, nil
}

// sink is a peer that accepts any transaction and throws the content away
// without holding it.
func sinkPeer(conn net.Conn) {
	defer conn.Close()
	br := bufio.NewReaderSize(conn, 64*1024)
	w := func(s string) { _, _ = io.WriteString(conn, s) }
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return
		}
		switch {
		case bytes.HasPrefix(line, []byte("DATA")):
			w("354 go ahead\r\n")
			for {
				l, err := br.ReadSlice('\n')
				if err != nil && err != bufio.ErrBufferFull {
					return
				}
				if string(l) == ".\r\n" {
					break
				}
			}
			w("250 2.0.0 Ok: queued as SINK\r\n")
		case bytes.HasPrefix(line, []byte("BDAT ")):
			f := strings.Fields(string(line))
			n, _ := strconv.Atoi(f[1])
			if _, err := br.Discard(n); err != nil {
				return
			}
			w("250 2.0.0 chunk ok\r\n")
		case bytes.HasPrefix(line, []byte("QUIT")):
			w("221 bye\r\n")
			return
		default:
			w("250 ok\r\n")
		}
	}
}

// TestSendStreamsContent sends 64 MiB through Client.Send and checks that
// the heap does not grow with the message: the content must be streamed,
// never held. This bounds memory, not time.
func TestSendStreamsContent(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB transfer")
	}
	const size = 64 << 20
	for _, chunking := range []bool{false, true} {
		t.Run(map[bool]string{false: "DATA", true: "BDAT"}[chunking], func(t *testing.T) {
			client, server := net.Pipe()
			done := make(chan struct{})
			go func() { sinkPeer(server); close(done) }()
			t.Cleanup(func() { client.Close(); <-done })
			c := NewClient(client, ClientOptions{Timeouts: Uniform(30e9)})

			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			res, err := c.Send(&Transaction{From: "a@example.org", Rcpts: []Recipient{{Addr: "b@example.org"}},
				Body: &patternReader{left: size}, Chunking: chunking, Pipelining: true})
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := NormalizedSize(&patternReader{left: size})
			if res.Octets != want {
				t.Fatalf("Octets = %d, want %d", res.Octets, want)
			}
			const bound = 8 << 20
			alloc := after.TotalAlloc - before.TotalAlloc
			inuse := int64(after.HeapInuse) - int64(before.HeapInuse)
			t.Logf("sent %d octets: allocated %d, heap in use grew by %d", res.Octets, alloc, inuse)
			if alloc > bound || inuse > bound {
				t.Fatalf("sending %d octets allocated %d octets and grew the heap by %d; want both under %d", size, alloc, inuse, bound)
			}
		})
	}
}
