package tlsscan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strings"

	"golang.org/x/crypto/cryptobyte"
)

// Record content types (RFC 5246 6.2.1, RFC 6520).
const (
	recordChangeCipherSpec uint8 = 20
	recordAlert            uint8 = 21
	recordHandshake        uint8 = 22
	recordApplicationData  uint8 = 23
	recordHeartbeat        uint8 = 24
)

// Handshake message types (RFC 5246 7.4, RFC 6066 8).
const (
	typeClientHello       uint8 = 1
	typeServerHello       uint8 = 2
	typeCertificate       uint8 = 11
	typeServerKeyExchange uint8 = 12
	typeCertificateReq    uint8 = 13
	typeServerHelloDone   uint8 = 14
	typeCertificateStatus uint8 = 22
)

// RFC 5246 6.2.3: a record carries at most 2^14+2048 bytes.
const maxRecordLen = 1<<14 + 2048

// DefaultMaxBytes is the read limit per handshake when none is given:
// enough for a ServerHello, a long certificate chain and a key exchange.
const DefaultMaxBytes = 256 << 10

// helloRetryRandom is the ServerHello.random that marks a
// HelloRetryRequest: SHA-256("HelloRetryRequest") (RFC 8446 4.1.3).
var helloRetryRandom = [32]byte{
	0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
	0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
}

// RFC 8446 4.1.3: a TLS 1.3 server negotiating TLS 1.2 (or below) ends
// its random with these bytes.
var (
	downgradeTLS12 = []byte("DOWNGRD\x01")
	downgradeTLS11 = []byte("DOWNGRD\x00")
)

// ErrReadLimit reports a server that sent more than the read limit
// before the message the reader was waiting for.
var ErrReadLimit = errors.New("tls response exceeds the read limit")

// AlertError is a TLS alert the server sent instead of the message the
// reader waited for (RFC 5246 7.2, RFC 8446 6).
type AlertError struct {
	Level       uint8 // 1 warning, 2 fatal
	Description uint8
}

// Error returns e.g. "tls alert: handshake_failure (40)".
func (e *AlertError) Error() string {
	return fmt.Sprintf("tls alert: %s (%d)", e.Name(), e.Description)
}

// Name returns the RFC name of the alert, e.g. "protocol_version".
func (e *AlertError) Name() string {
	if n, ok := alertNames[e.Description]; ok {
		return n
	}
	return fmt.Sprintf("alert_%d", e.Description)
}

var alertNames = map[uint8]string{
	0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 21: "decryption_failed",
	22: "record_overflow", 30: "decompression_failure", 40: "handshake_failure",
	41: "no_certificate", 42: "bad_certificate", 43: "unsupported_certificate",
	44: "certificate_revoked", 45: "certificate_expired", 46: "certificate_unknown",
	47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied", 50: "decode_error",
	51: "decrypt_error", 60: "export_restriction", 70: "protocol_version",
	71: "insufficient_security", 80: "internal_error", 86: "inappropriate_fallback",
	90: "user_canceled", 100: "no_renegotiation", 109: "missing_extension",
	110: "unsupported_extension", 112: "unrecognized_name", 113: "bad_certificate_status_response",
	115: "unknown_psk_identity", 116: "certificate_required", 120: "no_application_protocol",
}

// NotTLSError reports a peer whose answer is not a TLS record: most often
// a plaintext SMTP reply (a server that refused or ignored STARTTLS), or
// an SSLv2 or other protocol's answer. Start holds its first bytes.
type NotTLSError struct {
	Start []byte
}

// Error quotes the start of the answer, printable only.
func (e *NotTLSError) Error() string {
	s := strings.TrimRight(string(e.Start), "\r\n")
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 80 {
		s = s[:80]
	}
	if looksLikeText(e.Start) {
		return fmt.Sprintf("plaintext answer instead of tls: %q", s)
	}
	return fmt.Sprintf("not a tls record: % x", e.Start[:min(len(e.Start), 16)])
}

func looksLikeText(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 || c > 0x7E) && c != '\r' && c != '\n' && c != '\t' {
			return false
		}
	}
	return len(b) > 0
}

