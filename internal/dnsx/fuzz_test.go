package dnsx

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// FuzzNormalize: whatever the input, Normalize either fails with a
// one-line invalid-name error or returns a name within the limits that
// normalises to itself.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"example.com", "bücher.test.", "a..b", "xn--bcher-kva.test", "_dmarc.x", "-a.b", "192.0.2.1", "例え.jp", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := Normalize(in)
		if err != nil {
			if KindOf(err) != KindInvalidName || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Normalize(%q): %v", in, err)
			}
			return
		}
		if len(out) > MaxName || out != strings.ToLower(out) || strings.HasSuffix(out, ".") {
			t.Fatalf("Normalize(%q) = %q", in, out)
		}
		for l := range strings.SplitSeq(out, ".") {
			if l == "" || len(l) > MaxLabel {
				t.Fatalf("Normalize(%q) = %q: bad label %q", in, out, l)
			}
		}
		if again, err := Normalize(out); err != nil || again != out {
			t.Fatalf("Normalize(%q) = %q, again %q, %v", in, out, again, err)
		}
	})
}

// FuzzAnswer feeds arbitrary bytes as the answer to an MX question: the
// checks and the CNAME walk never panic, and anything accepted answers
// the question that was asked.
func FuzzAnswer(f *testing.F) {
	q := new(dns.Msg)
	q.Id = 4242
	q.SetQuestion("example.test.", dns.TypeMX)
	good := new(dns.Msg)
	good.SetReply(q)
	good.Answer = []dns.RR{
		&dns.CNAME{Hdr: dns.RR_Header{Name: "example.test.", Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 60}, Target: "b.test."},
		&dns.MX{Hdr: dns.RR_Header{Name: "b.test.", Rrtype: dns.TypeMX, Class: dns.ClassINET, Ttl: 60}, Preference: 10, Mx: "mx.b.test."},
	}
	b, _ := good.Pack()
	f.Add(b)
	f.Add(b[:len(b)-3])
	f.Add([]byte{0x10, 0x92, 0x81, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		resp, err := parseResponse(q, b)
		if err != nil {
			if KindOf(err) != KindProtocol {
				t.Fatalf("error of kind %v: %v", KindOf(err), err)
			}
			return
		}
		if len(resp.Question) == 1 && !sameName(resp.Question[0].Name, "example.test") {
			t.Fatalf("accepted an answer for %s", resp.Question[0].Name)
		}
		cur, seen := "example.test", map[string]bool{"example.test": true}
		for i := 0; i <= MaxCNAMEs; i++ {
			for _, r := range collect(resp.Answer, cur, TypeMX) {
				if r.Type != TypeMX || r.Name != cur {
					t.Fatalf("collected %+v for %s", r, cur)
				}
			}
			next := cnameAt(resp.Answer, cur)
			if next == "" || seen[next] {
				break
			}
			seen[next] = true
			cur = next
		}
	})
}
