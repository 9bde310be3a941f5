// Command loadgen is the client side of scripts/load/run.sh: hostile slow
// clients, and a well-behaved probe that times one full transaction a
// second while sampling the server's memory.
//
//	loadgen slow  -addr HOST:PORT -duration 60s [-idle N -drip N -dripdata N -rcpt N -reset N -headers N -longline N]
//	    [-cmd-timeout D -data-timeout D]
//	loadgen probe -addr HOST:PORT -duration 60s -pid PID [-max-latency 1s] [-n N]
//
// slow keeps each population of clients connected for -duration,
// reconnecting whenever the server drops one:
//
//	idle      reads the greeting, then sends nothing
//	drip      one byte a second of a command line that never ends
//	dripdata  a transaction, then one byte a second of message content
//	rcpt      a transaction, then RCPT after RCPT (20 a second), forever
//	reset     a transaction, then RSET, MAIL, RCPT over and over (20
//	          commands a second), never a message
//	headers   a transaction, then one header folded over ever more
//	          900-octet continuation lines (50 a second)
//	longline  a transaction, then one header line that never ends (45 KB/s)
//
// None of them ever finishes, so every session must end by one of the
// server's limits: the command timeout (-cmd-timeout, serve's --timeout),
// the data timeout (-data-timeout) or the no-progress limit. slow prints
// one line per population: connections made, how the server ended them
// (its last reply, or "closed" without one), and the longest any
// connection lived. It fails when a connection outlived its bound (the
// timeout that applies plus 5 s of slack for a loaded machine) or when a
// population that must have been cut off during the run never was.
//
// probe dials, then EHLO, MAIL, RCPT, DATA (1 KiB), QUIT, once a second for
// -duration (or -n times), from its own source address; each
// transaction's time from dial to the 221 is its latency. Meanwhile it
// samples VmRSS of -pid every 200 ms. It prints the probe count, failures,
// latency median/p99/max and peak RSS, and fails when a transaction failed
// or took longer than -max-latency.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen slow|probe [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "slow":
		err = runSlow(os.Args[2:])
	case "probe":
		err = runProbe(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q (want slow or probe)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// slack is how much longer than its bound a connection may live on a
// loaded machine (accepting late, a deadline checked after a write).
const slack = 5 * time.Second

// dropMargin: a run this much longer than a population's bound must have
// seen the server cut one of them off.
const dropMargin = 2 * time.Second

// reply is one SMTP reply: its code, enhanced code and first line.
type reply struct {
	code int
	text string
}

func (r reply) String() string { return fmt.Sprintf("%d %s", r.code, r.text) }

// key is what the outcome tally counts: "421 4.4.2 timeout" for example.
func (r reply) key() string {
	k := strconv.Itoa(r.code)
	f := strings.Fields(r.text)
	if len(f) > 0 && strings.Count(f[0], ".") == 2 {
		k += " " + f[0]
	}
	lower := strings.ToLower(r.text)
	for _, w := range []struct{ sub, tag string }{
		{"timeout", "timeout"}, {"without progress", "no-progress"}, {"too many errors", "errors"},
		{"too many connections", "connection-limit"}, {"size", "size"}, {"longer than", "line-length"},
	} {
		if strings.Contains(lower, w.sub) {
			return k + " " + w.tag
		}
	}
	return k
}

// readReply reads one (possibly multi-line) reply.
func readReply(br *bufio.Reader) (reply, error) {
	var r reply
	for i := 0; i < 100; i++ {
		line, err := br.ReadString('\n')
		if err != nil {
			return r, err
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 3 {
			return r, fmt.Errorf("malformed reply %q", line)
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil {
			return r, fmt.Errorf("malformed reply %q", line)
		}
		if i == 0 {
			r = reply{code: code, text: strings.TrimSpace(line[min(4, len(line)):])}
		}
		if len(line) == 3 || line[3] == ' ' {
			return r, nil
		}
	}
	return r, errors.New("reply longer than 100 lines")
}

// ---- slow clients ----

type population struct {
	name  string
	n     int
	bound time.Duration // the longest a connection may live
	// mustDrop: the run is long enough that the server must have cut
	// off at least one of these.
	mustDrop bool
	run      func(s *slowConn) error
}

type tally struct {
	mu       sync.Mutex
	conns    int
	dialErrs int
	outcomes map[string]int // how the server ended connections
	atEnd    int            // still open when the run ended, closed by us
	longest  time.Duration
	over     int // connections that outlived the bound
}

func (t *tally) add(outcome string, atEnd bool, lived, bound time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.conns++
	if atEnd {
		t.atEnd++
	} else {
		t.outcomes[outcome]++
	}
	t.longest = max(t.longest, lived)
	if lived > bound+slack {
		t.over++
	}
}

// slowConn is one slow client's connection: replies arrive on a channel
// read by its own goroutine, so a client that writes can still see the
// server's last word.
type slowConn struct {
	nc      net.Conn
	replies chan reply
	last    reply
	stop    chan struct{}
}

// errRunEnd: the run is over; the client closes the connection itself.
var errRunEnd = errors.New("run ended")

// await waits for the next reply; it fails when the server closes the
// connection or the run ends.
func (s *slowConn) await() (reply, error) {
	select {
	case r, ok := <-s.replies:
		if !ok {
			return reply{}, io.EOF
		}
		s.last = r
		return r, nil
	case <-s.stop:
		return reply{}, errRunEnd
	}
}

// expect waits for a reply with the given code.
func (s *slowConn) expect(code int) error {
	r, err := s.await()
	if err != nil {
		return err
	}
	if r.code != code {
		return fmt.Errorf("unexpected reply %s", r)
	}
	return nil
}

// cmd sends a line and waits for the reply with the given code.
func (s *slowConn) cmd(line string, code int) error {
	if _, err := io.WriteString(s.nc, line+"\r\n"); err != nil {
		return err
	}
	return s.expect(code)
}

// pace writes chunk every interval until the server closes the connection
// or the run ends.
func (s *slowConn) pace(interval time.Duration, chunk func(i int) string) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for i := 0; ; i++ {
		if _, err := io.WriteString(s.nc, chunk(i)); err != nil {
			// The server closed: collect its last reply.
			_, rerr := s.await()
			for rerr == nil {
				_, rerr = s.await()
			}
			return rerr
		}
		// Replies are collected while waiting for the next tick; they
		// never speed the client up.
	wait:
		for {
			select {
			case r, ok := <-s.replies:
				if !ok {
					return io.EOF
				}
				s.last = r
			case <-t.C:
				break wait
			case <-s.stop:
				return errRunEnd
			}
		}
	}
}

// transaction opens a transaction up to DATA's 354 (or up to RCPT).
func (s *slowConn) transaction(data bool) error {
	if err := s.expect(220); err != nil {
		return err
	}
	if err := s.cmd("EHLO slow.load.test", 250); err != nil {
		return err
	}
	if err := s.cmd("MAIL FROM:<slow@load.test>", 250); err != nil {
		return err
	}
	if err := s.cmd("RCPT TO:<sink@load.test>", 250); err != nil {
		return err
	}
	if data {
		return s.cmd("DATA", 354)
	}
	return nil
}

func runSlow(args []string) error {
	fs := flag.NewFlagSet("slow", flag.ExitOnError)
	addr := fs.String("addr", "", "server HOST:PORT")
	src := fs.String("src", "127.0.0.3", "local address to connect from")
	duration := fs.Duration("duration", 60*time.Second, "how long to keep the slow clients up")
	cmdTimeout := fs.Duration("cmd-timeout", 5*time.Minute, "the server's command timeout (serve --timeout)")
	dataTimeout := fs.Duration("data-timeout", 10*time.Minute, "the server's data timeout (serve --data-timeout)")
	n := map[string]*int{}
	for name, def := range map[string]int{"idle": 200, "drip": 50, "dripdata": 50, "rcpt": 50, "reset": 50, "headers": 50, "longline": 50} {
		n[name] = fs.Int(name, def, "clients of the "+name+" kind")
	}
	_ = fs.Parse(args)
	if *addr == "" {
		return errors.New("slow: -addr is required")
	}
	// A transaction up to DATA takes a few round trips; allow one
	// command timeout for them on top of the data timeout.
	inData := *cmdTimeout + *dataTimeout
	filler := strings.Repeat("h", 900)
	pops := []population{
		{name: "idle", n: *n["idle"], bound: *cmdTimeout, mustDrop: *duration > *cmdTimeout+dropMargin,
			run: func(s *slowConn) error {
				if err := s.expect(220); err != nil {
					return err
				}
				_, err := s.await()
				for err == nil {
					_, err = s.await()
				}
				return err
			}},
		{name: "drip", n: *n["drip"], bound: *cmdTimeout, mustDrop: *duration > *cmdTimeout+dropMargin,
			run: func(s *slowConn) error {
				if err := s.expect(220); err != nil {
					return err
				}
				return s.pace(time.Second, func(i int) string {
					if i < 5 {
						return "EHLO "[i : i+1]
					}
					return "x"
				})
			}},
		{name: "dripdata", n: *n["dripdata"], bound: inData, mustDrop: *duration > inData+dropMargin,
			run: func(s *slowConn) error {
				if err := s.transaction(true); err != nil {
					return err
				}
				return s.pace(time.Second, func(i int) string {
					if i%60 == 59 {
						return "\r\n"
					}
					return "d"
				})
			}},
		// 99 more recipients, 20 over the limit, then 421: about 6 s at
		// 20 a second with serve's default limits.
		{name: "rcpt", n: *n["rcpt"], bound: 8 * time.Second, mustDrop: *duration > 8*time.Second+dropMargin,
			run: func(s *slowConn) error {
				if err := s.transaction(false); err != nil {
					return err
				}
				return s.pace(50*time.Millisecond, func(i int) string {
					return fmt.Sprintf("RCPT TO:<r%d@load.test>\r\n", i)
				})
			}},
		// Transactions abandoned forever: only a message is progress, so
		// the 21st RSET gets 421 with serve's default limits (about 3 s).
		{name: "reset", n: *n["reset"], bound: 8 * time.Second, mustDrop: *duration > 8*time.Second+dropMargin,
			run: func(s *slowConn) error {
				if err := s.transaction(false); err != nil {
					return err
				}
				return s.pace(50*time.Millisecond, func(i int) string {
					switch i % 3 {
					case 0:
						return "RSET\r\n"
					case 1:
						return "MAIL FROM:<slow@load.test>\r\n"
					}
					return "RCPT TO:<sink@load.test>\r\n"
				})
			}},
		{name: "headers", n: *n["headers"], bound: inData, mustDrop: *duration > inData+dropMargin,
			run: func(s *slowConn) error {
				if err := s.transaction(true); err != nil {
					return err
				}
				return s.pace(20*time.Millisecond, func(i int) string {
					if i == 0 {
						return "Subject: huge headers\r\nX-Huge: start\r\n"
					}
					return "\t" + filler + "\r\n"
				})
			}},
		{name: "longline", n: *n["longline"], bound: inData, mustDrop: *duration > inData+dropMargin,
			run: func(s *slowConn) error {
				if err := s.transaction(true); err != nil {
					return err
				}
				return s.pace(20*time.Millisecond, func(i int) string {
					if i == 0 {
						return "X-Long: "
					}
					return filler
				})
			}},
	}
	laddr, err := net.ResolveTCPAddr("tcp", net.JoinHostPort(*src, "0"))
	if err != nil {
		return err
	}
	dialer := net.Dialer{LocalAddr: laddr, Timeout: 10 * time.Second}
	end := time.Now().Add(*duration)
	stop := make(chan struct{})
	time.AfterFunc(*duration, func() { close(stop) })
	tallies := make([]*tally, len(pops))
	var wg sync.WaitGroup
	for i, p := range pops {
		t := &tally{outcomes: map[string]int{}}
		tallies[i] = t
		for w := 0; w < p.n; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				slowWorker(&dialer, *addr, p, t, end, stop)
			}()
		}
	}
	wg.Wait()
	var failures []string
	for i, p := range pops {
		t := tallies[i]
		var outs []string
		dropped := 0
		for k, v := range t.outcomes {
			outs = append(outs, fmt.Sprintf("%s x%d", k, v))
			dropped += v
		}
		sort.Strings(outs)
		fmt.Printf("slow %-8s clients=%d connections=%d dial_errors=%d ended_by_server=[%s] open_at_end=%d longest=%.1fs bound=%.0fs\n",
			p.name, p.n, t.conns, t.dialErrs, strings.Join(outs, ", "), t.atEnd, t.longest.Seconds(), (p.bound + slack).Seconds())
		if p.n == 0 {
			continue
		}
		if t.over > 0 {
			failures = append(failures, fmt.Sprintf("%s: %d connections outlived %v", p.name, t.over, p.bound+slack))
		}
		if p.mustDrop && dropped == 0 {
			failures = append(failures, fmt.Sprintf("%s: the server never cut one off", p.name))
		}
	}
	if len(failures) > 0 {
		return errors.New("slow: " + strings.Join(failures, "; "))
	}
	return nil
}

