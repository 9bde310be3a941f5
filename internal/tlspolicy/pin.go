package tlspolicy

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
)

// CertSHA256 returns the SHA-256 of the certificate's DER encoding in lowercase hex (what
// `openssl x509 -fingerprint -sha256` prints, without colons).
func CertSHA256(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// SPKISHA256 returns the SHA-256 of the certificate's SubjectPublicKeyInfo in lowercase
// hex: the data of a "3 1 1" TLSA record, which survives renewals that keep the key.
func SPKISHA256(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

// PinKind says what a Pin's digest covers.
type PinKind string

// The pin kinds.
const (
	// PinAny matches either digest.
	PinAny PinKind = ""
	// PinCert: the SHA-256 of the whole certificate.
	PinCert PinKind = "cert"
	// PinSPKI: the SHA-256 of the SubjectPublicKeyInfo.
	PinSPKI PinKind = "spki"
)

// Pin is a SHA-256 fingerprint the server's leaf certificate must match under
// LevelFingerprint.
type Pin struct {
	Kind   PinKind  `json:"kind,omitempty"`
	SHA256 HexBytes `json:"sha256"`
}

// ParsePin parses "[cert:|spki:][sha256:]HEX", where HEX is the 64 hex digits of a SHA-256
// digest, in either case, optionally with colons between bytes (as openssl prints them).
// Without a kind the pin matches the certificate or its public key. It returns an error
// for another kind or digest, or a digest of the wrong length.
func ParsePin(s string) (Pin, error) {
	var p Pin
	rest := strings.TrimSpace(s)
	if k, r, ok := strings.Cut(rest, ":"); ok {
		switch strings.ToLower(k) {
		case "cert":
			p.Kind, rest = PinCert, r
		case "spki", "pubkey":
			p.Kind, rest = PinSPKI, r
		}
	}
	if k, r, ok := strings.Cut(rest, ":"); ok && strings.EqualFold(k, "sha256") {
		rest = r
	}
	digits := strings.ReplaceAll(rest, ":", "")
	sum, err := hex.DecodeString(digits)
	if err != nil || len(sum) != sha256.Size {
		return Pin{}, fmt.Errorf("pin %q: want [cert:|spki:]sha256:<64 hex digits>", s)
	}
	p.SHA256 = sum
	return p, nil
}

// String returns the pin as ParsePin reads it: "cert:sha256:HEX", "spki:sha256:HEX" or
// "sha256:HEX".
func (p Pin) String() string {
	s := "sha256:" + hex.EncodeToString(p.SHA256)
	if p.Kind != PinAny {
		s = string(p.Kind) + ":" + s
	}
	return s
}

// Matches reports whether c's certificate or public key digest, as the pin's kind says,
// equals the pin.
func (p Pin) Matches(c *x509.Certificate) bool {
	if (p.Kind == PinAny || p.Kind == PinCert) && digestEqual(p.SHA256, c.Raw) {
		return true
	}
	return (p.Kind == PinAny || p.Kind == PinSPKI) && digestEqual(p.SHA256, c.RawSubjectPublicKeyInfo)
}

func digestEqual(want []byte, data []byte) bool {
	sum := sha256.Sum256(data)
	return bytes.Equal(want, sum[:])
}

// HexBytes is binary data that JSON and text encodings show as lowercase hex.
type HexBytes []byte

// MarshalText encodes b as lowercase hex.
func (b HexBytes) MarshalText() ([]byte, error) {
	out := make([]byte, hex.EncodedLen(len(b)))
	hex.Encode(out, b)
	return out, nil
}

// UnmarshalText decodes hex, in either case.
func (b *HexBytes) UnmarshalText(text []byte) error {
	out := make([]byte, hex.DecodedLen(len(text)))
	if _, err := hex.Decode(out, text); err != nil {
		return fmt.Errorf("hex: %w", err)
	}
	*b = out
	return nil
}

// String is the lowercase hex.
func (b HexBytes) String() string { return hex.EncodeToString(b) }
