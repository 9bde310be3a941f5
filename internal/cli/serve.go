package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/smtpkit/smtpkit/internal/config"
	"github.com/smtpkit/smtpkit/internal/maildir"
	"github.com/smtpkit/smtpkit/internal/mda"
	"github.com/smtpkit/smtpkit/internal/smtp"
)

// ServeOptions are the flags of `smtpkit serve`.
type ServeOptions struct {
	Listen    []string
	ListenTLS []string
	LMTP      []string
	Hostname  string

	TLSCert       string
	TLSKey        string
	TLSSelfSigned bool
	RequireTLS    bool

	AuthUsers          string
	RequireAuth        bool
	AllowPlaintextAuth bool

	Domains   []string
	Mailboxes []string
	Users     string
	CatchAll  bool
	Maildir   string
	Separator string

	Sink        bool
	Replies     []string
	Delays      []string
	MaxMessages int

	LogFormat string
	Grace     time.Duration
	ReadyFile string

	MaxSize        string
	MaxRecipients  int
	MaxConnections int
	MaxPerIP       int
	GreetDelay     time.Duration
	DataTimeout    time.Duration
	NoPipelining   bool
	NoChunking     bool
	AuthDelay      time.Duration
}

func newServeCmd(g *globals) *cobra.Command {
	o := &ServeOptions{}
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Receive mail over SMTP or LMTP into maildir",
		Long: `Receive mail over SMTP (and LMTP) and deliver it durably into maildir: a message
is acknowledged with 250 only once every recipient's copy is on disk (written to
tmp/, fsynced, linked into new/, new/ fsynced). A full disk answers 452 4.3.1.

Without --domain every recipient is accepted into --maildir (a test server);
with --domain only those domains are accepted, and recipients map to maildirs
with --mailbox ADDR=DIR or --users FILE ("ADDRESS DIR" per line). serve never
relays: a recipient that routes elsewhere (user%other@, other!user@, an "@"
in the local part) is refused with 550 5.7.1, with or without --domain.
"+detail" is stripped when looking up a mailbox.

AUTH guessing slows down and stops: a failure is answered after --auth-delay,
doubled for each earlier failure from the client's address (an IPv6 /64) up
to 30s; the third failure on a connection closes it (421 4.7.0), and after 10
failures from one address within 15 minutes AUTH from it gets 421 4.7.0 until
15 minutes pass without one. A serve with --auth-users writes no core file.

Testing aids: --sink accepts and discards; --reply STAGE=CODE[:TEXT] and
--delay STAGE=DURATION inject faults at connect, ehlo, mail, rcpt, data or dot;
--max-messages N exits after N messages (a session that says QUIT within a
second after its last one still gets 221; the rest get 421).

SIGINT or SIGTERM stops accepting, lets transactions inside DATA finish within
--grace, answers 421 to the rest and exits 0. SIGUSR1 logs one "stats" line:
open sessions, goroutines, messages accepted.

Timeouts: --timeout bounds each command (default 5m, RFC 5321 4.5.3.2.7) and
--data-timeout the whole DATA or BDAT content, however slowly it trickles in.
A session that makes no progress ends with 421 4.7.0: after 20 commands that
move nothing forward (NOOP, RSET, VRFY, HELP, a recipient over --max-recipients
or refused for now) or 10 bad commands; only an accepted message resets both
counts, as in Postfix's smtpd.

Log lines go to stderr (--log-format text|json).

EXIT STATUS
  0 stopped by a signal or --max-messages; 64 usage; 66 unreadable --users or
  --auth-users file; 73 cannot create a maildir; 75 cannot listen (address in
  use); 78 configuration error (bad certificate, bad users file).`,
		Example: `  smtpkit serve                                   # 127.0.0.1:2525 into ./maildir
  smtpkit serve --listen 127.0.0.1:2525 --tls-self-signed --maildir /tmp/mail
  smtpkit serve --sink --reply 'rcpt=450:4.2.0 try later' --max-messages 10
  smtpkit serve --listen 0.0.0.0:587 --tls-cert c.pem --tls-key k.pem --auth-users users.htpasswd \
      --require-auth --domain example.com --mailbox alice@example.com=/srv/mail/alice
  smtpkit serve --lmtp unix:/run/smtpkit.lmtp --domain example.com --users users.map`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.Listen, "listen", nil, "listen for SMTP on ADDR (repeatable; default 127.0.0.1:2525)")
	f.StringArrayVar(&o.ListenTLS, "listen-tls", nil, "listen for SMTP with implicit TLS on ADDR (repeatable)")
	f.StringArrayVar(&o.LMTP, "lmtp", nil, "listen for LMTP on ADDR or unix:/path (repeatable)")
	f.StringVar(&o.Hostname, "hostname", "", "name in the greeting and Received headers: a domain or an address literal (default: this host's name)")
	f.StringVar(&o.TLSCert, "tls-cert", "", "PEM certificate (chain) for STARTTLS and --listen-tls")
	f.StringVar(&o.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	f.BoolVar(&o.TLSSelfSigned, "tls-self-signed", false, "generate a throwaway certificate for --hostname (fingerprint printed)")
	f.BoolVar(&o.RequireTLS, "require-tls", false, "refuse MAIL before STARTTLS (530 5.7.0)")
	f.StringVar(&o.AuthUsers, "auth-users", "", "htpasswd-style FILE of user:bcrypt-hash lines; enables AUTH PLAIN and LOGIN")
	f.BoolVar(&o.RequireAuth, "require-auth", false, "refuse MAIL before AUTH (a submission port)")
	f.BoolVar(&o.AllowPlaintextAuth, "allow-plaintext-auth", false, "offer AUTH on connections without TLS")
	f.StringArrayVar(&o.Domains, "domain", nil, "accept mail only for domain D (repeatable); others get 550 5.7.1")
	f.StringArrayVar(&o.Mailboxes, "mailbox", nil, "deliver ADDR (or @domain) to maildir DIR: ADDR=DIR (repeatable)")
	f.StringVar(&o.Users, "users", "", "FILE of \"ADDRESS DIR\" lines mapping recipients to maildirs")
	f.BoolVar(&o.CatchAll, "catch-all", false, "with --domain, deliver unknown recipients of those domains to --maildir")
	f.StringVar(&o.Maildir, "maildir", "maildir", "default maildir")
	f.StringVar(&o.Separator, "detail-separator", "+", "subaddress separator stripped for mailbox lookup (\"\" to turn off)")
	f.BoolVar(&o.Sink, "sink", false, "accept and discard messages; write nothing to disk")
	f.StringArrayVar(&o.Replies, "reply", nil, "inject a reply: STAGE=CODE[:TEXT] with STAGE connect, ehlo, mail, rcpt, data or dot (repeatable)")
	f.StringArrayVar(&o.Delays, "delay", nil, "delay a stage: STAGE=DURATION (repeatable)")
	f.IntVar(&o.MaxMessages, "max-messages", 0, "exit 0 after accepting N messages")
	f.StringVar(&o.LogFormat, "log-format", "text", "log format on stderr: text or json")
	f.DurationVar(&o.Grace, "grace", 10*time.Second, "on SIGINT/SIGTERM, time for transactions in DATA to finish")
	f.StringVar(&o.ReadyFile, "ready-file", "", "write the listening addresses to FILE once ready (for scripts)")
	f.StringVar(&o.MaxSize, "max-size", "64M", "largest message accepted (SIZE), with K, M or G suffix")
	f.IntVar(&o.MaxRecipients, "max-recipients", 100, "recipients per message")
	f.IntVar(&o.MaxConnections, "max-connections", 200, "simultaneous connections")
	f.IntVar(&o.MaxPerIP, "max-per-ip", 50, "simultaneous connections per client IP")
	f.DurationVar(&o.GreetDelay, "greet-delay", 0, "wait before the greeting and refuse clients that talk first")
	f.DurationVar(&o.DataTimeout, "data-timeout", 10*time.Minute, "time for the whole content of one DATA or BDAT transaction")
	f.BoolVar(&o.NoPipelining, "no-pipelining", false, "do not offer PIPELINING (and refuse clients that pipeline)")
	f.BoolVar(&o.NoChunking, "no-chunking", false, "do not offer CHUNKING/BDAT")
	f.DurationVar(&o.AuthDelay, "auth-delay", time.Second, "delay after a failed AUTH, doubling with each failure from the address (0: none)")
	_ = cmd.RegisterFlagCompletionFunc("log-format", fixedCompletion("text", "json"))
	return cmd
}

