package main

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/smtpkit/smtpkit/internal/dnsx"

	"github.com/smtpkit/smtpkit/internal/smtptest"
)

func init() {
	peerFinders["dnsmasq"] = func() (string, error) { return smtptest.LookProgram("dnsmasq") }
	peerFinders["dig"] = func() (string, error) { return smtptest.LookProgram("dig") }
}

// startDnsmasq runs dnsmasq in the foreground on a free loopback port,
// authoritative for nothing but its configuration (no upstream, no
// /etc/hosts), with conf as its --conf-file and extra arguments after.
func startDnsmasq(h harness, conf string, extra ...string) (string, error) {
	bin, err := findPeer("dnsmasq")
	if err != nil {
		return "", err
	}
	u, err := user.Current()
	if err != nil {
		return "", err
	}
	addr, _, err := startPeer(h, "dnsmasq", func(port int) (*exec.Cmd, error) {
		args := []string{"--keep-in-foreground", "--port=" + strconv.Itoa(port), "--listen-address=127.0.0.1",
			"--bind-interfaces", "--no-resolv", "--no-hosts", "--no-poll", "--pid-file=", "--user=" + u.Username,
			"--log-facility=-", "--conf-file=" + conf}
		return exec.Command(bin, append(args, extra...)...), nil
	}, waitListening, nil, "")
	return addr, err
}

func defaultDnsmasqConf() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "testdata", "dns", "dnsmasq.conf"), nil
}

// dnsmasq [ARGS...]: dnsmasq serving testdata/dns/dnsmasq.conf (plus
// ARGS, such as --mx-host=...) on 127.0.0.1; sets $DNSMASQ to
// 127.0.0.1:PORT and $DNSMASQ_PORT. Stopped when the script ends.
func cmdDnsmasq(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "dnsmasq")
	conf, err := defaultDnsmasqConf()
	ts.Check(err)
	addr, err := startDnsmasq(scriptHarness(ts), conf, args...)
	if err != nil {
		ts.Fatalf("dnsmasq: %v", err)
	}
	ts.Setenv("DNSMASQ", addr)
	ts.Setenv("DNSMASQ_PORT", addr[strings.LastIndexByte(addr, ':')+1:])
}

// digAnswer is what dig says about one question: the status and the
// records of the asked type (type, then data as dig prints it, with a
// lower-case name), sorted.
type digAnswer struct {
	status  string
	records []string
}

func runDig(t *testing.T, server, name, typ string) digAnswer {
	t.Helper()
	bin := needPeer(t, "dig")
	host, port := server[:strings.LastIndexByte(server, ':')], server[strings.LastIndexByte(server, ':')+1:]
	out, err := exec.Command(bin, "@"+host, "-p", port, "+noall", "+answer", "+comments", "+nocookie", "+tries=2", "+time=5", name, typ).Output()
	if err != nil {
		t.Fatalf("dig %s %s: %v", name, typ, err)
	}
	var a digAnswer
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "status: "); i >= 0 {
			a.status = strings.TrimSuffix(strings.Fields(line[i+8:])[0], ",")
			continue
		}
		if line == "" || strings.HasPrefix(line, ";") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 5 || f[3] != typ {
			continue
		}
		data := f[4:]
		if typ == "TLSA" && len(data) > 3 {
			// dig splits long hex data into words.
			data = append(data[:3:3], strings.Join(data[3:], ""))
		}
		a.records = append(a.records, typ+" "+strings.ToLower(strings.Join(data, " ")))
	}
	slices.Sort(a.records)
	return a
}

// ours renders dnsx's answer the way runDig does.
func ours(t *testing.T, c *dnsx.Client, name, typ string, tt dnsx.Type) digAnswer {
	t.Helper()
	ans, err := c.Lookup(context.Background(), dnsx.Question{Name: name, Type: tt})
	if dnsx.IsNotFound(err) {
		return digAnswer{status: "NXDOMAIN"}
	}
	if err != nil {
		t.Fatalf("%s %s: %v", name, typ, err)
	}
	a := digAnswer{status: "NOERROR"}
	for _, r := range ans.Records {
		var s string
		switch tt {
		case dnsx.TypeMX:
			host := r.Host + "."
			if r.Host == "." {
				host = "."
			}
			s = fmt.Sprintf("%d %s", r.Pref, host)
		case dnsx.TypeA, dnsx.TypeAAAA:
			s = r.IP.String()
		case dnsx.TypeTXT:
			s = r.Text
		case dnsx.TypePTR:
			s = r.Host + "."
		case dnsx.TypeTLSA:
			s = fmt.Sprintf("%d %d %d %x", r.TLSA.Usage, r.TLSA.Selector, r.TLSA.MatchingType, r.TLSA.Data)
		}
		a.records = append(a.records, typ+" "+strings.ToLower(s))
	}
	slices.Sort(a.records)
	return a
}

// TestDnsmasqMatchesDig asks dnsmasq, serving testdata/dns/dnsmasq.conf,
// the same questions through smtpkit's resolver and through dig, and
// requires the same status and the same records (TXT compared after
// joining dig's quoted strings).
func TestDnsmasqMatchesDig(t *testing.T) {
	needPeer(t, "dnsmasq")
	needPeer(t, "dig")
	conf, err := defaultDnsmasqConf()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := openForPeers(dir); err != nil {
		t.Fatal(err)
	}
	h := harness{dir: dir, cleanup: t.Cleanup, logf: t.Logf}
	addr, err := startDnsmasq(h, conf)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dnsx.New(dnsx.Config{Servers: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	types := map[string]dnsx.Type{"MX": dnsx.TypeMX, "A": dnsx.TypeA, "AAAA": dnsx.TypeAAAA, "TXT": dnsx.TypeTXT, "PTR": dnsx.TypePTR, "TLSA": dnsx.TypeTLSA}
	for _, q := range []string{
		"example.test MX", "mx1.example.test A", "mx1.example.test AAAA", "mx2.example.test A", "mx3.example.test AAAA",
		"mx4.example.test A", "example.test TXT", "_dmarc.example.test TXT", "_mta-sts.example.test TXT",
		"_smtp._tls.example.test TXT", "_25._tcp.mx1.example.test TLSA", "1.2.0.192.in-addr.arpa PTR",
		"2.2.0.192.in-addr.arpa PTR", "implicit.test MX", "implicit.test A", "implicit.test AAAA", "noroute.test MX",
		"noroute.test A", "nullmx.test MX", "nxhost.test MX", "nowhere.nxhost.test A", "nxdomain.test MX",
		"alias.test MX", "chain.test A", "xn--bcher-kva.test MX", "big.test TXT", "big.test MX",
	} {
		name, typ, _ := strings.Cut(q, " ")
		want := runDig(t, addr, name, typ)
		if typ == "TXT" {
			for i, r := range want.records {
				want.records[i] = "TXT " + joinDigTXT(strings.TrimPrefix(r, "TXT "))
			}
			slices.Sort(want.records)
		}
		got := ours(t, c, name, typ, types[typ])
		if got.status != want.status || !slices.Equal(got.records, want.records) {
			t.Errorf("%s:\n dig     %s %q\n smtpkit %s %q", q, want.status, want.records, got.status, got.records)
		}
	}
}

// joinDigTXT turns dig's `"abc" "def"` into abcdef (no escapes in the
// test data).
func joinDigTXT(s string) string {
	var b strings.Builder
	for _, part := range strings.Split(s, `" "`) {
		b.WriteString(strings.Trim(part, `"`))
	}
	return b.String()
}
