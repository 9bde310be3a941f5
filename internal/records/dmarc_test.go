package records

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestParseDMARCProblems(t *testing.T) {
	tests := []struct {
		name  string
		txt   string
		errs  []string
		warns []string
	}{
		{"minimal", "v=DMARC1; p=none", nil, nil},
		{"no spaces", "v=DMARC1;p=reject;", nil, nil},
		{"full", "v=DMARC1; p=quarantine; sp=reject; pct=50; adkim=s; aspf=r; rua=mailto:agg@example.com,mailto:agg@example.net!10m; ruf=mailto:fail@example.com; fo=1:d; rf=afrf; ri=3600", nil, nil},
		{"policy case", "v=DMARC1; p=Reject", nil, nil},
		{"tabs", "v=DMARC1;\tp=none\t;", nil, nil},
		{"np", "v=DMARC1; p=reject; np=reject", nil, nil},

		{"missing p", "v=DMARC1; sp=none", []string{"p= is missing"}, nil},
		{"missing p with rua", "v=DMARC1; rua=mailto:d@example.com", []string{"receivers act as if p=none"}, nil},
		{"bad p", "v=DMARC1; p=block", []string{"p=block: the policy must be"}, nil},
		{"empty p", "v=DMARC1; p=", []string{"p=: the policy must be"}, nil},
		{"bad sp", "v=DMARC1; p=none; sp=all", []string{"sp=all"}, nil},
		{"pct too big", "v=DMARC1; p=reject; pct=101", []string{"pct=101"}, nil},
		{"pct percent sign", "v=DMARC1; p=reject; pct=50%", []string{"pct=50%"}, nil},
		{"pct negative", "v=DMARC1; p=reject; pct=-1", []string{"pct=-1"}, nil},
		{"pct with p none", "v=DMARC1; p=none; pct=10", nil, []string{"pct=10 has no effect"}},
		{"pct with sp", "v=DMARC1; p=none; sp=reject; pct=10", nil, nil},
		{"bad adkim", "v=DMARC1; p=none; adkim=strict", []string{"adkim=strict: must be r or s"}, nil},
		{"bad aspf", "v=DMARC1; p=none; aspf=x", []string{"aspf=x"}, nil},
		{"bad fo", "v=DMARC1; p=none; ruf=mailto:f@example.com; fo=2", []string{"fo=2"}, nil},
		{"fo empty item", "v=DMARC1; p=none; ruf=mailto:f@example.com; fo=1::d", []string{"fo=1::d"}, nil},
		{"fo without ruf", "v=DMARC1; p=none; fo=1", nil, []string{"fo= has no effect without ruf="}},
		{"bad rf", "v=DMARC1; p=none; rf=iodef", []string{"unknown report format"}, nil},
		{"bad ri", "v=DMARC1; p=none; ri=1d", []string{"ri=1d"}, nil},
		{"ri too big", "v=DMARC1; p=none; ri=4294967296", []string{"ri=4294967296"}, nil},
		{"ri plus", "v=DMARC1; p=none; ri=+5", []string{"ri=+5"}, nil},
		{"unknown tag", "v=DMARC1; p=none; pc=50", nil, []string{"unknown tag pc"}},
		{"upper case tag", "v=DMARC1; P=none", nil, []string{`tag "P" is written in upper case`}},
		{"duplicate tag", "v=DMARC1; p=none; p=reject", []string{"tag p appears more than once"}, nil},
		{"duplicate folded", "v=DMARC1; p=none; P=reject", []string{"tag p appears more than once"}, []string{"upper case"}},
		{"empty tag", "v=DMARC1;; p=none", nil, []string{"empty tag"}},
		{"no equals", "v=DMARC1; p=none; reject", []string{`"reject" is not a tag=value pair`}, nil},
		{"bad tag name", "v=DMARC1; p=none; 1x=y", []string{`invalid tag name "1x"`}, nil},
		{"control char", "v=DMARC1; p=none\x01", []string{"invalid character"}, []string{}},

		{"rua without scheme", "v=DMARC1; p=none; rua=dmarc@example.com", []string{"has no scheme"}, nil},
		{"rua not an address", "v=DMARC1; p=none; rua=mailto:dmarc", []string{"not a mail address"}, nil},
		{"rua empty", "v=DMARC1; p=none; rua=", []string{"rua= is empty"}, nil},
		{"rua empty item", "v=DMARC1; p=none; rua=mailto:a@example.com,,mailto:b@example.com", []string{"empty URI"}, nil},
		{"rua bad size", "v=DMARC1; p=none; rua=mailto:a@example.com!10x", []string{"bad size limit"}, nil},
		{"rua size overflow", "v=DMARC1; p=none; rua=mailto:a@example.com!99999999999999t", []string{"bad size limit"}, nil},
		{"rua https", "v=DMARC1; p=none; rua=https://example.com/dmarc", nil, []string{"need only support mailto"}},
		{"rua other scheme", "v=DMARC1; p=none; rua=ftp://example.com/dmarc", nil, []string{"need only support mailto"}},
		{"rua three", "v=DMARC1; p=none; rua=mailto:a@example.com, mailto:b@example.com ,mailto:c@example.com", nil, []string{"lists 3 URIs"}},
		{"rua bad url", "v=DMARC1; p=none; rua=mailto:a@example.com%zz", []string{"bad percent-encoding"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ps := ParseDMARC(tt.txt)
			if d == nil {
				t.Fatalf("ParseDMARC(%q) = nil, %v", tt.txt, ps)
			}
			checkProblems(t, ps, tt.errs, tt.warns)
		})
	}
}

