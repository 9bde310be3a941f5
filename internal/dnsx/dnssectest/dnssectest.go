// Package dnssectest runs a real DNSSEC-validating resolver on loopback for tests: each
// test zone is signed with ldns-keygen and ldns-signzone (Debian ldnsutils), served by an
// nsd authoritative server, and resolved through an unbound that has the zones' DS
// records as trust anchors and a stub-zone per zone pointing at nsd. Names in a signed
// zone resolve with the AD bit, names in an unsigned zone without it, and names whose
// signatures do not verify fail with SERVFAIL, as from any validating resolver.
//
// The programs are peers in the sense of the project's interop tests: Start skips the
// test when one is missing, and fails it instead when SMTPKIT_REQUIRE_PEERS=1 (as CI
// sets). Every process runs from t.TempDir() on 127.0.0.1 ports above 1024 and is
// stopped by its process group when the test ends. Nothing here runs outside tests.
package dnssectest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/smtpkit/smtpkit/internal/smtptest"
)

// programs are the peers Start needs, by their Debian packages.
var programs = map[string]string{
	"ldns-keygen":   "ldnsutils",
	"ldns-signzone": "ldnsutils",
	"nsd":           "nsd",
	"unbound":       "unbound",
}

// Polling bounds: how long Start waits for a server to answer on a loaded machine.
const (
	pollInterval = 50 * time.Millisecond
	pollLimit    = 300 // 15 s at most
	stopGrace    = 5 * time.Second
)

// Zone is a test zone.
type Zone struct {
	// Name is the zone's apex, such as "dane.test" (no trailing dot needed).
	Name string
	// Records is zone-file text with the zone's records, with $ORIGIN set to the apex so
	// that relative names work. Start adds the SOA, the NS and the name server's address.
	Records string
	// Signed zones are signed with a fresh ECDSA P-256 key (algorithm 13) whose DS
	// record becomes an unbound trust anchor; other zones are insecure (no anchor).
	Signed bool
	// Tamper, when set, edits the signed zone text before nsd loads it, so that a test
	// can serve records whose signatures no longer verify (bogus).
	Tamper func(signed string) string
}

// Resolver is a running validating resolver.
type Resolver struct {
	// Addr is unbound's address, 127.0.0.1:PORT: point a dnsx.Client here.
	Addr string
	// AuthAddr is nsd's address: asking it directly gives answers without validation.
	AuthAddr string
	// Dir holds the zones, keys, configurations and logs.
	Dir string
}

// peerVerdict says whether a test fails or skips when the programs could not be found
// (err non-nil): it fails when peers are required.
func peerVerdict(err error, required bool) (fatal, skip string) {
	switch {
	case err == nil:
		return "", ""
	case required:
		return fmt.Sprintf("dnssectest: peers are required (SMTPKIT_REQUIRE_PEERS=1) but cannot run: %v", err), ""
	}
	return "", fmt.Sprintf("dnssectest: validating resolver unavailable: %v", err)
}

// findPrograms returns the path of every program, or why one cannot be found.
func findPrograms() (map[string]string, error) {
	paths := map[string]string{}
	var missing []string
	for prog, pkg := range programs {
		p, err := smtptest.LookProgram(prog)
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", prog, pkg))
			continue
		}
		paths[prog] = p
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("not installed here: %s", strings.Join(missing, ", "))
	}
	return paths, nil
}

