package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// postfix-smtpd: a throwaway Postfix instance under $WORK/postfix.
//
// Its smtpd listens on a free 127.0.0.1 port with opportunistic STARTTLS
// (a certificate for localhost and 127.0.0.1 made here), accepts mail from
// loopback for the virtual domain example.com, and delivers to a maildir
// for alice@example.com, the only user: any other recipient there gets
// 550 5.1.1. Sets $POSTFIX (host:port), $MAILDIR (alice's maildir),
// $CAFILE (the certificate to trust) and $POSTFIX_LOG (its maillog_file).
//
// Postfix runs as `postfix -c DIR start-fg` in a process group of its own
// (its master signals its whole group on stop) and is stopped with
// `postfix -c DIR stop` when the script ends, then by signal if needed.
//
// Arguments "NAME = VALUE" (or NAME=VALUE) replace or add main.cf
// parameters: for example relayhost and default_transport to let the
// instance relay to a test server.
func cmdPostfixSMTPD(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "postfix-smtpd")
	for _, a := range args {
		if name, _, ok := strings.Cut(a, "="); !ok || strings.TrimSpace(name) == "" {
			ts.Fatalf("usage: postfix-smtpd ['name = value'...]")
		}
	}
	pf, err := startPostfix(scriptHarness(ts), args...)
	if err != nil {
		ts.Fatalf("postfix-smtpd: %v", err)
	}
	ts.Setenv("POSTFIX", pf.addr)
	if _, port, err := net.SplitHostPort(pf.addr); err == nil {
		ts.Setenv("POSTFIX_PORT", port) // for send --mx-port
	}
	ts.Setenv("MAILDIR", pf.maildir)
	ts.Setenv("CAFILE", pf.caFile)
	ts.Setenv("POSTFIX_LOG", pf.maillog)
}

type postfixInstance struct {
	addr, maildir, caFile, maillog string
}

// postfixMaster lists the services the instance needs; every one runs
// unchrooted so nothing has to be copied into a jail.
const postfixMaster = `%s inet n - n - - smtpd
  -o smtpd_tls_security_level=may
  -o smtpd_tls_cert_file=%s
  -o smtpd_tls_key_file=%s
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`

// startPostfix starts the instance; settings ("name = value") replace or
// add main.cf parameters.
func startPostfix(h harness, settings ...string) (*postfixInstance, error) {
	postfix, err := findPeer("postfix")
	if err != nil {
		return nil, err
	}
	base := filepath.Join(h.dir, "postfix")
	conf, queue, data, mail := filepath.Join(base, "conf"), filepath.Join(base, "queue"), filepath.Join(base, "data"), filepath.Join(base, "mail")
	for _, d := range []string{conf, queue, data, mail} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.Chmod(base, 0o755); err != nil {
		return nil, err
	}
	if err := checkTraversable(base); err != nil {
		return nil, err
	}
	// Postfix insists on a root-owned queue directory, a data directory
	// owned by mail_owner, and (for virtual delivery) a mailbox base the
	// delivery user can write.
	puid, pgid, err := lookupIDs("postfix")
	if err != nil {
		return nil, fmt.Errorf("mail_owner: %w", err)
	}
	if err := os.Chown(data, puid, pgid); err != nil {
		return nil, err
	}
	nuid, ngid, err := lookupIDs("nobody")
	if err != nil {
		return nil, fmt.Errorf("delivery user: %w", err)
	}
	if err := os.Chown(mail, nuid, ngid); err != nil {
		return nil, err
	}
	certFile, keyFile, err := writeCert(conf, "localhost", "127.0.0.1")
	if err != nil {
		return nil, err
	}
	vmailbox := filepath.Join(conf, "vmailbox")
	if err := os.WriteFile(vmailbox, []byte("alice@example.com alice/\n"), 0o644); err != nil {
		return nil, err
	}
	// Postfix's own file lists (postfix-files, dynamicmaps.cf) stay where
	// the package put them.
	meta, err := postconfDefault("meta_directory")
	if err != nil {
		return nil, err
	}
	maillog := filepath.Join(base, "maillog")
	mainCF := strings.Join(mainCFWith([]string{
		"compatibility_level = 3.6",
		"queue_directory = " + queue,
		"data_directory = " + data,
		"meta_directory = " + meta,
		"inet_interfaces = 127.0.0.1",
		"inet_protocols = ipv4",
		"myhostname = localhost",
		"mydomain = localhost",
		"mydestination =",
		"mynetworks = 127.0.0.0/8",
		"relayhost =",
		"alias_maps =",
		"alias_database =",
		"maillog_file = " + maillog,
		"maillog_file_prefixes = " + base,
		"virtual_mailbox_domains = example.com",
		"virtual_mailbox_base = " + mail,
		"virtual_mailbox_maps = texthash:" + vmailbox,
		fmt.Sprintf("virtual_uid_maps = static:%d", nuid),
		fmt.Sprintf("virtual_gid_maps = static:%d", ngid),
		"smtpd_relay_restrictions = reject_unauth_destination", // no relaying, even from loopback
		"smtpd_tls_loglevel = 1",
		// Nothing leaves this instance (unless settings say otherwise).
		"default_transport = error:this test instance does not relay",
	}, settings), "\n") + "\n"
	if err := os.WriteFile(filepath.Join(conf, "main.cf"), []byte(mainCF), 0o644); err != nil {
		return nil, err
	}
	addr, _, err := startPeer(h, "postfix",
		func(port int) (*exec.Cmd, error) {
			masterCF := fmt.Sprintf(postfixMaster, fmt.Sprintf("127.0.0.1:%d", port), certFile, keyFile)
			if err := os.WriteFile(filepath.Join(conf, "master.cf"), []byte(masterCF), 0o644); err != nil {
				return nil, err
			}
			cmd := exec.Command(postfix, "-c", conf, "start-fg")
			cmd.Dir = base
			return cmd, nil
		},
		func(p *proc, addr string) error {
			if err := waitListening(p, addr); err != nil {
				b, _ := os.ReadFile(maillog)
				return fmt.Errorf("%w\nmaillog:\n%s", err, b)
			}
			return nil
		},
		func(p *proc) { stopPostfix(postfix, conf, p) },
		shellQuote(postfix)+" -c "+shellQuote(conf)+" stop >/dev/null 2>&1;")
	if err != nil {
		return nil, err
	}
	return &postfixInstance{addr: addr, maildir: filepath.Join(mail, "alice"), caFile: certFile, maillog: maillog}, nil
}

// mainCFWith returns the main.cf lines base with each "name = value" of
// settings replacing the line of the same name, or added at the end.
func mainCFWith(base, settings []string) []string {
	out := append([]string(nil), base...)
	for _, set := range settings {
		name, value, _ := strings.Cut(set, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		line := name + " = " + value
		replaced := false
		for i, l := range out {
			if n, _, ok := strings.Cut(l, "="); ok && strings.TrimSpace(n) == name {
				out[i], replaced = line, true
			}
		}
		if !replaced {
			out = append(out, line)
		}
	}
	return out
}

// stopPostfix asks the master to stop (`postfix stop` waits for it a few
// seconds), then makes sure the process group is gone.
func stopPostfix(postfix, conf string, p *proc) {
	if !p.exited() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = exec.CommandContext(ctx, postfix, "-c", conf, "stop").Run()
	}
	p.stop()
}

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
