package mda

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/smtp"
)

// swapCase swaps the case of ASCII letters only.
func swapCase(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - ('a' - 'A')
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return r
	}, s)
}

// checkRoute checks one Route answer: a maildir the policy knows, or a
// refusal from the documented set whose text is one printable line.
func checkRoute(t *testing.T, p *Policy, addr, dir string, ref *Refusal) {
	t.Helper()
	if ref != nil {
		switch {
		case ref.Code == 501 && ref.Enhanced == "5.1.3", ref.Code == 550 && ref.Enhanced == "5.7.1",
			ref.Code == 550 && ref.Enhanced == "5.1.1":
		default:
			t.Fatalf("Route(%q): refusal %v", addr, ref)
		}
		if strings.IndexFunc(ref.Text, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
			t.Fatalf("Route(%q): refusal text %q is not one printable line", addr, ref.Text)
		}
		return
	}
	for _, d := range p.Dirs() {
		if d == dir {
			return
		}
	}
	t.Fatalf("Route(%q) = %q, not one of the policy's maildirs %q", addr, dir, p.Dirs())
}

// FuzzRoute maps arbitrary recipients through a policy holding one
// --mailbox given by the fuzzer. Route answers a maildir of the policy or
// a documented refusal; the answer ignores ASCII case; a routed local part
// is never delivered; and the address written in --mailbox reaches its
// maildir, spelt as it was written.
func FuzzRoute(f *testing.F) {
	for _, s := range [][2]string{
		{"alice@example.com", "alice@example.com=/m/a"}, {"ALICE+x@EXAMPLE.COM", "Alice@Example.com=/m/a"},
		{"bob%evil@example.com", "@example.com=/m/all"}, {"\"a@b\"@example.com", "x@example.com=/m/x"},
		{"kim@example.com", "\u212aim@example.com=/m/kelvin"}, {"ÄNN@example.com", "ÄNN@example.com=/m/ann"},
		{"a@example.com.", "a@example.com.=/m/dot"}, {"a@exa\r\nmple.com", "a@b=c"}, {"@example.com", "@x=y"},
	} {
		f.Add(s[0], s[1], false)
		f.Add(s[0], s[1], true)
	}
	f.Fuzz(func(t *testing.T, addr, mailbox string, catchAll bool) {
		p := &Policy{
			Domains:   []string{"example.com", "Example.ORG"},
			Mailboxes: map[string]string{"postmaster@example.com": "/m/postmaster"},
			Default:   "/m/default", CatchAll: catchAll, Separator: "+",
		}
		typed, mdir, merr := ParseMailbox(mailbox)
		if merr == nil {
			p.Mailboxes[typed] = mdir
			typed, _, _ = strings.Cut(mailbox, "=")
			typed = strings.TrimSpace(typed)
		}
		dir, ref := p.Route(addr)
		checkRoute(t, p, addr, dir, ref)
		dir2, ref2 := p.Route(swapCase(addr))
		if dir2 != dir || (ref2 == nil) != (ref == nil) || ref != nil && ref.Code != ref2.Code {
			t.Fatalf("Route(%q) = %q, %v; Route(%q) = %q, %v", addr, dir, ref, swapCase(addr), dir2, ref2)
		}
		if local, _, ok := strings.Cut(addr, "@"); ok && ref == nil && strings.ContainsAny(local, "%!") {
			t.Fatalf("routed local part delivered: Route(%q) = %q", addr, dir)
		}
		// The mailbox as written reaches its maildir.
		if merr != nil || strings.HasPrefix(typed, "@") {
			return
		}
		open := &Policy{Mailboxes: map[string]string{}, Default: "/m/default"}
		for k, v := range p.Mailboxes {
			open.Mailboxes[k] = v
		}
		got, ref := open.Route(typed)
		if ref != nil && ref.Code == 501 || ref != nil && ref.Enhanced == "5.7.1" {
			return // not an address a client could give
		}
		if got != mdir {
			t.Fatalf("--mailbox %q: Route(%q) = %q, %v; want %q", mailbox, typed, got, ref, mdir)
		}
	})
}