func runServe(ctx context.Context, g *globals, o *ServeOptions) error {
	if len(o.Listen)+len(o.ListenTLS)+len(o.LMTP) == 0 {
		o.Listen = []string{"127.0.0.1:2525"}
	}
	if o.Hostname == "" {
		o.Hostname = g.hostname()
	} else if err := checkHostName("hostname", o.Hostname); err != nil {
		return err
	}
	if err := oneOf("log-format", o.LogFormat, "text", "json"); err != nil {
		return err
	}
	level := slog.LevelInfo
	if g.quiet {
		level = slog.LevelWarn
	}
	log := newServeLogger(g.env.Stderr, o.LogFormat, level)
	maxSize, err := parseSize(o.MaxSize)
	if err != nil {
		return usageErrorf("--max-size %q: %v", o.MaxSize, err)
	}
	hook, err := parseHooks(o.Replies, o.Delays)
	if err != nil {
		return err
	}
	policy, err := o.policy()
	if err != nil {
		return err
	}
	tlsCfg, err := o.tlsConfig(g, log)
	if err != nil {
		return err
	}
	if len(o.ListenTLS) > 0 && tlsCfg == nil {
		return usageErrorf("--listen-tls needs --tls-cert/--tls-key or --tls-self-signed")
	}
	if o.RequireTLS && tlsCfg == nil {
		return usageErrorf("--require-tls needs --tls-cert/--tls-key or --tls-self-signed")
	}
	var auth smtp.Authenticator
	if o.AuthUsers != "" {
		h, err := loadHtpasswd(o.AuthUsers)
		if err != nil {
			return err
		}
		auth = h.check
		// Clients' passwords pass through this process's memory.
		noCoreDumps()
	} else if o.RequireAuth {
		return usageErrorf("--require-auth needs --auth-users")
	}
	var store *maildir.Store
	if !o.Sink {
		for _, dir := range policy.Dirs() {
			if err := maildir.Ensure(dir); err != nil {
				return &ExitError{Code: ExitCantCreat, Err: fmt.Errorf("maildir %s: %w", dir, err)}
			}
		}
		store = maildir.NewStore(maildir.Options{Hostname: o.Hostname})
	}

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		stopOnce   sync.Once
		be         *mda.Backend
		maxReached atomic.Bool
	)
	mo := mda.Options{
		Hostname: o.Hostname, Policy: policy, Store: store, Sink: o.Sink, Logger: log,
		ReverseDNS: func(ctx context.Context, ip string) (string, error) {
			names, err := net.DefaultResolver.LookupAddr(ctx, ip)
			if err != nil || len(names) == 0 {
				return "", err
			}
			return names[0], nil
		},
	}
	if o.MaxMessages > 0 {
		mo.Delivered = func() {
			if be.Messages() >= int64(o.MaxMessages) {
				maxReached.Store(true)
				stopOnce.Do(stop)
			}
		}
	}
	be = mda.New(mo)
	lim := smtp.Limits{
		MessageSize: maxSize, Recipients: o.MaxRecipients, Connections: o.MaxConnections, PerIP: o.MaxPerIP,
		AuthDelay: o.AuthDelay,
	}
	if g.timeout > 0 {
		lim.CommandTimeout = g.timeout
	}
	if o.DataTimeout <= 0 {
		return usageErrorf("--data-timeout must be positive")
	}
	lim.DataTimeout = o.DataTimeout
	if o.AuthDelay == 0 {
		lim.AuthDelay = -1
	}
	srv := smtp.NewServer(smtp.ServerOptions{
		Hostname: o.Hostname, Backend: be, TLS: tlsCfg, RequireTLS: o.RequireTLS, Auth: auth,
		RequireAuth: o.RequireAuth, AllowPlaintextAuth: o.AllowPlaintextAuth,
		NoPipelining: o.NoPipelining, NoChunking: o.NoChunking, GreetDelay: o.GreetDelay,
		Limits: lim, Hook: hook, Logger: log,
	})

	type listener struct {
		ln net.Listener
		lo smtp.ListenerOptions
	}
	var lns []listener
	closeAll := func() {
		for _, l := range lns {
			l.ln.Close()
		}
	}
	listen := func(addrs []string, lo smtp.ListenerOptions) error {
		for _, a := range addrs {
			ln, err := listenAddr(a)
			if err != nil {
				return err
			}
			lns = append(lns, listener{ln, lo})
			if !loopbackListener(ln) && len(o.Domains) == 0 && !o.Sink {
				log.Warn("accepting mail for every domain on a non-loopback address; use --domain to limit it", "addr", ln.Addr().String())
			}
		}
		return nil
	}
	for _, step := range []struct {
		addrs []string
		lo    smtp.ListenerOptions
	}{{o.Listen, smtp.ListenerOptions{}}, {o.ListenTLS, smtp.ListenerOptions{Implicit: true}}, {o.LMTP, smtp.ListenerOptions{LMTP: true}}} {
		if err := listen(step.addrs, step.lo); err != nil {
			closeAll()
			return err
		}
	}
	// Installed before anything says ready: SIGUSR1's default action
	// would end the process.
	stopStats := logStatsOnSignal(newServeLogger(g.env.Stderr, o.LogFormat, slog.LevelInfo), srv, be)
	defer stopStats()
	var ready []string
	errc := make(chan error, len(lns))
	for _, l := range lns {
		kind := "smtp"
		if l.lo.Implicit {
			kind = "smtps"
		} else if l.lo.LMTP {
			kind = "lmtp"
		}
		addr := l.ln.Addr().String()
		if l.ln.Addr().Network() == "unix" {
			addr = "unix:" + addr
		}
		ready = append(ready, kind+" "+addr)
		log.Info("listening", "proto", kind, "addr", addr)
		go func(l listener) { errc <- srv.Serve(l.ln, l.lo) }(l)
	}
	if o.ReadyFile != "" {
		if err := writeFileAtomic(o.ReadyFile, []byte(strings.Join(ready, "\n")+"\n")); err != nil {
			srv.Close()
			return err
		}
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	log.Info("shutting down", "grace", o.Grace.String())
	if maxReached.Load() {
		// The client whose message was the last one is about to say
		// QUIT: let it have its 221 (up to a second) before the 421s.
		dctx, dcancel := context.WithTimeout(context.Background(), min(o.Grace, drainWait))
		_ = srv.Drain(dctx)
		dcancel()
	}
	sctx, cancel := context.WithTimeout(context.Background(), o.Grace)
	defer cancel()
	_ = srv.Shutdown(sctx)
	for _, l := range lns {
		if l.ln.Addr().Network() == "unix" {
			os.Remove(l.ln.Addr().String())
		}
	}
	log.Info("stopped", "messages", be.Messages())
	if serveErr != nil && !errors.Is(serveErr, smtp.ErrServerClosed) {
		return serveErr
	}
	return nil
}

