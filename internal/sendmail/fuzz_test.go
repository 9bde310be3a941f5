package sendmail

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzSendmailArgs feeds command lines (arguments separated by NUL, so any
// argument, empty or with spaces, can occur) to Parse. Parse must never
// panic, must return either options or a *UsageError, and the options must
// hold together: a known mode, recipients that are a suffix of the
// arguments, values from the documented sets.
func FuzzSendmailArgs(f *testing.F) {
	for _, line := range realLines {
		f.Add(strings.Join(strings.Fields(line), "\x00"), false)
	}
	f.Add("-o\x00Q\x00/var/spool\x00a@b", false)
	f.Add("-bp", true)
	f.Add("-q30m", false)
	f.Add("-ti\x00--\x00-x@y", false)
	f.Add("-b\x00", false)
	f.Fuzz(func(t *testing.T, line string, mailq bool) {
		args := strings.Split(line, "\x00")
		mode := ModeDeliver
		if mailq {
			mode = ModeQueue
		}
		o, err := Parse(args, mode)
		if err != nil {
			var ue *UsageError
			if !errors.As(err, &ue) || ue.Msg == "" {
				t.Fatalf("Parse(%q): %v is not a *UsageError with a message", args, err)
			}
			return
		}
		switch o.Mode {
		case ModeDeliver:
			if len(o.Recipients) == 0 && !o.Extract {
				t.Fatalf("Parse(%q): delivery without recipients", args)
			}
		case ModeQueue, ModeFlush:
			if len(o.Recipients) > 0 || o.Extract {
				t.Fatalf("Parse(%q): %s with recipients", args, o.Mode)
			}
		case ModeNothing:
		default:
			t.Fatalf("Parse(%q): mode %q", args, o.Mode)
		}
		if n := len(o.Recipients); n > len(args) || !equal(o.Recipients, args[len(args)-n:]) {
			t.Fatalf("Parse(%q): recipients %q are not the last arguments", args, o.Recipients)
		}
		switch o.Body {
		case "", Body7Bit, Body8BitMIME:
		default:
			t.Fatalf("Parse(%q): body %q", args, o.Body)
		}
		switch o.Return {
		case "", ReturnFull, ReturnHdrs:
		default:
			t.Fatalf("Parse(%q): return %q", args, o.Return)
		}
		if len(o.EnvID) > maxEnvIDLen || !printable(o.EnvID) {
			t.Fatalf("Parse(%q): envid %q", args, o.EnvID)
		}
		for _, r := range o.Recipients {
			for _, a := range Addresses(r) {
				if strings.TrimSpace(a) == "" {
					t.Fatalf("Addresses(%q) gave an empty item", r)
				}
			}
		}
	})
}

// FuzzSendmailInput checks the input filter and the header work on any
// input: no panic, output never longer than the input plus the fields
// added, and with -i nothing but leading "From " lines is dropped.
func FuzzSendmailInput(f *testing.F) {
	f.Add(cronMessage+".\nafter\n", true, true)
	f.Add("From x\nTo: a@b\nBcc: c@d\n\n.\n", false, true)
	f.Add("To: a\n b\n\r\n.\r\n", true, false)
	f.Fuzz(func(t *testing.T, in string, dotEnds, extract bool) {
		filtered, err := io.ReadAll(Input(strings.NewReader(in), dotEnds))
		if err != nil {
			t.Fatal(err)
		}
		if len(filtered) > len(in) {
			t.Fatalf("filter grew the input: %q -> %q", in, filtered)
		}
		if !dotEnds && !strings.HasPrefix(in, "From ") && !strings.HasPrefix(in, ">") && string(filtered) != in {
			t.Fatalf("-i changed the input: %q -> %q", in, filtered)
		}
		r, _, err := Submission(strings.NewReader(string(filtered)), SubmitOptions{Extract: extract, Sender: "s@h", Now: fixed, Host: "h"})
		if err != nil {
			var he *HeaderError
			if !errors.As(err, &he) {
				t.Fatal(err)
			}
			return
		}
		out, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if !extract && len(out) < len(filtered) {
			t.Fatalf("without -t the message lost octets: %q -> %q", filtered, out)
		}
	})
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
