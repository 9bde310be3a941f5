package smtp

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"

	"github.com/smtpkit/smtpkit/internal/smtptest"
)

// dialScript serves script on a loopback listener and returns a client
// connected to it.
func dialScript(t *testing.T, script smtptest.Script, opts ClientOptions) (*Client, *smtptest.Run) {
	t.Helper()
	addr, run := script.Listen(t)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if opts.Timeouts == (Timeouts{}) {
		opts.Timeouts = testTimeouts
	}
	return NewClient(conn, opts), run
}

func startTLSOpening(t *testing.T) []smtptest.Step {
	return []smtptest.Step{
		greetStep,
		smtptest.Expect("EHLO client.example"),
		ehloReply("PIPELINING", "STARTTLS", "8BITMIME"),
		smtptest.Expect("STARTTLS"),
	}
}

func TestStartTLS(t *testing.T) {
	certs := smtptest.Cert(t)
	var tr Transcript
	c, run := dialScript(t, joinSteps(
		startTLSOpening(t),
		smtptest.Send("220 2.0.0 Ready to start TLS"),
		smtptest.StartTLS(certs.Server),
		smtptest.Expect("EHLO client.example"),
		ehloReply("PIPELINING", "AUTH PLAIN LOGIN", "8BITMIME"),
		quitSteps,
	), ClientOptions{Trace: tr.Add})
	clientHello(t, c)
	if _, ok := c.TLS(); ok {
		t.Fatal("TLS reported before STARTTLS")
	}
	if err := c.StartTLS(certs.Client("localhost")); err != nil {
		t.Fatal(err)
	}
	st, ok := c.TLS()
	if !ok || !st.HandshakeComplete || st.Version < tls.VersionTLS12 {
		t.Fatalf("TLS state = %+v, %v", st, ok)
	}
	if _, isTLS := c.Conn().(*tls.Conn); !isTLS {
		t.Errorf("Conn() is %T after StartTLS", c.Conn())
	}
	if len(c.Extensions().Lines()) != 0 || c.Extensions().Has("PIPELINING") {
		t.Fatalf("extensions survived STARTTLS: %q (RFC 3207 4.2: forget them)", c.Extensions().Lines())
	}
	if _, err := c.Hello("client.example"); err != nil {
		t.Fatal(err)
	}
	if !c.Extensions().Has("AUTH") || c.Extensions().Has("STARTTLS") {
		t.Errorf("extensions after the second EHLO = %q", c.Extensions().Lines())
	}
	clientQuit(t, c)
	run.Wait()
	smtptest.CompareGolden(t, "tls/starttls.txt", run.Transcript())

	sawTLS := false
	for _, ev := range tr.Events {
		if ev.Kind == EventTLS {
			sawTLS = true
			if !strings.Contains(ev.Line, "TLS 1.3") || !strings.Contains(ev.Line, "smtptest CA") {
				t.Errorf("TLS event = %q", ev.Line)
			}
			continue
		}
		if ev.TLS != sawTLS && ev.Kind != EventClosed {
			t.Errorf("event %s %q: TLS = %v", ev.Kind, ev.Line, ev.TLS)
		}
	}
	if !sawTLS {
		t.Error("no TLS event in the trace")
	}
}

func TestStartTLSInjection(t *testing.T) {
	certs := smtptest.Cert(t)
	injected := "250-injected\r\n250 AUTH PLAIN\r\n"
	var tr Transcript
	c, run := scripted(t, joinSteps(
		startTLSOpening(t),
		smtptest.SendRaw("220 2.0.0 Ready to start TLS\r\n"+injected),
		smtptest.ExpectClose(),
	), ClientOptions{Trace: tr.Add})
	clientHello(t, c)
	err := c.StartTLS(certs.Client("localhost"))
	ie := wantErr[*InjectionError](t, err)
	if ie.Buffered != len(injected) || !strings.Contains(ie.Error(), "response injection") {
		t.Errorf("error = %v (buffered %d, want %d)", ie, ie.Buffered, len(injected))
	}
	if _, ok := c.TLS(); ok {
		t.Error("session claims TLS after an injection")
	}
	run.Wait()
	if last := tr.Events[len(tr.Events)-1]; last.Kind != EventError {
		t.Errorf("last event = %+v, want the injection error", last)
	}
}

func TestStartTLSRefused(t *testing.T) {
	c, run := scripted(t, joinSteps(startTLSOpening(t), smtptest.Send("454 4.7.0 TLS not available due to local problem"), quitSteps), ClientOptions{})
	clientHello(t, c)
	err := c.StartTLS(&tls.Config{ServerName: "localhost"})
	if se := wantErr[*Error](t, err); !se.Temporary() || se.Command != "STARTTLS" {
		t.Errorf("error = %v", se)
	}
	if !c.Extensions().Has("STARTTLS") {
		t.Error("a refused STARTTLS dropped the extensions")
	}
	clientQuit(t, c)
	run.Wait()
}

