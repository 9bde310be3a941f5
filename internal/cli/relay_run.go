package cli

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/smtpkit/smtpkit/internal/cli/render"
	"github.com/smtpkit/smtpkit/internal/config"
	"github.com/smtpkit/smtpkit/internal/deliver"
	"github.com/smtpkit/smtpkit/internal/dnsx"
	"github.com/smtpkit/smtpkit/internal/message"
	"github.com/smtpkit/smtpkit/internal/route"
	"github.com/smtpkit/smtpkit/internal/sendmail"
	"github.com/smtpkit/smtpkit/internal/smtp"
	"github.com/smtpkit/smtpkit/internal/spool"
	"github.com/smtpkit/smtpkit/internal/tlspolicy"
)

// relaySetup is RelayOptions resolved: the spool, and the delivery
// function when the command delivers.
type relaySetup struct {
	sp      *spool.Spool
	attempt spool.Attempt
	close   func()
}

// relayEnvOr returns the flag's value when it was given, otherwise the
// environment variable's.
func (o *RelayOptions) envOr(g *globals, flag, val, env string) string {
	if o.changed != nil && o.changed(flag) || val != "" {
		return val
	}
	return g.env.getenv(env)
}

// spoolDir is --spool, SMTPKIT_SPOOL, /var/spool/smtpkit for root, or the
// XDG state directory.
func (o *RelayOptions) spoolDir(g *globals) (string, error) {
	if d := o.envOr(g, "spool", o.Spool, "SMTPKIT_SPOOL"); d != "" {
		return d, nil
	}
	if os.Geteuid() == 0 {
		return "/var/spool/smtpkit", nil
	}
	if x := g.env.getenv("XDG_STATE_HOME"); x != "" {
		return filepath.Join(x, "smtpkit", "spool"), nil
	}
	if h := g.env.getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "state", "smtpkit", "spool"), nil
	}
	return "", &config.Error{Msg: "no spool directory: give --spool or set SMTPKIT_SPOOL, XDG_STATE_HOME or HOME"}
}

// parseRelayDuration reads a duration flag; a "d" suffix counts days.
func parseRelayDuration(flag, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	if n, ok := strings.CutSuffix(v, "d"); ok {
		if days, err := strconv.ParseFloat(n, 64); err == nil && days >= 0 {
			return time.Duration(days * float64(24*time.Hour)), nil
		}
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, usageErrorf("--%s %q: want a duration like 30s, 5m, 2h or 5d", flag, v)
	}
	return d, nil
}

// parseRoutes reads DOMAIN=HOST[:PORT] items into deliver's map.
func parseRoutes(items []string) (map[string]string, error) {
	routes := map[string]string{}
	for _, it := range items {
		dom, hop, ok := strings.Cut(strings.TrimSpace(it), "=")
		dom = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(dom), "."))
		hop = strings.TrimSpace(hop)
		if !ok || dom == "" || hop == "" {
			return nil, usageErrorf("--route %q: want DOMAIN=HOST[:PORT]", it)
		}
		if h, p, err := net.SplitHostPort(hop); err == nil {
			if n, e := strconv.Atoi(p); h == "" || e != nil || n < 1 || n > 65535 {
				return nil, usageErrorf("--route %q: bad host or port", it)
			}
		} else if strings.Contains(hop, ":") && !strings.HasPrefix(hop, "[") && strings.Count(hop, ":") == 1 {
			return nil, usageErrorf("--route %q: want DOMAIN=HOST[:PORT]", it)
		}
		routes[dom] = hop
	}
	return routes, nil
}

