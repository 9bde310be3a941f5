package tlsscan

import (
	"fmt"
	"strconv"
	"strings"
)

// Kx is a cipher suite's key exchange, named as in the IANA suite names.
type Kx string

// Key exchanges. The ephemeral ones (DHE, ECDHE, DHE_PSK, ECDHE_PSK and
// TLS 1.3's any) give forward secrecy when authenticated; the anonymous
// ones are ephemeral but authenticate nobody.
const (
	KxRSA      Kx = "RSA"
	KxDH       Kx = "DH"   // static DH from the certificate
	KxDHE      Kx = "DHE"  // ephemeral DH, signed
	KxECDH     Kx = "ECDH" // static ECDH from the certificate
	KxECDHE    Kx = "ECDHE"
	KxDHAnon   Kx = "DH_anon"
	KxECDHAnon Kx = "ECDH_anon"
	KxPSK      Kx = "PSK"
	KxDHEPSK   Kx = "DHE_PSK"
	KxRSAPSK   Kx = "RSA_PSK"
	KxECDHEPSK Kx = "ECDHE_PSK"
	KxSRP      Kx = "SRP"
	KxKRB5     Kx = "KRB5"
	KxGOST     Kx = "GOST"
	KxAny      Kx = "any" // TLS 1.3: negotiated separately (RFC 8446 4.2.7-4.2.9)
)

// Suite describes one cipher suite. Name is the IANA name as testssl.sh
// prints it; OpenSSLName is the name OpenSSL uses, empty when OpenSSL has
// none. Bits is the cipher's nominal key length (3DES counts 168, as
// OpenSSL and testssl.sh print it, though its strength is 112).
type Suite struct {
	ID          uint16 `json:"id"`
	Hex         string `json:"hex"` // "0xC02F"
	Name        string `json:"name"`
	OpenSSLName string `json:"openssl_name,omitempty"`
	Kx          Kx     `json:"kx"`
	Auth        string `json:"auth"`       // RSA, DSS, ECDSA, PSK, SRP, KRB5, GOST94, GOST01, anon, any
	Encryption  string `json:"encryption"` // AES, CAMELLIA, ARIA, CHACHA20, RC4, RC2, DES, 3DES, IDEA, SEED, GOST28147, SM4, NULL
	Mode        string `json:"mode,omitempty"`
	Bits        int    `json:"bits"`
	MAC         string `json:"mac"` // SHA1, SHA256, SHA384, MD5, AEAD, ...

	TLS13          bool `json:"tls13"` // a TLS 1.3 suite, offered only in TLS 1.3
	Export         bool `json:"export"`
	Null           bool `json:"null"` // no encryption
	Anonymous      bool `json:"anonymous"`
	RC4            bool `json:"rc4"`
	DES            bool `json:"des"` // single DES, 40 or 56 bits
	TripleDES      bool `json:"triple_des"`
	CBC            bool `json:"cbc"`
	AEAD           bool `json:"aead"`
	ForwardSecrecy bool `json:"forward_secrecy"`
}

// suites is the derived table, in code point order. It is built once at
// package initialisation and never written again.
var suites, suiteIndex = buildSuites()

func buildSuites() ([]Suite, map[uint16]int) {
	list := make([]Suite, 0, len(suiteTable))
	index := make(map[uint16]int, len(suiteTable))
	for _, e := range suiteTable {
		s, _ := describeSuite(e.id, e.iana, e.openssl)
		index[e.id] = len(list)
		list = append(list, s)
	}
	return list, index
}

// Suites returns a copy of every suite the audit knows, in code point
// order.
func Suites() []Suite {
	return append([]Suite(nil), suites...)
}

// LookupSuite returns the suite with code point id, and false when the
// table does not know it.
func LookupSuite(id uint16) (Suite, bool) {
	i, ok := suiteIndex[id]
	if !ok {
		return Suite{}, false
	}
	return suites[i], true
}

// SuiteName returns the IANA name of id, or its hex code point when the
// table does not know it.
func SuiteName(id uint16) string {
	if s, ok := LookupSuite(id); ok {
		return s.Name
	}
	return fmt.Sprintf("0x%04X", id)
}

// suiteIDs returns the code points of the suites that keep returns true
// for, in table order.
func suiteIDs(keep func(*Suite) bool) []uint16 {
	var ids []uint16
	for i := range suites {
		if keep(&suites[i]) {
			ids = append(ids, suites[i].ID)
		}
	}
	return ids
}

// describeSuite derives a Suite from its IANA name (without "TLS_"). It
// reports false for a name it cannot read; the table test requires true
// for every entry.
func describeSuite(id uint16, iana, openssl string) (Suite, bool) {
	s := Suite{ID: id, Hex: fmt.Sprintf("0x%04X", id), Name: "TLS_" + iana, OpenSSLName: openssl}
	kx, enc, with := strings.Cut(iana, "_WITH_")
	if !with {
		// RFC 8446 B.4: TLS 1.3 suites name only the AEAD and the hash.
		s.TLS13, s.Kx, s.Auth, s.ForwardSecrecy = true, KxAny, "any", true
		enc = iana
	} else if !describeKx(&s, kx) {
		return s, false
	}
	return s, describeCipher(&s, enc)
}

