package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/smtpkit/smtpkit/internal/cli/render"
	"github.com/smtpkit/smtpkit/internal/config"
	"github.com/smtpkit/smtpkit/internal/message"
	"github.com/smtpkit/smtpkit/internal/sendmail"
)

// SendmailOptions is a sendmail command line, parsed by internal/sendmail
// (pflag cannot read "-FCronDaemon -oem -odi -B8BITMIME"), and the mode
// the program name implies.
type SendmailOptions struct {
	Args []string
	// Mode is sendmail.ModeQueue when the program runs as mailq.
	Mode sendmail.Mode

	// relay hands the message to the relay; nil means relayMessage.
	// Tests replace it to see the envelope and message sendmail made.
	relay func(ctx context.Context, g *globals, o *RelayOptions, msg io.Reader) (*render.RelayResult, error)
}

const sendmailHelp = `Usage: sendmail [option ...] [--] [recipient ...]
       mailq

smtpkit's sendmail-compatible entry point, for cron, PHP, mutt and git
send-email. It is chosen when the binary runs as "sendmail" (or "mailq",
which lists the spool), or as "smtpkit sendmail". The message on standard
input is stored in the relay's spool, then delivered like 'smtpkit relay';
the exit status is 0 once the message is safely spooled, even when its
delivery is deferred (a later 'smtpkit relay flush' retries it).

Options (as Postfix's sendmail reads them; clusters like -ti work):
  -t            also take recipients from To, Cc and Bcc (Resent-* when
                present); Bcc is removed from the message
  -i, -oi       a line with only "." does not end the input
  -f ADDR, -r ADDR
                envelope sender (default: the config's from, or $USER@host)
  -F NAME       full name for the From field added when there is none
                (default $NAME)
  -N DSN, -R full|hdrs, -V ENVID
                DSN requests (never or success,delay,failure; return; ID):
                checked, a bad value only warns (as in Postfix), not yet
                passed on to the next hop
  -B 7BIT|8BITMIME
                body type: checked; BODY=8BITMIME goes out whenever the
                message has 8-bit octets
  -bm           deliver (the default); -bp list the spool (mailq)
  -q            attempt every spooled message now (relay flush --all);
                -qINTERVAL is ignored
  -v            print the delivery report and the options ignored (-vv
                adds the SMTP transcript)
  -o X VALUE, -oX, -odi, -oem, ...
                accepted and ignored, like every other option
  --            ends the options

Settings come from the config file and SMTPKIT_* variables, since the
command line belongs to sendmail: SMTPKIT_SPOOL, SMTPKIT_ROUTE
(comma-separated DOMAIN=HOST[:PORT]), SMTPKIT_SMARTHOST, SMTPKIT_TLS_POLICY
and the other names 'smtpkit relay' reads, plus SMTPKIT_CONFIG and
SMTPKIT_PROFILE.

EXIT STATUS
  0 the message is spooled (or the queue listed or flushed); 64 usage; 65 bad
  message or address; 73 cannot create the spool; 74 I/O error on the spool;
  78 configuration error.
`

func newSendmailCmd(g *globals) *cobra.Command {
	o := &SendmailOptions{Mode: sendmail.ModeDeliver}
	cmd := &cobra.Command{
		Use:   "sendmail [option ...] [recipient ...]",
		Short: "sendmail-compatible interface to the relay (also as 'sendmail' and 'mailq')",
		Long:  sendmailHelp,
		Example: `  printf 'To: ops@example.com\nSubject: nightly\n\nall good\n' | sendmail -t -i -f root
  sendmail -bp                # = mailq = smtpkit relay queue
  sendmail -q                 # = smtpkit relay flush --all
  ln -s "$(command -v smtpkit)" /usr/sbin/sendmail`,
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && args[0] == "--help" {
				return cmd.Help()
			}
			if len(g.args) > 0 && g.args[0] != "sendmail" {
				// Cobra passes flags given before "sendmail" on as its
				// arguments, where they would read as sendmail's.
				return usageErrorf("smtpkit sendmail: no smtpkit flags before sendmail; settings come from the config and SMTPKIT_* variables")
			}
			o.Args = args
			return runSendmail(cmd.Context(), g, o)
		},
	}
	return cmd
}

