package tlspolicy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/smtpkit/smtpkit/internal/dnsx"
)

// CachedPolicy is one domain's MTA-STS policy as a Cache holds it.
type CachedPolicy struct {
	// Domain is the policy domain, lower case without the trailing dot.
	Domain string `json:"domain"`
	// ID is the id of the _mta-sts TXT record the policy was fetched under (RFC 8461
	// 3.1): a new id means a new policy to fetch.
	ID string `json:"id"`
	// Policy is the policy.
	Policy *Policy `json:"policy"`
	// Fetched is when it was fetched; Expires is Fetched plus max_age (RFC 8461 3.2).
	Fetched time.Time `json:"fetched"`
	Expires time.Time `json:"expires"`
}

// Cache holds MTA-STS policies by domain until their max_age runs out (RFC 8461 5.1), in
// memory and, with a directory, on disk as one JSON file per domain so that separate runs
// (cron-driven relay flushes) share it. It is safe for concurrent use within a process;
// between processes the last writer of a domain wins, which is harmless since either
// wrote a policy it fetched.
type Cache struct {
	dir string
	now func() time.Time
	mu  sync.Mutex
	mem map[string]CachedPolicy
}

// NewCache returns a Cache. dir "" keeps policies in memory only; otherwise dir is created
// (mode 0700) on the first Put. now is the clock; nil means time.Now.
func NewCache(dir string, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	return &Cache{dir: dir, now: now, mem: map[string]CachedPolicy{}}
}

// cacheKey checks domain and returns its cache key; errors come from PolicyURL.
func cacheKey(domain string) (string, error) {
	if _, err := PolicyURL(domain); err != nil {
		return "", err
	}
	return strings.ToLower(strings.TrimSuffix(domain, ".")), nil
}

// Get returns domain's policy if one is cached and has not expired. An expired entry is
// dropped (and its file removed). A file that cannot be read or parsed counts as absent.
func (c *Cache) Get(domain string) (*CachedPolicy, bool) {
	key, err := cacheKey(domain)
	if err != nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.mem[key]
	if !ok && c.dir != "" {
		e, ok = c.load(key)
	}
	if !ok {
		return nil, false
	}
	if !c.now().Before(e.Expires) {
		delete(c.mem, key)
		if c.dir != "" {
			_ = os.Remove(c.file(key))
		}
		return nil, false
	}
	c.mem[key] = e
	return &e, true
}

// Put caches p for domain under the record id until now plus p.MaxAge. A policy with
// max_age 0 is not cached, and the policy it replaces is dropped. It returns the entry,
// and an error when domain is not a host name or the file cannot be written or removed
// (the entry stays in memory).
func (c *Cache) Put(domain, id string, p *Policy) (*CachedPolicy, error) {
	key, err := cacheKey(domain)
	if err != nil {
		return nil, err
	}
	now := c.now()
	e := CachedPolicy{Domain: key, ID: id, Policy: p, Fetched: now, Expires: now.Add(time.Duration(p.MaxAge) * time.Second)}
	if p.MaxAge <= 0 {
		return &e, c.Delete(key)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mem[key] = e
	if c.dir == "" {
		return &e, nil
	}
	if err := c.store(key, e); err != nil {
		return &e, fmt.Errorf("mta-sts cache: %w", err)
	}
	return &e, nil
}

// Delete forgets domain's policy. It returns an error only when a file exists and cannot
// be removed.
func (c *Cache) Delete(domain string) error {
	key, err := cacheKey(domain)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.mem, key)
	if c.dir == "" {
		return nil
	}
	if err := os.Remove(c.file(key)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("mta-sts cache: %w", err)
	}
	return nil
}

func (c *Cache) file(key string) string { return filepath.Join(c.dir, key+".json") }

func (c *Cache) load(key string) (CachedPolicy, bool) {
	data, err := os.ReadFile(c.file(key))
	if err != nil {
		return CachedPolicy{}, false
	}
	var e CachedPolicy
	if json.Unmarshal(data, &e) != nil || e.Policy == nil || e.Domain != key {
		return CachedPolicy{}, false
	}
	// What is on disk may have been edited: apply only what ParsePolicy would accept.
	p, err := ParsePolicy([]byte(e.Policy.String()))
	if err != nil {
		return CachedPolicy{}, false
	}
	e.Policy = p
	return e, true
}

