package tlsscan

import (
	"encoding/json"
	"io"
	"net"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
)

// fakeServer answers a ClientHello the way an old server would: the
// highest of its versions not above client_version, the first of its
// suites (server order) the client offers, a ServerHello without
// extensions, then it hangs up. It knows nothing of TLS 1.3 or SCSVs.
func fakeServer(t *testing.T, versions []Version, suites []uint16) Dialer {
	return serve(t, func(c net.Conn) {
		var hdr [5]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		rec := make([]byte, int(hdr[3])<<8|int(hdr[4]))
		if _, err := io.ReadFull(c, rec); err != nil {
			return
		}
		s := cryptobyte.String(rec[4:])
		var cv uint16
		var sid, offered cryptobyte.String
		if !s.ReadUint16(&cv) || !s.Skip(32) || !s.ReadUint8LengthPrefixed(&sid) || !s.ReadUint16LengthPrefixed(&offered) {
			return
		}
		alert := func(d byte) { _, _ = c.Write([]byte{21, 3, 0, 0, 2, 2, d}) }
		var v Version
		for _, sv := range versions {
			if sv <= Version(cv) && sv > v {
				v = sv
			}
		}
		if v == 0 {
			alert(70)
			return
		}
		var ids []uint16
		for !offered.Empty() {
			var id uint16
			offered.ReadUint16(&id)
			ids = append(ids, id)
		}
		for _, id := range suites {
			if slices.Contains(ids, id) {
				body := []byte{byte(v >> 8), byte(v)}
				body = append(body, make([]byte, 32)...)
				body = append(body, 0, byte(id>>8), byte(id), 0)
				msg := append([]byte{2, 0, 0, byte(len(body))}, body...)
				_, _ = c.Write(append([]byte{22, byte(v >> 8), byte(v), 0, byte(len(msg))}, msg...))
				return
			}
		}
		alert(40)
	})
}

func TestAuditSSLv3(t *testing.T) {
	// RC4-MD5, 3DES, EXPORT RC4, in this order of preference.
	prefs := []uint16{0x0004, 0x000A, 0x0003}
	dial := fakeServer(t, []Version{SSL30, TLS10}, prefs)
	res := audit(t, dial, Options{})
	if got := res.Accepted(); !slices.Equal(got, []Version{SSL30, TLS10}) {
		t.Fatalf("accepted %v", got)
	}
	for _, v := range []Version{SSL30, TLS10} {
		vr := res.Version(v)
		var got []uint16
		for _, s := range vr.Suites {
			got = append(got, s.ID)
		}
		if !slices.Equal(got, prefs) || vr.CipherOrder != OrderServer || vr.SecureRenegotiation {
			t.Errorf("%s: suites %v, order %q, reneg %v", v, hexList(got), vr.CipherOrder, vr.SecureRenegotiation)
		}
		if !vr.Suites[0].RC4 || !vr.Suites[1].TripleDES || !vr.Suites[2].Export {
			t.Errorf("%s: flags %+v", v, vr.Suites)
		}
	}
	if r := res.Version(TLS11).Refusal; r != "server chose TLS 1.0" {
		t.Errorf("TLS 1.1 refusal %q", r)
	}
	if r := res.Version(TLS13).Refusal; r != "handshake_failure" {
		t.Errorf("TLS 1.3 refusal %q", r)
	}
	if res.FallbackSCSV == nil || *res.FallbackSCSV {
		t.Errorf("fallback scsv %v, want false", res.FallbackSCSV)
	}
}

func TestResultJSON(t *testing.T) {
	yes := true
	g := namedGroup(GroupX25519)
	s, _ := LookupSuite(0xC02F)
	res := &Result{
		Versions: []VersionResult{{
			Version: TLS12, Accepted: true, CipherOrder: OrderServer, SecureRenegotiation: true,
			Suites: []SuiteResult{{Suite: s, Group: &g, DHBits: 2048}}, Groups: []Group{g},
		}},
		FallbackSCSV: &yes, Handshakes: 3, Errors: []string{"x"},
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{
		`"versions"`, `"version":"TLS 1.2"`, `"cipher_order":"server"`, `"secure_renegotiation":true`,
		`"fallback_scsv":true`, `"handshakes":3`, `"errors"`, `"openssl_name":"ECDHE-RSA-AES128-GCM-SHA256"`,
		`"name":"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"`, `"hex":"0xC02F"`, `"kx":"ECDHE"`, `"forward_secrecy":true`,
		`"triple_des":false`, `"dh_bits":2048`, `"group":{"id":29,"name":"x25519"}`,
	} {
		if !strings.Contains(string(b), key) {
			t.Errorf("%s missing from %s", key, b)
		}
	}
	var back Result
	if err := json.Unmarshal(b, &back); err != nil || back.Versions[0].Suites[0].ID != 0xC02F {
		t.Errorf("round trip: %v", err)
	}
}
