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

// Route returns the maildir for addr, or a refusal.
func (p *Policy) Route(addr string) (string, *Refusal) {
	local, domain, ok := splitAddr(addr)
	if !ok {
		return "", &Refusal{501, "5.1.3", "Bad recipient address syntax"}
	}
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	if len(p.Domains) > 0 && !p.hasDomain(domain) {
		// RFC 5321 3.6.2: serve is not a relay.
		return "", &Refusal{550, "5.7.1", "Relay access denied: this server does not accept mail for " + domain}
	}
	for _, l := range p.candidates(local) {
		if dir, ok := p.Mailboxes[strings.ToLower(l)+"@"+domain]; ok {
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
		if strings.EqualFold(x, d) {
			return true
		}
	}
	return false
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

// splitAddr splits at the last "@" that is outside quotes; the checks that
// matter for safety are elsewhere: addresses never become paths.
func splitAddr(addr string) (local, domain string, ok bool) {
	i := strings.LastIndexByte(addr, '@')
	if i <= 0 || i == len(addr)-1 {
		return "", "", false
	}
	local, domain = addr[:i], addr[i+1:]
	if strings.ContainsAny(domain, "@/\\\x00 ") || strings.ContainsAny(local, "\x00\r\n") {
		return "", "", false
	}
	// Routing tricks never relay: "%" hack, bang paths, a second "@".
	if strings.ContainsAny(strings.Trim(local, `"`), "%!@") {
		return "", "", false
	}
	return local, domain, true
}

// ParseMailbox parses "--mailbox ADDR=DIR".
func ParseMailbox(v string) (addr, dir string, err error) {
	addr, dir, ok := strings.Cut(v, "=")
	addr, dir = strings.TrimSpace(addr), strings.TrimSpace(dir)
	if !ok || addr == "" || dir == "" || !strings.Contains(addr, "@") {
		return "", "", fmt.Errorf("mailbox %q: want ADDRESS=DIR (or @domain=DIR)", v)
	}
	return strings.ToLower(addr), filepath.Clean(dir), nil
}

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
		out[strings.ToLower(fields[0])] = filepath.Clean(dir)
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