// drainWait bounds how long serve waits, after --max-messages is reached,
// for the sessions to say QUIT before it answers 421 to those left.
const drainWait = time.Second

func newServeLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	ho := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}

// listenAddr listens on host:port or unix:/path (a path starting with "/"
// is a unix socket too). A busy address is a temporary failure (75).
func listenAddr(a string) (net.Listener, error) {
	network, addr := "tcp", a
	if p, ok := strings.CutPrefix(a, "unix:"); ok {
		network, addr = "unix", p
	} else if strings.HasPrefix(a, "/") {
		network = "unix"
	}
	if network == "unix" {
		// A stale socket from a killed run goes; anything else at the
		// path (a mistyped file name) stays, and listening fails.
		if fi, err := os.Lstat(addr); err == nil && fi.Mode()&os.ModeSocket != 0 {
			_ = os.Remove(addr)
		}
	} else if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, usageErrorf("listen address %q: want HOST:PORT or unix:/path", a)
	}
	// SMTP has its own timeouts; TCP keepalive would only cost three
	// setsockopt calls per accepted connection.
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), network, addr)
	if err != nil {
		return nil, &ExitError{Code: ExitTempFail, Err: fmt.Errorf("listen %s: %w", a, unwrapOp(err))}
	}
	return ln, nil
}

