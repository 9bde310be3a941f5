package render

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// The JSON output of `smtpkit demo` (--format json, one document) is a
// documented contract; field names only ever get added:
//
//	ok          bool      every step worked
//	dir         string    the throwaway directory
//	kept        bool      --keep: dir was left in place
//	elapsed_ms  number    the whole run
//	exit_code   number    the exit status
//	error       string    the one-line error (absent when ok)
//	steps       [object]  in order: name (setup, serve, send, probe, mx,
//	                      relay, maildir, cleanup), title, status (ok,
//	                      failed, skipped), summary, error, exit_code,
//	                      elapsed_ms, commands (each smtpkit command line
//	                      the step ran: command, exit_code, output (that
//	                      command's own JSON document), stderr (what it
//	                      printed there, when anything)), data (what the
//	                      step found itself: addresses, the maildir's
//	                      messages)
//
// --format jsonl prints each step as one line as it finishes, then a line
// with type "result" and the fields above but steps.

// Step statuses of a demo.
const (
	DemoOK      = "ok"
	DemoFailed  = "failed"
	DemoSkipped = "skipped"
)

// DemoCommand is one smtpkit command line a demo step ran in-process.
type DemoCommand struct {
	Command  string `json:"command"`
	ExitCode int    `json:"exit_code"`
	// Output is the command's JSON document (json formats).
	Output json.RawMessage `json:"output,omitempty"`
	// Stderr is what the command printed on stderr (json formats).
	Stderr string `json:"stderr,omitempty"`
}

// DemoBlock is one piece of a step's text body: a command line with what
// it printed, or a table of facts.
type DemoBlock struct {
	// Command is shown as "$ COMMAND"; empty for a table.
	Command string
	// Text is what the command printed, transcript first, exactly as its
	// own Printer made it (styled already when the demo's stdout is): it
	// is indented and passed through, not cleaned again.
	Text  string
	Table *Table
}

// DemoStep is one step of `smtpkit demo`.
type DemoStep struct {
	Name     string        `json:"name"`
	Title    string        `json:"title"`
	Status   string        `json:"status"`
	Summary  string        `json:"summary,omitempty"`
	Error    string        `json:"error,omitempty"`
	ExitCode int           `json:"exit_code"`
	Elapsed  time.Duration `json:"-"`
	// ElapsedMS is Elapsed, filled in by the Printer.
	ElapsedMS float64       `json:"elapsed_ms"`
	Commands  []DemoCommand `json:"commands,omitempty"`
	Data      any           `json:"data,omitempty"`
	// Body is what text output shows between the header and the result.
	Body []DemoBlock `json:"-"`
}

// Demo is the whole run.
type Demo struct {
	OK      bool          `json:"ok"`
	Dir     string        `json:"dir"`
	Kept    bool          `json:"kept"`
	Elapsed time.Duration `json:"-"`
	// ElapsedMS is Elapsed, filled in by the Printer.
	ElapsedMS float64    `json:"elapsed_ms"`
	ExitCode  int        `json:"exit_code"`
	Error     string     `json:"error,omitempty"`
	Steps     []DemoStep `json:"steps"`
}

// demoIndent is the margin of a step's body.
const demoIndent = "    "

// DemoIntro prints the demo's first line (text, not quiet).
func (p *Printer) DemoIntro(s string) error {
	if p.o.Format != FormatText || p.o.Quiet {
		return nil
	}
	return p.write(p.out, p.Paint(ToneBold, s)+"\n")
}

// DemoHeader prints a step's header as the step starts, so a slow step
// shows what it is doing: a blank line, then "==> 3/8 send: TITLE". Text
// only; quiet prints it later, with a failed step's result.
func (p *Printer) DemoHeader(s DemoStep, n, of int) error {
	if p.o.Format != FormatText || p.o.Quiet {
		return nil
	}
	return p.write(p.out, "\n"+p.demoHeader(s, n, of))
}

