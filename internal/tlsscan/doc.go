// Package tlsscan audits which TLS a server accepts: protocol versions
// from SSLv3 to TLS 1.3, the cipher suites of each version in the
// server's order of preference, whether the server or the client decides
// that order, forward secrecy per suite, the key exchange groups, and
// whether the server honours TLS_FALLBACK_SCSV (RFC 7507).
//
// It builds ClientHellos by hand (hello.go) so that it can offer what
// crypto/tls cannot: SSLv3 (RFC 6101 5.6.1.2), TLS 1.0 and 1.1 (RFC 5246
// 7.4.1.2 and Appendix E), and legacy suites such as EXPORT, NULL,
// anonymous DH/ECDH, RC4, DES, 3DES, IDEA, SEED, CAMELLIA and ARIA. A
// TLS 1.3 hello sends legacy_version TLS 1.2 and names TLS 1.3 in
// supported_versions (RFC 8446 4.1.2, 4.2.1).
//
// It reads only the server's plaintext first flight (serverhello.go): the
// ServerHello (RFC 5246 7.4.1.3, RFC 8446 4.1.3), a HelloRetryRequest,
// recognised by its special random (RFC 8446 4.1.3), an alert, and for
// ephemeral key exchanges before TLS 1.3 the ServerKeyExchange (RFC 5246
// 7.4.3, RFC 8422 5.4); then it hangs up. No key is ever computed, so a
// random X25519 share is enough.
//
// Audit needs a fresh connection per handshake: the caller's Dialer
// returns a connection on which the next bytes written are a ClientHello
// (for SMTP, after EHLO and a 220 answer to STARTTLS). Handshakes run
// concurrently up to Options.Concurrency, each bounded by
// Options.HandshakeTimeout and Options.MaxBytes, and the whole audit by
// its context. Results are data only; nothing is printed.
//
// The suite table (suites_table.go) holds each suite's code point, IANA
// name and OpenSSL name; everything else is derived from the IANA name.
package tlsscan
