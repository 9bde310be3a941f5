package records

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
)

// The DKIM key types smtpkit knows (RFC 6376 3.6.1, RFC 8463).
const (
	DKIMKeyRSA     = "rsa"
	DKIMKeyEd25519 = "ed25519"
)

// RSA key sizes that matter to DKIM verifiers (RFC 8301 3.2).
const (
	dkimRSAMinBits  = 1024 // smaller keys MUST NOT be considered valid
	dkimRSAGoodBits = 2048 // signers SHOULD use at least this
	dkimRSAMaxBits  = 4096 // verifiers need not validate larger keys
)

// DKIMKey is a parsed DKIM public key record, published at <selector>._domainkey.<domain>
// (RFC 6376 3.6.1).
type DKIMKey struct {
	// Record is the text that was parsed.
	Record string `json:"record"`
	// KeyType is k (default "rsa").
	KeyType string `json:"key_type"`
	// KeyBits is the RSA modulus size, or 256 for an Ed25519 key; 0 when the key is
	// revoked or could not be parsed.
	KeyBits int `json:"key_bits,omitempty"`
	// Revoked says p is empty: the key has been revoked (RFC 6376 3.6.1).
	Revoked bool `json:"revoked"`
	// HashAlgorithms is h split at colons; empty means every algorithm is allowed.
	HashAlgorithms []string `json:"hash_algorithms,omitempty"`
	// Services is s split at colons (default ["*"]).
	Services []string `json:"services"`
	// Flags is t split at colons.
	Flags []string `json:"flags,omitempty"`
	// Testing says t has the flag y: the domain is testing DKIM.
	Testing bool `json:"testing"`
	// Strict says t has the flag s: the i= domain of signatures must equal d=.
	Strict bool `json:"strict"`
	// Notes is n.
	Notes string `json:"notes,omitempty"`
}

// ParseDKIMKey parses one DKIM key record (RFC 6376 3.6.1). Tag names are case-sensitive
// (RFC 6376 3.2). It returns nil and an error problem when the record starts with a v= tag
// other than v=DKIM1, for verifiers discard such records. Otherwise it returns the key and
// the problems: an error for a missing p, an undecodable or unparsable key, an unknown key
// type, an RSA key under 1024 bits (RFC 8301 3.2), a record not usable for email, or h=
// without sha256; a warning for an RSA key under 2048 or over 4096 bits, a revoked key,
// and testing mode.
func ParseDKIMKey(txt string) (*DKIMKey, []Problem) {
	if name, value, ok := firstTag(txt); ok && name == "v" && value != "DKIM1" {
		return nil, []Problem{errorf("not a DKIM key record: v=%s, where only v=DKIM1 is defined (RFC 6376 3.6.1)", value)}
	}
	tags, ps := parseTagList(txt, false)
	k := &DKIMKey{Record: txt, KeyType: DKIMKeyRSA, Services: []string{"*"}}
	var pValue string
	hasP := false
	for i, t := range tags {
		if t.bad {
			continue
		}
		switch t.name {
		case "v":
			if i != 0 {
				// RFC 6376 3.6.1: v= MUST be the first tag.
				ps = append(ps, errorf("v= must be the first tag (RFC 6376 3.6.1)"))
			}
		case "k":
			k.KeyType = t.value
		case "p":
			pValue, hasP = t.value, true
		case "h":
			algs, ok := splitColonList(t.value, "")
			if !ok {
				ps = append(ps, errorf("h=%s: must be a colon-separated list (RFC 6376 3.6.1)", t.value))
				continue
			}
			k.HashAlgorithms = algs
		case "s":
			svcs, ok := splitColonList(t.value, "")
			if !ok {
				ps = append(ps, errorf("s=%s: must be a colon-separated list (RFC 6376 3.6.1)", t.value))
				continue
			}
			k.Services = svcs
		case "t":
			flags, ok := splitColonList(t.value, "")
			if !ok {
				ps = append(ps, errorf("t=%s: must be a colon-separated list (RFC 6376 3.6.1)", t.value))
				continue
			}
			k.Flags = flags
			for _, f := range flags {
				// RFC 6376 3.6.1: unrecognised flags MUST be ignored.
				switch f {
				case "y":
					k.Testing = true
				case "s":
					k.Strict = true
				}
			}
		case "n":
			k.Notes = t.value
		}
	}
	if !hasP {
		ps = append(ps, errorf("p= is missing; it is required (RFC 6376 3.6.1)"))
	} else {
		ps = append(ps, k.parseKey(pValue)...)
	}
	if len(k.HashAlgorithms) > 0 && !slices.Contains(k.HashAlgorithms, "sha256") {
		// RFC 8301 3.1: verifiers MUST NOT accept rsa-sha1 any more.
		ps = append(ps, errorf("h=%s excludes sha256, the only hash verifiers accept (RFC 8301 3.1)", strings.Join(k.HashAlgorithms, ":")))
	}
	if !slices.Contains(k.Services, "*") && !slices.Contains(k.Services, "email") {
		ps = append(ps, errorf("s=%s: the key is not for email; s must include * or email (RFC 6376 3.6.1)", strings.Join(k.Services, ":")))
	}
	if k.Testing {
		ps = append(ps, warnf("t=y: the domain is testing DKIM; verifiers may treat failures as unsigned mail (RFC 6376 3.6.1)"))
	}
	return k, ps
}