// runSendmail parses the sendmail command line and runs its mode.
func runSendmail(ctx context.Context, g *globals, o *SendmailOptions) error {
	so, err := sendmail.Parse(o.Args, o.Mode)
	if err != nil {
		var ue *sendmail.UsageError
		if errors.As(err, &ue) {
			return &UsageError{Msg: "sendmail: " + ue.Msg}
		}
		return err
	}
	p := g.printer()
	for _, w := range so.Warnings {
		// sendmail.c warns about a bad -N, -R or -V and goes on.
		p.Warn("sendmail: " + w)
	}
	if so.Verbose > 0 && len(so.Ignored) > 0 {
		p.Warn("sendmail: ignored: " + strings.Join(so.Ignored, " "))
	}
	// Programs that call sendmail expect silence on success: the relay's
	// report (and its transcript, with -vv) only with -v.
	g.verbose = max(so.Verbose-1, 0)
	g.quiet = so.Verbose == 0 && so.Mode != sendmail.ModeQueue
	g.p = nil
	ro, err := sendmailRelayOptions(g)
	if err != nil {
		return err
	}
	switch so.Mode {
	case sendmail.ModeNothing:
		return nil
	case sendmail.ModeQueue:
		return runRelayQueue(ctx, g, ro)
	case sendmail.ModeFlush:
		// sendmail(1) -q: "attempt to deliver all queued mail" (postqueue
		// -f), due or not.
		ro.All = true
		return runRelayFlush(ctx, g, ro)
	}
	return sendmailDeliver(ctx, g, so, ro, o.relay)
}

// sendmailRelayOptions are relay's options as sendmail takes them, with no
// flags: relay itself reads SMTPKIT_SPOOL, SMTPKIT_ROUTE, SMTPKIT_SMARTHOST
// and SMTPKIT_TLS_POLICY; AUTH, the CA file, the EHLO name and the
// resolver come from the config (or its SMTPKIT_* variables: SMTPKIT_USER,
// SMTPKIT_AUTH, SMTPKIT_CA_FILE, SMTPKIT_EHLO, SMTPKIT_RESOLVER...).
func sendmailRelayOptions(g *globals) (*RelayOptions, error) {
	s, err := g.loadConfig()
	if err != nil {
		return nil, err
	}
	ro := &RelayOptions{changed: func(string) bool { return false }, Concurrency: 4}
	for _, f := range []struct {
		dst *string
		src *string
	}{{&ro.User, s.User}, {&ro.Auth, s.Auth}, {&ro.CAFile, s.CAFile}, {&ro.Ehlo, s.EHLO}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	if s.AllowPlaintextAuth != nil {
		ro.AllowPlaintextAuth = *s.AllowPlaintextAuth
	}
	if s.Resolver != nil && len(g.resolvers) == 0 {
		g.resolvers = []string{*s.Resolver}
	}
	if v := g.env.getenv("SMTPKIT_MX_PORT"); v != "" {
		// A testing aid, like relay's hidden --mx-port: MX hosts on
		// loopback listen on another port than 25.
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			return nil, &config.Error{Msg: fmt.Sprintf("SMTPKIT_MX_PORT %q: want a port number", v)}
		}
		ro.MXPort = n
	}
	return ro, nil
}