// setup opens the spool and, when deliver is set, builds the delivery
// function from the routing, TLS and AUTH options.
func (o *RelayOptions) setup(ctx context.Context, g *globals, withDeliver bool) (*relaySetup, error) {
	s, err := g.loadConfig()
	if err != nil {
		return nil, err
	}
	dir, err := o.spoolDir(g)
	if err != nil {
		return nil, err
	}
	var so spool.Options
	for _, d := range []struct {
		flag, v string
		dst     *time.Duration
	}{{"max-age", o.MaxAge, &so.MaxAge}, {"min-backoff", o.MinBackoff, &so.MinBackoff}, {"max-backoff", o.MaxBackoff, &so.MaxBackoff}, {"notify-delay", o.NotifyDelay, &so.NotifyDelay}} {
		if *d.dst, err = parseRelayDuration(d.flag, d.v); err != nil {
			return nil, err
		}
	}
	so.Now = g.env.Now
	so.Hostname = o.Ehlo
	if so.Hostname == "" {
		so.Hostname = g.hostname()
	} else if err := checkHostName("ehlo", o.Ehlo); err != nil {
		return nil, err
	}
	so.Logger = g.relayLogger()
	sp, err := spool.Open(dir, so)
	if err != nil {
		return nil, err
	}
	rs := &relaySetup{sp: sp, close: func() {}}
	if !withDeliver {
		return rs, nil
	}

	do := deliver.Options{Port: o.MXPort, EHLO: so.Hostname, Dialer: g.env.Dialer, Now: g.env.Now, Trace: g.printer().Trace()}
	items := o.Routes
	if len(items) == 0 {
		for _, r := range strings.Split(g.env.getenv("SMTPKIT_ROUTE"), ",") {
			if strings.TrimSpace(r) != "" {
				items = append(items, r)
			}
		}
	}
	if do.Routes, err = parseRoutes(items); err != nil {
		return nil, err
	}
	do.Smarthost = o.envOr(g, "smarthost", o.Smarthost, "SMTPKIT_SMARTHOST")
	if o.MXPort < 0 || o.MXPort > 65535 {
		return nil, usageErrorf("--mx-port %d: want 1 to 65535", o.MXPort)
	}
	if pol := o.envOr(g, "tls-policy", o.TLSPolicy, "SMTPKIT_TLS_POLICY"); pol != "" {
		lvl, err := tlspolicy.ParseLevel(pol)
		if err != nil {
			return nil, usageErrorf("--tls-policy: %v", err)
		}
		do.TLSPolicy = lvl
	}
	if o.CAFile != "" {
		pool, err := loadCAFile(o.CAFile)
		if err != nil {
			return nil, err
		}
		do.RootCAs = pool
	}
	switch {
	case g.ipv4:
		do.Network, do.Family = "tcp4", route.Family4
	case g.ipv6:
		do.Network, do.Family = "tcp6", route.Family6
	}
	timeout := g.timeout
	if timeout == 0 && s.Timeout != nil {
		timeout = *s.Timeout
	}
	if timeout > 0 {
		do.Timeouts = smtp.Uniform(timeout)
	}
	if do.Smarthost != "" && (o.User != "" || o.changed != nil && o.changed("auth")) {
		so := &SendOptions{User: o.User, PasswordFile: o.PasswordFile, PasswordEnv: o.PasswordEnv}
		pw, err := so.password(ctx, g, s)
		if err != nil {
			return nil, err
		}
		do.Auth = &smtp.Credentials{User: o.User, Password: pw}
		do.AuthMech = o.Auth
		do.AllowPlaintextAuth = o.AllowPlaintextAuth
	}
	// DNS is needed unless every domain goes to a route or the smarthost;
	// without a usable resolver, MX destinations are deferred by deliver.
	if do.Smarthost == "" && do.Routes["*"] == "" {
		res, err := dnsx.New(dnsx.Config{Servers: g.resolvers, Timeout: g.timeout, DNSSEC: true})
		if err != nil {
			return nil, usageErrorf("--resolver: %v", err)
		}
		do.Resolver = res
		rs.close = func() { res.Close() }
	}
	rs.attempt = deliverAttempt(do)
	return rs, nil
}

