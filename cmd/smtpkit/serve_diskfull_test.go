package main

import (
	"bytes"
	"errors"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/smtpkit/smtpkit/internal/smtptest"
)

// TestServeDiskFull runs serve with its maildir on a 512 KiB tmpfs: a
// 2 MiB message gets 452 4.3.1 (send exits 75) and leaves nothing in new/
// or tmp/; a small message afterwards gets its 250. Root only (mount; a
// failure instead of a skip with SMTPKIT_REQUIRE_PEERS=1); faults_test.go
// has the other disk faults.
func TestServeDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: builds smtpkit")
	}
	// Before serve starts: the unmount then runs after serve's stop.
	mnt := smtptest.Tmpfs(t, "512k")
	bin := buildSmtpkit(t)
	dir := t.TempDir()
	md := filepath.Join(mnt, "maildir")
	srv := startServeBinary(t, bin, dir, "serve", "--maildir", md, "--hostname", "full.test")

	big, err := genMessage(2 << 20)
	if err != nil {
		t.Fatal(err)
	}
	bigFile := filepath.Join(dir, "big.eml")
	if err := os.WriteFile(bigFile, big, 0o644); err != nil {
		t.Fatal(err)
	}
	send := func(want int, extra ...string) (string, string) {
		t.Helper()
		args := append([]string{"send", "--server", srv.addr, "--tls", "none", "--from", "sender@example.net", "--to", "alice@example.com", "-v"}, extra...)
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "NO_COLOR=1")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != want {
			t.Fatalf("send %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", extra, code, want, stdout.String(), stderr.String())
		}
		return stdout.String(), stderr.String()
	}

	for _, chunking := range []string{"off", "on"} {
		_, stderr := send(75, "--data", "@"+bigFile, "--chunking", chunking)
		if !strings.Contains(stderr, "<-  452 4.3.1 ") {
			t.Errorf("chunking %s: no 452 4.3.1 in the transcript:\n%s", chunking, stderr)
		}
		for _, sub := range []string{"new", "tmp"} {
			if names, err := maildirFiles(filepath.Join(md, sub)); err != nil || len(names) != 0 {
				t.Errorf("chunking %s: %s/ holds %v (%v) after a full disk", chunking, sub, names, err)
			}
		}
	}

	// The space is back: a small message goes through.
	send(0, "--subject", "after the full disk")
	var subject string
	n, err := checkMaildir(md, func(_ string, m *mail.Message, _ []byte) error {
		subject = m.Header.Get("Subject")
		return nil
	})
	if err != nil || n != 1 || subject != "after the full disk" {
		t.Fatalf("after the full disk: %d messages (%v), subject %q", n, err, subject)
	}
	srv.stop(t)
	gone(t, srv.p)
	logb, _ := os.ReadFile(srv.log)
	if !bytes.Contains(logb, []byte("msg=stopped messages=1")) {
		t.Errorf("serve's log does not end with 1 message:\n%s", logb)
	}
	if c := bytes.Count(logb, []byte(`msg="message not delivered"`)); c != 2 {
		t.Errorf("%d \"message not delivered\" lines in the log, want 2:\n%s", c, logb)
	}
}

// TestCrashMessageCheck checks the crash test's verifier: a whole message
// passes, a cut or altered one does not.
func TestCrashMessageCheck(t *testing.T) {
	whole := append([]byte("Return-Path: <a@b>\r\nDelivered-To: c@d\r\nReceived: from x ([127.0.0.1])\r\n\tby y (smtpkit) with ESMTP id 1; now\r\n"),
		crashMessage("crash-w01-n000001", 40)...)
	check := func(b []byte) error {
		return checkMaildirFile("1.M1P1Q1.host,S="+strconv.Itoa(len(b)), b, func(_ string, m *mail.Message, body []byte) error {
			_, err := checkCrashMessage(m, body)
			return err
		})
	}
	if err := check(whole); err != nil {
		t.Fatalf("a whole message: %v", err)
	}
	for name, b := range map[string][]byte{
		"cut at a line end": whole[:bytes.LastIndex(whole[:len(whole)-200], []byte("\r\n"))+2],
		"cut mid-line":      whole[:len(whole)-300],
		"a byte changed":    bytes.Replace(whole, []byte("\r\n."), []byte("\r\n,"), 1),
		"bare LF":           bytes.Replace(whole, []byte("\r\n"), []byte("\n"), 1),
	} {
		if err := check(b); err == nil {
			t.Errorf("%s: passed", name)
		}
	}
	// The name's size must match.
	if err := checkMaildirFile("1.M1P1Q1.host,S=1", whole, nil); err == nil {
		t.Error("a wrong ,S= size passed")
	}
}
