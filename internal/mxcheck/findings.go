package mxcheck

import (
	"fmt"
	"slices"
	"strings"

	"github.com/smtpkit/smtpkit/internal/records"
)

// Finding is a --fail-on condition.
type Finding string

// The --fail-on conditions. Each holds for a domain when:
const (
	FindNoMX        Finding = "no-mx"       // it publishes no MX record (implicit MX, no route, NXDOMAIN)
	FindNullMX      Finding = "null-mx"     // it publishes a null MX (RFC 7505)
	FindUnreachable Finding = "unreachable" // an MX address gave no 220 banner, or no MX host has an address
	FindNoSTARTTLS  Finding = "no-starttls" // a reachable MX address offered no STARTTLS or its handshake failed
	FindNoSPF       Finding = "no-spf"      // no single SPF record was found
	FindNoDMARC     Finding = "no-dmarc"    // no DMARC record, at the domain nor its organizational domain
	FindDMARCNone   Finding = "dmarc-none"  // the DMARC policy in force is p=none
	FindNoMTASTS    Finding = "no-mta-sts"  // no usable MTA-STS policy: no record, a policy not fetched or invalid, or mode none
	FindNoTLSA      Finding = "no-tlsa"     // an MX host has no TLSA record
	FindNoFCrDNS    Finding = "no-fcrdns"   // an MX address has no forward-confirmed reverse DNS
)

// AllFindings lists every Finding.
var AllFindings = []Finding{FindNoMX, FindNullMX, FindUnreachable, FindNoSTARTTLS, FindNoSPF, FindNoDMARC,
	FindDMARCNone, FindNoMTASTS, FindNoTLSA, FindNoFCrDNS}

// ParseFindings parses a comma-separated --fail-on list.
func ParseFindings(list string) ([]Finding, error) {
	var out []Finding
	for f := range strings.SplitSeq(list, ",") {
		f = strings.TrimSpace(strings.ToLower(f))
		if f == "" {
			continue
		}
		if !slices.Contains(AllFindings, Finding(f)) {
			names := make([]string, len(AllFindings))
			for i, a := range AllFindings {
				names[i] = string(a)
			}
			return nil, fmt.Errorf("unknown condition %q: want %s", f, strings.Join(names, ", "))
		}
		if !slices.Contains(out, Finding(f)) {
			out = append(out, Finding(f))
		}
	}
	return out, nil
}

// Needs says what a Finding needs looked up: a record, or the SMTP check.
func (f Finding) Needs() (rec Record, check bool) {
	switch f {
	case FindUnreachable, FindNoSTARTTLS:
		return "", true
	case FindNoSPF:
		return RecordSPF, false
	case FindNoDMARC, FindDMARCNone:
		return RecordDMARC, false
	case FindNoMTASTS:
		return RecordMTASTS, false
	case FindNoTLSA:
		return RecordTLSA, false
	case FindNoFCrDNS:
		return RecordPTR, false
	}
	return "", false
}

// findings evaluates c.FailOn on r. An invalid name or a temporary
// failure of the route proves nothing, so only its own status counts.
func (c *Checker) findings(r *Report) {
	if r.Status == StatusInvalid || r.Status == StatusTemporary || r.Status == StatusBadAnswer {
		return
	}
	for _, f := range c.FailOn {
		if holds(f, r) {
			r.Findings = append(r.Findings, string(f))
		}
	}
}

func holds(f Finding, r *Report) bool {
	switch f {
	case FindNoMX:
		return r.ImplicitMX || r.Status == StatusNoSuchDomain
	case FindNullMX:
		return r.NullMX
	case FindUnreachable:
		if r.NullMX {
			return false
		}
		n := 0
		for _, h := range r.MX {
			for _, a := range h.Addresses {
				n++
				if a.Check != nil && !a.Check.Reachable {
					return true
				}
			}
		}
		return n == 0
	case FindNoSTARTTLS:
		for _, h := range r.MX {
			for _, a := range h.Addresses {
				if a.Check != nil && a.Check.Reachable && (!a.Check.STARTTLS || !a.Check.TLS) {
					return true
				}
			}
		}
	case FindNoSPF:
		return r.SPF != nil && r.SPF.Record == ""
	case FindNoDMARC:
		return r.DMARC != nil && r.DMARC.DMARC == nil
	case FindDMARCNone:
		return r.DMARC != nil && r.DMARC.DMARC != nil && r.DMARC.Policy == records.DMARCNone
	case FindNoMTASTS:
		return r.MTASTS != nil && (r.MTASTS.Mode == "" || r.MTASTS.Mode == "none" || r.MTASTS.Error != "")
	case FindNoTLSA:
		for _, h := range r.MX {
			if h.TLSA != nil && len(h.TLSA.Records) == 0 {
				return true
			}
		}
	case FindNoFCrDNS:
		for _, h := range r.MX {
			for _, a := range h.Addresses {
				if a.PTR != nil && !a.PTR.FCrDNS {
					return true
				}
			}
		}
	}
	return false
}
