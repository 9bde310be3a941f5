package cli

import (
	"context"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/smtpkit/smtpkit/internal/dnsx"
	"github.com/smtpkit/smtpkit/internal/mxcheck"
	"github.com/smtpkit/smtpkit/internal/route"
)

// MxOptions are the flags of `smtpkit mx`.
type MxOptions struct {
	Domains       []string
	File          string
	Concurrency   int
	Records       []string
	All           bool
	DKIMSelectors []string
	Check         bool
	Port          int
	EHLO          string
	FailOn        []string
	CAFile        string
	// MTASTSPort replaces 443 for the MTA-STS policy fetch (hidden; for
	// tests with an HTTPS server on a loopback port).
	MTASTSPort int
}

func newMxCmd(g *globals) *cobra.Command {
	o := &MxOptions{}
	cmd := &cobra.Command{
		Use:   "mx [DOMAIN...] [--file FILE|-] [flags]",
		Short: "Mail routing, deliverability records and reachability of domains",
		Long: `Resolve where mail for each domain goes (RFC 5321 5.1): MX records by
preference with their addresses, the implicit MX when there is none, the
null MX (RFC 7505), and what the resolver says about DNSSEC (AD).

--records adds deliverability records: spf (with its DNS lookup count),
dmarc (falling back to the organizational domain), mta-sts (the policy is
fetched over HTTPS, no redirects), tls-rpt, tlsa (per MX host), ptr (and
forward-confirmed reverse DNS per MX address) and dkim (per --dkim-selector).
--all asks for every one. --check connects to every MX address: banner,
EHLO, STARTTLS, TLS handshake, and whether the certificate names the host.

Domains come from the arguments and from --file (one per line; - is stdin;
blank lines and lines starting with # are skipped). They are looked up
--concurrency at a time and printed as each finishes: a table on a terminal,
tab-separated fields in a pipe (the domain, the kind of line, its fields),
--format json for one document, jsonl for one object per domain.

--fail-on lists conditions that make the run exit 1: no-mx, null-mx,
unreachable, no-starttls, no-spf, no-dmarc, dmarc-none, no-mta-sts, no-tlsa,
no-fcrdns. Each turns on the lookup it needs; the output says which held.

The DNSSEC AD bit is only as trustworthy as the path to the resolver: smtpkit
believes it from a resolver on loopback only (dnssec ... untrusted-resolver).

EXIT STATUS
  0 every domain has a route; 1 a --fail-on condition holds; 64 usage;
  65 an invalid domain name; 66 unreadable --file; 68 no such domain (NXDOMAIN),
  null MX, or no MX and no address; 75 temporary DNS failure (SERVFAIL,
  timeout); 76 a nonsense DNS answer. With several domains the most severe
  outcome wins; every domain is reported and the run goes on.`,
		Example: `  smtpkit mx example.com
  smtpkit mx --all --dkim-selector s1 example.com --format json
  smtpkit mx --check -4 example.com
  smtpkit mx --file domains.txt --concurrency 200 > routes.tsv
  cut -d@ -f2 addresses.txt | sort -u | smtpkit mx --file - --fail-on no-mx,null-mx --format jsonl`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Domains = args
			return runMx(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.File, "file", "", "read domains from FILE, one per line (- for stdin)")
	f.IntVar(&o.Concurrency, "concurrency", 50, "domains looked up at once")
	f.StringSliceVar(&o.Records, "records", nil, "records to look up: "+recordNames()+" (comma-separated, repeatable)")
	f.BoolVar(&o.All, "all", false, "look up every record kind (--records "+recordNames()+")")
	f.StringArrayVar(&o.DKIMSelectors, "dkim-selector", nil, "DKIM selector to look up (repeatable; implies --records dkim)")
	f.BoolVar(&o.Check, "check", false, "connect to every MX address: banner, EHLO, STARTTLS, certificate")
	f.IntVar(&o.Port, "port", 25, "SMTP port for --check (and for TLSA names)")
	f.StringVar(&o.EHLO, "ehlo", "", "name to send in EHLO with --check (default: this host's name)")
	f.StringSliceVar(&o.FailOn, "fail-on", nil, "exit 1 when any of these holds: "+findingNames()+" (comma-separated)")
	f.StringVar(&o.CAFile, "ca-file", "", "PEM file of CA certificates to trust instead of the system's (--check, MTA-STS)")
	f.IntVar(&o.MTASTSPort, "mta-sts-port", 0, "fetch MTA-STS policies from this port instead of 443 (for tests)")
	_ = f.MarkHidden("mta-sts-port")
	_ = cmd.RegisterFlagCompletionFunc("records", fixedCompletion(strings.Split(recordNames(), ", ")...))
	_ = cmd.RegisterFlagCompletionFunc("fail-on", fixedCompletion(strings.Split(findingNames(), ", ")...))
	return cmd
}

func recordNames() string {
	names := make([]string, len(mxcheck.AllRecords))
	for i, r := range mxcheck.AllRecords {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

func findingNames() string {
	names := make([]string, len(mxcheck.AllFindings))
	for i, f := range mxcheck.AllFindings {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// checker turns the options into an mxcheck.Checker.
func (o *MxOptions) checker(g *globals) (*mxcheck.Checker, error) {
	if len(o.Domains) == 0 && o.File == "" {
		return nil, usageErrorf("mx needs a DOMAIN argument or --file")
	}
	if o.Concurrency < 1 || o.Concurrency > 10000 {
		return nil, usageErrorf("--concurrency %d: want 1 to 10000", o.Concurrency)
	}
	if o.Port < 1 || o.Port > 65535 {
		return nil, usageErrorf("--port %d: want 1 to 65535", o.Port)
	}
	if o.MTASTSPort < 0 || o.MTASTSPort > 65535 {
		return nil, usageErrorf("--mta-sts-port %d: want 1 to 65535", o.MTASTSPort)
	}
	c := &mxcheck.Checker{Records: map[mxcheck.Record]bool{}, Check: o.Check, Port: o.Port,
		Now: g.env.Now, Dialer: g.env.Dialer, MTASTSPort: o.MTASTSPort}
	for _, r := range o.Records {
		r = strings.ToLower(strings.TrimSpace(r))
		if r == "" {
			continue
		}
		if r == "all" {
			o.All = true
			continue
		}
		if !slices.Contains(mxcheck.AllRecords, mxcheck.Record(r)) {
			return nil, usageErrorf("--records %q: want %s", r, recordNames())
		}
		c.Records[mxcheck.Record(r)] = true
	}
	if o.All {
		for _, r := range mxcheck.AllRecords {
			c.Records[r] = true
		}
	}
	for _, s := range o.DKIMSelectors {
		s = strings.TrimSpace(s)
		if _, err := dnsx.Normalize(s + "._domainkey.example"); err != nil || strings.Contains(s, "._domainkey") {
			return nil, usageErrorf("--dkim-selector %q: not a valid selector", s)
		}
		c.DKIMSelectors = append(c.DKIMSelectors, s)
	}
	if len(c.DKIMSelectors) > 0 {
		c.Records[mxcheck.RecordDKIM] = true
	}
	if c.Records[mxcheck.RecordDKIM] && len(c.DKIMSelectors) == 0 {
		if !o.All {
			return nil, usageErrorf("--records dkim needs --dkim-selector")
		}
		delete(c.Records, mxcheck.RecordDKIM) // --all without selectors: nothing to look up
	}
	fails, err := mxcheck.ParseFindings(strings.Join(o.FailOn, ","))
	if err != nil {
		return nil, usageErrorf("--fail-on: %v", err)
	}
	c.FailOn = fails
	for _, f := range fails {
		rec, check := f.Needs()
		if rec != "" {
			c.Records[rec] = true
		}
		c.Check = c.Check || check
	}
	switch {
	case g.ipv4:
		c.Family = route.Family4
	case g.ipv6:
		c.Family = route.Family6
	}
	if g.timeout > 0 {
		c.Timeout = g.timeout
	}
	if c.EHLO, err = g.heloName(o.EHLO); err != nil {
		return nil, err
	}
	if o.CAFile != "" {
		pool, err := loadCAFile(o.CAFile)
		if err != nil {
			return nil, err
		}
		c.Roots = pool
	}
	res, err := dnsx.New(dnsx.Config{Servers: g.resolvers, Timeout: g.timeout, DNSSEC: true})
	if err != nil {
		return nil, usageErrorf("--resolver: %v", err)
	}
	c.Resolver, c.TrustedResolver = res, res.Trusted()
	return c, nil
}

func runMx(ctx context.Context, g *globals, o *MxOptions) error {
	c, err := o.checker(g)
	if err != nil {
		return err
	}
	if cl, ok := c.Resolver.(io.Closer); ok {
		defer cl.Close()
	}
	var in io.Reader
	if o.File == "-" {
		in = g.env.Stdin
	} else if o.File != "" {
		f, err := os.Open(o.File)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	return mxRun(ctx, g, c, o, in)
}
