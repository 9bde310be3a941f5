package records

import (
	"strings"
)

// TLSRPT is a parsed SMTP TLS reporting record, published at _smtp._tls.<domain> (RFC 8460
// 3).
type TLSRPT struct {
	// Record is the text that was parsed.
	Record string `json:"record"`
	// ReportURIs are the rua destinations that parsed: mailto: and https: URIs. Empty,
	// never nil.
	ReportURIs []ReportURI `json:"report_uris"`
}

// tlsrptVersion is the version field, matched case-sensitively (RFC 8460 3: %s"v=TLSRPTv1").
const tlsrptVersion = "v=TLSRPTv1"

// IsTLSRPT reports whether txt begins with "v=TLSRPTv1" followed by a field delimiter or
// the end (RFC 8460 3).
func IsTLSRPT(txt string) bool {
	first, _, _ := strings.Cut(txt, ";")
	return strings.TrimRight(first, " \t") == tlsrptVersion
}

// SelectTLSRPT picks the TLS-RPT record among the TXT records of one _smtp._tls name (RFC
// 8460 3). It returns the record and no problem when exactly one begins with v=TLSRPTv1;
// "" and a warning when none does; "" and an error when several do, for then senders
// assume the domain does not implement TLS-RPT.
func SelectTLSRPT(txts []string) (string, []Problem) {
	var found []string
	for _, t := range txts {
		if IsTLSRPT(t) {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return "", []Problem{warnf("no TLS-RPT record")}
	case 1:
		return found[0], nil
	}
	return "", []Problem{errorf("multiple TLS-RPT records (%d): senders assume the domain does not implement TLS-RPT (RFC 8460 3)", len(found))}
}

// ParseTLSRPT parses one TLS-RPT record (RFC 8460 3):
//
//	tlsrpt-record    = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
//	field-delim      = *WSP ";" *WSP
//	tlsrpt-version   = %s"v=TLSRPTv1"
//	tlsrpt-rua       = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
//	tlsrpt-extension = tlsrpt-ext-name "=" tlsrpt-ext-value
//
// It returns nil and an error problem when txt does not begin with v=TLSRPTv1. Otherwise
// any syntax error, a missing rua or a URI that is not mailto: or https: is an error
// problem: senders then treat the domain as not implementing TLS-RPT. Extension fields are
// checked for syntax and ignored.
func ParseTLSRPT(txt string) (*TLSRPT, []Problem) {
	if !IsTLSRPT(txt) {
		return nil, []Problem{errorf("not a TLS-RPT record: it must begin with %s (RFC 8460 3)", tlsrptVersion)}
	}
	r := &TLSRPT{Record: txt, ReportURIs: []ReportURI{}}
	var ps []Problem
	parts := strings.Split(txt, ";")
	seenRUA := false
	for i, part := range parts[1:] {
		field := strings.Trim(part, " \t")
		if field == "" {
			if i < len(parts)-2 {
				ps = append(ps, errorf("empty field between semicolons (RFC 8460 3)"))
			}
			continue
		}
		name, value, ok := strings.Cut(field, "=")
		if !ok {
			ps = append(ps, errorf("%q is not a name=value field (RFC 8460 3)", field))
			continue
		}
		if name == "rua" {
			if seenRUA {
				ps = append(ps, errorf("rua appears more than once"))
				continue
			}
			seenRUA = true
			uris, ups := parseReportURIs("rua", value, false)
			ps = append(ps, ups...)
			r.ReportURIs = append(r.ReportURIs, uris...)
			continue
		}
		if !ValidExtName(name) {
			ps = append(ps, errorf("invalid field name %q (RFC 8460 3)", name))
			continue
		}
		if !ValidExtValue(value) {
			ps = append(ps, errorf("field %s: invalid value %q (RFC 8460 3)", name, value))
		}
	}
	if !seenRUA {
		ps = append(ps, errorf("rua= is missing; it is required (RFC 8460 3)"))
	}
	return r, ps
}

// ValidExtName reports whether s is an extension name of the TXT record
// grammars of TLSRPT (RFC 8460 3: tlsrpt-ext-name) and MTA-STS (RFC 8461
// 3.1 sts-ext-name, also its policy field names, 3.2): (ALPHA / DIGIT)
// *31(ALPHA / DIGIT / "_" / "-" / ".").
func ValidExtName(s string) bool {
	if s == "" || len(s) > 32 || !(isAlpha(s[0]) || isDigit(s[0])) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && !isDigit(c) && c != '_' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// ValidExtValue reports whether s is an extension value of the same
// grammars (tlsrpt-ext-value, sts-ext-value): 1*(%x21-3A / %x3C / %x3E-7E).
func ValidExtValue(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == ';' || c == '=' {
			return false
		}
	}
	return true
}
