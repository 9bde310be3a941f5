package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBatchRate runs `send --batch --rate 20/s` against serve on loopback
// and samples the maildir until 60 messages arrived: the count delivered is
// never above what the rate allows since the start (the burst of one
// second's worth, then 20 a second). The bound is on the count; the time
// only sets it, and no sample can fail for being slow.
func TestBatchRate(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: builds smtpkit and runs a paced batch for a few seconds")
	}
	bin := buildSmtpkit(t)
	dir := t.TempDir()
	md := filepath.Join(dir, "maildir")
	srv := startServeBinary(t, bin, dir, "serve", "--maildir", md, "--hostname", "rate.test")
	var csv strings.Builder
	csv.WriteString("to,n\n")
	for i := 1; i <= 400; i++ {
		fmt.Fprintf(&csv, "rate@example.com,%d\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, "rows.csv"), []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "msg.tmpl"), []byte("From: a@example.net\nSubject: row {{.n}}\n\nhello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const rate, burst = 20.0, 20.0
	cmd := exec.Command(bin, "send", "--batch", "rows.csv", "--template", "msg.tmpl", "--server", srv.addr, "--tls", "none",
		"--from", "a@example.net", "--rate", "20/s", "--concurrency", "8", "-q", "--results", "results.jsonl")
	cmd.Dir = dir
	start := time.Now() // before the process starts: the bound is looser, never tighter
	p, err := startProc("batch", filepath.Join(dir, "batch.log"), cmd, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	// Sample until well past the burst (bounded: 600 samples).
	last := 0
	for i := 0; i < 600 && last < 60 && !p.exited(); i++ {
		time.Sleep(100 * time.Millisecond)
		n := countNew(t, md)
		allowed := burst + rate*time.Since(start).Seconds()
		if float64(n) > allowed {
			t.Fatalf("%d messages delivered %v after the start: --rate 20/s allows at most %.0f", n, time.Since(start), allowed)
		}
		last = n
	}
	if p.exited() {
		t.Fatalf("the paced batch of 400 rows ended while sampled: %v\n%s", p.err, p.logTail())
	}
	if last < 60 {
		t.Fatalf("only %d messages delivered after 600 samples", last)
	}
	t.Logf("%d messages after %v (at most %.0f allowed)", last, time.Since(start), burst+rate*time.Since(start).Seconds())
}

// countNew counts the files in a maildir's new/.
func countNew(t *testing.T, md string) int {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(md, "new"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return len(ents)
}
