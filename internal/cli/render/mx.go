package render

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"

	"github.com/smtpkit/smtpkit/internal/mxcheck"
	"github.com/smtpkit/smtpkit/internal/records"
)

// MxStream prints the reports of `smtpkit mx` as they come, in the order
// they finish. Its methods are for one goroutine.
//
// Text is one line per fact, the domain first and the kind of fact
// second, then the kind's fields. On a terminal each domain's lines are a
// small aligned table, styled; in a pipe the fields are separated by
// tabs (TSV, no header, stable):
//
//	DOMAIN  mx           PREF  HOST  ttl=TTL  ADDRESSES (comma-separated; "-" when none)
//	DOMAIN  implicit-mx  0     HOST  -        ADDRESSES
//	DOMAIN  no-address   HOST  WHY              (an MX host without addresses)
//	DOMAIN  null-mx      domain accepts no mail (RFC 7505)
//	DOMAIN  error        STATUS  MESSAGE        (invalid, no-such-domain, no-route, temporary, bad-answer)
//	DOMAIN  cname        TARGET...              (the domain is an alias)
//	DOMAIN  dnssec       ad|no-ad  mx=ad|no-ad hosts=ad|no-ad  [untrusted-resolver]
//	DOMAIN  note         TEXT
//	DOMAIN  spf          RECORD|-  lookups=N
//	DOMAIN  dmarc        RECORD|-  p=POLICY sp=POLICY pct=N  [from ORGDOMAIN]
//	DOMAIN  mta-sts      id=ID|-  mode=MODE max_age=N  mx-match=yes|no
//	DOMAIN  tls-rpt      RECORD|-
//	DOMAIN  tlsa         HOST  USAGE SELECTOR MATCHING DATA|-  ad|no-ad
//	DOMAIN  ptr          IP  NAMES|-  fcrdns=yes|no
//	DOMAIN  dkim         SELECTOR  KEYTYPE BITS|-
//	DOMAIN  check        HOST  IP  STAGES       (connect, banner, ehlo, starttls, tls, cert, each with its time)
//	DOMAIN  problem      RECORD  SEVERITY  TEXT (a record's problems, and lookup errors)
//	DOMAIN  fail         CONDITIONS             (the --fail-on conditions that hold, comma-separated)
//
// With Quiet, domains that are ok and hold no --fail-on condition print
// nothing. json prints one document as the reports come (see MxJSON);
// jsonl one MxDomainJSON per line.
type MxStream struct {
	p     *Printer
	w     *bufio.Writer
	n     int
	begun bool
}

// MxStream starts the output of `smtpkit mx`.
func (p *Printer) MxStream() *MxStream {
	return &MxStream{p: p, w: bufio.NewWriterSize(p.out, 32<<10)}
}

// Domain prints one domain's report with the exit code it stands for.
func (s *MxStream) Domain(r *mxcheck.Report, exitCode int) error {
	s.n++
	d := MxDomainJSON{Report: r, ExitCode: exitCode}
	switch s.p.o.Format {
	case FormatJSON:
		b, err := marshalIndent(d, "    ")
		if err != nil {
			return err
		}
		if !s.begun {
			s.begun = true
			s.w.WriteString("{\n  \"domains\": [\n    ")
		} else {
			s.w.WriteString(",\n    ")
		}
		_, err = s.w.Write(b)
		return err
	case FormatJSONL:
		b, err := marshal(d, false)
		if err != nil {
			return err
		}
		_, err = s.w.Write(b)
		return err
	}
	if s.p.o.Quiet && r.Status == mxcheck.StatusOK && len(r.Findings) == 0 {
		return nil
	}
	rows := MxRows(r)
	if s.p.outStyled {
		t := &Table{Rows: rows}
		_, err := s.w.WriteString(t.Render(true))
		return err
	}
	var b strings.Builder
	for _, row := range rows {
		for i, c := range row {
			if i > 0 {
				b.WriteByte('\t')
			}
			b.WriteString(tsvField(c.Text))
		}
		b.WriteByte('\n')
	}
	_, err := s.w.WriteString(b.String())
	return err
}

// Flush writes what is buffered. The caller flushes whenever it has no
// further report at hand, so output streams while work goes on.
func (s *MxStream) Flush() error { return s.w.Flush() }

