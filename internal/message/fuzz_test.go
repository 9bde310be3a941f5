package message

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzParseList: a list parses into non-null addresses that, written back
// as a list of their canonical forms, parse to the same list; a bad list
// fails with an *AddressError.
func FuzzParseList(f *testing.F) {
	for _, s := range []string{
		"a@example.com, b@example.com", `"Doe, John" <j@example.com>, x@y`, "<a@b>,,<c@d>", "<>", " , ",
		`"a,b"@x, <c,d@e>`, `"\"",@x`, "<a@b, c@d>", "a@b\\,c@d",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		list, err := ParseList(s)
		if err != nil {
			var ae *AddressError
			if !errors.As(err, &ae) {
				t.Fatalf("ParseList(%q): %T %v, want *AddressError", s, err, err)
			}
			return
		}
		strs := make([]string, len(list))
		for i, a := range list {
			if a.IsNull() {
				t.Fatalf("ParseList(%q) holds <>", s)
			}
			strs[i] = a.String()
		}
		again, err := ParseList(strings.Join(strs, ", "))
		if err != nil || len(again) != len(list) {
			t.Fatalf("ParseList(%q) = %q; joined, it parses as %v, %v", s, strs, again, err)
		}
		for i := range list {
			if again[i] != list[i] {
				t.Fatalf("ParseList(%q)[%d] = %#v, re-parsed as %#v", s, i, list[i], again[i])
			}
		}
	})
}

// FuzzValidateHeader: a header --header accepts is folded into lines of
// at most 998 octets, each continuation starting with white space, that
// unfold (RFC 5322 2.2.3: remove the CRLFs) to "Name: value" and read back
// as one field of that name.
func FuzzValidateHeader(f *testing.F) {
	for _, s := range []string{
		"X-Test: hello", "Subject:" + strings.Repeat(" word", 300), "X: " + strings.Repeat("x", 997),
		"X: " + strings.Repeat("x", 1200), "Name :  spaced  ", "X:", "X: a\tb", "Bad Name: v", "X: a\r\nY: b",
		"X: " + strings.Repeat("ab ", 40) + strings.Repeat("y", 990),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := ValidateHeader(s); err != nil {
			var me *MessageError
			if !errors.As(err, &me) {
				t.Fatalf("ValidateHeader(%q): %T, want *MessageError", s, err)
			}
			return
		}
		name, value, err := splitHeader(s)
		if err != nil {
			t.Fatalf("valid %q does not split: %v", s, err)
		}
		raw, err := formatField(name, value)
		if err != nil {
			t.Fatalf("valid %q does not format: %v", s, err)
		}
		if !bytes.HasSuffix(raw, []byte("\r\n")) {
			t.Fatalf("field %q does not end in CRLF", raw)
		}
		lines := strings.Split(strings.TrimSuffix(string(raw), "\r\n"), "\r\n")
		for i, l := range lines {
			if len(l) > hardLineLen || strings.ContainsAny(l, "\r\n") {
				t.Fatalf("line %d of %q: %d octets", i, s, len(l))
			}
			if i > 0 && (l == "" || !isWSP(l[0])) {
				t.Fatalf("continuation %q of %q does not start with WSP", l, s)
			}
		}
		want := name + ":"
		if value != "" {
			want += " " + value
		}
		if got := strings.Join(lines, ""); got != want {
			t.Fatalf("%q unfolds to %q, want %q", raw, got, want)
		}
		hs, err := readHeaderSection(bufio.NewReader(bytes.NewReader(append(raw, "\r\n"...))), "fuzz")
		if err != nil || len(hs.fields) != 1 || hs.fields[0].name != name || !bytes.Equal(hs.fields[0].raw, raw) {
			t.Fatalf("%q reads back as %+v, %v", raw, hs, err)
		}
	})
}
