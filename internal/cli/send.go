package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/smtpkit/smtpkit/internal/cli/render"
	"github.com/smtpkit/smtpkit/internal/config"
	"github.com/smtpkit/smtpkit/internal/message"
	"github.com/smtpkit/smtpkit/internal/smtp"
	"github.com/smtpkit/smtpkit/internal/tlspolicy"
)

// SendOptions are the flags of `smtpkit send`.
type SendOptions struct {
	Server     string
	TLS        string
	Insecure   bool
	CAFile     string
	TLSSNI     string
	TLSMin     string
	ClientCert string
	ClientKey  string
	Ehlo       string
	Protocol   string
	LocalAddr  string

	Auth               string
	User               string
	PasswordFile       string
	PasswordEnv        string
	AllowPlaintextAuth bool
	ShowSecrets        bool

	From       string
	To         []string
	Cc         []string
	Bcc        []string
	MailParams []string
	RcptParams []string
	DSNNotify  string
	DSNRet     string
	EnvID      string
	RequireTLS bool

	Subject      string
	Body         string
	HTML         string
	Attach       []string
	AttachInline []string
	Headers      []string
	Data         string
	DKIMKey      string
	DKIMSelector string
	DKIMDomain   string
	DryRun       bool

	Pipelining string
	Chunking   string
	QuitAfter  string
	Commands   []string

	// Delivery straight to the recipients' MX (no --server).
	TLSPolicy string
	MXPort    int

	// BatchOptions: send --batch (send_batch.go).
	BatchOptions

	changed func(name string) bool
}

