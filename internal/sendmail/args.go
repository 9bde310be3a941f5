// Package sendmail is the engine behind smtpkit's sendmail-compatible entry
// point: the sendmail command line (which pflag cannot read), the input
// filter (a lone "." ends the message unless -i), and the header work of a
// local submission (recipients from To/Cc/Bcc with -t, Bcc removed, From,
// Date and Message-ID added when missing).
//
// Where sendmail implementations differ, this package follows Postfix's
// sendmail(1) (src/sendmail/sendmail.c): getopt-style option clusters,
// option processing that stops at the first recipient or at "--", and
// recipients extracted with -t added to those on the command line.
package sendmail

import (
	"fmt"
	"strings"
)

// Mode is what the command line asks sendmail to do.
type Mode string

const (
	// ModeDeliver reads a message from standard input and arranges for its
	// delivery (-bm, the default).
	ModeDeliver Mode = "deliver"
	// ModeQueue lists the queue (-bp, or the program named mailq).
	ModeQueue Mode = "queue"
	// ModeFlush attempts delivery of every queued message (-q).
	ModeFlush Mode = "flush"
	// ModeNothing does nothing and succeeds: Postfix ignores a queue run
	// interval (-q30m) outside daemon mode and exits 0.
	ModeNothing Mode = "nothing"
)

// Body types of -B (RFC 6152 BODY=).
const (
	Body7Bit     = "7BIT"
	Body8BitMIME = "8BITMIME"
)

// Return values of -R (RFC 3461 4.3 RET=).
const (
	ReturnFull = "FULL"
	ReturnHdrs = "HDRS"
)

// maxEnvIDLen is Postfix's bound on -V (sendmail.c: "too long -V option
// value"); RFC 3461 4.4 allows 100 characters of ENVID.
const maxEnvIDLen = 100

// Options is a parsed sendmail command line.
type Options struct {
	Mode Mode
	// Extract is -t: recipients also come from the To, Cc and Bcc fields
	// (Resent-To, Resent-Cc and Resent-Bcc when the message has any).
	Extract bool
	// DotEnds reports whether a line holding only "." ends the input; -i
	// and -oi turn it off.
	DotEnds bool
	// Sender is the envelope sender of -f or -r, as given; SenderSet
	// reports whether one was given at all ("-f ''" is the null sender).
	Sender    string
	SenderSet bool
	// FullName (-F) names the sender in the From field added to a message
	// that has none.
	FullName string
	// Notify is -N: nil when not given, {"NEVER"}, or a subset of
	// "SUCCESS", "DELAY" and "FAILURE" (RFC 3461 4.1).
	Notify []string
	// Return is -R: "", ReturnFull or ReturnHdrs.
	Return string
	// EnvID is -V, the DSN envelope identifier (RFC 3461 4.4).
	EnvID string
	// Body is -B: "", Body7Bit or Body8BitMIME.
	Body string
	// Verbose counts -v.
	Verbose int
	// Recipients are the arguments after the options, as given; each may
	// hold a comma-separated list.
	Recipients []string
	// Ignored lists the options accepted and ignored, as written, for -v.
	Ignored []string
	// Warnings are option values ignored because they are malformed, as
	// Postfix warns about a bad -N, -R or -V and goes on.
	Warnings []string
}

// UsageError is a command line sendmail cannot run: an unsupported mode
// (-bs, -bd, ...), a missing option value, a bad -B, recipients where none
// are allowed, or no recipients at all.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, a ...any) error { return &UsageError{Msg: fmt.Sprintf(format, a...)} }

// withValue is Postfix's getopt list of the options that take a value
// ("A:B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:r:q:tvx").
const withValue = "ABCFLNORVXbefhopqr"

// Parse reads a sendmail command line (without the program name). mode is
// the mode the program name implies: ModeDeliver for sendmail, ModeQueue
// for mailq; options may change it, as in Postfix.
//
// Options are read as getopt does, with clusters ("-ti") and values either
// attached ("-FCronDaemon") or in the next argument ("-F CronDaemon"), up
// to "--" or the first argument that is not an option. Beyond Postfix:
// "-o X VALUE" (X given alone) takes VALUE from the next argument, a long
// option ("--read-envelope-from") is ignored, and an unknown option letter
// is ignored rather than refused, as other sendmails do.
//
// It returns a *UsageError for an unsupported mode, a missing value, a bad
// -B, -t outside delivery mode, recipients given to a mode that takes none,
// and a delivery with neither recipients nor -t.
func Parse(args []string, mode Mode) (*Options, error) {
	o := &Options{Mode: mode, DotEnds: true}
	i := 0
	for i < len(args) {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		i++
		if a == "-q" {
			// sendmail.c: "-q" alone is not getopt compatible.
			o.Mode = ModeFlush
			continue
		}
		if strings.HasPrefix(a, "--") {
			o.Ignored = append(o.Ignored, a)
			continue
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			if strings.IndexByte(withValue, c) < 0 {
				if err := o.flag(c); err != nil {
					return nil, err
				}
				continue
			}
			val, separate := a[j+1:], false
			if val == "" {
				if i >= len(args) {
					return nil, usagef("option -%c needs a value", c)
				}
				val, separate = args[i], true
				i++
			}
			if c == 'o' && separate && len(val) == 1 && val != "i" && i < len(args) {
				// "-o X VALUE": the value of sendmail option X.
				o.Ignored = append(o.Ignored, "-o "+val+" "+args[i])
				i++
				break
			}
			if err := o.option(c, val); err != nil {
				return nil, err
			}
			break
		}
	}
	o.Recipients = args[i:]
	return o, o.check()
}

