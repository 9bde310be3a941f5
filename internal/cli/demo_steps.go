package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/smtpkit/smtpkit/internal/cli/render"
	"github.com/smtpkit/smtpkit/internal/dnsx/dnstest"
	"github.com/smtpkit/smtpkit/internal/message"
	"github.com/smtpkit/smtpkit/internal/spool"
)

// The demo's names. example.test is reserved (RFC 2606 2), so nothing
// the demo does can reach a real domain.
const (
	demoDomain       = "example.test"
	demoMX           = "mx.example.test"
	demoClient       = "client.example.test"
	demoRelayHost    = "relay.example.test"
	demoUser         = "demo"
	demoFrom         = "demo@example.test"
	demoSendTo       = "alice@example.test"
	demoRelayTo      = "bob@example.test"
	demoSendSubject  = "smtpkit demo: send"
	demoRelaySubject = "smtpkit demo: relay"
)

// demoReadyPolls bounds the wait for serve to listen: polls of
// demoReadyPoll each (a bound on how long to look, 20 s, on a loaded
// machine).
const (
	demoReadyPolls = 2000
	demoReadyPoll  = 10 * time.Millisecond
)

// setup makes the throwaway directory and what the other steps need: a CA
// and a certificate it signed, the AUTH user, the DNS zone on loopback and
// the MTA-STS policy server.
func (d *demo) setup(ctx context.Context, st *render.DemoStep) error {
	base, _ := d.g.env.LookupEnv("TMPDIR")
	if base == "" {
		base = os.TempDir()
	}
	dir, err := os.MkdirTemp(base, "smtpkit-demo-")
	if err != nil {
		return &ExitError{Code: ExitCantCreat, Err: err}
	}
	d.dir = dir
	if d.files, err = writeDemoFiles(dir, d.g.env.Now()); err != nil {
		return &ExitError{Code: ExitCantCreat, Err: err}
	}
	if d.dns, err = dnstest.Start(strings.NewReader(demoZone), "example.test zone"); err != nil {
		return &ExitError{Code: ExitTempFail, Err: fmt.Errorf("dns server: %w", err)}
	}
	if d.sts, d.stsPort, err = startPolicyServer(d.files.serverTLS); err != nil {
		return &ExitError{Code: ExitTempFail, Err: fmt.Errorf("mta-sts policy server: %w", err)}
	}
	t := render.NewTable()
	t.AddRow("dir", dir)
	t.AddRow("tls", "CA \""+demoCAName+"\" in "+d.files.ca+"; certificate for "+strings.Join(demoCertHosts, ", "))
	t.AddRow("auth", "user "+demoUser+": password in "+d.files.password+", bcrypt hash in "+d.files.htpasswd)
	t.AddRow("dns", demoDomain+" on "+d.dns.Addr+" (UDP and TCP):")
	st.Body = append(st.Body, render.DemoBlock{Table: t}, render.DemoBlock{Text: indentZone(demoZone)})
	t = render.NewTable()
	t.AddRow("mta-sts", "policy (mode enforce, mx "+demoMX+") on https://mta-sts."+demoDomain+" at 127.0.0.1:"+d.stsPort)
	st.Body = append(st.Body, render.DemoBlock{Table: t})
	st.Data = map[string]string{
		"dir": dir, "ca_file": d.files.ca, "cert_file": d.files.cert, "password_file": d.files.password,
		"htpasswd": d.files.htpasswd, "user": demoUser, "dns": d.dns.Addr, "mta_sts": "127.0.0.1:" + d.stsPort,
		"zone": demoZone,
	}
	st.Summary = "CA, certificate, user " + demoUser + ", DNS on " + d.dns.Addr
	return nil
}

// indentZone prints the zone's records under the dns line.
func indentZone(z string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(z), "\n") {
		if strings.HasPrefix(l, "$") {
			continue
		}
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}

