package tlspolicy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseSTSRecord(t *testing.T) {
	tests := []struct {
		txt     string
		id      string
		wantErr string
	}{
		{"v=STSv1; id=20160831085700Z;", "20160831085700Z", ""},
		{"v=STSv1;id=abc", "abc", ""},
		{"v=STSv1 ; id=abc ;", "abc", ""},
		{"v=STSv1;\tid=abc", "abc", ""},
		{"v=STSv1; id=" + strings.Repeat("a", 32), strings.Repeat("a", 32), ""},
		{"v=STSv1; id=1; ext-1.x=some:value", "1", ""},
		{"v=STSv1; id=first; id=second", "first", ""},

		{"v=STSv1", "", "id= is missing"},
		{"v=STSv1;", "", "id= is missing"},
		{"v=STSv1; ext=x", "", "id= is missing"},
		{"v=STSv1; id=", "", "the id is 1 to 32"},
		{"v=STSv1; id=" + strings.Repeat("a", 33), "", "the id is 1 to 32"},
		{"v=STSv1; id=2016-08-31", "", "the id is 1 to 32"},
		{"v=STSv1; id = abc", "", `invalid field name "id "`},
		{"v=STSv1;; id=abc", "", "empty field"},
		{"v=STSv1; id=abc;;", "", "empty field"},
		{"v=STSv1; id=abc; bogus", "", "not a name=value field"},
		{"v=STSv1; id=abc; _x=1", "", "invalid field name"},
		{"v=STSv1; id=abc; x=a b", "", "invalid value"},
		{"v=STSv1; id=abc; x=a=b", "", "invalid value"},
		{"v=stsv1; id=abc", "", "not an MTA-STS record"},
		{"v=STSv10; id=abc", "", "not an MTA-STS record"},
		{"id=abc; v=STSv1", "", "not an MTA-STS record"},
		{" v=STSv1; id=abc", "", "not an MTA-STS record"},
	}
	for _, tt := range tests {
		r, err := ParseSTSRecord(tt.txt)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseSTSRecord(%q) = %+v, %v; want error %q", tt.txt, r, err, tt.wantErr)
			}
			continue
		}
		if err != nil || r.ID != tt.id || r.Record != tt.txt {
			t.Errorf("ParseSTSRecord(%q) = %+v, %v; want id %q", tt.txt, r, err, tt.id)
		}
	}
}

