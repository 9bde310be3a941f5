package config

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// maxSecret bounds how much of a password file or command output is read.
const maxSecret = 64 << 10

// commandWaitDelay is how long a password command's stdout may stay open after the command
// exits or is killed (a process it started may hold it) before smtpkit stops waiting. The
// command keeps smtpkit's process group so that a prompt on the terminal (pinentry) works.
const commandWaitDelay = 2 * time.Second

// Password returns the password from the configured source, writing a password command's
// stderr to os.Stderr. See [Settings.PasswordTo].
func (s Settings) Password(ctx context.Context, lookup func(string) (string, bool)) (string, bool, error) {
	return s.PasswordTo(ctx, lookup, os.Stderr)
}

// PasswordTo returns the password from the first source set, in this order: password
// (inline), password_file (its first line, without the line ending), password_env (the whole
// value of the named variable, found with lookup), password_command (run with "sh -c", stdin
// from /dev/null so it never eats a message piped to smtpkit, stderr to stderr; the first line
// of its stdout). ok is false, with no error, when no source is set. Resolved settings hold at
// most one source (see [Settings.Merge]).
//
// It returns an error wrapping *fs.PathError when the password file cannot be read, and an
// *Error when the named variable is unset or empty, when the command fails (naming the
// command and its exit status, never its output) or is cancelled through ctx, or when a file
// or command yields an empty password.
func (s Settings) PasswordTo(ctx context.Context, lookup func(string) (string, bool), stderr io.Writer) (string, bool, error) {
	switch {
	case s.InlinePassword != nil:
		return *s.InlinePassword, true, nil
	case s.PasswordFile != nil:
		pw, err := passwordFromFile(*s.PasswordFile)
		return pw, err == nil, err
	case s.PasswordEnv != nil:
		name := *s.PasswordEnv
		v, ok := "", false
		if lookup != nil {
			v, ok = lookup(name)
		}
		if !ok {
			return "", false, &Error{Msg: fmt.Sprintf("password_env: variable %s is not set", name)}
		}
		if v == "" {
			return "", false, &Error{Msg: fmt.Sprintf("password_env: variable %s is empty", name)}
		}
		return v, true, nil
	case s.PasswordCommand != nil:
		pw, err := passwordFromCommand(ctx, *s.PasswordCommand, stderr)
		return pw, err == nil, err
	}
	return "", false, nil
}

func passwordFromFile(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("password_file: %w", err)
	}
	defer fh.Close()
	line, err := firstLine(fh)
	if err != nil {
		return "", fmt.Errorf("password_file: %w", err)
	}
	if line == "" {
		return "", &Error{Msg: fmt.Sprintf("password_file %s: first line is empty", path)}
	}
	return line, nil
}

func passwordFromCommand(ctx context.Context, command string, stderr io.Writer) (string, error) {
	if stderr == nil {
		stderr = io.Discard
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Stdin = nil // /dev/null
	cmd.Stdout = &capped{buf: &out, n: maxSecret}
	cmd.Stderr = stderr
	cmd.WaitDelay = commandWaitDelay
	err := cmd.Run()
	if cerr := ctx.Err(); cerr != nil {
		err = cerr
	} else if errors.Is(err, exec.ErrWaitDelay) {
		// The command succeeded but something it started still holds stdout open; what it
		// printed before exiting is all there is.
		err = nil
	}
	if err != nil {
		// err is the exit status, a start failure or the cancellation; never the output.
		return "", &Error{Msg: fmt.Sprintf("password_command %q failed", command), Err: err}
	}
	line, _ := firstLine(&out)
	if line == "" {
		return "", &Error{Msg: fmt.Sprintf("password_command %q printed no password", command)}
	}
	return line, nil
}

// firstLine returns r's first line without its LF or CRLF.
func firstLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, maxSecret)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimSuffix(line, "\n")
	return strings.TrimSuffix(line, "\r"), nil
}

// capped keeps the first n bytes written and discards the rest, so that a command printing
// endlessly cannot exhaust memory, yet is not killed by a write error.
type capped struct {
	buf *bytes.Buffer
	n   int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.n - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
