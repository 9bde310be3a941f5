package main

// The fault-injection harness: the real binary against a disk that fills
// up or turns read-only (a small tmpfs, remounted) and against servers
// that stall, reset or answer 421 in the middle of a session (smtptest
// servers with a Fault after some messages). serve, relay and send
// --batch each end in a documented state, with nothing lost and the
// documented reply or exit status; scripts/bench/results.md ("Faults")
// sums the outcomes up.
//
// Mounting needs root (CAP_SYS_ADMIN); CI runs as root. Without it the
// disk tests skip, or fail when SMTPKIT_REQUIRE_PEERS=1.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/smtpkit/smtpkit/internal/smtptest"
)

// wantEmptyDirs fails, saying when, for each file in the given directories
// (a missing directory counts as empty: serve or relay may have failed to
// create it, which stores nothing either).
func wantEmptyDirs(t *testing.T, when string, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		names, err := maildirFiles(d)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if len(names) > 0 {
			t.Errorf("%s: %s holds %v", when, d, names)
		}
	}
}

// subjects lists the Subject of each message the servers accepted.
func subjects(srvs ...*smtptest.Server) []string {
	var out []string
	for _, s := range srvs {
		for _, m := range s.Messages() {
			msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
			if err != nil {
				out = append(out, "unparseable")
				continue
			}
			out = append(out, msg.Header.Get("Subject"))
		}
	}
	sort.Strings(out)
	return out
}

// TestFaultsServeDisk: serve with its maildirs on a 256 KiB tmpfs. A
// message whose copies do not fit (three recipients, the third copy hits
// ENOSPC) gets 452 4.3.1 (send exits 75) and leaves nothing in any new/ or
// tmp/; the filesystem turned read-only gives 451 4.3.0 (75), nothing
// stored; made writable again, the next message gets its 250. serve
// started on a read-only filesystem without its maildir exits 73.
func TestFaultsServeDisk(t *testing.T) {
	disk, rig := newDiskFaultRig(t)
	boxes := []string{"alice", "bob", "carol"}
	args := []string{"--hostname", "full.test", "--domain", "example.com"}
	for _, b := range boxes {
		args = append(args, "--mailbox", b+"@example.com="+disk.path(b))
	}
	srv := rig.serve(args...)
	msg, err := genMessage(100 << 10)
	if err != nil {
		t.Fatal(err)
	}
	msgFile := rig.path("100k.eml")
	if err := os.WriteFile(msgFile, msg, 0o644); err != nil {
		t.Fatal(err)
	}
	send := func(want int, extra ...string) binRun {
		t.Helper()
		return rig.run(want, append([]string{"send", "--server", srv.addr, "--tls", "none", "--from", "s@example.net", "-v"}, extra...)...)
	}
	allEmpty := func(what string) {
		t.Helper()
		for _, b := range boxes {
			wantEmptyDirs(t, what, disk.path(b, "new"), disk.path(b, "tmp"))
		}
	}

	// Full: the third copy does not fit; none is kept.
	for _, chunking := range []string{"off", "on"} {
		r := send(75, "--data", "@"+msgFile, "--chunking", chunking, "--to", "alice@example.com", "--to", "bob@example.com", "--to", "carol@example.com")
		if !strings.Contains(r.stderr, "452 4.3.1 ") {
			t.Errorf("chunking %s: no 452 4.3.1:\n%s", chunking, r)
		}
		allEmpty("after a full disk")
	}

	// Read-only: 451 4.3.0, nothing stored.
	disk.readOnly()
	r := send(75, "--to", "alice@example.com", "--subject", "read-only")
	if !strings.Contains(r.stderr, "451 4.3.0 ") {
		t.Errorf("read-only maildir: no 451 4.3.0:\n%s", r)
	}
	allEmpty("on a read-only filesystem")

	// Writable again: delivered.
	disk.writable()
	send(0, "--to", "alice@example.com", "--to", "bob@example.com", "--subject", "after the faults")
	for _, b := range []string{"alice", "bob"} {
		n, err := checkMaildir(disk.path(b), nil)
		if err != nil || n != 1 {
			t.Errorf("%s: %d messages (%v), want 1", b, n, err)
		}
	}
	srv.stop(t)
	logb, _ := os.ReadFile(srv.log)
	if c := bytes.Count(logb, []byte(`msg="message not delivered"`)); c != 3 {
		t.Errorf("%d \"message not delivered\" lines in serve's log, want 3:\n%s", c, logb)
	}

	// A read-only filesystem and no maildir yet: serve cannot start (73).
	disk.readOnly()
	r = rig.run(73, "serve", "--listen", "127.0.0.1:0", "--maildir", disk.path("new-maildir"))
	if !strings.Contains(r.stderr, "read-only file system") {
		t.Errorf("serve on a read-only filesystem does not say why:\n%s", r)
	}
}

