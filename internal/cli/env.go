package cli

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/smtpkit/smtpkit/internal/cli/render"
	"github.com/smtpkit/smtpkit/internal/smtp"
)

// Env is everything a command needs from the outside world. Tests build
// their own to pretend to be a terminal or a pipe, to inject environment
// variables, a dialer or a clock.
type Env struct {
	Stdin     io.Reader
	Stdout    io.Writer
	Stderr    io.Writer
	StdinTTY  bool
	StdoutTTY bool
	StderrTTY bool
	// LookupEnv reads an environment variable.
	LookupEnv func(string) (string, bool)
	Dialer    smtp.Dialer
	Now       func() time.Time
	Hostname  func() (string, error)
	// Prompt asks for a secret on the controlling terminal; nil when there
	// is none.
	Prompt func(prompt string) (string, error)
}

// DefaultEnv is the process's real environment.
func DefaultEnv() *Env {
	e := &Env{
		Stdin:     os.Stdin,
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
		StdinTTY:  render.IsTerminal(os.Stdin),
		StdoutTTY: render.IsTerminal(os.Stdout),
		StderrTTY: render.IsTerminal(os.Stderr),
		LookupEnv: os.LookupEnv,
		Dialer:    &net.Dialer{},
		Now:       time.Now,
		Hostname:  os.Hostname,
	}
	e.Prompt = promptTTY
	return e
}

// errNoTTY: there is no controlling terminal to prompt on.
var errNoTTY = errors.New("no terminal to prompt on")

// promptTTY reads a secret from /dev/tty without echo.
func promptTTY(prompt string) (string, error) {
	f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil || !term.IsTerminal(int(f.Fd())) {
		if f != nil {
			f.Close()
		}
		return "", errNoTTY
	}
	defer f.Close()
	fmt.Fprint(f, prompt)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(f)
	if err != nil {
		return "", fmt.Errorf("reading password: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func (e *Env) getenv(k string) string {
	v, _ := e.LookupEnv(k)
	return v
}
