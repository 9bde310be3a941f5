package cli

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/smtpkit/smtpkit/internal/cli/render"
	"github.com/smtpkit/smtpkit/internal/dnsx"
	"github.com/smtpkit/smtpkit/internal/probe"
	"github.com/smtpkit/smtpkit/internal/route"
	"github.com/smtpkit/smtpkit/internal/tlspolicy"
)

// ProbeOptions are the flags of `smtpkit probe`.
type ProbeOptions struct {
	Target      string
	Domain      string
	Port        int
	TLS         bool
	EHLO        string
	CAFile      string
	Audit       bool
	Concurrency int
	CertWarn    int
	CertCrit    int
	FailOn      string
	Nagios      bool
	Warn        time.Duration
	Crit        time.Duration
	RelayTest   bool
	RelayFrom   string
	RelayTo     string
	Quick       bool
	DANE        bool
	MTASTS      bool
	// MTASTSPort replaces 443 for the policy fetch (hidden; for tests
	// with an HTTPS server on a loopback port).
	MTASTSPort int
}

func newProbeCmd(g *globals) *cobra.Command {
	o := &ProbeOptions{}
	cmd := &cobra.Command{
		Use:   "probe HOST[:PORT] | --domain DOMAIN [flags]",
		Short: "Capabilities and TLS of a server, or of every MX of a domain",
		Long: `Connect to one SMTP server (port 25 by default; 465 means implicit TLS, or
--tls) and report: connect and banner times, EHLO capabilities before and after
STARTTLS and what changed, the TLS version, cipher and key exchange group, the
certificate chain (names, issuer, validity and days left, key, signature
algorithm, SHA-256 of the certificate and of its public key), verification
against the system roots (or --ca-file) and the host name, OCSP stapling,
session resumption, and a TLSA record ("3 1 1 ...") ready to publish.

--domain probes every address (IPv4 and IPv6) of every MX of DOMAIN in parallel
and checks each certificate against the MX host name.

Checks carry a severity (ok, info, low, medium, high, critical) and a stable id:
no-starttls, starttls-failed, auth-before-tls, tls-version-old, weak-cipher,
anon-cipher, no-forward-secrecy, cert-expired, cert-expiring (--cert-warn,
--cert-crit), name-mismatch, self-signed, untrusted-chain, dane-mismatch,
mta-sts-mismatch, starttls-injection (CVE-2011-0411), vrfy-enabled,
expn-enabled, open-relay (--relay-test: MAIL and RCPT to a foreign domain,
then RSET; never DATA), connect.

--nagios prints one status line with perfdata and exits 0 OK, 1 WARNING,
2 CRITICAL or 3 UNKNOWN (flag errors included): critical and high checks, a
connection failure or a total time over -c are CRITICAL; medium and low
checks or a time over -w are WARNING.

EXIT STATUS
  0 probed, no check reached --fail-on; 1 a check reached --fail-on; 64 usage;
  68 no such host or domain, null MX; 75 connection refused or timed out,
  temporary DNS failure; 76 protocol error; 78 configuration error
  (--ca-file). With --domain the most severe outcome over all addresses wins.`,
		Example: `  smtpkit probe mx.example.com
  smtpkit probe smtp.example.com:465
  smtpkit probe --domain example.com --fail-on high
  smtpkit probe mx.example.com --format json | jq '.[0].checks'
  smtpkit probe mx.example.com --nagios --cert-warn 21 --cert-crit 7 -w 2s -c 5s`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Target = args[0]
			}
			return runProbe(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Domain, "domain", "", "probe every MX address of DOMAIN")
	f.IntVar(&o.Port, "port", 0, "port (default 25; with HOST:PORT the given one)")
	f.BoolVar(&o.TLS, "tls", false, "implicit TLS from the first byte (the default on port 465)")
	f.StringVar(&o.EHLO, "ehlo", "", "name to send in EHLO (default: this host's name)")
	f.StringVar(&o.CAFile, "ca-file", "", "PEM file of CA certificates to trust instead of the system's")
	f.BoolVar(&o.Audit, "audit", false, "also list the TLS versions, cipher suites and groups the server accepts")
	f.IntVar(&o.Concurrency, "concurrency", 8, "handshakes (--audit) or addresses (--domain) at once")
	f.IntVar(&o.CertWarn, "cert-warn", 30, "cert-expiring (medium) when the certificate has fewer DAYS left")
	f.IntVar(&o.CertCrit, "cert-crit", 7, "cert-expiring (high) when the certificate has fewer DAYS left")
	f.StringVar(&o.FailOn, "fail-on", "", "exit 1 when a check reaches SEVERITY: info, low, medium, high or critical")
	f.BoolVar(&o.Nagios, "nagios", false, "one Nagios status line with perfdata; exit 0/1/2/3")
	f.DurationVarP(&o.Warn, "warning", "w", 0, "with --nagios: WARNING when the probe takes longer")
	f.DurationVarP(&o.Crit, "critical", "c", 0, "with --nagios: CRITICAL when the probe takes longer")
	f.BoolVar(&o.RelayTest, "relay-test", false, "try MAIL and RCPT to a foreign domain (then RSET; never DATA)")
	f.StringVar(&o.RelayFrom, "relay-from", "", "sender for --relay-test (default probe@smtpkit.invalid)")
	f.StringVar(&o.RelayTo, "relay-to", "", "foreign recipient for --relay-test (default relay-test@smtpkit-relay-test.invalid)")
	f.BoolVar(&o.DANE, "dane", false, "look up the TLSA records of each host (_PORT._tcp.HOST, DNSSEC-validated) and check DANE (RFC 7672)")
	f.BoolVar(&o.MTASTS, "mta-sts", false, "with --domain: fetch the domain's MTA-STS policy and check every MX against it (RFC 8461)")
	f.IntVar(&o.MTASTSPort, "mta-sts-port", 0, "port of the MTA-STS policy server (testing aid)")
	_ = f.MarkHidden("mta-sts-port")
	f.BoolVar(&o.Quick, "quick", false, "skip the second connection (injection test, resumption) and VRFY/EXPN")
	_ = cmd.RegisterFlagCompletionFunc("fail-on", fixedCompletion("info", "low", "medium", "high", "critical"))
	return cmd
}

