package tlsscan

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

func TestSuiteTable(t *testing.T) {
	names := map[string]bool{}
	prev := -1
	for _, e := range suiteTable {
		s, ok := describeSuite(e.id, e.iana, e.openssl)
		if !ok {
			t.Errorf("0x%04X %s: cannot derive the suite", e.id, e.iana)
		}
		if int(e.id) <= prev {
			t.Errorf("0x%04X out of order", e.id)
		}
		prev = int(e.id)
		if names[s.Name] {
			t.Errorf("%s twice", s.Name)
		}
		names[s.Name] = true
		if s.AEAD && s.CBC || s.Null && s.Bits != 0 || s.Anonymous && s.ForwardSecrecy {
			t.Errorf("%s: contradictory flags %+v", s.Name, s)
		}
	}
	if len(Suites()) != len(suiteTable) {
		t.Errorf("Suites() has %d, table %d", len(Suites()), len(suiteTable))
	}
	if _, ok := LookupSuite(0x00FF); ok {
		t.Error("the renegotiation SCSV is not a suite")
	}
	if got := SuiteName(0xFAFA); got != "0xFAFA" {
		t.Errorf("SuiteName(unknown) = %q", got)
	}
}

func TestSuiteDerivation(t *testing.T) {
	for _, want := range []Suite{
		{ID: 0x0003, Hex: "0x0003", Name: "TLS_RSA_EXPORT_WITH_RC4_40_MD5", OpenSSLName: "EXP-RC4-MD5",
			Kx: KxRSA, Auth: "RSA", Encryption: "RC4", Bits: 40, MAC: "MD5", Export: true, RC4: true},
		{ID: 0x000A, Hex: "0x000A", Name: "TLS_RSA_WITH_3DES_EDE_CBC_SHA", OpenSSLName: "DES-CBC3-SHA",
			Kx: KxRSA, Auth: "RSA", Encryption: "3DES", Mode: "CBC", Bits: 168, MAC: "SHA1", TripleDES: true, CBC: true},
		{ID: 0x0014, Hex: "0x0014", Name: "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA", OpenSSLName: "EXP-EDH-RSA-DES-CBC-SHA",
			Kx: KxDHE, Auth: "RSA", Encryption: "DES", Mode: "CBC", Bits: 40, MAC: "SHA1", Export: true, DES: true, CBC: true, ForwardSecrecy: true},
		{ID: 0x0018, Hex: "0x0018", Name: "TLS_DH_anon_WITH_RC4_128_MD5", OpenSSLName: "ADH-RC4-MD5",
			Kx: KxDHAnon, Auth: "anon", Encryption: "RC4", Bits: 128, MAC: "MD5", Anonymous: true, RC4: true},
		{ID: 0x0026, Hex: "0x0026", Name: "TLS_KRB5_EXPORT_WITH_DES_CBC_40_SHA", OpenSSLName: "EXP-KRB5-DES-CBC-SHA",
			Kx: KxKRB5, Auth: "KRB5", Encryption: "DES", Mode: "CBC", Bits: 40, MAC: "SHA1", Export: true, DES: true, CBC: true},
		{ID: 0x0081, Hex: "0x0081", Name: "TLS_GOSTR341001_WITH_28147_CNT_IMIT", OpenSSLName: "GOST2001-GOST89-GOST89",
			Kx: KxGOST, Auth: "GOST01", Encryption: "GOST28147", Mode: "CNT", Bits: 256, MAC: "GOST28147"},
		{ID: 0x0096, Hex: "0x0096", Name: "TLS_RSA_WITH_SEED_CBC_SHA", OpenSSLName: "SEED-SHA",
			Kx: KxRSA, Auth: "RSA", Encryption: "SEED", Mode: "CBC", Bits: 128, MAC: "SHA1", CBC: true},
		{ID: 0x1303, Hex: "0x1303", Name: "TLS_CHACHA20_POLY1305_SHA256", OpenSSLName: "TLS_CHACHA20_POLY1305_SHA256",
			Kx: KxAny, Auth: "any", Encryption: "CHACHA20", Mode: "POLY1305", Bits: 256, MAC: "AEAD", TLS13: true, AEAD: true, ForwardSecrecy: true},
		{ID: 0x1305, Hex: "0x1305", Name: "TLS_AES_128_CCM_8_SHA256", OpenSSLName: "TLS_AES_128_CCM_8_SHA256",
			Kx: KxAny, Auth: "any", Encryption: "AES", Mode: "CCM_8", Bits: 128, MAC: "AEAD", TLS13: true, AEAD: true, ForwardSecrecy: true},
		{ID: 0xC0AA, Hex: "0xC0AA", Name: "TLS_PSK_DHE_WITH_AES_128_CCM_8", OpenSSLName: "DHE-PSK-AES128-CCM8",
			Kx: KxDHEPSK, Auth: "PSK", Encryption: "AES", Mode: "CCM_8", Bits: 128, MAC: "AEAD", AEAD: true, ForwardSecrecy: true},
		{ID: 0xC015, Hex: "0xC015", Name: "TLS_ECDH_anon_WITH_NULL_SHA", OpenSSLName: "AECDH-NULL-SHA",
			Kx: KxECDHAnon, Auth: "anon", Encryption: "NULL", MAC: "SHA1", Null: true, Anonymous: true},
		{ID: 0xC030, Hex: "0xC030", Name: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", OpenSSLName: "ECDHE-RSA-AES256-GCM-SHA384",
			Kx: KxECDHE, Auth: "RSA", Encryption: "AES", Mode: "GCM", Bits: 256, MAC: "AEAD", AEAD: true, ForwardSecrecy: true},
		{ID: 0xC0B4, Hex: "0xC0B4", Name: "TLS_SHA256_SHA256", OpenSSLName: "TLS_SHA256_SHA256",
			Kx: KxAny, Auth: "any", Encryption: "NULL", MAC: "SHA256", TLS13: true, Null: true, ForwardSecrecy: true},
	} {
		got, ok := LookupSuite(want.ID)
		if !ok || got != want {
			t.Errorf("0x%04X:\n got %+v\nwant %+v", want.ID, got, want)
		}
	}
}