func unwrapOp(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		var se *os.SyscallError
		if errors.As(oe.Err, &se) {
			return se.Err
		}
		return oe.Err
	}
	return err
}

func loopbackListener(ln net.Listener) bool {
	ta, ok := ln.Addr().(*net.TCPAddr)
	return !ok || ta.IP.IsLoopback()
}

// writeFileAtomic writes b to path through a fresh temporary file in the
// same folder (O_EXCL, a random name) renamed over path. A fixed name
// such as path+".tmp" would follow a symlink planted there: serve started
// by root with --ready-file in /tmp would overwrite the link's target.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(0o644) // the addresses are for anyone's scripts
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// parseSize reads "64M", "100K", "1G" or a number of octets.
func parseSize(v string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(strings.ToUpper(v), "K"):
		mult, v = 1<<10, v[:len(v)-1]
	case strings.HasSuffix(strings.ToUpper(v), "M"):
		mult, v = 1<<20, v[:len(v)-1]
	case strings.HasSuffix(strings.ToUpper(v), "G"):
		mult, v = 1<<30, v[:len(v)-1]
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, errors.New("want a positive size like 10M")
	}
	return n * mult, nil
}

var hookStages = []string{"connect", "ehlo", "mail", "rcpt", "data", "dot"}

// parseHooks turns --reply and --delay into a fault-injection hook.
func parseHooks(replies, delays []string) (smtp.Hook, error) {
	if len(replies)+len(delays) == 0 {
		return nil, nil
	}
	rs := map[string]*smtp.Reply{}
	ds := map[string]time.Duration{}
	for _, v := range replies {
		stage, spec, ok := strings.Cut(v, "=")
		if !ok || !validStage(stage) {
			return nil, usageErrorf("--reply %q: want STAGE=CODE[:TEXT] with STAGE one of %s", v, strings.Join(hookStages, ", "))
		}
		codeS, text, _ := strings.Cut(spec, ":")
		code, err := strconv.Atoi(codeS)
		if err != nil || code < 200 || code > 599 {
			return nil, usageErrorf("--reply %q: bad reply code %q", v, codeS)
		}
		r := &smtp.Reply{Code: code, Lines: []string{strings.TrimSpace(text)}}
		if r.Lines[0] == "" {
			r.Lines[0] = "injected by --reply"
		}
		rs[stage] = r
	}
	for _, v := range delays {
		stage, spec, ok := strings.Cut(v, "=")
		d, err := time.ParseDuration(spec)
		if !ok || !validStage(stage) || err != nil || d < 0 {
			return nil, usageErrorf("--delay %q: want STAGE=DURATION with STAGE one of %s", v, strings.Join(hookStages, ", "))
		}
		ds[stage] = d
	}
	return func(stage string) (time.Duration, *smtp.Reply) { return ds[stage], rs[stage] }, nil
}