// probeTarget is one address to probe and the name its certificate must match.
type probeTarget struct {
	addr, host, target string
}

func runProbe(ctx context.Context, g *globals, o *ProbeOptions) error {
	if (o.Target == "") == (o.Domain == "") {
		return usageErrorf("give one HOST[:PORT] or --domain DOMAIN")
	}
	var failOn probe.Severity
	if o.FailOn != "" {
		s, err := probe.ParseSeverity(o.FailOn)
		if err != nil || s == probe.SevOK {
			return usageErrorf("--fail-on: want info, low, medium, high or critical, not %q", o.FailOn)
		}
		failOn = s
	}
	if o.Concurrency < 1 {
		return usageErrorf("--concurrency must be at least 1")
	}
	var roots *x509.CertPool
	if o.CAFile != "" {
		pool, err := loadCAFile(o.CAFile)
		if err != nil {
			return err
		}
		roots = pool
	}
	if o.MTASTS && o.Domain == "" {
		return usageErrorf("--mta-sts needs --domain")
	}
	targets, implicit, err := o.targets(ctx, g)
	if err != nil {
		return err
	}
	pol, err := o.policies(ctx, g, targets, roots)
	if err != nil {
		return err
	}
	ehlo, err := g.heloName(o.EHLO)
	if err != nil {
		return err
	}
	network := "tcp"
	switch {
	case g.ipv4:
		network = "tcp4"
	case g.ipv6:
		network = "tcp6"
	}
	timeout := g.timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	reports := make([]*probe.Report, len(targets))
	errs := make([]error, len(targets))
	sem := make(chan struct{}, o.Concurrency)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			reports[i], errs[i] = probe.Run(ctx, probe.Options{
				Addr: t.addr, Target: t.target, Host: t.host, Implicit: implicit, EHLO: ehlo,
				Network: network, Timeout: timeout, Dialer: g.env.Dialer, RootCAs: roots,
				CertWarnDays: o.CertWarn, CertCritDays: o.CertCrit, SkipExtras: o.Quick,
				RelayTest: o.RelayTest, RelayFrom: o.RelayFrom, RelayTo: o.RelayTo,
				TLSA: pol.tlsa[t.host], TLSALookedUp: o.DANE, STS: pol.sts,
				Audit: o.Audit, AuditConcurrency: o.Concurrency,
			})
		})
	}
	wg.Wait()

	pr := g.printer()
	if o.Nagios {
		line, code := render.ProbeNagios(reports, o.Warn, o.Crit)
		fmt.Fprintln(g.env.Stdout, line)
		return &ExitError{Code: code}
	}
	if err := pr.Probe(reports); err != nil {
		return err
	}
	code := ExitOK
	var first error
	for _, err := range errs {
		if err != nil {
			code = worse(code, ExitCode(err))
			if first == nil {
				first = err
			}
		}
	}
	if failOn > 0 {
		for _, r := range reports {
			if hit := r.Reached(failOn); len(hit) > 0 {
				code = worse(code, ExitFindings)
			}
		}
	}
	if code == ExitOK {
		return nil
	}
	if first != nil && len(targets) == 1 {
		return &ExitError{Code: code, Err: first}
	}
	return &ExitError{Code: code}
}

