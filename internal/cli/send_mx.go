package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/smtpkit/smtpkit/internal/deliver"
	"github.com/smtpkit/smtpkit/internal/dnsx"
	"github.com/smtpkit/smtpkit/internal/route"
	"github.com/smtpkit/smtpkit/internal/smtp"
	"github.com/smtpkit/smtpkit/internal/tlspolicy"
)

// mxOnlyFlags are send's flags that need --server: delivery straight to
// the recipients' MX has no use for them.
var mxOnlyFlags = []string{"user", "auth", "password-file", "password-env", "allow-plaintext-auth", "show-secrets",
	"quit-after", "command", "protocol", "tls-sni", "client-cert", "client-key", "local-addr", "insecure"}

// checkMX refuses options that make no sense without --server, and turns
// --tls and --tls-policy into the TLS level of MX delivery.
func (o *SendOptions) checkMX() (tlspolicy.Level, error) {
	for _, f := range mxOnlyFlags {
		if o.changed(f) {
			return "", usageErrorf("--%s needs --server (without it, smtpkit delivers to the recipients' MX)", f)
		}
	}
	if o.TLSPolicy != "" {
		lvl, err := tlspolicy.ParseLevel(o.TLSPolicy)
		if err != nil {
			return "", usageErrorf("--tls-policy: %v", err)
		}
		if lvl == tlspolicy.LevelFingerprint {
			return "", usageErrorf("--tls-policy fingerprint needs --server")
		}
		return lvl, nil
	}
	switch strings.ToLower(o.TLS) {
	case "auto", "":
		return "", nil // deliver's auto: DANE, MTA-STS, or opportunistic
	case "opportunistic":
		return tlspolicy.LevelOpportunistic, nil
	case "starttls":
		return tlspolicy.LevelRequired, nil
	case "none":
		return tlspolicy.LevelNone, nil
	}
	return "", usageErrorf("--tls %s needs --server (MX delivery uses STARTTLS on port 25)", o.TLS)
}

// runSendMX delivers the planned message straight to the recipients' MX
// hosts through internal/deliver and prints one line per recipient. The
// exit status is the most severe outcome (README, "Exit codes").
func runSendMX(ctx context.Context, g *globals, o *SendOptions, p *plan) error {
	res, err := dnsx.New(dnsx.Config{Servers: g.resolvers, Timeout: g.timeout, DNSSEC: true})
	if err != nil {
		return usageErrorf("--resolver: %v", err)
	}
	defer res.Close()
	pr := g.printer()
	opts := deliver.Options{
		Resolver:  res,
		Port:      o.MXPort,
		TLSPolicy: p.mxLevel,
		EHLO:      p.submit.Helo,
		Dialer:    p.submit.Dialer,
		Network:   p.submit.Network,
		Timeouts:  p.submit.Client.Timeouts,
		Now:       g.env.Now,
		Trace:     pr.Trace(),
	}
	if g.verbose > 0 {
		// One destination at a time, so the live transcript on stderr
		// reads as one session after another.
		opts.Parallel = 1
	}
	if p.submit.TLSConfig != nil {
		opts.RootCAs = p.submit.TLSConfig.RootCAs
	}
	switch {
	case g.ipv4:
		opts.Family = route.Family4
	case g.ipv6:
		opts.Family = route.Family6
	}
	req := deliver.Request{From: p.submit.From, To: p.rcpts, Msg: p.msg, MailOpts: p.submit.MailOpts}
	for _, r := range p.submit.Rcpts {
		req.RcptOpts = append(req.RcptOpts, r.Opts)
	}
	outs := deliver.Deliver(ctx, req, opts)
	if err := pr.SendMX(outs); err != nil {
		return err
	}
	return mxOutcome(outs)
}

// mxOutcome turns the outcomes into one error whose exit code is the most
// severe: 68 for a domain that cannot receive mail (NXDOMAIN, null MX, no
// route), 67 for an unknown user, 77 for a policy refusal, 69 for other
// permanent failures, 75 for deferrals.
func mxOutcome(outs []deliver.Outcome) error {
	code, bad := ExitOK, 0
	var first *deliver.Outcome
	for i, o := range outs {
		c := outcomeExit(o)
		if c == ExitOK {
			continue
		}
		bad++
		if first == nil {
			first = &outs[i]
		}
		code = worse(code, c)
	}
	if bad == 0 {
		return nil
	}
	return &ExitError{Code: code, Err: fmt.Errorf("%d of %d recipients not delivered: %s: %s %s",
		bad, len(outs), first.Recipient, first.Status, first.Diagnostic)}
}

func outcomeExit(o deliver.Outcome) int {
	switch o.Status {
	case deliver.Delivered:
		return ExitOK
	case deliver.Deferred:
		return ExitTempFail
	}
	switch e := o.Enhanced; {
	case o.Reply == nil && (e == "5.1.2" || e == "5.1.10" || e == "5.4.4"):
		return ExitNoHost
	case o.Reply != nil:
		cmd := "DATA"
		if strings.HasPrefix(o.Diagnostic, "RCPT TO:") {
			cmd = "RCPT TO:<" + o.Recipient + ">"
		}
		return replyExit(&smtp.Error{Command: cmd, Reply: *o.Reply})
	case e == "5.1.1":
		return ExitNoUser
	case strings.HasPrefix(e, "5.7."):
		return ExitNoPerm
	}
	return ExitUnavailable
}
