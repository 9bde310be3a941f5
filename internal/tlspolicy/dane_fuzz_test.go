package tlspolicy

import "testing"

// FuzzParseTLSA checks that ParseTLSA never panics and that an accepted record
// round-trips through String.
func FuzzParseTLSA(f *testing.F) {
	for _, s := range []string{"3 1 1 " + "ab" + "00", "2 0 2 0a0b\n0c", "0 0 0 00", "255 255 255 ff", "3 1 1", "3 1 1 0g"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseTLSA(s)
		if err != nil {
			return
		}
		again, err := ParseTLSA(r.String())
		if err != nil || again.String() != r.String() {
			t.Fatalf("round trip of %q through %q: %v, %v", s, r.String(), again, err)
		}
		r.Usable()
	})
}

// FuzzParsePin checks that ParsePin never panics and that an accepted pin round-trips.
func FuzzParsePin(f *testing.F) {
	for _, s := range []string{"sha256:" + string(make([]byte, 0)), "cert:sha256:00", "spki:" + "ab:cd", "pubkey:sha256:" + "00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePin(s)
		if err != nil {
			return
		}
		again, err := ParsePin(p.String())
		if err != nil || again.String() != p.String() || len(p.SHA256) != 32 {
			t.Fatalf("round trip of %q through %q: %v, %v", s, p.String(), again, err)
		}
	})
}