// FuzzLoadUsers reads arbitrary users files: an error names the line, or
// every entry maps an address (or @domain) to a clean absolute maildir,
// and each address routes there as it is written in the file.
func FuzzLoadUsers(f *testing.F) {
	for _, s := range []string{
		"alice@example.com alice\n# comment\n\n@example.org /var/mail/org\n", "bob@x ../up\n", "a@b c d\n",
		"Alice@Example.com  A\r\n", "noat dir\n", "\u212aim@example.com k\n", "ß@example.com s\n", "a@b\x00 c\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, content string) {
		dir := t.TempDir()
		path := filepath.Join(dir, "users")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		users, err := LoadUsers(path)
		if err != nil {
			if !strings.HasPrefix(err.Error(), path+":") {
				t.Fatalf("error %q does not name the file and line", err)
			}
			return
		}
		for addr, d := range users {
			if !strings.Contains(addr, "@") || !filepath.IsAbs(d) || filepath.Clean(d) != d {
				t.Fatalf("users[%q] = %q", addr, d)
			}
		}
		p := &Policy{Mailboxes: users, Default: "/m/default"}
		for _, line := range strings.Split(content, "\n") {
			fields := strings.Fields(line)
			if len(fields) != 2 || strings.HasPrefix(fields[0], "#") || strings.HasPrefix(fields[0], "@") {
				continue
			}
			want := fields[1]
			if !filepath.IsAbs(want) {
				want = filepath.Join(dir, want)
			}
			got, ref := p.Route(fields[0])
			if ref != nil && (ref.Code == 501 || ref.Enhanced == "5.7.1") {
				continue
			}
			if got != filepath.Clean(want) && users[fields[0]] == "" {
				// A later line for the same address wins; only a
				// lookup that misses its own line is wrong.
				t.Fatalf("users file line %q: Route(%q) = %q, %v", line, fields[0], got, ref)
			}
		}
	})
}

type nameAddr string

func (nameAddr) Network() string  { return "tcp" }
func (a nameAddr) String() string { return string(a) }

// FuzzTraceHeaders builds the Return-Path, Delivered-To and Received
// fields from arbitrary session data (addresses as the SMTP server passes
// them: no control characters; HELO, the AUTH name and the reverse DNS
// name as the client or its DNS chose them): they are header fields, CRLF
// only, and no value adds a field of its own.
func FuzzTraceHeaders(f *testing.F) {
	f.Add("client.example", "a@example.net", "b@example.com", "", "host.example.", true, uint8(1))
	f.Add("x\r\nBcc: y", "", "b@example.com", "u\r\nX: 1", "evil\r\nX-Bad: 1", false, uint8(0))
	f.Add("(nested (comment))", "a@b", "c@d", "(user)", "", true, uint8(2))
	f.Fuzz(func(t *testing.T, helo, from, to, authUser, ptr string, single bool, mode uint8) {
		for _, a := range []string{from, to} {
			if strings.IndexFunc(a, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
				return // smtp.ParsePath never passes these on
			}
		}
		st := &smtp.ConnState{ID: "C1", TxID: "T1", Helo: helo, AuthUser: authUser, ESMTP: mode&1 != 0, LMTP: mode&2 != 0,
			Remote: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 2525}}
		if mode&4 != 0 {
			st.Remote = nameAddr("@unix")
		}
		b := New(Options{Hostname: "mx.test", Policy: &Policy{}, Sink: true, Now: func() time.Time { return time.Unix(0, 0) },
			ReverseDNS: func(context.Context, string) (string, error) {
				if ptr == "" {
					return "", errors.New("no PTR")
				}
				return ptr, nil
			}})
		sess, _ := b.NewSession(st)
		out := string(sess.(*session).traceHeaders(to, single))
		if !strings.HasSuffix(out, "\r\n") {
			t.Fatalf("trace fields do not end in CRLF: %q", out)
		}
		var names []string
		for _, line := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n") {
			if strings.ContainsAny(line, "\r\n\x00") {
				t.Fatalf("bare CR, LF or NUL in %q", line)
			}
			if strings.HasPrefix(line, "\t") {
				continue
			}
			name, _, ok := strings.Cut(line, ": ")
			if !ok {
				t.Fatalf("trace line %q is neither a field nor a continuation", line)
			}
			names = append(names, name)
		}
		if strings.Join(names, ",") != "Return-Path,Delivered-To,Received" {
			t.Fatalf("trace fields %q:\n%s", names, out)
		}
	})
}
