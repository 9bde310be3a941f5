package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/mail"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/spool"
)

// relayFlusher runs `smtpkit relay flush` on one spool towards one serve.
type relayFlusher struct {
	t     *testing.T
	bin   string
	dir   string
	spool string
	route string
	runs  int
}

// start begins a flush in the background.
func (f *relayFlusher) start() *proc {
	f.t.Helper()
	f.runs++
	name := fmt.Sprintf("flush-%d", f.runs)
	cmd := exec.Command(f.bin, "relay", "flush", "--spool", f.spool, "--route", "example.com="+f.route, "--concurrency", "4", "-q")
	cmd.Dir = f.dir
	p, err := startProc(name, filepath.Join(f.dir, name+".log"), cmd, "")
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(p.stop)
	return p
}

// wait waits (bounded) for p to exit and fails unless it exited 0.
func (f *relayFlusher) wait(p *proc) {
	f.t.Helper()
	if err := poll(func() (bool, error) { return p.exited(), nil }); err != nil {
		f.t.Fatalf("%s did not finish: %v", p.name, err)
	}
	p.stop()
	if p.err != nil {
		f.t.Fatalf("%s: %v\n%s", p.name, p.err, p.logTail())
	}
}

// enqueueCrash queues n crashMessages named prefix-NNNN and returns their
// tokens.
func enqueueCrash(t *testing.T, sp *spool.Spool, prefix string, n int) []string {
	t.Helper()
	var tokens []string
	for i := 0; i < n; i++ {
		token := fmt.Sprintf("%s-%04d", prefix, i)
		// 1 KiB to about 80 KiB, so kills land inside transfers too.
		lines := 8 + rng2(len(prefix), i)%600
		if _, err := sp.Enqueue(context.Background(), bytes.NewReader(crashMessage(token, lines)), "load@example.net", []string{"crash@example.com"}); err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, token)
	}
	return tokens
}

// deliveredTokens counts the copies of each crashMessage in the maildir,
// checking each copy is whole.
func deliveredTokens(t *testing.T, md string) map[string]int {
	t.Helper()
	seen := map[string]int{}
	_, err := checkMaildir(md, func(_ string, m *mail.Message, body []byte) error {
		token, err := checkCrashMessage(m, body)
		if err != nil {
			return err
		}
		seen[token]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return seen
}

func queued(t *testing.T, sp *spool.Spool) int {
	t.Helper()
	es, err := sp.List()
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// TestRelayFlushCrash runs the real binary against serve on loopback.
// Two flushes started together deliver every message exactly once (the
// per-entry lock). Then `relay flush` is killed with SIGKILL at random
// moments for a bounded number of rounds, and a last flush runs to the
// end: every message is in the maildir at least once and whole, and the
// spool is empty (at-least-once: none lost, some may come twice).
func TestRelayFlushCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: builds smtpkit and runs flushes for several seconds")
	}
	bin := buildSmtpkit(t)
	dir := t.TempDir()
	md := filepath.Join(dir, "maildir")
	srv := startServeBinary(t, bin, dir, "serve", "--maildir", md, "--hostname", "crash.test", "--max-per-ip", "200")
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 2))
	t.Logf("kill moments from seed %d", seed)

	// Two flushes at once: no entry is delivered twice.
	dupDir := filepath.Join(dir, "spool-concurrent")
	sp, err := spool.Open(dupDir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dupTokens := enqueueCrash(t, sp, "concurrent", 80)
	f := &relayFlusher{t: t, bin: bin, dir: dir, spool: dupDir, route: srv.addr}
	a, b := f.start(), f.start()
	f.wait(a)
	f.wait(b)
	if n := queued(t, sp); n != 0 {
		t.Fatalf("after two flushes %d entries are left", n)
	}
	seen := deliveredTokens(t, md)
	for _, tok := range dupTokens {
		if seen[tok] != 1 {
			t.Errorf("%s delivered %d times by two concurrent flushes, want 1", tok, seen[tok])
		}
	}

	// Kill -9 during flushes, then a clean one.
	crashDir := filepath.Join(dir, "spool-crash")
	sp, err = spool.Open(crashDir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tokens := enqueueCrash(t, sp, "killed", 200)
	f = &relayFlusher{t: t, bin: bin, dir: dir, spool: crashDir, route: srv.addr}
	const rounds = 8
	kills := 0
	for round := 1; round <= rounds && queued(t, sp) > 0; round++ {
		p := f.start()
		d := 30*time.Millisecond + time.Duration(rng.Int64N(int64(250*time.Millisecond)))
		select {
		case <-p.done:
		case <-time.After(d):
		}
		if !p.exited() {
			if err := syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
				t.Fatalf("kill -9 flush: %v", err)
			}
			kills++
		}
		if err := poll(func() (bool, error) { return p.exited(), nil }); err != nil {
			t.Fatalf("flush survived SIGKILL: %v", err)
		}
		p.stop()
		gone(t, p)
		t.Logf("round %d: after %v: %d entries left", round, d, queued(t, sp))
	}
	for i := 0; i < 3 && queued(t, sp) > 0; i++ {
		f.wait(f.start())
	}
	if n := queued(t, sp); n != 0 {
		t.Fatalf("%d entries left after the final flushes", n)
	}
	seen = deliveredTokens(t, md)
	lost, twice := 0, 0
	for _, tok := range tokens {
		switch c := seen[tok]; {
		case c == 0:
			lost++
			if lost <= 10 {
				t.Errorf("%s was never delivered", tok)
			}
		case c > 1:
			twice++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d messages lost", lost, len(tokens))
	}
	t.Logf("%d flushes killed with SIGKILL; %d messages delivered, %d of them more than once (a kill between 250 and the state update)", kills, len(tokens)-lost, twice)
	for tok, c := range seen {
		if !strings.HasPrefix(tok, "killed-") && !strings.HasPrefix(tok, "concurrent-") {
			t.Errorf("unexpected message %s (%d copies)", tok, c)
		}
	}
	srv.stop(t)
}
