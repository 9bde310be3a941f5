package maildir

import (
	"sync"

	"github.com/smtpkit/smtpkit/internal/durable"
)

// syncer coalesces the fsyncs of one new/ directory (group commit). Every
// link into the directory takes the next generation number; an fsync
// ("round") covers every generation handed out before it started, because
// those links had completed by then. A caller whose link finds a free slot
// starts a round at once; when all limit slots are busy it joins the
// pending round, which starts as soon as a slot frees and covers everyone
// who joined. No caller returns before a round that started after its link
// has completed.
//
// Several rounds may run at once: the kernel joins concurrent fsyncs into
// one journal commit anyway, and making a caller wait for a running round
// to end before its own could start would double its latency.
type syncer struct {
	dir   string
	hooks *hooks
	users int // guarded by Store.mu: deliveries holding this syncer
	limit int // rounds in flight at most

	mu       sync.Mutex
	cond     *sync.Cond // signalled when a round ends
	linked   uint64     // last generation handed out
	inflight int        // rounds running
	pending  *round     // the next round, gathering callers while all slots are busy
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
func (y *syncer) commit() (uint64, error) {
	y.mu.Lock()
	y.linked++
	gen := y.linked
	if h := y.hooks; h != nil && h.linked != nil {
		h.linked(y, gen)
	}
	if r := y.pending; r != nil {
		y.mu.Unlock()
		<-r.done
		return gen, r.err
	}
	r := &round{done: make(chan struct{})}
	if y.inflight >= y.limit {
		// All slots busy: lead the pending round, which starts when one
		// frees and covers every caller that joins meanwhile.
		y.pending = r
		for y.inflight >= y.limit {
			y.cond.Wait()
		}
		y.pending = nil
	}
	y.start(r)
	y.mu.Unlock()
	y.run(r)
	return gen, r.err
}

// start makes r a running round; y.mu is held.
func (y *syncer) start(r *round) {
	r.gen = y.linked
	y.inflight++
	if h := y.hooks; h != nil && h.syncStart != nil {
		h.syncStart(y, r.gen)
	}
}

// run performs r's fsync (y.mu not held) and releases its waiters.
func (y *syncer) run(r *round) {
	if h := y.hooks; h != nil && h.beforeSync != nil {
		h.beforeSync(y)
	}
	err := wrap(durable.SyncDir(y.dir))
	y.mu.Lock()
	if h := y.hooks; h != nil && h.syncEnd != nil {
		h.syncEnd(y, r.gen, err)
	}
	r.err = err
	y.inflight--
	close(r.done)
	y.cond.Signal()
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
		y = &syncer{dir: dir, hooks: s.hooks, limit: s.dirSyncs}
		y.cond = sync.NewCond(&y.mu)
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