func TestSelectSTSRecord(t *testing.T) {
	got, err := SelectSTSRecord([]string{"v=spf1 -all", "v=STSv1; id=1"})
	if err != nil || got != "v=STSv1; id=1" {
		t.Errorf("one: %q, %v", got, err)
	}
	if _, err := SelectSTSRecord([]string{"v=spf1 -all"}); !errors.Is(err, ErrNoSTSRecord) {
		t.Errorf("none: %v", err)
	}
	if _, err := SelectSTSRecord([]string{"v=STSv1; id=1", "v=STSv1; id=2"}); !errors.Is(err, ErrMultipleSTSRecords) {
		t.Errorf("two: %v", err)
	}
}

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    *Policy
		wantErr string
	}{
		{
			name: "LF",
			body: "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmx: backupmx.example.com\nmax_age: 604800\n",
			want: &Policy{Version: "STSv1", Mode: ModeEnforce, MX: []string{"mail.example.com", "*.example.net", "backupmx.example.com"}, MaxAge: 604800},
		},
		{
			name: "CRLF without final newline",
			body: "version: STSv1\r\nmode: testing\r\nmx: mail.example.com\r\nmax_age: 86400",
			want: &Policy{Version: "STSv1", Mode: ModeTesting, MX: []string{"mail.example.com"}, MaxAge: 86400},
		},
		{
			name: "no space after colon, trailing white space, blank lines",
			body: "\nversion:STSv1 \r\n\r\nmode:\tenforce\t\nmx:mail.example.com.\nmax_age:0\n\n\n",
			want: &Policy{Version: "STSv1", Mode: ModeEnforce, MX: []string{"mail.example.com."}, MaxAge: 0},
		},
		{
			name: "mode none needs no mx",
			body: "version: STSv1\nmode: none\nmax_age: 31557600\n",
			want: &Policy{Version: "STSv1", Mode: ModeNone, MX: []string{}, MaxAge: 31557600},
		},
		{
			name: "unknown fields ignored, first instance counts",
			body: "version: STSv1\nmode: testing\nmode: enforce\nmax_age: 100\nmax_age: 200\nmx: mx.example.com\nx-note: héllo wörld\nfoo.bar_baz: 1\n",
			want: &Policy{Version: "STSv1", Mode: ModeTesting, MX: []string{"mx.example.com"}, MaxAge: 100},
		},
		{
			name: "leading zeros",
			body: "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 0000000100\n",
			want: &Policy{Version: "STSv1", Mode: ModeEnforce, MX: []string{"mx.example.com"}, MaxAge: 100},
		},
		{name: "empty", body: "", wantErr: "version is missing"},
		{name: "missing version", body: "mode: enforce\nmx: a.example.com\nmax_age: 1\n", wantErr: "version is missing"},
		{name: "missing mode", body: "version: STSv1\nmx: a.example.com\nmax_age: 1\n", wantErr: "mode is missing"},
		{name: "missing max_age", body: "version: STSv1\nmode: enforce\nmx: a.example.com\n", wantErr: "max_age is missing"},
		{name: "missing mx", body: "version: STSv1\nmode: enforce\nmax_age: 1\n", wantErr: "no mx; mode enforce needs"},
		{name: "missing mx testing", body: "version: STSv1\nmode: testing\nmax_age: 1\n", wantErr: "no mx; mode testing needs"},
		{name: "bad version", body: "version: STSv2\nmode: enforce\nmx: a.example.com\nmax_age: 1\n", wantErr: `line 1: version "STSv2"`},
		{name: "version case", body: "version: stsv1\nmode: enforce\nmx: a.example.com\nmax_age: 1\n", wantErr: "version"},
		{name: "bad mode", body: "version: STSv1\nmode: Enforce\nmx: a.example.com\nmax_age: 1\n", wantErr: `line 2: mode "Enforce"`},
		{name: "bad second mode", body: "version: STSv1\nmode: enforce\nmode: strict\nmx: a.example.com\nmax_age: 1\n", wantErr: `mode "strict"`},
		{name: "max_age too big", body: "version: STSv1\nmode: enforce\nmx: a.example.com\nmax_age: 31557601\n", wantErr: "max_age"},
		{name: "max_age 11 digits", body: "version: STSv1\nmode: enforce\nmx: a.example.com\nmax_age: 00000000001\n", wantErr: "max_age"},
		{name: "max_age negative", body: "version: STSv1\nmode: enforce\nmx: a.example.com\nmax_age: -1\n", wantErr: "max_age"},
		{name: "max_age plus", body: "version: STSv1\nmode: enforce\nmx: a.example.com\nmax_age: +1\n", wantErr: "max_age"},
		{name: "max_age empty", body: "version: STSv1\nmode: enforce\nmx: a.example.com\nmax_age:\n", wantErr: "max_age"},
		{name: "max_age unit", body: "version: STSv1\nmode: enforce\nmx: a.example.com\nmax_age: 1d\n", wantErr: "max_age"},
		{name: "no colon", body: "version: STSv1\nmode enforce\n", wantErr: "line 2: no colon"},
		{name: "space before colon", body: "version : STSv1\n", wantErr: "invalid field name"},
		{name: "html", body: "<html><body>hello: world</body></html>", wantErr: "invalid field name"},
		{name: "bad extension value", body: "version: STSv1\nx: a\x01b\n", wantErr: "field x: invalid value"},
		{name: "empty extension value", body: "version: STSv1\nx:\n", wantErr: "field x: invalid value"},
		{name: "mx empty", body: "version: STSv1\nmx:\n", wantErr: `mx "": empty`},
		{name: "mx underscore", body: "version: STSv1\nmx: mail_1.example.com\n", wantErr: "invalid character"},
		{name: "mx double wildcard", body: "version: STSv1\nmx: *.*.example.com\n", wantErr: "invalid character"},
		{name: "mx bare wildcard", body: "version: STSv1\nmx: *\n", wantErr: "invalid character"},
		{name: "mx unicode", body: "version: STSv1\nmx: bücher.example\n", wantErr: "A-labels"},
		{name: "mx hyphen", body: "version: STSv1\nmx: -mail.example.com\n", wantErr: "hyphen"},
		{name: "mx empty label", body: "version: STSv1\nmx: mail..example.com\n", wantErr: "empty label"},
		{name: "mx long label", body: "version: STSv1\nmx: " + strings.Repeat("a", 64) + ".com\n", wantErr: "longer than 63"},
		{name: "mx ip", body: "version: STSv1\nmx: [192.0.2.1]\n", wantErr: "invalid character"},
		{name: "bare CR", body: "version: STSv1\rmode: enforce\n", wantErr: "version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePolicy([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParsePolicy = %+v, %v; want error %q", p, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p, tt.want) {
				t.Errorf("ParsePolicy = %+v, want %+v", p, tt.want)
			}
			again, err := ParsePolicy([]byte(p.String()))
			if err != nil || !reflect.DeepEqual(again, p) {
				t.Errorf("round trip through %q: %+v, %v", p.String(), again, err)
			}
		})
	}
}

func TestPolicyMatches(t *testing.T) {
	p := &Policy{MX: []string{"mail.example.com", "*.example.net", "Backup.Example.ORG."}}
	tests := []struct {
		host string
		want bool
	}{
		{"mail.example.com", true},
		{"MAIL.EXAMPLE.COM", true},
		{"mail.example.com.", true},
		{"example.com", false},
		{"other.example.com", false},
		{"x.mail.example.com", false},
		{"mx1.example.net", true},
		{"MX1.Example.Net.", true},
		{"example.net", false},
		{".example.net", false},
		{"a.b.example.net", false},
		{"mx1.example.net.evil.com", false},
		{"mx1example.net", false},
		{"backup.example.org", true},
		{"", false},
		{".", false},
	}
	for _, tt := range tests {
		if got := p.Matches(tt.host); got != tt.want {
			t.Errorf("Matches(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
	if (&Policy{}).Matches("mail.example.com") {
		t.Error("a policy without mx matches")
	}
}
