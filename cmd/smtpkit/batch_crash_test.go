package main

import (
	"encoding/json"
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

// journal returns the rows the state file records as accepted ("N"
// lines; "?N" and "-N" mark an end of data sent and one not accepted).
func (b *batchRunner) journal() map[int]bool {
	b.t.Helper()
	data, err := os.ReadFile(filepath.Join(b.dir, "state"))
	if err != nil && !os.IsNotExist(err) {
		b.t.Fatal(err)
	}
	rows := map[int]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		if n, err := strconv.Atoi(l); err == nil && n > 0 && l[0] != '+' {
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
// SIGKILL at random moments for a bounded number of rounds, and a rerun
// with the same --state finishes the batch: no row is ever delivered
// twice; every row accepted before a kill is in the maildir exactly once;
// a row not delivered was reported "unconfirmed" (killed between its end
// of data and the reply), and --resend-unconfirmed then sends it.
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
	final := b.start()
	if err := poll(func() (bool, error) { return final.exited(), nil }); err != nil {
		t.Fatalf("final run did not end: %v", err)
	}
	final.stop()
	if final.err != nil && (!errors.As(final.err, &ee) || ee.ExitCode() != 75) {
		t.Fatalf("final run: %v, want exit 0, or 75 with unconfirmed rows\n%s", final.err, final.logTail())
	}
	status := batchStatuses(t, filepath.Join(dir, fmt.Sprintf("batch-%d.jsonl", b.runs)))
	seen := batchCopies(t, md)
	for _, sn := range snaps {
		for n := range sn.journal {
			if seen[n] != 1 || sn.copies[n] != 1 {
				t.Errorf("row %d: journaled after round %d with %d copies, %d at the end", n, sn.round, sn.copies[n], seen[n])
			}
		}
	}
	var unconfirmed, missing []int
	for n := 1; n <= total; n++ {
		switch st := status[n]; {
		case seen[n] > 1:
			t.Errorf("row %d delivered %d times", n, seen[n])
		case st == "unconfirmed":
			unconfirmed = append(unconfirmed, n)
			if seen[n] == 0 {
				missing = append(missing, n)
			}
		case st != "sent" && st != "skipped":
			t.Errorf("row %d: final status %q", n, st)
		case seen[n] == 0:
			t.Errorf("row %d reported %s but never delivered", n, st)
		}
	}
	if (len(unconfirmed) > 0) != (final.err != nil) {
		t.Errorf("final run: %v with %d unconfirmed rows", final.err, len(unconfirmed))
	}
	t.Logf("%d runs killed with SIGKILL; %d rows unconfirmed (killed between the end of data and the reply), %d of them not delivered", kills, len(unconfirmed), len(missing))

	// --resend-unconfirmed sends them again; a row the server had gets a
	// second copy (the user's choice), one it did not have arrives.
	if len(unconfirmed) > 0 {
		p := b.start("--resend-unconfirmed")
		if err := poll(func() (bool, error) { return p.exited(), nil }); err != nil {
			t.Fatal(err)
		}
		p.stop()
		if p.err != nil {
			t.Fatalf("--resend-unconfirmed: %v\n%s", p.err, p.logTail())
		}
		after := batchCopies(t, md)
		for n := 1; n <= total; n++ {
			if after[n] == 0 {
				t.Errorf("row %d still not delivered after --resend-unconfirmed", n)
			}
		}
	}
}

// batchStatuses reads a results file: row -> status.
func batchStatuses(t *testing.T, path string) map[int]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r struct {
			Row    int    `json:"row"`
			Status string `json:"status"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%s: %q: %v", path, l, err)
		}
		out[r.Row] = r.Status
	}
	return out
}
