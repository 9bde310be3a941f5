package tlspolicy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/smtptest"
)

const goodPolicy = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n"

// policyServer runs handler behind HTTPS on loopback with a certificate for names, and
// returns a dial function that sends every connection for mta-sts.example.com:443 there.
func policyServer(t *testing.T, certs *smtptest.Certs, handler http.HandlerFunc) func(ctx context.Context, network, addr string) (net.Conn, error) {
	t.Helper()
	srv := httptest.NewUnstartedServer(handler)
	srv.TLS = certs.Server
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr != "mta-sts.example.com:443" {
			return nil, fmt.Errorf("test dial: unexpected address %s", addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, "tcp", srv.Listener.Addr().String())
	}
}

func servePolicy(body, contentType string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/mta-sts.txt" || r.Host != "mta-sts.example.com" {
			http.Error(w, "wrong request "+r.Host+r.URL.Path, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", contentType)
		io.WriteString(w, body)
	}
}

func TestFetchPolicy(t *testing.T) {
	certs := smtptest.Cert(t, "mta-sts.example.com")
	var redirected atomic.Int32
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		domain    string
		wantErr   string
		notFound  bool
		status    int
		location  string
		wantBody  bool
		wantMode  Mode
		noFollow  bool // use a client whose own CheckRedirect follows redirects
		untrusted bool // use a client without the test CA
	}{
		{name: "good", handler: servePolicy(goodPolicy, "text/plain"), status: 200, wantBody: true, wantMode: ModeEnforce},
		{name: "charset", handler: servePolicy(goodPolicy, "text/plain; charset=utf-8"), status: 200, wantBody: true, wantMode: ModeEnforce},
		{name: "upper case type", handler: servePolicy(goodPolicy, "Text/Plain"), status: 200, wantBody: true, wantMode: ModeEnforce},
		{name: "domain case and dot", domain: "Example.COM.", handler: servePolicy(goodPolicy, "text/plain"), status: 200, wantBody: true, wantMode: ModeEnforce},
		{
			name: "exactly 64 KiB",
			handler: servePolicy(func() string {
				pad := MaxPolicySize - len(goodPolicy) - len("x: \n")
				return goodPolicy + "x: " + strings.Repeat("a", pad) + "\n"
			}(), "text/plain"),
			status: 200, wantBody: true, wantMode: ModeEnforce,
		},
		{
			name: "redirect",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/.well-known/mta-sts.txt" {
					redirected.Add(1)
				}
				http.Redirect(w, r, "https://mta-sts.example.com/elsewhere.txt", http.StatusMovedPermanently)
			},
			status: 301, location: "https://mta-sts.example.com/elsewhere.txt", wantErr: `redirected (301 Moved Permanently) to "https://mta-sts.example.com/elsewhere.txt"`,
		},
		{
			name: "redirect with a following client",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/.well-known/mta-sts.txt" {
					redirected.Add(1)
				}
				http.Redirect(w, r, "/other", http.StatusFound)
			},
			noFollow: true, status: 302, location: "/other", wantErr: "redirected (302 Found)",
		},
		{name: "html", handler: servePolicy("<html>"+goodPolicy+"</html>", "text/html; charset=utf-8"), status: 200, wantErr: `content type "text/html; charset=utf-8", want text/plain`},
		{
			name: "no content type",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Content-Type"] = nil // no sniffing either
				io.WriteString(w, goodPolicy)
			},
			status: 200, wantErr: `content type "", want text/plain`,
		},
		{name: "huge chunked body", handler: servePolicy(goodPolicy+strings.Repeat("x: y\n", 1<<18), "text/plain"), status: 200, wantErr: "more than 65536 bytes"},
		{
			name: "huge announced body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.Header().Set("Content-Length", fmt.Sprint(MaxPolicySize+1))
				io.WriteString(w, strings.Repeat("a", MaxPolicySize+1))
			},
			status: 200, wantErr: "the policy is 65537 bytes",
		},
		{name: "404", handler: http.NotFound, status: 404, notFound: true, wantErr: "no MTA-STS policy served"},
		{name: "500", handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "oops", 500) }, status: 500, wantErr: "status 500 Internal Server Error, want 200"},
		{name: "204", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }, status: 204, wantErr: "want 200"},
		{name: "malformed policy", handler: servePolicy("version: STSv1\nmode: strict\nmax_age: 1\n", "text/plain"), status: 200, wantBody: true, wantErr: `mta-sts policy line 2: mode "strict"`},
		{name: "untrusted certificate", handler: servePolicy(goodPolicy, "text/plain"), untrusted: true, wantErr: "certificate"},
		{name: "bad domain", domain: "exa mple.com", handler: servePolicy(goodPolicy, "text/plain"), wantErr: "bad domain"},
		{name: "wildcard domain", domain: "*.example.com", handler: servePolicy(goodPolicy, "text/plain"), wantErr: "bad domain"},
		{name: "empty domain", domain: ".", handler: servePolicy(goodPolicy, "text/plain"), wantErr: "bad domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dial := policyServer(t, certs, tt.handler)
			client := NewHTTPClient(certs.Pool, dial)
			if tt.untrusted {
				client = NewHTTPClient(x509.NewCertPool(), dial)
			}
			if tt.noFollow {
				client.CheckRedirect = nil
			}
			domain := tt.domain
			if domain == "" {
				domain = "example.com"
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			p, info, err := FetchPolicy(ctx, client, domain)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if p.Mode != tt.wantMode || !p.Matches("mail.example.com") {
					t.Errorf("policy = %+v", p)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("FetchPolicy = %+v, %v; want error %q", p, err, tt.wantErr)
				}
				if p != nil {
					t.Errorf("policy %+v alongside an error", p)
				}
			}
			if errors.Is(err, ErrPolicyNotFound) != tt.notFound {
				t.Errorf("errors.Is(%v, ErrPolicyNotFound) = %v", err, !tt.notFound)
			}
			if tt.status == 0 {
				if info != nil {
					t.Errorf("info %+v without a response", info)
				}
				return
			}
			if info == nil {
				t.Fatal("no FetchInfo")
			}
			if info.URL != "https://mta-sts.example.com/.well-known/mta-sts.txt" || info.StatusCode != tt.status || info.Location != tt.location {
				t.Errorf("info = %+v", info)
			}
			if info.TLSVersion != "TLS 1.3" || info.CertificateNotAfter.IsZero() {
				t.Errorf("TLS info = %q, %v", info.TLSVersion, info.CertificateNotAfter)
			}
			if (info.Body != "") != tt.wantBody {
				t.Errorf("body = %.40q", info.Body)
			}
		})
	}
	if n := redirected.Load(); n != 0 {
		t.Errorf("a redirect was followed %d times", n)
	}
}

