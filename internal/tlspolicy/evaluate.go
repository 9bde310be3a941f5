package tlspolicy

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"time"
)

// Input is what Evaluate judges a connection by, besides the connection itself.
type Input struct {
	// Level is the policy to apply.
	Level Level
	// Host is the reference name the certificate must carry: the host the user gave, or
	// the MX host name (RFC 7672 3.2.3: the TLSA base domain; RFC 8461 4.1: the MX host).
	// It may be an IP address, matched against IP SANs. Levels verify and mta-sts fail
	// with "no-name" without it.
	Host string
	// AltNames are further names the certificate may carry instead of Host: the
	// next-hop domain, or the MX name before CNAME expansion (RFC 7672 3.2.2). Under
	// mta-sts they play no part; the policy's mx patterns are matched against Host.
	AltNames []string
	// Roots verifies chains; nil means the system roots. LoadCAFile reads a --ca-file.
	Roots *x509.CertPool
	// Now is the time to judge dates by; zero means time.Now().
	Now time.Time
	// WarnDays, when positive, adds a "cert-expiring" warning when fewer whole days than
	// this are left. It never fails a verdict.
	WarnDays int
	// TLSA are the TLSA records for the server (LookupTLSA), for the dane levels.
	TLSA []TLSA
	// STS is the domain's MTA-STS policy (nil when it has none), for LevelMTASTS.
	STS *Policy
	// Pins are the fingerprints the leaf may match, for LevelFingerprint.
	Pins []Pin
}

// Evaluate judges a TLS connection under in.Level and says why. A state whose
// HandshakeComplete is false stands for a connection that is not encrypted (STARTTLS
// not offered, refused, or not tried). Every level reports the chain, name and date
// findings it can; the level decides which of them fail the verdict (see the Level
// constants). Evaluate does no I/O: TLSA records and the MTA-STS policy come in Input.
func Evaluate(state tls.ConnectionState, in Input) Verdict {
	now := in.Now
	if now.IsZero() {
		now = time.Now()
	}
	v := Verdict{OK: true, Level: in.Level, Host: strings.TrimSuffix(in.Host, ".")}
	e := &evaluation{v: &v, in: in, now: now}
	if state.HandshakeComplete {
		v.TLS = true
		e.certs = state.PeerCertificates
		v.add(ReasonTLS, StatusInfo, "%s with %s", tls.VersionName(state.Version), tls.CipherSuiteName(state.CipherSuite))
		if len(e.certs) > 0 {
			leaf := e.certs[0]
			v.NotBefore, v.NotAfter, v.DaysLeft = leaf.NotBefore, leaf.NotAfter, daysLeft(leaf, now)
			e.facts = checkPKIX(e.certs, in.Roots, e.names(), now, in.WarnDays)
			v.ChainVerified = e.facts.chain.ok
			v.NameMatched = e.facts.name != nil && e.facts.name.ok
		}
	}
	switch in.Level {
	case LevelNone:
		e.unauthenticated(StatusInfo, StatusInfo)
	case LevelOpportunistic:
		e.unauthenticated(StatusWarn, StatusWarn)
	case LevelRequired:
		e.unauthenticated(StatusFail, StatusWarn)
	case LevelVerify:
		e.verify(StatusFail)
	case LevelDANE, LevelDANEOnly:
		e.dane()
	case LevelMTASTS:
		e.mtasts()
	case LevelFingerprint:
		e.fingerprint()
	default:
		v.add(ReasonUnknownLevel, StatusFail, "unknown tls level %q", in.Level)
	}
	return v
}

// evaluation carries one Evaluate call.
type evaluation struct {
	v     *Verdict
	in    Input
	now   time.Time
	certs []*x509.Certificate
	facts pkixFacts
}