// relayMsg writes a message with a subject to tell it by.
func relayMsg(t *testing.T, dir, subject string, size int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("From: sender@example.net\nTo: rcpt@example.com\nSubject: " + subject + "\n\n")
	for b.Len() < size {
		b.WriteString("relay fault test body line\n")
	}
	p := filepath.Join(dir, subject+".eml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// spoolEntries lists the entries of the spool sp: ID -> the status of
// each recipient, from `relay queue --format json`.
func (rig *faultRig) spoolEntries(sp string) map[string][]string {
	t := rig.t
	t.Helper()
	r := rig.run(0, "relay", "queue", "--spool", sp, "--format", "json")
	var q struct {
		Entries []struct {
			ID         string `json:"id"`
			Recipients []struct {
				Status string `json:"status"`
			} `json:"recipients"`
		} `json:"entries"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &q); err != nil {
		t.Fatalf("relay queue --format json: %v\n%s", err, r)
	}
	out := map[string][]string{}
	for _, e := range q.Entries {
		for _, rc := range e.Recipients {
			out[e.ID] = append(out[e.ID], rc.Status)
		}
	}
	return out
}

// TestFaultsRelaySpool: the relay's spool on a 256 KiB tmpfs. A message
// too big for it exits 74 and leaves no half entry (queue/ and tmp/
// empty). On a read-only spool relay exits 73, and so does a flush, before
// it attempts anything: nothing is delivered that the spool could not
// then record as delivered (the next flush would deliver it again). A
// flush of a full spool exits 74 the same way. Made writable, or with the
// space back, the flush delivers each message once.
func TestFaultsRelaySpool(t *testing.T) {
	disk, rig := newDiskFaultRig(t)
	srv := goodServer(t)
	closed := closedPort(t)
	sp := disk.path("spool")
	relay := func(want int, route, subject string, size int) binRun {
		t.Helper()
		return rig.run(want, "relay", "--spool", sp, "--route", "example.com="+route, "--from", "sender@example.net", "--to", "rcpt@example.com",
			relayMsg(t, rig.dir, subject, size))
	}
	flush := func(want int, route string) binRun {
		t.Helper()
		return rig.run(want, "relay", "flush", "--all", "--spool", sp, "--route", "example.com="+route, "--concurrency", "1")
	}

	// Full: 74, no half entry; a small message still goes.
	r := relay(74, srv.Addr(), "too-big", 1<<20)
	if !strings.Contains(r.stderr, "no space left on device") {
		t.Errorf("a full spool does not say why:\n%s", r)
	}
	wantEmptyDirs(t, "after a full spool", filepath.Join(sp, "queue"), filepath.Join(sp, "tmp"))
	relay(0, srv.Addr(), "small", 2<<10)

	// Two deferred entries (the route is a closed port) for what follows.
	relay(75, closed, "deferred-1", 2<<10)
	relay(75, closed, "deferred-2", 2<<10)
	if n := len(rig.spoolEntries(sp)); n != 2 {
		t.Fatalf("%d entries in the spool, want 2", n)
	}

	// Read-only: relay cannot store, and flush attempts nothing (73).
	disk.readOnly()
	r = relay(73, srv.Addr(), "read-only", 2<<10)
	if !strings.Contains(r.stderr, "read-only file system") {
		t.Errorf("a read-only spool does not say why:\n%s", r)
	}
	r = flush(73, srv.Addr())
	if !strings.Contains(r.stderr, "read-only file system") {
		t.Errorf("a flush of a read-only spool does not say why:\n%s", r)
	}
	if got := subjects(srv); !slices.Equal(got, []string{"small"}) {
		t.Errorf("a flush of a read-only spool delivered: the server has %v", got)
	}

	// Writable again: each deferred message is delivered once.
	disk.writable()
	flush(0, srv.Addr())
	if got := subjects(srv); !slices.Equal(got, []string{"deferred-1", "deferred-2", "small"}) {
		t.Errorf("the server has %v, want deferred-1, deferred-2, small once each", got)
	}
	if n := len(rig.spoolEntries(sp)); n != 0 {
		t.Errorf("%d entries left in the spool", n)
	}
	wantEmptyDirs(t, "at the end", filepath.Join(sp, "queue"), filepath.Join(sp, "tmp"))

	// Full while entries wait: the flush attempts nothing (74) and
	// delivers them once the space is back.
	relay(75, closed, "deferred-3", 2<<10)
	disk.fill()
	r = flush(74, srv.Addr())
	if !strings.Contains(r.stderr, "no space left on device") {
		t.Errorf("a flush of a full spool does not say why:\n%s", r)
	}
	if got := subjects(srv); len(got) != 3 {
		t.Errorf("a flush of a full spool delivered: the server has %v", got)
	}
	disk.free()
	flush(0, srv.Addr())
	if got := subjects(srv); !slices.Equal(got, []string{"deferred-1", "deferred-2", "deferred-3", "small"}) {
		t.Errorf("the server has %v", got)
	}
}

// TestFaultsRelayNetwork: relay flush against a server that answers 421
// in the middle of a session, resets the connection in the middle of
// DATA, stalls before replying to MAIL, or stalls after the end of data,
// each time after accepting the first of three messages. The flush exits
// 0 (deferred messages stay queued, as documented); the others are
// deferred and kept with the reason; a flush to a working server then
// delivers them, each message once (the faulty server stored none of
// them: smtptest records a message only when it answers its end of data).
func TestFaultsRelayNetwork(t *testing.T) {
	bin := faultBinary(t)
	for _, tc := range []struct {
		name   string
		fault  smtptest.Fault
		reason string // a regular expression for the lower-cased queue listing
	}{
		{"421-mid-session", smtptest.Fault{At: smtptest.AtRcpt, Action: smtptest.Reply421}, `421 4\.3\.2`},
		{"reset-mid-data", smtptest.Fault{At: smtptest.AtBody, Action: smtptest.Drop}, "connection closed by server"},
		{"stall-at-mail", smtptest.Fault{At: smtptest.AtMail, Action: smtptest.NoAnswer}, `mail from:<sender@example\.net> size=\d+: timed out`},
		{"stall-after-dot", smtptest.Fault{At: smtptest.AtDot, Action: smtptest.NoAnswer}, "timed out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rig := newFaultRig(t, bin)
			sp := rig.path("spool")
			faulty := faultyServer(t, tc.fault, 1)
			good := goodServer(t)
			closed := closedPort(t)
			var want []string
			for i := 1; i <= 3; i++ {
				s := fmt.Sprintf("msg-%d", i)
				want = append(want, s)
				rig.run(75, "relay", "--spool", sp, "--route", "example.com="+closed,
					"--from", "sender@example.net", "--to", "rcpt@example.com", relayMsg(t, rig.dir, s, 8<<10))
			}
			flush := func(route string) binRun {
				t.Helper()
				return rig.run(0, "--timeout", "1s", "relay", "flush", "--all", "--spool", sp,
					"--route", "example.com="+route, "--concurrency", "1", "-v")
			}
			r := flush(faulty.Addr())
			t.Logf("flush: exit %d", r.code)
			if got := len(faulty.Messages()); got != 1 {
				t.Fatalf("the faulty server took %d messages, want 1\n%s", got, r)
			}
			entries := rig.spoolEntries(sp)
			if len(entries) != 2 {
				t.Fatalf("%d entries kept, want 2: %v\n%s", len(entries), entries, r)
			}
			for id, st := range entries {
				if !slices.Equal(st, []string{"deferred"}) {
					t.Errorf("entry %s: %v, want deferred", id, st)
				}
			}
			q := rig.runAnyExit("relay", "queue", "--spool", sp)
			if tc.reason != "" && !regexp.MustCompile(tc.reason).MatchString(strings.ToLower(q.stdout)) {
				t.Errorf("relay queue does not give the reason %q:\n%s", tc.reason, q)
			}
			flush(good.Addr())
			if got := subjects(faulty, good); !slices.Equal(got, want) {
				t.Errorf("delivered %v, want %v once each", got, want)
			}
			if n := len(rig.spoolEntries(sp)); n != 0 {
				t.Errorf("%d entries left", n)
			}
		})
	}
}

// batchRows writes rows.csv (n rows, "row N" subjects) and msg.tmpl in
// dir.
func batchRows(t *testing.T, dir string, n int) {
	t.Helper()
	var csv strings.Builder
	csv.WriteString("to,n\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&csv, "rcpt%d@example.com,%d\n", i, i)
	}
	files := map[string]string{
		"rows.csv": csv.String(),
		"msg.tmpl": "From: load@example.net\nSubject: row {{.n}}\n\n" + strings.Repeat("batch fault test body line\n", 40),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// journalState reads a --state journal: rows accepted ("N") and rows whose
// end of data went out with no reply recorded ("?N" not followed by "N"
// or "-N").
func journalState(t *testing.T, path string) (accepted, inDoubt []int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	acc, doubt := map[int]bool{}, map[int]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if l == "" {
			continue
		}
		kind := byte(0)
		if l[0] == '?' || l[0] == '-' {
			kind, l = l[0], l[1:]
		}
		n, err := strconv.Atoi(l)
		if err != nil {
			t.Fatalf("%s: bad line %q", path, l)
		}
		switch kind {
		case '?':
			if !acc[n] {
				doubt[n] = true
			}
		case '-':
			delete(doubt, n)
		default:
			acc[n] = true
			delete(doubt, n)
		}
	}
	keys := func(m map[int]bool) []int {
		var out []int
		for k := range m {
			out = append(out, k)
		}
		sort.Ints(out)
		return out
	}
	return keys(acc), keys(doubt)
}

// batchResults reads a --results file: status -> rows.
func batchResults(t *testing.T, path string) map[string][]int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l == "" {
			continue
		}
		var r struct {
			Row    int    `json:"row"`
			Status string `json:"status"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%s: %q: %v", path, l, err)
		}
		out[r.Status] = append(out[r.Status], r.Row)
	}
	for _, rows := range out {
		sort.Ints(rows)
	}
	return out
}

// rowsOf turns "row N" subjects into row numbers.
func rowsOf(t *testing.T, subjects []string) []int {
	t.Helper()
	var out []int
	for _, s := range subjects {
		n, err := strconv.Atoi(strings.TrimPrefix(s, "row "))
		if err != nil {
			t.Fatalf("subject %q", s)
		}
		out = append(out, n)
	}
	sort.Ints(out)
	return out
}

// TestFaultsBatchNetwork: send --batch (8 rows, two sessions, no retries)
// against a server that, after accepting 3 messages, answers 421 in the
// middle of a session, resets the connection in the middle of DATA,
// stalls before replying to MAIL, or stalls after the end of data. The run
// exits 75; the rows the server accepted are "sent" and in the --state
// journal as accepted, and no others are; a row whose end of data went
// out without a reply is "unconfirmed" and left in doubt in the journal;
// the rest are "deferred". A rerun with the same --state against a
// working server sends each deferred row once and no sent row again; it
// reports the unconfirmed rows again (75) without sending them, and
// --resend-unconfirmed sends those. In the end every row is delivered
// exactly once.
func TestFaultsBatchNetwork(t *testing.T) {
	bin := faultBinary(t)
	const total = 8
	for _, tc := range []struct {
		name  string
		fault smtptest.Fault
	}{
		{"421-mid-session", smtptest.Fault{At: smtptest.AtMail, Action: smtptest.Reply421}},
		{"reset-mid-data", smtptest.Fault{At: smtptest.AtBody, Action: smtptest.Drop}},
		{"stall-at-mail", smtptest.Fault{At: smtptest.AtMail, Action: smtptest.NoAnswer}},
		{"stall-after-dot", smtptest.Fault{At: smtptest.AtDot, Action: smtptest.NoAnswer}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rig := newFaultRig(t, bin)
			batchRows(t, rig.dir, total)
			faulty := faultyServer(t, tc.fault, 3)
			good := goodServer(t)
			run := func(addr, results string, extra ...string) binRun {
				t.Helper()
				return rig.runAnyExit(append([]string{"--timeout", "1s", "send", "--batch", "rows.csv", "--template", "msg.tmpl", "--server", addr,
					"--tls", "none", "--from", "load@example.net", "--state", "state", "--lock", "--concurrency", "2",
					"--retries", "0", "--results", results}, extra...)...)
			}

			r := run(faulty.Addr(), "run1.jsonl")
			wantExit(t, r, 75)
			res := batchResults(t, rig.path("run1.jsonl"))
			sent := rowsOf(t, subjects(faulty))
			accepted, doubt := journalState(t, rig.path("state"))
			t.Logf("run 1: exit %d, rows by status %v", r.code, res)
			if len(sent) < 3 || len(sent) == total {
				t.Fatalf("the faulty server took rows %v: the fault did not strike\n%s", sent, r)
			}
			if !slices.Equal(res["sent"], sent) || !slices.Equal(accepted, sent) {
				t.Errorf("server took %v; results say sent %v; journal accepted %v", sent, res["sent"], accepted)
			}
			if !slices.Equal(res["unconfirmed"], doubt) {
				t.Errorf("results say unconfirmed %v; journal in doubt %v", res["unconfirmed"], doubt)
			}
			if n := len(res["sent"]) + len(res["deferred"]) + len(res["unconfirmed"]); n != total || len(res) > 3 {
				t.Errorf("results %v: want every row sent, deferred or unconfirmed", res)
			}
			if tc.fault.At == smtptest.AtDot && len(doubt) == 0 {
				t.Errorf("a stall after the end of data left no row unconfirmed: %v", res)
			}
			if tc.fault.At == smtptest.AtMail && len(doubt) > 0 {
				t.Errorf("a fault before DATA left rows %v unconfirmed", doubt)
			}

			// Rerun against a working server.
			r = run(good.Addr(), "run2.jsonl")
			res2 := batchResults(t, rig.path("run2.jsonl"))
			if len(doubt) > 0 {
				wantExit(t, r, 75)
			} else {
				wantExit(t, r, 0)
			}
			if !slices.Equal(res2["skipped"], sent) || !slices.Equal(res2["unconfirmed"], doubt) || !slices.Equal(res2["sent"], res["deferred"]) {
				t.Errorf("rerun: %v; want skipped %v, unconfirmed %v, sent %v", res2, sent, doubt, res["deferred"])
			}
			if len(doubt) > 0 {
				r = run(good.Addr(), "run3.jsonl", "--resend-unconfirmed")
				wantExit(t, r, 0)
			}
			all := rowsOf(t, subjects(faulty, good))
			want := make([]int, total)
			for i := range want {
				want[i] = i + 1
			}
			if !slices.Equal(all, want) {
				t.Errorf("rows delivered %v, want each of 1..%d once", all, total)
			}
			if accepted, doubt := journalState(t, rig.path("state")); !slices.Equal(accepted, want) || len(doubt) > 0 {
				t.Errorf("journal at the end: accepted %v, in doubt %v", accepted, doubt)
			}
		})
	}
}