func describeKx(s *Suite, kx string) bool {
	var parts []string
	for _, p := range strings.Split(kx, "_") {
		if p == "EXPORT" || p == "EXPORT1024" {
			s.Export = true
			continue
		}
		parts = append(parts, p)
	}
	switch strings.Join(parts, "_") {
	case "RSA":
		s.Kx, s.Auth = KxRSA, "RSA"
	case "DH_DSS":
		s.Kx, s.Auth = KxDH, "DSS"
	case "DH_RSA":
		s.Kx, s.Auth = KxDH, "RSA"
	case "DHE_DSS":
		s.Kx, s.Auth, s.ForwardSecrecy = KxDHE, "DSS", true
	case "DHE_RSA":
		s.Kx, s.Auth, s.ForwardSecrecy = KxDHE, "RSA", true
	case "DH_anon":
		s.Kx, s.Auth, s.Anonymous = KxDHAnon, "anon", true
	case "ECDH_ECDSA":
		s.Kx, s.Auth = KxECDH, "ECDSA"
	case "ECDH_RSA":
		s.Kx, s.Auth = KxECDH, "RSA"
	case "ECDHE_ECDSA":
		s.Kx, s.Auth, s.ForwardSecrecy = KxECDHE, "ECDSA", true
	case "ECDHE_RSA":
		s.Kx, s.Auth, s.ForwardSecrecy = KxECDHE, "RSA", true
	case "ECDH_anon":
		s.Kx, s.Auth, s.Anonymous = KxECDHAnon, "anon", true
	case "PSK":
		s.Kx, s.Auth = KxPSK, "PSK"
	case "DHE_PSK", "PSK_DHE": // RFC 6655 registered 0xC0AA/0xC0AB as PSK_DHE
		s.Kx, s.Auth, s.ForwardSecrecy = KxDHEPSK, "PSK", true
	case "RSA_PSK":
		s.Kx, s.Auth = KxRSAPSK, "RSA"
	case "ECDHE_PSK":
		s.Kx, s.Auth, s.ForwardSecrecy = KxECDHEPSK, "PSK", true
	case "SRP_SHA":
		s.Kx, s.Auth = KxSRP, "SRP"
	case "SRP_SHA_RSA":
		s.Kx, s.Auth = KxSRP, "RSA"
	case "SRP_SHA_DSS":
		s.Kx, s.Auth = KxSRP, "DSS"
	case "KRB5":
		s.Kx, s.Auth = KxKRB5, "KRB5"
	case "GOSTR341094":
		s.Kx, s.Auth = KxGOST, "GOST94"
	case "GOSTR341001":
		s.Kx, s.Auth = KxGOST, "GOST01"
	default:
		return false
	}
	return true
}

// macs are the names that can end a suite name; in an AEAD suite the
// last hash names the PRF, not a MAC.
var macs = map[string]string{
	"SHA": "SHA1", "SHA256": "SHA256", "SHA384": "SHA384", "MD5": "MD5",
	"IMIT": "GOST28147", "GOSTR3411": "GOSTR3411", "SM3": "SM3",
}

func describeCipher(s *Suite, enc string) bool {
	t := strings.Split(enc, "_")
	if m, ok := macs[t[len(t)-1]]; ok {
		s.MAC = m
		t = t[:len(t)-1]
	}
	if len(t) == 0 {
		return false
	}
	bits := func(i int) int {
		if i < len(t) {
			if n, err := strconv.Atoi(t[i]); err == nil {
				return n
			}
		}
		return -1
	}
	rest := strings.Join(t[1:], "_")
	switch t[0] {
	case "AES", "CAMELLIA", "ARIA":
		s.Encryption, s.Bits, s.Mode = t[0], bits(1), strings.Join(t[2:], "_")
	case "CHACHA20":
		s.Encryption, s.Bits, s.Mode = "CHACHA20", 256, "POLY1305"
	case "SM4":
		s.Encryption, s.Bits, s.Mode = "SM4", 128, rest
	case "RC4":
		s.Encryption, s.Bits, s.RC4 = "RC4", bits(1), true
	case "RC2":
		s.Encryption, s.Bits, s.Mode = "RC2", bits(len(t)-1), "CBC"
	case "DES40":
		s.Encryption, s.Bits, s.Mode, s.DES = "DES", 40, "CBC", true
	case "DES":
		s.Encryption, s.Bits, s.Mode, s.DES = "DES", 56, "CBC", true
		if rest == "CBC_40" {
			s.Bits = 40
		}
	case "3DES":
		s.Encryption, s.Bits, s.Mode, s.TripleDES = "3DES", 168, "CBC", true
	case "IDEA", "SEED":
		s.Encryption, s.Bits, s.Mode = t[0], 128, "CBC"
	case "28147":
		s.Encryption, s.Bits, s.Mode = "GOST28147", 256, "CNT"
	case "NULL":
		s.Encryption, s.Null = "NULL", true
	case "SHA256", "SHA384":
		// RFC 9150: integrity-only TLS 1.3 suites.
		s.Encryption, s.Null = "NULL", true
	default:
		return false
	}
	switch s.Mode {
	case "GCM", "CCM", "CCM_8", "POLY1305":
		s.AEAD, s.MAC = true, "AEAD"
	case "CBC":
		s.CBC = true
	}
	return s.Bits >= 0 && s.MAC != ""
}

