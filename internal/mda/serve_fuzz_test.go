package mda

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/maildir"
	"github.com/smtpkit/smtpkit/internal/smtp"
	"github.com/smtpkit/smtpkit/internal/smtptest"
)

var (
	queuedRe   = regexp.MustCompile(`(?m)^250 2\.0\.0 Ok: queued as (\S+)\r$`)
	receivedRe = regexp.MustCompile(`with [A-Z]+ id ([0-9A-Za-z]+)`)
)

// FuzzServe runs `smtpkit serve`'s backend (policy, trace fields, maildir)
// behind the real SMTP server for arbitrary client bytes. Every message
// file is in the maildir its Delivered-To recipient routes to (nothing is
// misdelivered or relayed), holds the trace fields and then the message,
// CRLF only; nothing is written outside the maildirs nor left in tmp/;
// the transactions on disk are exactly those answered 250 (a reply only
// once on disk, and nothing on disk without its reply); and the session
// ends once its input has, within smtptest.PipeSession's output bound.
func FuzzServe(f *testing.F) {
	open := "EHLO c\r\nMAIL FROM:<a@example.net>\r\n"
	for _, s := range []string{
		open + "RCPT TO:<alice@example.com>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n",
		open + "RCPT TO:<alice+tag@EXAMPLE.com>\r\nRCPT TO:<zed@example.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nx\r\n.\r\n",
		open + "RCPT TO:<bob%evil.example@example.com>\r\nRCPT TO:<a@evil.example>\r\nRCPT TO:<\"x@y\"@example.com>\r\nDATA\r\n.\r\n",
		open + "RCPT TO:<alice@example.com>\r\nDATA\r\nhello\n.\nMAIL FROM:<evil@x>\r\nRCPT TO:<zed@example.org>\r\nDATA\r\nsmuggled\r\n.\r\n\r\n.\r\n",
		open + "RCPT TO:<alice@example.com>\r\nBDAT 5\r\nhelloBDAT 2 LAST\r\n\r\n",
		"LHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.com>\r\nRCPT TO:<z@example.org>\r\nDATA\r\nx\r\n.\r\n",
	} {
		f.Add([]byte(s), false)
	}
	f.Add([]byte("LHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.com>\r\nRCPT TO:<z@example.org>\r\nDATA\r\nx\r\n.\r\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, lmtp bool) {
		root := t.TempDir()
		p := &Policy{
			Domains:   []string{"example.com", "example.org"},
			Mailboxes: map[string]string{"alice@example.com": filepath.Join(root, "alice"), "@example.org": filepath.Join(root, "org")},
			Default:   filepath.Join(root, "default"), CatchAll: false, Separator: "+",
		}
		be := New(Options{Hostname: "mx.test", Policy: p, Store: maildir.NewStore(maildir.Options{}),
			Now: func() time.Time { return time.Unix(1700000000, 0) }})
		srv := smtp.NewServer(smtp.ServerOptions{Hostname: "mx.test", Backend: be,
			Limits: smtp.Limits{MessageSize: 8192, Recipients: 5, Errors: 30, CommandTimeout: 20 * time.Second, DataTimeout: 20 * time.Second}})
		// A TCP peer address, so that Received names a client IP.
		sess := &smtptest.PipeSession{Remote: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 40000}}
		replies := sess.Run(t, func(ln net.Listener) error { return srv.Serve(ln, smtp.ListenerOptions{LMTP: lmtp}) }, srv.Close, data)

		acked := map[string]bool{}
		for _, m := range queuedRe.FindAllSubmatch(replies, -1) {
			acked[string(m[1])] = true
		}
		onDisk := map[string]bool{}
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			parts := strings.Split(rel, string(filepath.Separator))
			if len(parts) != 3 || parts[1] != "new" {
				t.Fatalf("file %s outside a maildir's new/", rel)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if !bytes.HasPrefix(b, []byte("Return-Path: <")) || bytes.Contains(bytes.ReplaceAll(b, []byte("\r\n"), nil), []byte("\n")) ||
				bytes.Contains(bytes.ReplaceAll(b, []byte("\r\n"), nil), []byte("\r")) {
				t.Fatalf("%s: %q", rel, b)
			}
			_, rest, _ := bytes.Cut(b, []byte("\r\nDelivered-To: "))
			to, _, _ := bytes.Cut(rest, []byte("\r\n"))
			if dir, ref := p.Route(string(to)); ref != nil || dir != filepath.Join(root, parts[0]) {
				t.Fatalf("%s: Delivered-To %q routes to %q, %v", rel, to, dir, ref)
			}
			m := receivedRe.FindSubmatch(b)
			if m == nil {
				t.Fatalf("%s: no Received id: %q", rel, b)
			}
			onDisk[string(m[1])] = true
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if lmtp {
			return // LMTP answers per recipient: checked above file by file
		}
		for id := range onDisk {
			if !acked[id] {
				t.Fatalf("transaction %s on disk but never answered 250; replies:\n%s", id, replies)
			}
		}
		for id := range acked {
			if !onDisk[id] {
				t.Fatalf("transaction %s answered 250 but not on disk", id)
			}
		}
	})
}
