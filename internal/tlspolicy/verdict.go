package tlspolicy

import (
	"fmt"
	"strings"
	"time"
)

// Level is how much a TLS connection must prove before mail goes over it. The names follow
// Postfix's smtp_tls_security_level where one exists.
type Level string

// The levels, weakest first.
const (
	// LevelNone: TLS is not asked for; whatever happened is reported, nothing fails.
	LevelNone Level = "none"
	// LevelOpportunistic: TLS when the server offers it, unauthenticated (RFC 3207 4.1);
	// problems are warnings and nothing fails.
	LevelOpportunistic Level = "opportunistic"
	// LevelRequired: TLS must be used; the certificate is not authenticated.
	LevelRequired Level = "required"
	// LevelVerify: TLS with a chain to a trusted root, the reference name on the
	// certificate, and the certificate within its dates (RFC 6125).
	LevelVerify Level = "verify"
	// LevelDANE: DANE for SMTP (RFC 7672). With DNSSEC-validated usable TLSA records the
	// server must match one of them; with validated records that are all unusable TLS is
	// required but not authenticated (RFC 7672 2.2); without validated records DANE does
	// not apply and the connection is judged as opportunistic.
	LevelDANE Level = "dane"
	// LevelDANEOnly is LevelDANE that also fails when there are no usable, validated TLSA
	// records (Postfix's dane-only).
	LevelDANEOnly Level = "dane-only"
	// LevelMTASTS: MTA-STS (RFC 8461). Input.STS is the domain's policy: in mode enforce
	// the connection is judged as LevelVerify plus the MX host matching the policy; in mode
	// testing the same checks are warnings; without a policy, or in mode none, as
	// opportunistic.
	LevelMTASTS Level = "mta-sts"
	// LevelFingerprint: TLS whose leaf certificate matches one of Input.Pins; names,
	// dates and the chain do not matter.
	LevelFingerprint Level = "fingerprint"
)

// Levels returns every level, weakest first (for flag help and completion).
func Levels() []Level {
	return []Level{LevelNone, LevelOpportunistic, LevelRequired, LevelVerify, LevelDANE, LevelDANEOnly, LevelMTASTS, LevelFingerprint}
}

// ParseLevel returns the Level named s (case-insensitive; "may" and "encrypt" are accepted
// for opportunistic and required, "secure" for verify, "mtasts" for mta-sts). It returns an
// error naming the valid levels otherwise.
func ParseLevel(s string) (Level, error) {
	switch l := Level(strings.ToLower(strings.TrimSpace(s))); l {
	case "may":
		return LevelOpportunistic, nil
	case "encrypt":
		return LevelRequired, nil
	case "secure":
		return LevelVerify, nil
	case "mtasts", "sts":
		return LevelMTASTS, nil
	default:
		for _, known := range Levels() {
			if l == known {
				return l, nil
			}
		}
	}
	names := make([]string, len(Levels()))
	for i, l := range Levels() {
		names[i] = string(l)
	}
	return "", fmt.Errorf("unknown tls level %q (want %s)", s, strings.Join(names, ", "))
}

// Status says how a Reason bears on the verdict.
type Status string

// The statuses of a Reason.
const (
	// StatusPass: a check the level asked for succeeded.
	StatusPass Status = "pass"
	// StatusFail: a check the level asked for failed; the verdict is not OK.
	StatusFail Status = "fail"
	// StatusWarn: something is wrong, but the level does not enforce it.
	StatusWarn Status = "warn"
	// StatusInfo: a fact, neither good nor bad under the level.
	StatusInfo Status = "info"
)

// ReasonID names a Reason. IDs are stable: scripts and reports may match on them.
type ReasonID string

// The reason ids.
const (
	// Transport.
	ReasonTLS   ReasonID = "tls"    // the connection is encrypted (version and cipher in the text)
	ReasonNoTLS ReasonID = "no-tls" // the connection is not encrypted

	// Certificate chain (RFC 5280 6).
	ReasonNoCertificate ReasonID = "no-certificate"  // the server sent no certificate
	ReasonChainVerified ReasonID = "chain-verified"  // the chain leads to a trusted root
	ReasonUntrusted     ReasonID = "untrusted-chain" // the chain leads to no trusted root
	ReasonSelfSigned    ReasonID = "self-signed"     // the leaf is self-signed and not trusted
	ReasonChainInvalid  ReasonID = "chain-invalid"   // the chain is broken otherwise (usage, constraints, an expired CA)
	ReasonNameMatch     ReasonID = "name-match"      // the certificate carries a reference name
	ReasonNameMismatch  ReasonID = "name-mismatch"   // it carries none of them
	ReasonNoName        ReasonID = "no-name"         // no reference name was given to check
	ReasonDatesOK       ReasonID = "cert-dates-ok"   // the leaf is within its validity period
	ReasonExpired       ReasonID = "cert-expired"    // the leaf has expired
	ReasonNotYetValid   ReasonID = "cert-not-yet-valid"
	ReasonExpiring      ReasonID = "cert-expiring" // fewer than Input.WarnDays days left
	ReasonUnknownLevel  ReasonID = "unknown-level" // Input.Level is not a Level

	// DANE (RFC 7672).
	ReasonDANEMatch          ReasonID = "dane-match"            // a usable TLSA record matches
	ReasonDANEMismatch       ReasonID = "dane-mismatch"         // usable TLSA records exist and none matches
	ReasonDANETANameMismatch ReasonID = "dane-ta-name-mismatch" // a DANE-TA record matches the chain but the name does not (RFC 7672 3.2.2)
	ReasonDANEUnusable       ReasonID = "dane-unusable"         // validated TLSA records exist, none usable: TLS without authentication (RFC 7672 2.2)
	ReasonDANENoRecords      ReasonID = "dane-no-records"       // no validated TLSA records: DANE does not apply
	ReasonDANEInsecure       ReasonID = "dane-insecure"         // TLSA records without the DNSSEC AD bit, ignored (RFC 7672 2.2)
	ReasonTLSAIgnored        ReasonID = "tlsa-ignored"          // validated records with an unusable usage, selector or matching type (RFC 7672 3.1.3)

	// MTA-STS (RFC 8461).
	ReasonSTSNone       ReasonID = "mta-sts-none"        // no policy, or mode none: MTA-STS does not apply
	ReasonSTSTesting    ReasonID = "mta-sts-testing"     // mode testing: failures are reported, not enforced (RFC 8461 5)
	ReasonSTSEnforce    ReasonID = "mta-sts-enforce"     // mode enforce
	ReasonSTSMXMatch    ReasonID = "mta-sts-mx-match"    // the MX host matches an mx pattern (RFC 8461 4.1)
	ReasonSTSMXMismatch ReasonID = "mta-sts-mx-mismatch" // it matches none
	ReasonSTSMatch      ReasonID = "mta-sts-match"       // the connection satisfies the policy
	ReasonSTSMismatch   ReasonID = "mta-sts-mismatch"    // it does not (fail under enforce, warn under testing)

	// Fingerprint pinning.
	ReasonPinMatch    ReasonID = "pin-match"    // the leaf matches a pinned SHA-256 fingerprint
	ReasonPinMismatch ReasonID = "pin-mismatch" // it matches none, or none were given
)

