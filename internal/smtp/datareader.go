package smtp

import (
	"bufio"
	"errors"
	"io"
)

// Errors the DATA and BDAT readers return. The session answers each with a
// 5xx after reading to the real end of the data, so one message can never
// be read as two (SMTP smuggling).
var (
	// ErrBareLineEnding: a CR not followed by LF, or an LF not preceded by
	// CR (RFC 5321 2.3.8: "CR and LF MUST only occur together as CRLF").
	ErrBareLineEnding = errors.New("message contains a bare CR or LF")
	// ErrLineTooLong: a text line longer than 1000 octets with CRLF (RFC
	// 5321 4.5.3.1.6).
	ErrLineTooLong = errors.New("message has a line longer than 1000 octets")
	// ErrTooBig: the message exceeds the server's SIZE (RFC 1870).
	ErrTooBig = errors.New("message exceeds the size limit")
)

// dataReader reads a DATA body (RFC 5321 4.1.1.4): it un-dot-stuffs, ends
// only at CRLF "." CRLF, and fails on any bare CR or LF, an overlong line or
// an oversized message. After an error it must be drained with drain, which
// reads to the real end of data without keeping anything.
type dataReader struct {
	br      *bufio.Reader
	maxLine int
	maxSize int64
	n       int64 // octets delivered (after un-stuffing)
	lineLen int   // octets on the current line so far
	state   int
	end     endState // where the raw octets stand on the way to CRLF.CRLF
	err     error    // sticky
	done    bool
	pending []byte // bytes decided but not yet returned
	pendBuf [2]byte
}

const (
	dStartLine = iota // at the beginning of a line
	dMid              // inside a line
	dCR               // saw CR inside a line
	dDot              // saw "." at the beginning of a line
	dDotCR            // saw "." CR at the beginning of a line
)

func newDataReader(br *bufio.Reader, maxLine int, maxSize int64) *dataReader {
	// The DATA command line's CRLF counts: an empty message is ".\r\n".
	return &dataReader{br: br, maxLine: maxLine, maxSize: maxSize, state: dStartLine, end: endCRLF}
}

func (r *dataReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.done {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) {
		if len(r.pending) > 0 {
			c := copy(p[n:], r.pending)
			r.pending = r.pending[c:]
			n += c
			r.n += int64(c)
			// The CRLF of a line counts too: unchecked, the last one
			// let a message two octets over SIZE through (found by
			// FuzzBDATChunks, which compares DATA with BDAT).
			if r.maxSize > 0 && r.n > r.maxSize {
				r.err = ErrTooBig
				return n, r.err
			}
			continue
		}
		if r.done {
			break
		}
		if n > 0 && r.br.Buffered() == 0 {
			break // do not block while holding data for the caller
		}
		b, err := r.br.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			r.err = err
			return n, err
		}
		r.end = r.end.next(b)
		out, err := r.step(b)
		if err != nil {
			r.err = err
			return n, err
		}
		if out >= 0 {
			p[n] = byte(out)
			n++
			r.n++
			if r.maxSize > 0 && r.n > r.maxSize {
				r.err = ErrTooBig
				return n, r.err
			}
		}
	}
	if n == 0 && r.done {
		return 0, io.EOF
	}
	return n, nil
}

