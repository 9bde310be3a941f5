package dnsx_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/dnsx"
	"github.com/smtpkit/smtpkit/internal/dnsx/dnstest"
)

var zoneFile = filepath.Join("..", "..", "testdata", "dns", "test.zone")

// startZone serves the test zone and returns a Client that asks it.
func startZone(t *testing.T, cfg dnsx.Config) (*dnstest.Server, *dnsx.Client) {
	t.Helper()
	srv, err := dnstest.StartFile(zoneFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	cfg.Servers = append(cfg.Servers, srv.Addr)
	c, err := dnsx.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return srv, c
}

func lookup(t *testing.T, c dnsx.Resolver, name string, typ dnsx.Type) (*dnsx.Answer, error) {
	t.Helper()
	return c.Lookup(context.Background(), dnsx.Question{Name: name, Type: typ})
}

func mustLookup(t *testing.T, c dnsx.Resolver, name string, typ dnsx.Type) *dnsx.Answer {
	t.Helper()
	a, err := lookup(t, c, name, typ)
	if err != nil {
		t.Fatalf("%s %s: %v", name, typ, err)
	}
	return a
}

func TestClientRecords(t *testing.T) {
	_, c := startZone(t, dnsx.Config{})
	a := mustLookup(t, c, "Example.TEST.", dnsx.TypeMX)
	var got []string
	for _, r := range a.Records {
		got = append(got, r.Host+"/"+itoa(int(r.Pref))+"/"+itoa(int(r.TTL)))
	}
	slices.Sort(got)
	want := []string{"mx1.example.test/10/300", "mx2.example.test/20/300", "mx3.example.test/20/300", "mx4.example.test/30/300"}
	if !slices.Equal(got, want) {
		t.Errorf("MX: got %v, want %v", got, want)
	}
	if a.Canonical != "example.test" || len(a.CNAMEs) != 0 || a.AD || a.Truncated {
		t.Errorf("MX answer meta: %+v", a)
	}

	a = mustLookup(t, c, "mx2.example.test", dnsx.TypeA)
	if len(a.Records) != 1 || a.Records[0].IP != netip.MustParseAddr("192.0.2.2") || a.Records[0].TTL != 600 {
		t.Errorf("A: %+v", a.Records)
	}
	a = mustLookup(t, c, "mx1.example.test", dnsx.TypeAAAA)
	if len(a.Records) != 1 || a.Records[0].IP != netip.MustParseAddr("2001:db8::1") {
		t.Errorf("AAAA: %+v", a.Records)
	}
	a = mustLookup(t, c, "example.test", dnsx.TypeTXT)
	if len(a.Records) != 2 || !slices.ContainsFunc(a.Records, func(r dnsx.Record) bool { return r.Text == "v=spf1 mx a:mail.example.test -all" }) {
		t.Errorf("TXT: %+v", a.Records)
	}
	a = mustLookup(t, c, "_25._tcp.mx1.example.test", dnsx.TypeTLSA)
	if len(a.Records) != 1 || a.Records[0].TLSA == nil || a.Records[0].TLSA.Usage != 3 || len(a.Records[0].TLSA.Data) != 32 || a.Records[0].TLSA.Data[0] != 0x0c {
		t.Errorf("TLSA: %+v", a.Records)
	}
	a = mustLookup(t, c, dnsx.ReverseName(netip.MustParseAddr("192.0.2.1")), dnsx.TypePTR)
	if len(a.Records) != 1 || a.Records[0].Host != "mx1.example.test" {
		t.Errorf("PTR: %+v", a.Records)
	}
	// NODATA: the name exists, the type does not.
	a = mustLookup(t, c, "implicit.test", dnsx.TypeMX)
	if len(a.Records) != 0 {
		t.Errorf("NODATA: %+v", a.Records)
	}
	// Null MX: the root as exchange.
	a = mustLookup(t, c, "nullmx.test", dnsx.TypeMX)
	if len(a.Records) != 1 || a.Records[0].Host != "." || a.Records[0].Pref != 0 {
		t.Errorf("null MX: %+v", a.Records)
	}
	if !c.Trusted() {
		t.Error("a loopback resolver is not trusted")
	}
}

func TestClientErrors(t *testing.T) {
	_, c := startZone(t, dnsx.Config{Timeout: 200 * time.Millisecond, Attempts: 1})
	for _, tc := range []struct {
		name      string
		kind      dnsx.Kind
		temporary bool
		detail    string
	}{
		{"nxdomain.test", dnsx.KindNXDomain, false, "NXDOMAIN"},
		{"servfail.test", dnsx.KindServFail, true, "SERVFAIL"},
		{"refused.test", dnsx.KindRefused, true, "REFUSED"},
		{"garbage.test", dnsx.KindProtocol, true, "malformed answer"},
		{"wrongq.test", dnsx.KindProtocol, true, "answer for another question (wrong.wrongq.test MX)"},
		{"drop.test", dnsx.KindTimeout, true, "timed out"},
		{"loop.test", dnsx.KindProtocol, true, "CNAME loop: loop.test -> loop2.test -> loop.test"},
		{"nxhost.test.", 0, false, ""},
	} {
		a, err := lookup(t, c, tc.name, dnsx.TypeMX)
		if tc.kind == 0 {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		var de *dnsx.Error
		if !errors.As(err, &de) {
			t.Errorf("%s: got %+v, %v; want a *dnsx.Error", tc.name, a, err)
			continue
		}
		if de.Kind != tc.kind || de.Temporary() != tc.temporary || de.NotFound() != (tc.kind == dnsx.KindNXDomain) {
			t.Errorf("%s: kind %v temporary %v, want %v %v", tc.name, de.Kind, de.Temporary(), tc.kind, tc.temporary)
		}
		if !strings.Contains(err.Error(), tc.detail) || !strings.HasPrefix(err.Error(), strings.TrimSuffix(tc.name, ".")) {
			t.Errorf("%s: error %q does not name the question and %q", tc.name, err, tc.detail)
		}
	}
	// The MX host of nxhost.test does not exist.
	if _, err := lookup(t, c, "nowhere.nxhost.test", dnsx.TypeA); !dnsx.IsNotFound(err) {
		t.Errorf("nowhere.nxhost.test A: %v", err)
	}
}

func TestClientTruncation(t *testing.T) {
	srv, c := startZone(t, dnsx.Config{})
	a := mustLookup(t, c, "tc.test", dnsx.TypeMX)
	if !a.Truncated || len(a.Records) != 1 || a.Records[0].Host != "mx1.example.test" {
		t.Errorf("tc.test: %+v", a)
	}
	if srv.TCPQueries() != 1 {
		t.Errorf("TCP queries: %d, want 1", srv.TCPQueries())
	}
	// Three TXT records of 500 octets do not fit in 1232: the server
	// truncates, the client asks over TCP and joins each record's strings.
	a = mustLookup(t, c, "big.test", dnsx.TypeTXT)
	if !a.Truncated || len(a.Records) != 3 {
		t.Fatalf("big.test: truncated %v, %d records", a.Truncated, len(a.Records))
	}
	for _, r := range a.Records {
		if len(r.Text) != 500 {
			t.Errorf("big.test TXT of %d octets, want 500", len(r.Text))
		}
	}
}

func TestClientCNAME(t *testing.T) {
	_, c := startZone(t, dnsx.Config{})
	a := mustLookup(t, c, "alias.test", dnsx.TypeMX)
	if a.Canonical != "example.test" || !slices.Equal(a.CNAMEs, []string{"example.test"}) || len(a.Records) != 4 {
		t.Errorf("alias.test: %+v", a)
	}
	a = mustLookup(t, c, "chain.test", dnsx.TypeA)
	if a.Canonical != "implicit.test" || len(a.CNAMEs) != 3 || len(a.Records) != 1 {
		t.Errorf("chain.test: %+v", a)
	}
	// The server gives the CNAME alone; the client asks for the target.
	a = mustLookup(t, c, "nochase.test", dnsx.TypeAAAA)
	if a.Canonical != "implicit.test" || len(a.Records) != 1 || a.Records[0].IP != netip.MustParseAddr("2001:db8::20") {
		t.Errorf("nochase.test: %+v", a)
	}
	a = mustLookup(t, c, "mx.mxalias.test", dnsx.TypeA)
	if a.Canonical != "mx1.example.test" || len(a.Records) != 1 {
		t.Errorf("mx.mxalias.test: %+v", a)
	}
}

func TestClientAD(t *testing.T) {
	_, c := startZone(t, dnsx.Config{DNSSEC: true})
	if a := mustLookup(t, c, "secure.test", dnsx.TypeMX); !a.AD {
		t.Error("secure.test: AD not reported")
	}
	if a := mustLookup(t, c, "example.test", dnsx.TypeMX); a.AD {
		t.Error("example.test: AD reported")
	}
}

// TestClientServers: an unreachable first server and a SERVFAIL are
// passed over; the next server answers.
func TestClientServers(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := pc.LocalAddr().String()
	pc.Close() // nothing listens: ICMP port unreachable, ECONNREFUSED
	srv, c := startZone(t, dnsx.Config{Servers: []string{dead}, Timeout: time.Second, Attempts: 1})
	a := mustLookup(t, c, "example.test", dnsx.TypeMX)
	if a.Server != srv.Addr {
		t.Errorf("answered by %s, want %s", a.Server, srv.Addr)
	}
	if got := c.Servers(); len(got) != 2 || got[0] != dead {
		t.Errorf("Servers: %v", got)
	}
	// Only a dead server: a network error, temporary.
	c2, err := dnsx.New(dnsx.Config{Servers: []string{dead}, Timeout: time.Second, Attempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	_, err = lookup(t, c2, "example.test", dnsx.TypeMX)
	if k := dnsx.KindOf(err); k != dnsx.KindNetwork && k != dnsx.KindTimeout || !dnsx.IsTemporary(err) {
		t.Errorf("dead server: %v (kind %v)", err, k)
	}
}

func TestClientContext(t *testing.T) {
	_, c := startZone(t, dnsx.Config{Timeout: time.Minute, Attempts: 1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Lookup(ctx, dnsx.Question{Name: "drop.test", Type: dnsx.TypeMX})
		done <- err
	}()
	cancel()
	if err := <-done; !dnsx.IsTemporary(err) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestClientReuse asks many questions concurrently on pooled sockets and
// checks every answer belongs to its question.
func TestClientReuse(t *testing.T) {
	_, c := startZone(t, dnsx.Config{})
	names := []string{"mx1.example.test", "mx2.example.test", "mail.example.test", "implicit.test", "mx.check.test"}
	want := []string{"192.0.2.1", "192.0.2.2", "192.0.2.9", "192.0.2.20", "127.0.0.1"}
	errc := make(chan error, 20)
	for w := 0; w < 20; w++ {
		go func() {
			for i := 0; i < 100; i++ {
				k := (i + w) % len(names)
				a, err := c.Lookup(context.Background(), dnsx.Question{Name: names[k], Type: dnsx.TypeA})
				if err != nil {
					errc <- err
					return
				}
				if len(a.Records) != 1 || a.Records[0].IP.String() != want[k] {
					errc <- errors.New(names[k] + ": got " + a.Records[0].IP.String())
					return
				}
			}
			errc <- nil
		}()
	}
	for w := 0; w < 20; w++ {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

func TestInvalidQuestion(t *testing.T) {
	_, c := startZone(t, dnsx.Config{})
	for _, n := range []string{"", "a..b", strings.Repeat("a", 64) + ".test"} {
		if _, err := lookup(t, c, n, dnsx.TypeA); dnsx.KindOf(err) != dnsx.KindInvalidName {
			t.Errorf("%q: %v", n, err)
		}
	}
}

func TestParseServer(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1": "127.0.0.1:53", "127.0.0.1:5353": "127.0.0.1:5353",
		"::1": "[::1]:53", "[::1]:5353": "[::1]:5353", "[::1]": "[::1]:53",
	} {
		got, err := dnsx.ParseServer(in)
		if err != nil || got.String() != want {
			t.Errorf("%s: %v %v, want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"dns.example.com", "127.0.0.1:x", "127.0.0.1:0", ""} {
		if _, err := dnsx.ParseServer(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func itoa(n int) string { return strconvItoa(n) }
