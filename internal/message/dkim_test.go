package message

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
)

// testKey is a DKIM key on disk with the TXT record that publishes it.
type testKey struct {
	name, path, txt string
}

func writePEM(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func testKeys(t *testing.T) []testKey {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	rsaTXT := "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(pub)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(rk)

	epub, epriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	epkcs8, _ := x509.MarshalPKCS8PrivateKey(epriv)
	// RFC 8463 3: the p= of an ed25519 key is the raw 32-octet key.
	edTXT := "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(epub)

	return []testKey{
		{"rsa pkcs1", writePEM(t, "rsa1.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rk)), rsaTXT},
		{"rsa pkcs8", writePEM(t, "rsa8.pem", "PRIVATE KEY", pkcs8), rsaTXT},
		{"ed25519", writePEM(t, "ed.pem", "PRIVATE KEY", epkcs8), edTXT},
	}
}

// verify checks every DKIM signature of msg against txt, published at
// sel._domainkey.example.com.
func verify(t *testing.T, msg, sel, txt string) []*dkim.Verification {
	t.Helper()
	lookup := func(domain string) ([]string, error) {
		if domain != sel+"._domainkey.example.com" {
			return nil, fmt.Errorf("unexpected lookup %q", domain)
		}
		return []string{txt}, nil
	}
	verifs, err := dkim.VerifyWithOptions(strings.NewReader(msg), &dkim.VerifyOptions{LookupTXT: lookup})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if len(verifs) == 0 {
		t.Fatal("no DKIM signature found")
	}
	for _, v := range verifs {
		if v.Err != nil {
			t.Errorf("signature by %s does not verify: %v", v.Domain, v.Err)
		}
	}
	return verifs
}

func TestDKIMSignAndVerify(t *testing.T) {
	keys := testKeys(t)
	data := "From: a@example.com\nTo: b@example.net\nSubject: dkim  test\nX-Unsigned: 1\n\nbody line  with spaces \n\n\nlast\n"
	for _, k := range keys {
		t.Run(k.name, func(t *testing.T) {
			dk := &DKIMOptions{Domain: "example.com", Selector: "sel", KeyPath: k.path}
			makers := map[string]func() (*Prepared, error){
				"compose": func() (*Prepared, error) {
					return Compose(ComposeOptions{
						From: mustAddr(t, "a@example.com"), FromName: "Ä Sender",
						To: []Address{mustAddr(t, "b@example.net")}, Body: "Grüße\n",
						Now: fixedNow, DKIM: dk,
					})
				},
				"file with edits": func() (*Prepared, error) {
					return FromFile(writeFile(t, data), DataOptions{Headers: []string{"Subject: edited"}, DKIM: dk})
				},
				"reader bare cr": func() (*Prepared, error) {
					return FromReader(strings.NewReader(strings.ReplaceAll(data, "\n", "\r")), DataOptions{DKIM: dk})
				},
				"header only": func() (*Prepared, error) {
					return FromFile(writeFile(t, "From: a@example.com\nSubject: x"), DataOptions{DKIM: dk})
				},
			}
			for name, make := range makers {
				p, err := make()
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				msg := content(t, p)
				if !strings.HasPrefix(msg, "DKIM-Signature: ") {
					t.Fatalf("%s: message does not start with the signature:\n%s", name, msg)
				}
				verifs := verify(t, msg, "sel", k.txt)
				keys := strings.ToLower(strings.Join(verifs[0].HeaderKeys, ":"))
				if !strings.HasPrefix(keys, "from:") && !strings.Contains(keys, ":from") {
					t.Errorf("%s: h= %q does not sign From", name, keys)
				}
				if strings.Contains(keys, "x-unsigned") {
					t.Errorf("%s: h= %q signs a field outside the default list", name, keys)
				}
				if !strings.HasSuffix(keys, ":from") {
					t.Errorf("%s: h= %q does not oversign From", name, keys)
				}
				if got := p.Summary().From; got == "" {
					t.Errorf("%s: Summary lost From", name)
				}
				checkLines(t, msg)
				p.Close()
			}
		})
	}
}

// TestDKIMOversignedFrom checks that adding a From to a signed message
// breaks the signature (RFC 6376 8.15).
func TestDKIMOversignedFrom(t *testing.T) {
	k := testKeys(t)[2]
	p, err := FromReader(strings.NewReader("From: a@example.com\nSubject: x\n\nbody\n"),
		DataOptions{DKIM: &DKIMOptions{Domain: "example.com", Selector: "sel", KeyPath: k.path}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	msg := content(t, p)
	forged := "From: evil@example.org\r\n" + msg
	verifs, err := dkim.VerifyWithOptions(strings.NewReader(forged), &dkim.VerifyOptions{
		LookupTXT: func(string) ([]string, error) { return []string{k.txt}, nil },
	})
	if err != nil || len(verifs) != 1 || verifs[0].Err == nil {
		t.Errorf("signature still verifies with a second From: %v", err)
	}
}

func TestDKIMOptions(t *testing.T) {
	k := testKeys(t)[2]
	data := "From: a@example.com\nSubject: x\nX-Custom: y\n\nbody\n"

	// An explicit list and an expiry.
	p, err := FromReader(strings.NewReader(data), DataOptions{DKIM: &DKIMOptions{
		Domain: "example.com", Selector: "s2", KeyPath: k.path,
		Headers: []string{"From", "X-Custom"}, Now: time.Now(), Expire: time.Hour,
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	v := verify(t, content(t, p), "s2", k.txt)[0]
	if got := strings.Join(v.HeaderKeys, ":"); got != "From:X-Custom" {
		t.Errorf("h= %q, want From:X-Custom", got)
	}
	if v.Expiration.IsZero() || v.Expiration.Before(time.Now().Add(50*time.Minute)) {
		t.Errorf("x= %v, want about an hour from now", v.Expiration)
	}
}

func TestDKIMErrors(t *testing.T) {
	dir := t.TempDir()
	good := testKeys(t)[2].path
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ek)
	ec8, _ := x509.MarshalPKCS8PrivateKey(ek)
	notPEM := filepath.Join(dir, "junk.pem")
	os.WriteFile(notPEM, []byte("this is not a key\n"), 0o600)
	certOnly := writePEM(t, "cert.pem", "CERTIFICATE", []byte{1, 2, 3})
	encrypted := filepath.Join(dir, "enc.pem")
	os.WriteFile(encrypted, pem.EncodeToMemory(&pem.Block{
		Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte{1},
	}), 0o600)
	garbage := writePEM(t, "bad.pem", "PRIVATE KEY", []byte{1, 2, 3})

	tests := []struct {
		name string
		opts DKIMOptions
		want string // error text; "" means a *os.PathError
	}{
		{"missing key", DKIMOptions{Domain: "example.com", Selector: "s", KeyPath: filepath.Join(dir, "none.pem")}, ""},
		{"not pem", DKIMOptions{Domain: "example.com", Selector: "s", KeyPath: notPEM}, "dkim key " + notPEM + ": not a PEM private key"},
		{"certificate only", DKIMOptions{Domain: "example.com", Selector: "s", KeyPath: certOnly}, "dkim key " + certOnly + ": not a PEM private key"},
		{"ec", DKIMOptions{Domain: "example.com", Selector: "s", KeyPath: writePEM(t, "ec.pem", "EC PRIVATE KEY", ecDER)}, "ecdsa keys cannot sign DKIM (use rsa or ed25519)"},
		{"ec pkcs8", DKIMOptions{Domain: "example.com", Selector: "s", KeyPath: writePEM(t, "ec8.pem", "PRIVATE KEY", ec8)}, "ecdsa keys cannot sign DKIM (use rsa or ed25519)"},
		{"encrypted", DKIMOptions{Domain: "example.com", Selector: "s", KeyPath: encrypted}, "encrypted keys are not supported"},
		{"garbage", DKIMOptions{Domain: "example.com", Selector: "s", KeyPath: garbage}, "bad PKCS#8 key"},
		{"no domain", DKIMOptions{Selector: "s", KeyPath: good}, `dkim: invalid signing domain ""`},
		{"no selector", DKIMOptions{Domain: "example.com", KeyPath: good}, `dkim: invalid selector ""`},
		{"no from", DKIMOptions{Domain: "example.com", Selector: "s", KeyPath: good, Headers: []string{"Subject"}}, "dkim: the signed header list must include From"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			opts := tt.opts
			_, err := FromReader(strings.NewReader("From: a@example.com\n\nx\n"), DataOptions{DKIM: &opts, TempDir: tmp})
			if tt.want == "" {
				var pe *os.PathError
				if !errors.As(err, &pe) {
					t.Fatalf("err = %v, want *os.PathError", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v (%T), want *ConfigError containing %q", err, err, tt.want)
			}
		})
	}
}

func TestLoadDKIMKeyTypes(t *testing.T) {
	for _, k := range testKeys(t) {
		s, err := LoadDKIMKey(k.path)
		if err != nil {
			t.Fatalf("%s: %v", k.name, err)
		}
		var _ crypto.Signer = s
		switch s.(type) {
		case *rsa.PrivateKey, ed25519.PrivateKey:
		default:
			t.Errorf("%s: got %T", k.name, s)
		}
	}
}
