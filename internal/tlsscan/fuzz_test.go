package tlsscan

import (
	"bytes"
	"errors"
	"testing"
)

func fuzzSeeds(f *testing.F) [][]byte {
	var out [][]byte
	for _, name := range captures() {
		out = append(out, readDump(f, name))
	}
	return append(out,
		[]byte("220 mx.example ESMTP\r\n"),
		[]byte{21, 3, 3, 0, 1, 2, 21, 3, 3, 0, 1, 40},
		[]byte{22, 3, 3, 0, 4, 2, 0, 0, 0},
	)
}

// handshakeBody returns the first handshake message body of a record
// stream, for seeding the message-level parsers.
func handshakeBody(stream []byte, typ uint8) []byte {
	h := newHandshakeReader(bytes.NewReader(stream), 0)
	for i := 0; i < 8; i++ {
		t, body, err := h.next()
		if err != nil {
			return nil
		}
		if t == typ {
			return body
		}
	}
	return nil
}

func FuzzParseServerHello(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		if b := handshakeBody(s, typeServerHello); b != nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sh, err := ParseServerHello(body)
		if err != nil {
			return
		}
		if len(sh.SessionID) > 32 || (sh.HelloRetryRequest && sh.KeyShareGroup != 0) {
			t.Fatalf("accepted an invalid hello: %+v", sh)
		}
	})
}

func FuzzReadServerHello(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, uint16(0))
		f.Add(s, uint16(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, stream []byte, limit uint16) {
		max := int(limit)
		if max == 0 {
			max = 1 << 16
		}
		counted := &countingReader{r: bytes.NewReader(stream)}
		sh, err := ReadServerHello(counted, max)
		if counted.n > max {
			t.Fatalf("read %d bytes past a limit of %d", counted.n, max)
		}
		if err == nil && sh == nil {
			t.Fatal("nil hello without an error")
		}
		if err != nil && err.Error() == "" {
			t.Fatal("empty error text")
		}
		var nt *NotTLSError
		if errors.As(err, &nt) {
			_ = nt.Error()
		}
	})
}

func FuzzParseServerKeyExchange(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		if b := handshakeBody(s, typeServerKeyExchange); b != nil {
			f.Add(uint8(0), b)
			f.Add(uint8(1), b)
		}
	}
	kinds := []Kx{KxECDHE, KxDHE, KxECDHAnon, KxDHAnon, KxDHEPSK, KxECDHEPSK, KxRSA}
	f.Fuzz(func(t *testing.T, k uint8, body []byte) {
		kx := kinds[int(k)%len(kinds)]
		out, err := ParseServerKeyExchange(kx, body)
		if err == nil && out.DHBits > 8*len(body) {
			t.Fatalf("%d DH bits from %d bytes", out.DHBits, len(body))
		}
	})
}

// FuzzClientHello builds hellos from arbitrary fields: Marshal either
// fails or writes one record whose lengths parse back.
func FuzzClientHello(f *testing.F) {
	f.Add(uint16(0x0303), []byte{0xC0, 0x2F}, "mx.example", []byte{0, 0x1d}, true, uint8(1))
	f.Add(uint16(0x0300), []byte{0, 0x0A}, "", []byte(nil), false, uint8(0))
	f.Fuzz(func(t *testing.T, v uint16, suites []byte, name string, groups []byte, reneg bool, shares uint8) {
		h := &ClientHello{Version: Version(v), ServerName: name, RenegotiationInfo: reneg}
		for i := 0; i+1 < len(suites); i += 2 {
			h.CipherSuites = append(h.CipherSuites, uint16(suites[i])<<8|uint16(suites[i+1]))
		}
		for i := 0; i+1 < len(groups); i += 2 {
			h.Groups = append(h.Groups, uint16(groups[i])<<8|uint16(groups[i+1]))
		}
		if shares > 0 {
			h.SupportedVersions = []Version{TLS13}
			h.KeyShares = []KeyShare{{Group: GroupX25519, Data: bytes.Repeat([]byte{1}, int(shares))}}
		}
		wire, err := h.Marshal()
		if err != nil {
			return
		}
		if len(wire) > 5+1<<14 || int(wire[3])<<8|int(wire[4]) != len(wire)-5 ||
			int(wire[6])<<16|int(wire[7])<<8|int(wire[8]) != len(wire)-9 {
			t.Fatalf("inconsistent lengths in % x", wire[:9])
		}
		helloExtensions(t, wire)
	})
}

type countingReader struct {
	r interface{ Read([]byte) (int, error) }
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