// step advances the state machine by one input octet and returns the octet
// to deliver, or -1.
func (r *dataReader) step(b byte) (int, error) {
	r.lineLen++
	if r.maxLine > 0 && r.lineLen > r.maxLine {
		return -1, ErrLineTooLong
	}
	switch r.state {
	case dStartLine:
		switch b {
		case '.':
			r.state = dDot
			return -1, nil
		case '\r':
			r.state = dCR
			return -1, nil
		case '\n':
			return -1, ErrBareLineEnding
		}
		r.state = dMid
		return int(b), nil
	case dMid:
		switch b {
		case '\r':
			r.state = dCR
			return -1, nil
		case '\n':
			return -1, ErrBareLineEnding
		}
		return int(b), nil
	case dCR:
		if b != '\n' {
			return -1, ErrBareLineEnding
		}
		r.state, r.lineLen = dStartLine, 0
		r.pendBuf = [2]byte{'\r', '\n'}
		r.pending = r.pendBuf[:2]
		return -1, nil
	case dDot:
		switch b {
		case '\r':
			r.state = dDotCR
			return -1, nil
		case '\n':
			return -1, ErrBareLineEnding
		}
		// RFC 5321 4.5.2: a leading dot was doubled; drop one. It does not
		// count towards the line length either (4.5.3.1.6).
		r.state = dMid
		r.lineLen--
		return int(b), nil
	case dDotCR:
		if b != '\n' {
			return -1, ErrBareLineEnding
		}
		r.done = true
		return -1, nil
	}
	return -1, nil
}

// endState follows the raw octets on the way to CRLF "." CRLF, ignoring
// everything else. Read advances it for every octet it consumes, whatever
// the parser made of it, so that drain resumes exactly where the octets
// left off: an error on the LF of "\r\n.\n" or on the "X" of "\rX\n" must
// not let a following ".\r\n" or "\n.\r\n" end the data (SMTP
// smuggling), and an error on the CR of a CRLF must not hide the
// CRLF.CRLF that follows.
type endState uint8

const (
	endNone      endState = iota
	endCR                 // CR
	endCRLF               // CRLF
	endCRLFDot            // CRLF "."
	endCRLFDotCR          // CRLF "." CR
	endDone               // CRLF "." CRLF
)

func (e endState) next(b byte) endState {
	switch {
	case b == '\r' && e == endCRLFDot:
		return endCRLFDotCR
	case b == '\r':
		return endCR
	case b == '\n' && e == endCR:
		return endCRLF
	case b == '.' && e == endCRLF:
		return endCRLFDot
	case b == '\n' && e == endCRLFDotCR:
		return endDone
	}
	return endNone
}

// drain reads to the end of the data (CRLF "." CRLF, recognised strictly)
// after an error, discarding everything. It returns the I/O error, if any.
func (r *dataReader) drain() error {
	if r.done {
		return nil
	}
	if r.err != nil && !isContentErr(r.err) {
		return r.err
	}
	for r.end != endDone {
		b, err := r.br.ReadByte()
		if err != nil {
			return err
		}
		r.end = r.end.next(b)
	}
	r.done = true
	return nil
}

func isContentErr(err error) bool {
	return errors.Is(err, ErrBareLineEnding) || errors.Is(err, ErrLineTooLong) || errors.Is(err, ErrTooBig)
}

// chunkChecker enforces the DATA rules that still apply to BDAT content
// (RFC 3030): no bare CR or LF anywhere, lines of at most maxLine octets,
// and the size limit. State carries across chunks.
type chunkChecker struct {
	maxLine int
	maxSize int64
	n       int64
	lineLen int
	cr      bool
}

func (c *chunkChecker) check(p []byte) error {
	for _, b := range p {
		c.n++
		c.lineLen++
		// RFC 5321 4.5.3.1.6: the limit counts the CRLF, as for DATA.
		if c.maxLine > 0 && c.lineLen > c.maxLine {
			return ErrLineTooLong
		}
		if c.cr {
			if b != '\n' {
				return ErrBareLineEnding
			}
			c.cr, c.lineLen = false, 0
			continue
		}
		switch b {
		case '\r':
			c.cr = true
		case '\n':
			return ErrBareLineEnding
		}
	}
	if c.maxSize > 0 && c.n > c.maxSize {
		return ErrTooBig
	}
	return nil
}

// end reports a last chunk that stops after a bare CR.
func (c *chunkChecker) end() error {
	if c.cr {
		return ErrBareLineEnding
	}
	return nil
}
