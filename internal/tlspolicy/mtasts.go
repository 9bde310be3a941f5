package tlspolicy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/smtpkit/smtpkit/internal/records"
)

// STSRecord is a parsed MTA-STS TXT record, published at _mta-sts.<domain> (RFC 8461
// 3.1).
type STSRecord struct {
	// Record is the text that was parsed.
	Record string `json:"record"`
	// ID identifies the policy instance: when it changes, senders fetch the policy again.
	ID string `json:"id"`
}

// Errors of SelectSTSRecord.
var (
	// ErrNoSTSRecord: no TXT record begins with v=STSv1; the domain has no MTA-STS.
	ErrNoSTSRecord = errors.New("no MTA-STS record")
	// ErrMultipleSTSRecords: several do, and senders must act as if there were none (RFC
	// 8461 3.1).
	ErrMultipleSTSRecords = errors.New("multiple MTA-STS records")
)

// stsVersion is the version field, matched case-sensitively (RFC 8461 3.1:
// sts-version = %s"v=STSv1").
const stsVersion = "v=STSv1"

// IsSTSRecord reports whether txt begins with v=STSv1 followed by a field delimiter or the
// end (RFC 8461 3.1: other records are discarded).
func IsSTSRecord(txt string) bool {
	first, _, _ := strings.Cut(txt, ";")
	return strings.TrimRight(first, " \t") == stsVersion
}

// SelectSTSRecord picks the MTA-STS record among the TXT records of _mta-sts.<domain>, each
// with its strings joined. It returns ErrNoSTSRecord when none begins with v=STSv1 and
// ErrMultipleSTSRecords when several do (RFC 8461 3.1).
func SelectSTSRecord(txts []string) (string, error) {
	var found []string
	for _, t := range txts {
		if IsSTSRecord(t) {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return "", ErrNoSTSRecord
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%w (%d): senders act as if there were none (RFC 8461 3.1)", ErrMultipleSTSRecords, len(found))
}

// ParseSTSRecord parses an MTA-STS TXT record (RFC 8461 3.1):
//
//	sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
//	sts-field-delim = *WSP ";" *WSP
//	sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
//	sts-extension   = sts-ext-name "=" sts-ext-value
//
// It returns an error when the record does not begin with v=STSv1, is syntactically
// invalid, or lacks id; senders then treat the domain as having no MTA-STS policy.
// Extension fields are checked for syntax and ignored; of a repeated id the first counts
// (RFC 8461 3.2 says so of policy fields).
func ParseSTSRecord(txt string) (*STSRecord, error) {
	if !IsSTSRecord(txt) {
		return nil, fmt.Errorf("not an MTA-STS record: it must begin with %s (RFC 8461 3.1)", stsVersion)
	}
	r := &STSRecord{Record: txt}
	parts := strings.Split(txt, ";")
	for i, part := range parts[1:] {
		field := strings.Trim(part, " \t")
		if field == "" {
			if i == len(parts)-2 {
				break // one trailing delimiter is allowed
			}
			return nil, errors.New("mta-sts record: empty field between semicolons (RFC 8461 3.1)")
		}
		name, value, ok := strings.Cut(field, "=")
		if !ok {
			return nil, fmt.Errorf("mta-sts record: %q is not a name=value field (RFC 8461 3.1)", field)
		}
		if name == "id" {
			if !validSTSID(value) {
				return nil, fmt.Errorf("mta-sts record: id=%s: the id is 1 to 32 letters and digits (RFC 8461 3.1)", value)
			}
			if r.ID == "" {
				r.ID = value
			}
			continue
		}
		if !records.ValidExtName(name) {
			return nil, fmt.Errorf("mta-sts record: invalid field name %q (RFC 8461 3.1)", name)
		}
		if !records.ValidExtValue(value) {
			return nil, fmt.Errorf("mta-sts record: field %s: invalid value %q (RFC 8461 3.1)", name, value)
		}
	}
	if r.ID == "" {
		return nil, errors.New("mta-sts record: id= is missing; it is required (RFC 8461 3.1)")
	}
	return r, nil
}

// validSTSID: 1*32(ALPHA / DIGIT).
func validSTSID(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) {
			return false
		}
	}
	return true
}

// Mode is an MTA-STS policy mode (RFC 8461 5).
type Mode string

// The policy modes.
const (
	// ModeEnforce: deliver only over verified TLS to a matching MX.
	ModeEnforce Mode = "enforce"
	// ModeTesting: report failures (TLS-RPT) but deliver anyway.
	ModeTesting Mode = "testing"
	// ModeNone: the domain has withdrawn its policy.
	ModeNone Mode = "none"
)

// MaxAgeLimit is the largest max_age a policy may give, in seconds: one year (RFC 8461
// 3.2).
const MaxAgeLimit = 31557600

// Policy is a parsed MTA-STS policy (RFC 8461 3.2).
type Policy struct {
	// Version is "STSv1".
	Version string `json:"version"`
	// Mode is enforce, testing or none.
	Mode Mode `json:"mode"`
	// MX holds the mx patterns in order, as written: host names, or "*." and a domain.
	// Empty, never nil, when the policy has none (mode none).
	MX []string `json:"mx"`
	// MaxAge is how long the policy may be cached, in seconds (0 to MaxAgeLimit).
	MaxAge int `json:"max_age"`
}

// String returns the policy as a body to serve: version, mode, one mx line per pattern and
// max_age, each ended by CRLF. ParsePolicy of the result gives the same Policy.
func (p *Policy) String() string {
	var b strings.Builder
	b.WriteString("version: " + p.Version + "\r\n")
	b.WriteString("mode: " + string(p.Mode) + "\r\n")
	for _, mx := range p.MX {
		b.WriteString("mx: " + mx + "\r\n")
	}
	b.WriteString("max_age: " + strconv.Itoa(p.MaxAge) + "\r\n")
	return b.String()
}

