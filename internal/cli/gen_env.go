package cli

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/smtpkit/smtpkit/internal/config"
)

// envDoc documents one environment variable for the man pages' ENVIRONMENT
// section. cmds names the top-level commands that read it; none means every
// command. The root page lists them all. TestManEnvironment checks that
// every variable the code reads is here.
type envDoc struct {
	name string
	text string
	cmds []string
}

// configCmds are the commands that read the config file and the SMTPKIT_*
// settings.
var configCmds = []string{"send", "relay", "sendmail"}

// tlsCmds are the commands that verify certificates.
var tlsCmds = []string{"send", "probe", "mx", "relay", "sendmail"}

// configKeyDocs says what each config key (and so each SMTPKIT_<KEY>
// variable) sets.
var configKeyDocs = map[string]string{
	"server":               "server HOST[:PORT] to submit to, like --server",
	"tls":                  "TLS mode: auto, starttls, implicit, none or opportunistic, like --tls",
	"insecure":             "true: do not fail on an invalid certificate, like --insecure",
	"ca_file":              "PEM file of CA certificates to trust, like --ca-file",
	"tls_sni":              "server name to send in SNI and to verify, like --tls-sni",
	"tls_min":              "lowest TLS version: 1.0, 1.1, 1.2 or 1.3, like --tls-min",
	"client_cert":          "PEM client certificate, like --client-cert",
	"client_key":           "PEM key of the client certificate, like --client-key",
	"ehlo":                 "name to send in EHLO, HELO or LHLO, like --ehlo",
	"protocol":             "esmtp, smtp or lmtp, like --protocol",
	"local_addr":           "source IP address to connect from, like --local-addr",
	"auth":                 "AUTH mechanism, like --auth",
	"user":                 "AUTH user name, like --user",
	"password_file":        "file whose first line is the password, like --password-file",
	"password_env":         "name of the variable that holds the password, like --password-env",
	"password_command":     "command (run with sh -c) whose first line of output is the password",
	"from":                 "envelope sender and From:, like --from",
	"timeout":              "timeout for each protocol stage (30s, 2m), like --timeout",
	"resolver":             "DNS resolver HOST[:PORT], like --resolver",
	"allow_plaintext_auth": "true: allow AUTH without TLS, like --allow-plaintext-auth",
	"pipelining":           "auto, on or off, like --pipelining",
	"chunking":             "auto, on or off, like --chunking",
	"dkim_key":             "PEM private key to DKIM-sign with, like --dkim-key",
	"dkim_selector":        "DKIM selector, like --dkim-selector",
	"dkim_domain":          "DKIM signing domain, like --dkim-domain",
}

