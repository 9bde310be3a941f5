package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// scriptHarness is the harness for peers started by a script: files under
// $WORK, stopped when the script ends.
func scriptHarness(ts *testscript.TestScript) harness {
	return harness{
		dir:     ts.Getenv("WORK"),
		cleanup: ts.Defer,
		logf:    func(f string, a ...any) { ts.Logf(f, a...) },
	}
}

func noNeg(ts *testscript.TestScript, neg bool, name string) {
	if neg {
		ts.Fatalf("unsupported: ! %s", name)
	}
}

// expect-exit N PROGRAM [ARGS...]: run PROGRAM and check its exit status.
func cmdExpectExit(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "expect-exit (give the status you expect)")
	if len(args) < 2 {
		ts.Fatalf("usage: expect-exit N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil || want < 0 || want > 255 {
		ts.Fatalf("expect-exit: bad status %q", args[0])
	}
	// ts.Exec leaves stdout and stderr for the checks that follow; this
	// command writes nothing of its own so they are not replaced.
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("expect-exit: %s: %v", args[1], err)
		}
		got = ee.ExitCode()
		if got < 0 {
			ts.Fatalf("expect-exit: %s did not exit normally: %v", args[1], err)
		}
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// countFiles counts the regular files in dir (0 when it does not exist
// yet), ignoring dot files (temporary files of writers).
func countFiles(dir string) (int, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			n++
		}
	}
	return n, nil
}

// waitFiles polls until dir holds exactly want files. Exactly, because a
// count can also go down: smtp-sink creates its dump file at MAIL and
// removes it when the transaction is abandoned, possibly just after the
// client has gone.
func waitFiles(ts *testscript.TestScript, dir string, want int) {
	var have int
	err := poll(func() (bool, error) {
		var err error
		have, err = countFiles(dir)
		return have == want, err
	})
	if err != nil {
		ts.Fatalf("waiting for %s to hold %d files (it holds %d): %v", dir, want, have, err)
	}
}

// wait-files DIR N
func cmdWaitFiles(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "wait-files")
	if len(args) != 2 {
		ts.Fatalf("usage: wait-files dir n")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	waitFiles(ts, ts.MkAbs(args[0]), n)
}

// wait-maildir N: N messages delivered to $MAILDIR/new.
func cmdWaitMaildir(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "wait-maildir")
	if len(args) != 1 {
		ts.Fatalf("usage: wait-maildir n")
	}
	md := ts.Getenv("MAILDIR")
	if md == "" {
		ts.Fatalf("wait-maildir: $MAILDIR is not set (run postfix-smtpd first)")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	waitFiles(ts, filepath.Join(md, "new"), n)
}

// wait-grep REGEXP FILE: wait until FILE (a log written by a peer) has a
// line matching REGEXP.
func cmdWaitGrep(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "wait-grep")
	if len(args) != 2 {
		ts.Fatalf("usage: wait-grep regexp file")
	}
	re, err := regexp.Compile(`(?m)` + args[0])
	ts.Check(err)
	file := ts.MkAbs(args[1])
	err = poll(func() (bool, error) {
		b, err := os.ReadFile(file)
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return re.Match(b), err
	})
	if err != nil {
		b, _ := os.ReadFile(file)
		ts.Logf("[%s]\n%s", args[1], b)
		ts.Fatalf("no line matching %q in %s: %v", args[0], args[1], err)
	}
}

// catdir DIR: every regular file in DIR, sorted by name, on stdout, each
// after a "==> NAME <==" line.
func cmdCatdir(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "catdir")
	if len(args) != 1 {
		ts.Fatalf("usage: catdir dir")
	}
	dir := ts.MkAbs(args[0])
	ents, err := os.ReadDir(dir)
	ts.Check(err)
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	out := ts.Stdout()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		ts.Check(err)
		fmt.Fprintf(out, "==> %s <==\n%s", n, b)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			fmt.Fprintln(out)
		}
	}
}

// gen-message FILE SIZE: a deterministic RFC 5322 message of exactly SIZE
// bytes with LF line ends. The body has lines of many lengths (up to 990
// octets), lines that start with one or two dots, and a line holding a
// lone dot, so dot-stuffing and line handling are exercised.
func cmdGenMessage(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "gen-message")
	if len(args) != 2 {
		ts.Fatalf("usage: gen-message file size")
	}
	size, err := strconv.Atoi(args[1])
	ts.Check(err)
	b, err := genMessage(size)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o644))
}

func genMessage(size int) ([]byte, error) {
	head := "From: Sender <sender@example.com>\n" +
		"To: Receiver <receiver@example.com>\n" +
		"Subject: generated message of " + strconv.Itoa(size) + " bytes\n" +
		"Date: Mon, 02 Jan 2006 15:04:05 +0000\n" +
		"Message-ID: <generated-" + strconv.Itoa(size) + "@example.com>\n" +
		"MIME-Version: 1.0\n" +
		"Content-Type: text/plain; charset=us-ascii\n" +
		"\n"
	if size < len(head)+2 {
		return nil, fmt.Errorf("gen-message: size %d is smaller than the header (%d)", size, len(head)+2)
	}
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-_=+/"
	var sb strings.Builder
	sb.Grow(size)
	sb.WriteString(head)
	for i := 0; ; i++ {
		left := size - sb.Len()
		var line string
		switch i % 7 {
		case 0:
			line = "." // a lone dot: the end of data unless stuffed
		case 1:
			line = ".. starts with two dots " + strconv.Itoa(i)
		case 2:
			line = "" // an empty line
		default:
			n := (i * 131) % 991
			var lb strings.Builder
			lb.WriteString(".")
			for j := 1; j < n; j++ {
				lb.WriteByte(alphabet[(i+j)%len(alphabet)])
			}
			line = strings.TrimRight(lb.String(), " ")
		}
		if len(line)+1 >= left {
			// The last line fills the size exactly.
			if left >= 1 {
				sb.WriteString(strings.Repeat("z", left-1))
				sb.WriteByte('\n')
			}
			break
		}
		sb.WriteString(line)
		sb.WriteByte('\n')
	}
	if sb.Len() != size {
		return nil, fmt.Errorf("gen-message: made %d bytes, want %d", sb.Len(), size)
	}
	return []byte(sb.String()), nil
}