// deliverAttempt adapts deliver.Deliver to the spool's delivery function.
func deliverAttempt(do deliver.Options) spool.Attempt {
	return func(ctx context.Context, from string, rcpts []string, msg *message.Prepared, dsn spool.DSNParams) []spool.Outcome {
		// RFC 3461 4: the DSN parameters go on with the message; deliver
		// drops them for a server that does not offer DSN.
		req := deliver.Request{From: from, To: rcpts, Msg: msg, MailOpts: smtp.MailOptions{Ret: dsn.Ret, EnvID: dsn.EnvID}}
		for i := range rcpts {
			var ro *smtp.RcptOptions
			if i < len(dsn.Notify) && len(dsn.Notify[i]) > 0 || i < len(dsn.ORcpt) && dsn.ORcpt[i] != "" {
				ro = &smtp.RcptOptions{}
				if i < len(dsn.Notify) {
					ro.Notify = dsn.Notify[i]
				}
				if i < len(dsn.ORcpt) {
					ro.ORcpt = dsn.ORcpt[i]
				}
			}
			req.RcptOpts = append(req.RcptOpts, ro)
		}
		outs := deliver.Deliver(ctx, req, do)
		res := make([]spool.Outcome, 0, len(outs))
		for i, o := range outs {
			if len(outs) == len(rcpts) {
				// Deliver answers in request order; the spool matches
				// outcomes to recipients by the address it asked for.
				o.Recipient = rcpts[i]
			}
			so := spool.Outcome{Recipient: o.Recipient, Status: spool.Status(o.Status), Enhanced: o.Enhanced, Reason: o.Diagnostic, RemoteMTA: o.RemoteHost}
			if so.RemoteMTA == "" {
				so.RemoteMTA = o.RemoteMTA
			}
			if o.Reply != nil {
				so.Code, so.Reason = o.Reply.Code, o.Reply.String()
			}
			res = append(res, so)
		}
		return res
	}
}

