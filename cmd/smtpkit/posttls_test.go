package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/cli"
	"github.com/smtpkit/smtpkit/internal/smtptest"
)

// TestPosttlsFingerServe points Postfix's posttls-finger at `smtpkit serve`
// with STARTTLS and a certificate for mx.test, and compares what it sees
// with `smtpkit probe --audit` against the same server:
//   - at level secure with the certificate as CA, the name mx.test
//     verifies and another name does not;
//   - the default handshake: the same TLS version, cipher, certificate
//     SHA-256 and public-key SHA-256 as probe reports;
//   - pinned to one protocol version at a time (TLS 1.1, 1.2, 1.3):
//     posttls-finger gets a connection exactly when probe's audit lists
//     the version as accepted, with a cipher the audit lists for it; serve
//     answers TLS 1.1 with a protocol_version alert.
func TestPosttlsFingerServe(t *testing.T) {
	ptf := needPeer(t, "posttls-finger")
	dir := t.TempDir()
	// posttls-finger reads main.cf from $MAIL_CONFIG; an empty one means
	// Postfix's defaults (the package may be installed unconfigured).
	conf := filepath.Join(dir, "conf")
	if err := os.Mkdir(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "main.cf"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := writeCert(dir, "mx.test", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	addr := serveInProcess(t, dir, "--hostname", "mx.test", "--tls-cert", certFile, "--tls-key", keyFile,
		"--maildir", filepath.Join(dir, "md"))
	dest := "[127.0.0.1]:" + addr[strings.LastIndex(addr, ":")+1:]

	finger := func(args ...string) string {
		t.Helper()
		argv := append([]string{"-c", "-d", "sha256"}, args...)
		cmd := exec.Command(ptf, argv...)
		cmd.Env = append(os.Environ(), "MAIL_CONFIG="+conf)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("posttls-finger %s: %v\n%s", strings.Join(argv, " "), err, out)
		}
		return string(out)
	}
	established := regexp.MustCompile(`(Verified|Trusted|Untrusted) TLS connection established to [^:]+:\d+: (TLSv[0-9.]+) with cipher (\S+)`)
	fingerprints := regexp.MustCompile(`, fingerprint=([0-9A-F:]+), pkey_fingerprint=([0-9A-F:]+)`)

	// Level secure, the certificate as CA: the name must match.
	out := finger("-l", "secure", "-F", certFile, dest, "mx.test")
	m := established.FindStringSubmatch(out)
	if m == nil || m[1] != "Verified" || !strings.Contains(out, "matched peername: mx.test") {
		t.Fatalf("secure, mx.test: not verified:\n%s", out)
	}
	if out := finger("-l", "secure", "-F", certFile, dest, "other.test"); !strings.Contains(out, "hostname mismatch") || strings.Contains(out, "Verified TLS") {
		t.Fatalf("secure, other.test: want a hostname mismatch:\n%s", out)
	}

	// The default handshake, next to probe's.
	out = finger("-l", "may", "-L", "certmatch,summary", dest)
	m, fp := established.FindStringSubmatch(out), fingerprints.FindStringSubmatch(out)
	if m == nil || fp == nil {
		t.Fatalf("may: no TLS connection or no fingerprints:\n%s", out)
	}
	rep := probeAudit(t, addr, certFile)
	hexOf := func(colons string) string { return strings.ToLower(strings.ReplaceAll(colons, ":", "")) }
	if len(rep.TLS.Chain) == 0 {
		t.Fatalf("probe: no certificate chain")
	}
	got := []string{m[2], m[3], hexOf(fp[1]), hexOf(fp[2])}
	want := []string{strings.Replace(rep.TLS.Version, "TLS ", "TLSv", 1), rep.TLS.Cipher, rep.TLS.Chain[0].SHA256, rep.TLS.Chain[0].SPKISHA256}
	for i, what := range []string{"version", "cipher", "certificate sha256", "public key sha256"} {
		if got[i] != want[i] {
			t.Errorf("%s: posttls-finger %q, probe %q", what, got[i], want[i])
		}
	}

	// One protocol version at a time.
	for _, v := range []struct{ postfix, probe string }{{"TLSv1.1", "TLS 1.1"}, {"TLSv1.2", "TLS 1.2"}, {"TLSv1.3", "TLS 1.3"}} {
		out := finger("-l", "may", "-p", ">="+v.postfix+" <="+v.postfix, dest)
		m := established.FindStringSubmatch(out)
		var audit *auditVersion
		for i := range rep.Audit.Versions {
			if rep.Audit.Versions[i].Version == v.probe {
				audit = &rep.Audit.Versions[i]
			}
		}
		if audit == nil {
			t.Fatalf("probe --audit has no %s entry", v.probe)
		}
		if m != nil {
			t.Logf("%s: posttls-finger %s, probe accepted=%v", v.postfix, m[3], audit.Accepted)
		} else {
			t.Logf("%s: posttls-finger no TLS, probe accepted=%v", v.postfix, audit.Accepted)
		}
		switch {
		case m == nil && audit.Accepted:
			t.Errorf("%s: probe says accepted, posttls-finger got no TLS connection:\n%s", v.postfix, out)
		case m == nil && !strings.Contains(out, "alert protocol version"):
			t.Errorf("%s: refused without serve's protocol_version alert:\n%s", v.postfix, out)
		case m != nil && !audit.Accepted:
			t.Errorf("%s: posttls-finger connected, probe says refused:\n%s", v.postfix, out)
		case m != nil && m[2] != v.postfix:
			t.Errorf("%s: posttls-finger negotiated %s", v.postfix, m[2])
		case m != nil:
			found := false
			for _, s := range audit.Suites {
				found = found || s.OpenSSLName == m[3] || s.Name == m[3]
			}
			if !found {
				t.Errorf("%s: posttls-finger's cipher %s is not among probe's %+v", v.postfix, m[3], audit.Suites)
			}
		}
	}
}

type auditVersion struct {
	Version  string `json:"version"`
	Accepted bool   `json:"accepted"`
	Suites   []struct {
		Name        string `json:"name"`
		OpenSSLName string `json:"openssl_name"`
	} `json:"suites"`
}

type probeReport struct {
	TLS struct {
		Version string `json:"version"`
		Cipher  string `json:"cipher"`
		Chain   []struct {
			SHA256     string `json:"sha256"`
			SPKISHA256 string `json:"spki_sha256"`
		} `json:"chain"`
	} `json:"tls"`
	Audit struct {
		Versions []auditVersion `json:"versions"`
	} `json:"audit"`
}

// probeAudit runs `smtpkit probe --audit` in this process.
func probeAudit(t *testing.T, addr, caFile string) probeReport {
	t.Helper()
	var out, errOut bytes.Buffer
	env := cli.DefaultEnv()
	env.Stdin, env.Stdout, env.Stderr = strings.NewReader(""), &out, &errOut
	if code := cli.Run(context.Background(), env, []string{"probe", addr, "--audit", "--ca-file", caFile, "--format", "json"}); code != 0 {
		t.Fatalf("probe: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	var reps []probeReport
	if err := json.Unmarshal(out.Bytes(), &reps); err != nil || len(reps) != 1 {
		t.Fatalf("probe output: %v\n%s", err, out.String())
	}
	return reps[0]
}

// serveInProcess runs `smtpkit serve ARGS` in this process on a free
// loopback port until the test ends, and returns its SMTP address.
func serveInProcess(t *testing.T, dir string, args ...string) string {
	t.Helper()
	ready := filepath.Join(dir, "serve.ready")
	var logBuf smtptest.SyncBuffer
	env := cli.DefaultEnv()
	env.Stdin, env.Stdout, env.Stderr = strings.NewReader(""), &logBuf, &logBuf
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	argv := append([]string{"serve", "--listen", "127.0.0.1:0", "--ready-file", ready, "--grace", "1s"}, args...)
	go func() { done <- cli.Run(ctx, env, argv) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d\n%s", code, logBuf.String())
			}
		case <-time.After(stopGrace):
			t.Errorf("serve did not stop\n%s", logBuf.String())
		}
	})
	var addr string
	err := poll(func() (bool, error) {
		select {
		case code := <-done:
			done <- code
			return false, fmt.Errorf("serve exited %d", code)
		default:
		}
		b, err := os.ReadFile(ready)
		if err != nil || len(b) == 0 {
			return false, nil
		}
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if a, ok := strings.CutPrefix(l, "smtp "); ok {
				addr = a
				return true, nil
			}
		}
		return false, fmt.Errorf("no smtp listener in %q", b)
	})
	if err != nil {
		t.Fatalf("serve: %v\n%s", err, logBuf.String())
	}
	return addr
}
