package tlspolicy

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/smtpkit/smtpkit/internal/dnsx"
)

// TLSA certificate usages (RFC 6698 2.1.1, RFC 7218 2.1).
const (
	UsagePKIXTA uint8 = 0 // unusable for SMTP (RFC 7672 3.1.3)
	UsagePKIXEE uint8 = 1 // unusable for SMTP (RFC 7672 3.1.3)
	UsageDANETA uint8 = 2
	UsageDANEEE uint8 = 3
)

// TLSA selectors (RFC 6698 2.1.2, RFC 7218 2.2).
const (
	SelectorCert uint8 = 0 // the full certificate
	SelectorSPKI uint8 = 1 // the SubjectPublicKeyInfo
)

// TLSA matching types (RFC 6698 2.1.3, RFC 7218 2.3).
const (
	MatchFull   uint8 = 0 // the selected content itself
	MatchSHA256 uint8 = 1
	MatchSHA512 uint8 = 2
)

// TLSA is one TLSA record (RFC 6698 2.1) with whether DNSSEC validated it.
type TLSA struct {
	Usage        uint8    `json:"usage"`
	Selector     uint8    `json:"selector"`
	MatchingType uint8    `json:"matching_type"`
	Data         HexBytes `json:"data"`
	// AD says the record came in an answer with the DNSSEC AD bit from a trusted
	// resolver. Records without it are never used (RFC 7672 2.2).
	AD bool `json:"ad"`
}

// String returns the record data in presentation form: "3 1 1 <hex>".
func (t TLSA) String() string {
	return fmt.Sprintf("%d %d %d %s", t.Usage, t.Selector, t.MatchingType, hex.EncodeToString(t.Data))
}

// ParseTLSA reads a record in presentation form, "USAGE SELECTOR MTYPE HEX" (the hex may
// be split by white space), with AD false. It returns an error for anything else; it does
// not judge usability (see Usable).
func ParseTLSA(s string) (TLSA, error) {
	f := strings.Fields(s)
	if len(f) < 4 {
		return TLSA{}, fmt.Errorf("tlsa %q: want usage selector matching-type data", s)
	}
	var nums [3]uint8
	for i := range nums {
		n, err := strconv.ParseUint(f[i], 10, 8)
		if err != nil {
			return TLSA{}, fmt.Errorf("tlsa %q: field %d is not a number from 0 to 255", s, i+1)
		}
		nums[i] = uint8(n)
	}
	data, err := hex.DecodeString(strings.Join(f[3:], ""))
	if err != nil || len(data) == 0 {
		return TLSA{}, fmt.Errorf("tlsa %q: the data is not hex", s)
	}
	return TLSA{Usage: nums[0], Selector: nums[1], MatchingType: nums[2], Data: data}, nil
}

// Usable reports whether an SMTP client may use the record, and if not, why: usages 0 and
// 1 are unusable for SMTP (RFC 7672 3.1.3), selectors other than 0 and 1 and matching types
// other than 0, 1 and 2 are unknown (RFC 6698 2.1), and a digest of the wrong length
// can match nothing. AD is not considered here.
func (t TLSA) Usable() (bool, string) {
	switch t.Usage {
	case UsageDANETA, UsageDANEEE:
	case UsagePKIXTA, UsagePKIXEE:
		return false, fmt.Sprintf("usage %d (PKIX) is unusable for SMTP (RFC 7672 3.1.3)", t.Usage)
	default:
		return false, fmt.Sprintf("usage %d is unknown", t.Usage)
	}
	if t.Selector != SelectorCert && t.Selector != SelectorSPKI {
		return false, fmt.Sprintf("selector %d is unknown", t.Selector)
	}
	switch t.MatchingType {
	case MatchFull:
	case MatchSHA256:
		if len(t.Data) != sha256.Size {
			return false, fmt.Sprintf("a SHA-256 digest of %d bytes", len(t.Data))
		}
	case MatchSHA512:
		if len(t.Data) != sha512.Size {
			return false, fmt.Sprintf("a SHA-512 digest of %d bytes", len(t.Data))
		}
	default:
		return false, fmt.Sprintf("matching type %d is unknown", t.MatchingType)
	}
	return true, ""
}

// Matches reports whether the record's data matches c under its selector and matching
// type (RFC 6698 2.1.2, 2.1.3). Usage and AD are not considered.
func (t TLSA) Matches(c *x509.Certificate) bool {
	var content []byte
	switch t.Selector {
	case SelectorCert:
		content = c.Raw
	case SelectorSPKI:
		content = c.RawSubjectPublicKeyInfo
	default:
		return false
	}
	switch t.MatchingType {
	case MatchFull:
		return bytes.Equal(t.Data, content)
	case MatchSHA256:
		sum := sha256.Sum256(content)
		return bytes.Equal(t.Data, sum[:])
	case MatchSHA512:
		sum := sha512.Sum512(content)
		return bytes.Equal(t.Data, sum[:])
	}
	return false
}

// TLSAFor returns the DANE-EE record "3 1 1" for c: the SHA-256 of its public key, the
// form RFC 7671 8.1 recommends because it survives renewals that keep the key. AD is
// false.
func TLSAFor(c *x509.Certificate) TLSA {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return TLSA{Usage: UsageDANEEE, Selector: SelectorSPKI, MatchingType: MatchSHA256, Data: sum[:]}
}

// TLSARecord returns a ready-to-publish TLSA record for c served on port of host:
// "_25._tcp.mx.example.com. IN TLSA 3 1 1 <hex>". With host "" it returns the record data
// alone ("3 1 1 <hex>").
func TLSARecord(c *x509.Certificate, host string, port int) string {
	data := TLSAFor(c).String()
	if host == "" {
		return data
	}
	return TLSAName(host, port) + ". IN TLSA " + data
}

