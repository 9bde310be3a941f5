package maildir

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"github.com/smtpkit/smtpkit/internal/durable"
)

// bufSize is the one buffer a delivery streams through.
const bufSize = 64 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// maxTries bounds the retries when a fresh name is taken anyway (another
// process with the same pid in a container sharing the maildir).
const maxTries = 8

// stageWorkers bounds how many extra copies are written and fsynced at once.
const stageWorkers = 8

// msgCopy is one copy of a message on its way into a maildir.
type msgCopy struct {
	dir     string
	prefix  []byte
	base    string // unique name, without ",S="
	tmp     string // path in tmp/, once created
	newPath string // path in new/, once linked
	size    int64
}

// writeFirst writes c.prefix and body into a new file in c.dir/tmp, fsyncs
// and closes it, and returns the number of body bytes.
func (s *Store) writeFirst(ctx context.Context, c *msgCopy, body io.Reader) (int64, error) {
	f, err := s.createTmp(c)
	if err != nil {
		return 0, err
	}
	n, err := writeBody(ctx, f, c.tmp, c.prefix, body)
	if err != nil {
		f.Close()
		return 0, err
	}
	if err := syncClose(f, c.tmp); err != nil {
		return 0, err
	}
	c.size = int64(len(c.prefix)) + n
	return n, nil
}

// writeBody writes prefix and then body to f through one pooled buffer.
// A failing body gives a *BodyError, a failing write a *Error.
func writeBody(ctx context.Context, f io.Writer, path string, prefix []byte, body io.Reader) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp

	// A prefix that fits goes out with the first chunk of body.
	n := 0
	if len(prefix) <= len(buf) {
		n = copy(buf, prefix)
	} else if _, err := f.Write(prefix); err != nil {
		return 0, newError("write", path, err)
	}
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("maildir: deliver: %w", err)
		}
		m, rerr := body.Read(buf[n:])
		n += m
		total += int64(m)
		if rerr != nil && rerr != io.EOF {
			return 0, &BodyError{Err: rerr}
		}
		if n == len(buf) || (rerr == io.EOF && n > 0) {
			if _, err := f.Write(buf[:n]); err != nil {
				return 0, newError("write", path, err)
			}
			n = 0
		}
		if rerr == io.EOF {
			return total, nil
		}
	}
}

// stageCopies produces copies[1:] from the first copy, several at a time.
func (s *Store) stageCopies(copies []*msgCopy, bodySize int64) error {
	rest := copies[1:]
	if len(rest) == 0 {
		return nil
	}
	errs := make([]error, len(rest))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(len(rest), stageWorkers) {
		wg.Go(func() {
			for i := range work {
				errs[i] = s.stageCopy(copies[0], rest[i], bodySize)
			}
		})
	}
	for i := range rest {
		work <- i
	}
	close(work)
	wg.Wait()
	return firstError(errs)
}

// stageCopy puts c in c.dir/tmp: a hard link to the first copy when the
// prefixes are equal and the filesystem allows, a copy of first's body
// behind c's own prefix otherwise.
func (s *Store) stageCopy(first, c *msgCopy, bodySize int64) error {
	if bytes.Equal(c.prefix, first.prefix) {
		err := s.linkTmp(first, c)
		if err == nil {
			c.size = first.size
			return nil
		}
		if !linkUnsupported(err) {
			return err
		}
	}

	src, err := os.Open(first.tmp)
	if err != nil {
		return newError("open", first.tmp, err)
	}
	defer src.Close()
	if _, err := src.Seek(int64(len(first.prefix)), io.SeekStart); err != nil {
		return newError("copy", first.tmp, err)
	}
	dst, err := s.createTmpFile(c)
	if err != nil {
		return err
	}
	if _, err := dst.Write(c.prefix); err != nil {
		dst.Close()
		return newError("write", c.tmp, err)
	}
	// io.LimitReader hides src's WriteTo, so io.Copy uses dst.ReadFrom,
	// which lets the kernel copy (copy_file_range) without a user buffer.
	n, err := io.Copy(dst, io.LimitReader(src, bodySize))
	if err == nil && n != bodySize {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		dst.Close()
		return newError("copy", c.tmp, err)
	}
	if err := syncClose(dst, c.tmp); err != nil {
		return err
	}
	c.size = int64(len(c.prefix)) + bodySize
	return nil
}