func TestFetchPolicyWrongName(t *testing.T) {
	certs := smtptest.Cert(t, "mta-sts.example.org", "example.com")
	dial := policyServer(t, certs, servePolicy(goodPolicy, "text/plain"))
	_, info, err := FetchPolicy(context.Background(), NewHTTPClient(certs.Pool, dial), "example.com")
	if err == nil || !strings.Contains(err.Error(), "mta-sts.example.com") || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err = %v, want a name mismatch", err)
	}
	if info != nil {
		t.Errorf("info %+v after a failed handshake", info)
	}
}

// TestFetchPolicyUnverifiedClient gives FetchPolicy a client that skips verification: the
// policy must still be refused.
func TestFetchPolicyUnverifiedClient(t *testing.T) {
	certs := smtptest.Cert(t, "mta-sts.example.com")
	dial := policyServer(t, certs, servePolicy(goodPolicy, "text/plain"))
	client := NewHTTPClient(nil, dial)
	client.Transport.(*http.Transport).TLSClientConfig.InsecureSkipVerify = true
	p, _, err := FetchPolicy(context.Background(), client, "example.com")
	if err == nil || !strings.Contains(err.Error(), "not verified") {
		t.Fatalf("FetchPolicy = %+v, %v; want a verification error", p, err)
	}
}

