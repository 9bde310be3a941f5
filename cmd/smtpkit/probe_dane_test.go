package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/cli"
	"github.com/smtpkit/smtpkit/internal/dnsx/dnssectest"
	"github.com/smtpkit/smtpkit/internal/smtptest"
	"github.com/smtpkit/smtpkit/internal/tlspolicy"
)

// TestProbeDomainDANE runs `smtpkit probe --domain D --dane` through a
// validating resolver (unbound over an nsd-served, DNSSEC-signed zone):
// every MX of the domain is found through DNS and probed on loopback; a
// signed TLSA record that matches the server's certificate passes, one that
// does not is a critical dane-mismatch, and the same mismatching record in
// an unsigned zone (no AD bit) is ignored.
func TestProbeDomainDANE(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: starts nsd and unbound")
	}
	certs := smtptest.CertValidFor(t, 90*24*time.Hour, "mx.good.test", "mx.bad.test", "mx.plain.test")
	srv := smtptest.NewServer(t, smtptest.ServerOptions{Certs: certs, AuthNeedsTLS: true})
	_, port, _ := net.SplitHostPort(srv.Addr())
	good := tlspolicy.TLSAFor(certs.Leaf).String()
	bad := tlspolicy.TLSAFor(smtptest.Cert(t, "other.test").Leaf).String()
	zone := func(name, tlsa string, signed bool) dnssectest.Zone {
		return dnssectest.Zone{Name: name, Signed: signed, Records: "@ IN MX 10 mx\nmx IN A 127.0.0.1\n" +
			"_" + port + "._tcp.mx IN TLSA " + tlsa + "\n"}
	}
	res := dnssectest.Start(t, zone("good.test", good, true), zone("bad.test", bad, true), zone("plain.test", bad, false))

	cases := []struct {
		domain string
		code   int
		check  string // a check id that must be there, or "" for no DANE finding
	}{
		{"good.test", 0, ""},
		{"bad.test", 1, "dane-mismatch"},
		{"plain.test", 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.domain, func(t *testing.T) {
			var out, errOut bytes.Buffer
			env := &cli.Env{
				Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut,
				LookupEnv: func(string) (string, bool) { return "", false },
				Dialer:    &net.Dialer{}, Now: time.Now, Hostname: func() (string, error) { return "probe.test", nil },
			}
			code := cli.Run(context.Background(), env, []string{"probe", "--domain", tc.domain, "--port", port,
				"--dane", "--resolver", res.Addr, "--ca-file", certs.CAFile, "--fail-on", "high", "--format", "json", "--quick"})
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out.String(), errOut.String())
			}
			var reports []struct {
				Host   string `json:"host"`
				Addr   string `json:"addr"`
				Checks []struct {
					ID       string `json:"id"`
					Severity string `json:"severity"`
				} `json:"checks"`
				TLS struct {
					Verified bool     `json:"verified"`
					Policy   []string `json:"policy"`
				} `json:"tls"`
			}
			if err := json.Unmarshal(out.Bytes(), &reports); err != nil || len(reports) != 1 {
				t.Fatalf("output: %v\n%s", err, out.String())
			}
			r := reports[0]
			if r.Host != "mx."+tc.domain || r.Addr != "127.0.0.1:"+port || !r.TLS.Verified {
				t.Errorf("probed %s at %s, verified %v", r.Host, r.Addr, r.TLS.Verified)
			}
			var found []string
			for _, c := range r.Checks {
				found = append(found, c.ID+"/"+c.Severity)
			}
			has := strings.Contains(strings.Join(found, " "), "dane-mismatch/critical")
			if (tc.check != "") != has {
				t.Errorf("checks %v (policy %q)", found, r.TLS.Policy)
			}
			policy := strings.Join(r.TLS.Policy, "\n")
			switch tc.domain {
			case "good.test":
				if !strings.Contains(policy, "dane-match") {
					t.Errorf("no dane-match in the verdict: %q", policy)
				}
			case "plain.test":
				if !strings.Contains(policy, "dane-insecure") {
					t.Errorf("the unsigned record was not reported as ignored: %q", policy)
				}
			}
		})
	}
}