// TestSuitesAgreeWithCryptoTLS: every suite Go knows has the same name.
func TestSuitesAgreeWithCryptoTLS(t *testing.T) {
	for _, list := range [][]*tls.CipherSuite{tls.CipherSuites(), tls.InsecureCipherSuites()} {
		for _, cs := range list {
			s, ok := LookupSuite(cs.ID)
			if !ok || s.Name != cs.Name {
				t.Errorf("0x%04X: %q, crypto/tls says %q", cs.ID, s.Name, cs.Name)
			}
		}
	}
}

// TestSuitesAgreeWithOpenSSL: every suite the local OpenSSL knows is in
// the table, under the same OpenSSL name, with the same key exchange,
// authentication, cipher, key size and MAC as OpenSSL prints.
func TestSuitesAgreeWithOpenSSL(t *testing.T) {
	out, err := exec.Command(requireOpenSSL(t), "ciphers", "-V", "ALL:COMPLEMENTOFALL:@SECLEVEL=0").Output()
	if err != nil {
		t.Fatalf("openssl ciphers: %v", err)
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 8 {
			t.Fatalf("unexpected line %q", sc.Text())
		}
		id, err := parseOpenSSLID(f[0])
		if err != nil {
			t.Fatal(err)
		}
		n++
		s, ok := LookupSuite(id)
		if !ok {
			t.Errorf("0x%04X %s missing from the table", id, f[2])
			continue
		}
		want := strings.Join(f[2:3], "") + " " + strings.Join(f[4:], " ")
		if got := opensslView(s); got != want {
			t.Errorf("0x%04X:\n got %s\nwant %s", id, got, want)
		}
	}
	if n < 50 {
		t.Fatalf("only %d suites from openssl", n)
	}
}

// opensslView prints a suite as `openssl ciphers -V` does, from the name
// column on, without the version column.
func opensslView(s Suite) string {
	kx := map[Kx]string{
		KxRSA: "RSA", KxDHE: "DH", KxDHAnon: "DH", KxECDHE: "ECDH", KxECDHAnon: "ECDH", KxPSK: "PSK",
		KxDHEPSK: "DHEPSK", KxRSAPSK: "RSAPSK", KxECDHEPSK: "ECDHEPSK", KxSRP: "SRP", KxAny: "any",
	}[s.Kx]
	au := s.Auth
	if s.Anonymous {
		au = "None"
	}
	family := map[string]string{
		"CAMELLIA": "Camellia", "CHACHA20": "CHACHA20/POLY1305", "NULL": "None",
	}[s.Encryption]
	if family == "" {
		family = s.Encryption
	}
	if !s.Null {
		switch s.Mode {
		case "GCM", "CCM":
			family += s.Mode
		case "CCM_8":
			family += "CCM8"
		}
		family = fmt.Sprintf("%s(%d)", family, s.Bits)
	}
	return fmt.Sprintf("%s Kx=%s Au=%s Enc=%s Mac=%s", s.OpenSSLName, kx, au, family, s.MAC)
}
