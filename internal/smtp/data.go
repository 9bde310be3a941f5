package smtp

import (
	"bufio"
	"bytes"
	"io"
)

// bodyWriter streams message content onto the wire. It turns every line
// ending (CRLF, bare LF, bare CR) into CRLF so the peer never sees a bare CR
// or LF (RFC 5321 2.3.8, 4.1.1.4), and, for DATA, doubles a leading dot
// (RFC 5321 4.5.2). It holds no more than the underlying bufio.Writer.
type bodyWriter struct {
	w         *bufio.Writer
	dotStuff  bool
	lineStart bool  // the next byte starts a line
	pendingCR bool  // a CR was seen, the next byte decides CRLF or bare CR
	n         int64 // octets written to w
	stuffed   int64 // dots added by dot-stuffing (counted in n)
	lines     int64
}

func newBodyWriter(w *bufio.Writer, dotStuff bool) *bodyWriter {
	return &bodyWriter{w: w, dotStuff: dotStuff, lineStart: true}
}

var crlf = []byte("\r\n")

func (d *bodyWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		if d.pendingCR {
			d.pendingCR = false
			if err := d.newline(); err != nil {
				return 0, err
			}
			if p[0] == '\n' {
				p = p[1:]
				continue
			}
		}
		if d.lineStart && d.dotStuff && p[0] == '.' {
			if err := d.w.WriteByte('.'); err != nil {
				return 0, err
			}
			d.n++
			d.stuffed++
		}
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			if _, err := d.w.Write(p); err != nil {
				return 0, err
			}
			d.n += int64(len(p))
			d.lineStart = false
			break
		}
		if i > 0 {
			if _, err := d.w.Write(p[:i]); err != nil {
				return 0, err
			}
			d.n += int64(i)
			d.lineStart = false
		}
		if p[i] == '\r' {
			d.pendingCR = true
		} else if err := d.newline(); err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	return total, nil
}

func (d *bodyWriter) newline() error {
	if _, err := d.w.Write(crlf); err != nil {
		return err
	}
	d.n += 2
	d.lines++
	d.lineStart = true
	return nil
}

// finish ends the last line with CRLF if the content did not, so that the
// DATA terminator or the last BDAT chunk closes a complete line.
func (d *bodyWriter) finish() error {
	if d.pendingCR {
		d.pendingCR = false
		return d.newline()
	}
	if !d.lineStart {
		return d.newline()
	}
	return nil
}

// NormalizedSize returns the number of octets r occupies once every line
// ending is CRLF and the last line is terminated, without dot-stuffing: the
// value to declare with SIZE (RFC 1870) and the length BDAT sends.
func NormalizedSize(r io.Reader) (int64, error) {
	bw := bufio.NewWriterSize(io.Discard, 32*1024)
	d := newBodyWriter(bw, false)
	if _, err := io.Copy(d, r); err != nil {
		return 0, err
	}
	if err := d.finish(); err != nil {
		return 0, err
	}
	return d.n, nil
}

// chunkWriter cuts normalised content into BDAT chunks (RFC 3030 2): it
// buffers up to size octets and hands each full chunk to send.
type chunkWriter struct {
	buf  []byte
	send func(chunk []byte, last bool) error
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		room := cap(c.buf) - len(c.buf)
		if room == 0 {
			if err := c.send(c.buf, false); err != nil {
				return 0, err
			}
			c.buf = c.buf[:0]
			continue
		}
		n := min(room, len(p))
		c.buf = append(c.buf, p[:n]...)
		p = p[n:]
	}
	return total, nil
}
