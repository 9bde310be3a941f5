// Package records parses and checks the DNS TXT records that describe a domain's mail
// policy: SPF (RFC 7208), DMARC (RFC 7489), SMTP TLS reporting (TLS-RPT, RFC 8460) and DKIM
// public keys (RFC 6376 section 3.6.1).
//
// Everything here is pure: parsers take the text of one TXT record and never touch the
// network. The one function that needs DNS, CountSPFLookups, takes the TXT lookup as a
// function, so the caller (smtpkit mx, through internal/dnsx) decides where queries go and
// tests can answer from a map.
//
// A TXT record made of several character-strings is one record: the caller joins its strings
// without a separator before handing it here (RFC 7208 3.3, RFC 6376 3.6.2.2).
//
// Parsers report what they find as a list of Problem values instead of failing on the first
// one: a checker wants to show every mistake in a record at once. A Problem with severity
// "error" means receivers will reject or ignore the record (an SPF permerror, a DMARC record
// that is discarded); "warning" marks something legal but unwise. Every result type is
// tagged for JSON with snake_case names, because `smtpkit mx --records --format json` prints
// them as they are.
package records