func TestFetchPolicyTimeout(t *testing.T) {
	certs := smtptest.Cert(t, "mta-sts.example.com")
	release := make(chan struct{})
	dial := policyServer(t, certs, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
			// No response at all: returning would send an empty 200 that
			// can reach the client as its deadline fires.
			panic(http.ErrAbortHandler)
		}
	})
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, _, err := FetchPolicy(ctx, NewHTTPClient(certs.Pool, dial), "example.com")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
}

func TestFetchPolicyNXDOMAIN(t *testing.T) {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		return nil, &net.DNSError{Err: "no such host", Name: "mta-sts.example.com", IsNotFound: true}
	}
	_, info, err := FetchPolicy(context.Background(), NewHTTPClient(nil, dial), "example.com")
	if !errors.Is(err, ErrPolicyNotFound) {
		t.Fatalf("err = %v, want ErrPolicyNotFound", err)
	}
	if info != nil {
		t.Errorf("info = %+v", info)
	}
	dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return nil, errors.New("connection refused")
	}
	if _, _, err := FetchPolicy(context.Background(), NewHTTPClient(nil, dial), "example.com"); err == nil || errors.Is(err, ErrPolicyNotFound) {
		t.Errorf("refused: err = %v", err)
	}
}

// countingBody counts what the client reads of a body that never ends.
type countingBody struct{ n int64 }

func (b *countingBody) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	b.n += int64(len(p))
	return len(p), nil
}

func (b *countingBody) Close() error { return nil }

type fakeTransport struct{ body *countingBody }

func (f fakeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{
		Status:        "200 OK",
		StatusCode:    200,
		Header:        http.Header{"Content-Type": {"text/plain"}},
		Body:          f.body,
		ContentLength: -1,
		Request:       req,
		TLS:           &tls.ConnectionState{Version: tls.VersionTLS13, VerifiedChains: [][]*x509.Certificate{{{}}}},
	}, nil
}

// TestFetchPolicyReadsAtMostCapPlusOne checks that an endless body costs at most
// MaxPolicySize+1 bytes of reading.
func TestFetchPolicyReadsAtMostCapPlusOne(t *testing.T) {
	body := &countingBody{}
	client := &http.Client{Transport: fakeTransport{body: body}}
	_, _, err := FetchPolicy(context.Background(), client, "example.com")
	if err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("err = %v", err)
	}
	if body.n > MaxPolicySize+1 {
		t.Errorf("read %d bytes, want at most %d", body.n, MaxPolicySize+1)
	}
}

func TestNewHTTPClient(t *testing.T) {
	c := NewHTTPClient(nil, nil)
	tr, ok := c.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("transport %T", c.Transport)
	}
	if tr.Proxy != nil {
		t.Error("proxy from the environment")
	}
	if tr.TLSClientConfig.MinVersion != tls.VersionTLS12 || tr.TLSClientConfig.InsecureSkipVerify {
		t.Errorf("TLS config %+v", tr.TLSClientConfig)
	}
	if tr.DialContext == nil {
		t.Error("no dialer")
	}
	req, _ := http.NewRequest("GET", "https://mta-sts.example.com/", nil)
	if err := c.CheckRedirect(req, []*http.Request{req}); !errors.Is(err, http.ErrUseLastResponse) {
		t.Errorf("CheckRedirect = %v", err)
	}
}

func TestPolicyURL(t *testing.T) {
	got, err := PolicyURL("Example.COM.")
	if err != nil || got != "https://mta-sts.example.com/.well-known/mta-sts.txt" {
		t.Errorf("PolicyURL = %q, %v", got, err)
	}
	for _, bad := range []string{"", ".", "exa mple.com", "example.com/x", "example.com:443", "*.example.com", "a..b"} {
		if _, err := PolicyURL(bad); err == nil {
			t.Errorf("PolicyURL(%q): no error", bad)
		}
	}
}
