package dnstest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Server is an authoritative-and-recursive-looking DNS server on
// 127.0.0.1 (UDP and TCP on the same port) that answers from a zone file:
// it follows CNAMEs inside the zone and puts the chain in the answer,
// answers NXDOMAIN for names it does not hold, sets RA, and truncates UDP
// answers to the client's EDNS0 size (512 without EDNS0).
//
// Hooks make it misbehave for chosen names. In a zone file, a TXT record
// whose text starts with "dnstest:" sets a hook on its owner name for
// every question about that name (and is not served itself):
//
//	dnstest:servfail        answer SERVFAIL
//	dnstest:refused         answer REFUSED
//	dnstest:truncate        over UDP, an empty answer with TC set; over TCP, the real one
//	dnstest:wrong-question  the real answer with another name in the question section
//	dnstest:wrong-id        the real answer with another query ID (the client keeps waiting)
//	dnstest:garbage         the query ID followed by bytes that are not a DNS message
//	dnstest:drop            no answer at all
//	dnstest:delay=DURATION  the real answer, DURATION late
//	dnstest:ad              the real answer with the AD bit set
//	dnstest:no-chase        only the records at the name itself: a CNAME without its target's
//	                        records (as an authoritative server for another zone answers)
type Server struct {
	// Addr is the server's address, 127.0.0.1:PORT.
	Addr string

	zone    map[string][]dns.RR
	mu      sync.Mutex
	hooks   map[string]string
	udp     *dns.Server
	tcp     *dns.Server
	queries atomic.Int64
	tcpQs   atomic.Int64
}

// StartFile starts a Server for the zone file at path.
func StartFile(path string) (*Server, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Start(f, path)
}

// Start starts a Server for the zone text in r (file names errors).
func Start(r io.Reader, file string) (*Server, error) {
	s := &Server{zone: map[string][]dns.RR{}, hooks: map[string]string{}}
	zp := dns.NewZoneParser(r, ".", file)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		name := strings.ToLower(rr.Header().Name)
		if t, isTXT := rr.(*dns.TXT); isTXT && len(t.Txt) == 1 && strings.HasPrefix(t.Txt[0], "dnstest:") {
			s.hooks[name] = strings.TrimPrefix(t.Txt[0], "dnstest:")
			if _, ok := s.zone[name]; !ok {
				s.zone[name] = nil
			}
			continue
		}
		s.zone[name] = append(s.zone[name], rr)
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("zone %s: %w", file, err)
	}
	pc, ln, err := listenBoth()
	if err != nil {
		return nil, err
	}
	s.Addr = pc.LocalAddr().String()
	s.udp = &dns.Server{PacketConn: pc, Handler: s}
	s.tcp = &dns.Server{Listener: ln, Handler: s}
	if err := startServer(s.udp); err != nil {
		ln.Close()
		return nil, err
	}
	if err := startServer(s.tcp); err != nil {
		_ = s.udp.Shutdown()
		return nil, err
	}
	return s, nil
}

// listenBoth listens on one loopback port for UDP and TCP. The UDP port
// the kernel picks may be taken for TCP (by any connection's local end,
// under a busy test run): then it tries another, a bounded number of times.
func listenBoth() (net.PacketConn, net.Listener, error) {
	var err error
	for range 50 {
		var pc net.PacketConn
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			return nil, nil, err
		}
		var ln net.Listener
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			return pc, ln, nil
		}
		pc.Close()
	}
	return nil, nil, fmt.Errorf("no loopback port free for both UDP and TCP: %w", err)
}

// startServer runs srv and waits until it serves.
func startServer(srv *dns.Server) error {
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	errc := make(chan error, 1)
	go func() { errc <- srv.ActivateAndServe() }()
	select {
	case <-started:
		return nil
	case err := <-errc:
		if err == nil {
			err = errors.New("dns server stopped")
		}
		return err
	}
}

// Close stops the server.
func (s *Server) Close() error {
	e1 := s.udp.Shutdown()
	e2 := s.tcp.Shutdown()
	return errors.Join(e1, e2)
}

// Queries counts the questions received over UDP and TCP.
func (s *Server) Queries() int64 { return s.queries.Load() }

// TCPQueries counts the questions received over TCP.
func (s *Server) TCPQueries() int64 { return s.tcpQs.Load() }

// SetHook sets (or, with "", removes) the hook for name, as a zone's
// "dnstest:" TXT record would.
func (s *Server) SetHook(name, hook string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name = dns.Fqdn(strings.ToLower(name))
	if hook == "" {
		delete(s.hooks, name)
		return
	}
	s.hooks[name] = hook
}

func (s *Server) hook(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hooks[name]
}

// ServeDNS implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	s.queries.Add(1)
	udp := w.LocalAddr().Network() == "udp"
	if !udp {
		s.tcpQs.Add(1)
	}
	if len(r.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeFormatError)
		_ = w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	m := new(dns.Msg)
	m.SetReply(r)
	m.RecursionAvailable = true
	hook := s.hook(name)
	action, arg, _ := strings.Cut(hook, "=")
	switch action {
	case "drop":
		return
	case "servfail":
		m.Rcode = dns.RcodeServerFailure
		_ = w.WriteMsg(m)
		return
	case "refused":
		m.Rcode = dns.RcodeRefused
		_ = w.WriteMsg(m)
		return
	case "garbage":
		_, _ = w.Write(append([]byte{byte(r.Id >> 8), byte(r.Id)}, "\x81\x80 this is not DNS"...))
		return
	case "truncate":
		if udp {
			m.Truncated = true
			_ = w.WriteMsg(m)
			return
		}
	case "delay":
		d, err := time.ParseDuration(arg)
		if err == nil {
			time.Sleep(d)
		}
	case "ad":
		m.AuthenticatedData = true
	}
	s.answer(m, name, q.Qtype, action == "no-chase")
	switch action {
	case "wrong-question":
		m.Question[0].Name = "wrong." + m.Question[0].Name
	case "wrong-id":
		m.Id++
	}
	size := dns.MinMsgSize
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(max(opt.UDPSize(), dns.MinMsgSize), false)
		size = int(opt.UDPSize())
	}
	if udp {
		m.Truncate(max(size, dns.MinMsgSize))
	}
	_ = w.WriteMsg(m)
}

// answer fills m for name/qtype from the zone, following CNAMEs inside
// it (stopping at a repeated name, which leaves a loop for the client to
// find).
func (s *Server) answer(m *dns.Msg, name string, qtype uint16, noChase bool) {
	m.Authoritative = true
	seen := map[string]bool{}
	cur := name
	for range 20 {
		rrs, ok := s.zone[cur]
		if !ok {
			m.Rcode = dns.RcodeNameError
			return
		}
		seen[cur] = true
		var target string
		found := false
		for _, rr := range rrs {
			switch {
			case rr.Header().Rrtype == qtype:
				m.Answer = append(m.Answer, dns.Copy(rr))
				found = true
			case rr.Header().Rrtype == dns.TypeCNAME && qtype != dns.TypeCNAME:
				m.Answer = append(m.Answer, dns.Copy(rr))
				target = strings.ToLower(rr.(*dns.CNAME).Target)
			}
		}
		if found || target == "" || seen[target] || noChase {
			return
		}
		cur = target
	}
}
