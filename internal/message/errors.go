package message

import "fmt"

// AddressError reports an envelope address that cannot be used: bad syntax, a
// forbidden character or a length limit. The CLI maps it to exit 65 (data).
type AddressError struct {
	Input  string // the text as the caller gave it
	Reason string // one short lowercase phrase, e.g. "empty domain"
}

func (e *AddressError) Error() string {
	return fmt.Sprintf("invalid address %q: %s", e.Input, e.Reason)
}

// MessageError reports message content that cannot be sent: an empty file, a
// file without a header section, a header section over 1 MiB, a malformed
// header given on the command line, a message DKIM cannot parse. The CLI maps
// it to exit 65 (data).
type MessageError struct {
	Source string // what was being read, e.g. `message /tmp/m.eml` or `header "X-Test"`
	Reason string // one short lowercase phrase
}

func (e *MessageError) Error() string {
	if e.Source == "" {
		return "message: " + e.Reason
	}
	return e.Source + ": " + e.Reason
}

// ConfigError reports a setting that cannot work: a DKIM key file that holds
// no usable private key, an empty DKIM domain or selector. The CLI maps it to
// exit 78 (configuration). A key file that is missing or unreadable is not a
// ConfigError: that is an *os.PathError (exit 66), like every other input file.
type ConfigError struct {
	What   string // e.g. "dkim key /etc/dkim/mail.pem"
	Reason string
}

func (e *ConfigError) Error() string {
	return e.What + ": " + e.Reason
}

// IOError reports a failure of the package's own temporary storage (creating,
// writing or re-reading a temp file in TempDir). The CLI maps it to exit 74
// (I/O error). It deliberately has no Unwrap method, so errors.As for
// *os.PathError (exit 66, unreadable input) never matches it; the cause is in
// Err.
type IOError struct {
	Op  string // e.g. "create temp file"
	Err error
}

func (e *IOError) Error() string {
	return e.Op + ": " + e.Err.Error()
}
