// Package mda is the backend of `smtpkit serve`: it decides which
// recipients are accepted and where each one's mail goes, adds the trace
// headers, and hands the message to maildir (or discards it in sink mode).
package mda

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Policy maps recipients to maildirs. serve never relays: a recipient is
// either delivered here or refused.
type Policy struct {
	// Domains accepted; empty accepts every domain (a test server).
	Domains []string
	// Mailboxes maps a lower-cased address (or "@domain" for a domain
	// catch-all) to a maildir.
	Mailboxes map[string]string
	// Default is the maildir for recipients without a mailbox: every
	// recipient when Domains is empty, or the catch-all with CatchAll.
	Default  string
	CatchAll bool
	// Separator for "+detail" stripping (RFC 5233 subaddressing); "" off.
	Separator string
}

// Refusal says why a recipient is refused, with the reply to give.
type Refusal struct {
	Code     int
	Enhanced string
	Text     string
}

func (r *Refusal) Error() string { return fmt.Sprintf("%d %s %s", r.Code, r.Enhanced, r.Text) }

// Route returns the maildir for addr, or a refusal. A recipient whose
// local part routes elsewhere (the "%" hack, a bang path, an "@" inside
// quotes) is refused as relaying (550 5.7.1) whatever the domain, since a
// server behind this one might honour it. Domains and local parts are
// compared with ASCII case folding only: a Unicode look-alike (the Kelvin
// sign for "k") is another name, not a spelling of a served one.
func (p *Policy) Route(addr string) (string, *Refusal) {
	local, domain, ok := splitAddr(addr)
	if !ok {
		return "", &Refusal{501, "5.1.3", "Bad recipient address syntax"}
	}
	if routed(local) {
		// RFC 5321 3.6.2 and 2.3.4: serve is not a relay, in any spelling.
		return "", &Refusal{550, "5.7.1", "Relay access denied: routing in the local part (%, ! or @) is not accepted"}
	}
	domain = asciiLower(strings.TrimSuffix(domain, "."))
	if len(p.Domains) > 0 && !p.hasDomain(domain) {
		// RFC 5321 3.6.2: serve is not a relay.
		return "", &Refusal{550, "5.7.1", "Relay access denied: this server does not accept mail for " + domain}
	}
	for _, l := range p.candidates(local) {
		if dir, ok := p.Mailboxes[asciiLower(l)+"@"+domain]; ok {
			return dir, nil
		}
	}
	if dir, ok := p.Mailboxes["@"+domain]; ok {
		return dir, nil
	}
	if len(p.Domains) == 0 || p.CatchAll {
		if p.Default != "" {
			return p.Default, nil
		}
	}
	return "", &Refusal{550, "5.1.1", "Recipient address rejected: user unknown"}
}

func (p *Policy) hasDomain(d string) bool {
	for _, x := range p.Domains {
		if asciiLower(x) == d {
			return true
		}
	}
	return false
}

// asciiLower lower-cases A to Z only, byte by byte. strings.ToLower and
// EqualFold also fold some non-ASCII letters onto ASCII ones (U+212A KELVIN
// SIGN to "k", U+017F LONG S to "s"), which would let a look-alike name
// match a served domain or mailbox; and strings.Map turns every invalid
// UTF-8 byte into U+FFFD, so "\x80@d" and "\xb0@d" became one mailbox (found
// by FuzzLoadUsers). Every other byte is kept as it is.
func asciiLower(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return r >= 'A' && r <= 'Z' })
	if i < 0 {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if c := b[i]; c >= 'A' && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// candidates returns the local part and, with subaddressing, the part
// before the separator.
func (p *Policy) candidates(local string) []string {
	out := []string{local}
	if p.Separator != "" {
		if i := strings.Index(local, p.Separator); i > 0 {
			out = append(out, local[:i])
		}
	}
	return out
}

// splitAddr splits at the last "@" (a domain never holds one); the checks
// that matter for safety are elsewhere: addresses never become paths.
func splitAddr(addr string) (local, domain string, ok bool) {
	i := strings.LastIndexByte(addr, '@')
	if i <= 0 || i == len(addr)-1 {
		return "", "", false
	}
	local, domain = addr[:i], addr[i+1:]
	// No control character in the domain: it is quoted in the refusal's
	// reply text (found by FuzzRoute).
	if strings.ContainsAny(domain, "/\\ ") || strings.IndexFunc(domain, isControl) >= 0 || strings.ContainsAny(local, "\x00\r\n") {
		return "", "", false
	}
	return local, domain, true
}

// routed reports a local part that names another destination: the "%"
// hack (user%other@here), a bang path (other!user@here), or an "@",
// quoted or escaped ("user@other"@here). RFC 5321 2.3.11 leaves the
// local part to the destination, and some still read these as routes.
func routed(local string) bool {
	return strings.ContainsAny(local, "%!@")
}

// ParseMailbox parses "--mailbox ADDR=DIR".
func ParseMailbox(v string) (addr, dir string, err error) {
	addr, dir, ok := strings.Cut(v, "=")
	addr, dir = strings.TrimSpace(addr), strings.TrimSpace(dir)
	if !ok || addr == "" || dir == "" || !strings.Contains(addr, "@") {
		return "", "", fmt.Errorf("mailbox %q: want ADDRESS=DIR (or @domain=DIR)", v)
	}
	return mailboxKey(addr), filepath.Clean(dir), nil
}

// mailboxKey is how a configured address (or "@domain") is looked up by
// Route: ASCII case folded, without a final dot on the domain. With
// strings.ToLower a mailbox written with a non-ASCII capital never
// matched, and one written with a Kelvin sign caught "kim" (found by
// FuzzRoute).
func mailboxKey(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		addr = addr[:i+1] + strings.TrimSuffix(addr[i+1:], ".")
	}
	return asciiLower(addr)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// LoadUsers reads a users file: one "ADDRESS DIR" per line ("@domain DIR"
// for a domain catch-all), "#" comments. Relative directories are relative
// to the file's folder.
func LoadUsers(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 || !strings.Contains(fields[0], "@") {
			return nil, fmt.Errorf("%s:%d: want ADDRESS DIR", path, n)
		}
		dir := fields[1]
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(filepath.Dir(path), dir)
		}
		key := mailboxKey(fields[0])
		if strings.HasSuffix(key, "@") {
			// "a@" and "a@." name no domain (FuzzLoadUsers).
			return nil, fmt.Errorf("%s:%d: %q has no domain", path, n, fields[0])
		}
		out[key] = filepath.Clean(dir)
	}
	return out, sc.Err()
}

// dirs lists every maildir the policy can deliver to.
func (p *Policy) Dirs() []string {
	seen := map[string]bool{}
	var out []string
	add := func(d string) {
		if d != "" && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	if len(p.Domains) == 0 || p.CatchAll {
		add(p.Default)
	}
	for _, d := range p.Mailboxes {
		add(d)
	}
	return out
}
