package records

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestParseSPFProblems(t *testing.T) {
	tests := []struct {
		name  string
		txt   string
		errs  []string
		warns []string
	}{
		{"minimal", "v=spf1 -all", nil, nil},
		{"upper case", "V=SPF1 MX -ALL", nil, nil},
		{"everything", "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx:mail.example.com/28//64 include:_spf.example.net exists:%{i}._spf.%{d} ~all exp=explain.%{d}", nil, nil},
		{"extra spaces", "v=spf1  mx   -all  ", nil, nil},
		{"trailing dot", "v=spf1 include:_spf.example.com. -all", nil, nil},
		{"qualifiers", "v=spf1 ?include:example.com +a -mx ~all", nil, nil},
		{"empty record", "v=spf1", nil, []string{"no all mechanism"}},
		{"redirect only", "v=spf1 redirect=_spf.example.com", nil, nil},
		{"unknown modifier", "v=spf1 foo=bar -all", nil, nil},
		{"empty unknown modifier", "v=spf1 foo= -all", nil, nil},

		{"bad ip4 cidr", "v=spf1 ip4:192.0.2.0/33 -all", []string{"bad CIDR length"}, nil},
		{"ip4 cidr leading zero", "v=spf1 ip4:192.0.2.0/08 -all", []string{"bad CIDR length"}, nil},
		{"bad ip6 cidr", "v=spf1 ip6:2001:db8::/129 -all", []string{"bad CIDR length"}, nil},
		{"bad ip4", "v=spf1 ip4:192.0.2.256 -all", []string{"bad IP address"}, nil},
		{"ip4 leading zero", "v=spf1 ip4:192.0.2.01 -all", []string{"bad IP address"}, nil},
		{"ip4 with ipv6", "v=spf1 ip4:2001:db8::1 -all", []string{"ip4 needs an IPv4 address"}, nil},
		{"ip6 with ipv4", "v=spf1 ip6:192.0.2.1 -all", []string{"ip6 needs an IPv6 address"}, nil},
		{"ip6 zone", "v=spf1 ip6:fe80::1%eth0 -all", []string{"zone"}, nil},
		{"ip4 no address", "v=spf1 ip4 -all", []string{"ip4 needs an address"}, nil},
		{"ip4 empty", "v=spf1 ip4: -all", []string{"bad IP address"}, nil},
		{"a cidr leading zero", "v=spf1 a/024 -all", []string{"bad CIDR length"}, nil},
		{"a ip6 cidr too long", "v=spf1 a//129 -all", []string{"bad CIDR length"}, nil},
		{"mx empty cidr", "v=spf1 mx:example.com/ -all", []string{"bad CIDR length"}, nil},
		{"a cidr junk", "v=spf1 a/24x -all", []string{"bad CIDR length"}, nil},
		{"a domain cidr junk", "v=spf1 a:example.com/24x -all", []string{"not a valid top-level label"}, nil},
		{"a empty domain", "v=spf1 a: -all", []string{"empty domain"}, nil},
		{"unknown mechanism", "v=spf1 foo:bar -all", []string{`unknown mechanism "foo"`}, nil},
		{"spf2 style", "v=spf1 ipv4:192.0.2.1 -all", []string{`unknown mechanism "ipv4"`}, nil},
		{"bare qualifier", "v=spf1 - -all", []string{`unknown mechanism ""`}, nil},
		{"duplicate redirect", "v=spf1 redirect=a.example.com redirect=b.example.com", []string{"redirect appears more than once"}, nil},
		{"duplicate exp", "v=spf1 exp=a.example.com exp=b.example.com -all", []string{"exp appears more than once"}, nil},
		{"empty redirect", "v=spf1 redirect=", []string{"redirect= needs a domain"}, []string{"no all mechanism"}},
		{"all not last", "v=spf1 -all mx", nil, []string{"never evaluated"}},
		{"ptr", "v=spf1 ptr -all", nil, []string{"SHOULD NOT be used"}},
		{"ptr domain", "v=spf1 ptr:example.com -all", nil, []string{"SHOULD NOT be used"}},
		{"ptr cidr", "v=spf1 ptr/24 -all", []string{"ptr takes only"}, nil},
		{"plus all", "v=spf1 +all", nil, []string{"passes mail from every host"}},
		{"implicit plus all", "v=spf1 all", nil, []string{"passes mail from every host"}},
		{"all argument", "v=spf1 all:example.com", []string{"all takes no argument"}, []string{"no all mechanism"}},
		{"include without domain", "v=spf1 include -all", []string{"include needs a domain"}, nil},
		{"include empty domain", "v=spf1 include: -all", []string{"include needs a domain"}, nil},
		{"include cidr", "v=spf1 include:example.com/24 -all", []string{"not a valid top-level label"}, nil},
		{"exists without domain", "v=spf1 exists -all", []string{"exists needs a domain"}, nil},
		{"modifier looks like mechanism", "v=spf1 include=_spf.example.com -all", nil, []string{"unknown modifier"}},
		{"qualified modifier", "v=spf1 -redirect=example.com", []string{"takes no qualifier"}, []string{"no all mechanism"}},
		{"redirect with all", "v=spf1 mx redirect=x.example.com -all", nil, []string{"redirect=x.example.com is ignored"}},
		{"tab", "v=spf1 mx\t-all", []string{"visible ASCII"}, []string{"no all mechanism"}},
		{"non-ascii", "v=spf1 a:exämple.com -all", []string{"visible ASCII"}, nil},
		{"empty label", "v=spf1 a:exa..mple.com -all", []string{"empty label"}, nil},
		{"leading dot", "v=spf1 a:.example.com -all", []string{"empty label"}, nil},
		{"long label", "v=spf1 a:" + strings.Repeat("x", 64) + ".com -all", []string{"longer than 63"}, nil},
		{"long name", "v=spf1 a:" + strings.Repeat("abcdefghi.", 26) + "com -all", []string{"longer than 253"}, nil},
		{"long record", "v=spf1 " + strings.Repeat("ip4:192.0.2.1 ", 33) + "-all", nil, []string{"record is 473 bytes"}},
		{"ip4 zero prefix", "v=spf1 ip4:0.0.0.0/0 -all", nil, []string{"passes every IPv4 address"}},
		{"ip6 zero prefix", "v=spf1 ip6:::/0 -all", nil, []string{"passes every IPv6 address"}},
		{"ip4 zero prefix fail", "v=spf1 -ip4:0.0.0.0/0 +all", nil, []string{"passes mail from every host"}},
		{"not fqdn", "v=spf1 include:example -all", []string{"not a fully qualified domain"}, nil},
		{"numeric", "v=spf1 a:192.0.2.1 -all", []string{"ends in a number"}, nil},
		{"bad top label", "v=spf1 a:example.-com -all", []string{"not a valid top-level label"}, nil},
		{"hyphen numeric top label", "v=spf1 a:example.123-4 -all", nil, nil},

		// RFC 7208 7: macros.
		{"macros", "v=spf1 include:%{ir}.%{v}._spf.%{d2} -all", nil, nil},
		{"macro delimiters", "v=spf1 exists:%{l1r+-}.%{d} -all", nil, nil},
		{"macro upper case", "v=spf1 exists:%{IR}.%{D}.example.com -all", nil, nil},
		{"macro escapes", "v=spf1 exists:%%%_%-.example.com -all", nil, nil},
		{"macro c outside exp", "v=spf1 exists:%{i}.%{c}.example.com -all", []string{"only in explanation text"}, nil},
		{"macro r in redirect", "v=spf1 redirect=%{r}.example.com", []string{"only in explanation text"}, nil},
		{"macro t in exp domain", "v=spf1 -all exp=%{t}.example.com", []string{"only in explanation text"}, nil},
		{"macro unknown letter", "v=spf1 include:%{x}.example.com -all", []string{"unknown macro letter"}, nil},
		{"macro empty", "v=spf1 include:%{}.example.com -all", []string{"no macro letter"}, nil},
		{"macro zero digits", "v=spf1 include:%{d0}.example.com -all", []string{"must not be zero"}, nil},
		{"macro bad delimiter", "v=spf1 exists:%{l1r;}.%{d} -all", []string{"invalid delimiter"}, nil},
		{"macro unterminated", "v=spf1 exists:%{d.example.com -all", []string{"unterminated macro"}, nil},
		{"percent at end", "v=spf1 include:50% -all", []string{`"%" at the end`}, nil},
		{"bad escape", "v=spf1 include:%a.example.com -all", []string{"invalid macro"}, nil},
		{"macro p", "v=spf1 a:%{p}.example.com -all", nil, []string{"%{p} macro"}},
		{"unknown modifier macro", "v=spf1 foo=%{z} -all", []string{"modifier foo"}, nil},
		{"unknown modifier may use c", "v=spf1 foo=%{c} -all", nil, nil},
		{"ends in macro escape", "v=spf1 exists:example.com%% -all", nil, nil},
		{"ends in dot after macro", "v=spf1 exists:%{d}. -all", []string{"not a fully qualified domain"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spf, ps := ParseSPF(tt.txt)
			if spf == nil {
				t.Fatalf("ParseSPF(%q) = nil, %v", tt.txt, ps)
			}
			if spf.Record != tt.txt {
				t.Errorf("Record = %q", spf.Record)
			}
			checkProblems(t, ps, tt.errs, tt.warns)
		})
	}
}