// Start signs the zones, starts nsd and unbound, waits until unbound answers for every
// zone (with AD for signed ones), and registers their shutdown with t.Cleanup. It skips
// t when a program is missing, unless SMTPKIT_REQUIRE_PEERS=1, and fails t when anything
// else goes wrong, quoting the servers' logs.
func Start(t testing.TB, zones ...Zone) *Resolver {
	t.Helper()
	progs, err := findPrograms()
	if fatal, skip := peerVerdict(err, smtptest.RequirePeers()); fatal != "" {
		t.Fatal(fatal)
	} else if skip != "" {
		t.Skip(skip)
	}
	if len(zones) == 0 {
		t.Fatal("dnssectest: no zones")
	}
	r := &Resolver{Dir: t.TempDir()}
	var anchors []string
	for i := range zones {
		z := &zones[i]
		z.Name = strings.ToLower(strings.TrimSuffix(z.Name, "."))
		ds, err := r.writeZone(progs, *z)
		if err != nil {
			t.Fatalf("dnssectest: zone %s: %v", z.Name, err)
		}
		if ds != "" {
			anchors = append(anchors, ds)
		}
	}
	r.AuthAddr = r.startDaemon(t, "nsd", func(port int) (string, []string) {
		return r.nsdConf(port, zones), []string{progs["nsd"], "-d", "-c"}
	}, func(addr string) error { return ready(addr, zones[0].Name, false) })
	r.Addr = r.startDaemon(t, "unbound", func(port int) (string, []string) {
		return r.unboundConf(port, zones, anchors), []string{progs["unbound"], "-d", "-c"}
	}, func(addr string) error {
		for _, z := range zones {
			if err := ready(addr, z.Name, z.Signed); err != nil {
				return err
			}
		}
		return nil
	})
	return r
}

// writeZone writes the zone file (signed when asked) and returns the DS record of its
// key, or "" for an unsigned zone.
func (r *Resolver) writeZone(progs map[string]string, z Zone) (string, error) {
	apex := z.Name + "."
	text := fmt.Sprintf("$ORIGIN %s\n$TTL 300\n@ IN SOA ns.%s hostmaster.%s 1 3600 600 86400 300\n@ IN NS ns.%s\nns IN A 127.0.0.1\n%s\n",
		apex, apex, apex, apex, z.Records)
	file := filepath.Join(r.Dir, z.Name+".zone")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		return "", err
	}
	if !z.Signed {
		return "", nil
	}
	out, err := r.run(progs["ldns-keygen"], "-a", "ECDSAP256SHA256", "-k", z.Name)
	if err != nil {
		return "", err
	}
	key := strings.TrimSpace(out)
	ds, err := os.ReadFile(filepath.Join(r.Dir, key+".ds"))
	if err != nil {
		return "", err
	}
	// Signatures valid from a day ago for a month, so clock skew never matters.
	now := time.Now().UTC()
	if _, err := r.run(progs["ldns-signzone"], "-i", now.Add(-24*time.Hour).Format("20060102150405"),
		"-e", now.Add(30*24*time.Hour).Format("20060102150405"), "-f", file+".signed", file, key); err != nil {
		return "", err
	}
	if z.Tamper != nil {
		signed, err := os.ReadFile(file + ".signed")
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(file+".signed", []byte(z.Tamper(string(signed))), 0o644); err != nil {
			return "", err
		}
	}
	return strings.TrimSpace(string(ds)), nil
}

func (r *Resolver) run(prog string, args ...string) (string, error) {
	cmd := exec.Command(prog, args...)
	cmd.Dir = r.Dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v: %s", filepath.Base(prog), strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

func (r *Resolver) zoneFile(z Zone) string {
	f := filepath.Join(r.Dir, z.Name+".zone")
	if z.Signed {
		f += ".signed"
	}
	return f
}

func (r *Resolver) nsdConf(port int, zones []Zone) string {
	var b strings.Builder
	fmt.Fprintf(&b, "server:\n  ip-address: 127.0.0.1\n  port: %d\n  username: \"\"\n  chroot: \"\"\n", port)
	fmt.Fprintf(&b, "  zonesdir: %q\n  database: \"\"\n  zonelistfile: %q\n  xfrdfile: %q\n  xfrdir: %q\n",
		r.Dir, filepath.Join(r.Dir, "nsd.zonelist"), filepath.Join(r.Dir, "nsd.xfrd"), r.Dir)
	fmt.Fprintf(&b, "  pidfile: \"\"\n  logfile: %q\n  server-count: 1\n  verbosity: 1\n  hide-version: yes\n", filepath.Join(r.Dir, "nsd.log"))
	b.WriteString("remote-control:\n  control-enable: no\n")
	for _, z := range zones {
		fmt.Fprintf(&b, "zone:\n  name: %q\n  zonefile: %q\n", z.Name, r.zoneFile(z))
	}
	return b.String()
}

func (r *Resolver) unboundConf(port int, zones []Zone, anchors []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "server:\n  do-daemonize: no\n  interface: 127.0.0.1\n  port: %d\n  username: \"\"\n  chroot: \"\"\n  pidfile: \"\"\n", port)
	fmt.Fprintf(&b, "  directory: %q\n  use-syslog: no\n  logfile: %q\n  verbosity: 1\n  val-log-level: 2\n", r.Dir, filepath.Join(r.Dir, "unbound.log"))
	b.WriteString("  module-config: \"validator iterator\"\n  do-not-query-localhost: no\n  do-ip6: no\n  num-threads: 1\n")
	b.WriteString("  so-reuseport: no\n  outgoing-range: 64\n  access-control: 127.0.0.0/8 allow\n")
	// RFC 6761 names such as test. are answered locally by default; let them through.
	b.WriteString("  local-zone: \"test.\" nodefault\n")
	for _, a := range anchors {
		fmt.Fprintf(&b, "  trust-anchor: %q\n", strings.Join(strings.Fields(a), " "))
	}
	b.WriteString("remote-control:\n  control-enable: no\n")
	for _, z := range zones {
		fmt.Fprintf(&b, "stub-zone:\n  name: %q\n  stub-addr: 127.0.0.1@%d\n", z.Name, r.authPort())
	}
	return b.String()
}

