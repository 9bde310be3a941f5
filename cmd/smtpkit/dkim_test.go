package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/rogpeppe/go-internal/testscript"
)

// Commands for DKIM in the scripts:
//
//	dkim-key rsa|ed25519 KEY TXT
//	                          a new private key in KEY (PEM, PKCS#8) and, in
//	                          TXT, the DNS TXT record that publishes it
//	                          ("v=DKIM1; k=...; p=...")
//	dkim-verify SRC TXT NAME  verify every DKIM-Signature of the message SRC
//	                          (a file, or each file of a folder such as
//	                          md/new) with the key record in TXT, looked up
//	                          as NAME (SELECTOR._domainkey.DOMAIN; any other
//	                          lookup fails). Prints "FILE: pass d=D s=S h=H"
//	                          per signature; fails on a message with no
//	                          signature or one that does not verify. With
//	                          !, passes only when every message fails.

// dkim-key rsa|ed25519 KEY TXT
func cmdDKIMKey(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "dkim-key")
	if len(args) != 3 {
		ts.Fatalf("usage: dkim-key rsa|ed25519 key txt")
	}
	var priv any
	var p string
	switch args[0] {
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		ts.Check(err)
		der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		ts.Check(err)
		priv, p = k, "k=rsa; p="+base64.StdEncoding.EncodeToString(der)
	case "ed25519":
		pub, k, err := ed25519.GenerateKey(rand.Reader)
		ts.Check(err)
		// RFC 8463 3: p= is the raw 32-octet key.
		priv, p = k, "k=ed25519; p="+base64.StdEncoding.EncodeToString(pub)
	default:
		ts.Fatalf("dkim-key: unknown key type %q", args[0])
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	ts.Check(os.WriteFile(ts.MkAbs(args[2]), []byte("v=DKIM1; "+p+"\n"), 0o644))
}

// dkim-verify SRC TXT NAME
func cmdDKIMVerify(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: dkim-verify file|dir txt name")
	}
	txt, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	name := args[2]
	src := ts.MkAbs(args[0])
	files := []string{src}
	if fi, err := os.Stat(src); err == nil && fi.IsDir() {
		names, err := maildirFiles(src)
		ts.Check(err)
		files = files[:0]
		for _, n := range names {
			files = append(files, filepath.Join(src, n))
		}
	}
	if len(files) == 0 {
		ts.Fatalf("dkim-verify: no message in %s", args[0])
	}
	lookup := func(domain string) ([]string, error) {
		if domain != name {
			return nil, fmt.Errorf("dkim-verify: lookup of %q, want %q", domain, name)
		}
		return []string{strings.TrimSpace(string(txt))}, nil
	}
	failed := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		ts.Check(err)
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(b), &dkim.VerifyOptions{LookupTXT: lookup})
		base := filepath.Base(f)
		switch {
		case err != nil:
			ts.Logf("%s: %v", base, err)
			failed++
			continue
		case len(vs) == 0:
			ts.Logf("%s: no DKIM-Signature", base)
			failed++
			continue
		}
		bad := false
		for _, v := range vs {
			if v.Err != nil {
				ts.Logf("%s: fail d=%s: %v", base, v.Domain, v.Err)
				bad = true
				continue
			}
			fmt.Fprintf(ts.Stdout(), "%s: pass d=%s s=%s h=%s\n", base, v.Domain, selectorOf(b), strings.ToLower(strings.Join(v.HeaderKeys, ":")))
		}
		if bad {
			failed++
		}
	}
	switch {
	case neg && failed != len(files):
		ts.Fatalf("dkim-verify: %d of %d messages verify, want none", len(files)-failed, len(files))
	case !neg && failed > 0:
		ts.Fatalf("dkim-verify: %d of %d messages do not verify", failed, len(files))
	}
}

// selectorOf is the s= tag of the first DKIM-Signature field of msg.
func selectorOf(msg []byte) string {
	i := bytes.Index(msg, []byte("DKIM-Signature:"))
	if i < 0 {
		return ""
	}
	lines := strings.Split(string(msg[i+len("DKIM-Signature:"):]), "\r\n")
	field := lines[0]
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "\t") {
			break
		}
		field += l
	}
	for _, tag := range strings.Split(field, ";") {
		if k, v, ok := strings.Cut(strings.TrimSpace(tag), "="); ok && k == "s" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
