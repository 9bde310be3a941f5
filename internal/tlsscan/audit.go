package tlsscan

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Dialer returns a connection ready for a ClientHello: the next bytes
// written to it are the hello, the next bytes read the server's answer.
// For SMTP it connects, reads the banner, sends EHLO and STARTTLS and
// waits for 220. Audit calls it once per handshake, concurrently, and
// closes every connection it returns.
type Dialer func(ctx context.Context) (net.Conn, error)

// Defaults for Options.
const (
	DefaultConcurrency      = 8
	DefaultHandshakeTimeout = 10 * time.Second
)

// Options tune an audit. The zero value audits every version and the
// default groups with the defaults above.
type Options struct {
	// ServerName is sent as SNI (RFC 6066 3) unless empty or an IP.
	ServerName string
	// Versions to probe; empty means AllVersions.
	Versions []Version
	// Groups to probe one at a time; empty means DefaultGroups. For TLS
	// 1.2 and earlier only the elliptic curves among them are probed.
	Groups []uint16
	// Concurrency bounds the handshakes in flight; 0 means 8.
	Concurrency int
	// HandshakeTimeout bounds one handshake, dial included; 0 means 10s.
	HandshakeTimeout time.Duration
	// MaxBytes bounds what one handshake reads; 0 means DefaultMaxBytes.
	MaxBytes int
	// Rand supplies client randoms and key shares; nil means crypto/rand.
	Rand io.Reader
}

// CipherOrder says who chooses the cipher suite.
type CipherOrder string

// Cipher orders. A version with fewer than two suites has none.
const (
	OrderServer  CipherOrder = "server"  // the server's preference wins
	OrderClient  CipherOrder = "client"  // the client's first acceptable suite wins
	OrderUnknown CipherOrder = "unknown" // neither: a mixed policy (say, ChaCha20 first only if the client prefers it), or the test failed
)

// Result is what an audit found. Versions holds one entry per version
// probed, oldest first; Errors lists what could not be determined (a
// non-empty list means the result is partial).
type Result struct {
	Versions []VersionResult `json:"versions"`
	// FallbackSCSV is whether the server refuses a downgraded hello that
	// carries TLS_FALLBACK_SCSV (RFC 7507); nil when fewer than two
	// versions are accepted or the test failed.
	FallbackSCSV *bool    `json:"fallback_scsv,omitempty"`
	Handshakes   int      `json:"handshakes"`
	Errors       []string `json:"errors,omitempty"`
}

// VersionResult is one protocol version.
type VersionResult struct {
	Version  Version `json:"version"`
	Accepted bool    `json:"accepted"`
	// Refusal says how the server declined the version: an alert name,
	// "connection closed", or the version it chose instead.
	Refusal string `json:"refusal,omitempty"`
	// Suites are the accepted suites in the order the server chose them
	// while each chosen suite was removed from the offer: its preference
	// order when CipherOrder is OrderServer.
	Suites      []SuiteResult `json:"suites,omitempty"`
	CipherOrder CipherOrder   `json:"cipher_order,omitempty"`
	// Groups are the groups the server accepted when offered alone: for
	// TLS 1.3 from its key_share or HelloRetryRequest, for the highest
	// accepted version below 1.3 with ECDHE suites from its
	// ServerKeyExchange.
	Groups              []Group `json:"groups,omitempty"`
	SecureRenegotiation bool    `json:"secure_renegotiation"`
	Error               string  `json:"error,omitempty"`
}

// SuiteResult is one accepted suite with what the handshake showed of its
// key exchange: the group (TLS 1.3 key share, ECDHE curve) and the DH
// prime size.
type SuiteResult struct {
	Suite
	Group  *Group `json:"group,omitempty"`
	DHBits int    `json:"dh_bits,omitempty"`
}

// Version returns the result for v, or nil when v was not probed.
func (r *Result) Version(v Version) *VersionResult {
	for i := range r.Versions {
		if r.Versions[i].Version == v {
			return &r.Versions[i]
		}
	}
	return nil
}

// Accepted returns the accepted versions, oldest first.
func (r *Result) Accepted() []Version {
	var out []Version
	for _, v := range r.Versions {
		if v.Accepted {
			out = append(out, v.Version)
		}
	}
	return out
}

