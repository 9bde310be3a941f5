package smtp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
)

// chunksOf splits content into BDAT chunks: each octet of cuts is the
// length of the next chunk (0 gives an empty chunk), the rest of content
// is the last one.
func chunksOf(content, cuts []byte) [][]byte {
	var out [][]byte
	for _, c := range cuts {
		n := min(int(c), len(content))
		out = append(out, content[:n])
		content = content[n:]
	}
	return append(out, content)
}

// bdatVerdict is what the BDAT checks must answer for content sent in
// chunks that end at the offsets ends: the first bare CR or LF (a CR at the
// very end counts) or overlong line, unless the size limit was passed in
// an earlier chunk (the size is checked once a chunk is in).
func bdatVerdict(content []byte, maxLine int, maxSize int64, ends []int) error {
	p1, kind := -1, error(nil)
	lineLen, cr := 0, false
	for i, b := range content {
		lineLen++
		if maxLine > 0 && lineLen > maxLine {
			p1, kind = i, ErrLineTooLong
			break
		}
		if cr {
			if b != '\n' {
				p1, kind = i, ErrBareLineEnding
				break
			}
			cr, lineLen = false, 0
			continue
		}
		if b == '\r' {
			cr = true
		} else if b == '\n' {
			p1, kind = i, ErrBareLineEnding
			break
		}
	}
	if p1 < 0 && cr {
		p1, kind = len(content), ErrBareLineEnding
	}
	if maxSize > 0 && int64(len(content)) > maxSize {
		p2 := int(maxSize) // the octet that goes over
		for _, e := range ends {
			if e > p2 {
				if p1 >= 0 && p1 < e {
					return kind
				}
				return ErrTooBig
			}
		}
	}
	return kind
}

// FuzzBDATChunks checks the BDAT content rules (chunkChecker) against a
// plain reference, for content cut into chunks anywhere: the verdict never
// depends on where the chunks end except for when the size limit is
// noticed, and content the BDAT rules accept is exactly content that DATA
// accepts once dot-stuffed (one message means the same whichever command
// carries it).
func FuzzBDATChunks(f *testing.F) {
	for _, s := range []string{
		"hello\r\n", "a\rb\r\n", "a\nb\r\n", "a\r", "\r\n.\r\n", "a\r\n.\r\nMAIL FROM:<x@y>\r\n", "\n.\n",
		"\r.\r", "\n.\r\n", "\r\n.\n", "\r\n.\r", "x\x00\r\n", "0123456789\r\n", "01234567890\r\n", "",
	} {
		f.Add([]byte(s), []byte{1, 2, 3}, true)
		f.Add([]byte(s), []byte{}, false)
	}
	f.Fuzz(func(t *testing.T, content, cuts []byte, small bool) {
		maxLine, maxSize := 1000, int64(1<<16)
		if small {
			maxLine, maxSize = 12, 40
		}
		chunks := chunksOf(content, cuts)
		var ends []int
		off := 0
		for _, c := range chunks {
			off += len(c)
			ends = append(ends, off)
		}
		want := bdatVerdict(content, maxLine, maxSize, ends)
		chk := chunkChecker{maxLine: maxLine, maxSize: maxSize}
		var got error
		for _, c := range chunks {
			if got = chk.check(c); got != nil {
				break
			}
		}
		if got == nil {
			got = chk.end()
		}
		if !errors.Is(got, want) || (got == nil) != (want == nil) {
			t.Fatalf("chunks %q: %v, want %v", chunks, got, want)
		}
		if len(content) > 0 && !bytes.HasSuffix(content, []byte("\r\n")) {
			return // DATA content always ends in CRLF
		}
		dr := newDataReader(bufio.NewReader(bytes.NewReader(dotStuff(content))), maxLine, maxSize)
		body, derr := io.ReadAll(dr)
		if (derr == nil) != (want == nil) {
			t.Fatalf("content %q: DATA says %v, BDAT %v", content, derr, want)
		}
		if derr == nil && !bytes.Equal(body, content) {
			t.Fatalf("DATA read %q back as %q", content, body)
		}
	})
}

// FuzzBDATSession sends content as BDAT chunks (cut as in FuzzBDATChunks)
// and, when it ends in CRLF, as DATA too, in one pipelined session with
// the server of FuzzServerSession (every property of that one holds): each
// is stored, with exactly the octets sent, if and only if the rules accept
// it, and every chunk but a refused one gets its own reply.
func FuzzBDATSession(f *testing.F) {
	for _, s := range []string{
		"Subject: x\r\n\r\nhello\r\n", "a\r\n.\r\nMAIL FROM:<evil@x>\r\n", "a\rb\r\n", "a\nb\r\n", "a\r", "",
		"\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r\n.\r", "x\x00\r\n", "BDAT 3 LAST\r\nabc",
	} {
		f.Add([]byte(s), []byte{2, 0, 5})
		f.Add([]byte(s), []byte{})
	}
	f.Add(bytes.Repeat([]byte("x"), 5000), []byte{255, 255})
	f.Add(append(bytes.Repeat([]byte("y"), 999), "\r\n"...), []byte{100})
	f.Fuzz(func(t *testing.T, content, cuts []byte) {
		if len(cuts) > 64 {
			cuts = cuts[:64]
		}
		chunks := chunksOf(content, cuts)
		var in bytes.Buffer
		in.WriteString("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<bdat@x>\r\n")
		var ends []int
		off := 0
		for i, c := range chunks {
			last := ""
			if i == len(chunks)-1 {
				last = " LAST"
			}
			fmt.Fprintf(&in, "BDAT %d%s\r\n", len(c), last)
			in.Write(c)
			off += len(c)
			ends = append(ends, off)
		}
		viaData := len(content) == 0 || bytes.HasSuffix(content, []byte("\r\n"))
		if viaData {
			in.WriteString("MAIL FROM:<a@x>\r\nRCPT TO:<data@x>\r\nDATA\r\n")
			in.Write(dotStuff(content))
		}
		in.WriteString("QUIT\r\n")
		replies, be := fuzzSession(t, 0, in.Bytes())
		want := bdatVerdict(content, 1000, 4096, ends)
		var bdat, data []recMsg
		for _, m := range be.messages() {
			switch m.Rcpts[0] {
			case "bdat@x":
				bdat = append(bdat, m)
			case "data@x":
				data = append(data, m)
			}
		}
		check := func(how string, got []recMsg) {
			t.Helper()
			switch {
			case want != nil && len(got) > 0:
				t.Fatalf("%s stored %q, which breaks the rules (%v)", how, got[0].Body, want)
			case want == nil && len(got) != 1:
				t.Fatalf("%s stored %d messages of %q, want 1; replies:\n%s", how, len(got), content, replies)
			case want == nil && !bytes.Equal(got[0].Body, content):
				t.Fatalf("%s stored %q, sent %q", how, got[0].Body, content)
			}
		}
		check("BDAT", bdat)
		if viaData {
			check("DATA", data)
		}
		if want == nil {
			if n := bytes.Count(replies, []byte(" octets received\r\n")); n != len(chunks)-1 {
				t.Fatalf("%d chunks before the last, %d acknowledged; replies:\n%s", len(chunks)-1, n, replies)
			}
		}
	})
}
