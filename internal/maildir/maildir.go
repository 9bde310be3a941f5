// Package maildir delivers messages into maildirs durably: a delivery
// returns success only once the message is on disk in new/, and a failed
// delivery leaves nothing there (internal/durable).
//
// Each copy is created in tmp/ with O_EXCL and mode 0600, written, fsynced
// and closed (the close is checked); then it is linked into new/ with
// link(2), which never replaces an existing name, the new/ directory is
// fsynced, and the tmp/ name is removed. Directory fsyncs of concurrent
// deliveries to the same maildir are shared (group commit, see syncer); the
// file fsyncs are each writer's own.
//
// File names follow the maildir convention
// (https://cr.yp.to/proto/maildir.html, with Dovecot's ",S=" size field):
// "SECONDS.M<usec>P<pid>Q<seq>.<host>,S=<size>".
package maildir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Store.
type Options struct {
	// Hostname goes into every file name; empty means os.Hostname().
	Hostname string
	// Now is the clock for file names; nil means time.Now.
	Now func() time.Time
	// DirSyncs bounds the fsyncs of one new/ directory in flight at once
	// (group commit); 0 means DefaultDirSyncs.
	DirSyncs int
}

// DefaultDirSyncs is how many fsyncs of one new/ run at once by default.
const DefaultDirSyncs = 4

// Store delivers into any number of maildirs. It is safe for concurrent use
// by many sessions, and it must be shared by them: concurrent deliveries to
// one maildir share directory fsyncs only within one Store.
type Store struct {
	host string
	now  func() time.Time
	pid  int

	mu       sync.Mutex
	syncers  map[string]*syncer // by new/ path, while a delivery uses it
	dirSyncs int

	hooks *hooks // tests only
}

// NewStore returns a Store with the given options.
func NewStore(o Options) *Store {
	dirSyncs := o.DirSyncs
	if dirSyncs <= 0 {
		dirSyncs = DefaultDirSyncs
	}
	host := o.Hostname
	if host == "" {
		host, _ = os.Hostname()
	}
	if host == "" {
		host = "localhost"
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Store{
		host:     hostEscaper.Replace(host),
		now:      now,
		pid:      os.Getpid(),
		syncers:  make(map[string]*syncer),
		dirSyncs: dirSyncs,
	}
}

// Target is one copy of a message: the maildir to deliver into and the
// header lines (Return-Path, Delivered-To, Received...) that go before the
// body in this copy. Prefix is written as is.
type Target struct {
	Dir    string
	Prefix []byte
}

// Delivered is a copy on disk: its path in new/ and its size in bytes
// (prefix plus body).
type Delivered struct {
	Path string
	Size int64
}

// Deliver writes prefix followed by body into the maildir dir and returns
// once the message is durable in dir/new. The maildir is created (as by
// Ensure) if its tmp/ folder is missing. body is streamed, never held in
// memory.
//
// On failure nothing is left in new/ or tmp/, and the error is a *BodyError
// when body failed (wrapping the reader's error), a *Error for a filesystem
// failure (Full for ENOSPC/EDQUOT), or ctx's error wrapped when ctx ended
// before the message was linked. ctx is not watched once the message is
// linked: the directory fsync is then always waited for.
func (s *Store) Deliver(ctx context.Context, dir string, prefix []byte, body io.Reader) (Delivered, error) {
	d, err := s.DeliverCopies(ctx, []Target{{Dir: dir, Prefix: prefix}}, body)
	if err != nil {
		return Delivered{}, err
	}
	return d[0], nil
}

// DeliverCopies delivers one message to several maildirs, one copy per
// target, reading body once: the first copy is written from body, and the
// others are produced from the first copy's file, each with its own prefix.
// A copy whose prefix equals the first one's is a hard link to it when the
// maildirs share a filesystem (a copy otherwise).
//
// It returns, in target order, only after every copy is durable in its new/
// folder. On any failure every copy is removed again, from new/ and tmp/,
// and the error is as for Deliver. Two targets naming the same maildir get
// two copies.
func (s *Store) DeliverCopies(ctx context.Context, targets []Target, body io.Reader) (_ []Delivered, err error) {
	if len(targets) == 0 {
		return nil, errors.New("maildir: deliver: no targets")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("maildir: deliver: %w", err)
	}
	copies := make([]*msgCopy, len(targets))
	for i, t := range targets {
		copies[i] = &msgCopy{dir: t.Dir, prefix: t.Prefix}
	}
	defer func() {
		if err != nil {
			discard(copies)
		}
	}()

	bodySize, err := s.writeFirst(ctx, copies[0], body)
	if err != nil {
		return nil, err
	}
	if err := s.stageCopies(copies, bodySize); err != nil {
		return nil, err
	}
	// Last chance to give up: from here on the message becomes visible.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("maildir: deliver: %w", err)
	}
	for _, c := range copies {
		if err := s.link(c); err != nil {
			return nil, err
		}
	}
	if err := s.commitAll(copies); err != nil {
		return nil, err
	}

	out := make([]Delivered, len(copies))
	for i, c := range copies {
		// The message is durable under its new/ name; a tmp/ name left
		// behind by a failed remove is only garbage, which maildir readers
		// clean up, so it does not turn the delivery into a failure.
		_ = os.Remove(c.tmp)
		out[i] = Delivered{Path: c.newPath, Size: c.size}
	}
	return out, nil
}

// commitAll waits until the new/ folder of every copy has been fsynced
// after its link; the folders are fsynced concurrently.
func (s *Store) commitAll(copies []*msgCopy) error {
	if len(copies) == 1 {
		return s.commit(copies[0])
	}
	errs := make([]error, len(copies))
	var wg sync.WaitGroup
	for i, c := range copies {
		wg.Go(func() { errs[i] = s.commit(c) })
	}
	wg.Wait()
	return firstError(errs)
}

// commit waits for a group-committed fsync of c's new/ folder that started
// after c was linked.
func (s *Store) commit(c *msgCopy) error {
	y := s.acquire(filepath.Join(c.dir, "new"))
	defer s.release(y)
	gen, err := y.commit()
	if h := s.hooks; h != nil && h.committed != nil {
		h.committed(y, gen, err)
	}
	return err
}

func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// seq numbers file names process-wide: every Store in the process shares
// the P<pid> part of the name, so the counter that keeps names apart within
// one microsecond must be shared too.
var seq atomic.Uint64

// uniqueName returns "SECONDS.M<usec>P<pid>Q<seq>.<host>".
func (s *Store) uniqueName() string {
	t := s.now()
	b := make([]byte, 0, 48+len(s.host))
	b = strconv.AppendInt(b, t.Unix(), 10)
	b = append(b, ".M"...)
	b = strconv.AppendInt(b, int64(t.Nanosecond()/1000), 10)
	b = append(b, 'P')
	b = strconv.AppendInt(b, int64(s.pid), 10)
	b = append(b, 'Q')
	b = strconv.AppendUint(b, seq.Add(1), 10)
	b = append(b, '.')
	b = append(b, s.host...)
	return string(b)
}

// hostEscaper keeps the host part from containing a path separator or the
// ':' that starts the info part of a maildir name.
var hostEscaper = strings.NewReplacer("/", `\057`, ":", `\072`)
