package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/smtptest"
)

// Polling bounds. They limit how long a helper looks for a peer to come up
// or for a file to appear on a loaded machine; no test asserts speed.
const (
	pollInterval = 50 * time.Millisecond
	pollLimit    = 600 // 30 s at most
	stopGrace    = 10 * time.Second
)

// pythonPath is Debian's interpreter, the one python3-aiosmtpd belongs to
// (a python3 found earlier on PATH may be another one without it).
const pythonPath = "/usr/bin/python3"

var peerCache struct {
	sync.Mutex
	m map[string]peerInfo
}

type peerInfo struct {
	path string // the program to run
	err  error  // why it cannot run here
}

// peerFinders know how to find each peer the scripts may ask for.
var peerFinders = map[string]func() (string, error){
	"smtp-sink":      func() (string, error) { return smtptest.LookProgram("smtp-sink") },
	"smtp-source":    func() (string, error) { return smtptest.LookProgram("smtp-source") },
	"posttls-finger": func() (string, error) { return smtptest.LookProgram("posttls-finger") },
	"postfix": func() (string, error) {
		if os.Geteuid() != 0 {
			return "", errors.New("a throwaway Postfix needs root (Postfix refuses to start otherwise)")
		}
		if _, err := smtptest.LookProgram("postconf"); err != nil {
			return "", err
		}
		dir, err := postconfDefault("daemon_directory")
		if err != nil {
			return "", err
		}
		for _, d := range []string{"master", "smtpd", "virtual", "postfix-script"} {
			if _, err := os.Stat(filepath.Join(dir, d)); err != nil {
				return "", fmt.Errorf("postfix daemon: %w", err)
			}
		}
		return smtptest.LookProgram("postfix")
	},
	"aiosmtpd": func() (string, error) {
		if _, err := os.Stat(pythonPath); err != nil {
			return "", err
		}
		out, err := exec.Command(pythonPath, "-c", "import aiosmtpd.controller").CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("%s cannot import aiosmtpd (install python3-aiosmtpd): %v: %s", pythonPath, err, strings.TrimSpace(string(out)))
		}
		return pythonPath, nil
	},
	"swaks":   func() (string, error) { return smtptest.LookProgram("swaks") },
	"msmtp":   func() (string, error) { return smtptest.LookProgram("msmtp") },
	"testssl": func() (string, error) { return smtptest.LookProgram("testssl") },
}

// findPeer returns the program to run for a peer, or why it cannot run.
func findPeer(name string) (string, error) {
	find, ok := peerFinders[name]
	if !ok {
		return "", fmt.Errorf("unknown peer %q", name)
	}
	peerCache.Lock()
	defer peerCache.Unlock()
	if peerCache.m == nil {
		peerCache.m = map[string]peerInfo{}
	}
	pi, ok := peerCache.m[name]
	if !ok {
		pi.path, pi.err = find()
		peerCache.m[name] = pi
	}
	return pi.path, pi.err
}