// envDocs lists every variable smtpkit reads, in the order the pages show
// them. With all false, the SMTPKIT_<KEY> variables of the config keys
// are one entry that refers to smtpkit(1), where each has its own.
func envDocs(all bool) []envDoc {
	docs := []envDoc{
		{"SMTPKIT_CONFIG", "The config file, like --config; it must then exist.", configCmds},
		{"SMTPKIT_PROFILE", "The config profile to use when -p/--profile is not given.", configCmds},
	}
	if all {
		for _, v := range config.EnvVars() {
			name := v.Name
			if v.Alias != "" {
				name += ", " + v.Alias
			}
			text := configKeyDocs[v.Key]
			if text != "" {
				text = strings.ToUpper(text[:1]) + text[1:]
			}
			docs = append(docs, envDoc{name, text + " (the config key " + v.Key + ").", configCmds})
		}
	} else {
		docs = append(docs, envDoc{"SMTPKIT_<KEY>", "One variable per config key, in upper case (SMTPKIT_SERVER, SMTPKIT_TLS, SMTPKIT_USER, SMTPKIT_PASSWORD_FILE, SMTPKIT_FROM, ...): each sets that key over the profile and the defaults, and a flag overrides it. smtpkit(1) lists them all.", configCmds})
	}
	docs = append(docs,
		envDoc{"SMTPKIT_PASSWORD", "Not supported, so that a password never sits in the environment of every run: smtpkit exits 78 when it is set. Set SMTPKIT_PASSWORD_ENV to the name of a variable holding the password, or use SMTPKIT_PASSWORD_FILE.", configCmds},
		envDoc{"SMTPKIT_SPOOL", "The relay's spool directory, like --spool.", []string{"relay", "sendmail"}},
		envDoc{"SMTPKIT_ROUTE", "Routes, comma-separated DOMAIN=HOST[:PORT] (\"*\" for any domain), like --route.", []string{"relay", "sendmail"}},
		envDoc{"SMTPKIT_SMARTHOST", "Send all mail through HOST[:PORT], like --smarthost.", []string{"relay", "sendmail"}},
		envDoc{"SMTPKIT_TLS_POLICY", "The TLS policy for delivery, like --tls-policy.", []string{"relay", "sendmail"}},
		envDoc{"SMTPKIT_MX_PORT", "Connect to MX hosts on this port instead of 25: a testing aid for servers on loopback, like relay's hidden --mx-port.", []string{"sendmail"}},
		envDoc{"NAME", "The full name for the From: field sendmail adds when there is none (-F overrides it).", []string{"sendmail"}},
		envDoc{"USER", "The local part of the default sender ($USER@host).", []string{"send", "relay", "sendmail"}},
		envDoc{"HOME", "Finds the config file ($HOME/.config/smtpkit/config.yaml) and the spool ($HOME/.local/state/smtpkit/spool) when the XDG variables are unset, and expands ~/ in config paths.", nil},
		envDoc{"XDG_CONFIG_HOME", "The config file is $XDG_CONFIG_HOME/smtpkit/config.yaml (an absolute path only).", nil},
		envDoc{"XDG_STATE_HOME", "The spool is $XDG_STATE_HOME/smtpkit/spool (except for root).", []string{"relay", "sendmail"}},
		envDoc{"TMPDIR", "Where the demo makes its throwaway directory (default /tmp).", []string{"demo"}},
		envDoc{"NO_COLOR", "Any non-empty value turns colour off, like --color never.", nil},
		envDoc{"TERM", "The value dumb turns colour off.", nil},
		envDoc{"SSL_CERT_FILE, SSL_CERT_DIR", "The CA certificates to trust instead of the system's bundle (as in OpenSSL); --ca-file overrides both.", tlsCmds},
	)
	return docs
}

// envFor returns the variables c's page lists: all of them on the root
// page.
func envFor(c *cobra.Command) []envDoc {
	top := topCommand(c)
	var out []envDoc
	for _, e := range envDocs(top == "") {
		if top == "" || len(e.cmds) == 0 || slices.Contains(e.cmds, top) {
			out = append(out, e)
		}
	}
	if top == "send" || top == "relay" || top == "" {
		out = append(out, envDoc{"the variable named by --password-env", "Holds the password (or OAuth token) for AUTH.", nil})
	}
	return out
}

// fileDoc documents one file for the man pages' FILES section.
type fileDoc struct {
	path string
	text string
	cmds []string
}

var fileDocs = []fileDoc{
	{"$XDG_CONFIG_HOME/smtpkit/config.yaml", "The config file: defaults and profiles (or ~/.config/smtpkit/config.yaml, --config or SMTPKIT_CONFIG). Unknown keys are errors; a file holding an inline password must be mode 0600.", configCmds},
	{"/var/spool/smtpkit", "The relay's spool when run as root.", []string{"relay", "sendmail"}},
	{"$XDG_STATE_HOME/smtpkit/spool", "The relay's spool for other users (or ~/.local/state/smtpkit/spool).", []string{"relay", "sendmail"}},
}

func filesFor(c *cobra.Command) []fileDoc {
	top := topCommand(c)
	var out []fileDoc
	for _, f := range fileDocs {
		if top == "" || slices.Contains(f.cmds, top) {
			out = append(out, f)
		}
	}
	return out
}

// topCommand is the name of the top-level command c belongs to, "" for the
// root.
func topCommand(c *cobra.Command) string {
	for c.HasParent() && c.Parent().HasParent() {
		c = c.Parent()
	}
	if !c.HasParent() {
		return ""
	}
	return c.Name()
}

// envNamesIn splits an envDoc name ("SSL_CERT_FILE, SSL_CERT_DIR") into
// variable names.
func envNamesIn(name string) []string {
	var out []string
	for _, n := range strings.Split(name, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}
