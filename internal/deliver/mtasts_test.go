package deliver

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/smtpkit/smtpkit/internal/dnsx/dnstest"
	"github.com/smtpkit/smtpkit/internal/smtptest"
	"github.com/smtpkit/smtpkit/internal/tlspolicy"
)

// stsClient serves policy at https://mta-sts.example.test/.well-known/mta-sts.txt
// on loopback and returns an HTTP client that reaches it there.
func stsClient(t *testing.T, policy string) *http.Client {
	t.Helper()
	certs := smtptest.Cert(t, "mta-sts.example.test")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, policy)
	}))
	srv.TLS = certs.Server
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return tlspolicy.NewHTTPClient(certs.Pool, func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr != "mta-sts.example.test:443" {
			return nil, fmt.Errorf("test dial: unexpected address %s", addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, "tcp", srv.Listener.Addr().String())
	})
}

// Auto with a published MTA-STS policy in mode enforce (RFC 8461): a
// matching MX with a verified certificate gets the mail; an MX outside the
// policy's mx patterns is never connected to; an MX whose certificate
// does not verify defers (not plaintext, not unverified).
func TestAutoMTASTS(t *testing.T) {
	const policy = "version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\nmax_age: 86400\r\n"
	certs := smtptest.Cert(t, "mx.example.test")
	srv := server(t, smtptest.ServerOptions{Certs: certs})
	stsMock := func(mx string) *dnstest.Mock {
		return dnstest.NewMock().MX("example.test", 10, mx).IP(mx, "192.0.2.1").
			TXT("_mta-sts.example.test", "v=STSv1; id=1;")
	}
	for _, tc := range []struct {
		name     string
		mx       string
		roots    bool // trust the SMTP server's CA
		st       Status
		enhanced string
		dials    int
	}{
		{"match", "mx.example.test", true, Delivered, "2.0.0", 1},
		{"mx outside the policy", "rogue.example.test", true, Deferred, "4.7.5", 0},
		{"untrusted certificate", "mx.example.test", false, Deferred, "4.7.5", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDialer().route("192.0.2.1:25", srv.Addr())
			o := testOptions(stsMock(tc.mx), d)
			o.HTTPClient = stsClient(t, policy)
			o.RootCAs = smtptest.Cert(t, "unrelated.test").Pool
			if tc.roots {
				o.RootCAs = certs.Pool
			}
			out := deliver(t, o, "a@example.test")
			want(t, out[0], tc.st, tc.enhanced)
			if n := len(d.dialled()); n != tc.dials {
				t.Errorf("%d dials, want %d", n, tc.dials)
			}
		})
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}

// A connection lost inside DATA leaves the accepted recipients undecided:
// the next MX gets them; a recipient the first MX refused for good stays
// refused and is not offered again.
func TestDropInDataTriesNextMX(t *testing.T) {
	drop := server(t, smtptest.ServerOptions{
		Fault:      smtptest.Fault{At: smtptest.AtBody, Action: smtptest.Drop},
		RejectRcpt: map[string]string{"gone@example.test": "550 5.1.1 no such user"},
	})
	spare := server(t, smtptest.ServerOptions{})
	r := dnstest.NewMock().
		MX("example.test", 10, "mx1.example.test").MX("example.test", 20, "mx2.example.test").
		IP("mx1.example.test", "192.0.2.1").IP("mx2.example.test", "192.0.2.2")
	d := newDialer().route("192.0.2.1:25", drop.Addr()).route("192.0.2.2:25", spare.Addr())
	out := deliver(t, testOptions(r, d), "a@example.test", "gone@example.test", "b@example.test")
	want(t, out[0], Delivered, "2.0.0")
	want(t, out[1], Failed, "5.1.1")
	want(t, out[2], Delivered, "2.0.0")
	if out[0].RemoteHost != "mx2.example.test" || out[1].RemoteHost != "mx1.example.test" {
		t.Errorf("remote hosts %q, %q", out[0].RemoteHost, out[1].RemoteHost)
	}
	if m := spare.Messages(); len(m) != 1 || !slices.Equal(m[0].Rcpts, []string{"a@example.test", "b@example.test"}) {
		t.Errorf("spare got %+v", m)
	}
}
