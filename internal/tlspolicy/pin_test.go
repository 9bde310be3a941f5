package tlspolicy

import (
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParsePin(t *testing.T) {
	p := newPKI(t)
	leaf := p.leaf(t, leafOpts{names: []string{"mx.example.com"}})
	cert, spki := CertSHA256(leaf), SPKISHA256(leaf)
	colons := func(h string) string {
		var parts []string
		for i := 0; i < len(h); i += 2 {
			parts = append(parts, strings.ToUpper(h[i:i+2]))
		}
		return strings.Join(parts, ":")
	}
	tests := []struct {
		in      string
		kind    PinKind
		matches bool
	}{
		{"cert:sha256:" + cert, PinCert, true},
		{"spki:sha256:" + spki, PinSPKI, true},
		{"pubkey:" + spki, PinSPKI, true},
		{"sha256:" + cert, PinAny, true},
		{spki, PinAny, true},
		{" SHA256:" + colons(cert) + " ", PinAny, true},
		{"cert:" + spki, PinCert, false},
		{"spki:" + cert, PinSPKI, false},
		{"sha256:" + CertSHA256(p.inter), PinAny, false},
	}
	for _, tt := range tests {
		pin, err := ParsePin(tt.in)
		if err != nil {
			t.Errorf("ParsePin(%q): %v", tt.in, err)
			continue
		}
		if pin.Kind != tt.kind || pin.Matches(leaf) != tt.matches {
			t.Errorf("ParsePin(%q) = %+v, matches %v", tt.in, pin, pin.Matches(leaf))
		}
		again, err := ParsePin(pin.String())
		if err != nil || again.String() != pin.String() {
			t.Errorf("round trip of %q: %v, %v", pin, again, err)
		}
	}
	for _, bad := range []string{"", "sha256:", "md5:" + cert, "sha1:" + cert[:40], cert[:62], cert + "00", "cert:sha256:" + cert[:63] + "g"} {
		if _, err := ParsePin(bad); err == nil {
			t.Errorf("ParsePin(%q): no error", bad)
		}
	}
	data, err := json.Marshal(Pin{Kind: PinSPKI, SHA256: mustHex(t, spki)})
	if err != nil || string(data) != `{"kind":"spki","sha256":"`+spki+`"}` {
		t.Errorf("JSON %s, %v", data, err)
	}
	var back Pin
	if err := json.Unmarshal(data, &back); err != nil || back.String() != "spki:sha256:"+spki {
		t.Errorf("unmarshal: %v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"sha256":"zz"}`), &back); err == nil {
		t.Error("bad hex unmarshalled")
	}
}

func TestLoadCAFile(t *testing.T) {
	p := newPKI(t)
	other := newPKI(t)
	leaf := p.leaf(t, leafOpts{names: []string{"mx.example.com"}})
	dir := t.TempDir()
	write := func(name string, blocks ...*pem.Block) string {
		var data []byte
		for _, b := range blocks {
			data = append(data, pem.EncodeToMemory(b)...)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	certBlock := func(der []byte) *pem.Block { return &pem.Block{Type: "CERTIFICATE", Bytes: der} }

	good := write("good.pem", &pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte("not used")}, certBlock(other.root.Raw), certBlock(p.root.Raw))
	pool, err := LoadCAFile(good)
	if err != nil {
		t.Fatal(err)
	}
	v := Evaluate(connState(leaf, p.inter), Input{Level: LevelVerify, Host: "mx.example.com", Roots: pool, Now: testNow})
	checkVerdict(t, v, true, want{ReasonChainVerified: StatusPass})

	tests := []struct {
		path string
		want string
	}{
		{filepath.Join(dir, "missing.pem"), "no such file"},
		{write("empty.pem"), "no PEM certificate"},
		{write("key.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}), "no PEM certificate"},
		{write("garbage.pem", certBlock(p.root.Raw), certBlock([]byte("garbage"))), "certificate 2"},
	}
	for _, tt := range tests {
		if _, err := LoadCAFile(tt.path); err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "ca file") {
			t.Errorf("LoadCAFile(%s) = %v, want %q", filepath.Base(tt.path), err, tt.want)
		}
	}
}
