package dnsx

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Socket reuse: a UDP socket serves at most maxUses queries before it is
// closed, so that the source port keeps changing (RFC 5452 9.2 asks for
// source port randomisation); at most poolSize idle sockets are kept per
// server.
const (
	maxUses  = 64
	poolSize = 128
	// bufSize holds any UDP answer a sane server sends for our advertised
	// size; a larger datagram is cut and fails to unpack.
	bufSize = 16 << 10
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// server is one resolver with its idle UDP sockets.
type server struct {
	addr netip.AddrPort
	name string
	idle chan *udpConn
}

type udpConn struct {
	*net.UDPConn
	uses int
}

func newServer(ap netip.AddrPort) *server {
	return &server{addr: ap, name: ap.String(), idle: make(chan *udpConn, poolSize)}
}

func (s *server) get() (*udpConn, error) {
	select {
	case c := <-s.idle:
		return c, nil
	default:
	}
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(s.addr))
	if err != nil {
		return nil, err
	}
	return &udpConn{UDPConn: c}, nil
}

func (s *server) put(c *udpConn) {
	c.uses++
	if c.uses < maxUses {
		select {
		case s.idle <- c:
			return
		default:
		}
	}
	c.Close()
}

func (s *server) drain() {
	for {
		select {
		case c := <-s.idle:
			c.Close()
		default:
			return
		}
	}
}

// exchanged says how an answer was obtained.
type exchanged struct {
	server    string
	truncated bool
}

// query asks the servers for name/t, in order, for up to c.attempts rounds,
// and returns the first NOERROR or NXDOMAIN answer. SERVFAIL, REFUSED and
// nonsense answers move on to the next server; timeouts and unreachable
// servers are retried in the next round.
func (c *Client) query(ctx context.Context, name string, t Type) (*dns.Msg, exchanged, error) {
	var last *Error
	for round := 0; round < c.attempts; round++ {
		retry := false
		for _, s := range c.servers {
			if err := ctx.Err(); err != nil {
				return nil, exchanged{}, errorFor(name, t, s.name, err)
			}
			ex := exchanged{server: s.name}
			m := c.newQuery(name, t)
			resp, err := c.exchangeUDP(ctx, s, m)
			if err == nil && resp.Truncated {
				// RFC 7766 5: a truncated answer is asked again over TCP.
				ex.truncated = true
				resp, err = c.exchangeTCP(ctx, s, c.newQuery(name, t))
			}
			if err == nil {
				err = rcodeError(resp)
			}
			if err == nil {
				return resp, ex, nil
			}
			last = errorFor(name, t, s.name, err)
			if last.Kind == KindTimeout || last.Kind == KindNetwork {
				retry = true
			}
		}
		if !retry {
			break
		}
	}
	if last == nil {
		last = &Error{Name: name, Type: t, Kind: KindNetwork, Detail: "no resolver configured"}
	}
	return nil, exchanged{}, last
}

func (c *Client) newQuery(name string, t Type) *dns.Msg {
	m := &dns.Msg{}
	m.Id = newID()
	m.RecursionDesired = true
	// RFC 6840 5.7: AD in a query asks for AD in the answer.
	m.AuthenticatedData = true
	m.Question = []dns.Question{{Name: dns.Fqdn(name), Qtype: uint16(t), Qclass: dns.ClassINET}}
	m.SetEdns0(c.udpSize, c.dnssec)
	return m
}

// rcodeError maps the response codes that end a query at this server
// (RFC 1035 4.1.1, RFC 6895 2.3).
func rcodeError(m *dns.Msg) error {
	switch m.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
		return nil
	case dns.RcodeServerFailure:
		return &Error{Kind: KindServFail}
	case dns.RcodeRefused:
		return &Error{Kind: KindRefused}
	case dns.RcodeNotImplemented:
		return &Error{Kind: KindRefused, Detail: "not implemented (NOTIMP)"}
	}
	return &Error{Kind: KindProtocol, Detail: "rcode " + dns.RcodeToString[m.Rcode]}
}