// Audit probes the server behind dial and returns what it accepts. Each
// handshake uses a fresh connection from dial. Audit returns a partial
// Result together with ctx's error when ctx ends first, and an error
// wrapping the first failure when no handshake got a usable answer (the
// server is unreachable, is not speaking TLS after the dialer's preamble,
// or sends only malformed hellos). Other failures are listed in Result.Errors.
func Audit(ctx context.Context, dial Dialer, opts Options) (*Result, error) {
	if dial == nil {
		return nil, errors.New("tls audit: no dialer")
	}
	a := newAuditor(dial, opts)
	versions := opts.Versions
	if len(versions) == 0 {
		versions = AllVersions()
	}
	res := &Result{Versions: make([]VersionResult, len(versions))}
	var wg sync.WaitGroup
	for i, v := range versions {
		wg.Go(func() { res.Versions[i] = a.scanVersion(ctx, v) })
	}
	wg.Wait()

	// Both read res; the writes wait until they are done.
	var legacy []Group
	var legacyVersion Version
	var fallback *bool
	wg.Go(func() { legacyVersion, legacy = a.probeLegacyGroups(ctx, res) })
	wg.Go(func() { fallback = a.probeFallback(ctx, res) })
	wg.Wait()
	if vr := res.Version(legacyVersion); vr != nil {
		vr.Groups = legacy
	}
	res.FallbackSCSV = fallback

	res.Handshakes = int(a.handshakes.Load())
	res.Errors = a.errorList()
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("tls audit: %w", err)
	}
	if a.answered.Load() == 0 {
		if err := a.firstError(); err != nil {
			return res, fmt.Errorf("tls audit: no usable answer: %w", err)
		}
	}
	return res, nil
}

type auditor struct {
	dial       Dialer
	serverName string
	groups     []uint16
	timeout    time.Duration
	maxBytes   int
	sem        chan struct{}

	randMu sync.Mutex
	rand   io.Reader

	handshakes atomic.Int64
	answered   atomic.Int64 // handshakes that got a ServerHello or an alert

	errMu    sync.Mutex
	errs     []string
	firstErr error
}

func newAuditor(dial Dialer, opts Options) *auditor {
	a := &auditor{
		dial: dial, serverName: opts.ServerName, groups: opts.Groups,
		timeout: opts.HandshakeTimeout, maxBytes: opts.MaxBytes, rand: opts.Rand,
	}
	if len(a.groups) == 0 {
		a.groups = DefaultGroups()
	}
	if a.timeout <= 0 {
		a.timeout = DefaultHandshakeTimeout
	}
	if a.maxBytes <= 0 {
		a.maxBytes = DefaultMaxBytes
	}
	if a.rand == nil {
		a.rand = rand.Reader
	}
	n := opts.Concurrency
	if n <= 0 {
		n = DefaultConcurrency
	}
	a.sem = make(chan struct{}, n)
	return a
}

func (a *auditor) noteError(what string, err error) {
	a.errMu.Lock()
	defer a.errMu.Unlock()
	if a.firstErr == nil {
		a.firstErr = err
	}
	a.errs = append(a.errs, what+": "+err.Error())
}

func (a *auditor) errorList() []string {
	a.errMu.Lock()
	defer a.errMu.Unlock()
	out := slices.Clone(a.errs)
	sort.Strings(out)
	return out
}

func (a *auditor) firstError() error {
	a.errMu.Lock()
	defer a.errMu.Unlock()
	return a.firstErr
}

// hello builds the audit's hello for v (see NewClientHello).
func (a *auditor) hello(v Version, suites []uint16) (*ClientHello, error) {
	a.randMu.Lock()
	defer a.randMu.Unlock()
	return NewClientHello(v, suites, a.serverName, a.rand)
}

// outcome is one handshake: a ServerHello, a refusal, or an error.
type outcome struct {
	sh      *ServerHello
	kx      *KeyExchange
	kxErr   error
	refusal string // the server declined: alert name or "connection closed"
	err     error  // nothing learned: dial failure, timeout, garbage
}

// exchange sends h on a fresh connection and reads the answer; with
// wantKx it reads on to the ServerKeyExchange of an ephemeral suite.
func (a *auditor) exchange(ctx context.Context, h *ClientHello, wantKx bool) outcome {
	wire, err := h.Marshal()
	if err != nil {
		return outcome{err: err}
	}
	select {
	case a.sem <- struct{}{}:
	case <-ctx.Done():
		return outcome{err: ctx.Err()}
	}
	defer func() { <-a.sem }()
	a.handshakes.Add(1)
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	conn, err := a.dial(ctx)
	if err != nil {
		return outcome{err: fmt.Errorf("dial: %w", err)}
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// A cancelled audit must not wait for the deadline.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write(wire); err != nil {
		return a.classify(ctx, fmt.Errorf("write client hello: %w", err))
	}
	hr := newHandshakeReader(conn, a.maxBytes)
	sh, err := readServerHello(hr)
	if err != nil {
		return a.classify(ctx, err)
	}
	a.answered.Add(1)
	o := outcome{sh: sh}
	if wantKx && sh.Version < TLS13 && !sh.HelloRetryRequest {
		if s, ok := LookupSuite(sh.CipherSuite); ok && hasServerKeyExchange(s.Kx) {
			kx, err := readServerKeyExchange(hr, s.Kx)
			if err != nil {
				o.kxErr = err
			} else {
				o.kx = &kx
			}
		}
	}
	return o
}

func hasServerKeyExchange(kx Kx) bool {
	switch kx {
	case KxDHE, KxECDHE, KxDHAnon, KxECDHAnon, KxDHEPSK, KxECDHEPSK:
		return true
	}
	return false
}

