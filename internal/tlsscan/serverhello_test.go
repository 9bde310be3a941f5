package tlsscan

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"
)

// readDump reads a capture in hex.Dump format from testdata.
func readDump(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name + ".hex")
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, line := range strings.Split(string(b), "\n") {
		if len(line) < 10 {
			continue
		}
		cols := line[10:]
		if i := strings.IndexByte(cols, '|'); i >= 0 {
			cols = cols[:i]
		}
		raw, err := hex.DecodeString(strings.Join(strings.Fields(cols), ""))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, raw...)
	}
	return out
}

func captures() []string {
	return []string{
		"go-tls13", "go-tls13-hrr", "openssl-tls13-hrr", "openssl-tls12-ecdhe", "openssl-tls12-dhe",
		"openssl-tls12-alert-tls10", "openssl-tls12-alert-ssl3", "openssl-tls12-alert-nosuite",
	}
}

func TestReadServerHelloCaptures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		version   Version
		suite     uint16
		hrr       bool
		selected  uint16
		keyShare  uint16
		reneg     bool
		downgrade bool
	}{
		{name: "go-tls13", version: TLS13, suite: 0x1301, keyShare: GroupX25519},
		{name: "go-tls13-hrr", version: TLS13, suite: 0x1301, hrr: true, selected: GroupX25519MLKEM768},
		{name: "openssl-tls13-hrr", version: TLS13, suite: 0x1301, hrr: true, selected: GroupSecp384r1},
		{name: "openssl-tls12-ecdhe", version: TLS12, suite: 0xC02F, reneg: true},
		{name: "openssl-tls12-dhe", version: TLS12, suite: 0x0033, reneg: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sh, err := ReadServerHello(bytes.NewReader(readDump(t, tc.name)), 0)
			if err != nil {
				t.Fatal(err)
			}
			if sh.Version != tc.version || sh.CipherSuite != tc.suite || sh.HelloRetryRequest != tc.hrr ||
				sh.SelectedGroup != tc.selected || sh.KeyShareGroup != tc.keyShare ||
				sh.SecureRenegotiation != tc.reneg || sh.Downgrade != tc.downgrade {
				t.Errorf("got %+v", sh)
			}
			if tc.version == TLS13 && sh.LegacyVersion != TLS12 {
				t.Errorf("legacy version %s", sh.LegacyVersion)
			}
		})
	}
}

