package render

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/smtpkit/smtpkit/internal/probe"
)

// Probe prints the reports of `smtpkit probe`: with --format json one
// array of probe.Report objects (the field names are probe.Report's JSON
// tags, documented in README), with jsonl one report per line, as text one
// labelled line per fact, a blank line between servers:
//
//	target    mx.example.com:25 (192.0.2.1:25)
//	banner    220 mx.example.com ESMTP  4.1 ms (connect 0.9 ms)
//	ehlo      PIPELINING, SIZE 10240000, STARTTLS, 8BITMIME
//	starttls  ok  3.2 ms
//	ehlo-tls  + AUTH PLAIN LOGIN, - STARTTLS
//	tls       TLS 1.3 TLS_AES_128_GCM_SHA256 X25519
//	cert      CN=mx.example.com; names mx.example.com; ECDSA 256; ECDSA-SHA256; until 2027-03-01 (89 days)
//	issuer    CN=R3,O=Let's Encrypt,C=US
//	verify    ok
//	check     medium  auth-before-tls  AUTH is offered before TLS: AUTH PLAIN LOGIN
//
// With Quiet only the check lines above ok are printed.
func (p *Printer) Probe(reports []*probe.Report) error {
	switch p.o.Format {
	case FormatJSON:
		if reports == nil {
			reports = []*probe.Report{}
		}
		return p.JSON(reports)
	case FormatJSONL:
		for _, r := range reports {
			if err := p.JSONLine(r); err != nil {
				return err
			}
		}
		return nil
	}
	var b strings.Builder
	for i, r := range reports {
		if i > 0 && !p.o.Quiet {
			b.WriteByte('\n')
		}
		p.probeText(&b, r)
	}
	return p.write(p.out, b.String())
}