// TestFaultsBatchStateDisk: send --batch with its --state journal on a
// full tmpfs exits 74 ("no space left on device") having sent nothing
// (the journal record goes to disk before each end of data, so a row the
// journal cannot hold is not sent); on a read-only one it exits 73 before
// connecting. With the space back, a rerun sends every row once and the
// journal holds them all.
func TestFaultsBatchStateDisk(t *testing.T) {
	disk, rig := newDiskFaultRig(t)
	const total = 6
	batchRows(t, rig.dir, total)
	srv := goodServer(t)
	state := disk.path("state")
	run := func(want int, results string) binRun {
		t.Helper()
		return rig.run(want, "send", "--batch", "rows.csv", "--template", "msg.tmpl", "--server", srv.Addr(),
			"--tls", "none", "--from", "load@example.net", "--state", state, "--lock", "--results", results)
	}

	// Read-only: the journal cannot be created: 73, nothing sent.
	disk.readOnly()
	r := run(73, "ro.jsonl")
	if !strings.Contains(r.stderr, "read-only file system") || len(srv.Messages()) != 0 || srv.Sessions() != 0 {
		t.Errorf("read-only --state: %d messages, %d sessions\n%s", len(srv.Messages()), srv.Sessions(), r)
	}
	disk.writable()

	// Full: the first journal record fails: 74, nothing delivered.
	disk.fill()
	r = run(74, "full.jsonl")
	if !strings.Contains(r.stderr, "no space left on device") {
		t.Errorf("a full --state disk does not say why:\n%s", r)
	}
	if got := subjects(srv); len(got) != 0 {
		t.Errorf("sent %v although the journal could not record them", got)
	}
	disk.free()
	run(0, "after.jsonl")
	want := []int{1, 2, 3, 4, 5, 6}
	if got := rowsOf(t, subjects(srv)); !slices.Equal(got, want) {
		t.Errorf("rows delivered %v, want each once", got)
	}
	if accepted, doubt := journalState(t, state); !slices.Equal(accepted, want) || len(doubt) > 0 {
		t.Errorf("journal: accepted %v, in doubt %v", accepted, doubt)
	}
}

