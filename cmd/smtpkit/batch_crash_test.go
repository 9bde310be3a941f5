package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// batchRunner runs `smtpkit send --batch` on one CSV towards one serve,
// with one --state file.
type batchRunner struct {
	t    *testing.T
	bin  string
	dir  string
	addr string
	runs int
}

func (b *batchRunner) start(extra ...string) *proc {
	b.t.Helper()
	b.runs++
	name := fmt.Sprintf("batch-%d", b.runs)
	args := append([]string{"send", "--batch", "rows.csv", "--template", "msg.tmpl", "--server", b.addr, "--tls", "none",
		"--from", "load@example.net", "--state", "state", "--lock", "--concurrency", "4", "--per-connection", "20", "-q",
		"--results", name + ".jsonl"}, extra...)
	cmd := exec.Command(b.bin, args...)
	cmd.Dir = b.dir
	p, err := startProc(name, filepath.Join(b.dir, name+".log"), cmd, "")
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(p.stop)
	return p
}

// journal returns the rows in the state file.
func (b *batchRunner) journal() map[int]bool {
	b.t.Helper()
	data, err := os.ReadFile(filepath.Join(b.dir, "state"))
	if err != nil && !os.IsNotExist(err) {
		b.t.Fatal(err)
	}
	rows := map[int]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		if n, err := strconv.Atoi(l); err == nil {
			rows[n] = true
		}
	}
	return rows
}

// batchCopies counts the copies of each row's message in the maildir.
func batchCopies(t *testing.T, md string) map[int]int {
	t.Helper()
	seen := map[int]int{}
	_, err := checkMaildir(md, func(_ string, m *mail.Message, _ []byte) error {
		n, err := strconv.Atoi(strings.TrimPrefix(m.Header.Get("Subject"), "row "))
		if err != nil {
			return fmt.Errorf("subject %q", m.Header.Get("Subject"))
		}
		seen[n]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return seen
}

// TestBatchCrash runs the real binary against serve on loopback. A second
// run while one holds --lock exits 75. Then `send --batch` is killed with
// SIGKILL at random moments for a bounded number of rounds, and reruns
// with the same --state finish the batch: every row is delivered, and no
// row recorded in the journal before a kill is delivered again after it
// (a row accepted by the server but killed before its journal line may
// come twice: at-least-once, like the relay).
func TestBatchCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: builds smtpkit and runs batches for several seconds")
	}
	bin := buildSmtpkit(t)
	dir := t.TempDir()
	md := filepath.Join(dir, "maildir")
	srv := startServeBinary(t, bin, dir, "serve", "--maildir", md, "--hostname", "crash.test", "--max-per-ip", "200")
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 3))
	t.Logf("kill moments from seed %d", seed)

	const total = 400
	var csv strings.Builder
	csv.WriteString("to,n\n")
	for i := 1; i <= total; i++ {
		fmt.Fprintf(&csv, "crash@example.com,%d\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, "rows.csv"), []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	tmpl := "From: load@example.net\nSubject: row {{.n}}\n\n" + strings.Repeat("batch crash test body line\n", 40)
	if err := os.WriteFile(filepath.Join(dir, "msg.tmpl"), []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &batchRunner{t: t, bin: bin, dir: dir, addr: srv.addr}

	// --lock: a slow run holds the lock, a second one exits 75.
	slow := b.start("--rate", "2/s")
	if err := poll(func() (bool, error) { return len(b.journal()) > 0 || slow.exited(), nil }); err != nil {
		t.Fatalf("the first run recorded nothing: %v", err)
	}
	second := b.start()
	if err := poll(func() (bool, error) { return second.exited(), nil }); err != nil {
		t.Fatalf("the second run did not end: %v", err)
	}
	var ee *exec.ExitError
	if !errors.As(second.err, &ee) || ee.ExitCode() != 75 {
		t.Fatalf("a second run under --lock: %v, want exit 75\n%s", second.err, second.logTail())
	}
	_ = syscall.Kill(slow.cmd.Process.Pid, syscall.SIGKILL)
	if err := poll(func() (bool, error) { return slow.exited(), nil }); err != nil {
		t.Fatal(err)
	}
	slow.stop()

	// Kill -9 at random moments.
	const rounds = 6
	kills := 0
	type snap struct {
		round   int
		journal map[int]bool
		copies  map[int]int
	}
	var snaps []snap
	for round := 1; round <= rounds && len(b.journal()) < total; round++ {
		p := b.start()
		d := 20*time.Millisecond + time.Duration(rng.Int64N(int64(300*time.Millisecond)))
		select {
		case <-p.done:
		case <-time.After(d):
		}
		if !p.exited() {
			if err := syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
				t.Fatalf("kill -9 batch: %v", err)
			}
			kills++
		}
		if err := poll(func() (bool, error) { return p.exited(), nil }); err != nil {
			t.Fatalf("batch survived SIGKILL: %v", err)
		}
		p.stop()
		// Rows journaled by now are never delivered again.
		before, copies := b.journal(), batchCopies(t, md)
		snaps = append(snaps, snap{round, before, copies})
		t.Logf("round %d: after %v: %d rows journaled", round, d, len(before))
	}
	for i := 0; i < 3 && len(b.journal()) < total; i++ {
		p := b.start()
		if err := poll(func() (bool, error) { return p.exited(), nil }); err != nil {
			t.Fatalf("final run did not end: %v", err)
		}
		p.stop()
		if p.err != nil {
			t.Fatalf("final run: %v\n%s", p.err, p.logTail())
		}
	}
	if n := len(b.journal()); n != total {
		t.Fatalf("%d of %d rows journaled after the final runs", n, total)
	}
	seen := batchCopies(t, md)
	for _, sn := range snaps {
		for n := range sn.journal {
			if seen[n] != sn.copies[n] {
				t.Errorf("row %d: journaled after round %d with %d copies, %d at the end", n, sn.round, sn.copies[n], seen[n])
			}
		}
	}
	twice := 0
	for n := 1; n <= total; n++ {
		switch {
		case seen[n] == 0:
			t.Errorf("row %d was never delivered", n)
		case seen[n] > 1:
			twice++
		}
	}
	t.Logf("%d runs killed with SIGKILL; %d rows delivered more than once (killed between 250 and the journal line)", kills, twice)
}
