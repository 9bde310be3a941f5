package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/smtpkit/smtpkit/internal/cli/render"
	"github.com/smtpkit/smtpkit/internal/dnsx/dnstest"
)

// DemoOptions are the flags of `smtpkit demo`.
type DemoOptions struct {
	// Keep leaves the throwaway directory in place and prints its path.
	Keep bool
}

func newDemoCmd(g *globals) *cobra.Command {
	o := &DemoOptions{}
	cmd := &cobra.Command{
		Use:   "demo [--keep]",
		Short: "Show the whole toolkit working on loopback, no network needed",
		Long: `Run smtpkit's commands against each other on loopback, with nothing to set up
and no network. The demo makes a throwaway directory with a CA and a
certificate, one AUTH user, and a DNS zone for example.test served on
127.0.0.1 (MX, SPF, DMARC, MTA-STS, TLS-RPT, PTR), then:

  serve    starts smtpkit serve on a free loopback port: STARTTLS, AUTH, a
           throwaway maildir
  send     submits a message through it with STARTTLS and AUTH, transcript
           shown
  probe    audits its capabilities and TLS, trusting the demo's CA
  mx       resolves example.test's routing and records from the zone, and
           checks the MX it names
  relay    spools a message for example.test and flushes it to that MX,
           whose certificate must verify
  maildir  lists what arrived (from, subject, size)

and finally stops the servers and removes the directory (--keep leaves it
and prints where it is). Every command runs in-process through the same
code as the binary; each step shows the command line it ran, as you could
type it, with what it printed, and ends with a ✓ or ✗ line. A failing step
skips the rest, but the cleanup still runs.

-q prints only failed steps; --format json prints one document with every
step's outcome and the JSON results of the commands it ran (jsonl: one line
per step, then a result line).

EXIT STATUS
  0 every step worked; otherwise the status of the step that failed, with one
  line on stderr naming it: for example 73 when the directory cannot be made,
  75 when serve cannot listen, 69 or 76 when TLS fails, 77 when AUTH is
  refused, 1 when probe or mx find a problem, 70 when what arrived in the
  maildir is not what was sent.`,
		Example: `  smtpkit demo
  smtpkit demo --keep          # then look around the directory it prints
  smtpkit demo --format json | jq '.steps[] | {name, status}'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), g, o)
		},
	}
	cmd.Flags().BoolVar(&o.Keep, "keep", false, "leave the throwaway directory (maildir, spool, certificates) in place and print its path")
	return cmd
}

// demoStepTimeout bounds one step: everything happens on loopback, so a
// step that takes this long is stuck.
const demoStepTimeout = 2 * time.Minute

// demo is one run of `smtpkit demo`: what the steps set up for the ones
// after them, and what cleanup takes down.
type demo struct {
	g  *globals
	o  *DemoOptions
	pr *render.Printer
	// structured: json or jsonl, so the commands print JSON too.
	structured bool
	// ctx is the run's context; serve lives in it, beyond its own step.
	ctx context.Context

	dir      string
	files    demoFiles
	dns      *dnstest.Server
	sts      *http.Server
	stsPort  string
	addr     string // serve's 127.0.0.1:PORT
	port     string
	stopSrv  context.CancelFunc
	srvDone  chan error
	serveLog *lockedBuffer
}

// demoStep is a step's name, its one-line title and what it does.
type demoStep struct {
	name, title string
	run         func(context.Context, *render.DemoStep) error
}

func runDemo(ctx context.Context, g *globals, o *DemoOptions) error {
	d := &demo{g: g, o: o, pr: g.printer(), structured: g.format != "text", ctx: ctx, serveLog: &lockedBuffer{}}
	return d.run()
}

func (d *demo) run() error {
	start := time.Now()
	cleanupTitle := "stop the servers and remove the throwaway directory"
	if d.o.Keep {
		cleanupTitle = "stop the servers, keep the throwaway directory (--keep)"
	}
	steps := []demoStep{
		{"setup", "a throwaway directory, a CA and a certificate, an AUTH user, and DNS for example.test on loopback", d.setup},
		{"serve", "smtpkit serve on a free loopback port, with STARTTLS, AUTH and a throwaway maildir", d.serve},
		{"send", "a message through it with STARTTLS and AUTH, with the transcript", d.send},
		{"probe", "its capabilities and TLS, trusting the demo's CA", d.probe},
		{"mx", "example.test's mail routing and records, from the DNS zone on loopback", d.mx},
		{"relay", "a message for bob@example.test into a throwaway spool, flushed to the MX the zone names", d.relay},
		{"maildir", "what arrived", d.maildir},
		{"cleanup", cleanupTitle, d.cleanup},
	}
	_ = d.pr.DemoIntro("smtpkit demo: serve, send, probe, mx and relay working together on loopback, no network needed")
	res := render.Demo{OK: true}
	var failed *render.DemoStep
	for i, s := range steps {
		st := render.DemoStep{Name: s.name, Title: s.title}
		if failed != nil && s.name != "cleanup" {
			st.Status = render.DemoSkipped
			_ = d.pr.DemoStep(st, i+1, len(steps))
			res.Steps = append(res.Steps, st)
			continue
		}
		_ = d.pr.DemoHeader(st, i+1, len(steps))
		// Cleanup runs even when the run was interrupted.
		parent := d.ctx
		if s.name == "cleanup" {
			parent = context.WithoutCancel(d.ctx)
		}
		ctx, cancel := context.WithTimeout(parent, demoStepTimeout)
		t0 := time.Now()
		err := s.run(ctx, &st)
		cancel()
		st.Elapsed = time.Since(t0)
		st.Status = render.DemoOK
		if err != nil {
			st.Status = render.DemoFailed
			st.ExitCode = ExitCode(err)
			if st.ExitCode == ExitOK {
				st.ExitCode = ExitSoftware
			}
			st.Error = oneLine(err.Error())
			if st.Error == "" {
				st.Error = fmt.Sprintf("exit status %d", st.ExitCode)
			}
			st.Summary = ""
			if failed == nil {
				res.OK, res.ExitCode = false, st.ExitCode
				res.Error = s.name + " failed: " + st.Error
			}
			failed = &st
		}
		_ = d.pr.DemoStep(st, i+1, len(steps))
		res.Steps = append(res.Steps, st)
	}
	res.Dir, res.Kept = d.dir, d.o.Keep && d.dir != ""
	res.Elapsed = time.Since(start)
	if !res.OK && d.g.verbose == 0 && !d.g.quiet {
		// What serve logged is the other half of a failed conversation.
		if log := strings.TrimSpace(d.serveLog.String()); log != "" {
			d.pr.Warn("demo: serve's log follows")
			fmt.Fprintln(d.pr.ErrOut(), "    "+strings.ReplaceAll(log, "\n", "\n    "))
		}
	}
	if err := d.pr.Demo(res); err != nil {
		return err
	}
	if res.OK {
		return nil
	}
	return &ExitError{Code: res.ExitCode, Err: errors.New("demo: " + res.Error)}
}

// smtpkit runs one smtpkit command line in-process, through the same
// cobra commands and run functions as the binary, and records it in st:
// the line as one could type it, and what the command printed. args are
// the arguments after "smtpkit", subcommand first; the output format,
// colour and --timeout are added to them unseen. The error is the command's, with its
// exit code, and names the command when the command said nothing itself.
func (d *demo) smtpkit(ctx context.Context, st *render.DemoStep, args ...string) error {
	var out, errOut bytes.Buffer
	err := d.exec(ctx, &out, &errOut, args)
	line := "smtpkit " + shellJoin(args)
	c := render.DemoCommand{Command: line, ExitCode: ExitCode(err)}
	if d.structured {
		if b := bytes.TrimSpace(out.Bytes()); json.Valid(b) {
			c.Output = b
		} else if len(b) > 0 {
			c.Output, _ = json.Marshal(string(b))
		}
		c.Stderr = errOut.String()
	} else {
		st.Body = append(st.Body, render.DemoBlock{Command: line, Text: errOut.String() + out.String()})
	}
	st.Commands = append(st.Commands, c)
	if err == nil {
		return nil
	}
	msg := oneLine(err.Error())
	if msg == "" {
		msg = fmt.Sprintf("smtpkit %s exited %d", args[0], c.ExitCode)
		if c.ExitCode == ExitFindings {
			msg += " (a finding reached --fail-on)"
		}
	}
	return &ExitError{Code: c.ExitCode, Err: errors.New(msg)}
}

// exec runs args through a fresh command tree whose output goes to out and
// errOut. The commands see the demo's terminal (colour follows the demo's
// stdout, where their output ends up), no stdin, no prompt, no config file
// and no SMTPKIT_* variables: the demo must not pick up a profile's server
// or a spool from the environment.
func (d *demo) exec(ctx context.Context, out, errOut io.Writer, args []string) error {
	env := *d.g.env
	env.Stdin, env.Stdout, env.Stderr = strings.NewReader(""), out, errOut
	env.StdinTTY, env.StdoutTTY, env.StderrTTY = false, d.g.env.StdoutTTY, d.g.env.StdoutTTY
	env.Prompt = nil
	lookup := d.g.env.LookupEnv
	env.LookupEnv = func(k string) (string, bool) {
		if strings.HasPrefix(k, "SMTPKIT_") {
			return "", false
		}
		return lookup(k)
	}
	full := append([]string{}, args...)
	if d.structured {
		full = append(full, "--format", "json")
	}
	full = append(full, "--color", d.g.color)
	if d.g.timeout > 0 {
		full = append(full, "--timeout", d.g.timeout.String())
	}
	g := &globals{env: &env, args: full, loaded: true}
	root := newRootCmd(g)
	root.SetArgs(full)
	root.SetIn(env.Stdin)
	root.SetOut(out)
	root.SetErr(errOut)
	err := root.ExecuteContext(ctx)
	if err != nil && isCobraUsage(err) {
		err = &UsageError{Msg: err.Error()}
	}
	return err
}

// verbosity is the -v flag for a command: the demo's own, at least min.
func (d *demo) verbosity(min int) []string {
	n := max(d.g.verbose, min)
	if n == 0 || d.structured {
		return nil
	}
	return []string{"-" + strings.Repeat("v", n)}
}

// shellJoin writes args as a shell would need them, quoting only where
// needed.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@=,+") == "" {
			q[i] = a
			continue
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
