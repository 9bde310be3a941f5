package mxcheck

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/smtpkit/smtpkit/internal/dnsx/dnstest"
	"github.com/smtpkit/smtpkit/internal/smtptest"
)

// TestMTASTS serves policies over HTTPS on loopback with a test CA: a good
// one, one that leaves an MX out, and the bad inputs of the issue (a
// redirect, HTML, a huge body, a certificate for another name).
func TestMTASTS(t *testing.T) {
	mux := http.NewServeMux()
	policy := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte(body))
		}
	}
	handlers := map[string]http.HandlerFunc{
		"good.test":    policy("version: STSv1\r\nmode: enforce\r\nmx: *.good.test\r\nmax_age: 86400\r\n"),
		"partial.test": policy("version: STSv1\nmode: testing\nmx: mx1.partial.test\nmax_age: 600\n"),
		"redirect.test": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://mta-sts.good.test/.well-known/mta-sts.txt", http.StatusFound)
		},
		"html.test": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html>version: STSv1</html>"))
		},
		"huge.test":    policy("version: STSv1\nmode: enforce\nmx: *.huge.test\nmax_age: 600\n" + strings.Repeat("x: y\n", 20000)),
		"badcert.test": policy("version: STSv1\nmode: enforce\nmx: *.badcert.test\nmax_age: 600\n"),
	}
	mux.HandleFunc("/.well-known/mta-sts.txt", func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			host = h
		}
		if h, ok := handlers[strings.TrimPrefix(host, "mta-sts.")]; ok {
			h(w, r)
			return
		}
		http.NotFound(w, r)
	})
	var names []string
	for d := range handlers {
		if d != "badcert.test" {
			names = append(names, "mta-sts."+d)
		}
	}
	certs := smtptest.Cert(t, names...)
	srv := httptest.NewUnstartedServer(mux)
	srv.TLS = certs.Server
	srv.StartTLS()
	defer srv.Close()
	_, portText, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portText)

	m := dnstest.NewMock()
	for d := range handlers {
		m.MX(d, 10, "mx1."+d).MX(d, 20, "mx2."+d).IP("mx1."+d, "192.0.2.1").IP("mx2."+d, "192.0.2.2").
			IP("mta-sts."+d, "127.0.0.1").TXT("_mta-sts."+d, "v=STSv1; id=abc123")
	}
	m.MX("none.test", 10, "mx.none.test").IP("mx.none.test", "192.0.2.3")
	m.MX("badrec.test", 10, "mx.badrec.test").IP("mx.badrec.test", "192.0.2.3").TXT("_mta-sts.badrec.test", "v=STSv1; id=not valid!")
	m.MX("nopolicy.test", 10, "mx.nopolicy.test").IP("mx.nopolicy.test", "192.0.2.3").TXT("_mta-sts.nopolicy.test", "v=STSv1; id=1")

	c := newChecker(m)
	c.Records[RecordMTASTS] = true
	c.Roots, c.MTASTSPort = certs.Pool, port
	c.FailOn = []Finding{FindNoMTASTS}
	ctx := context.Background()

	r := c.Domain(ctx, "good.test")
	if s := r.MTASTS; s == nil || s.Mode != "enforce" || s.MaxAge != 86400 || !s.AllMXMatch || s.ID != "abc123" || s.Error != "" ||
		s.PolicyURL != "https://mta-sts.good.test/.well-known/mta-sts.txt" {
		t.Errorf("good.test: %+v", s)
	}
	if len(r.Findings) != 0 {
		t.Errorf("good.test findings: %v", r.Findings)
	}
	r = c.Domain(ctx, "partial.test")
	if s := r.MTASTS; s.Mode != "testing" || s.AllMXMatch || len(s.Unmatched) != 1 || s.Unmatched[0] != "mx2.partial.test" {
		t.Errorf("partial.test: %+v", s)
	}
	for domain, want := range map[string]string{
		"redirect.test": "redirect",
		"html.test":     "text/html",
		"huge.test":     "65536",
		"badcert.test":  "certificate",
		"badrec.test":   "record:",
		"nopolicy.test": "no MTA-STS policy served",
	} {
		r := c.Domain(ctx, domain)
		if s := r.MTASTS; s == nil || !strings.Contains(s.Error, want) || s.Mode != "" {
			t.Errorf("%s: %+v, want an error about %q", domain, s, want)
		}
		if len(r.Findings) != 1 || r.Findings[0] != "no-mta-sts" {
			t.Errorf("%s: findings %v", domain, r.Findings)
		}
	}
	r = c.Domain(ctx, "none.test")
	if s := r.MTASTS; s.Error != "" || len(s.Problems) != 1 || len(r.Findings) != 1 {
		t.Errorf("none.test: %+v, findings %v", s, r.Findings)
	}
}
