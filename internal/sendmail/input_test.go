package sendmail

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestInput(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		dotEnds bool
		want    string
	}{
		{"lone dot ends", "Subject: x\n\nbody\n.\nafter\n", true, "Subject: x\n\nbody\n"},
		{"lone dot CRLF ends", "Subject: x\r\n\r\nbody\r\n.\r\nafter\r\n", true, "Subject: x\r\n\r\nbody\r\n"},
		{"lone dot at EOF ends", "Subject: x\n\nbody\n.", true, "Subject: x\n\nbody\n"},
		{"-i keeps the dot", "Subject: x\n\nbody\n.\nafter\n", false, "Subject: x\n\nbody\n.\nafter\n"},
		{"dot with text stays", "a: b\n\n..\n. \n.x\n", true, "a: b\n\n..\n. \n.x\n"},
		{"first line dot", ".\nrest\n", true, ""},
		{"From_ lines dropped", "From root Mon Dec  1 00:00:00 2026\n>From x\nSubject: y\n\nFrom here\n", true, "Subject: y\n\nFrom here\n"},
		{"no final newline", "a: b\n\nend", true, "a: b\n\nend"},
		{"empty", "", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				got, err := io.ReadAll(Input(r, tt.dotEnds))
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != tt.want {
					t.Errorf("got %q, want %q", got, tt.want)
				}
			}
		})
	}
}

// A lone dot only counts at the start of a line: the piece after a line
// longer than the buffer is not a line of its own.
func TestInputLongLine(t *testing.T) {
	long := strings.Repeat("x", inputBuf+10)
	in := "a: b\n\n" + long + "\n.\nafter\n"
	got, err := io.ReadAll(Input(strings.NewReader(in), true))
	if err != nil {
		t.Fatal(err)
	}
	if want := "a: b\n\n" + long + "\n"; string(got) != want {
		t.Errorf("got %d octets, want %d", len(got), len(want))
	}
	from := "From " + long + "\nSubject: y\n\n"
	got, _ = io.ReadAll(Input(strings.NewReader(from), true))
	if string(got) != "Subject: y\n\n" {
		t.Errorf("long From_ line: got %q", got[:min(len(got), 40)])
	}
}

func TestInputReadError(t *testing.T) {
	r := io.MultiReader(strings.NewReader("a: b\n"), iotest.ErrReader(io.ErrUnexpectedEOF))
	got, err := io.ReadAll(Input(r, true))
	if err != io.ErrUnexpectedEOF || string(got) != "a: b\n" {
		t.Errorf("got %q, %v", got, err)
	}
}
