package tlspolicy

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzParsePolicy checks that ParsePolicy never panics, that an accepted policy keeps the
// documented ranges, that String round-trips, and that every mx pattern matches a host
// made from it.
func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{
		goodPolicy,
		"version: STSv1\nmode: testing\nmx: mail.example.com\nmax_age: 86400",
		"\nversion:STSv1 \r\n\r\nmode:\tenforce\t\nmx:mail.example.com.\nmax_age:0\n\n\n",
		"version: STSv1\nmode: none\nmax_age: 31557600\n",
		"version: STSv1\nmode: testing\nmode: enforce\nmax_age: 100\nmax_age: 200\nmx: mx.example.com\nx-note: héllo wörld\n",
		"version: STSv1\nmode: enforce\nmx: *.*.example.com\nmax_age: 00000000001\n",
		"<html><body>hello: world</body></html>",
		"version: STSv1\rmode: enforce\nx: a\x01b\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParsePolicy(body)
		if err != nil {
			if p != nil {
				t.Fatalf("policy %+v alongside error %v", p, err)
			}
			return
		}
		if p.Version != "STSv1" || p.MaxAge < 0 || p.MaxAge > MaxAgeLimit {
			t.Fatalf("out of range: %+v", p)
		}
		switch p.Mode {
		case ModeEnforce, ModeTesting:
			if len(p.MX) == 0 {
				t.Fatalf("mode %s without mx", p.Mode)
			}
		case ModeNone:
		default:
			t.Fatalf("mode %q", p.Mode)
		}
		again, err := ParsePolicy([]byte(p.String()))
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("round trip of %q through %q: %+v, %v", body, p.String(), again, err)
		}
		for _, mx := range p.MX {
			host := strings.Replace(mx, "*.", "mx1.", 1)
			if !p.Matches(strings.ToUpper(host)) {
				t.Fatalf("pattern %q does not match %q", mx, host)
			}
			if strings.HasPrefix(mx, "*.") && (&Policy{MX: []string{mx}}).Matches(strings.TrimPrefix(mx, "*.")) {
				t.Fatalf("wildcard %q matches its own domain", mx)
			}
		}
	})
}

// FuzzParseSTSRecord checks that ParseSTSRecord never panics and that an accepted record
// has a valid id.
func FuzzParseSTSRecord(f *testing.F) {
	for _, s := range []string{"v=STSv1; id=20160831085700Z;", "v=STSv1 ; id=abc ; ext=1", "v=STSv1;; id=", "v=STSv1; id=a; id=b; x=a=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, txt string) {
		r, err := ParseSTSRecord(txt)
		if err != nil {
			return
		}
		if !IsSTSRecord(txt) || !validSTSID(r.ID) {
			t.Fatalf("accepted %q with id %q", txt, r.ID)
		}
	})
}