// flag applies an option letter that takes no value.
func (o *Options) flag(c byte) error {
	switch c {
	case 't':
		o.Extract = true
	case 'i':
		o.DotEnds = false
	case 'v':
		o.Verbose++
	case 'I':
		return usagef("-I (initialize the alias database) is not supported: smtpkit has no aliases")
	default:
		// -G, -U, -c, -m, -n, -x and letters no sendmail knows.
		o.Ignored = append(o.Ignored, "-"+string(c))
	}
	return nil
}

// option applies an option letter and its value.
func (o *Options) option(c byte, val string) error {
	if val == "" {
		// Only a separate empty argument gets here ("-b ''").
		switch c {
		case 'b', 'q':
			return usagef("option -%c needs a value", c)
		case 'o':
			o.Ignored = append(o.Ignored, "-o ''")
			return nil
		}
	}
	switch c {
	case 'b':
		return o.modeOption(val)
	case 'B':
		switch strings.ToUpper(val) {
		case Body7Bit:
			o.Body = Body7Bit
		case Body8BitMIME:
			o.Body = Body8BitMIME
		default:
			return usagef("-B %q: want 7BIT or 8BITMIME", val)
		}
	case 'f', 'r':
		o.Sender, o.SenderSet = val, true
	case 'F':
		o.FullName = val
	case 'N':
		n, ok := parseNotify(val)
		if !ok {
			o.Warnings = append(o.Warnings, fmt.Sprintf("bad -N value %q ignored: want never or a list of success, delay and failure", val))
			return nil
		}
		o.Notify = n
	case 'R':
		switch strings.ToUpper(val) {
		case ReturnFull:
			o.Return = ReturnFull
		case ReturnHdrs:
			o.Return = ReturnHdrs
		default:
			o.Warnings = append(o.Warnings, fmt.Sprintf("bad -R value %q ignored: want full or hdrs", val))
		}
	case 'V':
		switch {
		case len(val) > maxEnvIDLen:
			o.Warnings = append(o.Warnings, "-V value longer than 100 characters ignored")
		case !printable(val):
			o.Warnings = append(o.Warnings, fmt.Sprintf("-V value %q ignored: not printable ASCII", val))
		default:
			o.EnvID = val
		}
	case 'o':
		if val[0] == 'i' {
			o.DotEnds = false
			return nil
		}
		// -oem, -oee, -odi, -odb, -om, -o7, -o8, -oA...: ignored.
		o.Ignored = append(o.Ignored, "-o"+val)
	case 'q':
		return o.queueOption(val)
	default:
		// -A, -C, -L, -O, -X, -e, -h, -p: ignored with their value.
		o.Ignored = append(o.Ignored, "-"+string(c)+val)
	}
	return nil
}

// modeOption applies -bX.
func (o *Options) modeOption(val string) error {
	switch val[0] {
	case 'm':
		o.Mode = ModeDeliver
		return nil
	case 'p':
		o.Mode = ModeQueue
		return nil
	case 's':
		return usagef("-bs (SMTP on standard input) is not supported: use smtpkit serve")
	case 'd', 'l':
		return usagef("-b%c (daemon mode) is not supported: use smtpkit serve", val[0])
	case 'i':
		return usagef("-bi (initialize the alias database) is not supported: smtpkit has no aliases")
	case 'v':
		return usagef("-bv (verify recipients) is not supported: use smtpkit send or smtpkit mx")
	}
	return usagef("-b%s is not supported: sendmail runs in -bm (deliver) or -bp (list the queue) mode", val)
}

// queueOption applies -qX: a run interval is ignored (exit 0), as in
// Postfix; -qR, -qI and -qS are not supported.
func (o *Options) queueOption(val string) error {
	if val[0] >= '0' && val[0] <= '9' {
		o.Mode = ModeNothing
		return nil
	}
	return usagef("-q%s is not supported: use -q to attempt every queued message, or smtpkit relay retry", val)
}

// check refuses combinations Postfix refuses.
func (o *Options) check() error {
	switch o.Mode {
	case ModeDeliver:
		if len(o.Recipients) == 0 && !o.Extract {
			return usagef("no recipients: give them as arguments or use -t to read them from the message")
		}
	case ModeQueue, ModeFlush:
		if o.Extract {
			return usagef("-t can be used only in delivery mode")
		}
		if len(o.Recipients) > 0 {
			what := "listing the queue"
			if o.Mode == ModeFlush {
				what = "flushing the queue"
			}
			return usagef("%s takes no recipients, got %q", what, o.Recipients[0])
		}
	}
	return nil
}

// parseNotify reads a -N value: "never", or a comma-separated list of
// success, delay and failure (RFC 3461 4.1), case-insensitive.
func parseNotify(val string) ([]string, bool) {
	var out []string
	seen := map[string]bool{}
	for _, item := range strings.Split(val, ",") {
		item = strings.ToUpper(strings.TrimSpace(item))
		switch item {
		case "NEVER", "SUCCESS", "DELAY", "FAILURE":
		default:
			return nil, false
		}
		if !seen[item] {
			seen[item] = true
			out = append(out, item)
		}
	}
	if seen["NEVER"] && len(out) > 1 {
		// RFC 3461 4.1: NEVER must appear by itself.
		return nil, false
	}
	return out, true
}

// printable reports whether s is printable US-ASCII, as an ENVID must be
// before xtext encoding.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
