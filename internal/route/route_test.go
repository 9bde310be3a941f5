package route_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smtpkit/smtpkit/internal/dnsx"
	"github.com/smtpkit/smtpkit/internal/dnsx/dnstest"
	"github.com/smtpkit/smtpkit/internal/route"
)

func hosts(rt *route.Route) []string {
	var out []string
	for _, h := range rt.Hops {
		out = append(out, h.Host)
	}
	return out
}

func addrs(h route.Hop) []string {
	var out []string
	for _, a := range h.Addrs {
		out = append(out, a.IP.String())
	}
	slices.Sort(out)
	return out
}

// first always picks 0: Fisher-Yates with it rotates each run by one.
func first(int) int { return 0 }

func TestMock(t *testing.T) {
	m := dnstest.NewMock().
		MX("a.test", 20, "mx2.a.test").MX("a.test", 10, "mx1.a.test").MX("a.test", 20, "mx3.a.test").MX("a.test", 20, "mx4.a.test").
		IP("mx1.a.test", "192.0.2.1", "2001:db8::1").IP("mx2.a.test", "192.0.2.2").IP("mx3.a.test", "192.0.2.3").IP("mx4.a.test", "192.0.2.4").
		IP("implicit.test", "192.0.2.9").
		TXT("noaddr.test", "x").
		MX("null.test", 0, ".").
		MX("half.test", 10, "gone.half.test").MX("half.test", 20, "mx1.a.test").
		MX("dead.test", 10, "gone.dead.test").
		MX("tmp.test", 10, "sf.tmp.test").Fail("sf.tmp.test", dnsx.TypeA, dnsx.KindServFail).Fail("sf.tmp.test", dnsx.TypeAAAA, dnsx.KindServFail).
		Fail("servfail.test", dnsx.TypeMX, dnsx.KindServFail).
		Fail("bad.test", dnsx.TypeMX, dnsx.KindProtocol).
		MX("mixed.test", 0, ".").MX("mixed.test", 10, "mx1.a.test").
		CNAME("alias.test", "a.test")
	ctx := context.Background()

	rt, err := route.Lookup(ctx, m, "A.test.", route.Options{Intn: first})
	if err != nil {
		t.Fatal(err)
	}
	// 10 first; the 20s shuffled by first(): [2,3,4] -> k=2 swaps 2<->0
	// giving [4,3,2], k=1 swaps 1<->0 giving [3,4,2].
	if got, want := hosts(rt), []string{"mx1.a.test", "mx3.a.test", "mx4.a.test", "mx2.a.test"}; !slices.Equal(got, want) {
		t.Errorf("order: %v, want %v", got, want)
	}
	if got := addrs(rt.Hops[0]); !slices.Equal(got, []string{"192.0.2.1", "2001:db8::1"}) {
		t.Errorf("mx1 addresses: %v", got)
	}
	if rt.Implicit || rt.Domain != "a.test" || rt.Hops[0].TTL != 300 || rt.Hops[0].Pref != 10 {
		t.Errorf("route: %+v", rt)
	}

	// Every order of the equal preferences is reachable with a real
	// random source, and the lowest preference always comes first.
	seen := map[string]bool{}
	for i := 0; i < 200 && len(seen) < 6; i++ {
		rt, err := route.Lookup(ctx, m, "a.test", route.Options{})
		if err != nil {
			t.Fatal(err)
		}
		h := hosts(rt)
		if h[0] != "mx1.a.test" {
			t.Fatalf("first hop %s", h[0])
		}
		seen[strings.Join(h[1:], ",")] = true
	}
	if len(seen) != 6 {
		t.Errorf("saw %d orders of three equal preferences in 200 lookups, want 6", len(seen))
	}

	rt, err = route.Lookup(ctx, m, "implicit.test", route.Options{})
	if err != nil || !rt.Implicit || len(rt.Hops) != 1 || rt.Hops[0].Host != "implicit.test" || rt.Hops[0].Pref != 0 {
		t.Errorf("implicit: %+v, %v", rt, err)
	}

	rt, err = route.Lookup(ctx, m, "half.test", route.Options{Family: route.Family4})
	if err != nil || len(rt.Hops) != 2 || len(rt.Hops[0].Addrs) != 0 || !dnsx.IsNotFound(rt.Hops[0].Err) {
		t.Errorf("half.test: the host without addresses must be reported: %+v, %v", rt, err)
	}
	if got := addrs(rt.Hops[1]); !slices.Equal(got, []string{"192.0.2.1"}) {
		t.Errorf("-4: %v", got)
	}

	rt, err = route.Lookup(ctx, m, "mixed.test", route.Options{})
	if err != nil || len(rt.Hops) != 1 || len(rt.Notes) != 1 || !strings.Contains(rt.Notes[0], "RFC 7505") {
		t.Errorf("mixed.test: %+v, %v", rt, err)
	}

	rt, err = route.Lookup(ctx, m, "alias.test", route.Options{})
	if err != nil || rt.Canonical != "a.test" || !slices.Equal(rt.CNAMEs, []string{"a.test"}) || len(rt.Hops) != 4 {
		t.Errorf("alias.test: %+v, %v", rt, err)
	}

	for _, tc := range []struct {
		domain    string
		kind      route.Kind
		temporary bool
		route     bool
		msg       string
	}{
		{"null.test", route.KindNullMX, false, false, "null.test: domain accepts no mail (null MX, RFC 7505)"},
		{"nx.test", route.KindNoSuchDomain, false, false, "nx.test: no such domain (NXDOMAIN)"},
		{"noaddr.test", route.KindNoRoute, false, true, "noaddr.test: no route: no MX and no address records"},
		{"dead.test", route.KindNoRoute, false, true, "dead.test: no route: no MX host has an address"},
		{"tmp.test", route.KindTemporary, true, true, "tmp.test: temporary DNS failure: no MX host address could be looked up: sf.tmp.test"},
		{"servfail.test", route.KindTemporary, true, false, "servfail.test: temporary DNS failure: servfail.test MX: server failure (SERVFAIL)"},
		{"bad.test", route.KindBadAnswer, true, false, "bad.test: bad DNS answer"},
		{"a..test", route.KindInvalidName, false, false, "a..test: invalid domain name: empty label"},
	} {
		rt, err := route.Lookup(ctx, m, tc.domain, route.Options{})
		var re *route.Error
		if err == nil || !asErr(err, &re) {
			t.Errorf("%s: %+v, %v", tc.domain, rt, err)
			continue
		}
		if re.Kind != tc.kind || re.Temporary() != tc.temporary || re.Permanent() == tc.temporary || (rt != nil) != tc.route {
			t.Errorf("%s: kind %v temporary %v route %v", tc.domain, re.Kind, re.Temporary(), rt != nil)
		}
		if !strings.HasPrefix(err.Error(), tc.msg) {
			t.Errorf("%s: %q, want %q", tc.domain, err, tc.msg)
		}
	}
}

