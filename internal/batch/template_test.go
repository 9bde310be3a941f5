package batch

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/smtpkit/smtpkit/internal/message"
	"github.com/smtpkit/smtpkit/internal/smtp"
)

// dkimKey writes an Ed25519 key and returns its path and the TXT record
// that publishes it.
func dkimKey(t *testing.T) (path, txt string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "dkim.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
}

// verifyDKIM fails t unless msg carries exactly one signature by
// example.net that verifies with txt.
func verifyDKIM(t *testing.T, msg []byte, txt string) {
	t.Helper()
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{
		LookupTXT: func(string) ([]string, error) { return []string{txt}, nil },
	})
	if err != nil || len(vs) != 1 {
		t.Fatalf("verify: %v, %d signatures", err, len(vs))
	}
	if vs[0].Err != nil || vs[0].Domain != "example.net" {
		t.Errorf("signature by %q: %v", vs[0].Domain, vs[0].Err)
	}
}

func TestTemplateFinish(t *testing.T) {
	dir := t.TempDir()
	att := filepath.Join(dir, "terms.txt")
	if err := os.WriteFile(att, []byte("the terms\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	as, err := message.LoadAttachments([]message.Attachment{{Path: att}})
	if err != nil {
		t.Fatal(err)
	}
	keyPath, txt := dkimKey(t)
	signer, err := message.NewDKIMSigner(message.DKIMOptions{Domain: "example.net", Selector: "s1", KeyPath: keyPath})
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	tp, err := ParseTemplate("t", "From: me@example.net\nTo: {{.to}}\nSubject: hi {{.name}}\n\nDear {{.name}}\n")
	if err != nil {
		t.Fatal(err)
	}
	row := &Row{N: 3, Fields: map[string]any{"to": "a@example.com", "name": "Ann"}}

	for _, tt := range []struct {
		name   string
		f      *Finish
		want   []string // substrings of the result
		signed bool
	}{
		{"attach", &Finish{Attachments: as}, []string{"Subject: hi Ann\r\n", "Content-Type: multipart/mixed;", "Dear Ann\r\n", "filename=terms.txt"}, false},
		{"sign", &Finish{DKIM: signer, Now: now, Domain: "example.net"}, []string{"Date: Fri, 02 Jan 2026 03:04:05 +0000\r\n", "@example.net>\r\n", "\r\nDear Ann\r\n"}, true},
		{"both", &Finish{Attachments: as, DKIM: signer, Now: now, Domain: "example.net"}, []string{"Content-Type: multipart/mixed;", "filename=terms.txt", "Message-ID: <"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tp.SetFinish(tt.f)
			defer tp.SetFinish(nil)
			b, err := tp.RenderBytes(row)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !bytes.Contains(b, []byte(w)) {
					t.Errorf("no %q in\n%s", w, b)
				}
			}
			if got := bytes.HasPrefix(b, []byte("DKIM-Signature: ")); got != tt.signed {
				t.Errorf("signed %v, want %v", got, tt.signed)
			}
			if tt.signed {
				verifyDKIM(t, b, txt)
				// What Run adds after rendering must leave a signed
				// message alone: its Date and Message-ID are there.
				if again := addMissingHeaders(b, now(), "example.net"); !bytes.Equal(again, b) {
					t.Error("addMissingHeaders changed a finished message")
				}
			}
			var w bytes.Buffer
			if err := tp.Render(&w, row); err != nil || !bytes.Contains(w.Bytes(), []byte("Dear Ann")) {
				t.Errorf("Render: %v", err)
			}
		})
	}

	// A rendered message that is not a message is that row's error.
	bad, _ := ParseTemplate("t", "{{.name}} is not a header\n")
	bad.SetFinish(&Finish{Attachments: as})
	if _, err := bad.RenderBytes(row); err == nil || !strings.HasPrefix(err.Error(), "row 3: ") {
		t.Errorf("err %v, want a row 3 error", err)
	}
}

// bodyConn keeps the body of every transaction.
type bodyConn struct {
	mu     *sync.Mutex
	bodies *[][]byte
}

func (c bodyConn) Extensions() smtp.Extensions {
	return smtp.ParseExtensions([]string{"x", "PIPELINING"})
}
func (c bodyConn) Quit() (smtp.Reply, error) { return smtp.Reply{Code: 221}, nil }
func (c bodyConn) Close() error              { return nil }
func (c bodyConn) Send(tx *smtp.Transaction) (*smtp.TxResult, error) {
	b, err := io.ReadAll(tx.Body)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	*c.bodies = append(*c.bodies, b)
	c.mu.Unlock()
	res := &smtp.TxResult{Mail: smtp.Reply{Code: 250}, Data: &smtp.Reply{Code: 250}, EndSent: true}
	for _, r := range tx.Rcpts {
		res.Rcpts = append(res.Rcpts, smtp.RcptResult{Addr: r.Addr, Reply: smtp.Reply{Code: 250}, Accepted: true})
	}
	return res, nil
}

// TestRunFinish sends signed messages with an attachment through Run: what
// reaches the server verifies, one message per row.
func TestRunFinish(t *testing.T) {
	keyPath, txt := dkimKey(t)
	signer, err := message.NewDKIMSigner(message.DKIMOptions{Domain: "example.net", Selector: "s1", KeyPath: keyPath})
	if err != nil {
		t.Fatal(err)
	}
	att := filepath.Join(t.TempDir(), "a.bin")
	if err := os.WriteFile(att, bytes.Repeat([]byte{0, 1, 2, 250}, 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	as, err := message.LoadAttachments([]message.Attachment{{Path: att}})
	if err != nil {
		t.Fatal(err)
	}
	tp, _ := ParseTemplate("t", "From: me@example.net\nSubject: {{.name}}\n\nhi {{.name}}\n")
	tp.SetFinish(&Finish{Attachments: as, DKIM: signer, Domain: "example.net"})
	r, err := NewReader(strings.NewReader("to,name\na@example.com,Ann\nb@example.com,Bob\nc@example.com,Cy\n"), FormatCSV)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var bodies [][]byte
	sum, err := Run(context.Background(), Options{
		Reader: r, Template: tp, From: "me@example.net", Concurrency: 2,
		Clock:   &fakeClock{now: time.Unix(1e9, 0)},
		Connect: func(context.Context) (Conn, error) { return bodyConn{mu: &mu, bodies: &bodies}, nil },
	})
	if err != nil || sum.Sent != 3 {
		t.Fatalf("sent %d, err %v", sum.Sent, err)
	}
	if len(bodies) != 3 {
		t.Fatalf("%d messages, want 3", len(bodies))
	}
	for _, b := range bodies {
		verifyDKIM(t, b, txt)
		if !bytes.Contains(b, []byte("filename=a.bin")) {
			t.Errorf("no attachment in\n%.400s", b)
		}
	}
}

func TestReaderOffset(t *testing.T) {
	// ends: the input up to the end of each row.
	for _, tt := range []struct {
		name string
		f    Format
		ends []string
	}{
		{"csv", FormatCSV, []string{"to,name\r\na@example.com,Ann\r\n", "b@example.com,\"Bob\nSmith\"\r\n", "d@example.com,Dan"}},
		{"jsonl", FormatJSONL, []string{"{\"to\":\"a@example.com\"}\r\n", "\n{\"to\":\"b@example.com\"}\n", "{\"to\":\"c@example.com\"}"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := strings.Join(tt.ends, "")
			r, err := NewReader(strings.NewReader(in), tt.f)
			if err != nil {
				t.Fatal(err)
			}
			p, ok := r.(Positioner)
			if !ok {
				t.Fatalf("%T is not a Positioner", r)
			}
			if tt.f == FormatCSV && p.Offset() != int64(len("to,name\r\n")) {
				t.Errorf("after the header: offset %d", p.Offset())
			}
			want := 0
			for i, end := range tt.ends {
				row, err := r.Next()
				if err != nil || row.Err != nil {
					t.Fatalf("row %d: %v %v", i+1, err, row)
				}
				want += len(end)
				if got := p.Offset(); got != int64(want) {
					t.Errorf("row %d: offset %d, want %d", row.N, got, want)
				}
			}
			if _, err := r.Next(); err != io.EOF {
				t.Fatalf("after the last row: %v", err)
			}
			if p.Offset() != int64(len(in)) {
				t.Errorf("at the end: offset %d, want %d", p.Offset(), len(in))
			}
		})
	}
}
