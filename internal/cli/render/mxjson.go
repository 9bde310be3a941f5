package render

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/smtpkit/smtpkit/internal/mxcheck"
)

// The JSON output of `smtpkit mx` is a documented contract: field names
// only ever get added. Times are milliseconds as fractional numbers; lists
// are [] rather than null; objects for lookups that were not asked for are
// absent. `--format json` prints one document,
//
//	domains  [object]  one MxDomainJSON per domain, in the order they finished
//	                   (the input order with --concurrency 1)
//	summary  object    see MxSummaryJSON
//
// streamed as the domains finish, so a million domains never sit in memory.
// `--format jsonl` prints one MxDomainJSON per line and no summary.

// MxJSON documents the json document; MxStream writes it piecewise.
type MxJSON struct {
	Domains []MxDomainJSON `json:"domains"`
	Summary MxSummaryJSON  `json:"summary"`
}

// MxDomainJSON is one domain (mxcheck.Report and its exit code):
//
//	input        string    the argument or input line as given
//	domain       string    the name asked: A-labels, lower case ("" when invalid)
//	unicode      string    the name with U-labels, when it has any
//	status       string    ok, invalid, no-such-domain, null-mx, no-route, temporary, bad-answer
//	error        string    why status is not ok, one line (absent when ok)
//	exit_code    number    what this domain alone would exit with (0, 1, 65, 68, 75, 76)
//	canonical    string    where the domain's CNAME chain ends (absent when no alias)
//	cnames       [string]  the chain (absent when no alias)
//	implicit_mx  bool      no MX records: the domain's own addresses are the one hop
//	null_mx      bool      the domain publishes a null MX (RFC 7505)
//	mx           [object]  hops in delivery order (equal preferences shuffled):
//	                         host, preference, ttl (0 for an implicit MX),
//	                         cnames (when the host is an alias), ad (bool),
//	                         error (why it has no or only some addresses),
//	                         addresses: [{ip, ttl, ptr, check}],
//	                         tlsa (with --records tlsa): {name, records: [{usage,
//	                         selector, matching_type, data (hex), ttl}], ad, error}
//	dnssec       object    mx_ad (the MX answer had AD), hosts_ad (every address
//	                       answer had AD), trusted_resolver (every resolver is on
//	                       loopback; AD from elsewhere proves nothing)
//	notes        [string]  oddities that do not stop mail (absent when none)
//	spf          object    record ("" when none), lookups (DNS-querying terms, limit 10),
//	                       problems, error
//	dmarc        object    name (where found or last looked for), organizational_domain
//	                       (when inherited), record, policy, subdomain_policy, percent,
//	                       dkim_alignment, spf_alignment, aggregate_reports,
//	                       failure_reports, failure_options, report_formats,
//	                       report_interval (absent when no record), problems, error
//	mta_sts      object    record, id, policy_url, mode, max_age, mx_patterns,
//	                       all_mx_match, unmatched_mx, problems, error
//	tls_rpt      object    record, rua (absent when no record), problems, error
//	dkim         [object]  per --dkim-selector: selector, name, record, key_type,
//	                       key_bits, revoked, services, testing, strict, ... problems, error
//	findings     [string]  the --fail-on conditions that hold
//	elapsed_ms   number    time spent on the domain
//
// A problem is {severity: "error" or "warning", text}. An address's ptr
// (--records ptr) is {names, fcrdns (bool: a name resolves back to the
// address), error}; its check (--check) is {reachable (a 220 banner
// came), connect_ms, banner, banner_ms, ehlo, ehlo_ms, starttls (offered),
// tls (handshake done), tls_version, tls_ms, cert_names_host,
// cert_verified (chain trusted for the host name), cert_error, error}.
type MxDomainJSON struct {
	*mxcheck.Report
	ExitCode int `json:"exit_code"`
}

// MxSummaryJSON closes the json document:
//
//	domains    number  domains reported
//	ok         number  domains with status ok
//	failed     number  domains with another status
//	findings   number  domains holding a --fail-on condition
//	exit_code  number  the exit status of the run: the worst of all domains
type MxSummaryJSON struct {
	Domains  int `json:"domains"`
	OK       int `json:"ok"`
	Failed   int `json:"failed"`
	Findings int `json:"findings"`
	ExitCode int `json:"exit_code"`
}

// marshalIndent encodes v indented by two spaces per level, every line
// after the first starting with prefix, with a final newline, and <, >, &
// left as they are.
func marshalIndent(v any, prefix string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent(prefix, "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	b := buf.Bytes()
	return b[:len(b)-1], nil
}
