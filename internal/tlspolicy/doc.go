// Package tlspolicy will hold smtpkit's TLS policy decisions for outbound connections
// (DESIGN.md, "internal/tlspolicy"): none, opportunistic, required, verify, DANE (RFC
// 7672) and MTA-STS (RFC 8461), and the certificate evaluation behind them, so that send,
// probe, relay and mx judge a TLS connection in one place and say why.
//
// For now it holds MTA-STS: parsing the _mta-sts TXT record (ParseSTSRecord), fetching and
// parsing the policy served at https://mta-sts.<domain>/.well-known/mta-sts.txt
// (FetchPolicy, ParsePolicy), and matching MX host names against the policy's patterns
// (Policy.Matches). The DNS lookup of the TXT record is the caller's (through
// internal/dnsx); the HTTPS fetch goes through an *http.Client the caller supplies, so tests
// point it at a loopback server.
package tlspolicy
