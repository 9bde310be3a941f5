package tlspolicy

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/dnsx"
	"github.com/smtpkit/smtpkit/internal/dnsx/dnssectest"
)

// TestDANEValidatingResolver runs DANE end to end: TLSA records in a zone signed with
// ldns-signzone, served by nsd, validated by unbound, looked up through dnsx with the AD
// bit, and matched against the certificate a TLS server on loopback presents.
func TestDANEValidatingResolver(t *testing.T) {
	p, other := newPKI(t), newPKI(t)
	key := newKey(t)
	leaf := p.leaf(t, leafOpts{names: []string{"mx.dane.test", "ta.dane.test"}, key: key})
	otherLeaf := other.leaf(t, leafOpts{names: []string{"mx.dane.test"}})
	spki := SPKISHA256(leaf)
	interSum := sha256.Sum256(p.inter.Raw)
	placeholder := strings.Repeat("ee", 32)

	signed := strings.Join([]string{
		"_25._tcp.good IN TLSA 3 1 1 " + spki,
		"_25._tcp.ta IN TLSA 2 0 1 " + hex.EncodeToString(interSum[:]),
		"_25._tcp.ta-wrong-name IN TLSA 2 0 1 " + hex.EncodeToString(interSum[:]),
		"_25._tcp.bad IN TLSA 3 1 1 " + SPKISHA256(otherLeaf),
		"_25._tcp.pkix IN TLSA 1 1 1 " + spki,
		// Signed over the placeholder, then served with the real digest: bogus.
		"_25._tcp.bogus IN TLSA 3 1 1 " + placeholder,
		"other IN TXT \"not a TLSA\"",
	}, "\n")
	r := dnssectest.Start(t,
		dnssectest.Zone{Name: "dane.test", Signed: true, Records: signed, Tamper: func(z string) string {
			if !strings.Contains(z, placeholder) {
				t.Errorf("placeholder not in the signed zone:\n%s", z)
			}
			return strings.Replace(z, placeholder, spki, 1)
		}},
		dnssectest.Zone{Name: "plain.test", Records: "_25._tcp.mx IN TLSA 3 1 1 " + spki},
	)

	resolver, err := dnsx.New(dnsx.Config{Servers: []string{r.Addr}, DNSSEC: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer resolver.Close()
	if !resolver.Trusted() {
		t.Fatal("a loopback resolver is not trusted")
	}
	state := serveAndHandshake(t, tls.Certificate{Certificate: [][]byte{leaf.Raw, p.inter.Raw}, PrivateKey: key, Leaf: leaf})
	if state.PeerCertificates[0].Equal(leaf) == false {
		t.Fatal("the server presented another certificate")
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tests := []struct {
		host    string
		level   Level
		records int
		ad      bool
		ok      bool
		want    want
		lookErr dnsx.Kind
	}{
		{host: "good.dane.test", level: LevelDANEOnly, records: 1, ad: true, ok: true, want: want{ReasonDANEMatch: StatusPass}},
		{host: "ta.dane.test", level: LevelDANEOnly, records: 1, ad: true, ok: true, want: want{ReasonDANEMatch: StatusPass, ReasonNameMatch: StatusInfo}},
		{host: "ta-wrong-name.dane.test", level: LevelDANE, records: 1, ad: true, ok: false, want: want{ReasonDANETANameMismatch: StatusFail}},
		{host: "bad.dane.test", level: LevelDANE, records: 1, ad: true, ok: false, want: want{ReasonDANEMismatch: StatusFail}},
		{host: "pkix.dane.test", level: LevelDANE, records: 1, ad: true, ok: true, want: want{ReasonTLSAIgnored: StatusInfo, ReasonDANEUnusable: StatusWarn}},
		// Validated denial: no records, DANE does not apply.
		{host: "none.dane.test", level: LevelDANE, ok: true, want: want{ReasonDANENoRecords: StatusInfo}},
		{host: "other.dane.test", level: LevelDANEOnly, ok: false, want: want{ReasonDANENoRecords: StatusFail}},
		// The unsigned zone's matching record comes without AD and is not used.
		{host: "mx.plain.test", level: LevelDANE, records: 1, ad: false, ok: true, want: want{ReasonDANEInsecure: StatusInfo, ReasonDANENoRecords: StatusInfo}},
		{host: "mx.plain.test", level: LevelDANEOnly, records: 1, ad: false, ok: false, want: want{ReasonDANEInsecure: StatusInfo, ReasonDANENoRecords: StatusFail}},
		// A record whose signature does not verify never reaches the client.
		{host: "bogus.dane.test", lookErr: dnsx.KindServFail},
	}
	for _, tt := range tests {
		t.Run(string(tt.level)+"/"+tt.host, func(t *testing.T) {
			recs, err := LookupTLSA(ctx, resolver, tt.host, 25)
			if tt.lookErr != 0 {
				if dnsx.KindOf(err) != tt.lookErr || len(recs) != 0 {
					t.Fatalf("LookupTLSA = %v, %v; want %v", recs, err, tt.lookErr)
				}
				if !dnsx.IsTemporary(err) {
					t.Errorf("a bogus answer is not temporary: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LookupTLSA: %v\n%s", err, r.Logs())
			}
			if len(recs) != tt.records {
				t.Fatalf("records %v, want %d", recs, tt.records)
			}
			for _, rec := range recs {
				if rec.AD != tt.ad {
					t.Errorf("record %s: AD %v, want %v", rec, rec.AD, tt.ad)
				}
			}
			v := Evaluate(state, Input{Level: tt.level, Host: tt.host, Now: testNow, TLSA: recs})
			checkVerdict(t, v, tt.ok, tt.want)
		})
	}

	// The insecure record would match: only the missing AD bit kept it out.
	recs, err := LookupTLSA(ctx, resolver, "mx.plain.test", 25)
	if err != nil || len(recs) != 1 {
		t.Fatalf("plain: %v, %v", recs, err)
	}
	recs[0].AD = true
	if v := Evaluate(state, Input{Level: LevelDANEOnly, Host: "mx.plain.test", Now: testNow, TLSA: recs}); !v.OK {
		t.Errorf("the plain record does not match: %v", v.Reasons)
	}

	// The authoritative server answers the same good record without AD: it validates
	// nothing, so its answer cannot authenticate the server.
	auth, err := dnsx.New(dnsx.Config{Servers: []string{r.AuthAddr}, DNSSEC: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer auth.Close()
	recs, err = LookupTLSA(ctx, auth, "good.dane.test", 25)
	if err != nil || len(recs) != 1 || recs[0].AD {
		t.Fatalf("from nsd: %v, %v", recs, err)
	}
	v := Evaluate(state, Input{Level: LevelDANEOnly, Host: "good.dane.test", Now: testNow, TLSA: recs})
	checkVerdict(t, v, false, want{ReasonDANEInsecure: StatusInfo, ReasonDANENoRecords: StatusFail})
}

// serveAndHandshake runs a TLS server on loopback with cert and returns the state of a
// client handshake with it (no verification: the verdict is Evaluate's to give).
func serveAndHandshake(t *testing.T, cert tls.Certificate) tls.ConnectionState {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		done <- c.(*tls.Conn).Handshake()
	}()
	d := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	state := conn.ConnectionState()
	if err := <-done; err != nil {
		t.Fatal(fmt.Errorf("server handshake: %w", err))
	}
	return state
}
