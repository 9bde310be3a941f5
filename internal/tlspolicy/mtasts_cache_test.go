package tlspolicy

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/dnsx"
	"github.com/smtpkit/smtpkit/internal/dnsx/dnstest"
	"github.com/smtpkit/smtpkit/internal/smtptest"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func stsPolicy(mode Mode, maxAge int) *Policy {
	return &Policy{Version: "STSv1", Mode: mode, MX: []string{"mail.example.com"}, MaxAge: maxAge}
}

func TestCacheMemory(t *testing.T) {
	clock := &fakeClock{t: testNow}
	c := NewCache("", clock.Now)
	if _, ok := c.Get("example.com"); ok {
		t.Fatal("empty cache has an entry")
	}
	e, err := c.Put("Example.COM.", "id1", stsPolicy(ModeEnforce, 3600))
	if err != nil || e.Domain != "example.com" || !e.Expires.Equal(testNow.Add(time.Hour)) || !e.Fetched.Equal(testNow) {
		t.Fatalf("Put = %+v, %v", e, err)
	}
	clock.Add(time.Hour - time.Second)
	if got, ok := c.Get("example.com"); !ok || got.ID != "id1" || got.Policy.Mode != ModeEnforce {
		t.Errorf("Get before max_age = %+v, %v", got, ok)
	}
	clock.Add(time.Second)
	if got, ok := c.Get("EXAMPLE.com"); ok {
		t.Errorf("Get at max_age = %+v", got)
	}

	// max_age 0: not cached, and the policy it replaces goes.
	if _, err := c.Put("example.com", "id2", stsPolicy(ModeEnforce, 600)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put("example.com", "id3", stsPolicy(ModeTesting, 0)); err != nil {
		t.Fatal(err)
	}
	if got, ok := c.Get("example.com"); ok {
		t.Errorf("after a max_age 0 policy: %+v", got)
	}
	if _, err := c.Put("exa mple.com", "x", stsPolicy(ModeEnforce, 1)); err == nil {
		t.Error("Put accepted a bad domain")
	}
	if err := c.Delete("../etc"); err == nil {
		t.Error("Delete accepted a bad domain")
	}
}

func TestCacheDisk(t *testing.T) {
	clock := &fakeClock{t: testNow}
	dir := filepath.Join(t.TempDir(), "mta-sts")
	c := NewCache(dir, clock.Now)
	if _, err := c.Put("example.com", "id1", stsPolicy(ModeEnforce, 86400)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put("example.org", "id9", stsPolicy(ModeTesting, 60)); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("dir: %v, %v", fi, err)
	}
	// A second process, later, sees the policy through the files.
	clock.Add(time.Hour)
	c2 := NewCache(dir, clock.Now)
	got, ok := c2.Get("EXAMPLE.COM")
	if !ok || got.ID != "id1" || got.Policy.Mode != ModeEnforce || got.Policy.MaxAge != 86400 || !got.Expires.Equal(testNow.Add(24*time.Hour)) {
		t.Fatalf("Get from disk = %+v, %v", got, ok)
	}
	// The expired one is dropped along with its file.
	if _, ok := c2.Get("example.org"); ok {
		t.Error("expired entry from disk")
	}
	if _, err := os.Stat(filepath.Join(dir, "example.org.json")); !os.IsNotExist(err) {
		t.Errorf("expired file still there: %v", err)
	}
	if err := c2.Delete("example.com"); err != nil {
		t.Fatal(err)
	}
	if _, ok := NewCache(dir, clock.Now).Get("example.com"); ok {
		t.Error("deleted entry still on disk")
	}
	if err := c2.Delete("example.com"); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	// Damaged files count as absent.
	for name, body := range map[string]string{
		"bad1.example.json": "{not json",
		"bad2.example.json": `{"domain":"bad2.example","id":"x","policy":{"version":"STSv1","mode":"enforce","max_age":99},"expires":"2099-01-01T00:00:00Z"}`,
		"bad3.example.json": `{"domain":"other.example","id":"x","policy":{"version":"STSv1","mode":"none","max_age":99},"expires":"2099-01-01T00:00:00Z"}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, ok := NewCache(dir, clock.Now).Get(strings.TrimSuffix(name, ".json")); ok {
			t.Errorf("%s: %+v", name, got)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func TestCacheDiskUnwritable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c := NewCache(filepath.Join(file, "sub"), nil)
	if _, err := c.Put("example.com", "id1", stsPolicy(ModeEnforce, 60)); err == nil || !strings.HasPrefix(err.Error(), "mta-sts cache:") {
		t.Errorf("Put = %v", err)
	}
	if _, ok := c.Get("example.com"); !ok {
		t.Error("the entry is not kept in memory")
	}
}

func TestDiscover(t *testing.T) {
	certs := smtptest.Cert(t, "mta-sts.example.com")
	var fetches atomic.Int32
	var status atomic.Int32
	status.Store(200)
	body := func() string { return strings.Replace(goodPolicy, "604800", "3600", 1) }
	dial := policyServer(t, certs, func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(int(status.Load()))
		io.WriteString(w, body())
	})
	client := NewHTTPClient(certs.Pool, dial)
	clock := &fakeClock{t: testNow}
	c := NewCache("", clock.Now)
	ctx := context.Background()
	withTXT := func(txts ...string) dnsx.Resolver { return dnstest.NewMock().TXT("_mta-sts.example.com", txts...) }

	steps := []struct {
		name     string
		r        dnsx.Resolver
		advance  time.Duration
		status   int
		source   PolicySource
		fetched  int32 // fetches so far
		problem  string
		recordID string
	}{
		{name: "first fetch", r: withTXT("v=spf1 -all", "v=STSv1; id=1"), source: SourceFetched, fetched: 1, recordID: "1"},
		{name: "same id: cache", r: withTXT("v=STSv1; id=1"), advance: time.Minute, source: SourceCache, fetched: 1, recordID: "1"},
		{name: "new id: fetch", r: withTXT("v=STSv1; id=2"), source: SourceFetched, fetched: 2, recordID: "2"},
		{name: "fetch fails: cache", r: withTXT("v=STSv1; id=3"), status: 500, source: SourceCache, fetched: 3, problem: "status 500", recordID: "3"},
		{name: "record gone: cache", r: dnstest.NewMock(), source: SourceCache, fetched: 3},
		{name: "two records: cache", r: withTXT("v=STSv1; id=4", "v=STSv1; id=5"), source: SourceCache, fetched: 3, problem: "multiple MTA-STS records"},
		{name: "bad record: cache", r: withTXT("v=STSv1; id=no-dashes"), source: SourceCache, fetched: 3, problem: "the id is 1 to 32"},
		{name: "servfail: cache", r: dnstest.NewMock().Fail("_mta-sts.example.com", dnsx.TypeTXT, dnsx.KindServFail), source: SourceCache, fetched: 3, problem: "SERVFAIL"},
		{name: "expired, no record: none", r: dnstest.NewMock(), advance: time.Hour, source: SourceNone, fetched: 3},
		{name: "not found: none", r: withTXT("v=STSv1; id=6"), status: 404, source: SourceNone, fetched: 4, problem: "no MTA-STS policy served", recordID: "6"},
		{name: "fetch after expiry", r: withTXT("v=STSv1; id=6"), source: SourceFetched, fetched: 5, recordID: "6"},
	}
	for _, s := range steps {
		clock.Add(s.advance)
		st := s.status
		if st == 0 {
			st = 200
		}
		status.Store(int32(st))
		d, err := c.Discover(ctx, s.r, client, "Example.com.")
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if d.Source != s.source || fetches.Load() != s.fetched || d.Domain != "example.com" {
			t.Errorf("%s: source %s after %d fetches, want %s after %d", s.name, d.Source, fetches.Load(), s.source, s.fetched)
		}
		if (d.Policy != nil) != (s.source != SourceNone) || d.Policy != nil && (d.Policy.Mode != ModeEnforce || !d.Policy.Matches("mail.example.com") || d.Expires.IsZero()) {
			t.Errorf("%s: policy %+v, expires %v", s.name, d.Policy, d.Expires)
		}
		got := strings.Join(d.Problems, "; ")
		if (s.problem == "") != (got == "") || !strings.Contains(got, s.problem) {
			t.Errorf("%s: problems %q, want %q", s.name, got, s.problem)
		}
		if id := ""; d.Record != nil {
			if id = d.Record.ID; id != s.recordID {
				t.Errorf("%s: record id %q, want %q", s.name, id, s.recordID)
			}
		} else if s.recordID != "" {
			t.Errorf("%s: no record", s.name)
		}
		if s.source == SourceFetched && (d.Fetch == nil || d.Fetch.StatusCode != 200) {
			t.Errorf("%s: fetch info %+v", s.name, d.Fetch)
		}
	}

	if _, err := c.Discover(ctx, dnstest.NewMock(), client, "not a domain"); err == nil {
		t.Error("Discover accepted a bad domain")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Discover(cancelled, withTXT("v=STSv1; id=9"), client, "example.com"); err == nil {
		t.Error("Discover with a cancelled context succeeded")
	}
}
