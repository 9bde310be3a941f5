package smtp

import (
	"net"
	"sync"
	"time"
)

// maxAuthClients bounds how many client addresses the AUTH throttle
// remembers, so that failures from many addresses cannot grow memory
// without limit. When full, expired entries go first, then the entry whose
// last failure is oldest.
const maxAuthClients = 10000

// authThrottle counts failed AUTH attempts per client address across
// connections, as Postfix's anvil does for smtpd_client_auth_rate_limit:
// reconnecting does not reset a guesser's delay, and an address that keeps
// failing is refused AUTH for a while. Failures are forgotten Window after
// the last one.
type authThrottle struct {
	mu     sync.Mutex
	now    func() time.Time
	window time.Duration
	m      map[string]*authFails
}

type authFails struct {
	n    int
	last time.Time
}

func newAuthThrottle(now func() time.Time, window time.Duration) *authThrottle {
	return &authThrottle{now: now, window: window, m: map[string]*authFails{}}
}

// authKey is the throttle's key for a client IP: the address itself for
// IPv4, its /64 for IPv6 (one subscriber's allocation, where a guesser
// can pick a fresh address for every connection). "" (not an IP, e.g. a
// unix socket) is not throttled.
func authKey(ip string) string {
	a := net.ParseIP(ip)
	switch {
	case a == nil:
		return ""
	case a.To4() != nil:
		return a.To4().String()
	}
	return a.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// count returns the failures remembered for key.
func (t *authThrottle) count(key string) int {
	if key == "" || t.window <= 0 {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.m[key]
	if f == nil || t.expired(f, t.now()) {
		return 0
	}
	return f.n
}

// fail records a failure for key and returns the failures remembered for
// it, this one included.
func (t *authThrottle) fail(key string) int {
	if key == "" || t.window <= 0 {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	f := t.m[key]
	if f == nil {
		if len(t.m) >= maxAuthClients {
			t.evict(now)
		}
		f = &authFails{}
		t.m[key] = f
	}
	if t.expired(f, now) {
		f.n = 0
	}
	f.n++
	f.last = now
	return f.n
}

// forgive takes back one failure of key: the attempt fail counted in
// advance succeeded.
func (t *authThrottle) forgive(key string) {
	if key == "" || t.window <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if f := t.m[key]; f != nil && f.n > 0 {
		f.n--
	}
}

func (t *authThrottle) expired(f *authFails, now time.Time) bool {
	return now.Sub(f.last) >= t.window
}

// evict makes room for one entry: every expired entry goes, or else the
// one whose last failure is oldest.
func (t *authThrottle) evict(now time.Time) {
	var oldest string
	for k, f := range t.m {
		if t.expired(f, now) {
			delete(t.m, k)
			continue
		}
		if oldest == "" || f.last.Before(t.m[oldest].last) {
			oldest = k
		}
	}
	if len(t.m) >= maxAuthClients && oldest != "" {
		delete(t.m, oldest)
	}
}