// probePolicies are the TLSA records per host (--dane) and the domain's
// MTA-STS policy (--mta-sts).
type probePolicies struct {
	tlsa map[string][]tlspolicy.TLSA
	sts  *tlspolicy.Policy
}

func (o *ProbeOptions) policies(ctx context.Context, g *globals, targets []probeTarget, roots *x509.CertPool) (probePolicies, error) {
	var p probePolicies
	if !o.DANE && !o.MTASTS {
		return p, nil
	}
	res, err := dnsx.New(dnsx.Config{Servers: g.resolvers, Timeout: g.timeout, DNSSEC: true})
	if err != nil {
		return p, usageErrorf("--resolver: %v", err)
	}
	defer res.Close()
	if o.DANE {
		if !res.Trusted() {
			g.printer().Warn("--dane: the DNSSEC AD bit is only trusted from a resolver on loopback; TLSA records from this one are ignored")
		}
		p.tlsa = map[string][]tlspolicy.TLSA{}
		for _, t := range targets {
			if _, done := p.tlsa[t.host]; done {
				continue
			}
			if ip := net.ParseIP(t.host); ip != nil {
				return p, usageErrorf("--dane needs a host name, not an address (%s)", t.host)
			}
			_, port, _ := net.SplitHostPort(t.addr)
			n, _ := strconv.Atoi(port)
			recs, err := tlspolicy.LookupTLSA(ctx, res, t.host, n)
			if err != nil {
				return p, &ExitError{Code: ExitTempFail, Err: fmt.Errorf("--dane: %w", err)}
			}
			if !res.Trusted() {
				for i := range recs {
					recs[i].AD = false
				}
			}
			p.tlsa[t.host] = recs
		}
	}
	if o.MTASTS {
		var dialer tlspolicy.ContextDialer
		if g.env.Dialer != nil {
			dialer = g.env.Dialer
		}
		if roots == nil {
			roots = tlspolicy.SystemRoots()
		}
		client := tlspolicy.NewResolvingHTTPClient(roots, res, dialer, o.MTASTSPort)
		d, err := tlspolicy.NewCache("", nil).Discover(ctx, res, client, o.Domain)
		if err != nil {
			return p, usageErrorf("--mta-sts: %v", err)
		}
		for _, why := range d.Problems {
			g.printer().Warn("mta-sts: " + why)
		}
		p.sts = d.Policy
	}
	return p, nil
}

// targets resolves what to probe: the one HOST[:PORT], or every address of
// every MX of --domain. It reports whether to use implicit TLS.
func (o *ProbeOptions) targets(ctx context.Context, g *globals) ([]probeTarget, bool, error) {
	if o.Target != "" {
		host, port, err := net.SplitHostPort(o.Target)
		if err != nil {
			host, port = o.Target, ""
		}
		if host == "" {
			return nil, false, usageErrorf("probe: %q has no host", o.Target)
		}
		if port == "" {
			port = "25"
			if o.Port != 0 {
				port = strconv.Itoa(o.Port)
			}
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, false, usageErrorf("probe: bad port %q", port)
		}
		return []probeTarget{{addr: net.JoinHostPort(host, port), host: host, target: o.Target}}, o.TLS || port == "465", nil
	}
	port := 25
	if o.Port != 0 {
		port = o.Port
	}
	res, err := dnsx.New(dnsx.Config{Servers: g.resolvers, Timeout: g.timeout})
	if err != nil {
		return nil, false, usageErrorf("--resolver: %v", err)
	}
	defer res.Close()
	fam := route.FamilyAny
	switch {
	case g.ipv4:
		fam = route.Family4
	case g.ipv6:
		fam = route.Family6
	}
	rt, err := route.Lookup(ctx, res, o.Domain, route.Options{Family: fam})
	if err != nil && rt == nil {
		return nil, false, routeExit(err)
	}
	var out []probeTarget
	for _, h := range rt.Hops {
		for _, a := range h.Addrs {
			addr := net.JoinHostPort(a.IP.String(), strconv.Itoa(port))
			out = append(out, probeTarget{addr: addr, host: h.Host, target: h.Host + " " + addr})
		}
	}
	if len(out) == 0 {
		return nil, false, &ExitError{Code: ExitNoHost, Err: fmt.Errorf("probe: %s: no MX host has an address", o.Domain)}
	}
	return out, o.TLS || port == 465, nil
}

// routeExit maps a route failure to its exit code (README, "Exit codes").
func routeExit(err error) error {
	code := ExitSoftware
	switch route.KindOf(err) {
	case route.KindInvalidName:
		code = ExitData
	case route.KindNoSuchDomain, route.KindNullMX, route.KindNoRoute:
		code = ExitNoHost
	case route.KindTemporary, route.KindBadAnswer:
		code = ExitTempFail
	}
	return &ExitError{Code: code, Err: err}
}
