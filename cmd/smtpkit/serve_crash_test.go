package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/smtp"
)

// buildSmtpkit builds the real smtpkit binary (CGO off) into a temporary
// directory of the test, for tests that kill it with SIGKILL or run it
// outside testscript.
func buildSmtpkit(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		if root := os.Getenv("GOROOT"); root != "" {
			goTool = filepath.Join(root, "bin", "go")
		}
	}
	if _, err := os.Stat(goTool); goTool == "" || err != nil {
		t.Skipf("skipped: no go tool to build smtpkit with: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "smtpkit")
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// servedBinary is a running `smtpkit serve` started by a Go test.
type servedBinary struct {
	p    *proc
	addr string // the first SMTP listener
	log  string
}

// startServeBinary runs `bin serve --listen 127.0.0.1:0 ARGS` in dir with
// a ready file, waits (bounded) until it listens, and stops it when the
// test ends. name tells the log files of several runs apart.
func startServeBinary(t *testing.T, bin, dir, name string, args ...string) *servedBinary {
	t.Helper()
	ready := filepath.Join(dir, name+".ready")
	logPath := filepath.Join(dir, name+".log")
	argv := append([]string{"serve", "--listen", "127.0.0.1:0", "--ready-file", ready}, args...)
	cmd := exec.Command(bin, argv...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	p, err := startProc("serve", logPath, cmd, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	var addr string
	err = poll(func() (bool, error) {
		if b, err := os.ReadFile(ready); err == nil && len(b) > 0 {
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				if a, ok := strings.CutPrefix(l, "smtp "); ok && addr == "" {
					addr = a
				}
			}
			return true, nil
		}
		if p.exited() {
			return false, fmt.Errorf("serve exited before it was ready (%v): %s", p.err, p.logTail())
		}
		return false, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if addr == "" {
		t.Fatalf("no smtp listener in %s", ready)
	}
	return &servedBinary{p: p, addr: addr, log: logPath}
}

// kill9 kills serve with SIGKILL and waits for it to be gone.
func (s *servedBinary) kill9(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(s.p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 serve: %v", err)
	}
	if err := poll(func() (bool, error) { return s.p.exited(), nil }); err != nil {
		t.Fatalf("serve survived SIGKILL: %v", err)
	}
	s.p.stop()
}

// stop ends serve with SIGTERM and checks that it exits 0.
func (s *servedBinary) stop(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(s.p.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM serve: %v", err)
	}
	err := poll(func() (bool, error) { return s.p.exited(), nil })
	s.p.stop()
	if err != nil {
		t.Fatalf("serve did not exit on SIGTERM: %v", err)
	}
	if s.p.err != nil {
		t.Fatalf("serve exited with %v, want 0:\n%s", s.p.err, s.p.logTail())
	}
}

// gone checks that the process group of p has no process left.
func gone(t *testing.T, p *proc) {
	t.Helper()
	if err := syscall.Kill(-p.cmd.Process.Pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("%s (process group %d) left processes behind: kill -0 says %v", p.name, p.cmd.Process.Pid, err)
	}
}

// crashMessage is one numbered message of the crash test: a unique token
// in the Subject, a body of lines derived from the token, and a last line
// with the SHA-256 of everything before it, so a truncated copy cannot
// pass for a whole one.
func crashMessage(token string, lines int) []byte {
	sum := sha256.Sum256([]byte(token))
	var body bytes.Buffer
	for i := 0; i < lines; i++ {
		h := sha256.Sum256([]byte(token + "/" + strconv.Itoa(i)))
		line := strings.Repeat(hex.EncodeToString(h[:]), 2)
		if i%5 == 0 {
			line = "." + line // dot-stuffing on the way, unstuffed on disk
		}
		body.WriteString(line + "\r\n")
	}
	bodySum := sha256.Sum256(body.Bytes())
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: <load@example.net>\r\nTo: <crash@example.com>\r\nSubject: %s\r\n", token)
	fmt.Fprintf(&b, "Message-ID: <%s@example.net>\r\nX-Token-SHA256: %s\r\n\r\n", token, hex.EncodeToString(sum[:]))
	b.Write(body.Bytes())
	fmt.Fprintf(&b, "END %d %s\r\n", lines, hex.EncodeToString(bodySum[:]))
	return b.Bytes()
}

// checkCrashMessage checks a delivered copy of a crashMessage and returns
// its token.
func checkCrashMessage(m *mail.Message, body []byte) (string, error) {
	token := m.Header.Get("Subject")
	sum := sha256.Sum256([]byte(token))
	if got := m.Header.Get("X-Token-SHA256"); got != hex.EncodeToString(sum[:]) {
		return "", fmt.Errorf("token %q: X-Token-SHA256 %q does not match", token, got)
	}
	i := bytes.LastIndex(body, []byte("END "))
	if i < 0 || !bytes.HasSuffix(body, []byte("\r\n")) {
		return "", fmt.Errorf("token %q: no END line: the body is cut short", token)
	}
	var lines int
	var want string
	if _, err := fmt.Sscanf(string(body[i:]), "END %d %s\r\n", &lines, &want); err != nil {
		return "", fmt.Errorf("token %q: bad END line %q", token, body[i:])
	}
	bodySum := sha256.Sum256(body[:i])
	if hex.EncodeToString(bodySum[:]) != want {
		return "", fmt.Errorf("token %q: body checksum mismatch", token)
	}
	// And byte for byte what was sent.
	_, sentBody, _ := bytes.Cut(crashMessage(token, lines), []byte("\r\n\r\n"))
	if !bytes.Equal(body, sentBody) {
		return "", fmt.Errorf("token %q: the body differs from what was sent", token)
	}
	return token, nil
}

// TestServeCrash kills serve with SIGKILL at random moments under load and
// restarts it on the same maildir. Afterwards every message that got its
// 250 is in new/ exactly once and whole; nothing in new/ is partial,
// unparseable or there twice (tmp/ may hold leftovers: maildir readers
// ignore it).
func TestServeCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: builds smtpkit and runs a load for several seconds")
	}
	bin := buildSmtpkit(t)
	dir := t.TempDir()
	md := filepath.Join(dir, "maildir")
	args := []string{"--maildir", md, "--hostname", "crash.test", "--max-per-ip", "200", "--grace", "5s"}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("kill moments from seed %d", seed)

	run := 0
	srv := startServeBinary(t, bin, dir, "serve-0", args...)
	var addr atomic.Value
	addr.Store(srv.addr)

	var (
		mu      sync.Mutex
		acked   = map[string]bool{} // tokens that got 250
		sent    atomic.Int64        // transactions attempted
		ackN    atomic.Int64
		stop    = make(chan struct{})
		wg      sync.WaitGroup
		workers = 12
	)
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			seq := 0
			for {
				select {
				case <-stop:
					return
				default:
				}
				conn, err := net.DialTimeout("tcp", addr.Load().(string), 2*time.Second)
				if err != nil {
					time.Sleep(20 * time.Millisecond) // serve is down: wait for the restart
					continue
				}
				c := smtp.NewClient(conn, smtp.ClientOptions{Timeouts: smtp.Uniform(10 * time.Second)})
				ok := func() bool {
					if _, err := c.Greeting(); err != nil {
						return false
					}
					if _, err := c.Hello("load.test"); err != nil {
						return false
					}
					return true
				}()
				for ok {
					select {
					case <-stop:
						ok = false
						continue
					default:
					}
					seq++
					token := fmt.Sprintf("crash-w%02d-n%06d", w, seq)
					// Sizes from 1 KiB to about 400 KiB, so kills land in
					// the middle of writes too.
					lines := 8 + rng2(w, seq)%3000
					sent.Add(1)
					res, err := c.Send(&smtp.Transaction{
						From:       "load@example.net",
						Rcpts:      []smtp.Recipient{{Addr: "crash@example.com"}},
						Body:       bytes.NewReader(crashMessage(token, lines)),
						Pipelining: true,
						Chunking:   seq%2 == 0,
					})
					if err != nil {
						ok = false
						continue
					}
					if res.Data != nil && res.Data.Code == 250 {
						mu.Lock()
						acked[token] = true
						mu.Unlock()
						ackN.Add(1)
					}
				}
				c.Close()
			}
		})
	}
	stopLoad := func() {
		close(stop)
		wg.Wait()
	}
	defer func() {
		select {
		case <-stop:
		default:
			stopLoad()
		}
	}()

	// Extra load from smtp-source when it is here (its messages are
	// checked for being whole too); optional.
	var loadProcs []*proc
	source, srcErr := findPeer("smtp-source")
	startSource := func(round int) {
		if srcErr != nil {
			return
		}
		cmd := exec.Command(source, "-s", "4", "-m", "200", "-l", "4096", "-f", "source@example.net", "-t", "crash@example.com", addr.Load().(string))
		p, err := startProc("smtp-source", filepath.Join(dir, fmt.Sprintf("smtp-source-%d.log", round)), cmd, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.stop)
		loadProcs = append(loadProcs, p)
	}
	if srcErr != nil {
		t.Logf("smtp-source not available, running without it: %v", srcErr)
	}

	const rounds = 5
	var serves []*proc
	for round := 1; round <= rounds; round++ {
		startSource(round)
		// Some progress on this server first, so the kill lands under load.
		base := ackN.Load()
		if err := poll(func() (bool, error) { return ackN.Load() >= base+5, nil }); err != nil {
			t.Fatalf("round %d: no messages accepted: %v\n%s", round, err, srv.p.logTail())
		}
		d := 200*time.Millisecond + time.Duration(rng.Int64N(int64(800*time.Millisecond)))
		time.Sleep(d)
		before := ackN.Load()
		srv.kill9(t)
		t.Logf("round %d: killed serve with SIGKILL %v after some progress; %d acknowledged so far, %d attempted", round, d, before, sent.Load())
		serves = append(serves, srv.p)
		run++
		srv = startServeBinary(t, bin, dir, fmt.Sprintf("serve-%d", run), args...)
		addr.Store(srv.addr)
	}
	// A last stretch on the restarted server, then a clean stop.
	base := ackN.Load()
	if err := poll(func() (bool, error) { return ackN.Load() >= base+5, nil }); err != nil {
		t.Fatalf("after the last restart: no messages accepted: %v", err)
	}
	stopLoad()
	for _, p := range loadProcs {
		p.stop()
	}
	srv.stop(t)
	serves = append(serves, srv.p)
	for _, p := range append(serves, loadProcs...) {
		gone(t, p)
	}

	// Every file in new/ is whole; no token is there twice.
	seen := map[string]int{}
	sourceBodies := map[int]int{}
	_, err := checkMaildir(md, func(name string, m *mail.Message, body []byte) error {
		if strings.Contains(m.Header.Get("From"), "source@example.net") {
			sourceBodies[len(body)]++
			return nil
		}
		token, err := checkCrashMessage(m, body)
		if err != nil {
			return err
		}
		seen[token]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for token, c := range seen {
		if c != 1 {
			t.Errorf("%s is in new/ %d times", token, c)
		}
	}
	missing := 0
	for token := range acked {
		if seen[token] == 0 {
			missing++
			if missing <= 10 {
				t.Errorf("%s got 250 but is not in new/", token)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged messages are missing", missing, len(acked))
	}
	// smtp-source's messages all have the same body: a cut one would not.
	if len(sourceBodies) > 1 {
		t.Errorf("smtp-source messages of different body sizes (a partial one?): %v", sourceBodies)
	}
	tmp, _ := maildirFiles(filepath.Join(md, "tmp"))
	nsource := 0
	for _, c := range sourceBodies {
		nsource += c
	}
	t.Logf("%d attempted, %d acknowledged; new/ holds %d of ours (the extra ones were on disk when a kill took their 250 away) and %d from smtp-source; %d files left in tmp/",
		sent.Load(), len(acked), len(seen), nsource, len(tmp))
	if len(acked) == 0 {
		t.Fatal("no message was acknowledged: the test checked nothing")
	}
}

// rng2 is a cheap deterministic spread of sizes per worker and message.
func rng2(w, seq int) int {
	h := sha256.Sum256([]byte(fmt.Sprint(w, "/", seq)))
	return int(h[0])<<8 | int(h[1])
}
