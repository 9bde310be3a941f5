package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/smtpkit/smtpkit/internal/buildinfo"
	"github.com/smtpkit/smtpkit/internal/cli/render"
)

// VersionOptions are the flags of `smtpkit version` (none of its own).
type VersionOptions struct{}

func newVersionCmd(g *globals) *cobra.Command {
	opts := &VersionOptions{}
	return &cobra.Command{
		Use:   "version",
		Short: "Print version, commit and Go version",
		Example: `  smtpkit version
  smtpkit version --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVersion(cmd.Context(), g, opts)
		},
	}
}

func runVersion(_ context.Context, g *globals, _ *VersionOptions) error {
	i := buildinfo.Get()
	return g.printer().Version(render.VersionInfo{Version: i.Version, Commit: i.Commit, Date: i.Date, GoVersion: i.GoVersion, Platform: i.Platform})
}
