// Package probe examines one SMTP server: connect and banner times, EHLO
// capabilities before and after STARTTLS, the TLS session (version, cipher,
// key exchange group, certificate chain, verification, OCSP stapling,
// session resumption), and checks with a severity and a stable id each
// (see Check). With Options.Audit it also asks internal/tlsscan which TLS
// versions, cipher suites and groups the server accepts.
//
// A probe never sends a message: the optional relay test stops at RCPT and
// resets. Results are data (Report); printing belongs to internal/cli/render.
package probe
