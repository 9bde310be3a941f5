package mda

import (
	"io"
	"sync"
)

// DefaultCommitsPerClient is how many messages from one client address
// are made durable at once unless Options say otherwise: enough to keep a
// disk's fsync queue busy (20 concurrent writers already reach the raw
// durable-write rate here, see scripts/bench/results.md), few enough that
// one client running a thousand sessions cannot queue every other
// client's mail behind its own.
const DefaultCommitsPerClient = 16

// clientGate lets at most n deliveries per client address hold a slot at
// once; the others wait their turn, in order. Like Postfix's anvil limits
// it is per client, so a flood from one address slows only that address.
type clientGate struct {
	n     int
	mu    sync.Mutex
	slots map[string]*gateSlot
}

type gateSlot struct {
	sem   chan struct{}
	users int // guarded by clientGate.mu: holders and waiters
}

func newClientGate(n int) *clientGate {
	return &clientGate{n: n, slots: map[string]*gateSlot{}}
}

// acquire waits for one of ip's slots and returns the function that gives
// it back. Idle addresses keep no state.
func (g *clientGate) acquire(ip string) (release func()) {
	g.mu.Lock()
	s := g.slots[ip]
	if s == nil {
		s = &gateSlot{sem: make(chan struct{}, g.n)}
		g.slots[ip] = s
	}
	s.users++
	g.mu.Unlock()
	s.sem <- struct{}{}
	var once sync.Once
	return func() {
		once.Do(func() {
			<-s.sem
			g.mu.Lock()
			if s.users--; s.users == 0 {
				delete(g.slots, ip)
			}
			g.mu.Unlock()
		})
	}
}

// gatedBody hands the message to the store, but reports its end (io.EOF)
// only once a gate slot is held. The slot thus covers what makes the
// message durable (fsync, link, directory fsync), never the transfer: a
// client that sends slowly holds no slot, and a message whose transfer
// fails never takes one.
type gatedBody struct {
	r       io.Reader
	acquire func() (release func())
	release func()
}

func (b *gatedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF && b.release == nil {
		b.release = b.acquire()
	}
	return n, err
}

// done gives the slot back, if one was taken.
func (b *gatedBody) done() {
	if b.release != nil {
		b.release()
	}
}