// Reason is one finding behind a Verdict.
type Reason struct {
	// ID is stable; see the Reason* constants.
	ID ReasonID `json:"id"`
	// Status says whether the finding passed, failed, warns or informs under the level.
	Status Status `json:"status"`
	// Text says what was found, in lowercase prose, citing the rule where that helps.
	Text string `json:"text"`
}

// String returns "status id: text".
func (r Reason) String() string { return string(r.Status) + " " + string(r.ID) + ": " + r.Text }

// Verdict is the judgement of one TLS connection under a Level: OK is false exactly when
// some reason has StatusFail. The other fields are the facts behind the reasons.
type Verdict struct {
	// OK says whether mail may go over the connection under the level.
	OK bool `json:"ok"`
	// Level is the level judged by (after MTA-STS or DANE decided what applies, the
	// reasons say which checks counted).
	Level Level `json:"level"`
	// Host is the reference name the certificate was checked against, if any.
	Host string `json:"host,omitempty"`
	// TLS says whether the connection was encrypted.
	TLS bool `json:"tls"`
	// Authenticated says the server was authenticated by the level's means: chain and name
	// (verify, mta-sts), a TLSA match (dane) or a pin (fingerprint).
	Authenticated bool `json:"authenticated"`
	// ChainVerified says the chain leads to a trusted root (whatever the level).
	ChainVerified bool `json:"chain_verified"`
	// NameMatched says the leaf carries the reference name (false when none was given).
	NameMatched bool `json:"name_matched"`
	// NotBefore and NotAfter are the leaf's validity period.
	NotBefore time.Time `json:"not_before,omitzero"`
	NotAfter  time.Time `json:"not_after,omitzero"`
	// DaysLeft is the number of whole days until NotAfter, negative once expired.
	DaysLeft int `json:"days_left"`
	// DANEMatch is the TLSA record that authenticated the server, under dane levels.
	DANEMatch *TLSA `json:"dane_match,omitempty"`
	// STSMode is the MTA-STS mode applied, under mta-sts.
	STSMode Mode `json:"mta_sts_mode,omitempty"`
	// Reasons lists every finding in the order checked.
	Reasons []Reason `json:"reasons"`
}

// Has reports whether the verdict holds a reason with id.
func (v *Verdict) Has(id ReasonID) bool { return v.Reason(id) != nil }

// Reason returns the first reason with id, or nil.
func (v *Verdict) Reason(id ReasonID) *Reason {
	for i := range v.Reasons {
		if v.Reasons[i].ID == id {
			return &v.Reasons[i]
		}
	}
	return nil
}

// Failures returns the reasons with StatusFail.
func (v *Verdict) Failures() []Reason {
	var out []Reason
	for _, r := range v.Reasons {
		if r.Status == StatusFail {
			out = append(out, r)
		}
	}
	return out
}

// Err returns nil when the verdict is OK, and otherwise a *RejectError naming the failed
// reasons.
func (v *Verdict) Err() error {
	if v.OK {
		return nil
	}
	return &RejectError{Verdict: v}
}

// RejectError says a TLS connection did not satisfy its level. Callers map it to a
// permanent failure (exit 69, "certificate rejected by policy").
type RejectError struct {
	Verdict *Verdict
}

func (e *RejectError) Error() string {
	var parts []string
	for _, r := range e.Verdict.Failures() {
		parts = append(parts, string(r.ID)+": "+r.Text)
	}
	who := ""
	if e.Verdict.Host != "" {
		who = " for " + e.Verdict.Host
	}
	return fmt.Sprintf("tls %s%s: %s", e.Verdict.Level, who, strings.Join(parts, "; "))
}

// add appends a reason and keeps OK in step.
func (v *Verdict) add(id ReasonID, st Status, format string, args ...any) {
	v.Reasons = append(v.Reasons, Reason{ID: id, Status: st, Text: fmt.Sprintf(format, args...)})
	if st == StatusFail {
		v.OK = false
	}
}
