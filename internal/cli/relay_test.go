package cli

import (
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/spool"
)

func TestRelayOutcomeExit(t *testing.T) {
	for _, c := range []struct {
		o    spool.Outcome
		want int
	}{
		{spool.Outcome{Status: spool.Delivered, Code: 250}, ExitOK},
		{spool.Outcome{Status: spool.Deferred, Code: 451, Enhanced: "4.3.0"}, ExitTempFail},
		{spool.Outcome{Status: spool.Deferred}, ExitTempFail},
		{spool.Outcome{Status: spool.Failed, Code: 550, Enhanced: "5.1.1"}, ExitNoUser},
		{spool.Outcome{Status: spool.Failed, Enhanced: "5.1.2"}, ExitNoHost},
		{spool.Outcome{Status: spool.Failed, Enhanced: "5.1.10"}, ExitNoHost},
		{spool.Outcome{Status: spool.Failed, Code: 550, Enhanced: "5.7.1"}, ExitNoPerm},
		{spool.Outcome{Status: spool.Failed, Code: 554, Enhanced: "5.6.0"}, ExitUnavailable},
		{spool.Outcome{Status: spool.Failed, Code: 554}, ExitUnavailable},
		{spool.Outcome{Status: spool.Failed, Enhanced: "4.4.7"}, ExitUnavailable}, // expired
	} {
		if got := relayOutcomeExit(c.o); got != c.want {
			t.Errorf("%+v: exit %d, want %d", c.o, got, c.want)
		}
	}
}

func TestParseRoutes(t *testing.T) {
	r, err := parseRoutes([]string{"Example.COM.=127.0.0.1:2525", " example.net = mx.example.org ", "*=[::1]:25"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"example.com": "127.0.0.1:2525", "example.net": "mx.example.org", "*": "[::1]:25"}
	if fmt.Sprint(r) != fmt.Sprint(want) {
		t.Errorf("routes %v, want %v", r, want)
	}
	for _, bad := range []string{"example.com", "=host", "example.com=", "example.com=host:0", "example.com=host:x", "example.com=:25"} {
		var ue *UsageError
		if _, err := parseRoutes([]string{bad}); !errors.As(err, &ue) {
			t.Errorf("%q: err %v, want a usage error", bad, err)
		}
	}
}

func TestParseRelayDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "5d": 120 * time.Hour, "1.5d": 36 * time.Hour, "90s": 90 * time.Second, "4000s": 4000 * time.Second, "1ms": time.Millisecond} {
		if got, err := parseRelayDuration("max-age", in); err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"5", "-1m", "d", "soon"} {
		if _, err := parseRelayDuration("max-age", bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestSpoolDir(t *testing.T) {
	env := func(kv map[string]string) *globals {
		return &globals{env: &Env{LookupEnv: func(k string) (string, bool) { v, ok := kv[k]; return v, ok }}}
	}
	o := &RelayOptions{}
	for _, c := range []struct {
		o    *RelayOptions
		env  map[string]string
		want string
	}{
		{&RelayOptions{Spool: "/flag"}, map[string]string{"SMTPKIT_SPOOL": "/env"}, "/flag"},
		{o, map[string]string{"SMTPKIT_SPOOL": "/env", "XDG_STATE_HOME": "/xdg"}, "/env"},
		{o, map[string]string{"XDG_STATE_HOME": "/xdg", "HOME": "/home/u"}, "/xdg/smtpkit/spool"},
		{o, map[string]string{"HOME": "/home/u"}, "/home/u/.local/state/smtpkit/spool"},
	} {
		got, err := c.o.spoolDir(env(c.env))
		if c.o.Spool == "" && c.env["SMTPKIT_SPOOL"] == "" && isRoot() {
			c.want = "/var/spool/smtpkit"
		}
		if err != nil || got != c.want {
			t.Errorf("%v: %q, %v; want %q", c.env, got, err, c.want)
		}
	}
}

func isRoot() bool { return os.Geteuid() == 0 }
