package message

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Prepared is a message ready to be streamed over SMTP DATA or BDAT. Its
// content is held in memory only when small; otherwise it lives in a temp
// file of ours or is read in place from the user's file, so memory use does
// not grow with message size.
//
// The content Open returns has CRLF line endings throughout, ends with CRLF,
// and is not dot-stuffed: DATA needs the client to dot-stuff it, BDAT sends
// it as is.
type Prepared struct {
	// Size is the number of octets Open returns: line endings normalised to
	// CRLF, a DKIM-Signature field included, no dot-stuffing. It is what
	// MAIL FROM's SIZE parameter (RFC 1870) announces.
	Size int64
	// EightBit reports an octet >= 0x80 anywhere in the message, so sending
	// it needs BODY=8BITMIME (RFC 6152).
	EightBit bool
	// UTF8Headers reports non-ASCII in the header section: sending it needs
	// SMTPUTF8 (RFC 6531, RFC 6532).
	UTF8Headers bool

	prefix  []byte // sent first: a DKIM-Signature field, the header section
	mem     []byte // then the rest, when it is held in memory,
	path    string // or the rest, read from this file at offset
	offset  int64
	temp    bool // path is our temp file: Close removes it
	raw     bool // path is the user's file: normalise line endings on Open
	stamp   fileStamp
	summary Summary
	names   []string // header field names in order, for DKIM

	mu     sync.Mutex
	closed bool
}

// fileStamp identifies the version of a user's file that was scanned.
type fileStamp struct {
	size int64
	mod  time.Time
}

// DataOptions tells FromFile and FromReader what to change in the user's
// message.
type DataOptions struct {
	// Headers holds "Name: value" fields, like swaks --header: each replaces
	// every field of that name (compared case-insensitively; the first keeps
	// its place, the others go) or is added at the end of the header
	// section. Values are used verbatim, folded at white space; non-ASCII
	// stays UTF-8 and sets UTF8Headers.
	Headers []string
	// TempDir is where temp files go; "" means os.TempDir().
	TempDir string
	// DKIM, when set, signs the message (see DKIMOptions).
	DKIM *DKIMOptions
}

// Open returns the whole message from its first octet: exactly Size octets.
// It may be called any number of times, also concurrently, until Close; each
// reader must be closed.
//
// A user's file read in place is checked on each Open: if its size or
// modification time changed since it was scanned, Open returns a
// *MessageError. A user's file that has become unreadable gives its
// *os.PathError; our own temp file failing gives an *IOError.
func (p *Prepared) Open() (io.ReadCloser, error) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, errors.New("message: open after close")
	}
	if p.path == "" {
		return io.NopCloser(io.MultiReader(bytes.NewReader(p.prefix), bytes.NewReader(p.mem))), nil
	}
	f, err := os.Open(p.path)
	if err != nil {
		if p.temp {
			return nil, &IOError{Op: "reopen temp file", Err: err}
		}
		return nil, fmt.Errorf("message: %w", err)
	}
	if !p.temp {
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("message: %w", err)
		}
		if st.Size() != p.stamp.size || !st.ModTime().Equal(p.stamp.mod) {
			f.Close()
			return nil, &MessageError{Source: "message " + p.path, Reason: "file changed since it was read"}
		}
	}
	if _, err := f.Seek(p.offset, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("message: %w", err)
	}
	var rest io.Reader = f
	if p.raw {
		rest = newCRLFReader(f)
	}
	return &fileReader{Reader: io.MultiReader(bytes.NewReader(p.prefix), rest), f: f}, nil
}

type fileReader struct {
	io.Reader
	f *os.File
}

func (r *fileReader) Close() error { return r.f.Close() }

// Close removes the temp file, if any. Open fails after Close. Closing twice
// is harmless.
func (p *Prepared) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	p.mem = nil
	if p.temp {
		if err := os.Remove(p.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return &IOError{Op: "remove temp file", Err: err}
		}
	}
	return nil
}

// Summary returns the From, To, Subject, Date and Message-ID fields of the
// message, for the CLI's output and --dry-run.
func (p *Prepared) Summary() Summary {
	return p.summary
}

// FromFile prepares the user's whole RFC 5322 message in path (--data @FILE).
// The message is sent as it is, apart from its line endings (all become
// CRLF), the edits in opts.Headers, a DKIM signature when asked, and the
// empty line a message with no body gets after its header. The file is
// scanned once and read again in place on each Open; a FIFO or other
// non-regular file is copied to a temp file instead.
//
// A missing or unreadable file gives its *os.PathError, wrapped. An empty
// file, a file whose first line is neither a header field nor a blank line,
// or a header section over 1 MiB gives a *MessageError, as does a malformed
// entry in opts.Headers. DKIM errors are described on DKIMOptions. Temp file
// failures give an *IOError.
func FromFile(path string, opts DataOptions) (*Prepared, error) {
	edits, err := parseHeaderEdits(opts.Headers)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	source := "message " + path
	if !st.Mode().IsRegular() {
		return fromStream(f, source, opts, edits)
	}

	br := bufio.NewReaderSize(f, chunkSize)
	hs, err := readHeaderSection(br, source)
	if err != nil {
		return nil, wrapRead(err)
	}
	p := &Prepared{
		path:   path,
		offset: hs.n - int64(len(hs.rest)),
		raw:    true,
		stamp:  fileStamp{size: st.Size(), mod: st.ModTime()},
	}
	p.setHeader(hs, edits)
	m := &meter{}
	m.Write(p.prefix) //nolint:errcheck // meter never fails
	cw := newCRLFWriter(m)
	if _, err := io.Copy(cw, io.MultiReader(bytes.NewReader(hs.rest), br)); err != nil {
		return nil, wrapRead(err)
	}
	cw.Close() //nolint:errcheck // meter never fails
	p.Size, p.EightBit = m.n, m.eight
	return p.finish(opts.DKIM)
}

