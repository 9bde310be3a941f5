package sendmail

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// inputBuf is the read buffer of the input filter; a line longer than this
// is passed through in pieces, and only its first piece can be a lone ".".
const inputBuf = 64 << 10

// Input filters a message read from standard input the way Postfix's
// sendmail does before it queues it:
//
//   - leading mbox "From " lines (also ">From ") are dropped;
//   - when dotEnds is true (no -i or -oi), a line holding only "." (with
//     an LF, a CRLF or the end of input after it) ends the message, and
//     nothing after it is read.
//
// Every other octet passes through unchanged; line endings are left to the
// spool. Read errors of r are returned as they come.
func Input(r io.Reader, dotEnds bool) io.Reader {
	return &input{br: bufio.NewReaderSize(r, inputBuf), dotEnds: dotEnds, skipFrom: true, lineStart: true}
}

type input struct {
	br        *bufio.Reader
	dotEnds   bool
	skipFrom  bool // still at the top, where "From " lines are dropped
	lineStart bool // the next octet read starts a line
	pending   []byte
	err       error
}

func (in *input) Read(p []byte) (int, error) {
	for len(in.pending) == 0 {
		if in.err != nil {
			return 0, in.err
		}
		in.fill()
	}
	n := copy(p, in.pending)
	in.pending = in.pending[n:]
	return n, nil
}

// fill reads the next line (or piece of a long line) into pending, or sets
// err.
func (in *input) fill() {
	line, err := in.br.ReadSlice('\n')
	start := in.lineStart
	in.lineStart = err == nil
	switch {
	case err == nil, errors.Is(err, bufio.ErrBufferFull):
		err = nil
	case err == io.EOF:
		if len(line) == 0 {
			in.err = io.EOF
			return
		}
	default:
		in.err = err
		if len(line) == 0 {
			return
		}
	}
	if start && in.skipFrom {
		// sendmail.c: strip leading From_ lines, and >>>From_ ones.
		if bytes.HasPrefix(bytes.TrimLeft(line, ">"), []byte("From ")) {
			in.skipLong()
			return
		}
		in.skipFrom = false
	}
	if start && in.dotEnds && isLoneDot(line) {
		// sendmail(1): without -i, a line with only a "." ends input.
		in.err = io.EOF
		return
	}
	in.pending = append(in.pending[:0], line...)
	if err == io.EOF {
		in.err = io.EOF
	}
}

// skipLong drops the rest of a line that did not fit the buffer.
func (in *input) skipLong() {
	for !in.lineStart && in.err == nil {
		_, err := in.br.ReadSlice('\n')
		switch {
		case err == nil:
			in.lineStart = true
		case errors.Is(err, bufio.ErrBufferFull):
		default:
			in.err = err
		}
	}
}

// isLoneDot reports whether line is ".", ".\n" or ".\r\n" (Postfix strips
// the CR before it compares).
func isLoneDot(line []byte) bool {
	switch string(line) {
	case ".", ".\n", ".\r\n", ".\r":
		return true
	}
	return false
}
