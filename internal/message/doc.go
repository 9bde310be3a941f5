// Package message holds what smtpkit sends: envelope addresses (RFC 5321
// 4.1.2, RFC 6531) and the message streamed over DATA or BDAT, whether the
// user's own file (FromFile, FromReader) or one composed here (Compose),
// optionally DKIM-signed (RFC 6376).
//
// A Prepared message never sits in memory whole unless it is small: content
// is scanned once as it streams, kept in a temp file or re-read from the
// user's file, and Open hands it out again from the start as often as the
// caller needs (a retry, BDAT after DATA).
//
// Errors and the exit codes the CLI gives them (sysexits):
//
//	*AddressError    65 data: bad envelope address
//	*MessageError    65 data: unusable message content or --header value
//	*os.PathError    66 an input file (message, body, attachment, DKIM key)
//	                    is missing or unreadable; always wrapped, use errors.As
//	*ConfigError     78 configuration: DKIM key or settings unusable
//	*IOError         74 I/O: our own temp file failed (it does not unwrap
//	                    to *os.PathError)
package message
