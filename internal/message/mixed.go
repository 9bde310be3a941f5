package message

import (
	"bufio"
	"bytes"
	"mime"
	"mime/quotedprintable"
	"strings"
)

// Attachments are files read and encoded once, to be added to many messages
// by Mixed (send --batch attaches the same files to every row's message).
// Only their encoded parts are kept: the files are not read again, and
// memory holds one copy of each, whatever the number of messages. It is
// safe for concurrent use.
type Attachments struct {
	parts [][]byte // each a MIME part: header fields, a blank line, base64 lines
	size  int
}

// LoadAttachments reads and base64-encodes the files of list, typed and
// named as Compose does (an inline one gets its Content-ID). A missing or
// unreadable file gives its *os.PathError, wrapped; a bad ContentType gives a
// *MessageError.
func LoadAttachments(list []Attachment) (*Attachments, error) {
	atts, err := openAttachments(list)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, a := range atts {
			a.close()
		}
	}()
	as := &Attachments{}
	for _, a := range atts {
		var b bytes.Buffer
		for _, f := range a.header() {
			raw, err := formatField(f.name, f.value)
			if err != nil {
				return nil, err
			}
			b.Write(raw)
		}
		b.WriteString("\r\n")
		if err := a.writeTo(&b); err != nil {
			return nil, err
		}
		as.parts = append(as.parts, b.Bytes())
		as.size += b.Len()
	}
	return as, nil
}

// Len is the number of attachments.
func (a *Attachments) Len() int { return len(a.parts) }

// Mixed returns msg, a whole message in memory (a header section, a blank
// line and a body, any line endings), as a multipart/mixed message whose
// first part is msg's body and whose other parts are the attachments. The
// header fields of msg stay the message's, except its Content-* fields,
// which describe the first part and go with it. A first part without a
// Content-Type is text/plain; charset=utf-8; one without a
// Content-Transfer-Encoding (and not multipart or message) gets 7bit, 8bit
// or quoted-printable as Compose chooses, its body encoded to match.
// MIME-Version: 1.0 is added when msg has none. Line endings in the result
// are CRLF. msg is not modified.
//
// A msg without a header section gives a *MessageError.
func (a *Attachments) Mixed(msg []byte) ([]byte, error) {
	hs, err := readHeaderSection(bufio.NewReader(bytes.NewReader(msg)), "message")
	if err != nil {
		return nil, err
	}
	// The body follows the blank line; without one, the line that ended
	// the section (neither a field nor a continuation) is its first.
	start := hs.n
	if !hs.blank {
		start -= int64(len(hs.rest))
	}
	var c crlf
	body := c.finish(c.add(make([]byte, 0, len(msg)-int(start)+len(msg)/32+2), msg[start:]))

	var top, part []field
	hasVersion := false
	var ctype, cte string
	for _, f := range hs.fields {
		switch n := strings.ToLower(f.name); {
		case strings.HasPrefix(n, "content-"):
			part = append(part, f)
			if n == "content-type" && ctype == "" {
				ctype = fieldValue(f)
			}
			if n == "content-transfer-encoding" && cte == "" {
				cte = fieldValue(f)
			}
		case n == "mime-version":
			hasVersion = true
			top = append(top, f)
		default:
			top = append(top, f)
		}
	}
	if ctype == "" {
		raw, _ := formatField("Content-Type", "text/plain; charset=utf-8")
		part = append([]field{{name: "Content-Type", raw: raw}}, part...)
		ctype = "text/plain"
	}
	if mt, _, _ := mime.ParseMediaType(ctype); cte == "" && !strings.HasPrefix(mt, "multipart/") && !strings.HasPrefix(mt, "message/") {
		var st textStats
		_, _ = st.Write(body)
		enc := st.encoding()
		raw, _ := formatField("Content-Transfer-Encoding", enc)
		part = append(part, field{name: "Content-Transfer-Encoding", raw: raw})
		if enc == "quoted-printable" {
			var b bytes.Buffer
			qw := quotedprintable.NewWriter(&b)
			_, _ = qw.Write(body)
			_ = qw.Close()
			var qc crlf
			body = qc.finish(qc.add(nil, b.Bytes()))
		}
	}

	boundary := newBoundary()
	for bytes.Contains(body, []byte(boundary)) {
		boundary = newBoundary()
	}
	if !hasVersion {
		raw, _ := formatField("MIME-Version", "1.0")
		top = append(top, field{name: "MIME-Version", raw: raw})
	}
	raw, err := formatField("Content-Type", mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": boundary}))
	if err != nil {
		return nil, err
	}
	top = append(top, field{name: "Content-Type", raw: raw})

	head, ph := headerBytes(top), headerBytes(part)
	out := make([]byte, 0, len(head)+len(ph)+len(body)+a.size+(len(a.parts)+2)*(len(boundary)+8)+2)
	delim := "--" + boundary + "\r\n"
	out = append(out, head...)
	out = append(out, "\r\n"...)
	out = append(out, delim...)
	out = append(out, ph...)
	out = append(out, "\r\n"...)
	out = append(out, body...)
	for _, p := range a.parts {
		// RFC 2046 5.1.1: the CRLF before a delimiter belongs to it.
		out = append(out, "\r\n"...)
		out = append(out, delim...)
		out = append(out, p...)
	}
	out = append(out, "\r\n--"+boundary+"--\r\n"...)
	return out, nil
}