// serve starts `smtpkit serve` on 127.0.0.1:0 in the background (it runs
// until cleanup) and waits for its --ready-file to learn the port.
func (d *demo) serve(ctx context.Context, st *render.DemoStep) error {
	ready := filepath.Join(d.dir, "serve.ready")
	args := []string{"serve", "--listen", "127.0.0.1:0", "--hostname", demoMX,
		"--tls-cert", d.files.cert, "--tls-key", d.files.key, "--auth-users", d.files.htpasswd,
		"--domain", demoDomain, "--catch-all", "--maildir", d.files.maildir,
		"--ready-file", ready, "--grace", "2s"}
	var logw io.Writer = d.serveLog
	if d.g.verbose > 0 && !d.structured {
		logw = d.g.env.Stderr // -v: serve's log live, where logs go
	}
	sctx, stop := context.WithCancel(d.ctx)
	done := make(chan error, 1)
	go func() { done <- d.exec(sctx, io.Discard, logw, args) }()
	d.stopSrv, d.srvDone = stop, done
	line := "smtpkit " + shellJoin(args) + " &"
	st.Commands = append(st.Commands, render.DemoCommand{Command: line})
	for range demoReadyPolls {
		if b, err := os.ReadFile(ready); err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				if a, ok := strings.CutPrefix(l, "smtp "); ok {
					d.addr = a
				}
			}
			break
		}
		select {
		case err := <-done:
			d.srvDone = nil
			if err == nil {
				err = errors.New("serve stopped before it listened")
			}
			return err
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(demoReadyPoll):
		}
	}
	if d.addr == "" {
		return &ExitError{Code: ExitTempFail, Err: errors.New("serve did not listen in time")}
	}
	_, d.port, _ = net.SplitHostPort(d.addr)
	t := render.NewTable()
	t.AddRow("listening", d.addr+" as "+demoMX+" (STARTTLS, AUTH PLAIN and LOGIN after TLS)")
	t.AddRow("accepts", "mail for "+demoDomain+" into "+d.files.maildir)
	if d.structured {
		st.Commands[0].Stderr = d.serveLog.String()
	}
	st.Body = append(st.Body, render.DemoBlock{Command: line, Text: d.serveLog.String()}, render.DemoBlock{Table: t})
	st.Data = map[string]string{"addr": d.addr, "maildir": d.files.maildir, "hostname": demoMX}
	st.Summary = "listening on " + d.addr
	return nil
}

// send submits a message with STARTTLS and AUTH, as a mail client would
// on a submission port, with the transcript.
func (d *demo) send(ctx context.Context, st *render.DemoStep) error {
	args := []string{"send", "--server", d.addr, "--tls", "starttls", "--ca-file", d.files.ca,
		"--user", demoUser, "--password-file", d.files.password, "--ehlo", demoClient,
		"--from", demoFrom, "--to", demoSendTo, "--subject", demoSendSubject,
		"--body", "Sent by smtpkit demo through smtpkit serve, over STARTTLS, after AUTH."}
	if err := d.smtpkit(ctx, st, append(args, d.verbosity(1)...)...); err != nil {
		return err
	}
	st.Summary = demoSendTo + " accepted, over STARTTLS with a verified certificate, after AUTH as " + demoUser
	return nil
}

// probe audits the server, trusting the demo's CA; any check at medium or
// above fails the step.
func (d *demo) probe(ctx context.Context, st *render.DemoStep) error {
	args := []string{"probe", d.addr, "--ca-file", d.files.ca, "--ehlo", demoClient, "--fail-on", "medium"}
	if err := d.smtpkit(ctx, st, append(args, d.verbosity(0)...)...); err != nil {
		return err
	}
	st.Summary = "STARTTLS, certificate verified, no check at medium or above"
	return nil
}

// demoMxFailOn are the conditions the demo's zone must not show.
const demoMxFailOn = "no-mx,null-mx,unreachable,no-starttls,no-spf,no-dmarc,dmarc-none,no-mta-sts,no-fcrdns"

// mx resolves the demo domain through the DNS server on loopback, with
// its records, and checks the MX (which is serve).
func (d *demo) mx(ctx context.Context, st *render.DemoStep) error {
	args := []string{"mx", demoDomain, "--resolver", d.dns.Addr, "--records", "spf,dmarc,mta-sts,tls-rpt,ptr",
		"--check", "--port", d.port, "--ca-file", d.files.ca, "--mta-sts-port", d.stsPort,
		"--ehlo", demoClient, "--fail-on", demoMxFailOn}
	if err := d.smtpkit(ctx, st, append(args, d.verbosity(0)...)...); err != nil {
		return err
	}
	st.Summary = "MX " + demoMX + " reachable with STARTTLS; SPF, DMARC, MTA-STS, TLS-RPT and FCrDNS in place"
	return nil
}