// names are the reference identifiers: Host and AltNames, or under mta-sts Host alone
// (RFC 8461 4.2: the certificate must be valid for the MX host).
func (e *evaluation) names() []string {
	all := append([]string{e.in.Host}, e.in.AltNames...)
	if e.in.Level == LevelMTASTS {
		all = all[:1]
	}
	var out []string
	for _, n := range all {
		if n = strings.TrimSuffix(n, "."); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// needTLS reports whether the connection is encrypted with a certificate, adding
// "no-tls" or "no-certificate" with st when it is not.
func (e *evaluation) needTLS(st Status, why string) bool {
	if !e.v.TLS {
		e.v.add(ReasonNoTLS, st, "the connection is not encrypted%s", why)
		return false
	}
	if len(e.certs) == 0 {
		e.v.add(ReasonNoCertificate, st, "the server sent no certificate")
		return false
	}
	return true
}

// report adds the chain, name and date findings. Problems get st; successes are "pass"
// when st is "fail" (the level asked for them) and "info" otherwise. With needName, a
// missing reference name is a problem too.
func (e *evaluation) report(st Status, needName bool) {
	good := StatusInfo
	if st == StatusFail {
		good = StatusPass
	}
	add := func(f finding) {
		if f.ok {
			e.v.add(f.id, good, "%s", f.text)
		} else {
			e.v.add(f.id, st, "%s", f.text)
		}
	}
	add(e.facts.chain)
	switch {
	case e.facts.name != nil:
		add(*e.facts.name)
	case needName:
		e.v.add(ReasonNoName, st, "no host name was given to check the certificate against")
	}
	add(e.facts.dates)
	if x := e.facts.expiring; x != nil {
		xs := StatusWarn
		if st == StatusInfo {
			xs = StatusInfo
		}
		e.v.add(x.id, xs, "%s", x.text)
	}
}

// pkixOK reports whether chain, name and dates all passed.
func (e *evaluation) pkixOK() bool {
	return e.facts.chain.ok && e.facts.name != nil && e.facts.name.ok && e.facts.dates.ok
}

// unauthenticated judges a level that never authenticates: noTLS is the status of a
// cleartext connection, problem that of certificate findings.
func (e *evaluation) unauthenticated(noTLS, problem Status) {
	why := ""
	if noTLS == StatusFail {
		why = fmt.Sprintf("; level %s requires TLS", e.v.Level)
	}
	if !e.needTLS(noTLS, why) {
		return
	}
	e.report(problem, false)
}

// verify judges chain, name and dates with st for problems (RFC 6125, RFC 5280 6).
func (e *evaluation) verify(st Status) bool {
	if !e.needTLS(st, fmt.Sprintf("; level %s requires TLS", e.v.Level)) {
		return false
	}
	e.report(st, true)
	ok := e.pkixOK()
	if ok && st == StatusFail {
		e.v.Authenticated = true
	}
	return ok
}

// dane judges by TLSA records (RFC 7672 2.2, 3).
func (e *evaluation) dane() {
	only := e.in.Level == LevelDANEOnly
	usable, ignored, insecure := sortTLSA(e.in.TLSA)
	if insecure > 0 {
		e.v.add(ReasonDANEInsecure, StatusInfo, "%d TLSA record(s) without the DNSSEC AD bit ignored (RFC 7672 2.2)", insecure)
	}
	if len(usable)+len(ignored) == 0 {
		if only {
			e.v.add(ReasonDANENoRecords, StatusFail, "no DNSSEC-validated TLSA records; level dane-only requires them")
			if e.needTLS(StatusFail, "") {
				e.report(StatusInfo, false)
			}
			return
		}
		e.v.add(ReasonDANENoRecords, StatusInfo, "no DNSSEC-validated TLSA records: DANE does not apply, judged as opportunistic TLS (RFC 7672 2.2)")
		e.unauthenticated(StatusWarn, StatusWarn)
		return
	}
	for _, why := range ignored {
		e.v.add(ReasonTLSAIgnored, StatusInfo, "TLSA %s", why)
	}
	// RFC 7672 2.2: a secure TLSA RRset makes TLS mandatory, usable or not.
	if !e.needTLS(StatusFail, "; DNSSEC-validated TLSA records make TLS mandatory (RFC 7672 2.2)") {
		return
	}
	if len(usable) == 0 {
		st := StatusWarn
		if only {
			st = StatusFail
		}
		e.v.add(ReasonDANEUnusable, st, "no usable TLSA record: TLS is required but the server is not authenticated (RFC 7672 2.2, 3.1.3)")
		e.report(StatusWarn, false)
		return
	}
	res := matchDANE(e.certs, usable, e.names(), e.now)
	switch {
	case res.match != nil && res.match.Usage == UsageDANEEE:
		e.v.add(ReasonDANEMatch, StatusPass, "TLSA %s matches the server certificate (DANE-EE: names and dates are not checked, RFC 7672 3.1.1)", res.match)
	case res.match != nil:
		e.v.add(ReasonDANEMatch, StatusPass, "TLSA %s matches a trust anchor the chain verifies to, and the name matches (DANE-TA, RFC 7672 3.1.2, 3.2.2)", res.match)
	case res.taName != nil:
		e.v.add(ReasonDANETANameMismatch, StatusFail, "TLSA %s matches a trust anchor of the chain, but the certificate is for %s, not %s (RFC 7672 3.2.2)", res.taName, certNames(e.certs[0]), strings.Join(e.names(), " or "))
	default:
		text := fmt.Sprintf("none of the %d usable TLSA record(s) matches the certificate chain (the leaf's 3 1 1 is %s)", len(usable), SPKISHA256(e.certs[0]))
		if res.taErr != "" {
			text += "; " + res.taErr
		}
		e.v.add(ReasonDANEMismatch, StatusFail, "%s", text)
	}
	if res.match != nil {
		e.v.Authenticated = true
		e.v.DANEMatch = res.match
	}
	// PKIX findings do not decide a DANE verdict (RFC 7672 3.1).
	e.report(StatusInfo, false)
}

// mtasts judges by the MTA-STS policy (RFC 8461 4, 5).
func (e *evaluation) mtasts() {
	p := e.in.STS
	if p == nil || p.Mode == ModeNone {
		what := "the domain has no MTA-STS policy"
		if p != nil {
			e.v.STSMode = p.Mode
			what = "the MTA-STS policy is in mode none"
		}
		e.v.add(ReasonSTSNone, StatusInfo, "%s: judged as opportunistic TLS (RFC 8461 5)", what)
		e.unauthenticated(StatusWarn, StatusWarn)
		return
	}
	e.v.STSMode = p.Mode
	st := StatusFail
	if p.Mode == ModeTesting {
		st = StatusWarn
		e.v.add(ReasonSTSTesting, StatusInfo, "MTA-STS mode testing: failures are reported, not enforced (RFC 8461 5)")
	} else {
		e.v.add(ReasonSTSEnforce, StatusInfo, "MTA-STS mode enforce (RFC 8461 5)")
	}
	good := StatusInfo
	if st == StatusFail {
		good = StatusPass
	}
	// RFC 8461 4.1: the MX host must match an mx pattern of the policy.
	mxOK := false
	switch {
	case e.v.Host == "":
		e.v.add(ReasonNoName, st, "no MX host name was given to match against the policy")
	case p.Matches(e.v.Host):
		mxOK = true
		e.v.add(ReasonSTSMXMatch, good, "%s matches the policy's mx %s (RFC 8461 4.1)", e.v.Host, strings.Join(p.MX, ", "))
	default:
		e.v.add(ReasonSTSMXMismatch, st, "%s matches none of the policy's mx %s (RFC 8461 4.1)", e.v.Host, strings.Join(p.MX, ", "))
	}
	// RFC 8461 4.2: TLS with a certificate valid for the MX host and a trusted chain.
	var certOK bool
	if e.needTLS(st, "; the MTA-STS policy requires TLS (RFC 8461 4.2)") {
		e.report(st, true)
		certOK = e.pkixOK()
	}
	if mxOK && certOK {
		e.v.add(ReasonSTSMatch, good, "the connection satisfies the MTA-STS policy")
		e.v.Authenticated = st == StatusFail
		return
	}
	e.v.add(ReasonSTSMismatch, st, "the connection does not satisfy the MTA-STS policy (mode %s)", p.Mode)
}

// fingerprint judges the leaf against the pins.
func (e *evaluation) fingerprint() {
	if !e.needTLS(StatusFail, "; level fingerprint requires TLS") {
		return
	}
	leaf := e.certs[0]
	matched := false
	for _, p := range e.in.Pins {
		if p.Matches(leaf) {
			e.v.add(ReasonPinMatch, StatusPass, "the certificate matches the pin %s", p)
			matched = true
			break
		}
	}
	if !matched {
		if len(e.in.Pins) == 0 {
			e.v.add(ReasonPinMismatch, StatusFail, "no pins were given")
		} else {
			e.v.add(ReasonPinMismatch, StatusFail, "the certificate (sha256 %s, public key sha256 %s) matches none of the %d pin(s)", CertSHA256(leaf), SPKISHA256(leaf), len(e.in.Pins))
		}
	}
	e.v.Authenticated = matched
	e.report(StatusInfo, false)
}