// limitReader returns ErrReadLimit once n bytes have been read.
type limitReader struct {
	r io.Reader
	n int
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, ErrReadLimit
	}
	if len(p) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= n
	return n, err
}

// handshakeReader yields plaintext handshake messages from a record
// stream, reassembling messages split across records and records split
// across reads (RFC 5246 6.2.1: "multiple client messages of the same
// ContentType MAY be coalesced into a single TLSPlaintext record, or a
// single message MAY be fragmented across several records").
type handshakeReader struct {
	r       *limitReader
	pending []byte // handshake bytes not yet returned
	alert   []byte // a fragmented alert
	started bool   // a record header has been read
	version Version
}

func newHandshakeReader(r io.Reader, maxBytes int) *handshakeReader {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	return &handshakeReader{r: &limitReader{r: r, n: maxBytes}}
}

// next returns the next handshake message: its type and its body. Errors:
// *AlertError for a fatal alert or close_notify, *NotTLSError when the
// first bytes are not a TLS record, ErrReadLimit, io.ErrUnexpectedEOF or
// io.EOF when the stream ends, and a plain error for a malformed record.
func (h *handshakeReader) next() (uint8, []byte, error) {
	for {
		if len(h.pending) >= 4 {
			n := int(h.pending[1])<<16 | int(h.pending[2])<<8 | int(h.pending[3])
			if n > h.r.n+len(h.pending) {
				return 0, nil, ErrReadLimit
			}
			if len(h.pending) >= 4+n {
				typ, body := h.pending[0], h.pending[4:4+n]
				h.pending = h.pending[4+n:]
				return typ, body, nil
			}
		}
		if err := h.readRecord(); err != nil {
			return 0, nil, err
		}
	}
}

func (h *handshakeReader) readRecord() error {
	var hdr [5]byte
	if n, err := io.ReadFull(h.r, hdr[:]); err != nil {
		if !h.started && errors.Is(err, io.ErrUnexpectedEOF) &&
			(hdr[0] < recordChangeCipherSpec || hdr[0] > recordHeartbeat) {
			return &NotTLSError{Start: append([]byte(nil), hdr[:n]...)}
		}
		return err
	}
	typ, n := hdr[0], int(hdr[3])<<8|int(hdr[4])
	valid := typ >= recordChangeCipherSpec && typ <= recordHeartbeat && hdr[1] == 3 && n <= maxRecordLen
	if !valid {
		if !h.started {
			return &NotTLSError{Start: h.more(hdr[:])}
		}
		return fmt.Errorf("malformed tls record header % x", hdr)
	}
	h.started = true
	h.version = Version(hdr[1])<<8 | Version(hdr[2])
	frag := make([]byte, n)
	if _, err := io.ReadFull(h.r, frag); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("read tls record: %w", err)
	}
	switch typ {
	case recordHandshake:
		h.pending = append(h.pending, frag...)
	case recordAlert:
		h.alert = append(h.alert, frag...)
		for len(h.alert) >= 2 {
			a := &AlertError{Level: h.alert[0], Description: h.alert[1]}
			h.alert = h.alert[2:]
			// A warning (say unrecognized_name) may precede a ServerHello;
			// only a fatal alert or the end of the connection stops here.
			if a.Level != 1 || a.Description == 0 || a.Description == 90 {
				return a
			}
		}
	case recordApplicationData:
		return errors.New("application data before the server hello")
	}
	// ChangeCipherSpec and heartbeat records are ignored: the read limit
	// bounds how many a peer can send.
	return nil
}

// more reads once more after an invalid first header, so that a plaintext
// reply can be quoted up to its line end; it never blocks when the header
// already holds a line end.
func (h *handshakeReader) more(hdr []byte) []byte {
	out := append([]byte(nil), hdr...)
	if bytes.IndexByte(out, '\n') >= 0 || !looksLikeText(out) {
		return out
	}
	buf := make([]byte, 200)
	n, _ := h.r.Read(buf)
	return append(out, buf[:n]...)
}

