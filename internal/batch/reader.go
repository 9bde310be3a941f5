package batch

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/smtpkit/smtpkit/internal/message"
)

// Format is the layout of a batch input.
type Format string

// The input formats.
const (
	FormatCSV   Format = "csv"   // a header row, then one row per message
	FormatJSONL Format = "jsonl" // one JSON object per line
)

// ToField is the column (CSV) or field (JSONL) that holds a row's
// recipients: one address or a comma-separated list.
const ToField = "to"

// maxLine bounds one JSONL line: a row is a message's variables, not its
// attachments.
const maxLine = 1 << 20

// Row is one input record.
type Row struct {
	// N is the row number: 1 for the first data row (the CSV header is not
	// counted), the same on every run over the same input.
	N      int
	Fields map[string]any
	// Rcpts are the parsed addresses of the to field.
	Rcpts []string
	// Err, when not nil, is why the row cannot be sent: broken quoting, bad
	// JSON, a missing to field or a bad address. Such a row is reported
	// and skipped (or stops the batch with Strict).
	Err error
}

// RowError is a problem with one input row.
type RowError struct {
	N   int
	Err error
}

func (e *RowError) Error() string { return fmt.Sprintf("row %d: %v", e.N, e.Err) }

func (e *RowError) Unwrap() error { return e.Err }

// Reader yields rows one at a time; it never holds the whole input.
type Reader interface {
	// Next returns the next row, or io.EOF after the last. A malformed row
	// is returned with Row.Err set and a nil error; the error return is for
	// failures that end the input (an I/O error, a bad CSV header).
	Next() (*Row, error)
}

// Positioner is a Reader that knows how far into its input it is: Offset
// is the number of input octets up to the end of the last row returned (the
// CSV header included). It is safe to call from any goroutine, while
// another calls Next; progress displays use it. The readers of NewReader
// are Positioners.
type Positioner interface {
	Offset() int64
}

// NewReader returns a streaming reader of r in format f.
func NewReader(r io.Reader, f Format) (Reader, error) {
	switch f {
	case FormatCSV:
		cr := csv.NewReader(r)
		cr.FieldsPerRecord = -1
		cr.ReuseRecord = true
		head, err := cr.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, errors.New("csv: no header row")
			}
			return nil, fmt.Errorf("csv header: %w", err)
		}
		cols := make([]string, len(head))
		for i, h := range head {
			cols[i] = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		}
		c := &csvReader{r: cr, cols: cols}
		c.off.Store(cr.InputOffset())
		return c, nil
	case FormatJSONL:
		j := &jsonlReader{sc: bufio.NewScanner(r)}
		j.sc.Buffer(make([]byte, 64<<10), maxLine)
		j.sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
			adv, tok, err := bufio.ScanLines(data, atEOF)
			j.read += int64(adv)
			return adv, tok, err
		})
		return j, nil
	}
	return nil, fmt.Errorf("unknown batch format %q", f)
}

// FormatOf guesses the format from a file name: .jsonl, .ndjson and .json
// are JSONL, anything else is CSV.
func FormatOf(name string) Format {
	n := strings.ToLower(name)
	for _, ext := range []string{".jsonl", ".ndjson", ".json"} {
		if strings.HasSuffix(n, ext) {
			return FormatJSONL
		}
	}
	return FormatCSV
}

type csvReader struct {
	r    *csv.Reader
	cols []string
	n    int
	off  atomic.Int64
}

func (c *csvReader) Offset() int64 { return c.off.Load() }

func (c *csvReader) Next() (*Row, error) {
	rec, err := c.r.Read()
	c.off.Store(c.r.InputOffset())
	if errors.Is(err, io.EOF) {
		return nil, io.EOF
	}
	c.n++
	row := &Row{N: c.n}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		row.Err = &RowError{N: c.n, Err: fmt.Errorf("csv line %d: %w", pe.Line, pe.Err)}
		return row, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read row %d: %w", c.n, err)
	}
	if len(rec) != len(c.cols) {
		row.Err = &RowError{N: c.n, Err: fmt.Errorf("%d fields, the header has %d", len(rec), len(c.cols))}
		return row, nil
	}
	row.Fields = make(map[string]any, len(rec))
	for i, v := range rec {
		row.Fields[c.cols[i]] = v
	}
	finish(row)
	return row, nil
}

type jsonlReader struct {
	sc   *bufio.Scanner
	n    int
	read int64        // octets consumed by the scanner's lines (Next's goroutine only)
	off  atomic.Int64 // read, published after each row
}

func (j *jsonlReader) Offset() int64 { return j.off.Load() }

func (j *jsonlReader) Next() (*Row, error) {
	defer func() { j.off.Store(j.read) }()
	for j.sc.Scan() {
		line := strings.TrimSpace(j.sc.Text())
		if line == "" {
			continue // blank lines are not rows
		}
		j.n++
		row := &Row{N: j.n}
		if err := json.Unmarshal([]byte(line), &row.Fields); err != nil {
			row.Fields = nil
			row.Err = &RowError{N: j.n, Err: fmt.Errorf("bad json: %w", err)}
			return row, nil
		}
		if row.Fields == nil {
			row.Err = &RowError{N: j.n, Err: errors.New("bad json: want an object")}
			return row, nil
		}
		finish(row)
		return row, nil
	}
	if err := j.sc.Err(); err != nil {
		return nil, fmt.Errorf("read row %d: %w", j.n+1, err)
	}
	return nil, io.EOF
}

// finish checks the to field and parses the recipients.
func finish(row *Row) {
	v, ok := row.Fields[ToField]
	if !ok {
		row.Err = &RowError{N: row.N, Err: fmt.Errorf("missing field %q", ToField)}
		return
	}
	var list []string
	switch t := v.(type) {
	case string:
		list = []string{t}
	case []any:
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				row.Err = &RowError{N: row.N, Err: fmt.Errorf("field %q: want a string or a list of strings", ToField)}
				return
			}
			list = append(list, s)
		}
	default:
		row.Err = &RowError{N: row.N, Err: fmt.Errorf("field %q: want a string or a list of strings", ToField)}
		return
	}
	for _, s := range list {
		as, err := message.ParseList(s)
		if err != nil {
			row.Err = &RowError{N: row.N, Err: err}
			return
		}
		for _, a := range as {
			row.Rcpts = append(row.Rcpts, a.String())
		}
	}
	if len(row.Rcpts) == 0 {
		row.Err = &RowError{N: row.N, Err: fmt.Errorf("field %q: no recipient", ToField)}
	}
}