// store writes e through a temporary file and a rename, so a reader never sees half a
// file.
func (c *Cache) store(key string, e CachedPolicy) error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return err
	}
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(c.dir, ".tmp-"+key+"-*")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), c.file(key)); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// PolicySource says where Discover's policy came from.
type PolicySource string

// The policy sources.
const (
	SourceNone    PolicySource = "none"    // no policy applies
	SourceFetched PolicySource = "fetched" // fetched now
	SourceCache   PolicySource = "cache"   // from the cache
)

// Discovery is the outcome of Cache.Discover.
type Discovery struct {
	Domain string `json:"domain"`
	// Record is the _mta-sts TXT record, when one was found and parsed.
	Record *STSRecord `json:"record,omitempty"`
	// Policy is the policy to apply (Input.STS); nil when none applies.
	Policy *Policy `json:"policy,omitempty"`
	// Source says where Policy came from.
	Source PolicySource `json:"source"`
	// Expires is when a cached or fetched policy runs out.
	Expires time.Time `json:"expires,omitzero"`
	// Fetch describes the HTTPS fetch, when one got a response.
	Fetch *FetchInfo `json:"fetch,omitempty"`
	// Problems says what went wrong on the way (a failed lookup, a bad record, a failed
	// fetch), in lowercase prose, even when a cached policy stepped in.
	Problems []string `json:"problems,omitempty"`
}

// Discover finds the MTA-STS policy to apply to domain (RFC 8461 3, 5.1): it looks up
// the TXT record at _mta-sts.<domain> through r, uses the cached policy when the record's
// id is the cached one, and otherwise fetches the policy with client (see FetchPolicy)
// and caches it. A cached, unexpired policy is kept when the record is gone, invalid or
// cannot be looked up, or when the fetch fails (RFC 8461 5.1: an attacker who blocks
// these must not turn the policy off). It returns an error only when domain is not a
// host name or ctx ends; everything else is a Problem in the Discovery.
func (c *Cache) Discover(ctx context.Context, r dnsx.Resolver, client *http.Client, domain string) (*Discovery, error) {
	key, err := cacheKey(domain)
	if err != nil {
		return nil, err
	}
	d := &Discovery{Domain: key, Source: SourceNone}
	cached, haveCache := c.Get(key)
	useCache := func() {
		if haveCache {
			d.Policy, d.Source, d.Expires = cached.Policy, SourceCache, cached.Expires
		}
	}
	ans, err := r.Lookup(ctx, dnsx.Question{Name: "_mta-sts." + key, Type: dnsx.TypeTXT})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err != nil && !dnsx.IsNotFound(err) {
		d.Problems = append(d.Problems, "mta-sts record lookup: "+err.Error())
		useCache()
		return d, nil
	}
	var txts []string
	if ans != nil {
		for _, rec := range ans.Records {
			txts = append(txts, rec.Text)
		}
	}
	txt, err := SelectSTSRecord(txts)
	if err == nil {
		d.Record, err = ParseSTSRecord(txt)
	}
	if err != nil {
		if !errors.Is(err, ErrNoSTSRecord) {
			d.Problems = append(d.Problems, err.Error())
		}
		useCache()
		return d, nil
	}
	if haveCache && cached.ID == d.Record.ID {
		useCache()
		return d, nil
	}
	p, info, err := FetchPolicy(ctx, client, key)
	d.Fetch = info
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		d.Problems = append(d.Problems, err.Error())
		useCache()
		return d, nil
	}
	e, err := c.Put(key, d.Record.ID, p)
	if err != nil {
		d.Problems = append(d.Problems, err.Error())
	}
	d.Policy, d.Source = p, SourceFetched
	if p.MaxAge > 0 {
		d.Expires = e.Expires
	}
	return d, nil
}
