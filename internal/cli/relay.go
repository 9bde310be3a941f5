package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/smtpkit/smtpkit/internal/spool"
	"github.com/smtpkit/smtpkit/internal/tlspolicy"
)

// RelayOptions are the flags of `smtpkit relay` and its subcommands. The
// spool, routing, TLS and AUTH fields are shared by every subcommand (and
// by `smtpkit sendmail`, which fills them from SMTPKIT_* variables and the
// config only).
type RelayOptions struct {
	Spool              string
	Routes             []string
	Smarthost          string
	Auth               string
	User               string
	PasswordFile       string
	PasswordEnv        string
	AllowPlaintextAuth bool
	TLSPolicy          string
	CAFile             string
	Ehlo               string
	MXPort             int
	MaxAge             string
	MinBackoff         string
	MaxBackoff         string
	NotifyDelay        string

	// relay itself.
	From     string
	To       []string
	Extract  bool // -t
	RetryFor string
	// DSN requests (RFC 3461), kept with the spooled message: NOTIFY for
	// every recipient, RET and ENVID; validated as send's flags are.
	DSNNotify string
	DSNRet    string
	EnvID     string

	// flush, retry.
	Concurrency int
	All         bool

	changed func(name string) bool
}

const relayExit = `

EXIT STATUS
  0 every recipient delivered (relay), or the command did its work; 64 usage;
  65 bad address or message; 66 unreadable input file; 67 a recipient unknown
  (5.1.1); 68 no such domain or null MX; 69 other permanent failure; 73 cannot
  create the spool; 74 I/O error on the spool; 75 some recipients deferred
  (they stay in the spool and a later flush retries them); 77 policy
  rejection (5.7.x); 78 configuration error. With several recipients the most
  severe outcome wins; a failed recipient's sender gets a bounce.`

func newRelayCmd(g *globals) *cobra.Command {
	o := &RelayOptions{}
	cmd := &cobra.Command{
		Use:   "relay [--from ADDR] [--to ADDR ...] [-t] [FILE|-]",
		Short: "Store a message in the spool and deliver it with retries and bounces",
		Long: `Relay a message to its recipients' mail servers like an MTA, with no daemon:
the message (FILE, or stdin) is checked, stored durably in the spool (written,
fsynced and linked before anything is sent), then delivered at once through
each recipient domain's MX hosts, a --route, or a --smarthost. The stored
message starts with a trace field, as Postfix's pickup adds one:
"Received: by HOST (smtpkit, from userid UID) id ID; DATE", HOST being --ehlo
or this host's name.

Recipients that are deferred (4xx, no answer, DNS trouble) stay in the spool;
run 'smtpkit relay flush' from cron to retry them. The wait between attempts
grows with the message's age like Postfix's: 5 minutes, then doubling, at
most about 67 minutes (--min-backoff, --max-backoff). After --max-age (5 days)
the remaining recipients fail. Failed recipients are reported to the
envelope sender in an RFC 3464 delivery status notification sent from <>;
a message from <> (a bounce itself) is never bounced.

--retry-for keeps retrying in this process, with backoff and jitter, until
every recipient is decided or the time is up.

The spool is --spool, $SMTPKIT_SPOOL, $XDG_STATE_HOME/smtpkit/spool
(~/.local/state/smtpkit/spool), or /var/spool/smtpkit for root. Routes come
from --route DOMAIN=HOST[:PORT] (repeatable, "*" for any domain) or
$SMTPKIT_ROUTE (comma-separated); a smarthost from --smarthost or
$SMTPKIT_SMARTHOST; the TLS policy from --tls-policy or $SMTPKIT_TLS_POLICY.` + relayExit,
		Example: `  smtpkit relay --from me@example.com --to you@example.net message.eml
  smtpkit relay -t < message.eml
  smtpkit relay --smarthost smtp.example.com:587 --user me --password-file ~/.pw -t message.eml
  smtpkit relay --route example.net=127.0.0.1:2525 --to test@example.net --retry-for 10m message.eml
  smtpkit relay flush                  # from cron, every few minutes
  smtpkit relay queue --format json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.changed = func(n string) bool { return cmd.Flags().Changed(n) }
			in := "-"
			if len(args) == 1 {
				in = args[0]
			}
			return runRelay(cmd.Context(), g, o, in)
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.Spool, "spool", "", "spool directory (env SMTPKIT_SPOOL; default $XDG_STATE_HOME/smtpkit/spool, /var/spool/smtpkit for root)")
	pf.StringArrayVar(&o.Routes, "route", nil, "deliver DOMAIN's mail to HOST[:PORT]: DOMAIN=HOST[:PORT], \"*\" for any (repeatable; env SMTPKIT_ROUTE, comma-separated)")
	pf.StringVar(&o.Smarthost, "smarthost", "", "send all mail through HOST[:PORT] (env SMTPKIT_SMARTHOST)")
	pf.StringVar(&o.Auth, "auth", "", "AUTH mechanism for the smarthost (default auto when --user is given)")
	pf.StringVarP(&o.User, "user", "u", "", "AUTH user name for the smarthost")
	pf.StringVar(&o.PasswordFile, "password-file", "", "read the smarthost password from the first line of FILE")
	pf.StringVar(&o.PasswordEnv, "password-env", "", "read the smarthost password from the environment variable NAME")
	pf.BoolVar(&o.AllowPlaintextAuth, "allow-plaintext-auth", false, "allow AUTH on a connection without TLS")
	pf.StringVar(&o.TLSPolicy, "tls-policy", "", "TLS policy: opportunistic, required, verify, dane or mta-sts (env SMTPKIT_TLS_POLICY; default: DANE, then MTA-STS, then opportunistic)")
	pf.StringVar(&o.CAFile, "ca-file", "", "PEM file of CA certificates to trust instead of the system's")
	pf.StringVar(&o.Ehlo, "ehlo", "", "name to send in EHLO and to give in Received fields and bounces: a domain or an address literal (default: this host's name)")
	pf.IntVar(&o.MXPort, "mx-port", 0, "port of MX hosts (testing aid; default 25)")
	pf.StringVar(&o.MaxAge, "max-age", "", "how long a message may stay in the spool before it fails (default 5d)")
	pf.StringVar(&o.MinBackoff, "min-backoff", "", "shortest wait between attempts (default 5m)")
	pf.StringVar(&o.MaxBackoff, "max-backoff", "", "longest wait between attempts (default 4000s)")
	pf.StringVar(&o.NotifyDelay, "notify-delay", "", "send the sender one \"delayed\" notice once a message is this old and still deferred (default: never)")
	_ = pf.MarkHidden("mx-port")
	f := cmd.Flags()
	f.StringVarP(&o.From, "from", "f", "", "envelope sender (default $USER@host; \"<>\" for the null sender)")
	f.StringArrayVar(&o.To, "to", nil, "recipient (repeatable, comma-separated lists allowed)")
	f.BoolVarP(&o.Extract, "read-recipients", "t", false, "take recipients from the To, Cc and Bcc fields (and remove Bcc), like sendmail -t")
	f.StringVar(&o.DSNNotify, "dsn-notify", "", "DSN NOTIFY for every recipient: NEVER, or a list of SUCCESS,FAILURE,DELAY (NEVER or no FAILURE: no bounce)")
	f.StringVar(&o.DSNRet, "dsn-ret", "", "DSN RET: FULL (a bounce returns the whole message) or HDRS (its headers, the default)")
	f.StringVar(&o.EnvID, "envid", "", "DSN ENVID, returned in bounces as Original-Envelope-Id")
	f.StringVar(&o.RetryFor, "retry-for", "", "keep retrying deferred recipients in this process for DURATION (default: one attempt)")
	levels := []string{string(tlspolicy.LevelOpportunistic), string(tlspolicy.LevelRequired), string(tlspolicy.LevelVerify), string(tlspolicy.LevelDANE), string(tlspolicy.LevelMTASTS)}
	_ = cmd.RegisterFlagCompletionFunc("tls-policy", fixedCompletion(levels...))
	_ = cmd.RegisterFlagCompletionFunc("dsn-ret", fixedCompletion("FULL", "HDRS"))

	cmd.AddCommand(newRelayFlushCmd(g, o), newRelayQueueCmd(g, o), newRelayRetryCmd(g, o), newRelayRemoveCmd(g, o))
	return cmd
}

func newRelayFlushCmd(g *globals, o *RelayOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "flush",
		Short: "Attempt every spooled message that is due (for cron)",
		Long: `Attempt delivery of every message in the spool whose next attempt is due, a
few at a time (--concurrency), and send the bounces and notices that result.
Messages another flush is working on are skipped, so overlapping cron runs
are safe; a flush that is killed leaves its messages for the next one (a
message may then be delivered twice, never lost). Messages older than
--max-age fail and are bounced.

--all attempts every message now, due or not.

EXIT STATUS
  0 the flush ran (deferred messages stay queued; see 'relay queue'); 64 usage;
  73 cannot create the spool; 74 I/O error on the spool; 78 configuration error.`,
		Example: `  */5 * * * *  smtpkit relay flush -q
  smtpkit relay flush --all -v`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.changed = func(n string) bool { return cmd.Flags().Changed(n) }
			return runRelayFlush(cmd.Context(), g, o)
		},
	}
	cmd.Flags().IntVar(&o.Concurrency, "concurrency", 4, "messages attempted at once")
	cmd.Flags().BoolVar(&o.All, "all", false, "attempt every message, due or not")
	return cmd
}

func newRelayQueueCmd(g *globals, o *RelayOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "queue",
		Short: "List the spool, like mailq",
		Long: `List the messages in the spool: ID, age, size, sender, and each recipient still
to be delivered with its last reason and next attempt. --format json prints
every entry with its full per-recipient state.

EXIT STATUS
  0 listed (also when the spool is empty); 64 usage; 73 cannot create the
  spool; 74 I/O error on the spool; 78 configuration error.`,
		Example: `  smtpkit relay queue
  smtpkit relay queue --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.changed = func(n string) bool { return cmd.Flags().Changed(n) }
			return runRelayQueue(cmd.Context(), g, o)
		},
	}
}

