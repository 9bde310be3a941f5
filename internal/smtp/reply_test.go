package smtp

import (
	"bufio"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func readReplyString(s string) (Reply, error) {
	return readReply(bufio.NewReaderSize(strings.NewReader(s), 4096), nil)
}

func TestReadReply(t *testing.T) {
	long := strings.Repeat("x", maxReplyLineLength)
	tests := []struct {
		name string
		in   string
		want Reply
		err  string // substring of a *ProtocolError; "EOF" for io errors
	}{
		{name: "single", in: "250 OK\r\n", want: Reply{Code: 250, Lines: []string{"OK"}}},
		{name: "code only", in: "250\r\n", want: Reply{Code: 250, Lines: []string{""}}},
		{name: "code and space", in: "250 \r\n", want: Reply{Code: 250, Lines: []string{""}}},
		{name: "bare LF accepted", in: "220 hi\n", want: Reply{Code: 220, Lines: []string{"hi"}}},
		{name: "multi-line", in: "250-mx.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
			want: Reply{Code: 250, Lines: []string{"mx.example.org", "PIPELINING", "8BITMIME"}}},
		{name: "enhanced", in: "250 2.1.0 Sender ok\r\n", want: Reply{Code: 250, Enhanced: "2.1.0", Lines: []string{"Sender ok"}}},
		{name: "enhanced alone", in: "250 2.0.0\r\n", want: Reply{Code: 250, Enhanced: "2.0.0", Lines: []string{""}}},
		{name: "enhanced three-digit fields", in: "550 5.123.456 odd\r\n", want: Reply{Code: 550, Enhanced: "5.123.456", Lines: []string{"odd"}}},
		{name: "enhanced multi-line stripped where equal", in: "550-5.1.1 no such user\r\n550-5.1.1 see https://x\r\n550 closing\r\n",
			want: Reply{Code: 550, Enhanced: "5.1.1", Lines: []string{"no such user", "see https://x", "closing"}}},
		{name: "enhanced class mismatch kept as text", in: "250 5.0.0 odd\r\n", want: Reply{Code: 250, Lines: []string{"5.0.0 odd"}}},
		{name: "enhanced four fields is text", in: "250 2.0.0.0 x\r\n", want: Reply{Code: 250, Lines: []string{"2.0.0.0 x"}}},
		{name: "enhanced bad class is text", in: "250 3.0.0 x\r\n", want: Reply{Code: 250, Lines: []string{"3.0.0 x"}}},
		{name: "enhanced long field is text", in: "250 2.0000.0 x\r\n", want: Reply{Code: 250, Lines: []string{"2.0000.0 x"}}},
		{name: "334 base64 not enhanced", in: "334 VXNlcm5hbWU6\r\n", want: Reply{Code: 334, Lines: []string{"VXNlcm5hbWU6"}}},
		{name: "longest line", in: "250 " + long[4:] + "\r\n", want: Reply{Code: 250, Lines: []string{long[4:]}}},

		{name: "code mismatch", in: "250-first\r\n251 second\r\n", err: "reply code changed from 250 to 251"},
		{name: "too short", in: "25\r\n", err: "malformed reply"},
		{name: "letters", in: "abc hello\r\n", err: "malformed reply"},
		{name: "bad separator", in: "250/ok\r\n", err: "malformed reply"},
		{name: "four digits", in: "2500 ok\r\n", err: "malformed reply"},
		{name: "code below range", in: "199 ok\r\n", err: "out of range"},
		{name: "code above range", in: "600 ok\r\n", err: "out of range"},
		{name: "garbage greeting", in: "hello there\r\n", err: "malformed reply"},
		{name: "empty line", in: "\r\n", err: "malformed reply"},
		{name: "too long", in: "250 " + long + "\r\n", err: "line longer than 4096"},
		{name: "too many lines", in: strings.Repeat("250-x\r\n", maxReplyLines+1), err: "longer than 1000 lines"},
		{name: "eof", in: "", err: "EOF"},
		{name: "eof mid reply", in: "250-first\r\n", err: "EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readReplyString(tt.in)
			if tt.err != "" {
				if err == nil {
					t.Fatalf("readReply(%q) = %+v, want error %q", clip(tt.in), got, tt.err)
				}
				if tt.err == "EOF" {
					if !errors.Is(err, io.EOF) {
						t.Fatalf("error = %v, want EOF", err)
					}
					return
				}
				pe := wantErr[*ProtocolError](t, err)
				if !strings.Contains(pe.Error(), tt.err) {
					t.Fatalf("error = %q, want it to contain %q", pe, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("readReply(%q): %v", clip(tt.in), err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("readReply(%q) = %#v, want %#v", clip(tt.in), got, tt.want)
			}
		})
	}
}

func TestReadReplyTracesEveryLine(t *testing.T) {
	var seen []string
	_, err := readReply(bufio.NewReader(strings.NewReader("250-a\r\n250 b\r\n")), func(l string) { seen = append(seen, l) })
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"250-a", "250 b"}; !reflect.DeepEqual(seen, want) {
		t.Fatalf("traced %q, want %q", seen, want)
	}
}

func TestReplyMethods(t *testing.T) {
	tests := []struct {
		r                    Reply
		str                  string
		pos, temp, permanent bool
	}{
		{Reply{Code: 250, Enhanced: "2.0.0", Lines: []string{"Ok:", "queued"}}, "250 2.0.0 Ok: queued", true, false, false},
		{Reply{Code: 354, Lines: []string{"go ahead"}}, "354 go ahead", true, false, false},
		{Reply{Code: 421, Lines: []string{""}}, "421", false, true, false},
		{Reply{Code: 550, Enhanced: "5.1.1", Lines: []string{""}}, "550 5.1.1", false, false, true},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.str {
			t.Errorf("String() = %q, want %q", got, tt.str)
		}
		if tt.r.Positive() != tt.pos || tt.r.Temporary() != tt.temp || tt.r.Permanent() != tt.permanent {
			t.Errorf("%v: Positive/Temporary/Permanent = %v/%v/%v", tt.r, tt.r.Positive(), tt.r.Temporary(), tt.r.Permanent())
		}
	}
}

// wire renders r as the lines a server would send, enhanced code on every
// line (RFC 2034 4).
func wireReply(r Reply) string {
	var b strings.Builder
	for i, l := range r.Lines {
		b.WriteString(strconv.Itoa(r.Code))
		if i < len(r.Lines)-1 {
			b.WriteByte('-')
		} else {
			b.WriteByte(' ')
		}
		if r.Enhanced != "" {
			b.WriteString(r.Enhanced)
			b.WriteByte(' ')
		}
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	return b.String()
}

// FuzzReadReply checks that no input panics the reply reader, that a reply
// it accepts is well formed, and that writing it back and reading it again
// gives the same reply.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{
		"220 mx.example.org ESMTP\r\n",
		"250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-AUTH=LOGIN PLAIN\r\n250 8BITMIME\r\n",
		"250 2.1.0 Ok\r\n",
		"550-5.1.1 no such user\r\n550 5.1.1 see docs\r\n",
		"250-2.0.0 a\r\n250 b\r\n",
		"250 2.0.0\r\n",
		"334 \r\n",
		"421\n",
		"250-x\r\n251 y\r\n",
		"25\r\n",
		"250 a\rb\r\n",
		"250 \x00\xff\r\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := readReplyString(string(in))
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("error %v (%T) is neither a *ProtocolError nor EOF", err, err)
			}
			return
		}
		if r.Code < 200 || r.Code > 599 || len(r.Lines) == 0 || len(r.Lines) > maxReplyLines {
			t.Fatalf("accepted a malformed reply %#v", r)
		}
		if r.Enhanced != "" {
			if e, _, ok := cutEnhanced(r.Enhanced); !ok || e != r.Enhanced || int(r.Enhanced[0]-'0') != r.Code/100 {
				t.Fatalf("enhanced code %q does not fit reply %d", r.Enhanced, r.Code)
			}
		}
		if s := r.String(); !strings.HasPrefix(s, strconv.Itoa(r.Code)) {
			t.Fatalf("String() = %q does not start with the code", s)
		}
		w := wireReply(r)
		for _, l := range strings.SplitAfter(w, "\r\n") {
			if len(l) > maxReplyLineLength+2 {
				return // adding the enhanced code to a line can make it too long
			}
		}
		again, err := readReplyString(w)
		if err != nil {
			t.Fatalf("re-reading %q: %v", w, err)
		}
		if !reflect.DeepEqual(again, r) {
			t.Fatalf("round trip changed the reply:\n first %#v\nsecond %#v\n  wire %q", r, again, w)
		}
	})
}
