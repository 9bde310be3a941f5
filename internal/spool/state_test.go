package spool

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStateFromHand: a state file whose "id" names something else, or
// whose values hold line breaks, is read as the entry its file names and
// reported on without breaking the report's fields (found by
// FuzzSpoolEntry).
func TestStateFromHand(t *testing.T) {
	c := newClock()
	root := t.TempDir()
	s := openSpool(t, filepath.Join(root, "spool"), c, Options{})
	e := enqueue(t, s, "a@example.net", "b@example.com")
	bait := filepath.Join(root, "escape.json")
	if err := os.WriteFile(bait, []byte("bait"), 0o600); err != nil {
		t.Fatal(err)
	}
	state := `{"id":"../../escape","created":"2026-03-01T12:00:00Z","sender":"a@x\r\nBcc: v@example.org",` +
		`"recipients":[{"addr":"b@example.com","status":"failed","remote_mta":"mx\r\nX: 1","enhanced":"5.1.1\r\nY: 2"}]}`
	if err := os.WriteFile(s.statePath(e.ID), []byte(state), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(e.ID)
	if err != nil || got.ID != e.ID {
		t.Fatalf("Get: %+v, %v; want entry %s", got, err, e.ID)
	}
	var mta fakeMTA
	res, err := s.AttemptNow(context.Background(), e.ID, mta.attempt)
	if err != nil || res.Bounce == "" || !res.Removed {
		t.Fatalf("flush: %+v, %v", res, err)
	}
	if b, err := os.ReadFile(bait); err != nil || string(b) != "bait" {
		t.Fatalf("file outside the spool: %q, %v", b, err)
	}
	if len(mta.attempts) != 1 {
		t.Fatalf("%d attempts, want the report's", len(mta.attempts))
	}
	report := string(mta.attempts[0].body)
	for _, want := range []string{"To: <a@x??Bcc: v@example.org>\r\n", "Remote-MTA: dns; mx??X: 1\r\n", "Status: 4.4.7\r\n"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}