// scriptCondition implements [peer:NAME].
func scriptCondition(cond string) (bool, error) {
	name, ok := strings.CutPrefix(cond, "peer:")
	if !ok {
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	if _, known := peerFinders[name]; !known {
		return false, fmt.Errorf("unknown peer %q", name)
	}
	if _, err := findPeer(name); err != nil {
		if smtptest.RequirePeers() {
			return false, fmt.Errorf("peer %s is required (SMTPKIT_REQUIRE_PEERS=1) but cannot run: %v", name, err)
		}
		return false, nil
	}
	return true, nil
}

// needPeer skips a Go test when the peer is missing, or fails it when
// peers are required.
func needPeer(t *testing.T, name string) string {
	t.Helper()
	path, err := findPeer(name)
	if err != nil {
		if smtptest.RequirePeers() {
			t.Fatalf("peer %s is required (SMTPKIT_REQUIRE_PEERS=1) but cannot run: %v", name, err)
		}
		t.Skipf("%s not available: %v", name, err)
	}
	return path
}

func postconfDefault(param string) (string, error) {
	pc, err := smtptest.LookProgram("postconf")
	if err != nil {
		return "", err
	}
	out, err := exec.Command(pc, "-dh", param).Output()
	if err != nil {
		return "", fmt.Errorf("postconf -dh %s: %w", param, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// harness is what the peer helpers need from a script or a Go test: a
// directory of their own, a way to stop things at the end, and a log.
type harness struct {
	dir     string
	cleanup func(func())
	logf    func(format string, args ...any)
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before the peer binds it, so callers retry on failure.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// proc is a peer process running in a process group of its own, with its
// output in a log file (a file, not a pipe, so that grandchildren holding
// it open cannot keep Wait from returning).
//
// Cleanup normally stops it. In case the test binary dies without
// cleaning up (killed, or a -timeout panic), a guard stops it anyway: a
// small shell in a group of its own that reads a pipe only this process
// holds open, and kills the peer's group when the pipe reaches end of
// file. A normal stop disarms the guard first.
type proc struct {
	name  string
	cmd   *exec.Cmd
	log   string
	done  chan struct{}
	err   error
	once  sync.Once
	guard *exec.Cmd
	armed *os.File // the guard's pipe, write end
}

// startProc starts cmd in a new process group with its output in
// logPath. onDeath is shell code the guard runs before killing the group
// (for example `postfix stop`); it may be empty.
func startProc(name, logPath string, cmd *exec.Cmd, onDeath string) (*proc, error) {
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	if cmd.Stdout == nil {
		cmd.Stdout = lf
	}
	if cmd.Stderr == nil {
		cmd.Stderr = lf
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := p.startGuard(onDeath); err != nil {
		p.stop()
		return nil, fmt.Errorf("%s: guard: %w", name, err)
	}
	return p, nil
}

func (p *proc) startGuard(onDeath string) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	pgid := p.cmd.Process.Pid
	script := fmt.Sprintf("cat >/dev/null; %s kill -TERM -%d 2>/dev/null; sleep 5; kill -KILL -%d 2>/dev/null", onDeath, pgid, pgid)
	g := exec.Command("/bin/sh", "-c", script)
	g.Stdin = r
	g.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := g.Start(); err != nil {
		w.Close()
		return err
	}
	p.guard, p.armed = g, w
	return nil
}

// disarm stops the guard without letting it act.
func (p *proc) disarm() {
	if p.guard == nil {
		return
	}
	_ = syscall.Kill(-p.guard.Process.Pid, syscall.SIGKILL)
	_ = p.guard.Wait()
	p.armed.Close()
	p.guard = nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// logTail is the end of the process's log, for error messages.
func (p *proc) logTail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return strings.TrimSpace(string(b))
}

// stop ends the process group: SIGTERM, a bounded wait, then SIGKILL.
func (p *proc) stop() {
	p.once.Do(func() {
		p.disarm()
		pgid := p.cmd.Process.Pid
		if !p.exited() {
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(stopGrace):
			}
		}
		// Whatever is left in the group (children of a peer that
		// exited) goes too.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(stopGrace):
		}
	})
}

// poll calls cond up to pollLimit times, pollInterval apart, until it
// reports true or an error.
func poll(cond func() (bool, error)) error {
	for i := 0; i < pollLimit; i++ {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		time.Sleep(pollInterval)
	}
	return fmt.Errorf("still not so after %d polls %v apart", pollLimit, pollInterval)
}

// waitListening waits until addr accepts a connection while p runs.
func waitListening(p *proc, addr string) error {
	return poll(func() (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("%s exited (%v): %s", p.name, p.err, p.logTail())
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false, nil
		}
		c.Close()
		return true, nil
	})
}

// startPeer starts a peer on a free port, retrying with another port when
// it does not come up (the port may have been taken meanwhile). build
// returns the command for a port; ready waits for it; stop (nil for
// proc.stop) ends it, on failure or when the harness cleans up; onDeath
// is for the guard (see proc).
func startPeer(h harness, name string, build func(port int) (*exec.Cmd, error), ready func(p *proc, addr string) error, stop func(p *proc), onDeath string) (string, *proc, error) {
	if stop == nil {
		stop = (*proc).stop
	}
	var last error
	for attempt := 1; attempt <= 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return "", nil, err
		}
		cmd, err := build(port)
		if err != nil {
			return "", nil, err
		}
		logPath := filepath.Join(h.dir, fmt.Sprintf("%s-%d.log", name, port))
		p, err := startProc(name, logPath, cmd, onDeath)
		if err != nil {
			return "", nil, err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err := ready(p, addr); err != nil {
			stop(p)
			last = err
			h.logf("%s on %s did not come up (attempt %d): %v", name, addr, attempt, err)
			continue
		}
		h.cleanup(func() { stop(p) })
		return addr, p, nil
	}
	return "", nil, fmt.Errorf("%s: %w", name, last)
}

// openForPeers lets peers that drop privileges (to nobody, postfix)
// traverse the work directory and its parent, which the test framework
// creates with mode 0700. Only root runs such peers.
func openForPeers(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	for _, d := range []string{filepath.Dir(dir), dir} {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if err := os.Chmod(d, fi.Mode().Perm()|0o711); err != nil {
			return err
		}
	}
	return nil
}

// checkTraversable fails when an unprivileged peer could not reach dir.
func checkTraversable(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%s (mode %v) is not searchable by other users; peers that drop privileges cannot reach %s", d, fi.Mode().Perm(), dir)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// lookupIDs returns the numeric uid and gid of a system user.
func lookupIDs(name string) (int, int, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, err
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return 0, 0, err
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return 0, 0, err
	}
	return uid, gid, nil
}

// writeCert writes a self-signed ECDSA certificate for the names (DNS
// names, or IP addresses) and its key as PEM files in dir; the
// certificate is its own trust anchor, so certFile is also the CA file a
// client needs.
func writeCert(dir string, names ...string) (certFile, keyFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return "", "", err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: names[0], Organization: []string{"smtpkit tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(90 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// repoRoot is the directory holding go.mod (tests run in cmd/smtpkit).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