// TLSAName is the owner name of the TLSA records for a service: "_PORT._tcp.HOST" (RFC
// 6698 3), with host's trailing dot dropped. For SMTP to an MX, host is the MX host name
// (the TLSA base domain, RFC 7672 2.2.3) and port 25.
func TLSAName(host string, port int) string {
	return "_" + strconv.Itoa(port) + "._tcp." + strings.TrimSuffix(host, ".")
}

// LookupTLSA asks r for the TLSA records at TLSAName(host, port). Each record's AD is the
// answer's AD bit, which is only meaningful when r is a validating resolver on a trusted
// path (see dnsx.Client.Trusted; a caller that does not trust the path must clear AD).
// NXDOMAIN and NODATA give no records and no error. Any other failure is returned as the
// resolver's error: RFC 7672 2.2 asks the client to defer delivery then rather than fall
// back to cleartext, since an attacker can cause the failure.
func LookupTLSA(ctx context.Context, r dnsx.Resolver, host string, port int) ([]TLSA, error) {
	name := TLSAName(host, port)
	ans, err := r.Lookup(ctx, dnsx.Question{Name: strings.ToLower(name), Type: dnsx.TypeTLSA})
	if err != nil {
		if dnsx.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	var out []TLSA
	for _, rec := range ans.Records {
		if rec.TLSA == nil {
			continue
		}
		out = append(out, TLSA{
			Usage: rec.TLSA.Usage, Selector: rec.TLSA.Selector, MatchingType: rec.TLSA.MatchingType,
			Data: HexBytes(bytes.Clone(rec.TLSA.Data)), AD: ans.AD,
		})
	}
	return out, nil
}

// daneResult is what matching a chain against usable records found.
type daneResult struct {
	match *TLSA
	// taName is set when a DANE-TA record matched and the chain verified to it, but the
	// leaf does not carry a reference name.
	taName *TLSA
	// taErr says why a DANE-TA record that matched a certificate did not authenticate
	// the chain, for the mismatch text.
	taErr string
}

// matchDANE tries the usable records against the chain the server sent (leaf first).
// DANE-EE(3) matches the leaf alone, ignoring names and dates (RFC 7672 3.1.1). DANE-TA(2)
// matches a certificate of the chain, or with "2 1 0" a bare public key that signed the
// top of the chain (RFC 7672 3.1.2); the leaf must then chain to it at now and carry one
// of names (RFC 7672 3.2.2, 3.2.3).
func matchDANE(certs []*x509.Certificate, usable []TLSA, names []string, now time.Time) daneResult {
	var res daneResult
	leaf := certs[0]
	for i := range usable {
		if t := &usable[i]; t.Usage == UsageDANEEE && t.Matches(leaf) {
			res.match = t
			return res
		}
	}
	for i := range usable {
		t := &usable[i]
		if t.Usage != UsageDANETA {
			continue
		}
		anchor := taAnchor(t, certs)
		if anchor == nil {
			continue
		}
		roots := x509.NewCertPool()
		roots.AddCert(anchor)
		if _, err := leaf.Verify(verifyOptions(certs, roots, now)); err != nil {
			res.taErr = fmt.Sprintf("the DANE-TA record %s matches %s, but the chain does not verify to it: %v", t, subject(anchor), err)
			continue
		}
		if len(names) == 0 || !checkName(leaf, names).ok {
			res.taName = t
			continue
		}
		res.match = t
		return res
	}
	return res
}

// taAnchor returns the trust anchor a DANE-TA record designates: a certificate of the
// chain it matches, or for a full public key ("2 1 0") that is in no certificate sent,
// a stand-in issuer holding that key and named as the top certificate's issuer, so that
// chain verification checks the top certificate's signature against it (RFC 7671 5.2.2).
func taAnchor(t *TLSA, certs []*x509.Certificate) *x509.Certificate {
	for _, c := range certs {
		if t.Matches(c) {
			return c
		}
	}
	if t.Selector != SelectorSPKI || t.MatchingType != MatchFull {
		return nil
	}
	key, err := x509.ParsePKIXPublicKey(t.Data)
	if err != nil {
		return nil
	}
	var alg x509.PublicKeyAlgorithm
	switch key.(type) {
	case *rsa.PublicKey:
		alg = x509.RSA
	case *ecdsa.PublicKey:
		alg = x509.ECDSA
	case ed25519.PublicKey:
		alg = x509.Ed25519
	default:
		return nil
	}
	top := certs[len(certs)-1]
	anchor := &x509.Certificate{
		Raw:                     t.Data, // only identifies the anchor in the pool
		RawSubject:              top.RawIssuer,
		RawSubjectPublicKeyInfo: t.Data,
		Subject:                 top.Issuer,
		PublicKey:               key,
		PublicKeyAlgorithm:      alg,
		BasicConstraintsValid:   true,
		IsCA:                    true,
		MaxPathLen:              -1, // no constraint of its own
		SubjectKeyId:            top.AuthorityKeyId,
		NotBefore:               top.NotBefore,
		NotAfter:                top.NotAfter,
	}
	if anchor.CheckSignature(top.SignatureAlgorithm, top.RawTBSCertificate, top.Signature) != nil {
		return nil
	}
	return anchor
}

// sortTLSA splits records into those DANE may use, the validated ones it may not (with
// why), and those without AD.
func sortTLSA(recs []TLSA) (usable []TLSA, ignored []string, insecure int) {
	for _, t := range recs {
		if !t.AD {
			insecure++
			continue
		}
		if ok, why := t.Usable(); !ok {
			ignored = append(ignored, t.String()+": "+why)
			continue
		}
		usable = append(usable, t)
	}
	return usable, ignored, insecure
}
