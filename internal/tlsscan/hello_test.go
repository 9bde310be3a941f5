package tlsscan

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
)

func seqRandom() (r [32]byte) {
	for i := range r {
		r[i] = byte(i)
	}
	return r
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const hexRandom = `000102030405060708090a0b0c0d0e0f 101112131415161718191a1b1c1d1e1f`

// The expected bytes below were written out by hand from RFC 5246
// 7.4.1.2 and RFC 8446 4.1.2, field by field.
func TestClientHelloGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hello ClientHello
		want  string
	}{
		{
			name: "TLS 1.2",
			hello: ClientHello{
				Version: TLS12, Random: seqRandom(), CipherSuites: []uint16{0xC02F, 0x002F},
				ServerName: "mx.example.", Groups: []uint16{GroupX25519, GroupSecp256r1}, PointFormats: true,
				SignatureAlgorithms: []uint16{0x0403, 0x0804}, RenegotiationInfo: true,
			},
			want: `16 0301 0063` + // record: handshake, TLS 1.0 record version, 99 bytes
				`01 00005f 0303` + hexRandom + `00` + // client_hello, 95 bytes, client_version, random, no session
				`0004 c02f 002f  01 00  0032` + // suites, null compression, 50 bytes of extensions
				`0000 000f 000d 00 000a 6d782e6578616d706c65` + // server_name "mx.example"
				`000a 0006 0004 001d 0017` + // supported_groups
				`000b 0002 01 00` + // ec_point_formats: uncompressed
				`000d 0006 0004 0403 0804` + // signature_algorithms
				`ff01 0001 00`, // renegotiation_info, empty
		},
		{
			name:  "SSLv3",
			hello: ClientHello{Version: SSL30, Random: seqRandom(), CipherSuites: []uint16{0x000A}, RenegotiationSCSV: true},
			want: `16 0300 002f  01 00002b 0300` + hexRandom + `00` +
				`0004 000a 00ff  01 00`, // SCSV instead of an extension; no extensions block
		},
		{
			name: "TLS 1.3",
			hello: ClientHello{
				Version: TLS12, Random: seqRandom(), CipherSuites: []uint16{0x1301}, ServerName: "127.0.0.1",
				Groups: []uint16{GroupX25519}, SignatureAlgorithms: []uint16{0x0403},
				SupportedVersions: []Version{TLS13}, KeyShares: []KeyShare{{GroupX25519, bytes.Repeat([]byte{0xAA}, 32)}},
			},
			want: `16 0301 0070  01 00006c 0303` + hexRandom + `00` +
				`0002 1301  01 00  0041` +
				`000a 0004 0002 001d` + // no server_name: an IP address
				`000d 0004 0002 0403` +
				`002b 0003 02 0304` +
				`0033 0026 0024 001d 0020` + strings.Repeat("aa", 32),
		},
		{
			name: "TLS 1.3 empty key_share with fallback SCSV",
			hello: ClientHello{
				RecordVersion: TLS12, Version: TLS12, Random: seqRandom(), CipherSuites: []uint16{0x1301},
				FallbackSCSV: true, SupportedVersions: []Version{TLS13}, KeyShares: []KeyShare{},
			},
			want: `16 0303 003e  01 00003a 0303` + hexRandom + `00` +
				`0004 1301 5600  01 00  000d` +
				`002b 0003 02 0304` +
				`0033 0002 0000`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.hello.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, tc.want); !bytes.Equal(got, want) {
				t.Errorf("got\n%s\nwant\n%s", hex.Dump(got), hex.Dump(want))
			}
		})
	}
}

func TestNewClientHello(t *testing.T) {
	rnd := bytes.NewReader(bytes.Repeat([]byte{1}, 1000))
	for _, v := range AllVersions() {
		h, err := NewClientHello(v, []uint16{0x002F}, "mx.example", rnd)
		if err != nil {
			t.Fatal(err)
		}
		wire, err := h.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		exts := helloExtensions(t, wire)
		has := func(e uint16) bool { _, ok := exts[e]; return ok }
		switch v {
		case SSL30:
			if len(exts) != 0 || !h.RenegotiationSCSV || wire[2] != 0 {
				t.Errorf("SSLv3: extensions %v, record version %d", exts, wire[2])
			}
		case TLS10, TLS11:
			if has(extSignatureAlgorithms) || !has(extRenegotiationInfo) || !has(extServerName) || has(extSupportedVersions) {
				t.Errorf("%s: extensions %v", v, exts)
			}
		case TLS12:
			if !has(extSignatureAlgorithms) || has(extSupportedVersions) || has(extKeyShare) {
				t.Errorf("%s: extensions %v", v, exts)
			}
		case TLS13:
			if h.Version != TLS12 || !has(extSupportedVersions) || !has(extKeyShare) || has(extRenegotiationInfo) {
				t.Errorf("%s: extensions %v", v, exts)
			}
		}
	}
	if _, err := NewClientHello(TLS12, nil, "", bytes.NewReader(nil)); err == nil {
		t.Error("no error from an empty rand")
	}
	big := &ClientHello{Version: TLS12, CipherSuites: make([]uint16, 9000)}
	if _, err := big.Marshal(); err == nil {
		t.Error("no error for a hello beyond one record")
	}
}

// helloExtensions parses a marshalled hello back and returns its
// extensions by type.
func helloExtensions(t *testing.T, wire []byte) map[uint16][]byte {
	t.Helper()
	s := cryptobyte.String(wire[9:])
	var sid, suites, comp, exts cryptobyte.String
	if !s.Skip(34) || !s.ReadUint8LengthPrefixed(&sid) || !s.ReadUint16LengthPrefixed(&suites) ||
		!s.ReadUint8LengthPrefixed(&comp) {
		t.Fatalf("malformed hello % x", wire)
	}
	out := map[uint16][]byte{}
	if s.Empty() {
		return out
	}
	if !s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
		t.Fatalf("malformed extensions % x", wire)
	}
	for !exts.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			t.Fatalf("malformed extension % x", wire)
		}
		out[typ] = data
	}
	return out
}

func TestVersionText(t *testing.T) {
	for _, v := range append(AllVersions(), 0x7F1C) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var back Version
		if err := json.Unmarshal(b, &back); err != nil || back != v {
			t.Errorf("%s: %s -> %v, %v", v, b, back, err)
		}
	}
	var v Version
	if err := v.UnmarshalText([]byte("TLS 9")); err == nil {
		t.Error("no error for an unknown version")
	}
}
