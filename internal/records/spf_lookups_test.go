package records

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
)

// fakeTXT answers TXT lookups from a map. A name missing from both maps does not exist.
type fakeTXT struct {
	txt   map[string][]string
	errs  map[string]error
	calls map[string]int
}

func (f *fakeTXT) lookup(ctx context.Context, name string) ([]string, error) {
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[name]++
	if err, ok := f.errs[name]; ok {
		return nil, err
	}
	txts, ok := f.txt[name]
	if !ok {
		return nil, ErrNotFound
	}
	return txts, nil
}

// tempErr and permErr mimic a resolver error type with Temporary().
type tempErr struct{ temp bool }

func (e tempErr) Error() string   { return fmt.Sprintf("fake failure (temporary %v)", e.temp) }
func (e tempErr) Temporary() bool { return e.temp }

// nxErr mimics a resolver error type with NotFound(), like dnsx.Error.
type nxErr struct{}

func (nxErr) Error() string   { return "no such domain" }
func (nxErr) NotFound() bool  { return true }
func (nxErr) Temporary() bool { return false }

func TestCountSPFLookups(t *testing.T) {
	tests := []struct {
		name  string
		txt   map[string][]string
		errs  map[string]error
		want  int
		perrs []string
		warns []string
	}{
		{
			name: "nested",
			txt: map[string][]string{
				"example.com":       {"google-site-verification=x", "v=spf1 mx a ip4:192.0.2.1 include:_spf.example.net -all"},
				"_spf.example.net":  {"v=spf1 ip4:192.0.2.0/24 include:_spf2.example.net ~all"},
				"_spf2.example.net": {"v=spf1 a -all"},
			},
			want: 5,
		},
		{
			name: "redirect counts",
			txt: map[string][]string{
				"example.com":      {"v=spf1 mx redirect=_spf.example.net"},
				"_spf.example.net": {"v=spf1 a exists:%{i}.example.net -all"},
			},
			want: 4,
		},
		{
			name: "redirect ignored with all and after all not counted",
			txt: map[string][]string{
				"example.com": {"v=spf1 mx -all a include:x.example.net redirect=_spf.example.net"},
			},
			want: 1,
		},
		{
			name: "upper case and trailing dot",
			txt: map[string][]string{
				"example.com":      {"v=spf1 include:_SPF.Example.NET. -all"},
				"_spf.example.net": {"v=spf1 ptr -all"},
			},
			want:  2,
			warns: []string{"include:_SPF.Example.NET.: \"ptr\": ptr is slow"},
		},
		{
			name: "over the limit",
			txt: map[string][]string{
				"example.com":   {"v=spf1 mx a include:a.example.net include:b.example.net -all"},
				"a.example.net": {"v=spf1 a mx ptr exists:x.example.net -all"},
				"b.example.net": {"v=spf1 a mx a:x.example.net mx:y.example.net -all"},
			},
			want:  12,
			perrs: []string{"needs 12 DNS lookups; more than 10 is a permerror"},
			warns: []string{"include:a.example.net: \"ptr\""},
		},
		{
			name: "exactly the limit",
			txt: map[string][]string{
				"example.com":   {"v=spf1 mx a include:a.example.net -all"},
				"a.example.net": {"v=spf1 a mx a:1.example.net a:2.example.net a:3.example.net a:4.example.net a:5.example.net -all"},
			},
			want: 10,
		},
		{
			name: "loop",
			txt: map[string][]string{
				"example.com":   {"v=spf1 include:a.example.net -all"},
				"a.example.net": {"v=spf1 include:example.com -all"},
			},
			want:  2,
			perrs: []string{"include:example.com: loop: example.com -> a.example.net -> example.com"},
		},
		{
			name: "self redirect",
			txt: map[string][]string{
				"example.com": {"v=spf1 mx redirect=Example.com"},
			},
			want:  2,
			perrs: []string{"redirect=Example.com: loop"},
		},
		{
			name: "include without record",
			txt: map[string][]string{
				"example.com":   {"v=spf1 include:a.example.net include:b.example.net include:c.example.net -all"},
				"b.example.net": {"some text"},
				"c.example.net": {"v=spf1 -all", "v=spf1 mx -all"},
			},
			want: 3,
			perrs: []string{
				"include:a.example.net: the name has no TXT records",
				"include:b.example.net: no SPF record; an include without an SPF record is a permerror (RFC 7208 5.2)",
				"include:c.example.net: multiple SPF records (2)",
			},
		},
		{
			name: "redirect without record",
			txt: map[string][]string{
				"example.com":   {"v=spf1 redirect=a.example.net"},
				"a.example.net": {},
			},
			want:  1,
			perrs: []string{"redirect=a.example.net: the name has no TXT records; a redirect without an SPF record is a permerror (RFC 7208 6.1)"},
		},
		{
			name: "void lookups",
			txt: map[string][]string{
				"example.com": {"v=spf1 include:a.example.net include:b.example.net include:c.example.net -all"},
			},
			errs: map[string]error{"b.example.net": nxErr{}, "c.example.net": &net.DNSError{Err: "no such host", Name: "c.example.net", IsNotFound: true}},
			want: 3,
			perrs: []string{
				"include:a.example.net: the name has no TXT records",
				"include:b.example.net: the name has no TXT records",
				"include:c.example.net: the name has no TXT records",
				"3 include/redirect lookups return no records; more than 2",
			},
		},
		{
			name: "permanent lookup failure",
			txt: map[string][]string{
				"example.com": {"v=spf1 include:a.example.net -all"},
			},
			errs:  map[string]error{"a.example.net": tempErr{temp: false}},
			want:  1,
			perrs: []string{"include:a.example.net: lookup failed: spf lookup a.example.net: fake failure"},
		},
		{
			name: "macro target",
			txt: map[string][]string{
				"example.com": {"v=spf1 include:%{d}._spf.example.net -all"},
			},
			want:  1,
			warns: []string{"the target holds macros"},
		},
		{
			name: "included syntax error",
			txt: map[string][]string{
				"example.com":   {"v=spf1 include:a.example.net -all"},
				"a.example.net": {"v=spf1 ip4:192.0.2.300 mx -all"},
			},
			want:  2,
			perrs: []string{`include:a.example.net: "ip4:192.0.2.300": bad IP address`},
		},
		{
			name: "diamond counts twice",
			txt: map[string][]string{
				"example.com":   {"v=spf1 include:a.example.net include:b.example.net -all"},
				"a.example.net": {"v=spf1 include:d.example.net -all"},
				"b.example.net": {"v=spf1 include:d.example.net -all"},
				"d.example.net": {"v=spf1 mx a -all"},
			},
			want: 8,
		},
		{
			name: "no record at the top",
			txt:  map[string][]string{"example.com": {"hello"}},
			want: 0,
		},
		{
			name: "top does not exist",
			want: 0,
		},
		{
			name: "two records at the top",
			txt:  map[string][]string{"example.com": {"v=spf1 mx -all", "v=spf1 a -all"}},
			want: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeTXT{txt: tt.txt, errs: tt.errs}
			n, ps, err := CountSPFLookups(context.Background(), f.lookup, "example.com")
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if n != tt.want {
				t.Errorf("count = %d, want %d (problems %v)", n, tt.want, ps)
			}
			checkProblems(t, ps, tt.perrs, tt.warns)
			for name, c := range f.calls {
				if c > 1 {
					t.Errorf("%s looked up %d times", name, c)
				}
			}
		})
	}
}

