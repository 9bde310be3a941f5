package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/cli"
)

// TestProbeAuditMatchesTestssl audits a throwaway Postfix smtpd twice, once
// as shipped and once deliberately weak (TLS 1.0 and 1.1, every cipher at
// OpenSSL security level 0), with `smtpkit probe --audit` and with
// `testssl -p -E`, and requires both to find the same protocol versions
// and the same cipher suites per version.
func TestProbeAuditMatchesTestssl(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: testssl takes minutes")
	}
	needPeer(t, "postfix")
	testssl := needPeer(t, "testssl")
	cases := []struct {
		name     string
		settings []string
		weak     bool
	}{
		{"modern", []string{"smtpd_tls_protocols = >=TLSv1.2"}, false},
		{"weak", []string{
			"smtpd_tls_protocols = >=TLSv1",
			"smtpd_tls_ciphers = low",
			"tls_low_cipherlist = ALL:@SECLEVEL=0",
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := openForPeers(dir); err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			h := harness{dir: dir, cleanup: t.Cleanup, logf: func(f string, a ...any) {
				mu.Lock()
				defer mu.Unlock()
				t.Logf(f, a...)
			}}
			pf, err := startPostfix(h, tc.settings...)
			if err != nil {
				t.Fatalf("postfix: %v", err)
			}
			kit, checks := smtpkitAudit(t, pf.addr)
			ts := testsslAudit(t, testssl, dir, pf.addr)
			kitVersions, tsVersions := sortedKeys(kit), sortedKeys(ts)
			if !slices.Equal(kitVersions, tsVersions) {
				t.Fatalf("accepted versions: smtpkit %v, testssl %v", kitVersions, tsVersions)
			}
			if tc.weak != slices.Contains(kitVersions, "TLS 1.0") {
				t.Errorf("weak=%v but accepted versions are %v", tc.weak, kitVersions)
			}
			// The checks follow: TLS 1.0 accepted is tls-version-old.
			if tc.weak != slices.Contains(checks, "tls-version-old") {
				t.Errorf("weak=%v but checks are %v", tc.weak, checks)
			}
			for _, v := range kitVersions {
				a, b := kit[v], ts[v]
				slices.Sort(a)
				slices.Sort(b)
				if !slices.Equal(a, b) {
					t.Errorf("%s suites differ:\n smtpkit %v\n testssl %v", v, a, b)
				}
			}
			t.Logf("agreed on %v with %d suites", kitVersions, countSuites(kit))
		})
	}
}

func sortedKeys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func countSuites(m map[string][]string) int {
	n := 0
	for _, s := range m {
		n += len(s)
	}
	return n
}

// smtpkitAudit runs `smtpkit probe --audit --format json` in process and
// returns version -> suite code points ("c02b"), and the check ids.
func smtpkitAudit(t *testing.T, addr string) (map[string][]string, []string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &cli.Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut,
		LookupEnv: func(string) (string, bool) { return "", false },
		Dialer:    &net.Dialer{}, Now: time.Now, Hostname: func() (string, error) { return "probe.test", nil },
	}
	code := cli.Run(context.Background(), env, []string{"probe", addr, "--audit", "--format", "json", "--timeout", "20s"})
	if code != 0 && code != 1 {
		t.Fatalf("smtpkit probe exited %d: %s", code, errOut.String())
	}
	var reports []struct {
		Audit *struct {
			Versions []struct {
				Version  string `json:"version"`
				Accepted bool   `json:"accepted"`
				Suites   []struct {
					ID uint16 `json:"id"`
				} `json:"suites"`
			} `json:"versions"`
			Errors []string `json:"errors"`
		} `json:"audit"`
		Checks []struct {
			ID string `json:"id"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(out.Bytes(), &reports); err != nil || len(reports) != 1 || reports[0].Audit == nil {
		t.Fatalf("smtpkit probe output: %v\n%s", err, out.String())
	}
	a := reports[0].Audit
	if len(a.Errors) > 0 {
		t.Fatalf("smtpkit audit incomplete: %v", a.Errors)
	}
	var checks []string
	for _, c := range reports[0].Checks {
		checks = append(checks, c.ID)
	}
	m := map[string][]string{}
	for _, v := range a.Versions {
		if !v.Accepted {
			continue
		}
		m[v.Version] = []string{}
		for _, s := range v.Suites {
			m[v.Version] = append(m[v.Version], fmt.Sprintf("%04x", s.ID))
		}
	}
	return m, checks
}

// testsslAudit runs `testssl -t smtp -p -E --jsonfile` and returns version
// -> suite code points, from the ids testssl writes ("TLS1_2" offered,
// "cipher-tls1_2_xc02b").
func testsslAudit(t *testing.T, testssl, dir, addr string) map[string][]string {
	t.Helper()
	jf := filepath.Join(dir, "testssl.json")
	cmd := exec.Command(testssl, "--quiet", "--color", "0", "--warnings", "off", "-t", "smtp", "-p", "-E", "--jsonfile", jf, addr)
	cmd.Env = append(os.Environ(), "TERM=dumb")
	if out, err := cmd.CombinedOutput(); err != nil {
		// testssl's exit status counts findings; only a missing file fails.
		if _, serr := os.Stat(jf); serr != nil {
			t.Fatalf("testssl: %v\n%s", err, out)
		}
	}
	data, err := os.ReadFile(jf)
	if err != nil {
		t.Fatal(err)
	}
	var entries []struct {
		ID      string `json:"id"`
		Finding string `json:"finding"`
	}
	if err := json.Unmarshal(data, &entries); err != nil {
		t.Fatalf("testssl json: %v", err)
	}
	names := map[string]string{"SSLv3": "SSLv3", "TLS1": "TLS 1.0", "TLS1_1": "TLS 1.1", "TLS1_2": "TLS 1.2", "TLS1_3": "TLS 1.3"}
	ids := map[string]string{"ssl3": "SSLv3", "tls1": "TLS 1.0", "tls1_1": "TLS 1.1", "tls1_2": "TLS 1.2", "tls1_3": "TLS 1.3"}
	m := map[string][]string{}
	for _, e := range entries {
		if v, ok := names[e.ID]; ok && strings.HasPrefix(e.Finding, "offered") {
			if m[v] == nil {
				m[v] = []string{}
			}
			continue
		}
		rest, ok := strings.CutPrefix(e.ID, "cipher-")
		if !ok {
			continue
		}
		i := strings.LastIndex(rest, "_x")
		if i < 0 {
			continue
		}
		v, ok := ids[rest[:i]]
		if !ok {
			continue
		}
		code, err := strconv.ParseUint(rest[i+2:], 16, 16)
		if err != nil {
			t.Fatalf("testssl cipher id %q", e.ID)
		}
		m[v] = append(m[v], fmt.Sprintf("%04x", code))
	}
	if len(m) == 0 {
		t.Fatalf("testssl found no TLS version at all:\n%s", data)
	}
	return m
}