func (p *Printer) probeText(b *strings.Builder, r *probe.Report) {
	line := func(label string, tone Tone, text string) {
		if p.o.Quiet && label != "check" {
			return
		}
		b.WriteString(p.Paint(ToneBold, fmt.Sprintf("%-*s", labelWidth, label)))
		b.WriteString(p.Paint(tone, text))
		b.WriteByte('\n')
	}
	target := r.Target
	if r.Addr != "" && !strings.Contains(r.Target, r.Addr) {
		target += " (" + r.Addr + ")"
	}
	line("target", ToneNone, target)
	if r.Banner != nil {
		line("banner", ToneNone, fmt.Sprintf("%d %s  %s (connect %s)", r.Banner.Code, strings.Join(r.Banner.Lines, " / "), probeMS(r.BannerMS), probeMS(r.ConnectMS)))
	}
	if r.Error != "" {
		line("error", ToneBad, r.Stage+": "+r.Error)
	}
	if len(r.EHLO) > 0 {
		line("ehlo", ToneNone, strings.Join(r.EHLO, ", "))
	}
	switch r.STARTTLS {
	case "ok":
		line("starttls", ToneGood, "ok  "+probeMS(r.TLSMS))
	case "implicit":
		line("tls-mode", ToneNone, "implicit  "+probeMS(r.TLSMS))
	case "":
	default:
		line("starttls", ToneBad, r.STARTTLS)
	}
	if len(r.EHLOTLS) > 0 {
		var ch []string
		for _, a := range r.Added {
			ch = append(ch, "+ "+a)
		}
		for _, d := range r.Removed {
			ch = append(ch, "- "+d)
		}
		if len(ch) == 0 {
			ch = []string{"unchanged"}
		}
		line("ehlo-tls", ToneNone, strings.Join(ch, ", "))
	}
	if t := r.TLS; t != nil {
		line("tls", ToneNone, strings.TrimSpace(t.Version+" "+t.Cipher+" "+t.Group))
		for i, c := range t.Chain {
			label := "cert"
			if i > 0 {
				label = "chain"
			}
			tone := ToneNone
			if c.DaysLeft < 0 {
				tone = ToneBad
			}
			line(label, tone, fmt.Sprintf("%s; names %s; %s %d; %s; until %s (%d days)",
				c.Subject, strings.Join(c.SANs, " "), c.Key, c.KeyBits, c.SigAlg, c.NotAfter[:10], c.DaysLeft))
			if i == 0 {
				line("issuer", ToneNone, c.Issuer)
				line("sha256", ToneDim, c.SHA256)
			}
		}
		if t.Verified {
			line("verify", ToneGood, "ok")
		} else {
			line("verify", ToneBad, "failed: "+t.VerifyError)
		}
		ocsp := "not stapled"
		if t.OCSPStapled {
			ocsp = "stapled, " + t.OCSPStatus
		}
		line("ocsp", ToneNone, ocsp)
		line("resume", ToneNone, t.Resumption)
		line("tlsa", ToneNone, t.TLSA)
		for _, why := range t.Policy {
			line("policy", ToneNone, why)
		}
	}
	if a := r.Audit; a != nil {
		var acc, ref []string
		for _, v := range a.Versions {
			if v.Accepted {
				acc = append(acc, v.Version.String())
			} else {
				ref = append(ref, v.Version.String())
			}
		}
		text := strings.Join(acc, ", ")
		if len(ref) > 0 {
			text += " (refused: " + strings.Join(ref, ", ") + ")"
		}
		line("versions", ToneNone, text)
		for _, v := range a.Versions {
			if !v.Accepted {
				continue
			}
			if v.CipherOrder != "" {
				line("order", ToneDim, fmt.Sprintf("%s: %s decides", v.Version, v.CipherOrder))
			}
			for _, su := range v.Suites {
				var notes []string
				if su.ForwardSecrecy {
					notes = append(notes, "FS")
				}
				switch {
				case su.Export || su.Null || su.RC4 || su.DES:
					notes = append(notes, "WEAK")
				case su.TripleDES:
					notes = append(notes, "3DES")
				}
				if su.Anonymous {
					notes = append(notes, "ANON")
				}
				if su.Group != nil {
					notes = append(notes, su.Group.Name)
				}
				if su.DHBits > 0 {
					notes = append(notes, fmt.Sprintf("DH %d", su.DHBits))
				}
				line("suite", ToneNone, fmt.Sprintf("%-8s %s  %s", v.Version, su.Name, strings.Join(notes, " ")))
			}
			if len(v.Groups) > 0 {
				var gs []string
				for _, g := range v.Groups {
					gs = append(gs, g.Name)
				}
				line("groups", ToneNone, fmt.Sprintf("%s: %s", v.Version, strings.Join(gs, ", ")))
			}
		}
		if a.FallbackSCSV != nil {
			line("fallback", ToneNone, "TLS_FALLBACK_SCSV "+map[bool]string{true: "honoured", false: "ignored"}[*a.FallbackSCSV])
		}
		line("audit", ToneDim, fmt.Sprintf("%d handshakes", a.Handshakes))
		for _, e := range a.Errors {
			line("audit", ToneWarn, "incomplete: "+e)
		}
	}
	if r.AuditError != "" {
		line("audit", ToneBad, "failed: "+r.AuditError)
	}
	if r.Injection != "" {
		tone := ToneNone
		if strings.HasPrefix(r.Injection, "vulnerable") {
			tone = ToneBad
		}
		line("injection", tone, r.Injection)
	}
	if r.VRFY != nil {
		line("vrfy", ToneDim, replyText(r.VRFY))
	}
	if r.EXPN != nil {
		line("expn", ToneDim, replyText(r.EXPN))
	}
	if rl := r.Relay; rl != nil {
		text := "refused"
		if rl.Accepted {
			text = "ACCEPTED (open relay)"
		}
		if rl.Rcpt != nil {
			text += fmt.Sprintf(": RCPT TO:<%s> -> %s", rl.To, replyText(rl.Rcpt))
		} else if rl.Mail != nil {
			text += fmt.Sprintf(": MAIL FROM:<%s> -> %s", rl.From, replyText(rl.Mail))
		}
		line("relay", ToneNone, text)
	}
	for _, c := range r.Checks {
		if p.o.Quiet && c.Severity == probe.SevOK {
			continue
		}
		line("check", sevTone(c.Severity), fmt.Sprintf("%-8s  %s  %s", c.Severity, c.ID, c.Text))
	}
}