func TestParseSPFNotSPF(t *testing.T) {
	for _, txt := range []string{"", "v=spf", "v=spf10 -all", "spf1 -all", " v=spf1 -all", "v=spf1\t-all", "v=DMARC1; p=none", "google-site-verification=abc"} {
		spf, ps := ParseSPF(txt)
		if spf != nil {
			t.Errorf("ParseSPF(%q) = %+v, want nil", txt, spf)
		}
		checkProblems(t, ps, []string{"not an SPF record"}, nil)
		if IsSPF(txt) {
			t.Errorf("IsSPF(%q) = true", txt)
		}
	}
}

func TestParseSPFFields(t *testing.T) {
	txt := "v=spf1 ip4:192.0.2.0/24 ip6:2001:DB8::/32 a mx:mail.example.com/28//64 ?include:_spf.example.net a//96 ip4:192.0.2.1 ~all exp=explain.%{d} foo=bar"
	spf, ps := ParseSPF(txt)
	checkProblems(t, ps, nil, nil)
	want := &SPF{
		Record: txt,
		Mechanisms: []SPFMechanism{
			{Term: "ip4:192.0.2.0/24", Qualifier: QualifierPass, Kind: SPFIP4, Address: netip.MustParseAddr("192.0.2.0"), IP4Prefix: intp(24)},
			{Term: "ip6:2001:DB8::/32", Qualifier: QualifierPass, Kind: SPFIP6, Address: netip.MustParseAddr("2001:db8::"), IP6Prefix: intp(32)},
			{Term: "a", Qualifier: QualifierPass, Kind: SPFA},
			{Term: "mx:mail.example.com/28//64", Qualifier: QualifierPass, Kind: SPFMX, Domain: "mail.example.com", IP4Prefix: intp(28), IP6Prefix: intp(64)},
			{Term: "?include:_spf.example.net", Qualifier: QualifierNeutral, Kind: SPFInclude, Domain: "_spf.example.net"},
			{Term: "a//96", Qualifier: QualifierPass, Kind: SPFA, IP6Prefix: intp(96)},
			{Term: "ip4:192.0.2.1", Qualifier: QualifierPass, Kind: SPFIP4, Address: netip.MustParseAddr("192.0.2.1")},
			{Term: "~all", Qualifier: QualifierSoftFail, Kind: SPFAll},
		},
		Modifiers: []SPFModifier{{Name: "exp", Value: "explain.%{d}"}, {Name: "foo", Value: "bar"}},
		Exp:       "explain.%{d}",
	}
	if !reflect.DeepEqual(spf, want) {
		t.Errorf("ParseSPF:\n got %+v\nwant %+v", spf, want)
	}
	const canonical = "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx:mail.example.com/28//64 ?include:_spf.example.net a//96 ip4:192.0.2.1 ~all exp=explain.%{d} foo=bar"
	if got := spf.String(); got != canonical {
		t.Errorf("String() = %q, want %q", got, canonical)
	}
	js, err := json.Marshal(spf.Mechanisms[3])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(js), `{"term":"mx:mail.example.com/28//64","qualifier":"pass","kind":"mx","domain":"mail.example.com","ip4_prefix":28,"ip6_prefix":64}`; got != want {
		t.Errorf("JSON = %s, want %s", got, want)
	}
	js, _ = json.Marshal(spf.Mechanisms[0])
	if got, want := string(js), `{"term":"ip4:192.0.2.0/24","qualifier":"pass","kind":"ip4","address":"192.0.2.0","ip4_prefix":24}`; got != want {
		t.Errorf("JSON = %s, want %s", got, want)
	}
}

