package main

import (
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/smtpkit/smtpkit/internal/smtptest"
)

// wantModes checks the permission bits of every file and directory under
// root (root included): directories dirMode, regular files fileMode. It
// returns how many files it saw.
func wantModes(t *testing.T, root string, dirMode, fileMode fs.FileMode) int {
	t.Helper()
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir() && fi.Mode().Perm() != dirMode:
			t.Errorf("directory %s: mode %v, want %v", path, fi.Mode().Perm(), dirMode)
		case fi.Mode().IsRegular():
			files++
			if fi.Mode().Perm() != fileMode {
				t.Errorf("file %s: mode %v, want %v", path, fi.Mode().Perm(), fileMode)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestFileModes runs the real binary under umask 0, so each file gets
// exactly the mode smtpkit asks for: serve's maildirs (and the parents it
// creates) are 0700 with messages 0600, copies for several recipients
// included; the relay's spool (parents, queue/, tmp/) is 0700 with
// entries and bounces 0600; send --batch's --state journal, its --lock
// file and --results are 0600.
func TestFileModes(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: builds smtpkit")
	}
	bin := buildSmtpkit(t)
	dir := t.TempDir()
	env := binEnv(dir)

	t.Run("serve", func(t *testing.T) {
		mail := filepath.Join(dir, "mail")
		// serve inherits the umask at its start.
		old := syscall.Umask(0)
		srv := startServeBinary(t, bin, dir, "serve-modes", "--hostname", "mx.test", "--domain", "example.com",
			"--mailbox", "alice@example.com="+filepath.Join(mail, "deep", "alice"), "--mailbox", "bob@example.com="+filepath.Join(mail, "bob"),
			"--catch-all", "--maildir", filepath.Join(mail, "catchall"))
		syscall.Umask(old)
		// One recipient, then three (a copy each: their headers differ).
		wantExit(t, runBinary(t, bin, dir, env, false, "send", "--server", srv.addr, "--tls", "none", "--from", "s@example.net", "--to", "alice@example.com"), 0)
		wantExit(t, runBinary(t, bin, dir, env, false, "send", "--server", srv.addr, "--tls", "none", "--from", "s@example.net",
			"--to", "alice@example.com", "--to", "bob@example.com", "--to", "carol@example.com"), 0)
		srv.stop(t)
		if n := wantModes(t, mail, 0o700, 0o600); n != 4 {
			t.Errorf("%d messages in the maildirs, want 4", n)
		}
	})

	t.Run("relay", func(t *testing.T) {
		// example.com refuses the recipient (a bounce is queued for the
		// sender); example.net's route is a closed port (deferred): both
		// stay in the spool.
		srv := smtptest.NewServer(t, smtptest.ServerOptions{NoStartTLS: true, RejectRcpt: map[string]string{"gone@example.com": "550 5.1.1 no such user"}})
		closed := closedPort(t)
		sp := filepath.Join(dir, "state", "smtpkit", "spool")
		msg := filepath.Join(dir, "msg.eml")
		if err := os.WriteFile(msg, []byte("Subject: modes\n\nbody\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		relay := func(want int, to ...string) {
			t.Helper()
			args := []string{"relay", "--spool", sp, "--route", "example.com=" + srv.Addr(), "--route", "example.net=" + closed,
				"--from", "sender@example.net"}
			for _, a := range to {
				args = append(args, "--to", a)
			}
			wantExit(t, runBinary(t, bin, dir, env, true, append(args, msg)...), want)
		}
		relay(67, "gone@example.com")
		relay(75, "later@example.net")
		if n := wantModes(t, filepath.Join(dir, "state"), 0o700, 0o600); n != 4 {
			t.Errorf("%d files in the spool, want 4 (the deferred entry and the bounce, a message and a state each)", n)
		}
		if names, _ := os.ReadDir(filepath.Join(sp, "tmp")); len(names) != 0 {
			t.Errorf("tmp/ holds %d files", len(names))
		}
	})

	t.Run("batch", func(t *testing.T) {
		srv := smtptest.NewServer(t, smtptest.ServerOptions{NoStartTLS: true})
		bdir := filepath.Join(dir, "batch")
		if err := os.Mkdir(bdir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, content := range map[string]string{"rows.csv": "to\nbob@example.net\ncarol@example.net\n", "msg.tmpl": "Subject: hi\n\nhello\n"} {
			if err := os.WriteFile(filepath.Join(bdir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		r := runBinary(t, bin, bdir, env, true, "send", "--batch", "rows.csv", "--template", "msg.tmpl", "--server", srv.Addr(), "--tls", "none",
			"--from", "alice@example.com", "--state", "state", "--lock", "--results", "results.jsonl")
		wantExit(t, r, 0)
		for _, f := range []string{"state", "state.lock", "results.jsonl"} {
			fi, err := os.Stat(filepath.Join(bdir, f))
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, want 0600", f, fi.Mode().Perm())
			}
		}
		if got := len(srv.Messages()); got != 2 {
			t.Errorf("%d messages sent, want 2", got)
		}
	})
}

// closedPort returns 127.0.0.1:PORT where nothing listens (a port just
// released): connections to it are refused.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestServeReadyFileSymlink: serve writes --ready-file through a fresh
// temporary file, never through a fixed name an attacker can plant a
// symlink at (serve run by root with its ready file in /tmp would
// otherwise overwrite the link's target).
func TestServeReadyFileSymlink(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: builds smtpkit")
	}
	bin := buildSmtpkit(t)
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The name the ready file used to be written through.
	if err := os.Symlink(victim, filepath.Join(dir, "serve.ready.tmp")); err != nil {
		t.Fatal(err)
	}
	srv := startServeBinary(t, bin, dir, "serve", "--sink")
	srv.stop(t)
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("the symlink's target was overwritten: %q", b)
	}
	b, err := os.ReadFile(filepath.Join(dir, "serve.ready"))
	if err != nil || !strings.HasPrefix(string(b), "smtp 127.0.0.1:") {
		t.Errorf("ready file %q, %v", b, err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "serve.ready")); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
		t.Errorf("ready file: %v, %v", fi.Mode(), err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, ".serve.ready.*"))
	if len(names) != 0 {
		t.Errorf("temporary files left: %v", names)
	}
}

// TestServeUnixSocketPath: serve --lmtp unix:PATH replaces a stale socket
// at PATH but never removes anything else there: a regular file at a
// mistyped path stays and serve cannot listen (75).
func TestServeUnixSocketPath(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: builds smtpkit")
	}
	bin := buildSmtpkit(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "important.conf")
	if err := os.WriteFile(file, []byte("keep me\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runBinary(t, bin, dir, binEnv(dir), false, "serve", "--sink", "--lmtp", "unix:"+file)
	wantExit(t, r, 75)
	if b, err := os.ReadFile(file); err != nil || string(b) != "keep me\n" {
		t.Errorf("the file at the socket path: %q, %v", b, err)
	}
	// A stale socket (left by a killed serve) is replaced.
	sock := filepath.Join(dir, "lmtp.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	srv := startServeBinary(t, bin, dir, "serve", "--sink", "--lmtp", "unix:"+sock)
	srv.stop(t)
}
