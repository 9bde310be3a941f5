// Package tlspolicy holds smtpkit's TLS policy decisions for outbound connections
// so that send, probe, relay and mx judge a TLS
// connection in one place and say why.
//
// # Judging a connection
//
// Evaluate takes the tls.ConnectionState of a finished handshake (or a zero one for a
// cleartext connection) and an Input, and returns a Verdict: OK or not, and a list of
// Reasons, each with a stable id (the Reason* constants), a status (pass, fail, warn,
// info) and a sentence. OK is false exactly when a reason has status fail; Verdict.Err
// turns that into a *RejectError. Evaluate does no I/O and reads no clock of its own
// (Input.Now), so the same state always gives the same verdict.
//
// The Level decides which findings fail the verdict:
//
//   - none, opportunistic (RFC 3207 4.1: a client may carry on without TLS): nothing
//     fails; certificate problems are reported as info or warnings.
//   - required: TLS must be used; the certificate is not authenticated.
//   - verify: the chain must lead to Input.Roots (the system roots when nil; LoadCAFile
//     reads a --ca-file), the leaf must carry Input.Host or one of Input.AltNames (RFC
//     6125 6: DNS-IDs with a leftmost wildcard, IP addresses against IP SANs) and must be
//     within its dates (RFC 5280 4.1.2.5).
//   - dane, dane-only (RFC 7672): only TLSA records with the DNSSEC AD bit count (RFC 7672
//     2.2); usages 0 and 1 are unusable for SMTP (RFC 7672 3.1.3); DANE-EE(3) matches the
//     leaf and ignores names and dates (RFC 7672 3.1.1); DANE-TA(2) matches a certificate
//     of the chain, or a bare public key with "2 1 0", and requires the chain to verify
//     to it and the name to match (RFC 7672 3.1.2, 3.2.2, 3.2.3). Validated records make
//     TLS mandatory even when none is usable (RFC 7672 2.2). Without validated records,
//     dane falls back to opportunistic and dane-only fails.
//   - mta-sts (RFC 8461): under a policy in mode enforce the MX host must match an mx
//     pattern (RFC 8461 4.1, Policy.Matches) and the connection must pass verify for it
//     (RFC 8461 4.2); in mode testing the same failures are warnings (RFC 8461 5); without
//     a policy or in mode none the connection is judged as opportunistic. When a domain
//     has both DANE and MTA-STS, RFC 8461 2 gives DANE precedence; that choice is the
//     caller's.
//   - fingerprint: the leaf's certificate or public key SHA-256 must equal a Pin.
//
// Every level also reports what it did not enforce: the chain, name and dates of a
// certificate under opportunistic TLS, or under DANE-EE, appear as info or warnings.
//
// # TLSA records and fingerprints
//
// LookupTLSA asks a dnsx.Resolver for _25._tcp.<host> (RFC 6698 3, RFC 7672 2.2.3) and
// marks each record with the answer's AD bit. TLSAFor and TLSARecord compute the "3 1 1"
// record to publish for a certificate (RFC 7671 8.1); CertSHA256 and SPKISHA256 give the
// two fingerprints reports show and pins use.
//
// # MTA-STS
//
// ParseSTSRecord parses the _mta-sts TXT record and ParsePolicy the policy served at
// https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 3.1, 3.2); FetchPolicy fetches
// it over HTTPS with an *http.Client the caller supplies (RFC 8461 3.3), so tests point it
// at a loopback server; Policy.Matches matches MX host names against the mx patterns (RFC
// 8461 4.1). Cache keeps policies for their max_age, keyed by domain with the record's
// id, in memory and optionally in a directory, with an injected clock; Cache.Discover runs
// the lookup, cache and fetch steps of RFC 8461 5.1 and keeps a cached policy when an
// attacker could be blocking the record or the fetch.
package tlspolicy
