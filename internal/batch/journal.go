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
)

// ErrLocked is returned by Lock when another run holds the lock.
var ErrLocked = errors.New("another batch run holds the lock")

// Journal is the --state file, append-only, one line per event:
//
//	?N   row N's end of data is about to be sent (synced to disk first)
//	N    the server accepted row N
//	-N   row N's end of data was refused or never reached the server
//
// A rerun skips accepted rows. A row left at "?N" was killed (or lost its
// connection) between the end of data and the server's reply: the server
// may have it (RFC 1047), so a rerun reports it unconfirmed instead of
// sending it twice. Only "?N" is waited on: each sync also covers the
// lines written before it, and sessions waiting at the same time share
// one fsync.
type Journal struct {
	mu       sync.Mutex // the file's offset, the maps, written, werr
	f        *os.File
	done     map[int]bool
	inflight map[int]bool
	written  uint64 // lines written
	werr     error  // sticky: after a failed write the file may end torn

	smu    sync.Mutex // one fsync at a time
	synced uint64     // lines covered by the last fsync
	serr   error      // sticky: a failed fsync may have lost pages
}

// OpenJournal opens (or creates) the journal at path and reads what earlier
// runs recorded. A last line without its newline is a write torn by a
// crash: it is ignored and the file is cut back to the last complete line.
func OpenJournal(path string) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	j := &Journal{f: f, done: map[int]bool{}, inflight: map[int]bool{}}
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
		start := off
		off += int64(len(line))
		text := strings.TrimSpace(line)
		kind := byte(0)
		if text != "" && (text[0] == '?' || text[0] == '-') {
			kind, text = text[0], text[1:]
		}
		n, perr := strconv.Atoi(text)
		if perr != nil || n < 1 || text[0] == '+' {
			return 0, fmt.Errorf("line at offset %d: not a journal line (want N, ?N or -N)", start)
		}
		switch kind {
		case '?':
			if !j.done[n] {
				j.inflight[n] = true
			}
		case '-':
			delete(j.inflight, n)
		default:
			j.done[n] = true
			delete(j.inflight, n)
		}
	}
}

// Done reports whether the server accepted row n in an earlier run.
func (j *Journal) Done(n int) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.done[n]
}

// Unconfirmed reports whether row n's end of data was sent by an earlier
// run that never recorded the server's reply to it.
func (j *Journal) Unconfirmed(n int) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.inflight[n]
}

// Len is the number of rows recorded as accepted.
func (j *Journal) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.done)
}

// Begin records that row n's end of data is about to be sent and waits
// until the record is on disk. Safe for concurrent use.
func (j *Journal) Begin(n int) error {
	seq, err := j.append("?" + strconv.Itoa(n) + "\n")
	if err != nil {
		return err
	}
	return j.syncTo(seq)
}

// Accept records that the server accepted row n. It does not wait for
// the disk: the next Begin's sync, or Close, covers it, and until then the
// synced "?N" keeps the row from being sent again.
func (j *Journal) Accept(n int) error {
	j.mu.Lock()
	j.done[n] = true
	delete(j.inflight, n)
	j.mu.Unlock()
	_, err := j.append(strconv.Itoa(n) + "\n")
	return err
}

// Release records that row n was not accepted after its Begin: the end of
// data was refused, or never reached the server. A rerun sends it again.
func (j *Journal) Release(n int) error {
	_, err := j.append("-" + strconv.Itoa(n) + "\n")
	return err
}

func (j *Journal) append(line string) (uint64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.werr != nil {
		return 0, j.werr
	}
	if _, err := j.f.WriteString(line); err != nil {
		j.werr = fmt.Errorf("state: %w", err)
		return 0, j.werr
	}
	j.written++
	return j.written, nil
}

// syncTo returns once line seq is on disk; one fsync serves every line
// written before it started.
func (j *Journal) syncTo(seq uint64) error {
	j.smu.Lock()
	defer j.smu.Unlock()
	if j.serr != nil {
		return j.serr
	}
	if j.synced >= seq {
		return nil
	}
	j.mu.Lock()
	upto := j.written
	j.mu.Unlock()
	if err := j.f.Sync(); err != nil {
		j.serr = fmt.Errorf("state: %w", err)
		return j.serr
	}
	j.synced = upto
	return nil
}

// Close syncs what was written since the last sync and closes the file.
func (j *Journal) Close() error {
	j.mu.Lock()
	seq := j.written
	j.mu.Unlock()
	err := j.syncTo(seq)
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	return err
}
