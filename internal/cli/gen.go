package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// docsDate is the date printed in every man page's header. It is a constant
// so that regenerating the pages changes nothing unless their text does
// (scripts/check.sh fails on stale pages); bump it when cutting a release,
// or pass --date.
const docsDate = "2026-12-01"

// GenOptions are the flags of the hidden `smtpkit gen man|completions DIR`.
type GenOptions struct {
	Dir  string
	Date string
}

func newGenCmd(g *globals) *cobra.Command {
	o := &GenOptions{}
	cmd := &cobra.Command{
		Use:    "gen",
		Short:  "Generate man pages and shell completions (for packagers; scripts/gen-docs.sh)",
		Hidden: true,
		Args:   noArgs,
	}
	man := &cobra.Command{
		Use:   "man DIR",
		Short: "Write one man page per command into DIR",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Dir = args[0]
			return runGenMan(cmd.Context(), g, o)
		},
	}
	man.Flags().StringVar(&o.Date, "date", docsDate, "date in the page headers, YYYY-MM-DD")
	comp := &cobra.Command{
		Use:   "completions DIR",
		Short: "Write the bash, zsh, fish and PowerShell completion scripts into DIR",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Dir = args[0]
			return runGenCompletions(cmd.Context(), g, o)
		},
	}
	cmd.AddCommand(man, comp)
	return cmd
}

// docsRoot builds a fresh command tree, as a user's run sees it (help and
// completion commands included), independent of the flags of the current
// run.
func docsRoot(g *globals) *cobra.Command {
	root := newRootCmd(&globals{env: g.env})
	root.InitDefaultHelpCmd()
	root.InitDefaultHelpFlag()
	return root
}

func runGenMan(_ context.Context, g *globals, o *GenOptions) error {
	date, err := time.Parse(time.DateOnly, o.Date)
	if err != nil {
		return usageErrorf("--date %q: want YYYY-MM-DD", o.Date)
	}
	pages, err := manPages(docsRoot(g), date)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return err
	}
	for _, p := range pages {
		if err := os.WriteFile(filepath.Join(o.Dir, p.name), p.text, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// completionFiles are the scripts `gen completions` writes, by file name:
// the names the shells look for in their completion directories.
var completionFiles = []struct {
	name string
	gen  func(root *cobra.Command, w *bytes.Buffer) error
}{
	{"smtpkit.bash", func(r *cobra.Command, w *bytes.Buffer) error { return r.GenBashCompletionV2(w, true) }},
	{"_smtpkit", func(r *cobra.Command, w *bytes.Buffer) error { return r.GenZshCompletion(w) }},
	{"smtpkit.fish", func(r *cobra.Command, w *bytes.Buffer) error { return r.GenFishCompletion(w, true) }},
	{"smtpkit.ps1", func(r *cobra.Command, w *bytes.Buffer) error { return r.GenPowerShellCompletionWithDesc(w) }},
}

func runGenCompletions(_ context.Context, g *globals, o *GenOptions) error {
	root := docsRoot(g)
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return err
	}
	for _, f := range completionFiles {
		var b bytes.Buffer
		if err := f.gen(root, &b); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		if err := os.WriteFile(filepath.Join(o.Dir, f.name), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// completionExamples gives cobra's default completion commands the
// examples every man page shows.
func completionExamples(root *cobra.Command) {
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		if c.Example == "" {
			c.Example = "  smtpkit completion bash > ~/.local/share/bash-completion/completions/smtpkit\n" +
				"  smtpkit completion zsh > \"${fpath[1]}/_smtpkit\""
		}
		for _, sh := range c.Commands() {
			if sh.Example != "" {
				continue
			}
			switch sh.Name() {
			case "bash":
				sh.Example = "  source <(smtpkit completion bash)\n  smtpkit completion bash > ~/.local/share/bash-completion/completions/smtpkit"
			case "zsh":
				sh.Example = "  smtpkit completion zsh > \"${fpath[1]}/_smtpkit\""
			case "fish":
				sh.Example = "  smtpkit completion fish > ~/.config/fish/completions/smtpkit.fish"
			case "powershell":
				sh.Example = "  smtpkit completion powershell | Out-String | Invoke-Expression"
			default:
				sh.Example = "  smtpkit completion " + sh.Name()
			}
		}
	}
}

// trimIndent removes the indentation every line of s shares.
func trimIndent(lines []string) []string {
	min := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " "))
		if min < 0 || n < min {
			min = n
		}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		if len(l) >= min && min > 0 {
			l = l[min:]
		}
		out[i] = l
	}
	return out
}
