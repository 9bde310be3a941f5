// Package dnstest helps other packages test against DNS: Mock, a
// dnsx.Resolver served from a map, and Server, a miekg/dns server on
// 127.0.0.1 serving a zone file, with hooks that make it misbehave.
package dnstest

import (
	"context"
	"net/netip"
	"strings"
	"sync"

	"github.com/smtpkit/smtpkit/internal/dnsx"
)

// Mock is a dnsx.Resolver answering from records added to it. A name
// with records of some type but not the one asked is NODATA; a name with
// none is NXDOMAIN. CNAMEs are followed like dnsx.Client does. Safe for
// concurrent use.
type Mock struct {
	mu      sync.Mutex
	recs    map[string][]dnsx.Record
	fails   map[dnsx.Question]dnsx.Kind
	ad      map[string]bool
	queries []dnsx.Question
}

// NewMock returns an empty Mock.
func NewMock() *Mock {
	return &Mock{recs: map[string][]dnsx.Record{}, fails: map[dnsx.Question]dnsx.Kind{}, ad: map[string]bool{}}
}

func key(name string) string {
	if name == "." {
		return name
	}
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

// Add adds records; their Name fields say where.
func (m *Mock) Add(recs ...dnsx.Record) *Mock {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range recs {
		r.Name = key(r.Name)
		if r.TTL == 0 {
			r.TTL = 300
		}
		m.recs[r.Name] = append(m.recs[r.Name], r)
	}
	return m
}

// MX adds an MX record.
func (m *Mock) MX(name string, pref uint16, host string) *Mock {
	return m.Add(dnsx.Record{Name: name, Type: dnsx.TypeMX, Pref: pref, Host: key(host)})
}

// IP adds A or AAAA records, by the address family.
func (m *Mock) IP(name string, ips ...string) *Mock {
	for _, s := range ips {
		ip := netip.MustParseAddr(s)
		t := dnsx.TypeA
		if ip.Is6() {
			t = dnsx.TypeAAAA
		}
		m.Add(dnsx.Record{Name: name, Type: t, IP: ip})
	}
	return m
}

// TXT adds TXT records.
func (m *Mock) TXT(name string, texts ...string) *Mock {
	for _, t := range texts {
		m.Add(dnsx.Record{Name: name, Type: dnsx.TypeTXT, Text: t})
	}
	return m
}

// CNAME adds an alias.
func (m *Mock) CNAME(alias, target string) *Mock {
	return m.Add(dnsx.Record{Name: alias, Type: dnsx.TypeCNAME, Host: key(target)})
}

// PTR adds a PTR record for ip.
func (m *Mock) PTR(ip, host string) *Mock {
	return m.Add(dnsx.Record{Name: dnsx.ReverseName(netip.MustParseAddr(ip)), Type: dnsx.TypePTR, Host: key(host)})
}

// Fail makes questions for name and t fail with kind.
func (m *Mock) Fail(name string, t dnsx.Type, kind dnsx.Kind) *Mock {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fails[dnsx.Question{Name: key(name), Type: t}] = kind
	return m
}

// AD marks answers at name as authenticated.
func (m *Mock) AD(name string) *Mock {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ad[key(name)] = true
	return m
}

// Queries returns the questions asked so far, in order.
func (m *Mock) Queries() []dnsx.Question {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]dnsx.Question(nil), m.queries...)
}

// Lookup implements dnsx.Resolver.
func (m *Mock) Lookup(ctx context.Context, q dnsx.Question) (*dnsx.Answer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	q.Name = key(q.Name)
	m.queries = append(m.queries, q)
	if err := ctx.Err(); err != nil {
		return nil, &dnsx.Error{Name: q.Name, Type: q.Type, Kind: dnsx.KindTimeout, Err: err}
	}
	ans := &dnsx.Answer{Question: q, Canonical: q.Name, AD: true, Server: "mock"}
	seen := map[string]bool{q.Name: true}
	cur := q.Name
	for {
		if k, ok := m.fails[dnsx.Question{Name: cur, Type: q.Type}]; ok {
			return nil, &dnsx.Error{Name: cur, Type: q.Type, Kind: k, Server: "mock"}
		}
		ans.AD = ans.AD && m.ad[cur]
		recs, ok := m.recs[cur]
		if !ok {
			return nil, &dnsx.Error{Name: cur, Type: q.Type, Kind: dnsx.KindNXDomain, Server: "mock"}
		}
		var target string
		for _, r := range recs {
			switch r.Type {
			case q.Type:
				ans.Records = append(ans.Records, r)
			case dnsx.TypeCNAME:
				target = r.Host
			}
		}
		if len(ans.Records) > 0 || target == "" {
			ans.Canonical = cur
			return ans, nil
		}
		if seen[target] || len(ans.CNAMEs) >= dnsx.MaxCNAMEs {
			return nil, &dnsx.Error{Name: q.Name, Type: q.Type, Kind: dnsx.KindProtocol, Detail: "CNAME loop", Server: "mock"}
		}
		seen[target] = true
		ans.CNAMEs = append(ans.CNAMEs, target)
		cur = target
	}
}
