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
	head := msg
	if i := bytes.Index(msg, []byte("\n\n")); i >= 0 {
		head = msg[:i+1]
	}
	if i := bytes.Index(head, []byte("\r\n\r\n")); i >= 0 {
		head = head[:i+2]
	}
	hasDate, hasID := false, false
	for _, line := range strings.Split(string(head), "\n") {
		l := strings.ToLower(line)
		hasDate = hasDate || strings.HasPrefix(l, "date:")
		hasID = hasID || strings.HasPrefix(l, "message-id:")
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
	return append([]byte(pre.String()), msg...)
}
