package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// binRun is the outcome of one run of the built smtpkit binary.
type binRun struct {
	args           []string
	stdout, stderr string
	code           int
}

// all is stdout and stderr together, for "appears nowhere" checks.
func (r binRun) all() string { return r.stdout + "\n" + r.stderr }

func (r binRun) String() string {
	return "smtpkit " + strings.Join(r.args, " ") + "\nstdout:\n" + r.stdout + "\nstderr:\n" + r.stderr
}

// binEnv is the environment smtpkit runs in: a home of its own (no user
// config), no colour, the test's PATH, and extra.
func binEnv(dir string, extra ...string) []string {
	return append([]string{"HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "XDG_STATE_HOME=" + dir, "USER=tester",
		"NO_COLOR=1", "PATH=" + os.Getenv("PATH")}, extra...)
}

// runBinary runs bin with args in dir and returns its output and exit
// status. With umask0 it runs under umask 0, so the modes smtpkit asks for
// are the modes the files get. The context is a bound on a hung run, not a
// speed requirement.
func runBinary(t *testing.T, bin, dir string, env []string, umask0 bool, args ...string) binRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var cmd *exec.Cmd
	if umask0 {
		cmd = exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", `umask 0 && exec "$0" "$@"`, bin}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, bin, args...)
	}
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := binRun{args: args, stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("smtpkit %v: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("smtpkit %v did not finish: %v\n%s", args, ctx.Err(), r)
	}
	return r
}

// wantExit fails the test unless r exited with code.
func wantExit(t *testing.T, r binRun, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\n%s", r.code, code, r)
	}
}

// execCommand is bin with args, in dir, with env, for startProc.
func execCommand(bin, dir string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	return cmd
}