func newRelayRetryCmd(g *globals, o *RelayOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "retry ID|--all",
		Short: "Make spooled messages due now (the next flush attempts them)",
		Long: `Make the message ID (or every message, with --all) due now, so the next
'relay flush' attempts it regardless of its backoff.

EXIT STATUS
  0 done; 64 usage; 66 no message with that ID; 74 I/O error on the spool;
  75 the message is being delivered by a flush right now.`,
		Example: `  smtpkit relay retry 01JD2Q4W8ZK3M5N7P9R1T3V5X7
  smtpkit relay retry --all && smtpkit relay flush`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.changed = func(n string) bool { return cmd.Flags().Changed(n) }
			return runRelayRetry(cmd.Context(), g, o, args)
		},
	}
	cmd.Flags().BoolVar(&o.All, "all", false, "every message in the spool")
	return cmd
}

func newRelayRemoveCmd(g *globals, o *RelayOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "remove ID...|--all",
		Short: "Delete spooled messages without delivering or bouncing them",
		Long: `Delete the messages with the given IDs (or every message, with --all) from the
spool. No bounce is sent.

EXIT STATUS
  0 removed; 64 usage; 66 no message with that ID; 74 I/O error on the spool;
  75 the message is being delivered by a flush right now.`,
		Example: `  smtpkit relay remove 01JD2Q4W8ZK3M5N7P9R1T3V5X7
  smtpkit relay remove --all`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.changed = func(n string) bool { return cmd.Flags().Changed(n) }
			return runRelayRemove(cmd.Context(), g, o, args)
		},
	}
	cmd.Flags().BoolVar(&o.All, "all", false, "every message in the spool")
	return cmd
}

// maxEnvIDLen is RFC 3461 4.4's bound on ENVID (100 characters).
const maxEnvIDLen = 100

// dsnOptions checks --dsn-notify, --dsn-ret and --envid (as send checks
// its own) and returns them as the spool keeps them.
func (o *RelayOptions) dsnOptions() (spool.EnqueueOptions, error) {
	var eo spool.EnqueueOptions
	if o.DSNRet != "" {
		if err := oneOf("dsn-ret", o.DSNRet, "FULL", "HDRS"); err != nil {
			return eo, err
		}
		eo.Ret = strings.ToUpper(o.DSNRet)
	}
	notify, err := parseNotify(o.DSNNotify)
	if err != nil {
		return eo, err
	}
	eo.Notify = notify
	// RFC 3461 4.4: ENVID is at most 100 characters of printable
	// US-ASCII (xtext is applied on the wire).
	if len(o.EnvID) > maxEnvIDLen {
		return eo, usageErrorf("--envid: longer than %d characters (RFC 3461 4.4)", maxEnvIDLen)
	}
	for _, c := range o.EnvID {
		if c < 0x20 || c > 0x7e {
			return eo, usageErrorf("--envid %q: printable US-ASCII only (RFC 3461 4.4)", o.EnvID)
		}
	}
	eo.EnvID = o.EnvID
	return eo, nil
}
