package smtp

import (
	"fmt"
	"strings"
)

// Error is a negative reply (4xx or 5xx) together with the command that
// caused it. Callers inspect it with errors.As.
type Error struct {
	Command string // the command verb and argument, secrets removed ("RCPT TO:<a@b>")
	Reply   Reply
}

func (e *Error) Error() string {
	if e.Command == "" {
		return fmt.Sprintf("server said %s", e.Reply)
	}
	return fmt.Sprintf("%s: server said %s", e.Command, e.Reply)
}

// Temporary reports a 4xx reply: the same command may succeed later.
func (e *Error) Temporary() bool { return e.Reply.Temporary() }

// Permanent reports a 5xx reply.
func (e *Error) Permanent() bool { return e.Reply.Permanent() }

// UnknownUser reports an X.1.1 enhanced code (RFC 3463 3.2: bad destination
// mailbox address), or a 550/551/553 with no enhanced code after RCPT.
func (e *Error) UnknownUser() bool {
	if e.Reply.Enhanced != "" {
		return e.Permanent() && strings.HasSuffix(e.Reply.Enhanced[1:], ".1.1")
	}
	return false
}

// Policy reports an X.7.x enhanced code (RFC 3463 3.8: security or policy
// status) or an authentication reply (530, 535).
func (e *Error) Policy() bool {
	if e.Reply.Code == CodeAuthRequired || e.Reply.Code == CodeAuthFailed || e.Reply.Code == 534 || e.Reply.Code == 538 {
		return true
	}
	return e.Reply.Enhanced != "" && strings.HasPrefix(e.Reply.Enhanced[1:], ".7.")
}

func replyError(cmd string, r Reply) error {
	if r.Code >= 400 {
		return &Error{Command: cmd, Reply: r}
	}
	return &ProtocolError{Command: cmd, Reason: fmt.Sprintf("unexpected reply %s", r)}
}

// AbortError is a transaction stopped by the caller's Transaction.BeforeEnd
// hook before the end of data was sent: the server cannot have accepted
// the message, and the session, left inside the content, must be closed.
type AbortError struct{ Err error }

func (e *AbortError) Error() string {
	return "transaction aborted before the end of data: " + e.Err.Error()
}
func (e *AbortError) Unwrap() error { return e.Err }
