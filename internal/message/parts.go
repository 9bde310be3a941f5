package message

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// textBody is a text part spooled (line endings already CRLF) so that its
// transfer encoding can be chosen before it is written.
type textBody struct {
	sp  *spill
	st  textStats
	enc string // "7bit", "8bit" or "quoted-printable"
}

// spoolText copies r into memory or a temp file in dir, noting what decides
// its transfer encoding. what names r in read errors.
func spoolText(r io.Reader, dir, what string) (*textBody, error) {
	t := &textBody{sp: &spill{dir: dir}}
	cw := newCRLFWriter(io.MultiWriter(t.sp, &t.st))
	er := &errReader{r: r}
	_, err := io.Copy(cw, er)
	if err == nil {
		err = cw.Close()
	}
	if err == nil {
		err = t.sp.finish()
	}
	if err != nil {
		t.sp.discard()
		if er.err != nil {
			return nil, fmt.Errorf("read %s: %w", what, er.err)
		}
		return nil, err
	}
	t.enc = t.st.encoding()
	return t, nil
}

// writeTo writes the part's content in its transfer encoding.
func (t *textBody) writeTo(w io.Writer) error {
	r, err := t.sp.open()
	if err != nil {
		return err
	}
	defer r.Close()
	if t.enc != "quoted-printable" {
		_, err = io.Copy(w, r)
		return err
	}
	qw := quotedprintable.NewWriter(w)
	if _, err := io.Copy(qw, r); err != nil {
		return err
	}
	return qw.Close()
}

// textStats watches CRLF text for what rules out 7bit and 8bit.
type textStats struct {
	line    int // octets of the current line so far, CR included
	maxLine int // longest line, CRLF excluded
	eight   bool
	nul     bool
}

func (s *textStats) Write(p []byte) (int, error) {
	n := len(p)
	if !s.eight && hasHigh(p) {
		s.eight = true
	}
	if !s.nul && bytes.IndexByte(p, 0) >= 0 {
		s.nul = true
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.line += len(p)
			break
		}
		// The input is CRLF text, so a CR precedes every LF.
		if l := s.line + i - 1; l > s.maxLine {
			s.maxLine = l
		}
		s.line, p = 0, p[i+1:]
	}
	return n, nil
}

// encoding picks the Content-Transfer-Encoding (RFC 2045 2.7, 2.8, 6.7).
func (s *textStats) encoding() string {
	switch {
	case s.maxLine > hardLineLen || s.line > hardLineLen || s.nul:
		return "quoted-printable"
	case s.eight:
		return "8bit"
	default:
		return "7bit"
	}
}

// openAttachment is an attachment file opened and typed, ready to stream.
type openAttachment struct {
	f      *os.File
	br     *bufio.Reader
	name   string
	ctype  string
	inline bool
	cid    string
}

// openAttachments opens every file before anything is written, so a missing
// one fails early.
func openAttachments(list []Attachment) ([]*openAttachment, error) {
	var out []*openAttachment
	seen := map[string]int{}
	for _, a := range list {
		oa, err := openAttach(a)
		if err != nil {
			for _, o := range out {
				o.close()
			}
			return nil, err
		}
		if oa.inline {
			id := contentIDLocal(oa.name)
			seen[id]++
			if n := seen[id]; n > 1 {
				id += "-" + strconv.Itoa(n)
			}
			oa.cid = "<" + id + "@smtpkit>"
		}
		out = append(out, oa)
	}
	return out, nil
}

func openAttach(a Attachment) (*openAttachment, error) {
	f, err := os.Open(a.Path)
	if err != nil {
		return nil, fmt.Errorf("attachment: %w", err)
	}
	oa := &openAttachment{
		f:      f,
		br:     bufio.NewReaderSize(f, chunkSize),
		name:   filepath.Base(a.Path),
		inline: a.Inline,
	}
	// Peek rather than seek, so a FIFO works too. Reading also turns a
	// directory into its *os.PathError here.
	head, err := oa.br.Peek(512)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		f.Close()
		return nil, fmt.Errorf("attachment: %w", err)
	}
	ct := a.ContentType
	if ct == "" {
		ct = mime.TypeByExtension(filepath.Ext(a.Path))
	}
	if ct == "" {
		ct = http.DetectContentType(head)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		f.Close()
		return nil, &MessageError{Source: "attachment " + a.Path, Reason: fmt.Sprintf("invalid content type %q", ct)}
	}
	params["name"] = oa.name
	if oa.ctype = mime.FormatMediaType(mt, params); oa.ctype == "" {
		delete(params, "name")
		oa.ctype = mime.FormatMediaType(mt, params)
	}
	return oa, nil
}

func (a *openAttachment) close() { a.f.Close() }

// header returns the part's fields; the file name goes in RFC 2231 form when
// it is not ASCII (mime.FormatMediaType).
func (a *openAttachment) header() []hfield {
	disp := "attachment"
	if a.inline {
		disp = "inline"
	}
	d := mime.FormatMediaType(disp, map[string]string{"filename": a.name})
	if d == "" {
		d = disp
	}
	h := []hfield{
		{"Content-Type", a.ctype},
		{"Content-Transfer-Encoding", "base64"},
		{"Content-Disposition", d},
	}
	if a.cid != "" {
		h = append(h, hfield{"Content-ID", a.cid})
	}
	return h
}

// writeTo streams the file base64-encoded in lines of 76 (RFC 2045 6.8).
func (a *openAttachment) writeTo(w io.Writer) error {
	lw := &lineWrapper{w: w, buf: make([]byte, 0, chunkSize+80)}
	enc := base64.NewEncoder(base64.StdEncoding, lw)
	if _, err := io.Copy(enc, a.br); err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return fmt.Errorf("attachment: %w", err)
		}
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	return lw.Close()
}

// contentIDLocal makes a file name usable as the left side of a Content-ID
// (RFC 5322 3.6.4 id-left = dot-atom-text).
func contentIDLocal(name string) string {
	b := []byte(name)
	for i, c := range b {
		if c >= 0x80 || (!isAtext(c) && c != '.') {
			b[i] = '_'
		}
	}
	s := strings.Trim(string(b), ".")
	for strings.Contains(s, "..") {
		s = strings.ReplaceAll(s, "..", ".")
	}
	if s == "" {
		s = "part"
	}
	return s
}

// lineWrapper breaks base64 text into CRLF-terminated lines of 76 octets,
// buffering so that each write downstream is large.
type lineWrapper struct {
	w   io.Writer
	col int
	buf []byte
}

func (l *lineWrapper) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(76-l.col, len(p))
		l.buf = append(l.buf, p[:k]...)
		l.col += k
		p = p[k:]
		if l.col == 76 {
			l.buf = append(l.buf, '\r', '\n')
			l.col = 0
		}
		if len(l.buf) >= chunkSize {
			if _, err := l.w.Write(l.buf); err != nil {
				return 0, err
			}
			l.buf = l.buf[:0]
		}
	}
	return n, nil
}

func (l *lineWrapper) Close() error {
	if l.col > 0 {
		l.buf = append(l.buf, '\r', '\n')
		l.col = 0
	}
	_, err := l.w.Write(l.buf)
	l.buf = l.buf[:0]
	return err
}
