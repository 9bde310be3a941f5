package smtp

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseExtensions(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		has   []string
		lacks []string
		auth  []string
		size  int64
		out   []string // Lines()
	}{
		{
			name:  "postfix",
			lines: []string{"mx.example.org", "PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "STARTTLS", "AUTH PLAIN LOGIN", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"},
			has:   []string{"pipelining", "STARTTLS", "Size", "dsn", "CHUNKING", "SMTPUTF8"},
			lacks: []string{"REQUIRETLS", "BINARYMIME", "mx.example.org"},
			auth:  []string{"PLAIN", "LOGIN"},
			size:  10240000,
			out:   []string{"PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "STARTTLS", "AUTH PLAIN LOGIN", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"},
		},
		{
			name:  "legacy AUTH= form only",
			lines: []string{"mx", "AUTH=LOGIN PLAIN"},
			has:   []string{"AUTH"},
			auth:  []string{"LOGIN", "PLAIN"},
			out:   []string{"AUTH LOGIN PLAIN"},
		},
		{
			name:  "AUTH and legacy AUTH= merged without duplicates",
			lines: []string{"mx", "AUTH PLAIN LOGIN CRAM-MD5", "AUTH=LOGIN"},
			auth:  []string{"PLAIN", "LOGIN", "CRAM-MD5"},
			out:   []string{"AUTH PLAIN LOGIN CRAM-MD5"},
		},
		{
			name:  "legacy first then standard",
			lines: []string{"mx", "AUTH=LOGIN", "AUTH LOGIN PLAIN"},
			auth:  []string{"LOGIN", "PLAIN"},
			out:   []string{"AUTH LOGIN PLAIN"},
		},
		{
			name:  "lower-case mechanisms upper-cased",
			lines: []string{"mx", "auth plain xoauth2"},
			auth:  []string{"PLAIN", "XOAUTH2"},
			out:   []string{"AUTH plain xoauth2"},
		},
		{
			name:  "SIZE without a number means no limit",
			lines: []string{"mx", "SIZE"},
			has:   []string{"SIZE"},
			out:   []string{"SIZE"},
		},
		{name: "SIZE 0", lines: []string{"mx", "SIZE 0"}, out: []string{"SIZE 0"}},
		{name: "SIZE garbage", lines: []string{"mx", "SIZE lots"}, out: []string{"SIZE lots"}},
		{name: "SIZE negative", lines: []string{"mx", "SIZE -5"}, out: []string{"SIZE -5"}},
		{name: "SIZE with extra words", lines: []string{"mx", "SIZE 1000 extra"}, size: 1000, out: []string{"SIZE 1000 extra"}},
		{
			name:  "whitespace and blank lines, duplicates keep the first",
			lines: []string{"mx", "  8BITMIME  ", "", "SIZE 10", "size 20"},
			size:  10,
			out:   []string{"8BITMIME", "SIZE 10"},
		},
		{name: "greeting line only", lines: []string{"mx.example.org Hello"}, lacks: []string{"MX.EXAMPLE.ORG"}, out: []string{}},
		{name: "nothing", lines: nil, out: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ParseExtensions(tt.lines)
			for _, k := range tt.has {
				if !e.Has(k) {
					t.Errorf("Has(%q) = false", k)
				}
			}
			for _, k := range tt.lacks {
				if e.Has(k) {
					t.Errorf("Has(%q) = true", k)
				}
			}
			if got := e.AuthMechanisms(); !reflect.DeepEqual(got, tt.auth) {
				t.Errorf("AuthMechanisms() = %q, want %q", got, tt.auth)
			}
			if got := e.Size(); got != tt.size {
				t.Errorf("Size() = %d, want %d", got, tt.size)
			}
			if got := e.Lines(); !reflect.DeepEqual(got, tt.out) {
				t.Errorf("Lines() = %q, want %q", got, tt.out)
			}
		})
	}
}