// ParsePolicy parses an MTA-STS policy body (RFC 8461 3.2): "key: value" lines ended by
// LF or CRLF. version (STSv1), mode (enforce, testing or none) and max_age (0 to
// MaxAgeLimit) are required, and so is at least one mx unless the mode is none. Of a
// repeated field other than mx the first counts; unknown fields are ignored once their
// syntax checks out; blank lines are skipped. It returns an error naming the line for
// anything malformed or missing.
func ParsePolicy(body []byte) (*Policy, error) {
	p := &Policy{MX: []string{}}
	seen := map[string]bool{}
	lines := strings.Split(string(body), "\n")
	for n, line := range lines {
		// RFC 8461 3.2: sts-policy-term = LF / CRLF.
		line = strings.TrimSuffix(line, "\r")
		if strings.Trim(line, " \t") == "" {
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("mta-sts policy line %d: no colon in %q (RFC 8461 3.2)", n+1, clip(line))
		}
		if !records.ValidExtName(key) {
			return nil, fmt.Errorf("mta-sts policy line %d: invalid field name %q (RFC 8461 3.2)", n+1, clip(key))
		}
		// RFC 8461 3.2: sts-policy-field-delim = ":" *WSP, and *WSP may end the line.
		value = strings.Trim(value, " \t")
		first := !seen[key]
		seen[key] = true
		switch key {
		case "version":
			if value != "STSv1" {
				return nil, fmt.Errorf("mta-sts policy line %d: version %q, want STSv1 (RFC 8461 3.2)", n+1, clip(value))
			}
			p.Version = value
		case "mode":
			m := Mode(value)
			if m != ModeEnforce && m != ModeTesting && m != ModeNone {
				return nil, fmt.Errorf("mta-sts policy line %d: mode %q, want enforce, testing or none (RFC 8461 3.2)", n+1, clip(value))
			}
			if first {
				p.Mode = m
			}
		case "max_age":
			// RFC 8461 3.2: 1*10(DIGIT), at most 31557600.
			age, err := strconv.Atoi(value)
			if err != nil || len(value) > 10 || !allDigits(value) || age > MaxAgeLimit {
				return nil, fmt.Errorf("mta-sts policy line %d: max_age %q, want seconds from 0 to %d (RFC 8461 3.2)", n+1, clip(value), MaxAgeLimit)
			}
			if first {
				p.MaxAge = age
			}
		case "mx":
			if msg := checkMXPattern(value); msg != "" {
				return nil, fmt.Errorf("mta-sts policy line %d: mx %q: %s (RFC 8461 3.2)", n+1, clip(value), msg)
			}
			p.MX = append(p.MX, value)
		default:
			if !validPolicyExtValue(value) {
				return nil, fmt.Errorf("mta-sts policy line %d: field %s: invalid value (RFC 8461 3.2)", n+1, key)
			}
		}
	}
	for _, key := range []string{"version", "mode", "max_age"} {
		if !seen[key] {
			return nil, fmt.Errorf("mta-sts policy: %s is missing; it is required (RFC 8461 3.2)", key)
		}
	}
	if len(p.MX) == 0 && p.Mode != ModeNone {
		return nil, fmt.Errorf("mta-sts policy: no mx; mode %s needs at least one (RFC 8461 3.2)", p.Mode)
	}
	return p, nil
}

// checkMXPattern checks sts-policy-mx-value = ["*."] Domain, where Domain is a host name
// in A-labels (RFC 5321 4.1.2). One trailing dot is tolerated.
func checkMXPattern(v string) string {
	name := strings.TrimPrefix(v, "*.")
	name = strings.TrimSuffix(name, ".")
	if name == "" {
		return "empty"
	}
	if len(name) > 253 {
		return "longer than 253 octets"
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" {
			return "empty label"
		}
		if len(label) > 63 {
			return "label longer than 63 octets"
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "a label starts or ends with a hyphen"
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if c >= 0x80 {
				return "not in A-labels; write internationalised names as xn--"
			}
			if !isAlnum(c) && c != '-' {
				return "invalid character " + strconv.QuoteRune(rune(c))
			}
		}
	}
	return ""
}

// validPolicyExtValue: sts-policy-vchar [*(%x20 / sts-policy-vchar) sts-policy-vchar],
// where sts-policy-vchar is visible ASCII or UTF-8 beyond ASCII. The value arrives trimmed.
func validPolicyExtValue(v string) bool {
	if v == "" || !utf8.ValidString(v) {
		return false
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f || r == '\t' {
			return false
		}
	}
	return true
}

// Matches reports whether host may receive mail under the policy: it equals an mx pattern
// or matches a wildcard pattern, where "*.example.com" stands for exactly one leftmost
// label (RFC 8461 4.1: it matches mail.example.com but not example.com or
// a.b.example.com). Comparison ignores case and a trailing dot on either side.
func (p *Policy) Matches(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "" {
		return false
	}
	for _, pat := range p.MX {
		pat = strings.ToLower(strings.TrimSuffix(pat, "."))
		if suffix, ok := strings.CutPrefix(pat, "*."); ok {
			label, rest, found := strings.Cut(h, ".")
			if found && label != "" && rest == suffix {
				return true
			}
			continue
		}
		if h == pat {
			return true
		}
	}
	return false
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// clip shortens text quoted in an error, so a hostile body cannot make errors huge.
func clip(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