// sendmailDeliver reads the message, works out its envelope and hands it
// to the relay.
func sendmailDeliver(ctx context.Context, g *globals, so *sendmail.Options, ro *RelayOptions,
	relay func(context.Context, *globals, *RelayOptions, io.Reader) (*render.RelayResult, error)) error {
	host := g.hostname()
	sender, err := sendmailSender(g, so, host)
	if err != nil {
		return err
	}
	name := so.FullName
	if name == "" {
		// sendmail(1): -F overrides the NAME environment variable.
		name = g.env.getenv("NAME")
	}
	msg, headerRcpts, err := sendmail.Submission(sendmail.Input(g.env.Stdin, so.DotEnds), sendmail.SubmitOptions{
		Extract:  so.Extract,
		Sender:   sender.String(),
		FullName: name,
		Now:      g.env.Now,
		Host:     host,
		ID:       randomID(),
	})
	if err != nil {
		var he *sendmail.HeaderError
		if errors.As(err, &he) {
			return &message.MessageError{Source: "message on stdin", Reason: he.Reason}
		}
		return &ExitError{Code: ExitIOErr, Err: fmt.Errorf("reading the message: %w", err)}
	}
	var items []string
	for _, arg := range so.Recipients {
		items = append(items, sendmail.Addresses(arg)...)
	}
	items = append(items, headerRcpts...)
	rcpts, err := sendmailRecipients(items, host)
	if err != nil {
		return err
	}
	if len(rcpts) == 0 {
		// sendmail.c: EX_USAGE, "No recipient addresses found in message header".
		return usageErrorf("sendmail: no recipient addresses found in the message header")
	}
	ro.From = "<>"
	if !sender.IsNull() {
		ro.From = sender.String()
	}
	ro.To = rcpts
	// -N, -R and -V (checked by the parser, which warns and drops a bad
	// one as sendmail.c does) go with the message into the spool.
	ro.DSNNotify, ro.DSNRet, ro.EnvID = strings.Join(so.Notify, ","), so.Return, so.EnvID
	if relay == nil {
		relay = relayMessage
	}
	res, err := relay(ctx, g, ro, msg)
	if err != nil {
		// Not spooled: the message is still the caller's.
		return err
	}
	// Spooled: exit 0 whatever the first attempt did, as sendmail does;
	// deferred recipients wait for a flush, failed ones are bounced.
	return g.printer().Relay(*res)
}

// sendmailSender is -f (or -r), else the config's from, else $USER@host.
// A bare name is qualified with host, as Postfix appends $myorigin.
func sendmailSender(g *globals, so *sendmail.Options, host string) (message.Address, error) {
	v := so.Sender
	if !so.SenderSet {
		s, err := g.loadConfig()
		if err != nil {
			return message.Address{}, err
		}
		if s.From != nil && *s.From != "" {
			v = *s.From
		} else {
			v = g.env.getenv("USER")
			if v == "" {
				v = "smtpkit"
			}
		}
	}
	if items := sendmail.Addresses(v); len(items) > 0 {
		// sendmail.c: the first address of -f counts.
		v = items[0]
	} else {
		v = ""
	}
	if v == "" || v == "<>" {
		return message.Address{}, nil
	}
	return message.ParseAddress(qualify(v, host))
}

// sendmailRecipients parses, qualifies and de-duplicates the recipients.
func sendmailRecipients(items []string, host string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, it := range items {
		a, err := message.ParseAddress(qualify(it, host))
		if err != nil {
			return nil, err
		}
		if a.IsNull() {
			continue
		}
		key := strings.ToLower(a.String())
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, a.String())
	}
	return out, nil
}

// qualify appends "@host" to a bare local part ("root"), as Postfix
// appends $myorigin to an unqualified address.
func qualify(addr, host string) string {
	if strings.Contains(addr, "@") {
		return addr
	}
	return addr + "@" + host
}

// randomID makes the local part of an added Message-ID.
func randomID() string {
	b := make([]byte, 12)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// commandLine turns the process's argv into smtpkit's command line. Run as
// "sendmail" or "mailq" (a link to the binary, as MTAs install them), the
// whole argv belongs to the sendmail command; mailq means -bp, as in
// Postfix, and later options may still change the mode.
func commandLine(argv []string) []string {
	if len(argv) == 0 {
		return nil
	}
	switch filepath.Base(argv[0]) {
	case "sendmail":
		return append([]string{"sendmail"}, argv[1:]...)
	case "mailq":
		return append([]string{"sendmail", "-bp"}, argv[1:]...)
	}
	return argv[1:]
}