func TestExtensionsParamAndKeywords(t *testing.T) {
	e := ParseExtensions([]string{"mx", "SIZE 35882577", "X-CUSTOM=yes", "starttls"})
	if got := e.Param("size"); got != "35882577" {
		t.Errorf(`Param("size") = %q`, got)
	}
	if got, want := e.Keywords(), []string{"SIZE", "X-CUSTOM=YES", "STARTTLS"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Keywords() = %q, want %q", got, want)
	}
	// Keywords returns a copy.
	e.Keywords()[0] = "changed"
	if e.Keywords()[0] != "SIZE" {
		t.Error("Keywords() shares its slice")
	}
	var zero Extensions
	if zero.Has("SIZE") || zero.Size() != 0 || len(zero.Lines()) != 0 || zero.AuthMechanisms() != nil {
		t.Error("the zero Extensions is not empty")
	}
}

func TestExtensionsDiff(t *testing.T) {
	before := ParseExtensions([]string{"mx", "PIPELINING", "SIZE 1000", "STARTTLS", "8BITMIME"})
	after := ParseExtensions([]string{"mx", "PIPELINING", "SIZE 2000", "AUTH PLAIN LOGIN", "8BITMIME"})
	added, removed := before.Diff(after)
	if want := []string{"AUTH PLAIN LOGIN", "SIZE 2000"}; !reflect.DeepEqual(added, want) {
		t.Errorf("added = %q, want %q", added, want)
	}
	if want := []string{"SIZE 1000", "STARTTLS"}; !reflect.DeepEqual(removed, want) {
		t.Errorf("removed = %q, want %q", removed, want)
	}
	added, removed = after.Diff(after)
	if added != nil || removed != nil {
		t.Errorf("Diff with itself = %q, %q", added, removed)
	}
}

// FuzzParseExtensions checks that any EHLO reply parses without panicking,
// that what Lines returns parses back to the same thing, and that AUTH
// lists each mechanism once.
func FuzzParseExtensions(f *testing.F) {
	for _, s := range []string{
		"mx\nPIPELINING\nSIZE 10240000\nAUTH PLAIN LOGIN\nAUTH=LOGIN\n8BITMIME",
		"mx\nauth=plain\nAUTH  login   PLAIN\nsize -1",
		"mx\n\n  \nX-FOO=bar baz\nSIZE 99999999999999999999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		e := ParseExtensions(strings.Split(in, "\n"))
		if e.Size() < 0 {
			t.Fatalf("Size() = %d", e.Size())
		}
		seen := map[string]bool{}
		for _, m := range e.AuthMechanisms() {
			if seen[m] {
				t.Fatalf("mechanism %q listed twice in %q", m, e.Param("AUTH"))
			}
			seen[m] = true
		}
		again := ParseExtensions(append([]string{"mx"}, e.Lines()...))
		if !reflect.DeepEqual(again.Lines(), e.Lines()) || !reflect.DeepEqual(again.Keywords(), e.Keywords()) {
			t.Fatalf("re-parsing Lines() %q gave %q", e.Lines(), again.Lines())
		}
	})
}

func TestRcptMaxAndTooMany(t *testing.T) {
	for line, want := range map[string]int{
		"LIMITS RCPTMAX=20 MAILMAX=5": 20, "LIMITS MAILMAX=5": 0, "LIMITS rcptmax=3": 3,
		"LIMITS RCPTMAX=0": 0, "LIMITS RCPTMAX=x": 0, "SIZE 10": 0,
	} {
		if got := ParseExtensions([]string{"mx.test", line}).RcptMax(); got != want {
			t.Errorf("%q: RcptMax %d, want %d", line, got, want)
		}
	}
	for r, want := range map[*Reply]bool{
		{Code: 452, Enhanced: "4.5.3"}:                          true,
		{Code: 452, Lines: []string{"Too many recipients"}}:     true,
		{Code: 452, Enhanced: "4.3.1", Lines: []string{"full"}}: false,
		{Code: 451, Enhanced: "4.5.3"}:                          false,
		{Code: 552, Lines: []string{"too many recipients"}}:     false,
	} {
		if got := TooManyRecipients(*r); got != want {
			t.Errorf("%+v: %v", *r, got)
		}
	}
}
