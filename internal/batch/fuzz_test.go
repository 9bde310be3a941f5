package batch

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/message"
)

// readRows reads every row of in, failing the test on a reader that does
// not end (each row consumes at least one octet) or on an error that a
// string input cannot cause.
func readRows(t *testing.T, in string, f Format) ([]*Row, Reader, error) {
	t.Helper()
	r, err := NewReader(strings.NewReader(in), f)
	if err != nil {
		return nil, nil, err
	}
	var rows []*Row
	last := int64(0)
	for i := 0; i <= len(in)+1; i++ {
		row, err := r.Next()
		if p, ok := r.(interface{ Offset() int64 }); ok {
			if off := p.Offset(); off < last || off > int64(len(in)) {
				t.Fatalf("offset %d after %d, input of %d", off, last, len(in))
			} else {
				last = off
			}
		}
		if errors.Is(err, io.EOF) {
			return rows, r, nil
		}
		if err != nil {
			return rows, r, err
		}
		rows = append(rows, row)
	}
	t.Fatalf("%d rows from %d octets", len(rows), len(in))
	return nil, nil, nil
}

// checkRows holds for every reader: rows numbered 1, 2, ...; a bad row
// carries a *RowError with its number; a good one has recipients, each a
// canonical address.
func checkRows(t *testing.T, rows []*Row) {
	t.Helper()
	for i, row := range rows {
		if row.N != i+1 {
			t.Fatalf("row %d numbered %d", i+1, row.N)
		}
		if row.Err != nil {
			var re *RowError
			if !errors.As(row.Err, &re) || re.N != row.N {
				t.Fatalf("row %d: error %v is not a *RowError of that row", row.N, row.Err)
			}
			continue
		}
		if _, ok := row.Fields[ToField]; !ok || len(row.Rcpts) == 0 {
			t.Fatalf("row %d accepted without recipients: %+v", row.N, row)
		}
		for _, rc := range row.Rcpts {
			a, err := message.ParseAddress(rc)
			if err != nil || a.String() != rc {
				t.Fatalf("row %d: recipient %q re-parses as %q, %v", row.N, rc, a.String(), err)
			}
		}
	}
}

// FuzzReadRows reads arbitrary CSV and JSONL batch input. Besides
// checkRows: the reader always ends; a CSV input fails as a whole only at
// its header; and every good row written back out (csv.Writer under the
// same header, json.Marshal) reads back as the same fields and recipients.
func FuzzReadRows(f *testing.F) {
	for _, s := range []string{
		"to,name\na@example.com,Ann\n\"b@example.com, c@example.com\",Bob\nnot-an-address,Eve\n\"d@example.com,Dan\n",
		"\ufeffto , name\r\n a@x.example ,\" spaced \"\r\n", "to\n\"a\r\nb\"\n", "to,to\na@x,b@x\n", "name\nAnn\n",
		"to,x\n\"Ann\" <a@x.example>,\"q\"\"uote\"\n", "", "to\n<>\n", "to\nuser@[192.0.2.1]\n",
	} {
		f.Add(s, false)
	}
	for _, s := range []string{
		`{"to":"a@example.com","n":1}` + "\n\n" + `{"to":["b@example.com","c@example.com"]}` + "\n" + `{"to":"a@example.com"` + "\n",
		"[1,2]\n{\"name\":\"x\"}\n{\"to\":42}\n", "null\n", `{"to":"a@x","to":"b@x"}`, `{"to":["a@x",1]}`,
		`{"to":"a@x","big":1e400}`, `{"to":"a@x","f":1.5e300,"s":"\ud800","n":null,"o":{"a":[true]}}`, "\r\n \t\n",
		`{"to":"A <a@x>, b@y"}`, `{"to":[]}`,
	} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, in string, jsonl bool) {
		format := FormatCSV
		if jsonl {
			format = FormatJSONL
		}
		rows, r, err := readRows(t, in, format)
		if err != nil {
			if format == FormatCSV && r != nil {
				t.Fatalf("csv row error from a string input: %v", err)
			}
			if format == FormatJSONL && r == nil {
				t.Fatalf("jsonl reader refused its input: %v", err)
			}
			return
		}
		checkRows(t, rows)
		for _, row := range rows {
			if row.Err != nil {
				continue
			}
			var again []*Row
			if format == FormatJSONL {
				b, err := json.Marshal(row.Fields)
				if err != nil {
					t.Fatalf("row %d: %v", row.N, err)
				}
				again, _, err = readRows(t, string(b)+"\n", FormatJSONL)
				if err != nil {
					t.Fatal(err)
				}
			} else {
				cols := r.(*csvReader).cols
				if hasBOM(cols) {
					continue // the header is trimmed of a BOM once per read
				}
				rec := make([]string, len(cols))
				for i, c := range cols {
					rec[i] = row.Fields[c].(string)
				}
				var b bytes.Buffer
				w := csv.NewWriter(&b)
				_ = w.Write(cols)
				_ = w.Write(rec)
				w.Flush()
				again, _, err = readRows(t, b.String(), FormatCSV)
				if err != nil {
					t.Fatalf("%q: %v", b.String(), err)
				}
			}
			if len(again) != 1 || again[0].Err != nil || !reflect.DeepEqual(again[0].Fields, row.Fields) ||
				!reflect.DeepEqual(again[0].Rcpts, row.Rcpts) {
				t.Fatalf("row %d %+v reads back as %+v", row.N, row, again)
			}
		}
	})
}

func hasBOM(cols []string) bool {
	for _, c := range cols {
		if strings.Contains(c, "\ufeff") {
			return true
		}
	}
	return false
}

var journalNumbers = regexp.MustCompile(`[0-9]{1,9}`)

// FuzzOpenJournal opens a --state file of arbitrary content through the
// exported API only (its format belongs to journal.go). A file it refuses
// is left exactly as it was; a file it takes is only ever cut back (a
// torn last write), and what it records survives: reopening knows the same
// rows, and rows accepted after opening are known after the next open.
func FuzzOpenJournal(f *testing.F) {
	for _, s := range []string{"", "1\n3\n", "1\n3\n4", "?2\n", "?2\n-2\n", "?5\n5\n", "x\n", "0\n", "+1\n",
		"1\r\n2 \n", "-1\n", "?\n", "99999999999999999999\n", "\n", "1\n\n2\n", "\x00\n"} {
		f.Add([]byte(s), uint16(7))
	}
	f.Fuzz(func(t *testing.T, content []byte, accept uint16) {
		path := filepath.Join(t.TempDir(), "state")
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		j, err := OpenJournal(path)
		if err != nil {
			if b, rerr := os.ReadFile(path); rerr != nil || !bytes.Equal(b, content) {
				t.Fatalf("refused (%v) and changed %q into %q", err, content, b)
			}
			return
		}
		if b, _ := os.ReadFile(path); !bytes.HasPrefix(content, b) {
			t.Fatalf("opening changed %q into %q, not a cut", content, b)
		}
		// Rows to ask about: 1-40 and every number in the file.
		probe := map[int]bool{}
		for n := 1; n <= 40; n++ {
			probe[n] = true
		}
		for _, m := range journalNumbers.FindAll(content, -1) {
			n, _ := strconv.Atoi(string(m))
			probe[n] = true
		}
		done := map[int]bool{}
		for n := range probe {
			if j.Done(n) {
				done[n] = true
			}
		}
		if len(done) > j.Len() {
			t.Fatalf("%d rows done, Len %d", len(done), j.Len())
		}
		newRows := []int{int(accept)%50 + 1, int(accept)/50%50 + 1}
		for _, n := range newRows {
			if err := j.Accept(n); err != nil {
				t.Fatal(err)
			}
			done[n] = true
			probe[n] = true
		}
		lenBefore := j.Len()
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		for round := 0; round < 2; round++ {
			j2, err := OpenJournal(path)
			if err != nil {
				b, _ := os.ReadFile(path)
				t.Fatalf("reopening %q (from %q): %v", b, content, err)
			}
			for n := range probe {
				if j2.Done(n) != done[n] {
					t.Fatalf("round %d: row %d done=%v, was %v (file from %q)", round, n, j2.Done(n), done[n], content)
				}
			}
			if j2.Len() != lenBefore {
				t.Fatalf("round %d: Len %d, was %d", round, j2.Len(), lenBefore)
			}
			j2.Close()
		}
	})
}

// headerFields returns the names of the header fields of msg, read as RFC
// 5322 2.2 and 2.1 say: up to the first empty line, a line starting with
// WSP continuing the field before, CRLF or LF line ends; a line that is
// none of these ends the header section (as Postfix's cleanup reads it).
func headerFields(msg []byte) []string {
	var names []string
	for _, line := range strings.SplitAfter(string(msg), "\n") {
		l := strings.TrimRight(line, "\r\n")
		if l == "" {
			break
		}
		if l[0] == ' ' || l[0] == '\t' {
			if len(names) == 0 {
				break
			}
			continue
		}
		name, _, ok := strings.Cut(l, ":")
		name = strings.TrimRight(name, " \t")
		if !ok || name == "" || strings.IndexFunc(name, func(r rune) bool { return r < 33 || r > 126 }) >= 0 {
			break
		}
		names = append(names, strings.ToLower(name))
	}
	return names
}

func count(names []string, name string) int {
	n := 0
	for _, x := range names {
		if x == name {
			n++
		}
	}
	return n
}

// FuzzAddMissingHeaders: whatever the template rendered, the message sent
// has exactly the Date (RFC 5322 3.6: one, required) and Message-ID (at
// most one, should be there) it needs in its header section: one of each
// when the message had none, the message untouched when it had both, and
// only ever fields added in front.
func FuzzAddMissingHeaders(f *testing.F) {
	for _, s := range []string{
		"Subject: x\n\nDate: in the body\n", "date: Fri, 02 Jan 2026 03:04:05 +0000\nMessage-Id: <a@b>\n\nbody\n",
		"\r\nDate: x\r\nMessage-ID: <y>\r\n", "Subject: x\r\n\r\nMessage-ID: <b>\r\n", "Date : obsolete\r\n\r\n",
		"X: y\n Date: folded\n\n", "", "no header\nDate: x\n", "Subject: x\r\nbody without a blank line\r\nDate: y\r\n",
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, msg []byte) {
		in := bytes.Clone(msg)
		out := addMissingHeaders(msg, now, "example.net")
		if !bytes.Equal(msg, in) || !bytes.HasSuffix(out, in) {
			t.Fatalf("changed the message: %q -> %q", in, out)
		}
		before, after := headerFields(in), headerFields(out)
		for _, name := range []string{"date", "message-id"} {
			had, has := count(before, name), count(after, name)
			switch {
			case had == 0 && has != 1:
				t.Fatalf("%q: %d %s fields after, want 1: %q", in, has, name, out)
			case had > 0 && has != had:
				t.Fatalf("%q had %d %s fields, now %d: %q", in, had, name, has, out)
			}
		}
		if len(before) > 0 && count(before, "date") > 0 && count(before, "message-id") > 0 && !bytes.Equal(out, in) {
			t.Fatalf("complete header changed: %q -> %q", in, out)
		}
	})
}

// FuzzParseTemplate parses arbitrary template text and renders it for a
// row: no panic, a failure names the row, and rendering twice gives the
// same message. Templates that loop or call each other are only parsed
// (the template is the user's own file, not hostile input, and a loop
// over a number may run as long as it was asked to).
func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"Subject: hi {{.name}}\n\nbody\n", "{{.name", "{{.missing}}", "{{.to | printf \"%q\"}}",
		"{{if .name}}x{{else}}y{{end}}", "{{with .to}}{{.}}{{end}}", "{{index . \"zz\"}}", "{{len .name}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		tp, err := ParseTemplate("fuzz", text)
		if err != nil {
			return
		}
		for _, w := range []string{"range", "template", "block", "define"} {
			if strings.Contains(text, w) {
				return
			}
		}
		row := &Row{N: 7, Fields: map[string]any{"to": "a@example.com", "name": "Ann", "n": 1.5, "l": []any{"x"}}}
		a, err := tp.RenderBytes(row)
		if err != nil {
			var re *RowError
			if !errors.As(err, &re) || re.N != 7 {
				t.Fatalf("render error %v does not name row 7", err)
			}
			return
		}
		b, _ := tp.RenderBytes(row)
		if !bytes.Equal(a, b) {
			t.Fatalf("two renders differ: %q, %q", a, b)
		}
	})
}
