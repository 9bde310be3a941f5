package sendmail

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"
)

// maxHeader bounds the header section Submission reads into memory.
const maxHeader = 1 << 20

// HeaderError is a message whose header section cannot be used: too large,
// or no recipient found with -t. The CLI maps it to exit 65 (data).
type HeaderError struct{ Reason string }

func (e *HeaderError) Error() string { return "message: " + e.Reason }

// SubmitOptions says what Submission adds to a message's header.
type SubmitOptions struct {
	// Extract is -t: collect recipients from the header and remove Bcc.
	Extract bool
	// Sender and FullName make the From field added to a message without
	// one: "FullName <Sender>", or just Sender. An empty Sender adds none.
	Sender   string
	FullName string
	// Now and Host make the Date and Message-ID fields added to a message
	// without them. A nil Now adds no Date; an empty Host no Message-ID.
	Now  func() time.Time
	Host string
	// ID makes the local part of an added Message-ID unique; it should be
	// random or a queue ID.
	ID string
}

// Submission reads the header section of msg and returns the message to
// queue, with the header changed as Postfix's cleanup does for a local
// submission, and the recipients found in the header when o.Extract is set.
//
// With Extract, the recipients are the addresses of the Resent-To,
// Resent-Cc and Resent-Bcc fields when the message has any of them, and of
// To, Cc and Bcc otherwise (RFC 5322 3.6.6; sendmail.c); Bcc and Resent-Bcc
// fields are removed. Each recipient is returned as written, without
// display name, comments or group syntax; a bare local part ("root") is
// returned as it is, for the caller to qualify. Missing From, Date and
// Message-ID fields are added (RFC 5322 3.6: Date and From are required;
// 3.6.4: Message-ID should be present).
//
// The header section ends at a blank line, at the end of input, or at the
// first line that is neither a field nor a continuation (as in Postfix);
// what follows is passed through. It returns a *HeaderError when the
// header section is larger than 1 MiB; read errors come as they are.
func Submission(msg io.Reader, o SubmitOptions) (io.Reader, []string, error) {
	br := bufio.NewReader(msg)
	var (
		fields [][]byte // each field with its continuation lines
		rest   []byte   // the line that ended the header section
		total  int
	)
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			var more []byte
			more, err = br.ReadBytes('\n')
			line = append(append([]byte(nil), line...), more...)
		} else {
			line = append([]byte(nil), line...)
		}
		if err != nil && err != io.EOF {
			return nil, nil, err
		}
		total += len(line)
		if total > maxHeader {
			return nil, nil, &HeaderError{Reason: "header section larger than 1 MiB"}
		}
		switch {
		case len(line) == 0:
		case (line[0] == ' ' || line[0] == '\t') && len(fields) > 0:
			fields[len(fields)-1] = append(fields[len(fields)-1], line...)
			line = nil
		case fieldName(line) != "":
			fields = append(fields, line)
			line = nil
		default:
			rest = line
		}
		if rest != nil || err == io.EOF {
			break
		}
	}
	var rcpts []string
	if o.Extract {
		rcpts, fields = extract(fields)
	}
	fields = addMissing(fields, o)
	var hdr bytes.Buffer
	for _, f := range fields {
		hdr.Write(f)
		if !bytes.HasSuffix(f, []byte("\n")) {
			// The input ended inside the header section.
			hdr.WriteString("\n")
		}
	}
	if rest == nil && !bytes.HasSuffix(hdr.Bytes(), []byte("\n\n")) {
		// No body: end the header section, as RFC 5322 2.1 wants before
		// a body that may follow.
		hdr.WriteString("\n")
	}
	return io.MultiReader(&hdr, bytes.NewReader(rest), br), rcpts, nil
}

// extract collects the recipients of the Resent- fields, or of To, Cc and
// Bcc when there are none, and drops Bcc and Resent-Bcc.
func extract(fields [][]byte) ([]string, [][]byte) {
	resent := false
	for _, f := range fields {
		switch strings.ToLower(fieldName(f)) {
		case "resent-to", "resent-cc", "resent-bcc":
			resent = true
		}
	}
	var rcpts []string
	kept := fields[:0]
	for _, f := range fields {
		name := strings.ToLower(fieldName(f))
		want := name == "to" || name == "cc" || name == "bcc"
		if resent {
			want = name == "resent-to" || name == "resent-cc" || name == "resent-bcc"
		}
		if want {
			rcpts = append(rcpts, Addresses(fieldValue(f))...)
		}
		if name != "bcc" && name != "resent-bcc" {
			kept = append(kept, f)
		}
	}
	return rcpts, kept
}

// addMissing appends the From, Date and Message-ID fields a message lacks.
func addMissing(fields [][]byte, o SubmitOptions) [][]byte {
	have := map[string]bool{}
	for _, f := range fields {
		have[strings.ToLower(fieldName(f))] = true
	}
	if !have["from"] && o.Sender != "" {
		from := o.Sender
		if name := strings.TrimSpace(o.FullName); name != "" {
			from = displayName(name) + " <" + o.Sender + ">"
		}
		fields = append(fields, []byte("From: "+from+"\n"))
	}
	if !have["date"] && o.Now != nil {
		fields = append(fields, []byte("Date: "+o.Now().Format(time.RFC1123Z)+"\n"))
	}
	if !have["message-id"] && o.Host != "" {
		id := o.ID
		if id == "" && o.Now != nil {
			id = fmt.Sprintf("%d", o.Now().UnixNano())
		}
		if id != "" {
			fields = append(fields, []byte("Message-ID: <"+id+"@"+o.Host+">\n"))
		}
	}
	return fields
}

// displayName quotes a full name as an RFC 5322 display name, or encodes it
// (RFC 2047) when it is not ASCII.
func displayName(name string) string {
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, name)
	for _, r := range name {
		if r >= 0x80 {
			return mime.QEncoding.Encode("utf-8", name)
		}
	}
	if strings.IndexFunc(name, func(r rune) bool { return !isAtext(r) && r != ' ' }) < 0 {
		return name
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name) + `"`
}

// isAtext reports RFC 5322 3.2.3 atext.
func isAtext(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r)
}

// fieldName returns the name of the field that starts line, or "" (RFC 5322
// 2.2: printable US-ASCII except ":", then the colon; WSP before the colon
// is the obsolete syntax of 4.5).
func fieldName(line []byte) string {
	i := 0
	for i < len(line) && line[i] > 32 && line[i] < 127 && line[i] != ':' {
		i++
	}
	if i == 0 {
		return ""
	}
	j := i
	for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
		j++
	}
	if j >= len(line) || line[j] != ':' {
		return ""
	}
	return string(line[:i])
}

// fieldValue returns a field's value with continuation lines unfolded.
func fieldValue(f []byte) string {
	v := string(f[bytes.IndexByte(f, ':')+1:])
	v = strings.NewReplacer("\r\n", "", "\n", "", "\r", "").Replace(v)
	return strings.TrimSpace(v)
}