func newSendCmd(g *globals) *cobra.Command {
	o := &SendOptions{}
	cmd := &cobra.Command{
		Use:   "send [--server HOST[:PORT]] --from ADDR --to ADDR [flags]",
		Short: "Send a message through a server, or straight to the recipients' MX",
		Long: `Send one message through a submission or relay server, like swaks.

Without --data, smtpkit composes a test message (Date, Message-ID, From, To,
Subject with the time, a short body); --subject, --body, --html, --attach and
--header shape it. --data sends a complete RFC 5322 message as is.

The port defaults to 465 with --tls implicit, 587 when --user is given, and 25
otherwise. --tls auto (the default) means implicit TLS on 465, required
STARTTLS on 587 or with AUTH, and opportunistic STARTTLS otherwise.

Without --server (and without a profile that names one), smtpkit delivers
straight to each recipient domain's MX hosts, like an MTA: MX order and
implicit MX (RFC 5321 5.1), null MX, one connection per domain carrying all
its recipients, STARTTLS whenever offered. --tls-policy sets the TLS level
(opportunistic, required, verify, dane, dane-only, mta-sts); the default uses
DANE when DNSSEC-validated TLSA records exist (with a resolver on loopback),
MTA-STS when the domain publishes a policy, and opportunistic STARTTLS
otherwise, and never falls back to plaintext when a policy requires TLS.
Each recipient is reported delivered, deferred or failed. The hidden flag
--mx-port PORT connects to MX hosts on PORT instead of 25: a testing aid for
servers on loopback (with --resolver pointing at a test DNS server).` + batchHelp + `

Passwords never travel on the command line: --password-file, --password-env,
password_command in the config, or a prompt on the terminal.

EXIT STATUS
  0 every recipient accepted; 64 usage; 65 bad address or message; 66 unreadable
  input file; 67 a recipient unknown (5.1.1); 68 no such host; 69 other permanent
  failure (5xx, TLS required but missing, certificate rejected); 74 I/O error;
  75 temporary failure (4xx, connection refused, timeout); 76 protocol or TLS
  handshake error; 77 authentication failed or policy rejection (5.7.x);
  78 configuration error. With several recipients the most severe outcome wins.
  Without --server: 68 when a domain has no MX and no address, a null MX or
  does not exist; 75 when a recipient is deferred.`,
		Example: `  smtpkit send --server mail.example.com --from me@example.com --to you@example.net
  smtpkit send -p work --to you@example.net --subject "Report" --body @report.txt --attach report.pdf
  smtpkit send --server smtp.example.com:587 --user me@example.com --password-file ~/.pw --to you@example.net -v
  smtpkit send --server 127.0.0.1:2525 --tls none --to test@example.com --quit-after rcpt
  smtpkit send --server mx.example.net --from a@example.com --to b@example.net --data @message.eml --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.changed = func(n string) bool { return cmd.Flags().Changed(n) }
			return runSend(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Server, "server", "s", "", "server HOST[:PORT] or unix:/path (env SMTPKIT_SERVER)")
	f.StringVar(&o.TLS, "tls", "auto", "TLS: auto, starttls, implicit, opportunistic or none")
	f.BoolVar(&o.Insecure, "insecure", false, "do not fail on an invalid certificate (still reported)")
	f.StringVar(&o.CAFile, "ca-file", "", "PEM file of CA certificates to trust instead of the system's")
	f.StringVar(&o.TLSSNI, "tls-sni", "", "server name to send in SNI and to verify (default: the server host)")
	f.StringVar(&o.TLSMin, "tls-min", "1.2", "lowest TLS version: 1.0, 1.1, 1.2 or 1.3")
	f.StringVar(&o.ClientCert, "client-cert", "", "PEM client certificate (for AUTH EXTERNAL or TLS client auth)")
	f.StringVar(&o.ClientKey, "client-key", "", "PEM key of --client-cert")
	f.StringVar(&o.Ehlo, "ehlo", "", "name to send in EHLO/HELO/LHLO (default: this host's name)")
	f.StringVar(&o.Protocol, "protocol", "esmtp", "protocol: esmtp (EHLO, HELO fallback), smtp (HELO) or lmtp (LHLO)")
	f.StringVar(&o.LocalAddr, "local-addr", "", "source IP address to connect from")

	f.StringVar(&o.Auth, "auth", "", "AUTH mechanism: auto, none, PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256, XOAUTH2, OAUTHBEARER, EXTERNAL (default auto when --user is given)")
	f.StringVarP(&o.User, "user", "u", "", "AUTH user name")
	f.StringVar(&o.PasswordFile, "password-file", "", "read the password (or OAuth token) from the first line of FILE")
	f.StringVar(&o.PasswordEnv, "password-env", "", "read the password from the environment variable NAME")
	f.BoolVar(&o.AllowPlaintextAuth, "allow-plaintext-auth", false, "allow AUTH on a connection without TLS")
	f.BoolVar(&o.ShowSecrets, "show-secrets", false, "show AUTH payloads in the transcript")

	f.StringVarP(&o.From, "from", "f", "", "envelope sender and From: (default $USER@host; \"<>\" for the null sender)")
	f.StringArrayVarP(&o.To, "to", "t", nil, "recipient (repeatable, comma-separated lists allowed)")
	f.StringArrayVar(&o.Cc, "cc", nil, "Cc recipient (repeatable, comma lists)")
	f.StringArrayVar(&o.Bcc, "bcc", nil, "Bcc recipient: envelope only (repeatable, comma lists)")
	f.StringArrayVar(&o.MailParams, "mail-param", nil, "extra MAIL FROM parameter KEY[=VALUE] (repeatable)")
	f.StringArrayVar(&o.RcptParams, "rcpt-param", nil, "extra RCPT TO parameter KEY[=VALUE] for every recipient (repeatable)")
	f.StringVar(&o.DSNNotify, "dsn-notify", "", "DSN NOTIFY: NEVER, or a list of SUCCESS,FAILURE,DELAY")
	f.StringVar(&o.DSNRet, "dsn-ret", "", "DSN RET: FULL or HDRS")
	f.StringVar(&o.EnvID, "envid", "", "DSN ENVID")
	f.BoolVar(&o.RequireTLS, "require-tls", false, "declare REQUIRETLS (RFC 8689) on MAIL FROM")

	f.StringVar(&o.Subject, "subject", "", "Subject: of the composed message (default: \"test\" and the time)")
	f.StringVar(&o.Body, "body", "", "body: TEXT, @FILE, or - for stdin")
	f.StringVar(&o.HTML, "html", "", "HTML alternative: @FILE or TEXT (makes multipart/alternative)")
	f.StringArrayVar(&o.Attach, "attach", nil, "attach FILE (repeatable; type detected)")
	f.StringArrayVar(&o.AttachInline, "attach-inline", nil, "attach FILE inline with a Content-ID (repeatable)")
	f.StringArrayVarP(&o.Headers, "header", "H", nil, "header \"Name: value\": replaces one of the same name or adds it (repeatable)")
	f.StringVar(&o.Data, "data", "", "send a whole RFC 5322 message from @FILE or - (stdin) as is")
	f.StringVar(&o.DKIMKey, "dkim-key", "", "PEM private key (RSA or Ed25519) to DKIM-sign with")
	f.StringVar(&o.DKIMSelector, "dkim-selector", "", "DKIM selector (s=)")
	f.StringVar(&o.DKIMDomain, "dkim-domain", "", "DKIM signing domain (d=; default: the sender's domain)")
	f.BoolVar(&o.DryRun, "dry-run", false, "print the envelope and message; connect to nothing")

	f.StringVar(&o.Pipelining, "pipelining", "auto", "PIPELINING: auto (when offered), on (required) or off")
	f.StringVar(&o.Chunking, "chunking", "auto", "CHUNKING/BDAT: auto (when offered), on (required) or off")
	f.StringVar(&o.QuitAfter, "quit-after", "", "stop after: "+strings.Join(smtp.QuitAfterPoints, ", "))
	f.StringArrayVar(&o.Commands, "command", nil, "send LINE after EHLO (and AUTH) and show the reply (repeatable)")
	f.StringVar(&o.TLSPolicy, "tls-policy", "", "without --server: TLS level for MX delivery: opportunistic, required, verify, dane, dane-only or mta-sts (default: DANE, MTA-STS or opportunistic as published)")
	f.IntVar(&o.MXPort, "mx-port", 0, "without --server: connect to MX hosts on PORT instead of 25 (a testing aid)")
	_ = f.MarkHidden("mx-port")
	o.BatchOptions.flags(f)

	for name, vals := range map[string][]string{
		"tls":        {"auto", "starttls", "implicit", "opportunistic", "none"},
		"protocol":   {"esmtp", "smtp", "lmtp"},
		"auth":       {"auto", "none", "PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256", "XOAUTH2", "OAUTHBEARER", "EXTERNAL"},
		"tls-min":    {"1.0", "1.1", "1.2", "1.3"},
		"dsn-ret":    {"FULL", "HDRS"},
		"pipelining": {"auto", "on", "off"},
		"chunking":   {"auto", "on", "off"},
		"quit-after": smtp.QuitAfterPoints,
		"tls-policy": {"opportunistic", "required", "verify", "dane", "dane-only", "mta-sts"},
	} {
		_ = cmd.RegisterFlagCompletionFunc(name, fixedCompletion(vals...))
	}
	return cmd
}

// plan is SendOptions resolved against the config and checked.
type plan struct {
	submit  smtp.SubmitOptions
	msg     *message.Prepared
	rcpts   []string
	needMsg bool
	// mx: no server, deliver to the recipients' MX at this TLS level.
	mx      bool
	mxLevel tlspolicy.Level
}

func runSend(ctx context.Context, g *globals, o *SendOptions) error {
	if err := o.checkBatch(); err != nil {
		return err
	}
	if o.Batch != "" {
		return runSendBatch(ctx, g, o)
	}
	s, err := g.loadConfig()
	if err != nil {
		return err
	}
	o.applySettings(s)
	p, err := o.plan(ctx, g, s)
	if err != nil {
		return err
	}
	if p.msg != nil {
		defer p.msg.Close()
	}
	pr := g.printer()
	if o.DryRun {
		return dryRun(pr, p)
	}
	if p.mx {
		return runSendMX(ctx, g, o, p)
	}
	var tr smtp.Transcript
	live := pr.Trace()
	p.submit.Client.Trace = func(ev smtp.Event) {
		tr.Add(ev)
		if live != nil {
			live(ev)
		}
	}
	res, err := smtp.Submit(ctx, p.submit)
	if rerr := pr.Send(res, tr.Events); rerr != nil && err == nil {
		return rerr
	}
	return sendOutcome(res, err)
}

// sendOutcome turns the session's error and per-recipient replies into one
// error whose exit code is the most severe outcome.
func sendOutcome(res *smtp.SubmitResult, err error) error {
	if err != nil && !errors.Is(err, smtp.ErrNoRecipients) {
		return err
	}
	code, refused := ExitOK, 0
	var first error
	for _, r := range res.Recipients {
		rep := r.Reply
		if r.Accepted && r.Data != nil {
			rep = *r.Data
		}
		if rep.Code/100 == 2 || (!r.Accepted && rep.Code == 0) {
			continue
		}
		refused++
		se := &smtp.Error{Command: "RCPT TO:<" + r.Addr + ">", Reply: rep}
		if first == nil {
			first = se
		}
		code = worse(code, replyExit(se))
	}
	if refused == 0 {
		return nil
	}
	msg := fmt.Errorf("%d of %d recipients refused: %w", refused, len(res.Recipients), first)
	return &ExitError{Code: code, Err: msg}
}

// applySettings fills options the user did not give on the command line
// from the resolved config (profile, defaults, SMTPKIT_* variables).
func (o *SendOptions) applySettings(s config.Settings) {
	str := func(flag string, dst *string, v *string) {
		if !o.changed(flag) && v != nil {
			*dst = *v
		}
	}
	boolean := func(flag string, dst *bool, v *bool) {
		if !o.changed(flag) && v != nil {
			*dst = *v
		}
	}
	str("server", &o.Server, s.Server)
	str("tls", &o.TLS, s.TLS)
	boolean("insecure", &o.Insecure, s.Insecure)
	str("ca-file", &o.CAFile, s.CAFile)
	str("tls-sni", &o.TLSSNI, s.TLSSNI)
	str("tls-min", &o.TLSMin, s.TLSMin)
	str("client-cert", &o.ClientCert, s.ClientCert)
	str("client-key", &o.ClientKey, s.ClientKey)
	str("ehlo", &o.Ehlo, s.EHLO)
	str("protocol", &o.Protocol, s.Protocol)
	str("local-addr", &o.LocalAddr, s.LocalAddr)
	str("auth", &o.Auth, s.Auth)
	str("user", &o.User, s.User)
	str("password-file", &o.PasswordFile, s.PasswordFile)
	str("password-env", &o.PasswordEnv, s.PasswordEnv)
	boolean("allow-plaintext-auth", &o.AllowPlaintextAuth, s.AllowPlaintextAuth)
	str("from", &o.From, s.From)
	str("pipelining", &o.Pipelining, s.Pipelining)
	str("chunking", &o.Chunking, s.Chunking)
	str("dkim-key", &o.DKIMKey, s.DKIMKey)
	str("dkim-selector", &o.DKIMSelector, s.DKIMSelector)
	str("dkim-domain", &o.DKIMDomain, s.DKIMDomain)
}

func oneOf(flag, v string, allowed ...string) error {
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return nil
		}
	}
	return usageErrorf("--%s %q: want one of %s", flag, v, strings.Join(allowed, ", "))
}

// plan checks every option and builds the session and the message.
func (o *SendOptions) plan(ctx context.Context, g *globals, s config.Settings) (*plan, error) {
	for _, c := range []error{
		oneOf("tls", o.TLS, "auto", "starttls", "implicit", "opportunistic", "none"),
		oneOf("protocol", o.Protocol, "esmtp", "smtp", "lmtp"),
		oneOf("pipelining", o.Pipelining, "auto", "on", "off"),
		oneOf("chunking", o.Chunking, "auto", "on", "off"),
		oneOf("tls-min", o.TLSMin, "1.0", "1.1", "1.2", "1.3"),
	} {
		if c != nil {
			return nil, c
		}
	}
	if o.QuitAfter != "" {
		if err := oneOf("quit-after", o.QuitAfter, smtp.QuitAfterPoints...); err != nil {
			return nil, err
		}
	}
	if o.DSNRet != "" {
		if err := oneOf("dsn-ret", o.DSNRet, "FULL", "HDRS"); err != nil {
			return nil, err
		}
	}
	notify, err := parseNotify(o.DSNNotify)
	if err != nil {
		return nil, err
	}
	if o.Data != "" && (o.Subject != "" || o.Body != "" || o.HTML != "" || len(o.Attach)+len(o.AttachInline) > 0) {
		return nil, usageErrorf("--data sends a whole message: it cannot be combined with --subject, --body, --html or --attach")
	}
	if o.Data == "-" && o.Body == "-" {
		return nil, usageErrorf("only one of --data and --body can read stdin")
	}
	if (o.DKIMKey != "") != (o.DKIMSelector != "") {
		return nil, usageErrorf("DKIM signing needs both --dkim-key and --dkim-selector")
	}

	p := &plan{}
	sub := &p.submit
	// Envelope.
	from, err := o.sender(g)
	if err != nil {
		return nil, err
	}
	to, err := parseAddrLists(o.To)
	if err != nil {
		return nil, err
	}
	cc, err := parseAddrLists(o.Cc)
	if err != nil {
		return nil, err
	}
	bcc, err := parseAddrLists(o.Bcc)
	if err != nil {
		return nil, err
	}
	all := append(append(append([]message.Address{}, to...), cc...), bcc...)
	p.needMsg = !stopsBeforeMail(o.QuitAfter)
	if len(all) == 0 && (p.needMsg && o.QuitAfter != "mail") {
		return nil, usageErrorf("no recipient: give --to (or --cc/--bcc)")
	}
	sub.From = from.String()
	for _, a := range all {
		sub.Rcpts = append(sub.Rcpts, smtp.Recipient{Addr: a.String(), Opts: &smtp.RcptOptions{Notify: notify, Extra: o.RcptParams}})
		p.rcpts = append(p.rcpts, a.String())
	}
	sub.MailOpts = smtp.MailOptions{Ret: strings.ToUpper(o.DSNRet), EnvID: o.EnvID, RequireTLS: o.RequireTLS, Extra: o.MailParams}
	for _, prm := range append(append([]string{}, o.MailParams...), o.RcptParams...) {
		if prm == "" || strings.ContainsAny(prm, " \r\n\t") {
			return nil, usageErrorf("ESMTP parameter %q: want KEY or KEY=VALUE without spaces", prm)
		}
	}

	// Server.
	if o.Server == "" {
		if p.mxLevel, err = o.checkMX(); err != nil {
			return nil, err
		}
		p.mx = true
	} else if o.changed("tls-policy") || o.changed("mx-port") {
		return nil, usageErrorf("--tls-policy and --mx-port apply to delivery without --server")
	}
	if o.MXPort < 0 || o.MXPort > 65535 {
		return nil, usageErrorf("--mx-port %d: want a port number", o.MXPort)
	}
	wantAuth := o.User != "" || (o.Auth != "" && !strings.EqualFold(o.Auth, "none"))
	host, addr, port, err := serverAddr(o.Server, o.TLS, o.User != "")
	if err != nil {
		return nil, err
	}
	sub.Addr, sub.Host = addr, host
	if o.TLSSNI != "" {
		sub.Host = o.TLSSNI
	}
	sub.TLS = smtp.ResolveTLSMode(smtp.TLSMode(strings.ToLower(o.TLS)), port, wantAuth)
	if strings.HasPrefix(addr, "unix:") && smtp.TLSMode(strings.ToLower(o.TLS)) == smtp.TLSAuto {
		sub.TLS = smtp.TLSOpportunistic
	}
	sub.Insecure = o.Insecure
	sub.Protocol = strings.ToLower(o.Protocol)
	sub.Client.LMTP = sub.Protocol == "lmtp"
	sub.LocalAddr = o.LocalAddr
	sub.Dialer = g.env.Dialer
	sub.Now = g.env.Now
	switch {
	case g.ipv4:
		sub.Network = "tcp4"
	case g.ipv6:
		sub.Network = "tcp6"
	}
	if sub.Helo, err = g.heloName(o.Ehlo); err != nil {
		return nil, err
	}
	timeout := g.timeout
	if timeout == 0 && s.Timeout != nil {
		timeout = *s.Timeout
	}
	if timeout > 0 {
		sub.Client.Timeouts = smtp.Uniform(timeout)
	}
	sub.Client.ShowSecrets = o.ShowSecrets
	sub.Pipelining, sub.Chunking = strings.ToLower(o.Pipelining), strings.ToLower(o.Chunking)
	if sub.Client.LMTP && sub.Chunking == "auto" {
		sub.Chunking = "off"
	}
	sub.QuitAfter = o.QuitAfter
	for _, c := range o.Commands {
		if strings.ContainsAny(c, "\r\n") {
			return nil, usageErrorf("--command %q contains a line break", c)
		}
	}
	sub.Commands = o.Commands
	if sub.TLSConfig, err = o.tlsConfig(sub.Host); err != nil {
		return nil, err
	}

	// Message.
	if p.needMsg || o.DryRun {
		p.msg, err = o.message(g, from, to, cc)
		if err != nil {
			return nil, err
		}
		sub.Message = &smtp.Message{Open: p.msg.Open, Size: p.msg.Size, EightBit: p.msg.EightBit, UTF8: p.msg.UTF8Headers}
	}

	// AUTH last: a password prompt should come after every cheap check.
	if wantAuth && !o.DryRun && !p.mx && !stopsBeforeAuth(o.QuitAfter) {
		mech := o.Auth
		if mech == "" {
			mech = "auto"
		}
		sub.AuthMech = mech
		sub.AllowPlaintextAuth = o.AllowPlaintextAuth
		sub.Credentials = smtp.Credentials{User: o.User, Port: atoi(port)}
		if !strings.EqualFold(mech, "EXTERNAL") {
			if o.User == "" {
				return nil, usageErrorf("--auth %s needs --user", mech)
			}
			pw, err := o.password(ctx, g, s)
			if err != nil {
				if p.msg != nil {
					p.msg.Close()
				}
				return nil, err
			}
			sub.Credentials.Password = pw
		}
	}
	return p, nil
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

func stopsBeforeMail(q string) bool {
	switch q {
	case "connect", "banner", "ehlo", "starttls", "auth":
		return true
	}
	return false
}

func stopsBeforeAuth(q string) bool {
	switch q {
	case "connect", "banner", "ehlo", "starttls":
		return true
	}
	return false
}

func parseNotify(v string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	var out []string
	for _, n := range strings.Split(v, ",") {
		n = strings.ToUpper(strings.TrimSpace(n))
		switch n {
		case "NEVER", "SUCCESS", "FAILURE", "DELAY":
			out = append(out, n)
		default:
			return nil, usageErrorf("--dsn-notify %q: want NEVER or a list of SUCCESS, FAILURE, DELAY", v)
		}
	}
	for _, n := range out {
		if n == "NEVER" && len(out) > 1 {
			return nil, usageErrorf("--dsn-notify: NEVER cannot be combined with other values (RFC 3461 4.1)")
		}
	}
	return out, nil
}

func parseAddrLists(vals []string) ([]message.Address, error) {
	var out []message.Address
	for _, v := range vals {
		as, err := message.ParseList(v)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			if a.IsNull() {
				return nil, &message.AddressError{Input: v, Reason: "a recipient cannot be the null address"}
			}
		}
		out = append(out, as...)
	}
	return out, nil
}

// sender is --from, or $USER@host like swaks.
func (o *SendOptions) sender(g *globals) (message.Address, error) {
	v := o.From
	if v == "" {
		user := g.env.getenv("USER")
		if user == "" {
			user = "smtpkit"
		}
		v = user + "@" + g.hostname()
	}
	return message.ParseAddress(v)
}

func (g *globals) hostname() string {
	if g.env.Hostname != nil {
		// A name that is no domain (a container's, say) would end up in
		// headers and greetings: localhost instead, as with no name.
		if h, err := g.env.Hostname(); err == nil && hostNameProblem(h) == "" {
			return h
		}
	}
	return "localhost"
}

// serverAddr splits --server into the host to verify and the address to
// dial, adding the default port.
func serverAddr(server, tlsMode string, auth bool) (host, addr, port string, err error) {
	if server == "" {
		return "", "", "", nil
	}
	if p, ok := strings.CutPrefix(server, "unix:"); ok {
		if p == "" {
			return "", "", "", usageErrorf("--server unix: needs a socket path")
		}
		return "localhost", server, "", nil
	}
	host, port = server, ""
	if h, p, e := net.SplitHostPort(server); e == nil {
		host, port = h, p
	} else if strings.Count(server, ":") > 1 && !strings.HasPrefix(server, "[") {
		host = server // a bare IPv6 address
	} else if strings.Contains(server, ":") {
		return "", "", "", usageErrorf("--server %q: want HOST[:PORT]", server)
	}
	host = strings.Trim(host, "[]")
	if host == "" {
		return "", "", "", usageErrorf("--server %q: empty host", server)
	}
	if port == "" {
		switch {
		case strings.EqualFold(tlsMode, "implicit"):
			port = "465"
		case auth:
			port = "587"
		default:
			port = "25"
		}
	}
	if n, e := strconv.Atoi(port); e != nil || n < 1 || n > 65535 {
		return "", "", "", usageErrorf("--server %q: bad port %q", server, port)
	}
	return host, net.JoinHostPort(host, port), port, nil
}

var tlsVersions = map[string]uint16{"1.0": tls.VersionTLS10, "1.1": tls.VersionTLS11, "1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}

func (o *SendOptions) tlsConfig(host string) (*tls.Config, error) {
	// The system's roots, read the fast way (see tlspolicy.SystemRoots).
	cfg := &tls.Config{ServerName: host, MinVersion: tlsVersions[o.TLSMin], RootCAs: tlspolicy.SystemRoots()}
	if o.CAFile != "" {
		pool, err := loadCAFile(o.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if (o.ClientCert == "") != (o.ClientKey == "") {
		return nil, usageErrorf("--client-cert and --client-key go together")
	}
	if o.ClientCert != "" {
		for _, f := range []string{o.ClientCert, o.ClientKey} {
			if _, err := os.Stat(f); err != nil {
				return nil, fmt.Errorf("client certificate: %w", err)
			}
		}
		pair, err := tls.LoadX509KeyPair(o.ClientCert, o.ClientKey)
		if err != nil {
			return nil, &config.Error{Msg: fmt.Sprintf("client certificate %s: %v", o.ClientCert, err)}
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// password finds the secret: --password-file, --password-env, the config
// (inline, file, env or command), or a prompt on the terminal.
func (o *SendOptions) password(ctx context.Context, g *globals, s config.Settings) (string, error) {
	if o.PasswordFile != "" || o.PasswordEnv != "" {
		s.InlinePassword, s.PasswordCommand, s.PasswordFile, s.PasswordEnv = nil, nil, nil, nil
		if o.PasswordFile != "" {
			s.PasswordFile = &o.PasswordFile
		} else {
			s.PasswordEnv = &o.PasswordEnv
		}
	}
	pw, ok, err := s.Password(ctx, g.env.LookupEnv)
	if err != nil {
		return "", err
	}
	if ok {
		noCoreDumps()
		return pw, nil
	}
	noPW := &config.Error{Msg: "no password for " + o.User + ": give --password-file, --password-env or password_command in the config"}
	if g.env.Prompt == nil {
		return "", noPW
	}
	// The prompt uses /dev/tty, so it works with the message on stdin.
	noCoreDumps()
	pw, err = g.env.Prompt(fmt.Sprintf("Password for %s: ", o.User))
	if errors.Is(err, errNoTTY) {
		return "", noPW
	}
	return pw, err
}

// message prepares the content: --data as is, or a composed message.
func (o *SendOptions) message(g *globals, from message.Address, to, cc []message.Address) (*message.Prepared, error) {
	var dkim *message.DKIMOptions
	if o.DKIMKey != "" {
		d := o.DKIMDomain
		if d == "" {
			d = from.Domain
		}
		dkim = &message.DKIMOptions{Domain: d, Selector: o.DKIMSelector, KeyPath: o.DKIMKey, Now: g.env.Now()}
	}
	if o.Data != "" {
		dopts := message.DataOptions{Headers: o.Headers, DKIM: dkim}
		if o.Data == "-" {
			return message.FromReader(g.env.Stdin, dopts)
		}
		path, ok := strings.CutPrefix(o.Data, "@")
		if !ok {
			return nil, usageErrorf("--data %q: want @FILE or - for stdin", o.Data)
		}
		return message.FromFile(path, dopts)
	}
	c := message.ComposeOptions{
		From: from, To: to, Cc: cc, Subject: o.Subject, Headers: o.Headers,
		Now: g.env.Now(), Hostname: g.hostname(), DKIM: dkim,
	}
	var closers []io.Closer
	defer func() {
		for _, cl := range closers {
			cl.Close()
		}
	}()
	switch {
	case o.Body == "-":
		c.BodyReader = g.env.Stdin
	case strings.HasPrefix(o.Body, "@"):
		f, err := os.Open(o.Body[1:])
		if err != nil {
			return nil, fmt.Errorf("--body: %w", err)
		}
		closers = append(closers, f)
		c.BodyReader = f
	default:
		c.Body = unescapeBody(o.Body)
	}
	if o.HTML != "" {
		if path, ok := strings.CutPrefix(o.HTML, "@"); ok {
			f, err := os.Open(path)
			if err != nil {
				return nil, fmt.Errorf("--html: %w", err)
			}
			closers = append(closers, f)
			c.HTML = f
		} else {
			c.HTML = strings.NewReader(o.HTML)
		}
	}
	for _, a := range o.Attach {
		c.Attach = append(c.Attach, message.Attachment{Path: a})
	}
	for _, a := range o.AttachInline {
		c.Attach = append(c.Attach, message.Attachment{Path: a, Inline: true})
	}
	return message.Compose(c)
}

// unescapeBody turns the two-character sequence \n into a line break, as
// swaks does, so one-liners can write multi-line bodies.
func unescapeBody(s string) string { return strings.ReplaceAll(s, `\n`, "\n") }

func dryRun(pr *render.Printer, p *plan) error {
	var params string
	if p.msg != nil {
		mo := p.submit.MailOpts
		mo.Size = p.msg.Size
		params = strings.TrimPrefix(smtp.MailCommand(p.submit.From, &mo), "MAIL FROM:<"+p.submit.From+">")
	}
	server := p.submit.Addr
	if p.mx {
		server = "(the recipients' MX hosts)"
	}
	d := render.DryRun{Server: server, From: p.submit.From, Rcpts: p.rcpts, MailParams: strings.TrimSpace(params)}
	if p.msg == nil {
		return pr.DryRun(d)
	}
	d.Size = p.msg.Size
	rc, err := p.msg.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	d.Message = rc
	return pr.DryRun(d)
}