// linkTmp makes c a hard link to first's file under a fresh name in
// c.dir/tmp. The shared inode was fsynced when first was written.
func (s *Store) linkTmp(first, c *msgCopy) error {
	ensured := false
	for try := 0; ; try++ {
		base := s.uniqueName()
		path := filepath.Join(c.dir, "tmp", base)
		err := os.Link(first.tmp, path)
		if err == nil {
			c.base, c.tmp = base, path
			return nil
		}
		if errors.Is(err, fs.ErrExist) && try < maxTries {
			continue
		}
		if errors.Is(err, fs.ErrNotExist) && !ensured {
			if _, serr := os.Stat(first.tmp); serr == nil {
				ensured = true
				if err := Ensure(c.dir); err != nil {
					return err
				}
				continue
			}
		}
		return newError("link", path, err)
	}
}

// linkUnsupported reports link errors that copying avoids: another
// filesystem, too many links, or a filesystem without hard links.
func linkUnsupported(err error) bool {
	return errors.Is(err, syscall.EXDEV) || errors.Is(err, syscall.EMLINK) ||
		errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOTSUP) ||
		errors.Is(err, syscall.EOPNOTSUPP)
}

// createTmp creates a new file in c.dir/tmp under a fresh name with O_EXCL
// and mode 0600, creating the maildir if tmp/ is missing.
func (s *Store) createTmp(c *msgCopy) (durable.File, error) {
	return s.createTmpWith(c, durable.CreateRaw)
}

// createTmpFile is createTmp for copies, which need an *os.File so io.Copy
// can let the kernel copy (copy_file_range).
func (s *Store) createTmpFile(c *msgCopy) (*os.File, error) {
	f, err := s.createTmpWith(c, func(path string) (durable.File, error) {
		f, err := durable.CreateExcl(path)
		if err != nil {
			return nil, err
		}
		return f, nil
	})
	if err != nil {
		return nil, err
	}
	return f.(*os.File), nil
}

func (s *Store) createTmpWith(c *msgCopy, create func(string) (durable.File, error)) (durable.File, error) {
	ensured := false
	for try := 0; ; try++ {
		base := s.uniqueName()
		path := filepath.Join(c.dir, "tmp", base)
		f, err := create(path)
		if err == nil {
			c.base, c.tmp = base, path
			return f, nil
		}
		if errors.Is(err, fs.ErrExist) && try < maxTries {
			continue
		}
		if errors.Is(err, fs.ErrNotExist) && !ensured {
			ensured = true
			if err := Ensure(c.dir); err != nil {
				return nil, err
			}
			continue
		}
		return nil, newError("create", path, err)
	}
}

// syncClose fsyncs and closes f, reporting either failure: a write error
// can surface only at fsync or close (NFS, quotas).
func syncClose(f durable.File, path string) error {
	return wrap(durable.SyncClose(f, path))
}

// link links c's tmp/ file into new/ as "<base>,S=<size>". link(2) fails
// rather than replace an existing name; a taken name gets a fresh one.
func (s *Store) link(c *msgCopy) error {
	base := c.base
	for try := 0; ; try++ {
		path := filepath.Join(c.dir, "new", base+",S="+strconv.FormatInt(c.size, 10))
		err := os.Link(c.tmp, path)
		if err == nil {
			c.newPath = path
			return nil
		}
		if errors.Is(err, fs.ErrExist) && try < maxTries {
			base = s.uniqueName()
			continue
		}
		return newError("link", path, err)
	}
}

// discard removes every name a failed delivery created, in new/ first so a
// reader stops seeing the message as soon as possible.
func discard(copies []*msgCopy) {
	for _, c := range copies {
		if c.newPath != "" {
			_ = os.Remove(c.newPath)
		}
	}
	for _, c := range copies {
		if c.tmp != "" {
			_ = os.Remove(c.tmp)
		}
	}
}
