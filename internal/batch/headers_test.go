package batch

import (
	"strings"
	"testing"
	"time"
)

// TestAddMissingHeadersSection: only the header section counts, read as a
// receiver reads it (found by FuzzAddMissingHeaders).
func TestAddMissingHeadersSection(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range []struct {
		in          string
		date, msgid bool // want one added
	}{
		{"\r\nDate: x\r\nMessage-ID: <y>\r\n", true, true},              // empty header section
		{"Subject: x\r\nno field\r\nDate: y\r\n", true, true},           // a non-field line ends it
		{"Date : obsolete\r\nMessage-ID : <a@b>\r\n\r\n", false, false}, // RFC 5322 4.5 WSP before colon
		{"X: y\n Date: folded\n\n", true, true},                         // a continuation, not a field
		{"Message-Id: <a@b>\nDATE: x\n\nbody\n", false, false},
		{" 0000\nMessage-Id: <a@b>\n", true, true}, // no header section at all
	} {
		got := string(addMissingHeaders([]byte(tt.in), now, "example.net"))
		added := strings.TrimSuffix(got, tt.in)
		if strings.Contains(added, "Date:") != tt.date || strings.Contains(added, "Message-ID:") != tt.msgid {
			t.Errorf("%q: added %q, want date %v, message-id %v", tt.in, added, tt.date, tt.msgid)
		}
	}
	// A message without a header section becomes the body of ours.
	got := string(addMissingHeaders([]byte(" 0000\nMessage-Id: <a@b>\n"), now, "example.net"))
	if !strings.HasSuffix(got, ">\r\n\r\n 0000\nMessage-Id: <a@b>\n") {
		t.Errorf("no blank line between the added fields and a message without header: %q", got)
	}
}
