// Package cli wires smtpkit's commands with cobra. Each command file has
// the same shape: newXCmd builds the command and fills XOptions; runX calls
// the engine and hands the result to render. ExitCode maps errors to exit
// statuses in one place.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/smtpkit/smtpkit/internal/cli/render"
	"github.com/smtpkit/smtpkit/internal/config"
)

// globals are the flags every command shares (`smtpkit --help`) and the
// state derived from them.
type globals struct {
	env        *Env
	configPath string
	profile    string
	format     string
	jsonShort  bool
	color      string
	verbose    int
	quiet      bool
	timeout    time.Duration
	resolvers  []string
	ipv4, ipv6 bool

	// args is the command line Run was given: the sendmail command, which
	// cobra hands any smtpkit flags before its name, refuses those.
	args []string

	cfg      *config.File
	settings config.Settings
	loaded   bool
	p        *render.Printer
}

// Main runs smtpkit with the process's arguments and environment and
// returns the exit status.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, DefaultEnv(), commandLine(os.Args))
}

// Run executes one command line in env and returns the exit status. Errors
// are printed once, as one line on stderr.
func Run(ctx context.Context, env *Env, args []string) int {
	g := &globals{env: env, args: args}
	root := newRootCmd(g)
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	if isCobraUsage(err) {
		err = &UsageError{Msg: err.Error()}
	}
	code := ExitCode(err)
	sendmail := len(args) > 0 && args[0] == "sendmail"
	if code != ExitFindings && !sendmail && nagiosMode(args) {
		// Nagios plugins exit 3 (UNKNOWN) when they cannot check at all,
		// and their one line goes to stdout.
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Err != nil {
			fmt.Fprintln(env.Stdout, "SMTP UNKNOWN - "+oneLine(err.Error()))
			return 3
		}
		return code
	}
	if msg := err.Error(); msg != "" {
		g.printer().Error(err)
	}
	if code == ExitUsage && !sendmail {
		fmt.Fprintln(env.Stderr, "Run 'smtpkit --help' for usage.")
	}
	return code
}

// nagiosMode reports whether the command line asks for `probe --nagios`.
func nagiosMode(args []string) bool {
	probe, nagios := false, false
	for _, a := range args {
		switch {
		case a == "probe":
			probe = true
		case a == "--nagios" || a == "--nagios=true":
			nagios = true
		case a == "--":
			return probe && nagios
		}
	}
	return probe && nagios
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// isCobraUsage recognises the argument errors cobra makes itself.
func isCobraUsage(err error) bool {
	var ue *UsageError
	if errors.As(err, &ue) {
		return false
	}
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument", "accepts ", "requires at least", "requires at most", "if any flags in the group"} {
		if strings.HasPrefix(msg, p) || strings.Contains(msg, p) && strings.HasPrefix(p, "if any") {
			return true
		}
	}
	return false
}

func newRootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "smtpkit",
		Short: "The SMTP swiss-army knife: send, probe, resolve, relay and receive mail",
		Long: `smtpkit sends a message through a submission server (STARTTLS, AUTH), audits a
server's capabilities and TLS, resolves a domain's mail routing, relays mail with
retries and receives mail into maildir, in one binary.

Results go to stdout, diagnostics to stderr. Piped output is plain and stable;
--format json prints one JSON document.`,
		Example: `  smtpkit send --server mail.example.com --from me@example.com --to you@example.net -v
  smtpkit probe mx.example.com
  smtpkit mx --records spf,dmarc,mta-sts example.com
  smtpkit relay flush -q
  smtpkit serve --maildir ./maildir
  smtpkit send --help`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return g.validate()
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{Msg: err.Error()} })
	f := root.PersistentFlags()
	f.StringVar(&g.configPath, "config", "", "config file (default $XDG_CONFIG_HOME/smtpkit/config.yaml; env SMTPKIT_CONFIG)")
	f.StringVarP(&g.profile, "profile", "p", "", "config profile to use (env SMTPKIT_PROFILE)")
	f.StringVar(&g.format, "format", "text", "output format: text, json or jsonl")
	f.BoolVar(&g.jsonShort, "json", false, "short for --format json")
	f.StringVar(&g.color, "color", "auto", "colour: auto, always or never (NO_COLOR turns it off)")
	f.CountVarP(&g.verbose, "verbose", "v", "print the protocol transcript on stderr (-vv adds timestamps)")
	f.BoolVarP(&g.quiet, "quiet", "q", false, "print nothing but errors")
	f.DurationVar(&g.timeout, "timeout", 0, "timeout for each protocol stage (default: RFC 5321 values, 30s to connect)")
	f.StringArrayVar(&g.resolvers, "resolver", nil, "DNS resolver HOST[:PORT] (repeatable; default from /etc/resolv.conf)")
	f.BoolVarP(&g.ipv4, "ipv4", "4", false, "use IPv4 only")
	f.BoolVarP(&g.ipv6, "ipv6", "6", false, "use IPv6 only")
	root.MarkFlagsMutuallyExclusive("ipv4", "ipv6")
	_ = root.RegisterFlagCompletionFunc("profile", func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		var names []string
		for _, n := range g.profileNames() {
			if strings.HasPrefix(n, prefix) {
				names = append(names, n)
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
	_ = root.RegisterFlagCompletionFunc("format", fixedCompletion("text", "json", "jsonl"))
	_ = root.RegisterFlagCompletionFunc("color", fixedCompletion("auto", "always", "never"))

	root.AddCommand(newSendCmd(g), newProbeCmd(g), newMxCmd(g), newServeCmd(g), newRelayCmd(g), newVersionCmd(g), newSendmailCmd(g), newDemoCmd(g))
	root.AddCommand(newGenCmd(g))
	root.InitDefaultCompletionCmd()
	completionExamples(root)
	return root
}

func fixedCompletion(vals ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return vals, cobra.ShellCompDirectiveNoFileComp
	}
}

// validate checks the global flags before any command runs.
func (g *globals) validate() error {
	if g.jsonShort {
		g.format = "json"
	}
	switch g.format {
	case "text", "json", "jsonl":
	default:
		return usageErrorf("--format %q: want text, json or jsonl", g.format)
	}
	switch g.color {
	case "auto", "always", "never":
	default:
		return usageErrorf("--color %q: want auto, always or never", g.color)
	}
	if g.timeout < 0 {
		return usageErrorf("--timeout must be positive")
	}
	g.p = nil
	return nil
}

func (g *globals) printer() *render.Printer {
	if g.p == nil {
		g.p = render.New(g.env.Stdout, g.env.Stderr, g.env.StdoutTTY, g.env.StderrTTY, render.Options{
			Format:  render.Format(g.format),
			Color:   g.color,
			Verbose: g.verbose,
			Quiet:   g.quiet,
			Env:     g.env.LookupEnv,
		})
	}
	return g.p
}

// loadConfig reads the config file and resolves the profile once:
// defaults, then the profile chain, then SMTPKIT_* variables. Flags are
// applied by each command on top.
func (g *globals) loadConfig() (config.Settings, error) {
	if g.loaded {
		return g.settings, nil
	}
	path := g.configPath
	if path == "" {
		path, _ = g.env.LookupEnv("SMTPKIT_CONFIG")
	}
	f, err := config.Load(path)
	if err != nil {
		return config.Settings{}, err
	}
	profile := g.profile
	if profile == "" {
		profile, _ = g.env.LookupEnv("SMTPKIT_PROFILE")
	}
	s, err := f.Resolve(profile, g.env.LookupEnv)
	if err != nil {
		return config.Settings{}, err
	}
	g.cfg, g.settings, g.loaded = f, s, true
	return s, nil
}

// profileNames lists profiles for shell completion. It only parses the
// config file (--config, SMTPKIT_CONFIG or the default path): no password
// command runs, no password file is read, and an unreadable or invalid file
// completes nothing.
func (g *globals) profileNames() []string {
	f, err := config.LoadEnv(g.configPath, g.env.LookupEnv)
	if err != nil {
		return nil
	}
	return f.ProfileNames()
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }
