package records

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
)

// rsaPub builds an RSA public key of the given size without generating a private key:
// only the modulus length matters to the parser, and Go refuses to generate small keys.
func rsaPub(t *testing.T, bits int, pkcs1 bool) string {
	t.Helper()
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	n.Add(n, big.NewInt(1))
	pub := &rsa.PublicKey{N: n, E: 65537}
	if pkcs1 {
		return base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PublicKey(pub))
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

func TestParseDKIMKey(t *testing.T) {
	edPub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	ed := base64.StdEncoding.EncodeToString(edPub)
	edPKIX, err := x509.MarshalPKIXPublicKey(edPub)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	rsa2048 := rsaPub(t, 2048, false)
	// Wrapped as a zone file would show it: white space anywhere in the base64.
	folded := rsa2048[:40] + " \t" + rsa2048[40:100] + "\r\n " + rsa2048[100:]

	tests := []struct {
		name    string
		txt     string
		keyType string
		bits    int
		revoked bool
		errs    []string
		warns   []string
	}{
		{name: "rsa 2048", txt: "v=DKIM1; k=rsa; p=" + rsa2048, keyType: "rsa", bits: 2048},
		{name: "no version no k", txt: "p=" + rsa2048, keyType: "rsa", bits: 2048},
		{name: "folded base64", txt: "v=DKIM1; p=" + folded, keyType: "rsa", bits: 2048},
		{name: "pkcs1", txt: "v=DKIM1; p=" + rsaPub(t, 2048, true), keyType: "rsa", bits: 2048},
		{name: "rsa 1024", txt: "v=DKIM1; p=" + rsaPub(t, 1024, false), keyType: "rsa", bits: 1024, warns: []string{"RSA key of 1024 bits; use at least 2048"}},
		{name: "rsa 512", txt: "v=DKIM1; p=" + rsaPub(t, 512, false), keyType: "rsa", bits: 512, errs: []string{"RSA key of 512 bits; verifiers reject keys under 1024"}},
		{name: "rsa 8192", txt: "v=DKIM1; p=" + rsaPub(t, 8192, false), keyType: "rsa", bits: 8192, warns: []string{"up to 4096"}},
		{name: "ed25519", txt: "v=DKIM1; k=ed25519; p=" + ed, keyType: "ed25519", bits: 256},
		{name: "ed25519 pkix", txt: "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(edPKIX), keyType: "ed25519", errs: []string{"an ed25519 key is 32 octets, not 44"}},
		{name: "ed25519 pkix as rsa", txt: "v=DKIM1; p=" + base64.StdEncoding.EncodeToString(edPKIX), keyType: "rsa", errs: []string{"k=rsa but p= holds an Ed25519 key"}},
		{name: "ecdsa as rsa", txt: "v=DKIM1; p=" + base64.StdEncoding.EncodeToString(ecDER), keyType: "rsa", errs: []string{"ECDSA key"}},
		{name: "revoked", txt: "v=DKIM1; p=", keyType: "rsa", revoked: true, warns: []string{"revoked"}},
		{name: "revoked spaces", txt: "v=DKIM1; k=rsa; p= ;", keyType: "rsa", revoked: true, warns: []string{"revoked"}},
		{name: "missing p", txt: "v=DKIM1; k=rsa", keyType: "rsa", errs: []string{"p= is missing"}},
		{name: "bad base64", txt: "v=DKIM1; p=abc$", keyType: "rsa", errs: []string{"not valid base64"}},
		{name: "not a key", txt: "v=DKIM1; p=" + base64.StdEncoding.EncodeToString([]byte("hello world")), keyType: "rsa", errs: []string{"not an RSA public key"}},
		{name: "unknown k", txt: "v=DKIM1; k=dsa; p=" + rsa2048, keyType: "dsa", errs: []string{"k=dsa: unknown key type"}},
		{name: "version not first", txt: "k=rsa; v=DKIM1; p=" + rsa2048, keyType: "rsa", bits: 2048, errs: []string{"v= must be the first tag"}},
		{name: "h sha256", txt: "v=DKIM1; h=sha1:sha256; p=" + rsa2048, keyType: "rsa", bits: 2048},
		{name: "h sha1 only", txt: "v=DKIM1; h=sha1; p=" + rsa2048, keyType: "rsa", bits: 2048, errs: []string{"h=sha1 excludes sha256"}},
		{name: "s email", txt: "v=DKIM1; s=email; p=" + rsa2048, keyType: "rsa", bits: 2048},
		{name: "s other", txt: "v=DKIM1; s=foo; p=" + rsa2048, keyType: "rsa", bits: 2048, errs: []string{"not for email"}},
		{name: "testing", txt: "v=DKIM1; t=y:s; p=" + rsa2048, keyType: "rsa", bits: 2048, warns: []string{"t=y"}},
		{name: "unknown flag", txt: "v=DKIM1; t=x; p=" + rsa2048, keyType: "rsa", bits: 2048},
		{name: "bad flag list", txt: "v=DKIM1; t=y:; p=" + rsa2048, keyType: "rsa", bits: 2048, errs: []string{"t=y:"}},
		{name: "case-sensitive tags", txt: "v=DKIM1; P=" + rsa2048, keyType: "rsa", errs: []string{"p= is missing"}},
		{name: "duplicate p", txt: "v=DKIM1; p=" + rsa2048 + "; p=", keyType: "rsa", bits: 2048, errs: []string{"tag p appears more than once"}},
		{name: "notes", txt: "v=DKIM1; n=hello there; p=" + rsa2048, keyType: "rsa", bits: 2048},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, ps := ParseDKIMKey(tt.txt)
			if k == nil {
				t.Fatalf("ParseDKIMKey = nil, %v", ps)
			}
			if k.KeyType != tt.keyType || k.KeyBits != tt.bits || k.Revoked != tt.revoked {
				t.Errorf("got type %q bits %d revoked %v; want %q %d %v", k.KeyType, k.KeyBits, k.Revoked, tt.keyType, tt.bits, tt.revoked)
			}
			checkProblems(t, ps, tt.errs, tt.warns)
		})
	}
}

func TestParseDKIMKeyFields(t *testing.T) {
	k, ps := ParseDKIMKey("v=DKIM1; h=sha256; s=email:*; t=y:s; n=note; p=")
	checkProblems(t, ps, nil, []string{"revoked", "t=y"})
	if !k.Testing || !k.Strict || k.Notes != "note" || strings.Join(k.HashAlgorithms, ",") != "sha256" || strings.Join(k.Services, ",") != "email,*" || strings.Join(k.Flags, ",") != "y,s" {
		t.Errorf("fields: %+v", k)
	}
}

func TestParseDKIMKeyWrongVersion(t *testing.T) {
	k, ps := ParseDKIMKey("v=DKIM2; p=abc")
	if k != nil {
		t.Errorf("got %+v, want nil", k)
	}
	checkProblems(t, ps, []string{"not a DKIM key record"}, nil)
}