func validStage(s string) bool {
	for _, x := range hookStages {
		if s == x {
			return true
		}
	}
	return false
}

// policy builds the recipient policy from the flags.
func (o *ServeOptions) policy() (*mda.Policy, error) {
	p := &mda.Policy{Domains: o.Domains, Mailboxes: map[string]string{}, CatchAll: o.CatchAll, Separator: o.Separator}
	if o.Maildir != "" {
		p.Default = filepath.Clean(o.Maildir)
	}
	if o.Users != "" {
		m, err := mda.LoadUsers(o.Users)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("--users: %w", err)
			}
			return nil, &config.Error{Path: o.Users, Msg: err.Error()}
		}
		for k, v := range m {
			p.Mailboxes[k] = v
		}
	}
	for _, mb := range o.Mailboxes {
		addr, dir, err := mda.ParseMailbox(mb)
		if err != nil {
			return nil, usageErrorf("--mailbox: %v", err)
		}
		p.Mailboxes[addr] = dir
	}
	for _, d := range o.Domains {
		if d == "" || strings.ContainsAny(d, "@/ ") {
			return nil, usageErrorf("--domain %q: not a domain", d)
		}
	}
	if o.CatchAll && len(o.Domains) == 0 {
		return nil, usageErrorf("--catch-all only makes sense with --domain")
	}
	return p, nil
}

func (o *ServeOptions) tlsConfig(g *globals, log *slog.Logger) (*tls.Config, error) {
	switch {
	case o.TLSSelfSigned && (o.TLSCert != "" || o.TLSKey != ""):
		return nil, usageErrorf("--tls-self-signed and --tls-cert/--tls-key exclude each other")
	case o.TLSSelfSigned:
		cert, fp, err := selfSigned(o.Hostname, g.env.Now())
		if err != nil {
			return nil, err
		}
		log.Info("tls: self-signed certificate", "host", o.Hostname, "sha256", fp)
		return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
	case o.TLSCert != "" || o.TLSKey != "":
		if o.TLSCert == "" || o.TLSKey == "" {
			return nil, usageErrorf("--tls-cert and --tls-key go together")
		}
		for _, f := range []string{o.TLSCert, o.TLSKey} {
			if _, err := os.Stat(f); err != nil {
				return nil, fmt.Errorf("tls: %w", err)
			}
		}
		cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			return nil, &config.Error{Msg: fmt.Sprintf("tls certificate %s: %v", o.TLSCert, err)}
		}
		return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
	}
	return nil, nil
}
