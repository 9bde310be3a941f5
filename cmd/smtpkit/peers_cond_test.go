package main

import (
	"errors"
	"strings"
	"testing"
)

// TestPeerCondition checks [peer:NAME]: true when the peer can run, false
// when it cannot (so the script skips), and an error naming the reason
// when SMTPKIT_REQUIRE_PEERS=1 (so the script fails instead).
func TestPeerCondition(t *testing.T) {
	peerFinders["test-present"] = func() (string, error) { return "/bin/true", nil }
	peerFinders["test-missing"] = func() (string, error) { return "", errors.New("not installed here") }
	t.Cleanup(func() {
		delete(peerFinders, "test-present")
		delete(peerFinders, "test-missing")
		peerCache.Lock()
		delete(peerCache.m, "test-present")
		delete(peerCache.m, "test-missing")
		peerCache.Unlock()
	})

	t.Setenv("SMTPKIT_REQUIRE_PEERS", "")
	if ok, err := scriptCondition("peer:test-present"); !ok || err != nil {
		t.Errorf("present peer: got %v, %v; want true, nil", ok, err)
	}
	if ok, err := scriptCondition("peer:test-missing"); ok || err != nil {
		t.Errorf("missing peer, not required: got %v, %v; want false, nil", ok, err)
	}

	t.Setenv("SMTPKIT_REQUIRE_PEERS", "1")
	if ok, err := scriptCondition("peer:test-present"); !ok || err != nil {
		t.Errorf("present peer, required: got %v, %v; want true, nil", ok, err)
	}
	ok, err := scriptCondition("peer:test-missing")
	if ok || err == nil {
		t.Fatalf("missing peer, required: got %v, %v; want false and an error", ok, err)
	}
	for _, want := range []string{"test-missing", "SMTPKIT_REQUIRE_PEERS=1", "not installed here"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}

	for _, cond := range []string{"peer:no-such-peer", "nonsense"} {
		if _, err := scriptCondition(cond); err == nil {
			t.Errorf("condition %q: no error", cond)
		}
	}
}

// TestGenMessage checks the generator the 1 MiB tests rely on: exact
// size, deterministic, lines within RFC 5322's limit, dot lines present.
func TestGenMessage(t *testing.T) {
	for _, size := range []int{400, 1000, 4096, 1 << 20} {
		a, err := genMessage(size)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := genMessage(size)
		if len(a) != size || string(a) != string(b) {
			t.Fatalf("size %d: got %d bytes, deterministic %v", size, len(a), string(a) == string(b))
		}
		if a[len(a)-1] != '\n' {
			t.Errorf("size %d: does not end with a line break", size)
		}
		for i, line := range strings.Split(string(a), "\n") {
			if len(line) > 998 {
				t.Errorf("size %d: line %d has %d octets", size, i+1, len(line))
			}
		}
		if size >= 4096 && !strings.Contains(string(a), "\n.\n") {
			t.Errorf("size %d: no lone dot line", size)
		}
	}
}

// TestStripSinkHeaders checks sink-message's parsing of an smtp-sink dump.
func TestStripSinkHeaders(t *testing.T) {
	dump := "X-Client-Addr: 127.0.0.1\nX-Client-Proto: ESMTP\nX-Helo-Args: vm\n" +
		"X-Mail-Args: <a@example.com>\nX-Rcpt-Args: <b@example.com>\n" +
		"Received: from vm ([127.0.0.1])\n\tby smtp-sink (smtp-sink) with ESMTP id 1;\n\tSun, 22 Nov 2026 22:27:53 +0000 (UTC)\n" +
		"From: a@example.com\nSubject: x\n\n.\nbody\n\n"
	got, err := stripSinkHeaders([]byte(dump))
	if err != nil {
		t.Fatal(err)
	}
	if want := "From: a@example.com\nSubject: x\n\n.\nbody\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := stripSinkHeaders([]byte("From: a@example.com\n\nbody\n")); err == nil {
		t.Error("a file without smtp-sink's headers: no error")
	}
}
