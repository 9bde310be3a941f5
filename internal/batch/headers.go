package batch

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
)

// addMissingHeaders puts a Date: and a Message-ID: in front of a rendered
// message whose header section lacks them (RFC 5322 3.6: Date is required,
// Message-ID should be present), as a submission server would (RFC 6409
// 8.2, 8.3). domain names the Message-ID's right-hand side.
func addMissingHeaders(msg []byte, now time.Time, domain string) []byte {
	names := headerNames(msg)
	hasDate, hasID := false, false
	for _, name := range names {
		hasDate = hasDate || strings.EqualFold(name, "Date")
		hasID = hasID || strings.EqualFold(name, "Message-ID")
	}
	var pre strings.Builder
	if !hasDate {
		pre.WriteString("Date: " + now.Format(time.RFC1123Z) + "\r\n")
	}
	if !hasID {
		var r [12]byte
		_, _ = rand.Read(r[:])
		if domain == "" {
			domain = "localhost"
		}
		pre.WriteString("Message-ID: <" + hex.EncodeToString(r[:]) + "@" + domain + ">\r\n")
	}
	if pre.Len() == 0 {
		return msg
	}
	if len(names) == 0 && len(msg) > 0 && msg[0] != '\n' && !bytes.HasPrefix(msg, []byte("\r\n")) {
		// No header section: the message starts with a line that is not
		// a field. End ours before it, or a first line starting with
		// white space would continue our Message-ID and the fields after
		// it join the header (found by FuzzAddMissingHeaders).
		pre.WriteString("\r\n")
	}
	return append([]byte(pre.String()), msg...)
}

// headerNames returns the field names of msg's header section as a
// receiver reads it: lines up to the first empty one (CRLF or LF line
// ends), a line starting with WSP continuing the field before it, and a
// line that is neither ending the section, as in Postfix's cleanup. A
// message that starts with an empty line has no header fields; a "Date:"
// in its body does not count. The name is 1*ftext, printable US-ASCII
// except ":" (RFC 5322 3.6.8), with the WSP before the colon of the
// obsolete syntax (4.5) allowed.
func headerNames(msg []byte) []string {
	var names []string
	for rest := msg; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(names) == 0 {
				break
			}
			continue
		}
		name, _, ok := bytes.Cut(line, []byte(":"))
		name = bytes.TrimRight(name, " \t")
		if !ok || len(name) == 0 || bytes.IndexFunc(name, func(r rune) bool { return r < 33 || r > 126 }) >= 0 {
			break
		}
		names = append(names, string(name))
	}
	return names
}
