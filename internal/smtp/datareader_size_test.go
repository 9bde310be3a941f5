package smtp

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestDataReaderSizeCountsLastCRLF: the size limit counts every octet of
// the content, the final CRLF too, as BDAT does (found by FuzzBDATChunks).
func TestDataReaderSizeCountsLastCRLF(t *testing.T) {
	for _, tt := range []struct {
		content string
		ok      bool
	}{
		{strings.Repeat("x", 8) + "\r\n", true},  // 10 octets
		{strings.Repeat("x", 9) + "\r\n", false}, // 11
		{strings.Repeat("x", 7) + "\r\n\r\n", false},
		{"x\r\n" + strings.Repeat("y", 5) + "\r\n", true},
	} {
		dr := newDataReader(bufio.NewReader(strings.NewReader(tt.content+".\r\n")), 0, 10)
		_, err := io.ReadAll(dr)
		if tt.ok != (err == nil) || err != nil && !errors.Is(err, ErrTooBig) {
			t.Errorf("%q with a limit of 10: %v", tt.content, err)
		}
		var chk chunkChecker
		chk.maxSize = 10
		if cerr := chk.check([]byte(tt.content)); (cerr == nil) != (err == nil) {
			t.Errorf("%q: DATA %v, BDAT %v", tt.content, err, cerr)
		}
	}
}
