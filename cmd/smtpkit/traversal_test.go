package main

import (
	"bufio"
	"io/fs"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// smtpLine is a client that speaks raw SMTP lines, for addresses no
// well-behaved client would send.
type smtpLine struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialSMTP(t *testing.T, addr string) *smtpLine {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// A bound on a hung server, not a speed requirement.
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	s := &smtpLine{t: t, c: c, br: bufio.NewReader(c)}
	s.reply()
	return s
}

// reply reads one reply and returns its last line.
func (s *smtpLine) reply() string {
	s.t.Helper()
	for {
		l, err := s.br.ReadString('\n')
		if err != nil {
			s.t.Fatalf("reading a reply: %v", err)
		}
		if len(l) < 4 || l[3] != '-' {
			return strings.TrimRight(l, "\r\n")
		}
	}
}

// cmd sends line and returns the reply's last line.
func (s *smtpLine) cmd(line string) string {
	s.t.Helper()
	if _, err := s.c.Write([]byte(line + "\r\n")); err != nil {
		s.t.Fatal(err)
	}
	return s.reply()
}

// treeOf lists every path under root, relative, sorted.
func treeOf(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestServeNoPathTraversal sends serve recipients (and a HELO name and a
// sender) built to reach the filesystem: "../", "/", "." and ".." as local
// parts, a NUL, a local part of 400 octets, Unicode slashes, dots and
// direction marks, and domains with slashes or only dots. serve runs as a
// test server (every recipient into --maildir) and as a --catch-all
// domain. Addresses never become paths: each accepted copy is a file in
// new/ named the maildir way (time, pid, host, size), nothing appears
// anywhere else in the work directory or beside it, and each copy says
// whose it is in Delivered-To.
func TestServeNoPathTraversal(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: builds smtpkit")
	}
	bin := buildSmtpkit(t)
	long := strings.Repeat("a", 400)
	accepted := []string{
		"../../../../../../tmp/smtpkit-traversal@example.com",
		`"../../../../../../tmp/smtpkit-traversal"@example.com`,
		"/tmp/smtpkit-traversal@example.com",
		`"/tmp/smtpkit traversal"@example.com`,
		".@example.com",
		"..@example.com",
		`"."@example.com`,
		`".."@example.com`,
		"new@example.com",
		"tmp/../../cur@example.com",
		`"a\\b"@example.com`,
		long + "@example.com",
		"..\u2215..\u2215tmp\u2215smtpkit-traversal@example.com",
		"\uff0e\uff0e\uff0ftmp@example.com",
		"\u202eevil\u202c@example.com",
		"\u2024\u2024@example.com",
	}
	refused := map[string]string{
		"a\x00b@example.com":           "501 ",
		"alice@../../tmp":              "501 ",
		"alice@example.com/../../tmp":  "501 ",
		"alice@exa\\mple.com":          "501 ",
		"../x%example.net@example.com": "550 5.7.1 ",
	}
	for _, mode := range []struct {
		name string
		args []string
		md   string
	}{
		{"test-server", []string{"--maildir", "md"}, "md"},
		{"catch-all", []string{"--domain", "example.com", "--catch-all", "--maildir", "catch", "--mailbox", "alice@example.com=alice"}, "catch"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "work")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			beside := treeOf(t, parent)
			srv := startServeBinary(t, bin, dir, "serve", append([]string{"--hostname", "mx.test"}, mode.args...)...)
			c := dialSMTP(t, srv.addr)
			if r := c.cmd("EHLO ../../../../tmp/smtpkit-helo"); !strings.HasPrefix(r, "250") {
				t.Fatalf("EHLO: %s", r)
			}
			if r := c.cmd("MAIL FROM:<../../../../tmp/smtpkit-sender@example.net>"); !strings.HasPrefix(r, "250") {
				t.Fatalf("MAIL: %s", r)
			}
			for _, a := range accepted {
				if r := c.cmd("RCPT TO:<" + a + ">"); !strings.HasPrefix(r, "250 ") {
					t.Errorf("RCPT %q: %s, want 250", a, r)
				}
			}
			for a, want := range refused {
				if r := c.cmd("RCPT TO:<" + a + ">"); !strings.HasPrefix(r, want) {
					t.Errorf("RCPT %q: %s, want %s", a, r, want)
				}
			}
			if r := c.cmd("DATA"); !strings.HasPrefix(r, "354") {
				t.Fatalf("DATA: %s", r)
			}
			if r := c.cmd("Subject: traversal\r\n\r\nbody\r\n."); !strings.HasPrefix(r, "250 ") {
				t.Fatalf("end of data: %s", r)
			}
			c.cmd("QUIT")
			srv.stop(t)

			md := filepath.Join(dir, mode.md)
			name := regexp.MustCompile(`^\d+\.M\d+P\d+Q\d+\.mx\.test,S=\d+$`)
			got := map[string]bool{}
			n, err := checkMaildir(md, func(file string, m *mail.Message, _ []byte) error {
				if !name.MatchString(filepath.Base(file)) {
					t.Errorf("file name %q is not a maildir name", filepath.Base(file))
				}
				got[m.Header.Get("Delivered-To")] = true
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n != len(accepted) {
				t.Errorf("%d copies in %s, want %d", n, md, len(accepted))
			}
			for _, a := range accepted {
				if !got[a] {
					t.Errorf("no copy delivered to %q", a)
				}
			}
			// Nothing but the maildir, the log and the ready file.
			for _, p := range treeOf(t, dir) {
				ok := p == "." || p == "serve.log" || p == "serve.ready" || p == mode.md ||
					strings.HasPrefix(p, mode.md+string(filepath.Separator)) || p == "alice" || strings.HasPrefix(p, "alice"+string(filepath.Separator))
				if !ok {
					t.Errorf("serve created %s", filepath.Join(dir, p))
				}
				if strings.HasPrefix(p, mode.md+"/") {
					if sub := strings.Split(p, "/"); len(sub) > 3 || len(sub) == 2 && sub[1] != "new" && sub[1] != "cur" && sub[1] != "tmp" {
						t.Errorf("unexpected path in the maildir: %s", p)
					}
				}
			}
			if after := treeOf(t, parent); len(after) != len(beside)+len(treeOf(t, dir))-1 {
				t.Errorf("something appeared beside the work directory: before %v, after %v", beside, after)
			}
			for _, p := range []string{"/tmp/smtpkit-traversal", "/tmp/smtpkit-helo", "/tmp/smtpkit-sender", "/tmp/smtpkit traversal"} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s exists", p)
				}
			}
		})
	}
}