// Group is a named group (RFC 8446 4.2.7, RFC 8422 5.1.1, RFC 7919).
type Group struct {
	ID   uint16 `json:"id"`
	Name string `json:"name"`
}

// Named group code points the audit offers or probes.
const (
	GroupSecp256r1          uint16 = 0x0017
	GroupSecp384r1          uint16 = 0x0018
	GroupSecp521r1          uint16 = 0x0019
	GroupX25519             uint16 = 0x001D
	GroupX448               uint16 = 0x001E
	GroupFFDHE2048          uint16 = 0x0100
	GroupFFDHE3072          uint16 = 0x0101
	GroupFFDHE4096          uint16 = 0x0102
	GroupFFDHE6144          uint16 = 0x0103
	GroupFFDHE8192          uint16 = 0x0104
	GroupSecP256r1MLKEM768  uint16 = 0x11EB
	GroupX25519MLKEM768     uint16 = 0x11EC
	GroupSecP384r1MLKEM1024 uint16 = 0x11ED
)

var groupNames = map[uint16]string{
	0x0001: "sect163k1", 0x0002: "sect163r1", 0x0003: "sect163r2", 0x0004: "sect193r1",
	0x0005: "sect193r2", 0x0006: "sect233k1", 0x0007: "sect233r1", 0x0008: "sect239k1",
	0x0009: "sect283k1", 0x000A: "sect283r1", 0x000B: "sect409k1", 0x000C: "sect409r1",
	0x000D: "sect571k1", 0x000E: "sect571r1", 0x000F: "secp160k1", 0x0010: "secp160r1",
	0x0011: "secp160r2", 0x0012: "secp192k1", 0x0013: "secp192r1", 0x0014: "secp224k1",
	0x0015: "secp224r1", 0x0016: "secp256k1",
	GroupSecp256r1: "secp256r1", GroupSecp384r1: "secp384r1", GroupSecp521r1: "secp521r1",
	0x001A: "brainpoolP256r1", 0x001B: "brainpoolP384r1", 0x001C: "brainpoolP512r1",
	GroupX25519: "x25519", GroupX448: "x448",
	0x001F: "brainpoolP256r1tls13", 0x0020: "brainpoolP384r1tls13", 0x0021: "brainpoolP512r1tls13",
	GroupFFDHE2048: "ffdhe2048", GroupFFDHE3072: "ffdhe3072", GroupFFDHE4096: "ffdhe4096",
	GroupFFDHE6144: "ffdhe6144", GroupFFDHE8192: "ffdhe8192",
	GroupSecP256r1MLKEM768: "SecP256r1MLKEM768", GroupX25519MLKEM768: "X25519MLKEM768",
	GroupSecP384r1MLKEM1024: "SecP384r1MLKEM1024",
}

// GroupName returns the IANA name of a named group, or its hex code point.
func GroupName(id uint16) string {
	if n, ok := groupNames[id]; ok {
		return n
	}
	return fmt.Sprintf("0x%04X", id)
}

func namedGroup(id uint16) Group { return Group{ID: id, Name: GroupName(id)} }

// DefaultGroups are the groups Audit probes one at a time when
// Options.Groups is empty.
func DefaultGroups() []uint16 {
	return []uint16{
		GroupX25519, GroupSecp256r1, GroupSecp384r1, GroupSecp521r1, GroupX448,
		GroupFFDHE2048, GroupFFDHE3072, GroupFFDHE4096, GroupFFDHE6144, GroupFFDHE8192,
		GroupX25519MLKEM768,
	}
}

// isECGroup reports whether id can key ECDHE in TLS 1.2 and earlier
// (RFC 8422 5.1.1: the curves and x25519/x448).
func isECGroup(id uint16) bool { return id >= 0x0001 && id <= 0x001E }

// offeredGroups is the supported_groups list of a hello that wants the
// server to pick: everything the audit can name, modern first.
func offeredGroups(tls13 bool) []uint16 {
	g := []uint16{GroupX25519, GroupSecp256r1, GroupSecp384r1, GroupSecp521r1, GroupX448}
	if tls13 {
		g = append(g, GroupX25519MLKEM768, GroupSecP256r1MLKEM768, GroupSecP384r1MLKEM1024,
			GroupFFDHE2048, GroupFFDHE3072, GroupFFDHE4096, GroupFFDHE6144, GroupFFDHE8192,
			0x001F, 0x0020, 0x0021)
		return g
	}
	for id := uint16(0x0001); id <= 0x001C; id++ {
		if id < GroupSecp256r1 || id > GroupSecp521r1 {
			g = append(g, id)
		}
	}
	return append(g, GroupFFDHE2048, GroupFFDHE3072, GroupFFDHE4096, GroupFFDHE6144, GroupFFDHE8192)
}
