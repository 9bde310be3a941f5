package records

import (
	"reflect"
	"testing"
)

func TestParseTLSRPT(t *testing.T) {
	tests := []struct {
		name  string
		txt   string
		uris  []ReportURI
		errs  []string
		warns []string
	}{
		{
			name: "mailto",
			txt:  "v=TLSRPTv1; rua=mailto:tlsrpt@example.com",
			uris: []ReportURI{{URI: "mailto:tlsrpt@example.com", Scheme: "mailto", Address: "tlsrpt@example.com"}},
		},
		{
			name: "two URIs and an extension",
			txt:  "v=TLSRPTv1 ;rua=mailto:a@example.com , https://reports.example.com/tlsrpt;ext_1=x;",
			uris: []ReportURI{
				{URI: "mailto:a@example.com", Scheme: "mailto", Address: "a@example.com"},
				{URI: "https://reports.example.com/tlsrpt", Scheme: "https"},
			},
		},
		{
			name: "exclamation mark is part of the URI",
			txt:  "v=TLSRPTv1; rua=mailto:a@example.com!10m",
			uris: []ReportURI{{URI: "mailto:a@example.com!10m", Scheme: "mailto", Address: "a@example.com!10m"}},
		},
		{name: "no rua", txt: "v=TLSRPTv1;", errs: []string{"rua= is missing"}},
		{name: "bare version", txt: "v=TLSRPTv1", errs: []string{"rua= is missing"}},
		{name: "empty rua", txt: "v=TLSRPTv1; rua=", errs: []string{"rua= is empty"}},
		{name: "rua with spaces around equals", txt: "v=TLSRPTv1; rua = mailto:a@example.com", errs: []string{`invalid field name "rua "`, "rua= is missing"}},
		{name: "ftp", txt: "v=TLSRPTv1; rua=ftp://example.com/x", errs: []string{"mailto: or https:"}},
		{name: "no scheme", txt: "v=TLSRPTv1; rua=a@example.com", errs: []string{"has no scheme"}},
		{name: "https without host", txt: "v=TLSRPTv1; rua=https:/x", errs: []string{"needs a host"}},
		{
			name: "duplicate rua",
			txt:  "v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com",
			uris: []ReportURI{{URI: "mailto:a@example.com", Scheme: "mailto", Address: "a@example.com"}},
			errs: []string{"rua appears more than once"},
		},
		{
			name: "empty field",
			txt:  "v=TLSRPTv1;; rua=mailto:a@example.com",
			uris: []ReportURI{{URI: "mailto:a@example.com", Scheme: "mailto", Address: "a@example.com"}},
			errs: []string{"empty field"},
		},
		{
			name: "bad extension",
			txt:  "v=TLSRPTv1; rua=mailto:a@example.com; _x=1; y=a=b; z",
			uris: []ReportURI{{URI: "mailto:a@example.com", Scheme: "mailto", Address: "a@example.com"}},
			errs: []string{`invalid field name "_x"`, "field y: invalid value", `"z" is not a name=value field`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ps := ParseTLSRPT(tt.txt)
			if r == nil {
				t.Fatalf("ParseTLSRPT(%q) = nil, %v", tt.txt, ps)
			}
			if tt.uris == nil {
				tt.uris = []ReportURI{}
			}
			if !reflect.DeepEqual(r.ReportURIs, tt.uris) {
				t.Errorf("ReportURIs = %+v, want %+v", r.ReportURIs, tt.uris)
			}
			checkProblems(t, ps, tt.errs, tt.warns)
		})
	}
}

func TestParseTLSRPTNotTLSRPT(t *testing.T) {
	for _, txt := range []string{"", "v=tlsrptv1; rua=mailto:a@example.com", "v=TLSRPTv2; rua=mailto:a@example.com", "rua=mailto:a@example.com; v=TLSRPTv1", " v=TLSRPTv1; rua=mailto:a@example.com", "v=TLSRPTv1x"} {
		r, ps := ParseTLSRPT(txt)
		if r != nil {
			t.Errorf("ParseTLSRPT(%q) = %+v, want nil", txt, r)
		}
		checkProblems(t, ps, []string{"not a TLS-RPT record"}, nil)
	}
}

func TestSelectTLSRPT(t *testing.T) {
	got, ps := SelectTLSRPT([]string{"v=spf1 -all", "v=TLSRPTv1; rua=mailto:a@example.com"})
	if got != "v=TLSRPTv1; rua=mailto:a@example.com" || ps != nil {
		t.Errorf("one: %q %v", got, ps)
	}
	_, ps = SelectTLSRPT(nil)
	checkProblems(t, ps, nil, []string{"no TLS-RPT record"})
	_, ps = SelectTLSRPT([]string{"v=TLSRPTv1; rua=mailto:a@example.com", "v=TLSRPTv1;rua=mailto:b@example.com"})
	checkProblems(t, ps, []string{"multiple TLS-RPT records (2)"}, nil)
}
