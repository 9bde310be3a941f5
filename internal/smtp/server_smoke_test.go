package smtp

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
)

type smokeBackend struct{ got [][]byte }
type smokeSess struct{ b *smokeBackend }

func (b *smokeBackend) NewSession(*ConnState) (Session, error) { return &smokeSess{b}, nil }
func (s *smokeSess) Mail(string, *PathArg) error               { return nil }
func (s *smokeSess) Rcpt(to string, _ *PathArg) error {
	if strings.HasPrefix(to, "bad") {
		return &Error{Reply: Reply{Code: 550, Enhanced: "5.1.1", Lines: []string{"no"}}}
	}
	return nil
}
func (s *smokeSess) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.b.got = append(s.b.got, b)
	return nil
}
func (s *smokeSess) Reset()  {}
func (s *smokeSess) Logout() {}

func TestSmoke(t *testing.T) {
	be := &smokeBackend{}
	srv := NewServer(ServerOptions{Backend: be})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln, ListenerOptions{})
	defer srv.Close()
	for _, chunk := range []string{"off", "on"} {
		body := "Subject: x\n\n.leading dot\nline2\n"
		res, err := Submit(context.Background(), SubmitOptions{Addr: ln.Addr().String(), Host: "localhost", TLS: TLSNone, Helo: "me",
			From: "a@x", Rcpts: []Recipient{{Addr: "b@x"}, {Addr: "bad@x"}}, Chunking: chunk, Pipelining: "auto",
			Message: &Message{Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }, Size: 40}})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", res.Data)
	}
	for _, g := range be.got {
		if !bytes.Equal(g, []byte("Subject: x\r\n\r\n.leading dot\r\nline2\r\n")) {
			t.Fatalf("got %q", g)
		}
	}
	if len(be.got) != 2 {
		t.Fatal(len(be.got))
	}
}
