package smtp

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// sleepRecorder stands in for ServerOptions.Sleep: it records each delay
// and returns at once, so the tests below never wait on the wall clock.
type sleepRecorder struct {
	mu sync.Mutex
	d  []time.Duration
}

func (r *sleepRecorder) sleep(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.d = append(r.d, d)
}

// take returns the delays recorded since the last take.
func (r *sleepRecorder) take() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.d
	r.d = nil
	return d
}

// offsetClock is the wall clock moved forward by an offset the test
// controls: connection deadlines (set from ServerOptions.Now) stay in the
// future while the AUTH window can be made to pass.
type offsetClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *offsetClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *offsetClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

func secs(n ...int) []time.Duration {
	var out []time.Duration
	for _, s := range n {
		out = append(out, time.Duration(s)*time.Second)
	}
	return out
}

// TestServerAuthBruteForce: the delay after a failed AUTH doubles with
// each failure of the client address, across connections (reconnecting
// does not reset it), up to AuthMaxDelay; a connection ends with 421 after
// AuthFailures failures; once the address has AuthFailuresPerIP failures
// within AuthWindow, AUTH from it is answered 421 at once, even with the
// right password (a guesser must not learn it found it), while mail
// without AUTH still goes; after the window it may authenticate again.
func TestServerAuthBruteForce(t *testing.T) {
	rec := &sleepRecorder{}
	clock := &offsetClock{}
	lim := Limits{AuthDelay: time.Second, AuthMaxDelay: 8 * time.Second, AuthFailures: 3, AuthFailuresPerIP: 5, AuthWindow: 10 * time.Minute}
	_, addr := startServer(t, ServerOptions{Auth: aliceAuth, AllowPlaintextAuth: true, Sleep: rec.sleep, Now: clock.now, Limits: lim}, ListenerOptions{})
	wrong := "AUTH PLAIN " + encB64("\x00alice\x00guess")
	right := "AUTH PLAIN " + encB64("\x00alice\x00secret")

	// First connection: 1 s, 2 s, then 4 s and 421 at the third failure.
	c := dialRaw(t, addr)
	c.greet()
	c.cmd(wrong, 535, "5.7.8")
	c.cmd(wrong, 535, "5.7.8")
	r := c.cmd(wrong, 421, "4.7.0")
	if !strings.Contains(r.String(), "Too many failed authentications, closing") {
		t.Errorf("third failure: %q", r.String())
	}
	c.wantClosed()
	if got := rec.take(); !slices.Equal(got, secs(1, 2, 4)) {
		t.Errorf("delays on the first connection %v, want 1s 2s 4s", got)
	}

	// A new connection does not start over: the fourth failure of the
	// address waits 8 s (the cap), and the fifth ends it with 421.
	c = dialRaw(t, addr)
	c.greet()
	c.cmd(wrong, 535, "5.7.8")
	c.cmd("AUTH LOGIN "+encB64("alice"), 334, "")
	c.send(encB64("guess") + "\r\n")
	r = c.want(421, "4.7.0")
	if !strings.Contains(r.String(), "from your address") {
		t.Errorf("fifth failure of the address: %q", r.String())
	}
	c.wantClosed()
	if got := rec.take(); !slices.Equal(got, secs(8, 8)) {
		t.Errorf("delays on the second connection %v, want 8s 8s", got)
	}

	// Locked out: the right password gets 421 without a delay; mail
	// without AUTH is not refused.
	c = dialRaw(t, addr)
	c.greet()
	c.cmd("MAIL FROM:<a@example.net>", 250, "2.1.0")
	c.cmd("RSET", 250, "2.0.0")
	c.cmd(right, 421, "4.7.0")
	c.wantClosed()
	if got := rec.take(); len(got) != 0 {
		t.Errorf("a refused AUTH waited %v", got)
	}

	// Just before the window ends since the last failure: still refused.
	clock.advance(lim.AuthWindow - time.Second)
	c = dialRaw(t, addr)
	c.greet()
	c.cmd(right, 421, "4.7.0")
	c.wantClosed()

	// The window has passed: the address starts over.
	clock.advance(time.Second)
	c = dialRaw(t, addr)
	c.greet()
	c.cmd(wrong, 535, "5.7.8")
	c.cmd(right, 235, "2.7.0")
	c.cmd("QUIT", 221, "2.0.0")
	if got := rec.take(); !slices.Equal(got, secs(1)) {
		t.Errorf("delays after the window %v, want 1s", got)
	}
}

// TestServerAuthDelayLifted: AuthDelay -1 (serve --auth-delay 0) waits
// for nothing, and AuthFailuresPerIP -1 never locks an address out; the
// per-connection limit still holds.
func TestServerAuthDelayLifted(t *testing.T) {
	rec := &sleepRecorder{}
	lim := Limits{AuthDelay: -1, AuthFailuresPerIP: -1}
	_, addr := startServer(t, ServerOptions{Auth: aliceAuth, AllowPlaintextAuth: true, Sleep: rec.sleep, Limits: lim}, ListenerOptions{})
	for i := 0; i < 5; i++ {
		c := dialRaw(t, addr)
		c.greet()
		c.cmd("AUTH PLAIN "+encB64("\x00alice\x00guess"), 535, "5.7.8")
		c.cmd("AUTH PLAIN "+encB64("\x00alice\x00guess"), 535, "5.7.8")
		c.cmd("AUTH PLAIN "+encB64("\x00alice\x00guess"), 421, "4.7.0")
		c.wantClosed()
	}
	c := dialRaw(t, addr)
	c.greet()
	c.cmd("AUTH PLAIN "+encB64("\x00alice\x00secret"), 235, "2.7.0")
	if got := rec.take(); len(got) != 0 {
		t.Errorf("delays %v with AuthDelay lifted", got)
	}
}