// ServerHello is a parsed ServerHello or HelloRetryRequest.
type ServerHello struct {
	// Version is the negotiated version: supported_versions when present
	// (RFC 8446 4.2.1), else legacy_version (server_version, RFC 5246
	// 7.4.1.3).
	Version       Version
	LegacyVersion Version
	Random        [32]byte
	SessionID     []byte
	CipherSuite   uint16
	Compression   uint8
	Extensions    []uint16 // extension types in the order sent
	// HelloRetryRequest is set when Random is the special value of RFC
	// 8446 4.1.3; SelectedGroup then names the group the server wants.
	HelloRetryRequest bool
	SelectedGroup     uint16
	// KeyShareGroup is the group of the server's key share (TLS 1.3).
	KeyShareGroup uint16
	// SecureRenegotiation is set when the server sent renegotiation_info
	// (RFC 5746 3.6).
	SecureRenegotiation  bool
	ExtendedMasterSecret bool
	// Downgrade is set when a TLS 1.3 server marked its random because it
	// negotiated a lower version (RFC 8446 4.1.3).
	Downgrade bool
}

// ParseServerHello parses the body of a ServerHello handshake message
// (without its 4-byte header). It fails on a short or overlong message,
// a duplicate extension (RFC 8446 4.2) or a malformed known extension.
func ParseServerHello(body []byte) (*ServerHello, error) {
	s := cryptobyte.String(body)
	sh := &ServerHello{}
	var legacy uint16
	var sid cryptobyte.String
	if !s.ReadUint16(&legacy) || !s.CopyBytes(sh.Random[:]) || !s.ReadUint8LengthPrefixed(&sid) ||
		!s.ReadUint16(&sh.CipherSuite) || !s.ReadUint8(&sh.Compression) {
		return nil, errors.New("server hello: truncated")
	}
	if len(sid) > 32 {
		return nil, fmt.Errorf("server hello: session id of %d bytes", len(sid))
	}
	sh.LegacyVersion, sh.Version = Version(legacy), Version(legacy)
	sh.SessionID = append([]byte(nil), sid...)
	sh.HelloRetryRequest = sh.Random == helloRetryRandom
	tail := sh.Random[24:]
	sh.Downgrade = bytes.Equal(tail, downgradeTLS12) || bytes.Equal(tail, downgradeTLS11)
	if s.Empty() {
		return sh, nil // RFC 5246 7.4.1.3: extensions may be absent
	}
	var exts cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
		return nil, errors.New("server hello: malformed extensions")
	}
	seen := make(map[uint16]bool)
	for !exts.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			return nil, errors.New("server hello: malformed extension")
		}
		if seen[typ] {
			return nil, fmt.Errorf("server hello: duplicate extension %d", typ)
		}
		seen[typ] = true
		sh.Extensions = append(sh.Extensions, typ)
		if err := sh.parseExtension(typ, data); err != nil {
			return nil, err
		}
	}
	return sh, nil
}

func (sh *ServerHello) parseExtension(typ uint16, data cryptobyte.String) error {
	switch typ {
	case extSupportedVersions:
		// RFC 8446 4.2.1: the server sends the one version it selected.
		var v uint16
		if !data.ReadUint16(&v) || !data.Empty() {
			return errors.New("server hello: malformed supported_versions")
		}
		sh.Version = Version(v)
	case extKeyShare:
		// RFC 8446 4.2.8: a HelloRetryRequest names a group; a
		// ServerHello carries one KeyShareEntry.
		if sh.HelloRetryRequest {
			if !data.ReadUint16(&sh.SelectedGroup) || !data.Empty() {
				return errors.New("hello retry request: malformed key_share")
			}
			return nil
		}
		var key cryptobyte.String
		if !data.ReadUint16(&sh.KeyShareGroup) || !data.ReadUint16LengthPrefixed(&key) ||
			len(key) == 0 || !data.Empty() {
			return errors.New("server hello: malformed key_share")
		}
	case extRenegotiationInfo:
		var info cryptobyte.String
		if !data.ReadUint8LengthPrefixed(&info) || !data.Empty() {
			return errors.New("server hello: malformed renegotiation_info")
		}
		sh.SecureRenegotiation = true
	case extExtendedMasterSecret:
		sh.ExtendedMasterSecret = true
	}
	return nil
}

