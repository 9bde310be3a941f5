package batch

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rate is a number of messages per period.
type Rate struct {
	N   int
	Per time.Duration
}

// ParseRate parses "N/s", "N/m" or "N/h".
func ParseRate(s string) (Rate, error) {
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n < 1 {
		return Rate{}, fmt.Errorf("rate %q: want N/s, N/m or N/h with N at least 1", s)
	}
	switch unit {
	case "s":
		return Rate{N: n, Per: time.Second}, nil
	case "m":
		return Rate{N: n, Per: time.Minute}, nil
	case "h":
		return Rate{N: n, Per: time.Hour}, nil
	}
	return Rate{}, fmt.Errorf("rate %q: want N/s, N/m or N/h", s)
}

// Clock is the time source of a Limiter, injectable in tests.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// WallClock is the real clock.
var WallClock Clock = wallClock{}

// Limiter is a token bucket shared by every session: at most Rate.N sends
// start in any window of Rate.Per, with a burst of at most one token per
// second's worth (and at least one), so a fresh run does not fire a whole
// hour's quota at once.
type Limiter struct {
	mu       sync.Mutex
	clock    Clock
	interval time.Duration // one token
	burst    float64
	tokens   float64
	last     time.Time
}

// NewLimiter returns a limiter for r on clock c (WallClock when nil).
func NewLimiter(r Rate, c Clock) *Limiter {
	if c == nil {
		c = WallClock
	}
	iv := r.Per / time.Duration(r.N)
	burst := float64(r.N) * float64(time.Second) / float64(r.Per)
	if burst < 1 {
		burst = 1
	}
	return &Limiter{clock: c, interval: iv, burst: burst, tokens: burst, last: c.Now()}
}

// Wait takes one token, sleeping until one is available or ctx is done.
func (l *Limiter) Wait(ctx context.Context) error {
	if l == nil {
		return nil
	}
	for i := 0; ; i++ {
		l.mu.Lock()
		now := l.clock.Now()
		if el := now.Sub(l.last); el > 0 {
			l.tokens += float64(el) / float64(l.interval)
			if l.tokens > l.burst {
				l.tokens = l.burst
			}
		}
		l.last = now
		if l.tokens >= 1 {
			l.tokens--
			l.mu.Unlock()
			return nil
		}
		wait := time.Duration((1 - l.tokens) * float64(l.interval))
		l.mu.Unlock()
		if wait < time.Millisecond {
			wait = time.Millisecond
		}
		if err := l.clock.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}
