package smtptest

import (
	"bytes"
	"fmt"
)

const (
	dirClient = 'C'
	dirServer = 'S'
	dirMark   = '='
)

type entry struct {
	dir  byte
	data []byte
}

// Render formats an exchange for a golden file, one line per CRLF-ended
// line: "C: " for the client, "S: " for the server, "== " for events
// (TLS started, closed). The rendering is exact: a backslash is written
// "\\", CR and LF that do not form the line's CRLF ending are "\r" and
// "\n", other control octets "\xNN", and a line that does not end in CRLF
// (a BDAT chunk cut mid-line, a bare LF) ends with a lone "\".
func Render(dir byte, data []byte) []byte {
	var out bytes.Buffer
	renderTo(&out, dir, data)
	return out.Bytes()
}

func render(entries []entry) []byte {
	var out bytes.Buffer
	for _, e := range entries {
		renderTo(&out, e.dir, e.data)
	}
	return out.Bytes()
}

func renderTo(out *bytes.Buffer, dir byte, data []byte) {
	if dir == dirMark {
		fmt.Fprintf(out, "== %s\n", data)
		return
	}
	for len(data) > 0 {
		line := data
		term := false
		if i := bytes.Index(data, []byte("\r\n")); i >= 0 {
			line, data, term = data[:i], data[i+2:], true
		} else {
			data = nil
		}
		out.WriteByte(dir)
		out.WriteString(": ")
		escape(out, line)
		if !term {
			out.WriteByte('\\')
		}
		out.WriteByte('\n')
	}
}

func escape(out *bytes.Buffer, b []byte) {
	for _, c := range b {
		switch {
		case c == '\\':
			out.WriteString(`\\`)
		case c == '\r':
			out.WriteString(`\r`)
		case c == '\n':
			out.WriteString(`\n`)
		case c == '\t':
			out.WriteString(`\t`)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(out, `\x%02x`, c)
		default:
			out.WriteByte(c)
		}
	}
}
