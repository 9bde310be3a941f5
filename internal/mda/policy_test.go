package mda

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPolicyRoute(t *testing.T) {
	p := &Policy{
		Domains:   []string{"example.com", "Example.ORG", "mask.test"},
		Mailboxes: map[string]string{"alice@example.com": "/m/alice", "kim@example.com": "/m/kim", "@example.org": "/m/org", "@mask.test": "/m/mask"},
		Default:   "/m/default",
		Separator: "+",
	}
	cases := []struct {
		addr string
		dir  string
		code int
		enh  string
	}{
		{"alice@example.com", "/m/alice", 0, ""},
		{"ALICE@EXAMPLE.COM", "/m/alice", 0, ""},
		{"alice+news@example.com", "/m/alice", 0, ""},
		{"alice@example.com.", "/m/alice", 0, ""},
		{"anyone@example.org", "/m/org", 0, ""},
		{"bob@example.com", "", 550, "5.1.1"},
		// Never a relay (RFC 5321 3.6.2): foreign domains and every
		// routing trick people try on open-relay tests.
		{"bob@example.net", "", 550, "5.7.1"},
		{"bob@example.net.", "", 550, "5.7.1"},
		{"bob@EXAMPLE.NET", "", 550, "5.7.1"},
		{"bob@[192.0.2.1]", "", 550, "5.7.1"},
		{"bob@[IPv6:2001:db8::1]", "", 550, "5.7.1"},
		{"alice@sub.example.com", "", 550, "5.7.1"},
		{"alice@example.com..", "", 550, "5.7.1"},
		{"alice@example.com%example.net", "", 550, "5.7.1"},
		{"bob%example.net@example.com", "", 550, "5.7.1"},
		{"alice%example.com@example.com", "", 550, "5.7.1"},
		{"example.net!bob@example.com", "", 550, "5.7.1"},
		{`"bob@example.net"@example.com`, "", 550, "5.7.1"},
		{`"bob%example.net"@example.com`, "", 550, "5.7.1"},
		{`bob\@example.net@example.com`, "", 550, "5.7.1"},
		{"bob@example.net@example.com", "", 550, "5.7.1"},
		// Unicode look-alikes of a served name are other names: the
		// Kelvin sign and the long s fold to "k" and "s" in Unicode but
		// not here; Cyrillic "а" and fullwidth letters never did.
		{"x@mask.test", "/m/mask", 0, ""},
		{"x@MASK.Test", "/m/mask", 0, ""},
		{"x@ma\u017fk.test", "", 550, "5.7.1"},
		{"x@mas\u212a.test", "", 550, "5.7.1"},
		{"KIM@example.com", "/m/kim", 0, ""},
		{"\u212aim@example.com", "", 550, "5.1.1"},
		{"alice@exam\u0440le.com", "", 550, "5.7.1"},
		{"alice@\uff45xample.com", "", 550, "5.7.1"},
		{"alice@example.com\u200b", "", 550, "5.7.1"},
		{"alice\uff20example.net@example.com", "", 550, "5.1.1"},
		{"bob@exa/mple.com", "", 501, "5.1.3"},
		{"bob@exa\\mple.com", "", 501, "5.1.3"},
		{"bob@", "", 501, "5.1.3"},
		{"@example.com", "", 501, "5.1.3"},
		{"a\x00b@example.com", "", 501, "5.1.3"},
	}
	for _, tc := range cases {
		dir, ref := p.Route(tc.addr)
		switch {
		case tc.code == 0 && (ref != nil || dir != tc.dir):
			t.Errorf("%q: got %q %v, want %q", tc.addr, dir, ref, tc.dir)
		case tc.code != 0 && (ref == nil || ref.Code != tc.code || ref.Enhanced != tc.enh || dir != ""):
			t.Errorf("%q: got %q %v, want %d %s", tc.addr, dir, ref, tc.code, tc.enh)
		}
	}

	p.CatchAll = true
	if dir, ref := p.Route("bob@example.com"); ref != nil || dir != "/m/default" {
		t.Errorf("catch-all: %q %v", dir, ref)
	}
	open := &Policy{Default: "/m/all"}
	if dir, ref := open.Route("anyone@anywhere.example"); ref != nil || dir != "/m/all" {
		t.Errorf("without --domain every recipient goes to the default: %q %v", dir, ref)
	}
	// Even then a routed local part is not taken: a relay behind the
	// maildir's reader could honour it.
	for _, a := range []string{"bob%example.net@anywhere.example", "example.net!bob@anywhere.example", `"bob@example.net"@anywhere.example`} {
		if dir, ref := open.Route(a); ref == nil || ref.Code != 550 || ref.Enhanced != "5.7.1" || dir != "" {
			t.Errorf("without --domain, %q: %q %v, want 550 5.7.1", a, dir, ref)
		}
	}
}

func TestLoadUsersAndMailbox(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users")
	if err := os.WriteFile(path, []byte("# users\nAlice@Example.com alice\n@example.org /srv/org\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := LoadUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	if m["alice@example.com"] != filepath.Join(dir, "alice") || m["@example.org"] != "/srv/org" || len(m) != 2 {
		t.Errorf("users %v", m)
	}
	if err := os.WriteFile(path, []byte("alice@example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadUsers(path); err == nil || err.Error() != path+":1: want ADDRESS DIR" {
		t.Errorf("bad line: %v", err)
	}
	for _, bad := range []string{"alice", "alice@example.com=", "=/m", "nodomain=/m"} {
		if _, _, err := ParseMailbox(bad); err == nil {
			t.Errorf("ParseMailbox(%q) accepted", bad)
		}
	}
	if a, d, err := ParseMailbox("Bob@Example.com=/m/bob/"); err != nil || a != "bob@example.com" || d != "/m/bob" {
		t.Errorf("ParseMailbox: %q %q %v", a, d, err)
	}
}

// TestASCIILowerKeepsBytes: only A to Z fold; other bytes, invalid UTF-8
// included, stay as they are, so two different addresses never become one
// mailbox key (FuzzLoadUsers: "\x80@0" and "\xb0@0" were both U+FFFD@0).
func TestASCIILowerKeepsBytes(t *testing.T) {
	for in, want := range map[string]string{
		"Alice@Example.COM": "alice@example.com",
		"\x80@0":            "\x80@0",
		"\xb0@0":            "\xb0@0",
		"X\xffY":            "x\xffy",
		"\u212aim@x":        "\u212aim@x",
		"ÄÖ@x":              "ÄÖ@x",
		"":                  "",
	} {
		if got := asciiLower(in); got != want {
			t.Errorf("asciiLower(%q) = %q, want %q", in, got, want)
		}
	}
	p := &Policy{Mailboxes: map[string]string{mailboxKey("\x80@0"): "/m/a", mailboxKey("\xb0@0"): "/m/b"}, Default: "/m/default"}
	if got, _ := p.Route("\x80@0"); got != "/m/a" {
		t.Errorf("Route(\\x80@0) = %q, want /m/a", got)
	}
}
