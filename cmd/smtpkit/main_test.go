// End-to-end tests of the smtpkit binary: testscript files under
// testdata/script/*.txtar run the real command line (TestMain registers
// smtpkit as a program on the scripts' PATH, so `exec smtpkit ...` runs
// this very binary through cli.Main) against real peers started on
// 127.0.0.1 by the custom commands below.
//
// Exit codes. testscript's own `exec` only tells success from failure, so
// scripts assert the exact status with
//
//	expect-exit N PROGRAM [ARGS...]
//
// which runs PROGRAM like `exec` (the same PATH, environment, working
// directory and `stdin` file), fails the script unless it exits with
// status N, and leaves its output in stdout and stderr for the `stdout` and
// `stderr` checks that follow. It is the one way the scripts run smtpkit
// when the status matters; `exec smtpkit` is used only where any success
// will do.
//
// The binary is also on PATH as sendmail and mailq (as an MTA installs
// it), so `expect-exit 0 sendmail -t -i` runs the sendmail interface.
//
// Peers (each started on a free loopback port, waited for with a bounded
// number of polls, and stopped when the script ends, passing or failing):
//
//	sink [SMTP-SINK OPTIONS]  Postfix smtp-sink with the given options
//	                          (-d/-D dump directories are created for it);
//	                          sets $SINK to 127.0.0.1:PORT.
//	postfix-smtpd ['NAME = VALUE'...]
//	                          a throwaway Postfix under $WORK/postfix with
//	                          STARTTLS and maildir delivery for
//	                          alice@example.com only; sets $POSTFIX,
//	                          $POSTFIX_PORT (the port alone), $MAILDIR,
//	                          $CAFILE and $POSTFIX_LOG. The
//	                          arguments replace or add main.cf parameters
//	                          (relayhost, transport_maps...).
//	aiosmtpd                  scripts/interop/aiosmtpd_server.py: STARTTLS
//	                          required, AUTH PLAIN/LOGIN for alice/s3cret,
//	                          messages saved in $AIOSPOOL; sets $AIOSMTPD
//	                          and $AIOCA.
//
// Helpers:
//
//	wait-files DIR N          wait until DIR holds exactly N files
//	wait-maildir N            wait-files $MAILDIR/new N
//	wait-grep REGEXP FILE     wait until FILE has a line matching REGEXP
//	catdir DIR                print DIR's files, by name, to stdout
//	gen-message FILE SIZE     write a deterministic message of SIZE bytes
//	                          (LF line ends, lines starting with dots)
//	sink-message DUMP OUT     the message smtp-sink dumped (a file, or a
//	                          directory holding exactly one), without the
//	                          headers smtp-sink adds, written to OUT
//	serve, serve-stop, serve-wait, htpasswd, cert, maildir-message,
//	maildir-check             smtpkit serve in the background and checks of
//	                          what it delivers (see serve_test.go)
//	dns-server [ZONE]         in-process DNS server for smtpkit mx; sets $DNS
//	                          (see dns_test.go)
//	mta-sts-server POLICY NAME...
//	                          HTTPS server for MTA-STS policies; sets
//	                          $MTASTS_PORT and $MTASTS_CA (see mtasts_test.go)
//	dnsmasq ARGS...           dnsmasq on a loopback port with ARGS; sets
//	                          $DNSMASQ (see dnsmasq_test.go)
//	dsn-check SRC             a bounce parsed as RFC 3464; its fields on
//	                          stdout (see relay_test.go)
//	dkim-key, dkim-verify     make a DKIM key and its TXT record; verify the
//	                          signatures of delivered messages (see
//	                          dkim_test.go)
//	json FILE [PATH...]       FILE parsed as one JSON document; each PATH
//	                          (keys and indexes joined by dots, ".#" for
//	                          a length) printed as PATH=VALUE (see json_test.go)
//
// Every wait is a bounded number of polls: a bound on how long to look,
// never an assertion about speed.
//
// Conditions: [peer:NAME] (smtp-sink, smtp-source, posttls-finger, postfix,
// aiosmtpd, swaks, msmtp, dnsmasq, dig) is true when the peer can run here. With SMTPKIT_REQUIRE_PEERS=1 (set by
// .ci/run) a missing peer fails the script with the reason instead of
// letting `[!peer:NAME] skip` skip it.
package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/smtpkit/smtpkit/internal/cli"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"smtpkit": func() { os.Exit(cli.Main()) },
		// The same binary under the names MTAs install: cli.Main picks
		// the sendmail command from os.Args[0].
		"sendmail": func() { os.Exit(cli.Main()) },
		"mailq":    func() { os.Exit(cli.Main()) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("..", "..", "testdata", "script"),
		Setup:               setupScript,
		Condition:           scriptCondition,
		Cmds:                scriptCmds(),
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
	})
}

// setupScript gives every script a home of its own: HOME and
// XDG_CONFIG_HOME are the work directory (so no user config is read), USER
// is fixed, and NO_COLOR is unset so colour decisions come from smtpkit's
// own pipe detection.
func setupScript(env *testscript.Env) error {
	env.Setenv("HOME", env.WorkDir)
	env.Setenv("XDG_CONFIG_HOME", env.WorkDir)
	env.Setenv("USER", "tester")
	vars := env.Vars[:0]
	for _, kv := range env.Vars {
		if strings.HasPrefix(kv, "NO_COLOR=") {
			continue
		}
		vars = append(vars, kv)
	}
	env.Vars = vars
	// For the serve command: its state, and the names of the variables
	// a background process gets (see scriptEnv).
	env.Values[serveStateKey{}] = &serveState{}
	var names []string
	for _, kv := range env.Vars {
		if name, _, ok := strings.Cut(kv, "="); ok && name != "" && !strings.ContainsAny(name, "/:$") {
			names = append(names, name)
		}
	}
	env.Values[envNamesKey{}] = names
	// Peers that drop privileges (smtp-sink -u nobody, Postfix) write
	// under the work directory: let them through it.
	return openForPeers(env.WorkDir)
}

func scriptCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"expect-exit":     cmdExpectExit,
		"sink":            cmdSink,
		"sink-message":    cmdSinkMessage,
		"postfix-smtpd":   cmdPostfixSMTPD,
		"aiosmtpd":        cmdAiosmtpd,
		"wait-files":      cmdWaitFiles,
		"wait-maildir":    cmdWaitMaildir,
		"wait-grep":       cmdWaitGrep,
		"catdir":          cmdCatdir,
		"gen-message":     cmdGenMessage,
		"serve":           cmdServe,
		"serve-stop":      cmdServeStop,
		"serve-wait":      cmdServeWait,
		"htpasswd":        cmdHtpasswd,
		"cert":            cmdCert,
		"maildir-message": cmdMaildirMessage,
		"maildir-check":   cmdMaildirCheck,
		"dns-server":      cmdDNSServer,
		"mta-sts-server":  cmdMTASTSServer,
		"dnsmasq":         cmdDnsmasq,
		"dsn-check":       cmdDSNCheck,
		"dkim-key":        cmdDKIMKey,
		"dkim-verify":     cmdDKIMVerify,
		"json":            cmdJSON,
	}
}