func TestParseDMARCNotDMARC(t *testing.T) {
	for _, txt := range []string{"", "p=none; v=DMARC1", "v=DMARC2; p=none", "v=dmarc1; p=none", "v=spf1 -all", "v=DMARC1x; p=none"} {
		d, ps := ParseDMARC(txt)
		if d != nil {
			t.Errorf("ParseDMARC(%q) = %+v, want nil", txt, d)
		}
		checkProblems(t, ps, []string{"not a DMARC record"}, nil)
	}
	// The version tag name is an ABNF string, matched without regard to case.
	if !IsDMARC(" V = DMARC1 ;p=none") {
		t.Error("IsDMARC with spaces and upper-case V = false")
	}
}

func TestParseDMARCFields(t *testing.T) {
	txt := "v=DMARC1; p=quarantine; sp=reject; pct=50; adkim=s; aspf=s; rua=mailto:agg@example.com,mailto:agg%21x@example.net!10m ; ruf=mailto:fail@example.com?subject=x!512; fo=1:d; rf=afrf; ri=3600"
	d, ps := ParseDMARC(txt)
	checkProblems(t, ps, nil, nil)
	want := &DMARC{
		Record:          txt,
		Policy:          DMARCQuarantine,
		SubdomainPolicy: DMARCReject,
		Percent:         50,
		DKIMAlignment:   AlignStrict,
		SPFAlignment:    AlignStrict,
		AggregateReports: []ReportURI{
			{URI: "mailto:agg@example.com", Scheme: "mailto", Address: "agg@example.com"},
			{URI: "mailto:agg%21x@example.net", Scheme: "mailto", Address: "agg!x@example.net", MaxSize: 10 << 20},
		},
		FailureReports: []ReportURI{{URI: "mailto:fail@example.com?subject=x", Scheme: "mailto", Address: "fail@example.com", MaxSize: 512}},
		FailureOptions: []string{"1", "d"},
		ReportFormats:  []string{"afrf"},
		ReportInterval: 3600,
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("ParseDMARC:\n got %+v\nwant %+v", d, want)
	}
}

func TestParseDMARCDefaults(t *testing.T) {
	d, ps := ParseDMARC("v=DMARC1; p=reject")
	checkProblems(t, ps, nil, nil)
	js, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"record":"v=DMARC1; p=reject","policy":"reject","subdomain_policy":"reject","percent":100,"dkim_alignment":"relaxed","spf_alignment":"relaxed","failure_options":["0"],"report_formats":["afrf"],"report_interval":86400}`
	if string(js) != want {
		t.Errorf("JSON:\n got %s\nwant %s", js, want)
	}
	// A bad value keeps the default.
	d, _ = ParseDMARC("v=DMARC1; p=none; pct=x; adkim=x; ri=x")
	if d.Percent != 100 || d.DKIMAlignment != AlignRelaxed || d.ReportInterval != 86400 {
		t.Errorf("defaults not kept: %+v", d)
	}
}

func TestParseSizeLimit(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true}, {"512", 512, true}, {"1k", 1024, true}, {"10M", 10 << 20, true},
		{"2g", 2 << 30, true}, {"1t", 1 << 40, true}, {"16777215t", 16777215 << 40, true},
		{"16777216t", 0, false}, {"", 0, false}, {"k", 0, false}, {"1x", 0, false},
		{"-1", 0, false}, {"18446744073709551616", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseSizeLimit(tt.in)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("parseSizeLimit(%q) = %d, %v, want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSelectDMARC(t *testing.T) {
	got, ps := SelectDMARC([]string{"v=spf1 -all", "v=DMARC1; p=none"})
	if got != "v=DMARC1; p=none" || ps != nil {
		t.Errorf("one: %q %v", got, ps)
	}
	got, ps = SelectDMARC([]string{"v=spf1 -all"})
	if got != "" {
		t.Errorf("none: %q", got)
	}
	checkProblems(t, ps, nil, []string{"no DMARC record"})
	got, ps = SelectDMARC([]string{"v=DMARC1; p=none", "v=DMARC1; p=reject"})
	if got != "" {
		t.Errorf("two: %q", got)
	}
	checkProblems(t, ps, []string{"multiple DMARC records (2)"}, nil)
}

func TestOrganizationalDomain(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"example.com", "example.com", true},
		{"mail.example.com", "example.com", true},
		{"a.b.c.Example.COM.", "example.com", true},
		{"www.example.co.uk", "example.co.uk", true},
		{"example.co.uk", "example.co.uk", true},
		{"x.y.example.github.io", "example.github.io", true},
		{"com", "", false},
		{"co.uk", "", false},
		{"", "", false},
		{".", "", false},
		{"a..example.com", "", false},
	}
	for _, tt := range tests {
		got, err := OrganizationalDomain(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("OrganizationalDomain(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
