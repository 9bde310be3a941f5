package cli

import (
	"context"
	"errors"
	"io/fs"
	"os"

	"github.com/smtpkit/smtpkit/internal/config"
	"github.com/smtpkit/smtpkit/internal/message"
	"github.com/smtpkit/smtpkit/internal/smtp"
)

// Exit codes (sysexits.h), as README's "Exit codes" lists them.
const (
	ExitOK          = 0
	ExitFindings    = 1
	ExitUsage       = 64
	ExitData        = 65
	ExitNoInput     = 66
	ExitNoUser      = 67
	ExitNoHost      = 68
	ExitUnavailable = 69
	ExitSoftware    = 70
	ExitCantCreat   = 73
	ExitIOErr       = 74
	ExitTempFail    = 75
	ExitProtocol    = 76
	ExitNoPerm      = 77
	ExitConfig      = 78
)

// exitStatuses says what every exit code means (README, "Exit codes"), for
// the EXIT STATUS section of the man pages.
var exitStatuses = []struct {
	Code    int
	Meaning string
}{
	{ExitOK, "everything asked for succeeded"},
	{ExitFindings, "probe or mx ran, and findings reached --fail-on"},
	{ExitUsage, "usage: a bad flag or argument"},
	{ExitData, "data: a malformed message or address"},
	{ExitNoInput, "an input file is missing or unreadable"},
	{ExitNoUser, "a recipient was rejected as unknown (X.1.1), even if others were accepted"},
	{ExitNoHost, "no such host or domain: NXDOMAIN, no MX and no address, null MX"},
	{ExitUnavailable, "permanent failure: another 5xx reply, required TLS missing, a certificate rejected by policy"},
	{ExitSoftware, "internal error"},
	{ExitCantCreat, "cannot create a file in the maildir or spool"},
	{ExitIOErr, "I/O error"},
	{ExitTempFail, "temporary failure: any 4xx reply, connection refused or timed out, DNS SERVFAIL; retry later"},
	{ExitProtocol, "protocol error: a malformed reply, a TLS handshake failure"},
	{ExitNoPerm, "permission: authentication failed (535, 530), an X.7.x policy rejection"},
	{ExitConfig, "configuration error"},
}

// exitStatusNotes follows the table.
const exitStatusNotes = `With several recipients or domains, the most severe outcome wins (any
permanent failure beats 75, and 75 beats 0), and --format json lists every
outcome. probe --nagios exits 0 OK, 1 WARNING, 2 CRITICAL or 3 UNKNOWN instead.`

// UsageError is a bad flag or argument (exit 64).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usageErrorf(format string, a ...any) error {
	return &UsageError{Msg: sprintf(format, a...)}
}

// ExitError carries an exit code decided by a command (for example from
// per-recipient outcomes) together with the message to print; an empty
// message prints nothing more.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return ""
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode maps an error to its exit status. It is the one place that does.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var (
		ee   *ExitError
		ue   *UsageError
		ae   *message.AddressError
		me   *message.MessageError
		mce  *message.ConfigError
		mio  *message.IOError
		ce   *config.Error
		se   *smtp.Error
		cone *smtp.ConnectError
		ne   *smtp.NetError
		te   *smtp.TLSError
		ie   *smtp.InjectionError
		pe   *smtp.ProtocolError
		cape *smtp.CapabilityError
		be   *smtp.BodyReadError
		pae  *fs.PathError
	)
	switch {
	case errors.As(err, &ee):
		return ee.Code
	case errors.As(err, &ue):
		return ExitUsage
	case errors.As(err, &ae), errors.As(err, &me):
		return ExitData
	case errors.As(err, &ce), errors.As(err, &mce):
		return ExitConfig
	case errors.As(err, &mio):
		return ExitIOErr
	case errors.As(err, &se):
		return replyExit(se)
	case errors.As(err, &cone):
		if cone.NoSuchHost() {
			return ExitNoHost
		}
		return ExitTempFail
	case errors.As(err, &te):
		if te.Verify {
			return ExitUnavailable
		}
		return ExitProtocol
	case errors.As(err, &ie), errors.As(err, &pe):
		return ExitProtocol
	case errors.As(err, &ne):
		return ExitTempFail
	case errors.As(err, &cape):
		return ExitUnavailable
	case errors.As(err, &be):
		return ExitIOErr
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return ExitTempFail
	case errors.As(err, &pae):
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.Is(err, os.ErrInvalid) {
			return ExitNoInput
		}
		return ExitIOErr
	}
	return ExitSoftware
}

// replyExit maps a server refusal to an exit code.
func replyExit(se *smtp.Error) int {
	switch {
	case se.Temporary():
		return ExitTempFail
	case se.UnknownUser():
		return ExitNoUser
	case se.Policy():
		return ExitNoPerm
	}
	return ExitUnavailable
}

// severity orders exit codes so the most severe outcome wins when there
// are several (any permanent code beats 75, 75 beats 0).
func severity(code int) int {
	switch code {
	case ExitOK:
		return 0
	case ExitFindings:
		return 1
	case ExitTempFail:
		return 2
	}
	return 3
}

// worse returns the more severe of two exit codes (the first on a tie).
func worse(a, b int) int {
	if severity(b) > severity(a) {
		return b
	}
	return a
}