// TestFaultsServeNetwork: clients that fail serve. One resets the
// connection in the middle of DATA, one stops sending in the middle of
// DATA (--data-timeout), one stops between commands (--timeout). serve
// stores nothing of them (new/ and tmp/ empty), answers the stalled ones
// 421 4.4.2 before closing, and goes on taking mail.
func TestFaultsServeNetwork(t *testing.T) {
	rig := newFaultRig(t, faultBinary(t))
	md := rig.path("md")
	srv := rig.serve("--hostname", "mx.test", "--maildir", md, "--timeout", "1s", "--data-timeout", "2s")
	begin := func() *smtpLine {
		t.Helper()
		c := dialSMTP(t, srv.addr)
		for _, l := range []string{"EHLO client.test", "MAIL FROM:<a@example.net>", "RCPT TO:<b@example.com>"} {
			if r := c.cmd(l); !strings.HasPrefix(r, "250") {
				t.Fatalf("%s: %s", l, r)
			}
		}
		if r := c.cmd("DATA"); !strings.HasPrefix(r, "354") {
			t.Fatalf("DATA: %s", r)
		}
		if _, err := c.c.Write([]byte("Subject: cut short\r\n\r\n" + strings.Repeat("a line of the body\r\n", 2000))); err != nil {
			t.Fatal(err)
		}
		return c
	}
	disconnects := func() int {
		b, _ := os.ReadFile(srv.log)
		return bytes.Count(b, []byte("msg=disconnect "))
	}

	// A reset in the middle of DATA.
	c := begin()
	if tc, ok := c.c.(interface{ SetLinger(int) error }); ok {
		_ = tc.SetLinger(0) // close with a RST
	}
	c.c.Close()
	if err := poll(func() (bool, error) { return disconnects() == 1, nil }); err != nil {
		t.Fatalf("serve never saw the reset: %v", err)
	}
	wantEmptyDirs(t, "after a reset inside DATA", filepath.Join(md, "new"), filepath.Join(md, "tmp"))

	// Silence in the middle of DATA: 421 4.4.2 at --data-timeout.
	c = begin()
	if r := c.reply(); !strings.HasPrefix(r, "421 4.4.2 ") {
		t.Errorf("a client silent inside DATA got %q, want 421 4.4.2", r)
	}
	wantEmptyDirs(t, "after a client silent inside DATA", filepath.Join(md, "new"), filepath.Join(md, "tmp"))

	// Silence between commands: 421 4.4.2 at --timeout.
	c = dialSMTP(t, srv.addr)
	c.cmd("EHLO client.test")
	if r := c.reply(); !strings.HasPrefix(r, "421 4.4.2 ") {
		t.Errorf("a silent client got %q, want 421 4.4.2", r)
	}

	// serve still takes mail.
	rig.run(0, "send", "--server", srv.addr, "--tls", "none", "--from", "a@example.net", "--to", "b@example.com")
	srv.stop(t)
	if n, err := checkMaildir(md, nil); n != 1 || err != nil {
		t.Errorf("%d messages (%v), want 1", n, err)
	}
	wantEmptyDirs(t, "at the end", filepath.Join(md, "tmp"))
	logb, _ := os.ReadFile(srv.log)
	if c := bytes.Count(logb, []byte(`msg="session ended"`)); c < 3 {
		t.Errorf("%d \"session ended\" lines in serve's log, want 3 or more:\n%s", c, logb)
	}
}