func (r *Resolver) authPort() int {
	_, p, _ := net.SplitHostPort(r.AuthAddr)
	n, _ := strconv.Atoi(p)
	return n
}

// startDaemon runs a server on a free port (trying a few in case another process takes
// the port first), waits until check passes, and stops it when the test ends.
func (r *Resolver) startDaemon(t testing.TB, name string, conf func(port int) (string, []string), check func(addr string) error) string {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("dnssectest: %s: %v", name, err)
		}
		text, argv := conf(port)
		confFile := filepath.Join(r.Dir, name+".conf")
		if err := os.WriteFile(confFile, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(r.Dir, name+".out"))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(argv[0], append(argv[1:], confFile)...)
		cmd.Dir, cmd.Stdout, cmd.Stderr = r.Dir, out, out
		newGroup(cmd)
		if err := cmd.Start(); err != nil {
			out.Close()
			t.Fatalf("dnssectest: start %s: %v", name, err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); out.Close(); close(exited) }()
		stop := func() { stopGroup(cmd.Process, exited) }
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if lastErr = waitReady(addr, check, exited); lastErr == nil {
			t.Cleanup(stop)
			return addr
		}
		stop()
	}
	t.Fatalf("dnssectest: %s did not come up: %v\n%s", name, lastErr, r.Logs())
	return ""
}

func waitReady(addr string, check func(string) error, exited <-chan struct{}) error {
	var err error
	for range pollLimit {
		select {
		case <-exited:
			return errors.New("the server exited")
		default:
		}
		if err = check(addr); err == nil {
			return nil
		}
		time.Sleep(pollInterval)
	}
	return err
}

// ready asks addr for the zone's SOA and wants an answer (with AD when ad).
func ready(addr, zone string, ad bool) error {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(zone), dns.TypeSOA)
	m.SetEdns0(1232, true)
	m.AuthenticatedData = true
	c := &dns.Client{Timeout: time.Second}
	resp, _, err := c.Exchange(m, addr)
	if err != nil {
		return err
	}
	if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) == 0 {
		return fmt.Errorf("SOA %s: %s with %d answers", zone, dns.RcodeToString[resp.Rcode], len(resp.Answer))
	}
	if ad && !resp.AuthenticatedData {
		return fmt.Errorf("SOA %s: no AD bit", zone)
	}
	return nil
}

// freePort finds a port free for both UDP and TCP on 127.0.0.1.
func freePort() (int, error) {
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		pc.Close()
		if err != nil {
			continue
		}
		ln.Close()
		return port, nil
	}
	return 0, errors.New("no free port for UDP and TCP")
}

// Logs returns the servers' log files, for failure messages.
func (r *Resolver) Logs() string {
	var b strings.Builder
	for _, f := range []string{"nsd.out", "nsd.log", "unbound.out", "unbound.log"} {
		data, err := os.ReadFile(filepath.Join(r.Dir, f))
		if err != nil || len(data) == 0 {
			continue
		}
		if len(data) > 8<<10 {
			data = data[len(data)-8<<10:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", f, data)
	}
	return b.String()
}
