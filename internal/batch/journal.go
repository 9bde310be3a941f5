package batch

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// ErrLocked is returned by Lock when another run holds the lock.
var ErrLocked = errors.New("another batch run holds the lock")

// Journal is the --state file: one line per row the server accepted,
// appended and synced to disk before the row counts as sent, so a rerun
// after a crash, kill or reboot skips it.
type Journal struct {
	mu   sync.Mutex
	f    *os.File
	done map[int]bool
}

// OpenJournal opens (or creates) the journal at path and reads the rows
// already accepted. A last line without its newline is a write torn by a
// crash: it is ignored (that row was not reported accepted) and the file
// is cut back to the last complete line.
func OpenJournal(path string) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	j := &Journal{f: f, done: map[int]bool{}}
	good, err := j.load()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	return j, nil
}

// load reads complete lines and returns the offset after the last one.
func (j *Journal) load() (int64, error) {
	br := bufio.NewReader(j.f)
	var off int64
	for {
		line, err := br.ReadString('\n')
		if errors.Is(err, io.EOF) {
			return off, nil // a torn last line (or nothing) is dropped
		}
		if err != nil {
			return 0, err
		}
		off += int64(len(line))
		n, perr := strconv.Atoi(strings.TrimSpace(line))
		if perr != nil || n < 1 {
			return 0, fmt.Errorf("line at offset %d: not a row number", off-int64(len(line)))
		}
		j.done[n] = true
	}
}

// Done reports whether row n was accepted by an earlier run.
func (j *Journal) Done(n int) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.done[n]
}

// Len is the number of rows recorded.
func (j *Journal) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.done)
}

// Accept appends row n and syncs the file. Safe for concurrent use.
func (j *Journal) Accept(n int) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.WriteString(strconv.Itoa(n) + "\n"); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	j.done[n] = true
	return nil
}

// Close closes the file.
func (j *Journal) Close() error { return j.f.Close() }

// Lock takes a non-blocking exclusive flock on path (created if missing)
// and returns the function that releases it. ErrLocked means another run
// holds it.
func Lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