// relay puts a message into a throwaway spool, as relay and sendmail do
// before their first attempt, lists the spool, and flushes it the way cron
// would: MX routing through the zone on loopback, TLS policy verify. It
// then checks the spool is empty and the copy arrived.
func (d *demo) relay(ctx context.Context, st *render.DemoStep) error {
	sp, err := spool.Open(d.files.spool, spool.Options{Hostname: demoRelayHost, Now: d.g.env.Now})
	if err != nil {
		return spoolExit(err)
	}
	from, _ := message.ParseAddress(demoFrom)
	to, _ := message.ParseAddress(demoRelayTo)
	msg, err := message.Compose(message.ComposeOptions{
		From: from, To: []message.Address{to}, Subject: demoRelaySubject, Now: d.g.env.Now(), Hostname: demoRelayHost,
		Body: "Spooled by smtpkit demo, then delivered by `smtpkit relay flush` to the MX of " + demoDomain + ".",
	})
	if err != nil {
		return err
	}
	defer msg.Close()
	rc, err := msg.Open()
	if err != nil {
		return err
	}
	e, err := sp.Enqueue(ctx, rc, demoFrom, []string{demoRelayTo})
	rc.Close()
	if err != nil {
		return spoolExit(err)
	}
	t := render.NewTable()
	t.AddRow("queued", e.ID+": <"+demoFrom+"> to <"+demoRelayTo+">, "+strconv.FormatInt(e.Size, 10)+" octets, in "+d.files.spool)
	st.Body = append(st.Body, render.DemoBlock{Table: t})
	st.Data = map[string]string{"id": e.ID, "spool": d.files.spool}

	if err := d.smtpkit(ctx, st, "relay", "queue", "--spool", d.files.spool); err != nil {
		return err
	}
	args := []string{"relay", "flush", "--spool", d.files.spool, "--resolver", d.dns.Addr, "--mx-port", d.port,
		"--tls-policy", "verify", "--ca-file", d.files.ca, "--ehlo", demoRelayHost}
	if err := d.smtpkit(ctx, st, append(args, d.verbosity(0)...)...); err != nil {
		return err
	}
	entries, err := sp.List()
	if err != nil {
		return spoolExit(err)
	}
	for _, left := range entries {
		for _, r := range left.Pending() {
			return &ExitError{Code: ExitTempFail, Err: fmt.Errorf("%s still queued for %s: %s", left.ID, r.Addr, r.Reason)}
		}
	}
	msgs, err := readMaildir(d.files.maildir)
	if err != nil {
		return err
	}
	if findDemoMessage(msgs, demoRelaySubject, demoRelayTo) == nil {
		return &ExitError{Code: ExitSoftware, Err: fmt.Errorf("the spool is empty, but no copy for %s arrived in the maildir", demoRelayTo)}
	}
	st.Summary = demoRelayTo + " delivered to " + demoMX + " (MX from the zone) under TLS policy verify; the spool is empty"
	return nil
}

// maildir lists what serve delivered and checks it is exactly what send
// and relay sent.
func (d *demo) maildir(ctx context.Context, st *render.DemoStep) error {
	msgs, err := readMaildir(d.files.maildir)
	if err != nil {
		return err
	}
	t := render.NewTable("FILE", "FROM", "TO", "SUBJECT", "SIZE")
	for _, m := range msgs {
		t.AddRow(m.File, m.From, m.To, m.Subject, strconv.FormatInt(m.Size, 10))
	}
	st.Body = append(st.Body, render.DemoBlock{Table: t})
	st.Data = map[string]any{"maildir": d.files.maildir, "messages": msgs}
	want := []struct{ subject, to string }{{demoSendSubject, demoSendTo}, {demoRelaySubject, demoRelayTo}}
	for _, w := range want {
		if findDemoMessage(msgs, w.subject, w.to) == nil {
			return &ExitError{Code: ExitSoftware, Err: fmt.Errorf("no message %q for %s in %s", w.subject, w.to, d.files.maildir)}
		}
	}
	if len(msgs) != len(want) {
		return &ExitError{Code: ExitSoftware, Err: fmt.Errorf("%s holds %d messages, want %d", d.files.maildir, len(msgs), len(want))}
	}
	st.Summary = fmt.Sprintf("%d messages in %s, as sent", len(msgs), filepath.Join(d.files.maildir, "new"))
	return nil
}

// cleanup stops serve and the DNS and HTTPS servers, and removes the
// directory unless --keep.
func (d *demo) cleanup(ctx context.Context, st *render.DemoStep) error {
	var errs []error
	if d.stopSrv != nil {
		d.stopSrv()
		if d.srvDone != nil {
			select {
			case err := <-d.srvDone:
				if err != nil {
					errs = append(errs, fmt.Errorf("serve: %w", err))
				}
			case <-ctx.Done():
				errs = append(errs, errors.New("serve did not stop"))
			}
		}
	}
	if d.sts != nil {
		if err := d.sts.Close(); err != nil {
			errs = append(errs, fmt.Errorf("mta-sts policy server: %w", err))
		}
	}
	if d.dns != nil {
		if err := d.dns.Close(); err != nil {
			errs = append(errs, fmt.Errorf("dns server: %w", err))
		}
	}
	switch {
	case d.dir == "":
		st.Summary = "nothing to remove"
	case d.o.Keep:
		st.Summary = "servers stopped, " + d.dir + " kept"
	default:
		if err := os.RemoveAll(d.dir); err != nil {
			errs = append(errs, &ExitError{Code: ExitIOErr, Err: err})
		} else {
			st.Summary = "servers stopped, " + d.dir + " removed"
		}
	}
	return errors.Join(errs...)
}