// classify turns a failed read into a refusal (the server said no or
// hung up at a record boundary) or an error.
func (a *auditor) classify(ctx context.Context, err error) outcome {
	var alert *AlertError
	switch {
	case errors.As(err, &alert):
		a.answered.Add(1)
		return outcome{refusal: alert.Name()}
	case ctx.Err() != nil:
		return outcome{err: fmt.Errorf("%w: %w", ctx.Err(), err)}
	case errors.Is(err, os.ErrDeadlineExceeded):
		// The connection's deadline can fire just before the context's.
		return outcome{err: fmt.Errorf("%w: no answer within %s", context.DeadlineExceeded, a.timeout)}
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		a.answered.Add(1)
		return outcome{refusal: "connection closed"}
	}
	return outcome{err: err}
}

func (a *auditor) suitesFor(v Version) []uint16 {
	return suiteIDs(func(s *Suite) bool { return s.TLS13 == (v >= TLS13) })
}

// scanVersion finds the suites v accepts by elimination: offer all, note
// the choice, remove it, repeat until the server refuses (the loop runs
// at most once per suite plus one). The order of choices is the server's
// preference when it enforces one; a reversed offer then tells.
func (a *auditor) scanVersion(ctx context.Context, v Version) VersionResult {
	vr := VersionResult{Version: v}
	remaining := a.suitesFor(v)
	var groups sync.WaitGroup
	var groups13 []Group
	for first := true; len(remaining) > 0; first = false {
		h, err := a.hello(v, remaining)
		if err != nil {
			vr.Error = err.Error()
			break
		}
		o := a.exchange(ctx, h, true)
		if o.err != nil {
			vr.Error = o.err.Error()
			a.noteError(v.String(), o.err)
			break
		}
		if o.refusal != "" {
			if first {
				vr.Refusal = o.refusal
			}
			break
		}
		sh := o.sh
		if sh.Version != v {
			if first {
				vr.Refusal = "server chose " + sh.Version.String()
			} else {
				vr.Error = fmt.Sprintf("server switched to %s", sh.Version)
				a.noteError(v.String(), errors.New(vr.Error))
			}
			break
		}
		i := slices.Index(remaining, sh.CipherSuite)
		if i < 0 {
			vr.Error = fmt.Sprintf("server chose %s, which was not offered", SuiteName(sh.CipherSuite))
			a.noteError(v.String(), errors.New(vr.Error))
			break
		}
		remaining = slices.Delete(remaining, i, i+1)
		if first {
			vr.Accepted = true
			vr.SecureRenegotiation = sh.SecureRenegotiation
			if v >= TLS13 {
				groups.Go(func() { groups13 = a.probeGroups13(ctx) })
			}
		}
		vr.Suites = append(vr.Suites, a.suiteResult(v, o))
	}
	if len(vr.Suites) >= 2 {
		vr.CipherOrder = a.probeOrder(ctx, v, vr.Suites)
	}
	groups.Wait()
	if v >= TLS13 {
		vr.Groups = groups13
	}
	return vr
}

func (a *auditor) suiteResult(v Version, o outcome) SuiteResult {
	s, _ := LookupSuite(o.sh.CipherSuite)
	r := SuiteResult{Suite: s}
	switch {
	case o.sh.HelloRetryRequest && o.sh.SelectedGroup != 0:
		g := namedGroup(o.sh.SelectedGroup)
		r.Group = &g
	case o.sh.KeyShareGroup != 0:
		g := namedGroup(o.sh.KeyShareGroup)
		r.Group = &g
	case o.kx != nil && o.kx.Group != 0:
		g := namedGroup(o.kx.Group)
		r.Group = &g
	case o.kx != nil:
		r.DHBits = o.kx.DHBits
	}
	if o.kxErr != nil {
		a.noteError(v.String()+" "+s.Name, o.kxErr)
	}
	return r
}

// probeOrder offers the accepted suites reversed: a server that enforces
// its order still picks its first choice, one that follows the client
// picks the reversed list's head.
func (a *auditor) probeOrder(ctx context.Context, v Version, accepted []SuiteResult) CipherOrder {
	rev := make([]uint16, len(accepted))
	for i, s := range accepted {
		rev[len(rev)-1-i] = s.ID
	}
	h, err := a.hello(v, rev)
	if err != nil {
		return OrderUnknown
	}
	o := a.exchange(ctx, h, false)
	switch {
	case o.err != nil:
		a.noteError(v.String()+" cipher order", o.err)
		return OrderUnknown
	case o.sh == nil:
		a.noteError(v.String()+" cipher order", errors.New("refused the accepted suites: "+o.refusal))
		return OrderUnknown
	case o.sh.CipherSuite == accepted[0].ID:
		return OrderServer
	case o.sh.CipherSuite == rev[0]:
		return OrderClient
	}
	return OrderUnknown
}
