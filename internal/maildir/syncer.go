package maildir

import "sync"

// syncer coalesces the fsyncs of one new/ directory (group commit). Every
// link into the directory takes the next generation number; an fsync
// ("round") covers every generation handed out before it started, because
// those links had completed by then. A caller waits for the first round
// that starts after its own link, and all callers that linked while a round
// was in flight share the next one: N concurrent deliveries cost about two
// directory fsyncs instead of N, and none is acknowledged early.
type syncer struct {
	dir   string
	hooks *hooks
	users int // guarded by Store.mu: deliveries holding this syncer

	mu      sync.Mutex
	linked  uint64 // last generation handed out
	running *round // the fsync in flight, if any
	pending *round // the next fsync, gathering callers while running is busy
}

// round is one fsync of the directory.
type round struct {
	gen  uint64 // every generation <= gen was linked before this fsync started
	done chan struct{}
	err  error // set before done is closed
}

// commit records a link into the directory that has just completed, and
// returns once an fsync of the directory that started after it has
// completed, with that fsync's error. It returns the link's generation.
//
// The first caller of a pending round leads it: it waits for the running
// round to end and then runs the fsync itself, so no goroutine is spawned
// and the disk never sees two fsyncs of one directory at once.
func (y *syncer) commit() (uint64, error) {
	y.mu.Lock()
	y.linked++
	gen := y.linked
	if h := y.hooks; h != nil && h.linked != nil {
		h.linked(y, gen)
	}
	switch {
	case y.pending != nil:
		r := y.pending
		y.mu.Unlock()
		<-r.done
		return gen, r.err
	case y.running != nil:
		r := &round{done: make(chan struct{})}
		y.pending = r
		prev := y.running
		y.mu.Unlock()
		<-prev.done
		y.mu.Lock()
		y.pending = nil
		y.start(r)
		y.mu.Unlock()
		y.run(r)
		return gen, r.err
	default:
		r := &round{done: make(chan struct{})}
		y.start(r)
		y.mu.Unlock()
		y.run(r)
		return gen, r.err
	}
}

// start makes r the running round; y.mu is held.
func (y *syncer) start(r *round) {
	r.gen = y.linked
	y.running = r
	if h := y.hooks; h != nil && h.syncStart != nil {
		h.syncStart(y, r.gen)
	}
}

// run performs r's fsync (y.mu not held) and releases its waiters.
func (y *syncer) run(r *round) {
	if h := y.hooks; h != nil && h.beforeSync != nil {
		h.beforeSync(y)
	}
	err := syncDir(y.dir)
	y.mu.Lock()
	if h := y.hooks; h != nil && h.syncEnd != nil {
		h.syncEnd(y, r.gen, err)
	}
	r.err = err
	y.running = nil
	close(r.done)
	y.mu.Unlock()
}

// hooks let tests watch the group commit; nil in production. Generations
// count per syncer, and a syncer lives only while used, so events are told
// apart by syncer.
type hooks struct {
	linked     func(y *syncer, gen uint64)            // y.mu held
	syncStart  func(y *syncer, gen uint64)            // y.mu held, before the fsync
	beforeSync func(y *syncer)                        // y.mu not held, just before the fsync
	syncEnd    func(y *syncer, gen uint64, err error) // y.mu held, after the fsync
	committed  func(y *syncer, gen uint64, err error) // a caller's commit returns
}

// acquire returns the syncer for the new/ directory dir, creating it if no
// delivery holds one. Syncers live only while used, so a server delivering
// to many mailboxes keeps no state for idle ones.
func (s *Store) acquire(dir string) *syncer {
	s.mu.Lock()
	defer s.mu.Unlock()
	y := s.syncers[dir]
	if y == nil {
		y = &syncer{dir: dir, hooks: s.hooks}
		s.syncers[dir] = y
	}
	y.users++
	return y
}

func (s *Store) release(y *syncer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	y.users--
	if y.users == 0 {
		delete(s.syncers, y.dir)
	}
}
