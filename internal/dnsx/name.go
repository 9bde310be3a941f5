package dnsx

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Limits on names in presentation form without the trailing dot
// (RFC 1035 2.3.4: 63 octets a label, 255 on the wire, which is 253
// characters written out).
const (
	MaxLabel = 63
	MaxName  = 253
)

// idnaProfile converts U-labels to A-labels for lookup (RFC 5891 5,
// UTS #46 non-transitional). StrictDomainName is off so that underscore
// labels (_dmarc, _mta-sts) pass; Normalize checks the characters itself.
var idnaProfile = idna.New(
	idna.MapForLookup(),
	idna.Transitional(false),
	idna.BidiRule(),
	idna.StrictDomainName(false),
)

// Normalize checks a domain name and returns it in the form smtpkit asks
// for: A-labels (IDN U-labels converted with UTS #46, RFC 5891), lower
// case, no trailing dot. It returns a *Error of KindInvalidName, with a
// one-line reason, for an empty name, an empty label ("a..b", ".a"),
// spaces or other characters outside letters, digits, hyphen and
// underscore, a label of more than 63 octets, a name of more than 253, a
// label that starts or ends with a hyphen (RFC 5321 4.1.2 Ldh-str), or an
// IP address.
func Normalize(name string) (string, error) {
	in := name
	bad := func(format string, a ...any) (string, error) {
		return "", &Error{Name: printable(in), Kind: KindInvalidName, Detail: fmt.Sprintf(format, a...)}
	}
	if name == "" {
		return bad("empty name")
	}
	if strings.HasSuffix(name, ".") && name != "." {
		name = name[:len(name)-1]
	}
	if name == "." || name == "" {
		return bad("the root is not a mail domain")
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return bad("an IP address, not a domain name")
	}
	if i := strings.IndexFunc(name, func(r rune) bool { return r == ' ' || r == '\t' }); i >= 0 {
		return bad("contains a space")
	}
	ascii := true
	for i := 0; i < len(name); i++ {
		if name[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii || strings.Contains(strings.ToLower(name), "xn--") {
		if !utf8.ValidString(name) {
			return bad("not valid UTF-8")
		}
		if strings.Contains(name, "..") || strings.HasPrefix(name, ".") {
			return bad("empty label")
		}
		a, err := idnaProfile.ToASCII(name)
		if err != nil {
			return bad("not a valid internationalised name (%s)", strings.TrimPrefix(err.Error(), "idna: "))
		}
		name = a
	}
	name = strings.ToLower(name)
	if len(name) > MaxName {
		return bad("%d characters, more than %d", len(name), MaxName)
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" {
			return bad("empty label")
		}
		if len(label) > MaxLabel {
			return bad("label %q has %d characters, more than %d", trimLabel(label), len(label), MaxLabel)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return bad("character %q not allowed in a domain name", rune(c))
			}
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return bad("label %q starts or ends with a hyphen", label)
		}
	}
	return name, nil
}

// trimLabel shortens a long label for an error message.
func trimLabel(s string) string {
	if len(s) > 20 {
		return s[:17] + "..."
	}
	return s
}

// printable quotes what the user typed when it holds anything odd, so an
// error message stays one line.
func printable(s string) string {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return fmt.Sprintf("%q", s)
		}
	}
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

// ToUnicode returns name with A-labels shown as U-labels, for display;
// name itself when it has none or they do not decode.
func ToUnicode(name string) string {
	if !strings.Contains(name, "xn--") {
		return name
	}
	u, err := idna.Display.ToUnicode(name)
	if err != nil {
		return name
	}
	return u
}

// ReverseName is the PTR question name for ip: in-addr.arpa for IPv4
// (RFC 1035 3.5), ip6.arpa nibbles for IPv6 (RFC 3596 2.5).
func ReverseName(ip netip.Addr) string {
	ip = ip.Unmap()
	var b strings.Builder
	if ip.Is4() {
		a := ip.As4()
		fmt.Fprintf(&b, "%d.%d.%d.%d.in-addr.arpa", a[3], a[2], a[1], a[0])
		return b.String()
	}
	const hex = "0123456789abcdef"
	a := ip.As16()
	for i := len(a) - 1; i >= 0; i-- {
		b.WriteByte(hex[a[i]&0xf])
		b.WriteByte('.')
		b.WriteByte(hex[a[i]>>4])
		b.WriteByte('.')
	}
	b.WriteString("ip6.arpa")
	return b.String()
}
