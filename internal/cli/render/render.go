// Package render turns smtpkit's results into output: styled text on a
// terminal, plain and stable text in a pipe, and JSON (one document) or JSON
// lines on request. Results go to stdout; the live transcript, warnings and
// errors go to stderr.
//
// render is the only package that imports lipgloss. It never imports
// internal/cli; the command files hand it engine structs and it decides how
// they look.
package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"
)

// Format is the output format chosen with --format.
type Format string

// Output formats.
const (
	FormatText  Format = "text"  // aligned lines; styled on a terminal
	FormatJSON  Format = "json"  // one indented JSON document
	FormatJSONL Format = "jsonl" // one compact JSON object per line
)

// ParseFormat checks a --format value; "" means text.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case "", FormatText:
		return FormatText, nil
	case FormatJSON, FormatJSONL:
		return Format(s), nil
	}
	return "", fmt.Errorf("unknown format %q: want text, json or jsonl", s)
}

// Colour modes for Options.Color (--color).
const (
	ColorAuto   = "auto"   // colour when the stream is a terminal, NO_COLOR is unset and TERM is not dumb
	ColorAlways = "always" // colour even in a pipe; beats NO_COLOR, as a flag beats the environment
	ColorNever  = "never"
)

// Options are the global output flags.
type Options struct {
	Format  Format // "" means text
	Color   string // ColorAuto (also ""), ColorAlways or ColorNever
	Verbose int    // -v count: 1 live transcript, 2 with timestamps
	Quiet   bool   // -q: nothing on success, only failures and errors
	// Env looks up environment variables (NO_COLOR, TERM). nil means
	// os.LookupEnv.
	Env func(string) (string, bool)
}

// Printer writes results to out and diagnostics to errOut. Its methods are
// safe for concurrent use: each call writes its output in one piece under a
// lock, so the live transcript and warnings never interleave mid-line.
type Printer struct {
	out, errOut io.Writer
	o           Options
	outStyled   bool // colour on stdout (text format only)
	errStyled   bool // colour on stderr
	errTTY      bool // stderr is a terminal (progress lines)
	mu          sync.Mutex
}

// New returns a Printer. outTTY and errTTY say whether out and errOut are
// terminals (see IsTerminal); together with o.Color, NO_COLOR and TERM=dumb
// they decide whether each stream is styled.
func New(out, errOut io.Writer, outTTY, errTTY bool, o Options) *Printer {
	if o.Format == "" {
		o.Format = FormatText
	}
	if o.Color == "" {
		o.Color = ColorAuto
	}
	if o.Env == nil {
		o.Env = os.LookupEnv
	}
	p := &Printer{out: out, errOut: errOut, o: o, errTTY: errTTY}
	p.outStyled = o.Format == FormatText && colorOn(outTTY, o)
	p.errStyled = colorOn(errTTY, o)
	return p
}

// colorOn decides colour for one stream. NO_COLOR (https://no-color.org/)
// counts when it is non-empty; --color always overrides it.
func colorOn(tty bool, o Options) bool {
	switch o.Color {
	case ColorNever:
		return false
	case ColorAlways:
		return true
	}
	if !tty {
		return false
	}
	if v, ok := o.Env("NO_COLOR"); ok && v != "" {
		return false
	}
	if v, _ := o.Env("TERM"); v == "dumb" {
		return false
	}
	return true
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	return f != nil && term.IsTerminal(int(f.Fd()))
}

// Styled reports whether stdout gets colour: text format, and a terminal
// with colour allowed, or --color always. JSON output is never styled.
func (p *Printer) Styled() bool { return p.outStyled }

// Options returns the options the Printer was made with, defaults filled.
func (p *Printer) Options() Options { return p.o }

// Out is stdout, for commands that stream their own output. Writes through
// it bypass the Printer's lock.
func (p *Printer) Out() io.Writer { return p.out }

// ErrOut is stderr (progress bars, prompts). Writes through it bypass the
// Printer's lock.
func (p *Printer) ErrOut() io.Writer { return p.errOut }

// Paint styles s for stdout with tone t when stdout is styled, and returns
// s unchanged otherwise. Control characters in s are escaped either way.
func (p *Printer) Paint(t Tone, s string) string { return paint(p.outStyled, t, clean(s)) }

// Error prints err as one line on stderr: "smtpkit: <err>" in plain
// output, a red "error:" prefix on a styled terminal. Quiet does not
// suppress it, nor does a JSON format (the JSON result on stdout carries
// the error too). A nil err prints nothing.
func (p *Printer) Error(err error) {
	if err == nil {
		return
	}
	msg := clean(strings.TrimRight(err.Error(), "\n"))
	if p.errStyled {
		msg = paint(true, toneError, "error:") + " " + msg
	} else {
		msg = "smtpkit: " + msg
	}
	p.write(p.errOut, msg+"\n")
}

// Warn prints msg as one line on stderr, "smtpkit: warning: <msg>"
// (a yellow "warning:" on a styled terminal). Quiet suppresses it.
func (p *Printer) Warn(msg string) {
	if p.o.Quiet {
		return
	}
	msg = clean(strings.TrimRight(msg, "\n"))
	if p.errStyled {
		msg = paint(true, ToneWarn, "warning:") + " " + msg
	} else {
		msg = "smtpkit: warning: " + msg
	}
	p.write(p.errOut, msg+"\n")
}

// JSON writes v to stdout as one JSON document, indented by two spaces,
// with <, > and & left as they are (addresses are full of them), followed
// by a newline. It ignores Format: callers use it for the json format.
func (p *Printer) JSON(v any) error {
	b, err := marshal(v, true)
	if err != nil {
		return err
	}
	return p.write(p.out, string(b))
}

// JSONLine writes v to stdout as one compact JSON object on one line, for
// the jsonl format.
func (p *Printer) JSONLine(v any) error {
	b, err := marshal(v, false)
	if err != nil {
		return err
	}
	return p.write(p.out, string(b))
}

func marshal(v any, indent bool) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	return buf.Bytes(), nil
}

// write puts s on w in one call under the lock.
func (p *Printer) write(w io.Writer, s string) error {
	if s == "" {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err := io.WriteString(w, s)
	return err
}
