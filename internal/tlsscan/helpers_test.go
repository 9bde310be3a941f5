package tlsscan

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/certgen"
)

// rsaCert is a throwaway self-signed RSA certificate for 127.0.0.1, as a
// tls.Certificate and as PEM files for openssl.
type rsaCert struct {
	tls      tls.Certificate
	certFile string
	keyFile  string
}

func newRSACert(t *testing.T) *rsaCert {
	t.Helper()
	now := time.Now()
	ch, err := certgen.SelfSigned(certgen.Request{
		Hosts: []string{"localhost", "127.0.0.1"}, RSABits: 2048,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := ch.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := &rsaCert{
		tls:      ch.TLSCertificate(),
		certFile: filepath.Join(dir, "cert.pem"),
		keyFile:  filepath.Join(dir, "key.pem"),
	}
	if err := os.WriteFile(c.certFile, ch.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

// serve runs handle for every connection to a loopback listener until
// the test ends, and returns a Dialer for it.
func serve(t *testing.T, handle func(net.Conn)) Dialer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(20 * time.Second))
				handle(c)
			})
		}
	})
	return dialTo(ln.Addr().String())
}

func dialTo(addr string) Dialer {
	return func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
}

// serveTLS runs a crypto/tls server with cfg on loopback.
func serveTLS(t *testing.T, cfg *tls.Config) Dialer {
	return serve(t, func(c net.Conn) {
		_ = tls.Server(c, cfg).Handshake()
	})
}

func audit(t *testing.T, dial Dialer, opts Options) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Audit(ctx, dial, opts)
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	if len(res.Errors) > 0 {
		t.Errorf("Audit errors: %q", res.Errors)
	}
	return res
}

func suiteSet(vr *VersionResult) []uint16 {
	var ids []uint16
	for _, s := range vr.Suites {
		ids = append(ids, s.ID)
	}
	slices.Sort(ids)
	return ids
}

func groupIDs(gs []Group) []uint16 {
	var ids []uint16
	for _, g := range gs {
		ids = append(ids, g.ID)
	}
	return ids
}

func sorted(ids ...uint16) []uint16 {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return ids
}

func hexList(ids []uint16) []string {
	var out []string
	for _, id := range ids {
		out = append(out, SuiteName(id))
	}
	return out
}