// relayLogger logs the spool's events on stderr: warnings (expired,
// dropped bounces) by default, every attempt with -v, errors only with -q.
func (g *globals) relayLogger() *slog.Logger {
	lvl := slog.LevelWarn
	switch {
	case g.quiet:
		lvl = slog.LevelError
	case g.verbose > 0:
		lvl = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(g.env.Stderr, &slog.HandlerOptions{Level: lvl, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
}

// relayOutcomeExit maps one recipient's outcome to an exit code (README,
// "Exit codes"): deferred 75; failed 67 for an unknown user (X.1.1), 68 for
// no such domain (X.1.2) or a null MX (X.1.10, RFC 7505 3.2), 77 for a
// policy refusal (X.7.x), 69 otherwise.
func relayOutcomeExit(o spool.Outcome) int {
	switch o.Status {
	case spool.Delivered:
		return ExitOK
	case spool.Failed:
		if len(o.Enhanced) > 1 {
			switch sub := o.Enhanced[1:]; {
			case sub == ".1.1":
				return ExitNoUser
			case sub == ".1.2" || sub == ".1.10":
				return ExitNoHost
			case strings.HasPrefix(sub, ".7."):
				return ExitNoPerm
			}
		}
		return ExitUnavailable
	}
	return ExitTempFail
}

// spoolExit gives the spool's errors their exit codes.
func spoolExit(err error) error {
	var se *spool.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		code := ExitIOErr
		if se.Create() {
			code = ExitCantCreat
		}
		return &ExitError{Code: code, Err: err}
	case errors.Is(err, spool.ErrNotFound):
		return &ExitError{Code: ExitNoInput, Err: err}
	case errors.Is(err, spool.ErrLocked):
		return &ExitError{Code: ExitTempFail, Err: err}
	}
	return err
}

func runRelay(ctx context.Context, g *globals, o *RelayOptions, in string) error {
	var r io.Reader = g.env.Stdin
	if in != "-" {
		f, err := os.Open(in)
		if err != nil {
			return fmt.Errorf("message: %w", err)
		}
		defer f.Close()
		r = f
	}
	if o.Extract {
		// RFC 5322 3.6.3: the destination fields; Bcc is removed. Missing
		// Date and Message-ID fields are added, as an MTA's cleanup does.
		var rnd [6]byte
		for i := range rnd {
			rnd[i] = byte(rand.IntN(256))
		}
		msg, rcpts, err := sendmail.Submission(r, sendmail.SubmitOptions{Extract: true, Sender: o.From, Now: g.env.Now, Host: g.hostname(), ID: hex.EncodeToString(rnd[:])})
		if err != nil {
			var he *sendmail.HeaderError
			if errors.As(err, &he) {
				return &message.MessageError{Source: "message", Reason: he.Reason}
			}
			return fmt.Errorf("message: %w", err)
		}
		if len(rcpts) == 0 {
			return &message.MessageError{Source: "message", Reason: "-t: no recipient in To, Cc or Bcc"}
		}
		for _, a := range rcpts {
			if !strings.Contains(a, "@") {
				a += "@" + g.hostname() // a bare local part, as sendmail qualifies it
			}
			o.To = append(o.To, a)
		}
		r = msg
	}
	res, err := relayMessage(ctx, g, o, r)
	if err != nil {
		return err
	}
	if err := g.printer().Relay(*res); err != nil {
		return err
	}
	if res.ExitCode != ExitOK {
		return &ExitError{Code: res.ExitCode}
	}
	return nil
}

// relayMessage is relay's enqueue-and-attempt path, shared with
// `smtpkit sendmail`: it checks o.From (default $USER@host; "<>" allowed)
// and o.To, reads msg (an RFC 5322 message, any line ends) into the spool
// durably, attempts delivery at once, and with o.RetryFor keeps retrying
// deferred recipients with backoff and jitter until they are decided or
// the time is up. It prints nothing.
//
// It returns an error only when the message was not spooled: a usage error
// (no recipient, bad flag), a *message.AddressError or *message.MessageError
// (65), a read error, or a spool failure (an *ExitError with 73 or 74).
// Once the message is spooled the error is nil, whatever the delivery did,
// and the result's ExitCode says how it went (0, 75, or the permanent
// code); deferred recipients stay in the spool for `relay flush`.
func relayMessage(ctx context.Context, g *globals, o *RelayOptions, msg io.Reader) (*render.RelayResult, error) {
	retryFor, err := parseRelayDuration("retry-for", o.RetryFor)
	if err != nil {
		return nil, err
	}
	dsn, err := o.dsnOptions()
	if err != nil {
		return nil, err
	}
	from := o.From
	if from == "" {
		if s, err := g.loadConfig(); err == nil && s.From != nil {
			from = *s.From
		}
	}
	if from == "" {
		user := g.env.getenv("USER")
		if user == "" {
			user = "smtpkit"
		}
		from = user + "@" + g.hostname()
	}
	sender, err := message.ParseAddress(from)
	if err != nil {
		return nil, err
	}
	addrs, err := parseAddrLists(o.To)
	if err != nil {
		return nil, err
	}
	var rcpts []string
	seen := map[string]bool{}
	for _, a := range addrs {
		if s := a.String(); !seen[s] {
			seen[s] = true
			rcpts = append(rcpts, s)
		}
	}
	if len(rcpts) == 0 {
		return nil, usageErrorf("no recipient: give --to or -t")
	}
	p, err := message.FromReader(msg, message.DataOptions{})
	if err != nil {
		return nil, err
	}
	defer p.Close()
	rs, err := o.setup(ctx, g, true)
	if err != nil {
		return nil, spoolExit(err)
	}
	defer rs.close()
	rc, err := p.Open()
	if err != nil {
		return nil, err
	}
	e, err := rs.sp.EnqueueWith(ctx, rc, sender.String(), rcpts, dsn)
	rc.Close()
	if err != nil {
		return nil, spoolExit(err)
	}
	return relayAttempts(ctx, g, rs, e, retryFor), nil
}

// relayAttempts attempts entry e at once and, within retryFor, again after
// each deferral: waits from the spool's backoff for the entry's age, with
// ±25% jitter, the last one cut to end at the deadline.
func relayAttempts(ctx context.Context, g *globals, rs *relaySetup, e *spool.Entry, retryFor time.Duration) *render.RelayResult {
	res := &render.RelayResult{ID: e.ID, Spool: rs.sp.Dir()}
	latest := map[string]spool.Outcome{}
	for _, a := range e.Recipients {
		latest[a.Addr] = spool.Outcome{Recipient: a.Addr, Status: spool.Deferred, Reason: "not attempted"}
	}
	start := time.Now()
	for {
		r, err := rs.sp.AttemptNow(ctx, e.ID, rs.attempt)
		if err != nil {
			// Locked or gone: a concurrent flush has it; it stays in the
			// spool's hands.
			g.printer().Warn(fmt.Sprintf("%s: %v", e.ID, err))
			break
		}
		res.Attempts++
		for _, o := range r.Outcomes {
			latest[o.Recipient] = o
		}
		for _, a := range r.Expired {
			o := latest[a]
			o.Status = spool.Failed
			latest[a] = o
		}
		if r.Bounce != "" {
			res.BounceID = r.Bounce
		}
		if r.Removed || retryFor <= 0 || ctx.Err() != nil {
			break
		}
		left := retryFor - time.Since(start)
		if left <= 0 {
			break
		}
		age := g.env.Now().Sub(e.Created)
		wait := time.Duration(float64(rs.sp.Backoff(age)) * (0.75 + rand.Float64()/2))
		wait = min(wait, left)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		if ctx.Err() != nil {
			break
		}
	}
	for _, a := range e.Recipients {
		o := latest[a.Addr]
		res.Recipients = append(res.Recipients, o)
		res.ExitCode = worse(res.ExitCode, relayOutcomeExit(o))
	}
	return res
}

func runRelayFlush(ctx context.Context, g *globals, o *RelayOptions) error {
	if o.Concurrency < 1 {
		return usageErrorf("--concurrency must be at least 1")
	}
	rs, err := o.setup(ctx, g, true)
	if err != nil {
		return spoolExit(err)
	}
	defer rs.close()
	rs.sp.Clean()
	results, ferr := rs.sp.Flush(ctx, rs.attempt, spool.FlushOptions{Concurrency: o.Concurrency, All: o.All})
	out := render.RelayFlush{Spool: rs.sp.Dir()}
	for _, r := range results {
		out.Results = append(out.Results, render.RelayFlushEntry{ID: r.ID, Attempted: r.Attempted, Outcomes: r.Outcomes, Expired: r.Expired, Removed: r.Removed, BounceID: r.Bounce, DelayID: r.Delay})
	}
	if ferr != nil {
		out.Error = ferr.Error()
	}
	if err := g.printer().RelayFlush(out); err != nil {
		return err
	}
	return spoolExit(ferr)
}

func runRelayQueue(ctx context.Context, g *globals, o *RelayOptions) error {
	rs, err := o.setup(ctx, g, false)
	if err != nil {
		return spoolExit(err)
	}
	entries, err := rs.sp.List()
	if err != nil {
		return spoolExit(err)
	}
	now := g.env.Now()
	q := render.RelayQueue{Spool: rs.sp.Dir()}
	for _, e := range entries {
		q.Entries = append(q.Entries, render.RelayQueueEntry{Entry: e, AgeSeconds: now.Sub(e.Created).Seconds(), NextAttempt: e.NextAttempt()})
	}
	return g.printer().RelayQueue(q, now)
}

func runRelayRetry(ctx context.Context, g *globals, o *RelayOptions, args []string) error {
	return relayEach(ctx, g, o, "retry", args, func(sp *spool.Spool, id string) error { return sp.Retry(id) })
}

func runRelayRemove(ctx context.Context, g *globals, o *RelayOptions, args []string) error {
	return relayEach(ctx, g, o, "remove", args, func(sp *spool.Spool, id string) error { return sp.Remove(id) })
}

// relayEach applies do to the entries named in args, or to every entry
// with --all (skipping those that went away meanwhile). The first error
// decides the exit code; the other IDs are still done.
func relayEach(ctx context.Context, g *globals, o *RelayOptions, verb string, args []string, do func(*spool.Spool, string) error) error {
	if o.All == (len(args) > 0) {
		return usageErrorf("relay %s: give message IDs or --all", verb)
	}
	rs, err := o.setup(ctx, g, false)
	if err != nil {
		return spoolExit(err)
	}
	ids := args
	if o.All {
		entries, err := rs.sp.List()
		if err != nil {
			return spoolExit(err)
		}
		for _, e := range entries {
			ids = append(ids, e.ID)
		}
	}
	var first error
	for _, id := range ids {
		err := do(rs.sp, strings.ToUpper(id))
		if err != nil && !(o.All && errors.Is(err, spool.ErrNotFound)) && first == nil {
			first = fmt.Errorf("%s: %w", id, err)
		}
	}
	return spoolExit(first)
}