func TestCountSPFLookupsTemporaryError(t *testing.T) {
	for _, err := range []error{tempErr{temp: true}, errors.New("no idea"), &net.DNSError{Err: "server misbehaving", IsTemporary: true}} {
		f := &fakeTXT{
			txt:  map[string][]string{"example.com": {"v=spf1 mx include:a.example.net -all"}},
			errs: map[string]error{"a.example.net": err},
		}
		n, _, got := CountSPFLookups(context.Background(), f.lookup, "example.com")
		if !errors.Is(got, err) {
			t.Errorf("%v: err = %v, want it wrapped", err, got)
		}
		if n != 2 {
			t.Errorf("%v: count = %d, want the 2 so far", err, n)
		}
	}
	f := &fakeTXT{errs: map[string]error{"example.com": tempErr{temp: true}}}
	if _, _, err := CountSPFLookups(context.Background(), f.lookup, "example.com"); err == nil {
		t.Error("top-level failure: no error")
	}
}

func TestCountSPFLookupsCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := &fakeTXT{txt: map[string][]string{"example.com": {"v=spf1 -all"}}}
	if _, _, err := CountSPFLookups(ctx, f.lookup, "example.com"); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if len(f.calls) != 0 {
		t.Errorf("looked up %v after cancel", f.calls)
	}
}

// TestCountSPFLookupsBounded builds records that include the next level twice: a full
// walk would evaluate 2^30 records. The walk must stop early and say so.
func TestCountSPFLookupsBounded(t *testing.T) {
	txt := map[string][]string{"example.com": {"v=spf1 include:d1.example.net include:d1.example.net -all"}}
	for i := 1; i < 30; i++ {
		next := fmt.Sprintf("d%d.example.net", i+1)
		txt[fmt.Sprintf("d%d.example.net", i)] = []string{"v=spf1 include:" + next + " include:" + next + " -all"}
	}
	f := &fakeTXT{txt: txt}
	n, ps, err := CountSPFLookups(context.Background(), f.lookup, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	if n <= SPFLookupLimit {
		t.Errorf("count = %d, want more than the limit", n)
	}
	var stopped, over bool
	for _, p := range ps {
		stopped = stopped || strings.Contains(p.Text, "lower bound")
		over = over || strings.Contains(p.Text, "more than 10 is a permerror")
	}
	if !stopped || !over {
		t.Errorf("problems %v: want a stop warning and the limit error", ps)
	}
	if len(f.calls) > spfMaxDepth+2 {
		t.Errorf("%d names looked up", len(f.calls))
	}
}

func TestCountSPFLookupsDeep(t *testing.T) {
	txt := map[string][]string{"example.com": {"v=spf1 include:d1.example.net -all"}}
	for i := 1; i < 40; i++ {
		txt[fmt.Sprintf("d%d.example.net", i)] = []string{fmt.Sprintf("v=spf1 include:d%d.example.net -all", i+1)}
	}
	f := &fakeTXT{txt: txt}
	n, ps, err := CountSPFLookups(context.Background(), f.lookup, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	if n != spfMaxDepth+1 {
		t.Errorf("count = %d, want %d", n, spfMaxDepth+1)
	}
	checkProblems(t, ps, []string{"more than 10 is a permerror"}, []string{"lower bound"})
}