// replyText is "CODE [ENHANCED ]TEXT", several lines joined by " / ".
func replyText(r *probe.Reply) string {
	s := strconv.Itoa(r.Code)
	if r.Enhanced != "" {
		s += " " + r.Enhanced
	}
	return s + " " + strings.Join(r.Lines, " / ")
}

func sevTone(s probe.Severity) Tone {
	switch {
	case s >= probe.SevHigh:
		return ToneBad
	case s >= probe.SevLow:
		return ToneWarn
	case s == probe.SevOK:
		return ToneGood
	}
	return ToneNone
}

func probeMS(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + " ms" }

// ProbeNagios is the one status line of --nagios and its exit status (0 OK,
// 1 WARNING, 2 CRITICAL): a connection failure, a high or critical check
// or a total time over crit is CRITICAL; a low or medium check or a time
// over warn is WARNING. Perfdata: connect, banner, tls and total times in
// seconds, and the leaf certificate's days left.
func ProbeNagios(reports []*probe.Report, warn, crit time.Duration) (string, int) {
	status := 0
	var why, perf []string
	for _, r := range reports {
		worst := r.WorstSeverity()
		switch {
		case worst >= probe.SevHigh:
			status = max(status, 2)
		case worst >= probe.SevLow:
			status = max(status, 1)
		}
		total := time.Duration(r.TotalMS * float64(time.Millisecond))
		if crit > 0 && total > crit {
			status = max(status, 2)
			why = append(why, fmt.Sprintf("%s took %s", r.Target, total.Round(time.Millisecond)))
		} else if warn > 0 && total > warn {
			status = max(status, 1)
			why = append(why, fmt.Sprintf("%s took %s", r.Target, total.Round(time.Millisecond)))
		}
		for _, c := range r.Reached(probe.SevLow) {
			why = append(why, c.ID+": "+c.Text)
		}
		prefix := ""
		if len(reports) > 1 {
			prefix = r.Addr + "_"
		}
		th := func(d time.Duration) string {
			if d <= 0 {
				return ""
			}
			return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
		}
		perf = append(perf,
			fmt.Sprintf("'%sconnect'=%.4fs", prefix, r.ConnectMS/1000),
			fmt.Sprintf("'%sbanner'=%.4fs", prefix, r.BannerMS/1000),
			fmt.Sprintf("'%stls'=%.4fs", prefix, r.TLSMS/1000),
			fmt.Sprintf("'%stotal'=%.4fs;%s;%s", prefix, r.TotalMS/1000, th(warn), th(crit)))
		if r.TLS != nil && len(r.TLS.Chain) > 0 {
			perf = append(perf, fmt.Sprintf("'%scert_days'=%d", prefix, r.TLS.Chain[0].DaysLeft))
		}
	}
	summary := ""
	if len(reports) == 1 {
		r := reports[0]
		summary = r.Target
		if r.TLS != nil {
			summary += ", " + r.TLS.Version
			if len(r.TLS.Chain) > 0 {
				summary += fmt.Sprintf(", certificate %d days left", r.TLS.Chain[0].DaysLeft)
			}
		}
	} else {
		summary = fmt.Sprintf("%d addresses", len(reports))
	}
	if len(why) > 0 {
		summary += "; " + strings.Join(why, "; ")
	}
	names := [...]string{"OK", "WARNING", "CRITICAL"}
	return "SMTP " + names[status] + " - " + clean(summary) + " | " + strings.Join(perf, " "), status
}