// parseKey decodes p= and measures the key.
func (k *DKIMKey) parseKey(p string) []Problem {
	// RFC 6376 3.6.1: white space is allowed anywhere in the base64 value.
	p = removeWSP(p)
	if p == "" {
		k.Revoked = true
		return []Problem{warnf("p= is empty: the key has been revoked (RFC 6376 3.6.1)")}
	}
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return []Problem{errorf("p= is not valid base64: %v", err)}
	}
	switch k.KeyType {
	case DKIMKeyRSA:
		// RFC 6376 3.6.1 asks for an RSAPublicKey in a SubjectPublicKeyInfo; some
		// publish the bare PKCS#1 structure, which many verifiers also take.
		var pub *rsa.PublicKey
		if key, err := x509.ParsePKIXPublicKey(der); err == nil {
			rk, ok := key.(*rsa.PublicKey)
			if !ok {
				return []Problem{errorf("k=rsa but p= holds %s", keyKind(key))}
			}
			pub = rk
		} else if rk, err := x509.ParsePKCS1PublicKey(der); err == nil {
			pub = rk
		} else {
			return []Problem{errorf("p= is not an RSA public key (SubjectPublicKeyInfo or PKCS#1)")}
		}
		k.KeyBits = pub.N.BitLen()
		switch {
		case k.KeyBits < dkimRSAMinBits:
			return []Problem{errorf("RSA key of %d bits; verifiers reject keys under %d bits (RFC 8301 3.2)", k.KeyBits, dkimRSAMinBits)}
		case k.KeyBits < dkimRSAGoodBits:
			return []Problem{warnf("RSA key of %d bits; use at least %d (RFC 8301 3.2)", k.KeyBits, dkimRSAGoodBits)}
		case k.KeyBits > dkimRSAMaxBits:
			return []Problem{warnf("RSA key of %d bits; verifiers need only handle up to %d (RFC 8301 3.2)", k.KeyBits, dkimRSAMaxBits)}
		}
	case DKIMKeyEd25519:
		// RFC 8463 4.2: the bare 32-octet public key, not wrapped in ASN.1.
		if len(der) != ed25519.PublicKeySize {
			return []Problem{errorf("an ed25519 key is %d octets, not %d; publish the bare key, not a SubjectPublicKeyInfo (RFC 8463 4.2)", ed25519.PublicKeySize, len(der))}
		}
		k.KeyBits = 256
	default:
		return []Problem{errorf("k=%s: unknown key type; verifiers can only use rsa or ed25519 (RFC 6376 3.6.1, RFC 8463)", k.KeyType)}
	}
	return nil
}

func keyKind(key any) string {
	switch key.(type) {
	case ed25519.PublicKey:
		return "an Ed25519 key (write k=ed25519 and the bare key)"
	case *ecdsa.PublicKey:
		return "an ECDSA key, which DKIM does not define"
	}
	return fmt.Sprintf("a %T", key)
}