// ReadServerHello reads records from r until a whole ServerHello (or
// HelloRetryRequest) has arrived, reading at most maxBytes (0 means
// DefaultMaxBytes). Errors are those of ParseServerHello, plus
// *AlertError when the server refused, *NotTLSError when it answered with
// something other than TLS (a plaintext SMTP reply, say), ErrReadLimit,
// and io.EOF or io.ErrUnexpectedEOF when it hung up. A deadline is the
// caller's: set it on the connection.
func ReadServerHello(r io.Reader, maxBytes int) (*ServerHello, error) {
	return readServerHello(newHandshakeReader(r, maxBytes))
}

func readServerHello(h *handshakeReader) (*ServerHello, error) {
	typ, body, err := h.next()
	if err != nil {
		return nil, err
	}
	if typ != typeServerHello {
		return nil, fmt.Errorf("expected server hello, got handshake message %d", typ)
	}
	return ParseServerHello(body)
}

// KeyExchange is what a ServerKeyExchange says about the server's
// ephemeral key: the named curve for ECDHE, the prime's size for DHE.
type KeyExchange struct {
	Group  uint16 // ECDHE: named curve (RFC 8422 5.4)
	DHBits int    // DHE: bits of dh_p (RFC 5246 7.4.3)
}

// ParseServerKeyExchange reads the parameters at the start of a
// ServerKeyExchange body for key exchange kx; the signature that follows
// is not checked. It fails on a truncated message, on explicit curves
// (RFC 8422 5.4 deprecates them) and on key exchanges that send none.
func ParseServerKeyExchange(kx Kx, body []byte) (KeyExchange, error) {
	s := cryptobyte.String(body)
	var out KeyExchange
	if kx == KxDHEPSK || kx == KxECDHEPSK {
		var hint cryptobyte.String // RFC 4279 3, RFC 5489 2
		if !s.ReadUint16LengthPrefixed(&hint) {
			return out, errors.New("server key exchange: truncated psk hint")
		}
	}
	switch kx {
	case KxECDHE, KxECDHAnon, KxECDHEPSK:
		var curveType uint8
		if !s.ReadUint8(&curveType) {
			return out, errors.New("server key exchange: truncated")
		}
		if curveType != 3 { // named_curve
			return out, fmt.Errorf("server key exchange: curve type %d", curveType)
		}
		if !s.ReadUint16(&out.Group) {
			return out, errors.New("server key exchange: truncated")
		}
	case KxDHE, KxDHAnon, KxDHEPSK:
		var p cryptobyte.String
		if !s.ReadUint16LengthPrefixed(&p) {
			return out, errors.New("server key exchange: truncated dh_p")
		}
		for len(p) > 0 && p[0] == 0 {
			p = p[1:]
		}
		if len(p) == 0 {
			return out, errors.New("server key exchange: empty dh_p")
		}
		out.DHBits = (len(p)-1)*8 + bits.Len8(p[0])
	default:
		return out, fmt.Errorf("server key exchange: nothing to read for %s", kx)
	}
	return out, nil
}

// readServerKeyExchange reads on after a TLS 1.2-or-older ServerHello
// to the ServerKeyExchange and parses it. It fails when ServerHelloDone
// comes first or another message arrives out of order.
func readServerKeyExchange(h *handshakeReader, kx Kx) (KeyExchange, error) {
	for {
		typ, body, err := h.next()
		if err != nil {
			return KeyExchange{}, err
		}
		switch typ {
		case typeCertificate, typeCertificateStatus, typeCertificateReq:
			continue
		case typeServerKeyExchange:
			return ParseServerKeyExchange(kx, body)
		case typeServerHelloDone:
			return KeyExchange{}, errors.New("no server key exchange before server hello done")
		default:
			return KeyExchange{}, fmt.Errorf("unexpected handshake message %d", typ)
		}
	}
}