// FromReader prepares the whole RFC 5322 message read from r (--data -). It
// behaves like FromFile, except that the message is copied, line endings
// already converted, into memory when small and into a 0600 temp file in
// opts.TempDir otherwise; Close removes the file.
//
// Errors are those of FromFile; read errors of r are returned wrapped.
func FromReader(r io.Reader, opts DataOptions) (*Prepared, error) {
	edits, err := parseHeaderEdits(opts.Headers)
	if err != nil {
		return nil, err
	}
	return fromStream(r, "message", opts, edits)
}

func fromStream(r io.Reader, source string, opts DataOptions, edits []headerEdit) (*Prepared, error) {
	br := bufio.NewReaderSize(r, chunkSize)
	hs, err := readHeaderSection(br, source)
	if err != nil {
		return nil, wrapRead(err)
	}
	p := &Prepared{}
	p.setHeader(hs, edits)
	sp := &spill{dir: opts.TempDir}
	m := &meter{}
	m.Write(p.prefix) //nolint:errcheck // meter never fails
	cw := newCRLFWriter(io.MultiWriter(m, sp))
	_, err = io.Copy(cw, io.MultiReader(bytes.NewReader(hs.rest), br))
	if err == nil {
		err = cw.Close()
	}
	if err == nil {
		err = sp.finish()
	}
	if err != nil {
		sp.discard()
		return nil, wrapRead(err)
	}
	p.Size, p.EightBit = m.n, m.eight
	p.mem, p.path, p.temp = sp.buf, sp.path, sp.path != ""
	return p.finish(opts.DKIM)
}

// setHeader makes the edited header section the prefix of p.
func (p *Prepared) setHeader(hs *headerSection, edits []headerEdit) {
	fields := applyEdits(hs.fields, edits)
	head := headerBytes(fields)
	if !hs.blank && len(hs.rest) == 0 {
		// RFC 5322 2.1: a header-only message; the empty line lets a DKIM
		// verifier (and any strict parser) find where the header ends.
		head = append(head, '\r', '\n')
	}
	p.prefix = head
	p.UTF8Headers = hasHigh(head)
	p.summary = summarize(fields)
	p.names = make([]string, len(fields))
	for i, f := range fields {
		p.names[i] = f.name
	}
}

// finish signs p when asked; on failure it releases p.
func (p *Prepared) finish(o *DKIMOptions) (*Prepared, error) {
	if o == nil {
		return p, nil
	}
	if err := p.sign(o); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// wrapRead gives read errors their context; our own errors pass unchanged.
func wrapRead(err error) error {
	var me *MessageError
	var ie *IOError
	if errors.As(err, &me) || errors.As(err, &ie) {
		return err
	}
	return fmt.Errorf("message: %w", err)
}

// memLimit is how much content stays in memory before it spills to a file.
const memLimit = 256 << 10

// spill keeps what is written to it in memory up to memLimit octets, then
// moves it to a 0600 temp file in dir (os.CreateTemp) and writes on there.
type spill struct {
	dir  string
	buf  []byte
	f    *os.File
	bw   *bufio.Writer
	path string
}

func (s *spill) Write(p []byte) (int, error) {
	if s.f == nil {
		if need := len(s.buf) + len(p); need <= memLimit {
			if need > cap(s.buf) {
				// Grow by doubling, but never past memLimit.
				b := make([]byte, len(s.buf), min(max(2*cap(s.buf), need, 4096), memLimit))
				copy(b, s.buf)
				s.buf = b
			}
			s.buf = append(s.buf, p...)
			return len(p), nil
		}
		f, err := os.CreateTemp(s.dir, "smtpkit-*.eml")
		if err != nil {
			return 0, &IOError{Op: "create temp file", Err: err}
		}
		s.f, s.path = f, f.Name()
		s.bw = bufio.NewWriterSize(f, chunkSize)
		if _, err := s.bw.Write(s.buf); err != nil {
			return 0, &IOError{Op: "write temp file", Err: err}
		}
		s.buf = nil
	}
	n, err := s.bw.Write(p)
	if err != nil {
		return n, &IOError{Op: "write temp file", Err: err}
	}
	return n, nil
}

// finish flushes and closes the temp file, if any.
func (s *spill) finish() error {
	if s.f == nil {
		return nil
	}
	err := s.bw.Flush()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	if err != nil {
		return &IOError{Op: "write temp file", Err: err}
	}
	return nil
}

// open reads back what was written, after finish.
func (s *spill) open() (io.ReadCloser, error) {
	if s.path == "" {
		return io.NopCloser(bytes.NewReader(s.buf)), nil
	}
	f, err := os.Open(s.path)
	if err != nil {
		return nil, &IOError{Op: "reopen temp file", Err: err}
	}
	return f, nil
}

// discard removes the temp file, if any.
func (s *spill) discard() {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	if s.path != "" {
		os.Remove(s.path)
		s.path = ""
	}
	s.buf = nil
}