// TestServerAuthDelayEndsAtShutdown: a session waiting out an AUTH delay
// (the default timer, an hour here) does not hold up Shutdown: the delay
// ends, the 535 goes out, then 421 for the shutdown.
func TestServerAuthDelayEndsAtShutdown(t *testing.T) {
	srv, addr := startServer(t, ServerOptions{Auth: aliceAuth, AllowPlaintextAuth: true, Limits: Limits{AuthDelay: time.Hour}}, ListenerOptions{})
	c := dialRaw(t, addr)
	c.greet()
	c.send("AUTH PLAIN " + encB64("\x00alice\x00guess") + "\r\n")
	// Bounded wait until the session is inside the delay: the failure is
	// recorded before the delay starts.
	for i := 0; srv.auth.count(authKey("127.0.0.1")) == 0; i++ {
		if i > 2000 {
			t.Fatal("the failure was never recorded")
		}
		time.Sleep(5 * time.Millisecond)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()
	c.want(535, "5.7.8")
	c.want(421, "4.3.2")
	c.wantClosed()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("Shutdown waited for the AUTH delay")
	}
}

func TestAuthKey(t *testing.T) {
	for ip, want := range map[string]string{
		"192.0.2.7":            "192.0.2.7",
		"::ffff:192.0.2.7":     "192.0.2.7",
		"2001:db8:1:2::1":      "2001:db8:1:2::/64",
		"2001:db8:1:2:a:b:c:d": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":      "2001:db8:1:3::/64",
		"":                     "",
		"not-an-ip":            "",
	} {
		if got := authKey(ip); got != want {
			t.Errorf("authKey(%q) = %q, want %q", ip, got, want)
		}
	}
}

// TestAuthThrottleBounded: the throttle forgets an address a window after
// its last failure, and never holds more than maxAuthClients addresses
// (expired ones go first, then the oldest).
func TestAuthThrottleBounded(t *testing.T) {
	clock := &offsetClock{}
	th := newAuthThrottle(clock.now, time.Minute)
	if n := th.fail("a"); n != 1 {
		t.Fatalf("first failure counted %d", n)
	}
	if n := th.fail("a"); n != 2 || th.count("a") != 2 || th.count("b") != 0 {
		t.Fatalf("counts %d %d %d", n, th.count("a"), th.count("b"))
	}
	clock.advance(time.Minute)
	if th.count("a") != 0 || th.fail("a") != 1 {
		t.Fatal("failures outlived the window")
	}
	if th.fail("") != 0 || th.count("") != 0 {
		t.Fatal("the empty key (no IP) is counted")
	}
	for i := 0; i < maxAuthClients+50; i++ {
		th.fail(fmt.Sprintf("k%d", i))
	}
	if n := len(th.m); n > maxAuthClients {
		t.Fatalf("%d addresses held, want at most %d", n, maxAuthClients)
	}
	if th.count(fmt.Sprintf("k%d", maxAuthClients+49)) != 1 {
		t.Fatal("the newest address was evicted")
	}
}

// TestServerAuthConcurrentGuesses: guesses from one address on many
// connections at once are counted before they are checked, so no more
// than AuthFailuresPerIP of them reach the Authenticator: here 5
// connections guess together with a limit of 3; three are checked (and
// fail), two are refused with 421 unchecked.
func TestServerAuthConcurrentGuesses(t *testing.T) {
	const conns, limit = 5, 3
	var (
		mu      sync.Mutex
		checked int
		release = make(chan struct{})
	)
	auth := func(_ *ConnState, user, pass string) error {
		mu.Lock()
		checked++
		mu.Unlock()
		<-release
		return fmt.Errorf("bad credentials")
	}
	rec := &sleepRecorder{}
	_, addr := startServer(t, ServerOptions{Auth: auth, AllowPlaintextAuth: true, Sleep: rec.sleep,
		Limits: Limits{AuthFailures: 10, AuthFailuresPerIP: limit}}, ListenerOptions{})
	var cs []*rawClient
	for i := 0; i < conns; i++ {
		c := dialRaw(t, addr)
		c.greet()
		c.send("AUTH PLAIN " + encB64("\x00alice\x00guess") + "\r\n")
		cs = append(cs, c)
	}
	// Bounded wait until every guess is either inside the Authenticator
	// or counted and refused.
	inside := func() int { mu.Lock(); defer mu.Unlock(); return checked }
	for i := 0; inside() < limit; i++ {
		if i > 4000 {
			t.Fatalf("%d guesses reached the Authenticator, want %d", inside(), limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The others get 421 without being checked; read them in any order
	// by trying each client after the release.
	close(release)
	codes := map[int]int{}
	for _, c := range cs {
		r := c.read()
		codes[r.Code]++
		if r.Code == 535 {
			c.cmd("QUIT", 221, "")
		}
	}
	if got := inside(); got != limit {
		t.Errorf("%d guesses checked, want %d", got, limit)
	}
	// Three checked and failed: 535, 535, and 421 for the one that
	// reached the limit; two refused unchecked: 421.
	if codes[535] != limit-1 || codes[421] != conns-limit+1 {
		t.Errorf("replies %v, want %d×535 and %d×421", codes, limit-1, conns-limit+1)
	}
}