// badCerts are certificates a client must refuse, with the reason x509
// gives.
func badCerts(t *testing.T) []struct {
	name   string
	certs  *smtptest.Certs
	reason string
} {
	return []struct {
		name   string
		certs  *smtptest.Certs
		reason string
	}{
		{"unknown CA", smtptest.Cert(t), "unknown authority"},
		{"wrong name", smtptest.WrongNameCert(t), "is valid for wrong.invalid"},
		{"expired", smtptest.ExpiredCert(t), "expired"},
	}
}

func TestStartTLSCertificateRejected(t *testing.T) {
	trusted := smtptest.Cert(t)
	for _, bc := range badCerts(t) {
		t.Run(bc.name, func(t *testing.T) {
			c, run := dialScript(t, joinSteps(
				startTLSOpening(t),
				smtptest.Send("220 2.0.0 Ready to start TLS"),
				smtptest.ExpectTLSRejected(bc.certs.Server),
			), ClientOptions{})
			clientHello(t, c)
			pool := bc.certs.Pool
			if bc.name == "unknown CA" {
				pool = trusted.Pool
			}
			err := c.StartTLS(&tls.Config{RootCAs: pool, ServerName: "localhost"})
			te := wantErr[*TLSError](t, err)
			if !te.Verify || !strings.Contains(te.Error(), bc.reason) || !strings.HasPrefix(te.Error(), "tls: certificate rejected") {
				t.Errorf("error = %q (Verify %v), want a rejection for %q", te, te.Verify, bc.reason)
			}
			run.Wait()
		})
	}
}

// TestSubmitCertificates runs Submit against servers with bad
// certificates: refused by default, reported with --insecure.
func TestSubmitCertificates(t *testing.T) {
	trusted := smtptest.Cert(t)
	for _, bc := range badCerts(t) {
		for _, mode := range []TLSMode{TLSStartTLS, TLSImplicit} {
			t.Run(bc.name+"/"+string(mode), func(t *testing.T) {
				srv := smtptest.NewServer(t, smtptest.ServerOptions{Certs: bc.certs, ImplicitTLS: mode == TLSImplicit})
				o := SubmitOptions{
					Addr: srv.Addr(), Host: "localhost", TLS: mode, Helo: "client.example",
					TLSConfig: &tls.Config{RootCAs: trusted.Pool},
					Client:    ClientOptions{Timeouts: testTimeouts},
				}
				if bc.name != "unknown CA" {
					o.TLSConfig.RootCAs = bc.certs.Pool
				}
				res, err := Submit(context.Background(), o)
				te := wantErr[*TLSError](t, err)
				if !te.Verify || !strings.Contains(te.Error(), bc.reason) {
					t.Errorf("error = %q, want a rejection for %q", te, bc.reason)
				}
				if res.Error == "" {
					t.Error("result has no error")
				}

				o.Insecure = true
				res, err = Submit(context.Background(), o)
				if err != nil {
					t.Fatalf("insecure: %v", err)
				}
				if res.TLS == nil || res.TLS.Verified || !strings.Contains(res.TLS.VerifyError, bc.reason) || res.TLS.Mode != string(mode) {
					t.Fatalf("insecure: TLS info = %+v", res.TLS)
				}
				if len(res.TLS.Chain) != 2 || res.TLS.Chain[0].Key != "ECDSA P-256" || len(res.TLS.Chain[0].SHA256) != 64 {
					t.Errorf("chain = %+v", res.TLS.Chain)
				}
			})
		}
	}
}

// TestSubmitChecksNameWithoutHost: with no Host the certificate is checked
// against the address's host, not accepted for any name.
func TestSubmitChecksNameWithoutHost(t *testing.T) {
	wrong := smtptest.WrongNameCert(t)
	srv := smtptest.NewServer(t, smtptest.ServerOptions{Certs: wrong})
	_, err := Submit(context.Background(), SubmitOptions{
		Addr: srv.Addr(), TLS: TLSStartTLS, Helo: "client.example",
		TLSConfig: &tls.Config{RootCAs: wrong.Pool}, Client: ClientOptions{Timeouts: testTimeouts},
	})
	if te := wantErr[*TLSError](t, err); !strings.Contains(te.Error(), "127.0.0.1") {
		t.Errorf("error = %q", te)
	}
}

func TestSubmitTLSVerified(t *testing.T) {
	for _, mode := range []TLSMode{TLSStartTLS, TLSImplicit} {
		srv := smtptest.NewServer(t, smtptest.ServerOptions{ImplicitTLS: mode == TLSImplicit})
		res, err := Submit(context.Background(), SubmitOptions{
			Addr: srv.Addr(), Host: "localhost", TLS: mode, Helo: "client.example",
			TLSConfig: srv.ClientTLS(), Client: ClientOptions{Timeouts: testTimeouts},
		})
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if res.TLS == nil || !res.TLS.Verified || res.TLS.VerifyError != "" || res.TLS.ServerName != "localhost" || res.TLS.Version != "TLS 1.3" {
			t.Errorf("%s: TLS info = %+v", mode, res.TLS)
		}
		if res.StoppedAfter != "commands" {
			t.Errorf("%s: stopped after %q", mode, res.StoppedAfter)
		}
	}
}