func TestReadServerKeyExchangeCaptures(t *testing.T) {
	for _, tc := range []struct {
		name string
		kx   Kx
		want KeyExchange
	}{
		{"openssl-tls12-ecdhe", KxECDHE, KeyExchange{Group: GroupX25519}},
		{"openssl-tls12-dhe", KxDHE, KeyExchange{DHBits: 2048}},
	} {
		h := newHandshakeReader(bytes.NewReader(readDump(t, tc.name)), 0)
		if _, err := readServerHello(h); err != nil {
			t.Fatal(err)
		}
		got, err := readServerKeyExchange(h, tc.kx)
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
}

func TestReadServerHelloAlerts(t *testing.T) {
	for name, want := range map[string]uint8{
		"openssl-tls12-alert-tls10":   70,
		"openssl-tls12-alert-ssl3":    40,
		"openssl-tls12-alert-nosuite": 40,
	} {
		_, err := ReadServerHello(bytes.NewReader(readDump(t, name)), 0)
		var a *AlertError
		if !errors.As(err, &a) || a.Description != want || a.Level != 2 {
			t.Errorf("%s: %v, want alert %d", name, err, want)
		}
	}
	if got := (&AlertError{Level: 2, Description: 70}).Error(); got != "tls alert: protocol_version (70)" {
		t.Errorf("Error() = %q", got)
	}
}

// reframe splits the handshake bytes of stream's records into records of
// at most n bytes each.
func reframe(t *testing.T, stream []byte, n int) []byte {
	t.Helper()
	var hs []byte
	for len(stream) >= 5 {
		l := int(stream[3])<<8 | int(stream[4])
		if stream[0] == recordHandshake {
			hs = append(hs, stream[5:5+l]...)
		}
		stream = stream[5+l:]
	}
	var out []byte
	for len(hs) > 0 {
		k := min(n, len(hs))
		out = append(out, recordHandshake, 3, 3, byte(k>>8), byte(k))
		out = append(out, hs[:k]...)
		hs = hs[k:]
	}
	return out
}

func TestReadServerHelloFragmented(t *testing.T) {
	for _, name := range []string{"go-tls13", "openssl-tls12-ecdhe"} {
		whole := readDump(t, name)
		want, err := ReadServerHello(bytes.NewReader(whole), 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{1, 2, 3, 7, 100} {
			stream := reframe(t, whole, n)
			// Records split across reads as well: one byte per Read.
			got, err := ReadServerHello(iotest.OneByteReader(bytes.NewReader(stream)), 0)
			if err != nil {
				t.Fatalf("%s in %d-byte records: %v", name, n, err)
			}
			if got.CipherSuite != want.CipherSuite || got.Version != want.Version || got.Random != want.Random {
				t.Errorf("%s in %d-byte records: %+v", name, n, got)
			}
			h := newHandshakeReader(bytes.NewReader(stream), 0)
			if _, err := readServerHello(h); err != nil {
				t.Fatal(err)
			}
			if name == "openssl-tls12-ecdhe" {
				if kx, err := readServerKeyExchange(h, KxECDHE); err != nil || kx.Group != GroupX25519 {
					t.Errorf("key exchange in %d-byte records: %+v, %v", n, kx, err)
				}
			}
		}
	}
}

func TestReadServerHelloBadInput(t *testing.T) {
	sh := readDump(t, "go-tls13")
	for _, tc := range []struct {
		name  string
		in    []byte
		check func(error) bool
	}{
		{"smtp reply", []byte("500 5.5.1 Unknown command\r\n"), isPlaintext},
		{"smtp reply in pieces", []byte("454 4.7.0 TLS not available due to local problem\r\n"), isPlaintext},
		{"short plaintext", []byte("42"), isPlaintext},
		{"binary garbage", []byte{0x80, 0x2e, 0x04, 0x00, 0x01, 0x00, 0x02}, isNotTLS},
		{"empty", nil, is(io.EOF)},
		{"eof inside header", sh[:3], is(io.ErrUnexpectedEOF)},
		{"eof inside record", sh[:20], is(io.ErrUnexpectedEOF)},
		{"oversized record", []byte{22, 3, 3, 0x48, 0x01}, isNotTLS},
		{"application data first", []byte{23, 3, 3, 0, 1, 0}, hasText("application data")},
		{"not a server hello", []byte{22, 3, 3, 0, 4, 11, 0, 0, 0}, hasText("expected server hello")},
		{"truncated server hello", []byte{22, 3, 3, 0, 6, 2, 0, 0, 2, 3, 3}, hasText("truncated")},
		{"handshake longer than the limit", []byte{22, 3, 3, 0, 4, 2, 0xff, 0xff, 0xff}, is(ErrReadLimit)},
		{"fatal alert after warning", []byte{21, 3, 3, 0, 2, 1, 112, 21, 3, 3, 0, 2, 2, 40}, isAlert(40)},
		{"fragmented alert", []byte{21, 3, 3, 0, 1, 2, 21, 3, 3, 0, 1, 70}, isAlert(70)},
		{"close notify", []byte{21, 3, 3, 0, 2, 1, 0}, isAlert(0)},
		{"endless change cipher spec", bytes.Repeat([]byte{20, 3, 3, 0, 1, 1}, 2000), is(ErrReadLimit)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadServerHello(iotest.HalfReader(bytes.NewReader(tc.in)), 4096)
			if err == nil || !tc.check(err) {
				t.Errorf("got %v", err)
			}
		})
	}
	// A warning alert before the hello is skipped.
	in := append([]byte{21, 3, 3, 0, 2, 1, 112}, sh...)
	if _, err := ReadServerHello(bytes.NewReader(in), 0); err != nil {
		t.Errorf("warning then hello: %v", err)
	}
	// The plaintext reply is quoted in the error.
	_, err := ReadServerHello(bytes.NewReader([]byte("500 5.5.1 Unknown command\r\n")), 0)
	if !strings.Contains(err.Error(), `"500 5.5.1 Unknown command"`) {
		t.Errorf("error %q does not quote the reply", err)
	}
}

func is(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }

func hasText(s string) func(error) bool {
	return func(err error) bool { return strings.Contains(err.Error(), s) }
}

func isNotTLS(err error) bool {
	var e *NotTLSError
	return errors.As(err, &e)
}

func isPlaintext(err error) bool {
	return isNotTLS(err) && strings.Contains(err.Error(), "plaintext")
}

func isAlert(d uint8) func(error) bool {
	return func(err error) bool {
		var a *AlertError
		return errors.As(err, &a) && a.Description == d
	}
}

func TestParseServerHelloMalformed(t *testing.T) {
	base := func(ext ...byte) []byte {
		b := []byte{3, 3}
		b = append(b, make([]byte, 32)...)
		b = append(b, 0, 0xC0, 0x2F, 0)
		if ext != nil {
			b = append(b, byte(len(ext)>>8), byte(len(ext)))
			b = append(b, ext...)
		}
		return b
	}
	if sh, err := ParseServerHello(base()); err != nil || sh.Version != TLS12 || len(sh.Extensions) != 0 {
		t.Errorf("no extensions (SSLv3 style): %+v, %v", sh, err)
	}
	for name, body := range map[string][]byte{
		"duplicate extension":        base(0xff, 1, 0, 1, 0, 0xff, 1, 0, 1, 0),
		"bad supported_versions":     base(0, 43, 0, 1, 3),
		"bad key_share":              base(0, 51, 0, 4, 0, 0x1d, 0, 0),
		"bad renegotiation_info":     base(0xff, 1, 0, 2, 5, 0),
		"extension overruns":         base(0, 23, 0, 9),
		"trailing bytes":             append(base(0, 23, 0, 0), 1),
		"long session id":            append([]byte{3, 3}, append(make([]byte, 32), 33)...),
		"extensions length too long": append(base(), 0, 9, 0),
	} {
		if _, err := ParseServerHello(body); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseServerKeyExchange(t *testing.T) {
	for _, tc := range []struct {
		kx   Kx
		body []byte
		want KeyExchange
		ok   bool
	}{
		{KxECDHE, []byte{3, 0, 0x17, 1, 4}, KeyExchange{Group: GroupSecp256r1}, true},
		{KxECDHEPSK, []byte{0, 1, 'h', 3, 0, 0x1d}, KeyExchange{Group: GroupX25519}, true},
		{KxECDHE, []byte{1, 0, 0x17}, KeyExchange{}, false}, // explicit prime curve
		{KxDHE, []byte{0, 3, 0, 0x80, 0x01}, KeyExchange{DHBits: 16}, true},
		{KxDHAnon, []byte{0, 2, 0, 0}, KeyExchange{}, false},
		{KxDHE, []byte{0, 9, 1}, KeyExchange{}, false},
		{KxRSA, []byte{0, 1, 1}, KeyExchange{}, false},
	} {
		got, err := ParseServerKeyExchange(tc.kx, tc.body)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%s % x: %+v, %v", tc.kx, tc.body, got, err)
		}
	}
}
