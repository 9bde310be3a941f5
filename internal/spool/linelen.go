package spool

import (
	"bytes"
	"io"
)

// MaxLineOctets is RFC 5321 4.5.3.1.6's and RFC 5322 2.1.1's limit on a
// line of a message, its CRLF excluded: 998 octets (Postfix's
// smtp_line_length_limit).
const MaxLineOctets = 998

// lineBreaker is a writer that breaks lines longer than MaxLineOctets, as
// Postfix's smtp_line_length_limit does: after 998 octets it inserts CRLF
// and a SPACE, and goes on with the rest of the line (broken again as
// needed). In the header section this is folding (RFC 5322 2.2.3: a CRLF
// followed by white space continues the field); in the body the receiver
// sees an extra line starting with a space, which is Postfix's behaviour
// too. A break is moved back by up to three octets rather than split a
// UTF-8 sequence (RFC 3629 3: continuation octets are 10xxxxxx).
//
// It works as a stream: only the current line, at most 999 octets, is
// held. The input has CRLF line ends; a CR not followed by LF counts as
// an ordinary octet of its line. Flush must be called at the end.
type lineBreaker struct {
	w    io.Writer
	line []byte // the current line, not written yet: its octets and perhaps a final CR
	out  int64  // octets written to w
	// Broken counts the breaks inserted.
	Broken int
}

func newLineBreaker(w io.Writer) *lineBreaker {
	return &lineBreaker{w: w, line: make([]byte, 0, MaxLineOctets+2)}
}

func (b *lineBreaker) emit(p []byte) error {
	n, err := b.w.Write(p)
	b.out += int64(n)
	return err
}

// Write takes the next octets of the message.
func (b *lineBreaker) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		if len(b.line) == 0 {
			// Fast path: a whole line that fits goes out as it is. i is
			// the index of LF, so the line is i octets with its CR.
			if i := bytes.IndexByte(p, '\n'); i >= 0 && i <= MaxLineOctets {
				if err := b.emit(p[:i+1]); err != nil {
					return 0, err
				}
				p = p[i+1:]
				continue
			}
		}
		c := p[0]
		p = p[1:]
		if err := b.writeByte(c); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// writeByte adds one octet to the current line, ending or breaking it.
func (b *lineBreaker) writeByte(c byte) error {
	switch {
	case c == '\n':
		b.line = append(b.line, c)
		err := b.emit(b.line)
		b.line = b.line[:0]
		return err
	case len(b.line) < MaxLineOctets, len(b.line) == MaxLineOctets && c == '\r':
		// Room left, or a CR that may end a line of exactly 998 octets.
		b.line = append(b.line, c)
		return nil
	}
	// The line goes past 998 octets with c: break it at 998, or just
	// before a UTF-8 sequence that would be cut.
	all := append(b.line, c)
	k := MaxLineOctets
	for k > MaxLineOctets-3 && all[k]&0xC0 == 0x80 {
		k--
	}
	if err := b.emit(all[:k]); err != nil {
		return err
	}
	if err := b.emit([]byte("\r\n")); err != nil {
		return err
	}
	b.Broken++
	rest := append([]byte{' '}, all[k:]...)
	b.line = append(b.line[:0], rest...)
	return nil
}

// Flush writes a last line without a line end.
func (b *lineBreaker) Flush() error {
	if len(b.line) == 0 {
		return nil
	}
	err := b.emit(b.line)
	b.line = b.line[:0]
	return err
}
