package message

import (
	"net/netip"
	"strings"
	"unicode/utf8"
)

// Length limits of RFC 5321 4.5.3.1.
const (
	maxLocalLen  = 64  // RFC 5321 4.5.3.1.1
	maxDomainLen = 255 // RFC 5321 4.5.3.1.2
	maxPathLen   = 256 // RFC 5321 4.5.3.1.3, angle brackets included
	maxLabelLen  = 63  // RFC 1035 2.3.4
)

// Address is an envelope mailbox (RFC 5321 4.1.2 Mailbox). The zero Address
// is the null reverse-path "<>".
//
// Local holds the local part decoded: a quoted-string local part is stored
// without its quotes and backslashes, and String quotes it again when needed.
// Domain holds the domain as given: dot-separated labels (U-labels allowed,
// RFC 6531) or an address literal with its brackets, e.g. "[192.0.2.1]" or
// "[IPv6:2001:db8::1]".
type Address struct {
	Local, Domain string
}

// IsNull reports whether a is the null sender "<>".
func (a Address) IsNull() bool {
	return a.Local == "" && a.Domain == ""
}

// String returns the mailbox as it goes on the wire, "local@domain", with the
// local part quoted only when it is not a dot-atom. It returns "" for the null
// sender.
func (a Address) String() string {
	if a.IsNull() {
		return ""
	}
	return quoteLocal(a.Local) + "@" + a.Domain
}

// Path returns the address in angle brackets, as MAIL FROM and RCPT TO carry
// it (RFC 5321 4.1.2 Path): "<local@domain>", or "<>" for the null sender.
func (a Address) Path() string {
	return "<" + a.String() + ">"
}

// NeedsSMTPUTF8 reports whether the address holds non-ASCII octets, so that
// sending it needs the SMTPUTF8 extension (RFC 6531 3.4).
func (a Address) NeedsSMTPUTF8() bool {
	return !isASCII(a.Local) || !isASCII(a.Domain)
}

// ParseAddress parses one envelope address. It accepts a bare mailbox
// ("user@example.com"), one in angle brackets ("<user@example.com>") and one
// with a display name ("User <user@example.com>", the name is dropped). An
// obsolete source route ("<@relay:user@example.com>") is accepted and ignored
// (RFC 5321 4.1.2 and Appendix C).
//
// An empty string, "<>" and "Name <>" are the null sender: ParseAddress
// returns the zero Address and nil; callers decide whether it is allowed.
//
// Any other input that is not a valid mailbox, or that breaks a length limit of
// RFC 5321 4.5.3.1 (local part 64 octets, domain 255, path 256), gives an
// *AddressError.
func ParseAddress(s string) (Address, error) {
	fail := func(reason string) (Address, error) {
		return Address{}, &AddressError{Input: s, Reason: reason}
	}
	if !utf8.ValidString(s) {
		return fail("invalid utf-8")
	}
	for i := 0; i < len(s); i++ {
		if r := controlName(s[i]); r != "" {
			return fail("contains " + r)
		}
	}
	in := strings.Trim(s, " \t")
	if in == "" {
		return Address{}, nil
	}

	if lt := indexUnquoted(in, '<'); lt >= 0 {
		gt := indexUnquoted(in[lt:], '>')
		if gt < 0 {
			return fail("missing closing >")
		}
		gt += lt
		if strings.Trim(in[gt+1:], " \t") != "" {
			return fail("unexpected text after >")
		}
		in = strings.Trim(in[lt+1:gt], " \t")
		if strings.HasPrefix(in, "@") {
			// RFC 5321 4.1.2: A-d-l, "MUST BE accepted, SHOULD NOT be
			// generated"; the route itself is ignored.
			colon := strings.IndexByte(in, ':')
			if colon < 0 {
				return fail("source route without colon")
			}
			in = in[colon+1:]
			if in == "" {
				return fail("empty address after source route")
			}
		}
		if in == "" {
			return Address{}, nil
		}
	} else if indexUnquoted(in, '>') >= 0 {
		return fail("unexpected >")
	}

	local, rest, reason := parseLocal(in)
	if reason != "" {
		return fail(reason)
	}
	if rest == "" {
		return fail("empty domain")
	}
	if reason := checkDomain(rest); reason != "" {
		return fail(reason)
	}
	a := Address{Local: local, Domain: rest}
	if n := len(quoteLocal(local)); n > maxLocalLen {
		return fail("local part longer than 64 octets")
	}
	if len(rest) > maxDomainLen {
		return fail("domain longer than 255 octets")
	}
	if len(a.Path()) > maxPathLen {
		return fail("path longer than 256 octets")
	}
	return a, nil
}

// ParseList parses a comma-separated list of addresses, as a repeatable flag
// gives it. Commas inside quotes or angle brackets do not split. Empty items
// and the spaces around items are ignored. The first bad item gives an
// *AddressError naming that item; a null address "<>" in a list is an error,
// since no list of recipients can hold it.
func ParseList(s string) ([]Address, error) {
	var out []Address
	for _, item := range splitList(s) {
		item = strings.Trim(item, " \t")
		if item == "" {
			continue
		}
		a, err := ParseAddress(item)
		if err != nil {
			return nil, err
		}
		if a.IsNull() {
			return nil, &AddressError{Input: item, Reason: "null address <> is not allowed in a list"}
		}
		out = append(out, a)
	}
	return out, nil
}