func (p *Printer) demoHeader(s DemoStep, n, of int) string {
	num := strconv.Itoa(n) + "/" + strconv.Itoa(of)
	return p.Paint(ToneBold, "==> "+num+" "+s.Name+":") + " " + p.Paint(ToneNone, s.Title) + "\n"
}

// DemoStep prints a finished step: in text its body (each command line
// and what it printed, indented) and one result line, "✓ NAME: SUMMARY
// (ELAPSED)" or "✗ NAME: ERROR"; a skipped step is one "- NAME: skipped"
// line. Quiet prints failed steps only, header included. jsonl prints the
// step as one line; json prints nothing (Demo does, at the end).
func (p *Printer) DemoStep(s DemoStep, n, of int) error {
	s.ElapsedMS = ms(s.Elapsed)
	switch p.o.Format {
	case FormatJSON:
		return nil
	case FormatJSONL:
		return p.JSONLine(struct {
			Type string `json:"type"`
			DemoStep
		}{"step", s})
	}
	var b strings.Builder
	if p.o.Quiet {
		if s.Status != DemoFailed {
			return nil
		}
		b.WriteString(p.demoHeader(s, n, of))
	}
	if s.Status == DemoSkipped {
		if p.o.Quiet {
			return nil
		}
		return p.write(p.out, p.Paint(ToneDim, "-   "+s.Name+": skipped")+"\n")
	}
	for _, blk := range s.Body {
		if blk.Command != "" {
			b.WriteString(demoIndent + p.Paint(ToneDim, "$ "+blk.Command) + "\n")
		}
		text := blk.Text
		if blk.Table != nil {
			text = blk.Table.Render(p.outStyled)
		}
		for _, line := range strings.SplitAfter(text, "\n") {
			if line == "" {
				continue
			}
			if !strings.HasSuffix(line, "\n") {
				line += "\n"
			}
			if line == "\n" {
				b.WriteString(line)
				continue
			}
			b.WriteString(demoIndent + line)
		}
	}
	if s.Status == DemoOK {
		b.WriteString(p.Paint(ToneGood, "✓ "+s.Name+":"))
		if s.Summary != "" {
			b.WriteString(" " + p.Paint(ToneNone, s.Summary))
		}
		b.WriteString(" " + p.Paint(ToneDim, "("+FormatDuration(s.Elapsed)+")"))
	} else {
		b.WriteString(p.Paint(ToneBad, "✗ "+s.Name+":") + " " + p.Paint(ToneBad, s.Error))
	}
	b.WriteString("\n")
	return p.write(p.out, b.String())
}

// Demo prints the end of the run: json the whole document, jsonl a
// "result" line, text one closing line (and, with --keep, where the
// directory is; that line is printed even with quiet, since it was asked
// for).
func (p *Printer) Demo(d Demo) error {
	d.ElapsedMS = ms(d.Elapsed)
	d.Steps = append([]DemoStep{}, d.Steps...)
	for i := range d.Steps {
		d.Steps[i].ElapsedMS = ms(d.Steps[i].Elapsed)
	}
	switch p.o.Format {
	case FormatJSON:
		return p.JSON(d)
	case FormatJSONL:
		return p.JSONLine(struct {
			Type string `json:"type"`
			Demo
			Steps []DemoStep `json:"steps,omitempty"` // hides Demo's: each step had its line
		}{Type: "result", Demo: d})
	}
	var b strings.Builder
	if !p.o.Quiet {
		b.WriteString("\n")
		if d.OK {
			b.WriteString(p.Paint(ToneGood, "✓ demo: all "+strconv.Itoa(len(d.Steps))+" steps worked") + " " + p.Paint(ToneDim, "("+FormatDuration(d.Elapsed)+")") + "\n")
		} else {
			b.WriteString(p.Paint(ToneBad, "✗ demo: "+d.Error) + "\n")
		}
	}
	if d.Kept {
		b.WriteString("kept " + p.Paint(ToneBold, d.Dir) + " (remove it with: rm -r " + d.Dir + ")\n")
	}
	return p.write(p.out, b.String())
}
