package message

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"strings"
)

// maxHeaderSection bounds the header section this package reads into memory.
const maxHeaderSection = 1 << 20

// Line lengths of RFC 5322 2.1.1.
const (
	softLineLen = 78  // "SHOULD be no more than 78 characters"
	hardLineLen = 998 // "MUST be no more than 998 characters", excluding CRLF
)

// field is one header field as it will be sent: the name as written and the
// whole field, continuation lines included, every line ending in CRLF.
type field struct {
	name string
	raw  []byte
}

// headerSection is the header of a message read from a file or a stream.
type headerSection struct {
	fields []field
	// rest holds the octets read past the header section: the blank line
	// that ends it, or the first line that is neither a field nor a
	// continuation. The body follows them in the input.
	rest []byte
	// blank reports whether the section ended with a blank line; when
	// false, the input ended right after the header (or at a line that is
	// not a header field).
	blank bool
	// n counts the octets read, rest included.
	n int64
}

// readHeaderSection reads the header section of a message from br, accepting
// CRLF, LF or CR line endings. The section ends at a blank line, at the end of
// the input, or (as Postfix's cleanup does) at the first line that is neither
// a header field nor a continuation line. source names the input in errors.
//
// It returns a *MessageError when the input is empty, when its first line is
// neither a header field nor a blank line, or when the section exceeds
// maxHeaderSection octets. Read errors are returned as they come.
func readHeaderSection(br *bufio.Reader, source string) (*headerSection, error) {
	hs := &headerSection{}
	total := 0
	for lineNo := 1; ; lineNo++ {
		line, raw, err := readLine(br, maxHeaderSection+1-total)
		if err != nil && err != io.EOF {
			return nil, err
		}
		hs.n += int64(len(raw))
		if len(raw) == 0 && err == io.EOF {
			if lineNo == 1 {
				return nil, &MessageError{Source: source, Reason: "empty message"}
			}
			return hs, nil
		}
		if len(line) == 0 {
			hs.rest, hs.blank = raw, true
			return hs, nil
		}
		total += len(line) + 2
		if total > maxHeaderSection {
			return nil, &MessageError{Source: source, Reason: "header section larger than 1 MiB"}
		}
		switch {
		case (line[0] == ' ' || line[0] == '\t') && len(hs.fields) > 0:
			// RFC 5322 2.2.3: a line starting with WSP continues the field.
			f := &hs.fields[len(hs.fields)-1]
			f.raw = append(append(f.raw, line...), '\r', '\n')
		case fieldName(line) != "":
			raw := make([]byte, 0, len(line)+2)
			hs.fields = append(hs.fields, field{
				name: fieldName(line),
				raw:  append(append(raw, line...), '\r', '\n'),
			})
		case lineNo == 1:
			reason := "no header section (line 1 is not a header field)"
			if bytes.HasPrefix(line, []byte("From ")) {
				reason = `no header section (line 1 is an mbox "From " line, not a header field)`
			}
			return nil, &MessageError{Source: source, Reason: reason}
		default:
			hs.rest = raw
			return hs, nil
		}
		if err == io.EOF {
			return hs, nil
		}
	}
}

// readLine reads one line ending in CRLF, LF or CR. It returns the line
// without its ending, the octets as read, and io.EOF when the input ended
// (possibly after a last line without an ending). A line longer than max
// octets is cut there; the caller rejects it by size.
func readLine(br *bufio.Reader, max int) (line, raw []byte, err error) {
	for len(raw) < max {
		c, err := br.ReadByte()
		if err != nil {
			return raw, raw, err
		}
		switch c {
		case '\n':
			return raw, append(raw, c), nil
		case '\r':
			line = raw
			raw = append(raw, c)
			if next, err := br.Peek(1); err == nil && next[0] == '\n' {
				br.ReadByte() //nolint:errcheck // Peek just saw it
				raw = append(raw, '\n')
			}
			return line, raw, nil
		}
		raw = append(raw, c)
	}
	return raw, raw, nil
}

// fieldName returns the name of the header field that starts line, or "" if
// line does not start a field. RFC 5322 3.6.8: field-name = 1*ftext, printable
// US-ASCII except ":"; WSP before the colon is the obsolete syntax of 4.5.
func fieldName(line []byte) string {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return ""
	}
	name := bytes.TrimRight(line[:colon], " \t")
	if len(name) == 0 {
		return ""
	}
	for _, c := range name {
		if c < 33 || c > 126 {
			return ""
		}
	}
	return string(name)
}

// headerBytes returns the fields concatenated.
func headerBytes(fields []field) []byte {
	n := 0
	for _, f := range fields {
		n += len(f.raw)
	}
	b := make([]byte, 0, n+2)
	for _, f := range fields {
		b = append(b, f.raw...)
	}
	return b
}

// headerEdit replaces every field named name, or adds one, with line.
type headerEdit struct {
	name string
	line []byte
}

// parseHeaderEdits parses "Name: value" strings, as --header gives them.
func parseHeaderEdits(list []string) ([]headerEdit, error) {
	edits := make([]headerEdit, 0, len(list))
	for _, s := range list {
		name, value, err := splitHeader(s)
		if err != nil {
			return nil, err
		}
		line, err := formatField(name, value)
		if err != nil {
			return nil, err
		}
		edits = append(edits, headerEdit{name: name, line: line})
	}
	return edits, nil
}

