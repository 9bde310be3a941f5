package tlsscan

import (
	"fmt"
	"io"
	"net"
	"strings"

	"golang.org/x/crypto/cryptobyte"
)

// Version is a protocol version as it travels on the wire.
type Version uint16

// Protocol versions the audit offers.
const (
	SSL30 Version = 0x0300 // RFC 6101
	TLS10 Version = 0x0301 // RFC 2246
	TLS11 Version = 0x0302 // RFC 4346
	TLS12 Version = 0x0303 // RFC 5246
	TLS13 Version = 0x0304 // RFC 8446
)

// AllVersions lists the versions Audit probes by default, oldest first.
func AllVersions() []Version { return []Version{SSL30, TLS10, TLS11, TLS12, TLS13} }

// String returns "SSLv3", "TLS 1.0" ... "TLS 1.3", or the hex value.
func (v Version) String() string {
	switch v {
	case SSL30:
		return "SSLv3"
	case TLS10:
		return "TLS 1.0"
	case TLS11:
		return "TLS 1.1"
	case TLS12:
		return "TLS 1.2"
	case TLS13:
		return "TLS 1.3"
	}
	return fmt.Sprintf("0x%04X", uint16(v))
}

// MarshalText encodes the version as its String.
func (v Version) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText accepts what MarshalText writes and also "0x0303" forms.
func (v *Version) UnmarshalText(b []byte) error {
	s := string(b)
	for _, c := range AllVersions() {
		if c.String() == s {
			*v = c
			return nil
		}
	}
	var n uint16
	if _, err := fmt.Sscanf(s, "0x%04X", &n); err != nil {
		return fmt.Errorf("unknown tls version %q", s)
	}
	*v = Version(n)
	return nil
}

// Extension code points used here.
const (
	extServerName           uint16 = 0      // RFC 6066 3
	extSupportedGroups      uint16 = 10     // RFC 8422 5.1.1, RFC 8446 4.2.7
	extECPointFormats       uint16 = 11     // RFC 8422 5.1.2
	extSignatureAlgorithms  uint16 = 13     // RFC 5246 7.4.1.4.1, RFC 8446 4.2.3
	extExtendedMasterSecret uint16 = 23     // RFC 7627
	extSupportedVersions    uint16 = 43     // RFC 8446 4.2.1
	extKeyShare             uint16 = 51     // RFC 8446 4.2.8
	extRenegotiationInfo    uint16 = 0xFF01 // RFC 5746 3.2
)

// Signalling cipher suite values: never negotiated, only offered.
const (
	scsvRenegotiation uint16 = 0x00FF // RFC 5746 3.3
	scsvFallback      uint16 = 0x5600 // RFC 7507 2
)

// KeyShare is one key_share entry (RFC 8446 4.2.8).
type KeyShare struct {
	Group uint16
	Data  []byte
}

// ClientHello is a ClientHello to build by hand. Fields left zero are
// left out of the message; Marshal writes exactly what is set, so a
// caller can offer anything a server might accept, valid or not.
type ClientHello struct {
	// RecordVersion is the record layer version; 0 means 0x0300 for an
	// SSLv3 hello and 0x0301 otherwise (RFC 8446 5.1 and Appendix D).
	RecordVersion Version
	// Version is client_version (RFC 5246 7.4.1.2); a TLS 1.3 hello sends
	// TLS12 here and TLS13 in SupportedVersions (RFC 8446 4.1.2).
	Version      Version
	Random       [32]byte
	CipherSuites []uint16
	// RenegotiationSCSV appends TLS_EMPTY_RENEGOTIATION_INFO_SCSV, the
	// way to signal RFC 5746 without extensions (SSLv3).
	RenegotiationSCSV bool
	// FallbackSCSV appends TLS_FALLBACK_SCSV (RFC 7507 4): a server that
	// supports a higher version must answer inappropriate_fallback.
	FallbackSCSV bool

	ServerName          string // server_name, left out when empty or an IP address (RFC 6066 3)
	Groups              []uint16
	PointFormats        bool // ec_point_formats offering uncompressed only
	SignatureAlgorithms []uint16
	RenegotiationInfo   bool // an empty renegotiation_info extension (RFC 5746 3.4)
	SupportedVersions   []Version
	// KeyShares: nil leaves key_share out; an empty non-nil slice sends an
	// empty list, which asks for a HelloRetryRequest (RFC 8446 4.2.8).
	KeyShares []KeyShare
}

// defaultSignatureAlgorithms covers every certificate type a server may
// hold, SHA-1 and DSA included, so that no handshake fails on them.
var defaultSignatureAlgorithms = [...]uint16{
	0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0804, 0x0805, 0x0806,
	0x0809, 0x080A, 0x080B, 0x0401, 0x0501, 0x0601, 0x0303, 0x0301,
	0x0302, 0x0402, 0x0502, 0x0602, 0x0203, 0x0201, 0x0202,
}