func asErr(err error, re **route.Error) bool {
	e, ok := err.(*route.Error)
	*re = e
	return ok
}

// TestServer runs the routing cases against the test zone over the wire.
func TestServer(t *testing.T) {
	srv, err := dnstest.StartFile(filepath.Join("..", "..", "testdata", "dns", "test.zone"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := dnsx.New(dnsx.Config{Servers: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	rt, err := route.Lookup(ctx, c, "example.test", route.Options{Intn: first})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hosts(rt), []string{"mx1.example.test", "mx3.example.test", "mx2.example.test", "mx4.example.test"}; !slices.Equal(got, want) {
		t.Errorf("order: %v, want %v", got, want)
	}
	if got := addrs(rt.Hops[0]); !slices.Equal(got, []string{"192.0.2.1", "2001:db8::1"}) {
		t.Errorf("mx1: %v", got)
	}
	if h := rt.Hops[2]; h.Addrs[0].TTL != 600 {
		t.Errorf("mx2 TTL %d", h.Addrs[0].TTL)
	}
	if h := rt.Hops[3]; len(h.Addrs) != 0 || h.Err != nil {
		t.Errorf("mx4 (no address records): %+v", h)
	}

	rt, err = route.Lookup(ctx, c, "mxalias.test", route.Options{})
	if err != nil || !slices.Equal(rt.Hops[0].CNAMEs, []string{"mx1.example.test"}) || len(rt.Hops[0].Addrs) != 2 {
		t.Errorf("mxalias.test: %+v, %v", rt, err)
	}
	rt, err = route.Lookup(ctx, c, "bücher.test", route.Options{})
	if err != nil || rt.Domain != "xn--bcher-kva.test" || len(rt.Hops) != 1 {
		t.Errorf("bücher.test: %+v, %v", rt, err)
	}
	rt, err = route.Lookup(ctx, c, "chain.test", route.Options{})
	if err != nil || !rt.Implicit || rt.Canonical != "implicit.test" || len(rt.Hops[0].Addrs) != 2 {
		t.Errorf("chain.test: %+v, %v", rt, err)
	}
	rt, err = route.Lookup(ctx, c, "secure.test", route.Options{})
	if err != nil || !rt.AD {
		t.Errorf("secure.test: %+v, %v", rt, err)
	}
	for domain, kind := range map[string]route.Kind{
		"nullmx.test":   route.KindNullMX,
		"nxdomain.test": route.KindNoSuchDomain,
		"noroute.test":  route.KindNoRoute,
		"nxhost.test":   route.KindNoRoute,
		"servfail.test": route.KindTemporary,
		"loop.test":     route.KindBadAnswer,
		"garbage.test":  route.KindBadAnswer,
		"wrongq.test":   route.KindBadAnswer,
	} {
		if _, err := route.Lookup(ctx, c, domain, route.Options{}); route.KindOf(err) != kind {
			t.Errorf("%s: %v, want kind %v", domain, err, kind)
		}
	}
}