// Close ends the output; for json it closes the document with the
// summary.
func (s *MxStream) Close(sum MxSummaryJSON) error {
	if s.p.o.Format == FormatJSON {
		if !s.begun {
			s.w.WriteString("{\n  \"domains\": [],\n  \"summary\": ")
		} else {
			s.w.WriteString("\n  ],\n  \"summary\": ")
		}
		b, err := marshalIndent(sum, "  ")
		if err != nil {
			return err
		}
		s.w.Write(b)
		s.w.WriteString("\n}\n")
	}
	return s.w.Flush()
}

// tsvField keeps a field on its line and in its column: tabs and
// newlines become spaces, control characters are escaped.
func tsvField(s string) string {
	s = clean(s)
	if strings.ContainsAny(s, "\t\n\r") {
		s = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
	}
	if s == "" {
		return "-"
	}
	return s
}

func row(domain, kind string, tone Tone, fields ...string) []Cell {
	cells := []Cell{{Text: domain, Tone: ToneBold}, {Text: kind, Tone: tone}}
	for _, f := range fields {
		cells = append(cells, Cell{Text: f})
	}
	return cells
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func adText(b bool) string {
	if b {
		return "ad"
	}
	return "no-ad"
}

// MxRows are the text lines of one report (see MxStream).
func MxRows(r *mxcheck.Report) [][]Cell {
	d := r.Domain
	if d == "" {
		d = r.Input
	}
	if r.Unicode != "" {
		d = r.Unicode
	}
	var rows [][]Cell
	add := func(kind string, tone Tone, fields ...string) { rows = append(rows, row(d, kind, tone, fields...)) }
	if r.Status != mxcheck.StatusOK && r.Status != mxcheck.StatusNullMX {
		add("error", ToneBad, string(r.Status), r.Error)
	}
	if r.NullMX {
		add("null-mx", ToneWarn, "domain accepts no mail (RFC 7505)")
	}
	if len(r.CNAMEs) > 0 {
		add("cname", ToneNone, strings.Join(r.CNAMEs, " -> "))
	}
	for _, h := range r.MX {
		kind, ttl := "mx", "ttl="+strconv.FormatUint(uint64(h.TTL), 10)
		if r.ImplicitMX {
			kind, ttl = "implicit-mx", "-"
		}
		ips := make([]string, 0, len(h.Addresses))
		for _, a := range h.Addresses {
			ips = append(ips, a.IP)
		}
		add(kind, ToneGood, strconv.Itoa(int(h.Preference)), h.Host, ttl, strings.Join(ips, ","))
		if h.Error != "" {
			add("no-address", ToneWarn, h.Host, h.Error)
		}
	}
	if s := r.DNSSEC; s != nil {
		all := s.MXAD && s.HostsAD
		f := []string{adText(all), "mx=" + adText(s.MXAD) + " hosts=" + adText(s.HostsAD)}
		if all && !s.TrustedResolver {
			f = append(f, "untrusted-resolver")
		}
		tone := ToneDim
		if all {
			tone = ToneGood
		}
		add("dnssec", tone, f...)
	}
	for _, n := range r.Notes {
		add("note", ToneWarn, n)
	}
	rows = append(rows, recordRows(d, r)...)
	for _, h := range r.MX {
		for _, a := range h.Addresses {
			if a.Check != nil {
				tone := ToneGood
				if !a.Check.Reachable || !a.Check.TLS {
					tone = ToneBad
				}
				add("check", tone, h.Host, a.IP, checkText(a.Check))
			}
		}
	}
	if len(r.Findings) > 0 {
		add("fail", ToneBad, strings.Join(r.Findings, ","))
	}
	return rows
}

func recordRows(d string, r *mxcheck.Report) [][]Cell {
	var rows [][]Cell
	add := func(kind string, tone Tone, fields ...string) { rows = append(rows, row(d, kind, tone, fields...)) }
	problems := func(rec string, ps []records.Problem, lookupErr string) {
		if lookupErr != "" {
			add("problem", ToneBad, rec, "error", lookupErr)
		}
		for _, p := range ps {
			tone := ToneWarn
			if p.Severity == records.SeverityError {
				tone = ToneBad
			}
			add("problem", tone, rec, string(p.Severity), p.Text)
		}
	}
	if s := r.SPF; s != nil {
		add("spf", presentTone(s.Record != ""), s.Record, "lookups="+strconv.Itoa(s.Lookups))
		problems("spf", s.Problems, s.Error)
	}
	if m := r.DMARC; m != nil {
		if m.DMARC != nil {
			f := []string{m.Record, fmt.Sprintf("p=%s sp=%s pct=%d", m.Policy, m.SubdomainPolicy, m.Percent)}
			if m.OrganizationalDomain != "" {
				f = append(f, "from "+m.OrganizationalDomain)
			}
			add("dmarc", presentTone(m.Policy != records.DMARCNone), f...)
		} else {
			add("dmarc", ToneBad, "")
		}
		problems("dmarc", m.Problems, m.Error)
	}
	if m := r.MTASTS; m != nil {
		f := []string{"id=" + orDash(m.ID)}
		if m.Mode != "" {
			f = append(f, fmt.Sprintf("mode=%s max_age=%d", m.Mode, m.MaxAge), "mx-match="+yesNo(m.AllMXMatch))
		}
		add("mta-sts", presentTone(m.Mode != "" && m.Error == ""), f...)
		if len(m.Unmatched) > 0 {
			add("problem", ToneBad, "mta-sts", "error", "MX hosts matching no policy pattern: "+strings.Join(m.Unmatched, ", "))
		}
		problems("mta-sts", m.Problems, m.Error)
	}
	if t := r.TLSRPT; t != nil {
		rec := ""
		if t.TLSRPT != nil {
			rec = t.Record
		}
		add("tls-rpt", presentTone(rec != ""), rec)
		problems("tls-rpt", t.Problems, t.Error)
	}
	for _, h := range r.MX {
		if t := h.TLSA; t != nil {
			if len(t.Records) == 0 {
				add("tlsa", ToneDim, h.Host, "", adText(t.AD))
			}
			for _, rec := range t.Records {
				add("tlsa", ToneGood, h.Host, fmt.Sprintf("%d %d %d %s", rec.Usage, rec.Selector, rec.MatchingType, rec.Data), adText(t.AD))
			}
			problems("tlsa", nil, t.Error)
		}
	}
	for _, h := range r.MX {
		for _, a := range h.Addresses {
			if p := a.PTR; p != nil {
				add("ptr", presentTone(p.FCrDNS), a.IP, strings.Join(p.Names, ","), "fcrdns="+yesNo(p.FCrDNS))
				problems("ptr", nil, p.Error)
			}
		}
	}
	for _, k := range r.DKIM {
		key := ""
		if k.DKIMKey != nil {
			key = k.KeyType
			if k.KeyBits > 0 {
				key += " " + strconv.Itoa(k.KeyBits)
			}
			if k.Revoked {
				key += " revoked"
			}
		}
		add("dkim", presentTone(k.DKIMKey != nil && !records.HasErrors(k.Problems)), k.Selector, key)
		problems("dkim "+k.Selector, k.Problems, k.Error)
	}
	return rows
}

func presentTone(ok bool) Tone {
	if ok {
		return ToneGood
	}
	return ToneWarn
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// checkText is one line: every stage that ran, with its time.
func checkText(c *mxcheck.Check) string {
	var parts []string
	parts = append(parts, "connect "+msText(c.ConnectMS))
	if c.Banner != "" {
		parts = append(parts, "banner "+msText(c.BannerMS)+" "+strconv.Quote(c.Banner))
	}
	if c.EHLOMS > 0 || c.EHLO {
		parts = append(parts, "ehlo "+msText(c.EHLOMS))
	}
	if c.Reachable && c.Error == "" || c.STARTTLS {
		parts = append(parts, "starttls="+yesNo(c.STARTTLS))
	}
	if c.TLS {
		parts = append(parts, "tls "+msText(c.TLSMS)+" "+c.TLSVersion,
			"cert-names-host="+yesNo(c.CertNamesHost), "cert-verified="+yesNo(c.CertVerified))
	}
	if c.Error != "" {
		parts = append(parts, "error: "+c.Error)
	}
	return strings.Join(parts, ", ")
}

func msText(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + "ms" }