// splitList splits s at commas outside quoted strings and angle brackets.
func splitList(s string) []string {
	var items []string
	inQuote, escaped, depth, start := false, false, 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case inQuote && c == '\\':
			escaped = true
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '<':
			depth++
		case c == '>' && depth > 0:
			depth--
		case c == ',' && depth == 0:
			items = append(items, s[start:i])
			start = i + 1
		}
	}
	return append(items, s[start:])
}

// indexUnquoted returns the index of the first c in s outside a quoted string,
// or -1.
func indexUnquoted(s string, c byte) int {
	inQuote, escaped := false, false
	for i := 0; i < len(s); i++ {
		switch {
		case escaped:
			escaped = false
		case inQuote && s[i] == '\\':
			escaped = true
		case s[i] == '"':
			inQuote = !inQuote
		case !inQuote && s[i] == c:
			return i
		}
	}
	return -1
}

// parseLocal reads the local part of a mailbox (RFC 5321 4.1.2 Local-part,
// with the UTF-8 extensions of RFC 6531 3.3) and returns it decoded, the
// domain after the "@", and a reason when the syntax is wrong.
func parseLocal(s string) (local, domain, reason string) {
	if s[0] == '"' {
		var b strings.Builder
		i := 1
		for ; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '\\':
				// RFC 5321 4.1.2: quoted-pairSMTP = %d92 %d32-126
				if i+1 >= len(s) || s[i+1] < 32 || s[i+1] > 126 {
					return "", "", "bad backslash escape in quoted local part"
				}
				i++
				b.WriteByte(s[i])
			case c == '"':
				goto closed
			case c == 32 || c == 33 || c >= 35 && c <= 126 || c >= 0x80:
				// RFC 5321 4.1.2 qtextSMTP; RFC 6531 3.3 adds UTF8-non-ascii.
				b.WriteByte(c)
			default:
				return "", "", "invalid character in quoted local part"
			}
		}
		return "", "", "unterminated quoted local part"
	closed:
		rest := s[i+1:]
		if rest == "" {
			return "", "", "missing @"
		}
		if rest[0] != '@' {
			return "", "", "unexpected text after quoted local part"
		}
		return b.String(), rest[1:], ""
	}

	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		if strings.ContainsAny(s, " \t") {
			return "", "", "space outside quotes"
		}
		return "", "", "missing @"
	}
	local = s[:at]
	if local == "" {
		return "", "", "empty local part"
	}
	if reason := checkDotAtom(local); reason != "" {
		return "", "", reason
	}
	return local, s[at+1:], ""
}

// checkDotAtom checks an unquoted local part (RFC 5321 4.1.2 Dot-string).
func checkDotAtom(s string) string {
	if s[0] == '.' || s[len(s)-1] == '.' {
		return "local part starts or ends with a dot"
	}
	if strings.Contains(s, "..") {
		return "consecutive dots in local part"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.' || isAtext(c):
		case c == ' ' || c == '\t':
			return "space outside quotes"
		case c == '@':
			return "more than one @ (quote the local part)"
		default:
			return "invalid character " + quoteByte(c) + " in local part"
		}
	}
	return ""
}

// checkDomain checks the domain of a mailbox: an address literal or a
// sequence of labels (RFC 5321 4.1.2 Domain, RFC 6531 3.3 for U-labels).
func checkDomain(d string) string {
	if d[0] == '[' {
		return checkLiteral(d)
	}
	if strings.ContainsAny(d, " \t") {
		return "space in domain"
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" {
			return "empty label in domain"
		}
		if len(label) > maxLabelLen {
			return "domain label longer than 63 octets"
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "domain label starts or ends with a hyphen"
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c >= 0x80) {
				return "invalid character " + quoteByte(c) + " in domain"
			}
		}
	}
	return ""
}

// checkLiteral checks an address literal (RFC 5321 4.1.3).
func checkLiteral(d string) string {
	if len(d) < 2 || d[len(d)-1] != ']' {
		return "unterminated address literal"
	}
	inner := d[1 : len(d)-1]
	if len(inner) >= 5 && strings.EqualFold(inner[:5], "IPv6:") {
		ip, err := netip.ParseAddr(inner[5:])
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return "invalid IPv6 address literal"
		}
		return ""
	}
	if strings.Contains(inner, ":") {
		// RFC 5321 4.1.3 General-address-literal: no tags other than IPv6
		// are registered, so nothing could deliver to one.
		return "unsupported address literal"
	}
	ip, err := netip.ParseAddr(inner)
	if err != nil || !ip.Is4() {
		return "invalid IPv4 address literal"
	}
	return ""
}

// quoteLocal returns the local part in its shortest wire form: as is when it
// is a dot-atom, as a quoted-string otherwise (RFC 5321 4.1.2: "the quoted
// form SHOULD NOT be used" when not needed).
func quoteLocal(s string) string {
	if s != "" && checkDotAtom(s) == "" {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// isAtext reports whether c is atext (RFC 5322 3.2.3) or, per RFC 6531 3.3,
// part of a UTF-8 sequence.
func isAtext(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c >= 0x80:
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// controlName names a control octet that may never appear in an address, or
// returns "".
func controlName(c byte) string {
	switch {
	case c == 0:
		return "NUL"
	case c == '\r':
		return "CR"
	case c == '\n':
		return "LF"
	case c == '\t':
		return "" // only legal as leading/trailing space; the syntax checks catch it elsewhere
	case c < 0x20 || c == 0x7f:
		return "control character " + quoteByte(c)
	}
	return ""
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return "'" + string(rune(c)) + "'"
	}
	const hex = "0123456789abcdef"
	return "0x" + string([]byte{hex[c>>4], hex[c&15]})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