// slowWorker keeps one client of population p connected until the run
// ends, reconnecting after each drop (bounded: at most one connection per
// 100 ms).
func slowWorker(d *net.Dialer, addr string, p population, t *tally, end time.Time, stop chan struct{}) {
	for time.Now().Before(end) {
		started := time.Now()
		nc, err := d.Dial("tcp", addr)
		if err != nil {
			t.mu.Lock()
			t.dialErrs++
			t.mu.Unlock()
		} else {
			s := &slowConn{nc: nc, replies: make(chan reply, 16), stop: stop}
			go func() {
				defer close(s.replies)
				br := bufio.NewReader(nc)
				for {
					r, err := readReply(br)
					if err != nil {
						return
					}
					s.replies <- r
				}
			}()
			err := p.run(s)
			nc.Close()
			for range s.replies { // let the reader finish
			}
			lived := time.Since(started)
			switch {
			case errors.Is(err, errRunEnd):
				t.add("", true, lived, p.bound)
			case s.last.code >= 400:
				t.add(s.last.key(), false, lived, p.bound)
			default:
				t.add("closed", false, lived, p.bound)
			}
		}
		if wait := 100*time.Millisecond - time.Since(started); wait > 0 {
			select {
			case <-time.After(wait):
			case <-stop:
				return
			}
		}
	}
}

