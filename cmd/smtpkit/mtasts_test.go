package main

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/rogpeppe/go-internal/testscript"
)

// mta-sts-server POLICY NAME...: an HTTPS server on 127.0.0.1 serving the
// file POLICY as text/plain at /.well-known/mta-sts.txt (and 404
// elsewhere), with a throwaway certificate for the NAMEs. Sets
// $MTASTS_PORT (for smtpkit mx --mta-sts-port) and $MTASTS_CA (the
// certificate, which is its own CA, for --ca-file). Stopped when the
// script ends.
func cmdMTASTSServer(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "mta-sts-server")
	if len(args) < 2 {
		ts.Fatalf("usage: mta-sts-server policy-file name...")
	}
	body, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	dir := filepath.Join(ts.Getenv("WORK"), "mtasts")
	ts.Check(os.MkdirAll(dir, 0o755))
	certFile, keyFile, err := writeCert(dir, args[1:]...)
	ts.Check(err)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	ts.Check(err)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/mta-sts.txt" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	ts.Defer(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	ts.Check(err)
	ts.Setenv("MTASTS_PORT", port)
	ts.Setenv("MTASTS_CA", certFile)
}
