package main

import (
	"path/filepath"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/smtpkit/smtpkit/internal/dnsx/dnstest"
)

// Commands for the scripts that test `smtpkit mx` (testdata/script/mx_*.txtar):
//
//	dns-server [ZONE]         an in-process DNS server (internal/dnsx/dnstest) on
//	                          127.0.0.1, UDP and TCP, serving ZONE (a file in the
//	                          script, or by default the repository's
//	                          testdata/dns/test.zone, whose "dnstest:" TXT records
//	                          make it misbehave for chosen names); sets $DNS to
//	                          127.0.0.1:PORT for --resolver. Stopped when the
//	                          script ends.
func cmdDNSServer(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "dns-server")
	if len(args) > 1 {
		ts.Fatalf("usage: dns-server [zone-file]")
	}
	var zone string
	if len(args) == 1 {
		zone = ts.MkAbs(args[0])
	} else {
		root, err := repoRoot()
		ts.Check(err)
		zone = filepath.Join(root, "testdata", "dns", "test.zone")
	}
	srv, err := dnstest.StartFile(zone)
	ts.Check(err)
	ts.Defer(func() { srv.Close() })
	ts.Setenv("DNS", srv.Addr)
}