// ---- probe ----

func runProbe(args []string) error {
	fs := flag.NewFlagSet("probe", flag.ExitOnError)
	addr := fs.String("addr", "", "server HOST:PORT")
	src := fs.String("src", "127.0.0.2", "local address to connect from")
	duration := fs.Duration("duration", 60*time.Second, "how long to probe (one transaction a second)")
	count := fs.Int("n", 0, "probe this many times instead (no RSS sampling unless -pid)")
	pid := fs.Int("pid", 0, "sample this process's VmRSS")
	maxLatency := fs.Duration("max-latency", time.Second, "fail when a transaction takes longer")
	_ = fs.Parse(args)
	if *addr == "" {
		return errors.New("probe: -addr is required")
	}
	laddr, err := net.ResolveTCPAddr("tcp", net.JoinHostPort(*src, "0"))
	if err != nil {
		return err
	}
	dialer := net.Dialer{LocalAddr: laddr, Timeout: 10 * time.Second}

	var (
		rssMu   sync.Mutex
		rssPeak int64
		rssErr  error
	)
	done := make(chan struct{})
	var sampler sync.WaitGroup
	if *pid > 0 {
		sampler.Add(1)
		go func() {
			defer sampler.Done()
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				kb, err := vmRSS(*pid)
				rssMu.Lock()
				if err != nil {
					rssErr = err
				} else {
					rssPeak = max(rssPeak, kb)
				}
				rssMu.Unlock()
				select {
				case <-t.C:
				case <-done:
					return
				}
			}
		}()
	}

	body := "From: probe@load.test\r\nTo: probe@load.test\r\nSubject: probe\r\n\r\n" + strings.Repeat(strings.Repeat("p", 62)+"\r\n", 16)
	var lat []time.Duration
	var failures []string
	var slowest time.Duration
	var slowSteps []time.Duration
	start := time.Now()
	for i := 0; ; i++ {
		if *count > 0 && i >= *count {
			break
		}
		if *count == 0 && time.Since(start) >= *duration {
			break
		}
		next := start.Add(time.Duration(i+1) * time.Second)
		d, steps, err := probeOnce(&dialer, *addr, body)
		if err != nil {
			failures = append(failures, fmt.Sprintf("probe %d: %v", i+1, err))
		} else {
			lat = append(lat, d)
			if d >= slowest {
				slowest, slowSteps = d, steps
			}
		}
		if *count > 0 && i+1 >= *count {
			break
		}
		if wait := time.Until(next); wait > 0 {
			time.Sleep(wait)
		}
	}
	close(done)
	sampler.Wait()

	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pick := func(q float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(q*float64(len(lat))))]
	}
	maxLat := pick(1)
	fmt.Printf("probe transactions=%d failed=%d latency_ms median=%.1f p99=%.1f max=%.1f",
		len(lat)+len(failures), len(failures), ms(pick(0.5)), ms(pick(0.99)), ms(maxLat))
	if *pid > 0 {
		fmt.Printf(" rss_peak_kib=%d", rssPeak)
	}
	fmt.Println()
	if slowSteps != nil {
		var parts []string
		for i, d := range slowSteps {
			parts = append(parts, fmt.Sprintf("%s=%.0f", probeSteps[i], ms(d)))
		}
		fmt.Printf("probe slowest_ms %s\n", strings.Join(parts, " "))
	}
	for _, f := range failures {
		fmt.Fprintln(os.Stderr, f)
	}
	switch {
	case rssErr != nil && rssPeak == 0:
		return fmt.Errorf("probe: reading RSS: %w", rssErr)
	case len(failures) > 0:
		return fmt.Errorf("probe: %d of %d transactions failed", len(failures), len(lat)+len(failures))
	case maxLat > *maxLatency:
		return fmt.Errorf("probe: max latency %v over %v", maxLat.Round(time.Millisecond), *maxLatency)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// probeSteps names the steps of a probe transaction, as timed.
var probeSteps = []string{"dial", "greeting", "EHLO", "MAIL", "RCPT", "DATA", "dot", "QUIT"}

// probeOnce runs one full transaction and returns the time from dial to
// the reply to QUIT, and each step's share (see probeSteps).
func probeOnce(d *net.Dialer, addr, body string) (time.Duration, []time.Duration, error) {
	t0 := time.Now()
	steps := make([]time.Duration, 0, len(probeSteps))
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return 0, nil, err
	}
	steps = append(steps, time.Since(t0))
	defer nc.Close()
	// A hung server shows as a failure after 10 s, not a hang.
	_ = nc.SetDeadline(t0.Add(10 * time.Second))
	br := bufio.NewReader(nc)
	step := func(line string, code int) error {
		ts := time.Now()
		defer func() { steps = append(steps, time.Since(ts)) }()
		if line != "" {
			if _, err := io.WriteString(nc, line); err != nil {
				return err
			}
		}
		r, err := readReply(br)
		if err != nil {
			return err
		}
		if r.code != code {
			return fmt.Errorf("after %q: %s", strings.TrimSpace(line), r)
		}
		return nil
	}
	for _, s := range []struct {
		line string
		code int
	}{
		{"", 220},
		{"EHLO probe.load.test\r\n", 250},
		{"MAIL FROM:<probe@load.test>\r\n", 250},
		{"RCPT TO:<probe@load.test>\r\n", 250},
		{"DATA\r\n", 354},
		{body + ".\r\n", 250},
		{"QUIT\r\n", 221},
	} {
		if err := step(s.line, s.code); err != nil {
			return 0, nil, err
		}
	}
	return time.Since(t0), steps, nil
}

// vmRSS reads a process's resident set size in KiB from /proc.
func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, errors.New("no VmRSS line")
}