func TestQualifierSymbol(t *testing.T) {
	for q, sym := range map[Qualifier]string{QualifierPass: "+", QualifierFail: "-", QualifierSoftFail: "~", QualifierNeutral: "?"} {
		if got := q.Symbol(); got != sym {
			t.Errorf("%s.Symbol() = %q, want %q", q, got, sym)
		}
	}
}

func TestSelectSPF(t *testing.T) {
	tests := []struct {
		name  string
		txts  []string
		want  string
		errs  []string
		warns []string
	}{
		{"none", nil, "", nil, []string{"no SPF record"}},
		{"no spf among others", []string{"google-site-verification=x", "v=spf10 -all"}, "", nil, []string{"no SPF record"}},
		{"one", []string{"google-site-verification=x", "v=spf1 mx -all", "v=DMARC1; p=none"}, "v=spf1 mx -all", nil, nil},
		{"upper case", []string{"V=SPF1 -all"}, "V=SPF1 -all", nil, nil},
		{"two", []string{"v=spf1 mx -all", "v=spf1 a -all"}, "", []string{"multiple SPF records (2)"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ps := SelectSPF(tt.txts)
			if got != tt.want {
				t.Errorf("SelectSPF = %q, want %q", got, tt.want)
			}
			checkProblems(t, ps, tt.errs, tt.warns)
		})
	}
}