// exchangeUDP sends m to s on a pooled socket and waits for the answer
// with m's ID, ignoring datagrams with other IDs (late answers to earlier
// queries on the same socket, or spoofing attempts).
func (c *Client) exchangeUDP(ctx context.Context, s *server, m *dns.Msg) (*dns.Msg, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	out, err := m.PackBuffer(buf)
	if err != nil {
		return nil, &Error{Kind: KindInvalidName, Err: err}
	}
	// PackBuffer may have used buf; keep the query in its own slice so
	// that reading the answer into buf does not overwrite it.
	query := append([]byte(nil), out...)
	uc, err := s.get()
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := uc.SetDeadline(deadline); err != nil {
		uc.Close()
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = uc.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := uc.Write(query); err != nil {
		uc.Close()
		return nil, err
	}
	for {
		n, err := uc.Read(buf)
		if err != nil {
			uc.Close()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		if n < 12 || binary.BigEndian.Uint16(buf) != m.Id {
			continue
		}
		resp, err := parseResponse(m, buf[:n])
		if err != nil {
			// The socket may still get the real answer; do not reuse it.
			uc.Close()
			return nil, err
		}
		if !stop() {
			// The context ended meanwhile and poisoned the deadline.
			uc.Close()
		} else {
			s.put(uc)
		}
		return resp, nil
	}
}

// exchangeTCP sends m over a new TCP connection (RFC 1035 4.2.2: two-octet
// length prefix).
func (c *Client) exchangeTCP(ctx context.Context, s *server, m *dns.Msg) (*dns.Msg, error) {
	m.SetEdns0(dns.MaxMsgSize, c.dnssec)
	pkt, err := m.Pack()
	if err != nil {
		return nil, &Error{Kind: KindInvalidName, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.name)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	frame := make([]byte, 2+len(pkt))
	binary.BigEndian.PutUint16(frame, uint16(len(pkt)))
	copy(frame[2:], pkt)
	if _, err := conn.Write(frame); err != nil {
		return nil, err
	}
	var lb [2]byte
	if _, err := io.ReadFull(conn, lb[:]); err != nil {
		return nil, tcpReadError(ctx, err)
	}
	n := int(binary.BigEndian.Uint16(lb[:]))
	if n < 12 {
		return nil, &Error{Kind: KindProtocol, Detail: fmt.Sprintf("TCP answer of %d octets", n)}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(conn, body); err != nil {
		return nil, tcpReadError(ctx, err)
	}
	if binary.BigEndian.Uint16(body) != m.Id {
		return nil, &Error{Kind: KindProtocol, Detail: "TCP answer with another query ID"}
	}
	return parseResponse(m, body)
}

func tcpReadError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &Error{Kind: KindProtocol, Detail: "TCP answer cut short"}
	}
	return err
}

// parseResponse unpacks b and checks it answers q: a response (QR), the
// same opcode, and the same question (RFC 5452 9.1: ID, name, type and
// class must all match). Servers may leave the question out of an error
// response, so an empty question section is accepted with a failure
// rcode only.
func parseResponse(q *dns.Msg, b []byte) (*dns.Msg, error) {
	resp := new(dns.Msg)
	if err := resp.Unpack(b); err != nil {
		return nil, &Error{Kind: KindProtocol, Detail: "malformed answer", Err: err}
	}
	if !resp.Response || resp.Opcode != q.Opcode {
		return nil, &Error{Kind: KindProtocol, Detail: "not a response to a query"}
	}
	if len(resp.Question) == 0 && resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
		return resp, nil
	}
	if len(resp.Question) != 1 {
		return nil, &Error{Kind: KindProtocol, Detail: fmt.Sprintf("answer with %d questions", len(resp.Question))}
	}
	got, want := resp.Question[0], q.Question[0]
	if got.Qtype != want.Qtype || got.Qclass != want.Qclass || !sameName(got.Name, canon(want.Name)) {
		return nil, &Error{Kind: KindProtocol, Detail: fmt.Sprintf("answer for another question (%s %s)",
			canon(got.Name), Type(got.Qtype))}
	}
	return resp, nil
}

func decodeHex(s string) ([]byte, error) { return hex.DecodeString(s) }