// NewClientHello returns the hello the audit sends for version v offering
// suites: random bytes and the X25519 share from rand, and the extensions
// a server of that version expects. SSLv3 gets no extensions and signals
// secure renegotiation with the SCSV (RFC 5746 3.3); TLS 1.0 and 1.1 add
// server_name, supported_groups, ec_point_formats and renegotiation_info;
// TLS 1.2 adds signature_algorithms (RFC 5246 7.4.1.4.1: not before 1.2);
// TLS 1.3 sends legacy_version TLS 1.2 with supported_versions and a
// key_share (RFC 8446 4.1.2). It fails only when rand does.
func NewClientHello(v Version, suites []uint16, serverName string, rand io.Reader) (*ClientHello, error) {
	h := &ClientHello{Version: v, CipherSuites: suites}
	if _, err := io.ReadFull(rand, h.Random[:]); err != nil {
		return nil, fmt.Errorf("client random: %w", err)
	}
	switch {
	case v == SSL30:
		// RFC 6101 5.6.1.2 defines no extensions; RFC 5746 3.3 lets the
		// SCSV stand in for renegotiation_info.
		h.RenegotiationSCSV = true
		return h, nil
	case v >= TLS13:
		share := make([]byte, 32)
		if _, err := io.ReadFull(rand, share); err != nil {
			return nil, fmt.Errorf("key share: %w", err)
		}
		h.Version = TLS12
		h.SupportedVersions = []Version{v}
		h.Groups = offeredGroups(true)
		h.KeyShares = []KeyShare{{Group: GroupX25519, Data: share}}
		h.SignatureAlgorithms = defaultSignatureAlgorithms[:]
	default:
		h.Groups = offeredGroups(false)
		h.PointFormats = true
		h.RenegotiationInfo = true
		if v >= TLS12 {
			h.SignatureAlgorithms = defaultSignatureAlgorithms[:]
		}
	}
	h.ServerName = serverName
	return h, nil
}

// Marshal returns the ClientHello as one handshake record (RFC 5246
// 6.2.1, 7.4.1.2; RFC 8446 4.1.2). It fails when a length does not fit
// its field or the record would exceed 2^14 bytes.
func (h *ClientHello) Marshal() ([]byte, error) {
	var body cryptobyte.Builder
	body.AddUint16(uint16(h.Version))
	body.AddBytes(h.Random[:])
	body.AddUint8(0) // empty session_id: no resumption
	body.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, s := range h.CipherSuites {
			b.AddUint16(s)
		}
		if h.RenegotiationSCSV {
			b.AddUint16(scsvRenegotiation)
		}
		if h.FallbackSCSV {
			b.AddUint16(scsvFallback)
		}
	})
	body.AddUint8(1) // compression_methods: null only
	body.AddUint8(0)
	ext, err := h.extensions()
	if err != nil {
		return nil, fmt.Errorf("build client hello: %w", err)
	}
	if ext != nil {
		body.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(ext) })
	}
	msg, err := body.Bytes()
	if err != nil {
		return nil, fmt.Errorf("build client hello: %w", err)
	}
	if len(msg)+4 > 1<<14 {
		return nil, fmt.Errorf("build client hello: %d bytes exceed one record", len(msg)+4)
	}
	rv := h.RecordVersion
	if rv == 0 {
		rv = TLS10
		if h.Version == SSL30 {
			rv = SSL30
		}
	}
	out := make([]byte, 0, 9+len(msg))
	out = append(out, recordHandshake, byte(rv>>8), byte(rv), byte((len(msg)+4)>>8), byte(len(msg)+4))
	out = append(out, typeClientHello, byte(len(msg)>>16), byte(len(msg)>>8), byte(len(msg)))
	return append(out, msg...), nil
}

// extensions returns the extensions block content, or nil when there is
// none (then the hello ends after compression_methods, as SSLv3 expects).
func (h *ClientHello) extensions() ([]byte, error) {
	var b cryptobyte.Builder
	n := 0
	add := func(typ uint16, f cryptobyte.BuilderContinuation) {
		n++
		b.AddUint16(typ)
		b.AddUint16LengthPrefixed(f)
	}
	if name := sniName(h.ServerName); name != "" {
		add(extServerName, func(b *cryptobyte.Builder) {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				b.AddUint8(0) // host_name
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(name)) })
			})
		})
	}
	if len(h.Groups) > 0 {
		add(extSupportedGroups, func(b *cryptobyte.Builder) {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				for _, g := range h.Groups {
					b.AddUint16(g)
				}
			})
		})
	}
	if h.PointFormats {
		add(extECPointFormats, func(b *cryptobyte.Builder) {
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint8(0) })
		})
	}
	if len(h.SignatureAlgorithms) > 0 {
		add(extSignatureAlgorithms, func(b *cryptobyte.Builder) {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				for _, s := range h.SignatureAlgorithms {
					b.AddUint16(s)
				}
			})
		})
	}
	if len(h.SupportedVersions) > 0 {
		add(extSupportedVersions, func(b *cryptobyte.Builder) {
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) {
				for _, v := range h.SupportedVersions {
					b.AddUint16(uint16(v))
				}
			})
		})
	}
	if h.KeyShares != nil {
		add(extKeyShare, func(b *cryptobyte.Builder) {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				for _, ks := range h.KeyShares {
					b.AddUint16(ks.Group)
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(ks.Data) })
				}
			})
		})
	}
	if h.RenegotiationInfo {
		add(extRenegotiationInfo, func(b *cryptobyte.Builder) { b.AddUint8(0) })
	}
	if n == 0 {
		return nil, nil
	}
	return b.Bytes()
}

// sniName returns the host name to send in server_name: not an IP
// literal (RFC 6066 3), without a trailing dot.
func sniName(s string) string {
	s = strings.TrimSuffix(s, ".")
	if s == "" || net.ParseIP(strings.Trim(s, "[]")) != nil {
		return ""
	}
	return s
}
