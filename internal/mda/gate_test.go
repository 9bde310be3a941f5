package mda

import (
	"io"
	"strings"
	"testing"
)

// TestClientGate: one address gets n slots and its next caller waits for
// one to be given back, while another address is not held up; addresses
// with no holder keep no state.
func TestClientGate(t *testing.T) {
	g := newClientGate(2)
	r1 := g.acquire("192.0.2.1")
	r2 := g.acquire("192.0.2.1")
	if s := g.slots["192.0.2.1"]; len(s.sem) != cap(s.sem) {
		t.Fatalf("two holders: %d of %d slots taken", len(s.sem), cap(s.sem))
	}

	got := make(chan func())
	go func() { got <- g.acquire("192.0.2.1") }()
	// Another address goes through while the first one is full (this
	// would hang if it shared the slots).
	g.acquire("198.51.100.7")()

	r1()
	r1() // a second release is a no-op
	r3 := <-got
	r2()
	r3()
	if len(g.slots) != 0 {
		t.Fatalf("idle addresses kept: %v", g.slots)
	}
}

// TestGatedBody: the slot is taken when the body ends, not before, and
// not at all when the body fails.
func TestGatedBody(t *testing.T) {
	taken := 0
	b := &gatedBody{r: strings.NewReader("hello"), acquire: func() func() { taken++; return func() { taken-- } }}
	buf := make([]byte, 2)
	for i := 0; i < 3; i++ {
		if _, err := b.Read(buf); err != nil {
			t.Fatal(err)
		}
		if taken != 0 {
			t.Fatalf("slot taken after %d reads, before the end", i+1)
		}
	}
	if _, err := b.Read(buf); err != io.EOF {
		t.Fatalf("read at the end: %v", err)
	}
	if _, err := b.Read(buf); err != io.EOF || taken != 1 {
		t.Fatalf("after the end: %v, %d slots", err, taken)
	}
	b.done()
	if taken != 0 {
		t.Fatalf("done left %d slots taken", taken)
	}

	failed := &gatedBody{r: io.MultiReader(strings.NewReader("x"), errReader{}), acquire: func() func() { taken++; return func() {} }}
	if _, err := io.ReadAll(failed); err == nil || taken != 0 {
		t.Fatalf("failing body: %v, %d slots", err, taken)
	}
	failed.done()
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }
