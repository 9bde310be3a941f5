package batch

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func readAll(t *testing.T, in string, f Format) []*Row {
	t.Helper()
	r, err := NewReader(strings.NewReader(in), f)
	if err != nil {
		t.Fatal(err)
	}
	var rows []*Row
	for i := 0; i < 1000; i++ {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			return rows
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
	t.Fatal("reader did not end")
	return nil
}

func TestCSV(t *testing.T) {
	in := "to,name\n" +
		"a@example.com,Ann\n" +
		"\"b@example.com, c@example.com\",Bob\n" +
		"not-an-address,Eve\n" +
		"\"d@example.com,Dan\n" // broken quoting to the end
	rows := readAll(t, in, FormatCSV)
	if len(rows) != 4 {
		t.Fatalf("got %d rows, want 4", len(rows))
	}
	if rows[0].Err != nil || rows[0].N != 1 || rows[0].Fields["name"] != "Ann" || rows[0].Rcpts[0] != "a@example.com" {
		t.Errorf("row 1: %+v", rows[0])
	}
	if rows[1].Err != nil || len(rows[1].Rcpts) != 2 {
		t.Errorf("row 2: %+v", rows[1])
	}
	if rows[2].Err == nil || !strings.HasPrefix(rows[2].Err.Error(), "row 3:") {
		t.Errorf("row 3: want an address error, got %v", rows[2].Err)
	}
	if rows[3].Err == nil || rows[3].N != 4 {
		t.Errorf("row 4: want a quoting error, got %+v", rows[3])
	}
}

func TestCSVFieldCountAndMissingTo(t *testing.T) {
	rows := readAll(t, "email,name\na@example.com,Ann\n", FormatCSV)
	if len(rows) != 1 || rows[0].Err == nil || !strings.Contains(rows[0].Err.Error(), `missing field "to"`) {
		t.Fatalf("want a missing to field, got %+v", rows[0])
	}
	rows = readAll(t, "to,name\na@example.com\nb@example.com,Bob\n", FormatCSV)
	if len(rows) != 2 || rows[0].Err == nil || rows[1].Err != nil {
		t.Fatalf("want row 1 short and row 2 fine: %v %v", rows[0].Err, rows[1].Err)
	}
}

func TestCSVNoHeader(t *testing.T) {
	if _, err := NewReader(strings.NewReader(""), FormatCSV); err == nil {
		t.Fatal("want an error for an empty CSV")
	}
}

func TestJSONL(t *testing.T) {
	in := `{"to":"a@example.com","n":1}` + "\n" +
		"\n" +
		`{"to":["b@example.com","c@example.com"]}` + "\n" +
		`{"to":"a@example.com"` + "\n" +
		`[1,2]` + "\n" +
		`{"name":"x"}` + "\n" +
		`{"to":42}` + "\n"
	rows := readAll(t, in, FormatJSONL)
	if len(rows) != 6 {
		t.Fatalf("got %d rows, want 6", len(rows))
	}
	if rows[0].Err != nil || rows[1].Err != nil || len(rows[1].Rcpts) != 2 || rows[1].N != 2 {
		t.Errorf("good rows: %+v %+v", rows[0], rows[1])
	}
	for _, i := range []int{2, 3, 4, 5} {
		if rows[i].Err == nil {
			t.Errorf("row %d: want an error", rows[i].N)
		}
	}
	if !strings.Contains(rows[2].Err.Error(), "bad json") || !strings.Contains(rows[4].Err.Error(), "missing field") {
		t.Errorf("errors: %v / %v", rows[2].Err, rows[4].Err)
	}
}

func TestFormatOf(t *testing.T) {
	if FormatOf("x.JSONL") != FormatJSONL || FormatOf("x.csv") != FormatCSV || FormatOf("-") != FormatCSV {
		t.Fatal("FormatOf")
	}
}

func TestTemplateMissingKey(t *testing.T) {
	tp, err := ParseTemplate("t", "Subject: hi {{.name}}\n\nbody\n")
	if err != nil {
		t.Fatal(err)
	}
	b, err := tp.RenderBytes(&Row{N: 1, Fields: map[string]any{"name": "Ann"}})
	if err != nil || string(b) != "Subject: hi Ann\n\nbody\n" {
		t.Fatalf("render: %q %v", b, err)
	}
	_, err = tp.RenderBytes(&Row{N: 7, Fields: map[string]any{"to": "a@example.com"}})
	if err == nil || !strings.HasPrefix(err.Error(), "row 7:") {
		t.Fatalf("want a row 7 error for a missing field, got %v", err)
	}
	if _, err := ParseTemplate("t", "{{.name"); err == nil {
		t.Fatal("want a parse error")
	}
}

func TestAddMissingHeaders(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	got := string(addMissingHeaders([]byte("Subject: x\n\nDate: in the body\n"), now, "example.net"))
	if !strings.HasPrefix(got, "Date: Fri, 02 Jan 2026 03:04:05 +0000\r\nMessage-ID: <") || !strings.Contains(got, "@example.net>\r\nSubject: x\n") {
		t.Fatalf("got %q", got)
	}
	in := "date: Fri, 02 Jan 2026 03:04:05 +0000\nMessage-Id: <a@b>\n\nbody\n"
	if got := string(addMissingHeaders([]byte(in), now, "x")); got != in {
		t.Fatalf("changed a complete header: %q", got)
	}
}
