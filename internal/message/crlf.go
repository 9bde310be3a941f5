package message

import (
	"bytes"
	"encoding/binary"
	"io"
)

// crlf turns every line ending into CRLF, as RFC 5322 2.1 and RFC 5321 2.3.8
// require on the wire: a CRLF stays, a lone LF and a lone CR each become CRLF.
// At the end of the input, a last line without a line ending gets one, so a
// message always ends with CRLF (DATA's terminator and BDAT LAST both need
// that, and it keeps Size the same for both).
type crlf struct {
	cr  bool // the last input octet was CR: "\r" is out, the "\n" is owed
	mid bool // output is non-empty and does not end with a line ending
}

// add appends the converted src to dst.
func (c *crlf) add(dst, src []byte) []byte {
	for len(src) > 0 {
		if c.cr {
			c.cr = false
			dst = append(dst, '\n')
			if src[0] == '\n' {
				src = src[1:]
				continue
			}
		}
		lf := bytes.IndexByte(src, '\n')
		seg := src
		if lf >= 0 {
			seg = src[:lf]
		}
		if cr := bytes.IndexByte(seg, '\r'); cr >= 0 {
			dst = append(dst, seg[:cr+1]...)
			c.cr, c.mid = true, false
			src = src[cr+1:]
			continue
		}
		if len(seg) > 0 {
			dst = append(dst, seg...)
			c.mid = true
		}
		if lf < 0 {
			break
		}
		dst = append(dst, '\r', '\n')
		c.mid = false
		src = src[lf+1:]
	}
	return dst
}

// finish appends what the end of the input owes: the LF of a trailing CR, or
// a CRLF after a last line that has no line ending.
func (c *crlf) finish(dst []byte) []byte {
	switch {
	case c.cr:
		dst = append(dst, '\n')
	case c.mid:
		dst = append(dst, '\r', '\n')
	}
	c.cr, c.mid = false, false
	return dst
}

const chunkSize = 32 << 10

// crlfReader reads r with line endings converted by crlf.
type crlfReader struct {
	r   io.Reader
	c   crlf
	in  []byte
	out []byte
	off int
	err error
}

func newCRLFReader(r io.Reader) *crlfReader {
	return &crlfReader{
		r:   r,
		in:  make([]byte, chunkSize),
		out: make([]byte, 0, 2*chunkSize+2),
	}
}

func (r *crlfReader) Read(p []byte) (int, error) {
	for r.off == len(r.out) {
		if r.err != nil {
			return 0, r.err
		}
		r.out, r.off = r.out[:0], 0
		n, err := r.r.Read(r.in)
		r.out = r.c.add(r.out, r.in[:n])
		switch {
		case err == io.EOF:
			r.out = r.c.finish(r.out)
			r.err = io.EOF
		case err != nil:
			r.err = err
		}
	}
	n := copy(p, r.out[r.off:])
	r.off += n
	return n, nil
}

// crlfWriter writes to w with line endings converted by crlf. Close writes
// what the end of the input owes; it does not close w.
type crlfWriter struct {
	w   io.Writer
	c   crlf
	buf []byte
}

func newCRLFWriter(w io.Writer) *crlfWriter {
	return &crlfWriter{w: w, buf: make([]byte, 0, 2*chunkSize+2)}
}

func (w *crlfWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		chunk := p
		if len(chunk) > chunkSize {
			chunk = chunk[:chunkSize]
		}
		w.buf = w.c.add(w.buf[:0], chunk)
		if _, err := w.w.Write(w.buf); err != nil {
			return n, err
		}
		n += len(chunk)
		p = p[len(chunk):]
	}
	return n, nil
}

func (w *crlfWriter) Close() error {
	w.buf = w.c.finish(w.buf[:0])
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.w.Write(w.buf)
	return err
}

// meter counts the octets written to it and notes any octet >= 0x80.
type meter struct {
	n     int64
	eight bool
}

func (m *meter) Write(p []byte) (int, error) {
	m.n += int64(len(p))
	if !m.eight && hasHigh(p) {
		m.eight = true
	}
	return len(p), nil
}

// hasHigh reports whether p holds an octet >= 0x80 (8BITMIME, RFC 6152).
func hasHigh(p []byte) bool {
	for len(p) >= 8 {
		if binary.LittleEndian.Uint64(p)&0x8080808080808080 != 0 {
			return true
		}
		p = p[8:]
	}
	for _, c := range p {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// NormalizedSize reads r to the end and returns the number of octets it
// holds once every line ending is CRLF and a final line ending is present
// (no dot-stuffing), and whether any octet is >= 0x80. It holds no more than
// a few buffers in memory. Errors are those of r.
func NormalizedSize(r io.Reader) (size int64, eightBit bool, err error) {
	var m meter
	w := newCRLFWriter(&m)
	if _, err := io.CopyBuffer(w, r, make([]byte, chunkSize)); err != nil {
		return 0, false, err
	}
	if err := w.Close(); err != nil {
		return 0, false, err
	}
	return m.n, m.eight, nil
}
