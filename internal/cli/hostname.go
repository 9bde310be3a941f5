package cli

import (
	"net/netip"
	"strings"
)

// checkHostName checks a name this host gives itself where it ends up in
// headers and replies (serve --hostname; relay's --ehlo, which also names
// the host in Received fields and bounces): a domain of letters, digits,
// hyphens, underscores and dots, or an address literal ([192.0.2.1],
// [IPv6:2001:db8::1]). Anything else could add header fields or break the
// greeting, so it is a usage error naming the flag.
func checkHostName(flag, name string) error {
	if why := hostNameProblem(name); why != "" {
		return usageErrorf("--%s %q: %s", flag, name, why)
	}
	return nil
}

// hostNameProblem says what is wrong with name as a host name; "" when
// nothing is.
func hostNameProblem(name string) string {
	switch {
	case name == "":
		return "empty name"
	case len(name) > 255:
		return "longer than 255 octets"
	case name[0] == '[':
		inner, ok := strings.CutSuffix(name[1:], "]")
		if !ok {
			return "unterminated address literal"
		}
		v6, isV6 := strings.CutPrefix(inner, "IPv6:")
		ip, err := netip.ParseAddr(v6)
		if err != nil || ip.Zone() != "" || ip.Is4() == isV6 {
			return "want an address literal like [192.0.2.1] or [IPv6:2001:db8::1]"
		}
		return ""
	}
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if label == "" {
			return "empty label"
		}
		if len(label) > 63 {
			return "label longer than 63 octets"
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "want a domain name or an address literal"
			}
		}
	}
	return ""
}

// heloName is the name send, probe and mx --check present in EHLO: --ehlo
// as checkHelo allows it, or this host's name.
func (g *globals) heloName(flag string) (string, error) {
	if flag == "" {
		return g.hostname(), nil
	}
	return flag, checkHelo(flag)
}

// checkHelo checks --ehlo of send, probe and mx: any name a tester wants
// to present, even one a server should refuse, but nothing that would end
// the command line early (CR, LF) or any other control character.
func checkHelo(name string) error {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c == 0x7f {
			return usageErrorf("--ehlo %q: control character in the name", name)
		}
	}
	return nil
}