// ValidateHeader checks one "Name: value" header as --header takes it: a
// field name of printable ASCII without colon or space (RFC 5322 3.6.8), a
// value without CR, LF, NUL or other control characters, and a value that can
// be folded into lines of at most 998 octets. It returns a *MessageError. The
// CLI may call it while parsing flags to report a usage error early; Compose,
// FromFile and FromReader check their Headers the same way.
func ValidateHeader(s string) error {
	name, value, err := splitHeader(s)
	if err != nil {
		return err
	}
	_, err = formatField(name, value)
	return err
}

func splitHeader(s string) (name, value string, err error) {
	name, value, ok := strings.Cut(s, ":")
	fail := func(reason string) (string, string, error) {
		return "", "", &MessageError{Source: fmt.Sprintf("header %q", s), Reason: reason}
	}
	if !ok {
		return fail(`missing ":" (want "Name: value")`)
	}
	name = strings.TrimRight(name, " \t")
	if name == "" {
		return fail("empty field name")
	}
	if fieldName([]byte(name+":")) == "" {
		return fail("field name must be printable ascii without spaces")
	}
	value = strings.Trim(value, " \t")
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < 0x20 && c != '\t' || c == 0x7f {
			if c == '\r' || c == '\n' {
				return fail("value contains a line break")
			}
			return fail("value contains a control character")
		}
	}
	return name, value, nil
}

// formatField renders "name: value" as a header field ending in CRLF, folded
// at white space to keep lines within 78 octets where it can (RFC 5322 2.1.1
// and 2.2.3). The value is used verbatim: non-ASCII stays UTF-8 (RFC 6532).
// A word that cannot fit in 998 octets gives a *MessageError.
func formatField(name, value string) ([]byte, error) {
	s := name + ":"
	if value != "" {
		s += " " + value
	}
	var out []byte
	min := len(name) + 2 // never fold right after the colon
	for len(s) > softLineLen {
		cut := lastFoldPoint(s, min, softLineLen)
		if cut < 0 {
			cut = nextFoldPoint(s, softLineLen)
		}
		if cut < 0 {
			break
		}
		if cut > hardLineLen {
			break
		}
		out = append(append(out, s[:cut]...), '\r', '\n')
		s, min = s[cut:], 1
	}
	if len(s) > hardLineLen {
		return nil, &MessageError{
			Source: fmt.Sprintf("header %q", name),
			Reason: "a word longer than 998 octets cannot be folded (RFC 5322 2.1.1)",
		}
	}
	return append(append(out, s...), '\r', '\n'), nil
}

// lastFoldPoint returns the largest i in [min, max] where s[i] is WSP after a
// non-WSP octet, or -1.
func lastFoldPoint(s string, min, max int) int {
	for i := max; i >= min && i > 0; i-- {
		if isWSP(s[i]) && !isWSP(s[i-1]) {
			return i
		}
	}
	return -1
}

// nextFoldPoint returns the smallest i > from where s[i] is WSP after a
// non-WSP octet, or -1.
func nextFoldPoint(s string, from int) int {
	for i := from + 1; i < len(s); i++ {
		if isWSP(s[i]) && !isWSP(s[i-1]) {
			return i
		}
	}
	return -1
}

func isWSP(c byte) bool { return c == ' ' || c == '\t' }

// applyEdits replaces, for each edit in turn, the first field of that name
// (compared case-insensitively) with the edit and drops the others, or adds
// the edit at the end of the header when no field has that name.
func applyEdits(fields []field, edits []headerEdit) []field {
	for _, e := range edits {
		out := fields[:0:0]
		replaced := false
		for _, f := range fields {
			if !strings.EqualFold(f.name, e.name) {
				out = append(out, f)
				continue
			}
			if !replaced {
				out = append(out, field{name: e.name, raw: e.line})
				replaced = true
			}
		}
		if !replaced {
			out = append(out, field{name: e.name, raw: e.line})
		}
		fields = out
	}
	return fields
}

// Summary holds the header fields the CLI shows about a prepared message,
// unfolded, with RFC 2047 encoded-words decoded. A missing field is "".
type Summary struct {
	From      string
	To        string
	Subject   string
	Date      string
	MessageID string
}

// summarize reads the first From, To, Subject, Date and Message-ID fields.
func summarize(fields []field) Summary {
	var s Summary
	for _, f := range fields {
		var dst *string
		switch strings.ToLower(f.name) {
		case "from":
			dst = &s.From
		case "to":
			dst = &s.To
		case "subject":
			dst = &s.Subject
		case "date":
			dst = &s.Date
		case "message-id":
			dst = &s.MessageID
		default:
			continue
		}
		if *dst == "" {
			*dst = fieldValue(f)
		}
	}
	return s
}

// fieldValue returns the value of f unfolded and decoded. Encoded-words in a
// charset the standard library does not know are left as they are.
func fieldValue(f field) string {
	_, v, _ := bytes.Cut(f.raw, []byte{':'})
	v = bytes.ReplaceAll(v, []byte("\r\n"), nil)
	s := strings.Trim(string(v), " \t")
	dec := mime.WordDecoder{}
	if d, err := dec.DecodeHeader(s); err == nil {
		return d
	}
	return s
}
