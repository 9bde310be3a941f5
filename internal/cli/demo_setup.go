package cli

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/smtpkit/smtpkit/internal/certgen"
)

// demoZone is the DNS the demo serves on loopback: example.test's MX is
// serve (on 127.0.0.1; the demo gives the port with --port and --mx-port),
// with the records `mx --records` looks at, all of them good.
const demoZone = `$ORIGIN example.test.
$TTL 300
@           MX   10 mx.example.test.
@           TXT  "v=spf1 mx -all"
mx          A    127.0.0.1
mta-sts     A    127.0.0.1
_mta-sts    TXT  "v=STSv1; id=2026demo;"
_smtp._tls  TXT  "v=TLSRPTv1; rua=mailto:tls-reports@example.test"
_dmarc      TXT  "v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.test"
1.0.0.127.in-addr.arpa.  PTR  mx.example.test.
`

// demoPolicy is example.test's MTA-STS policy (RFC 8461 3.2).
const demoPolicy = "version: STSv1\r\nmode: enforce\r\nmx: " + demoMX + "\r\nmax_age: 86400\r\n"

// demoCAName is the throwaway CA's common name.
const demoCAName = "smtpkit demo CA"

// demoCertHosts are the names and addresses serve's certificate covers:
// the MX (relay and mx --check verify it), the MTA-STS policy host, and
// the loopback address send and probe connect to.
var demoCertHosts = []string{demoMX, "mta-sts." + demoDomain, "127.0.0.1"}

// demoFiles are the paths in the throwaway directory.
type demoFiles struct {
	ca, cert, key      string // PEM: the CA; the leaf then the CA; the leaf's key
	password, htpasswd string
	maildir, spool     string
	serverTLS          *tls.Config // the leaf, for the MTA-STS policy server
}

// writeDemoFiles makes a throwaway CA and a certificate it signs, valid
// from an hour before now for a year (probe would warn about a shorter
// life), the AUTH user's random password and
// its bcrypt hash, and writes them into dir.
func writeDemoFiles(dir string, now time.Time) (demoFiles, error) {
	f := demoFiles{
		ca: filepath.Join(dir, "tls", "ca.pem"), cert: filepath.Join(dir, "tls", "cert.pem"), key: filepath.Join(dir, "tls", "key.pem"),
		password: filepath.Join(dir, "password"), htpasswd: filepath.Join(dir, "users.htpasswd"),
		maildir: filepath.Join(dir, "maildir"), spool: filepath.Join(dir, "spool"),
	}
	if err := os.Mkdir(filepath.Join(dir, "tls"), 0o700); err != nil {
		return f, err
	}
	ch, err := certgen.Issue(certgen.Request{
		Hosts: demoCertHosts, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
		CAName: demoCAName,
	})
	if err != nil {
		return f, err
	}
	keyPEM, err := ch.KeyPEM()
	if err != nil {
		return f, err
	}
	f.serverTLS = &tls.Config{Certificates: []tls.Certificate{ch.TLSCertificate()}, MinVersion: tls.VersionTLS12}

	var pw [18]byte
	if _, err := rand.Read(pw[:]); err != nil {
		return f, err
	}
	password := base64.RawURLEncoding.EncodeToString(pw[:])
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return f, err
	}
	for _, w := range []struct {
		path string
		data []byte
	}{
		{f.ca, ch.CAPEM()},
		{f.cert, ch.CertPEM()},
		{f.key, keyPEM},
		{f.password, []byte(password + "\n")},
		{f.htpasswd, []byte(demoUser + ":" + string(hash) + "\n")},
	} {
		if err := os.WriteFile(w.path, w.data, 0o600); err != nil {
			return f, err
		}
	}
	return f, nil
}

// startPolicyServer serves demoPolicy over HTTPS on 127.0.0.1:0 at
// /.well-known/mta-sts.txt (RFC 8461 3.3) and returns the server and its
// port.
func startPolicyServer(cfg *tls.Config) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/mta-sts.txt", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, demoPolicy)
	})
	srv := &http.Server{
		Handler: mux, TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0), // handshake noise from probes is not the demo's business
	}
	go func() { _ = srv.Serve(tls.NewListener(ln, cfg)) }()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return srv, port, nil
}

// demoMessage is one message in the maildir, as the maildir step lists it.
type demoMessage struct {
	File    string `json:"file"` // relative to the maildir
	From    string `json:"from"`
	To      string `json:"to"` // Delivered-To, the recipient serve delivered for
	Subject string `json:"subject"`
	Size    int64  `json:"size"`
}

// readMaildir lists the messages in dir's new/ and cur/ in the order they
// arrived, with a few header fields.
func readMaildir(dir string) ([]demoMessage, error) {
	type arrived struct {
		m demoMessage
		t time.Time
	}
	var all []arrived
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, &ExitError{Code: ExitIOErr, Err: err}
		}
		for _, e := range ents {
			if !e.Type().IsRegular() {
				continue
			}
			info, err := e.Info()
			if err != nil {
				return nil, &ExitError{Code: ExitIOErr, Err: err}
			}
			m, err := readDemoMessage(filepath.Join(dir, sub, e.Name()))
			if err != nil {
				return nil, &ExitError{Code: ExitIOErr, Err: err}
			}
			m.File = sub + "/" + e.Name()
			all = append(all, arrived{m, info.ModTime()})
		}
	}
	// The names start with the seconds and microseconds, unpadded: the
	// files' times order them, the names break a tie.
	sort.Slice(all, func(i, j int) bool {
		if !all[i].t.Equal(all[j].t) {
			return all[i].t.Before(all[j].t)
		}
		return all[i].m.File < all[j].m.File
	})
	out := make([]demoMessage, len(all))
	for i, a := range all {
		out[i] = a.m
	}
	return out, nil
}

func readDemoMessage(path string) (demoMessage, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return demoMessage{}, err
	}
	m := demoMessage{Size: int64(len(b))}
	msg, err := mail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		return m, fmt.Errorf("%s: %w", path, err)
	}
	dec := new(mime.WordDecoder)
	for _, f := range []struct {
		dst  *string
		name string
	}{{&m.From, "From"}, {&m.To, "Delivered-To"}, {&m.Subject, "Subject"}} {
		v := msg.Header.Get(f.name)
		if d, err := dec.DecodeHeader(v); err == nil {
			v = d
		}
		*f.dst = v
	}
	return m, nil
}

// findDemoMessage returns the message with subject delivered to rcpt, or
// nil.
func findDemoMessage(msgs []demoMessage, subject, rcpt string) *demoMessage {
	for i, m := range msgs {
		if m.Subject == subject && strings.EqualFold(m.To, rcpt) {
			return &msgs[i]
		}
	}
	return nil
}

// lockedBuffer collects serve's log while serve writes to it from its own
// goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