func TestSPFKindQueriesDNS(t *testing.T) {
	for k, want := range map[SPFKind]bool{SPFAll: false, SPFInclude: true, SPFA: true, SPFMX: true, SPFPTR: true, SPFIP4: false, SPFIP6: false, SPFExists: true} {
		if got := k.QueriesDNS(); got != want {
			t.Errorf("%s.QueriesDNS() = %v", k, got)
		}
	}
}

func TestProblemJSON(t *testing.T) {
	js, err := json.Marshal(errorf("bad %s", "thing"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(js), `{"severity":"error","text":"bad thing"}`; got != want {
		t.Errorf("JSON = %s, want %s", got, want)
	}
	if got := warnf("x").String(); got != "warning: x" {
		t.Errorf("String() = %q", got)
	}
	if HasErrors([]Problem{warnf("a")}) || !HasErrors([]Problem{warnf("a"), errorf("b")}) {
		t.Error("HasErrors wrong")
	}
}

func TestEmptyListsInJSON(t *testing.T) {
	spf, _ := ParseSPF("v=spf1")
	js, err := json.Marshal(spf)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(js), `{"record":"v=spf1","mechanisms":[]}`; got != want {
		t.Errorf("SPF JSON = %s, want %s", got, want)
	}
	r, _ := ParseTLSRPT("v=TLSRPTv1")
	js, _ = json.Marshal(r)
	if got, want := string(js), `{"record":"v=TLSRPTv1","report_uris":[]}`; got != want {
		t.Errorf("TLSRPT JSON = %s, want %s", got, want)
	}
}
