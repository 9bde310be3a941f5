package tlsscan

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// requireOpenSSL returns the openssl binary, or skips the test when it is
// missing (fails instead when SMTPKIT_REQUIRE_PEERS=1, as in CI).
func requireOpenSSL(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("SMTPKIT_REQUIRE_PEERS") == "1" {
			t.Fatalf("openssl is required (SMTPKIT_REQUIRE_PEERS=1) but missing: %v", err)
		}
		t.Skipf("openssl not installed (apt-get install openssl): %v", err)
	}
	return path
}

// sServer starts `openssl s_server` on a free loopback port with args and
// returns a Dialer for it; the server is killed by PID when the test ends.
func sServer(t *testing.T, cert *rsaCert, args ...string) Dialer {
	t.Helper()
	bin := requireOpenSSL(t)
	for attempt := 0; attempt < 5; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		full := append([]string{"s_server", "-accept", addr, "-quiet", "-cert", cert.certFile, "-key", cert.keyFile}, args...)
		cmd := exec.Command(bin, full...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdin, err := cmd.StdinPipe() // held open: s_server must not see EOF
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start openssl s_server: %v", err)
		}
		exited := make(chan struct{})
		go func() {
			_ = cmd.Wait()
			close(exited)
		}()
		stop := func() {
			_ = cmd.Process.Kill()
			<-exited
			stdin.Close()
		}
		// Bounded wait for the port: 200 tries, 25 ms apart.
		for i := 0; i < 200; i++ {
			select {
			case <-exited:
				i = 200
				continue
			default:
			}
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				t.Cleanup(stop)
				t.Logf("openssl %s", strings.Join(full, " "))
				return dialTo(addr)
			}
			time.Sleep(25 * time.Millisecond)
		}
		stop()
		t.Logf("openssl s_server on %s did not start (attempt %d): %s", addr, attempt+1, stderr.String())
	}
	t.Fatal("openssl s_server never started")
	return nil
}

// opensslSuites lists the suites `openssl ciphers -V -s` reports for
// cipherString at version flag (e.g. -tls1) that an RSA-certificate
// server without PSK or SRP can negotiate: RSA, DHE-RSA, ECDHE-RSA and the
// anonymous ones.
func opensslSuites(t *testing.T, flag, cipherString string) []uint16 {
	t.Helper()
	out, err := exec.Command(requireOpenSSL(t), "ciphers", "-V", "-s", flag, cipherString).Output()
	if err != nil {
		t.Fatalf("openssl ciphers: %v", err)
	}
	var ids []uint16
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[3] == "TLSv1.3" {
			continue
		}
		kx, au := strings.TrimPrefix(f[4], "Kx="), strings.TrimPrefix(f[5], "Au=")
		if (au != "RSA" && au != "None") || (kx != "RSA" && kx != "DH" && kx != "ECDH") {
			continue
		}
		id, err := parseOpenSSLID(f[0])
		if err != nil {
			t.Fatalf("openssl ciphers line %q: %v", sc.Text(), err)
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func parseOpenSSLID(s string) (uint16, error) {
	hi, lo, ok := strings.Cut(s, ",")
	if !ok {
		return 0, fmt.Errorf("bad id %q", s)
	}
	a, err1 := strconv.ParseUint(hi, 0, 8)
	b, err2 := strconv.ParseUint(lo, 0, 8)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad id %q", s)
	}
	return uint16(a)<<8 | uint16(b), nil
}

const legacyCiphers = "ALL:eNULL:@SECLEVEL=0"

// TestAuditOpenSSLLegacy proves TLS 1.0 and 1.1 and the legacy suites
// this OpenSSL build still has (DHE, anonymous DH and ECDH, NULL,
// CAMELLIA; 3DES and RC4 only if compiled in) are found, exactly.
func TestAuditOpenSSLLegacy(t *testing.T) {
	cert := newRSACert(t)
	for _, tc := range []struct {
		flag    string
		version Version
	}{{"-tls1", TLS10}, {"-tls1_1", TLS11}} {
		t.Run(tc.version.String(), func(t *testing.T) {
			dial := sServer(t, cert, tc.flag, "-cipher", legacyCiphers)
			res := audit(t, dial, Options{})
			if got := res.Accepted(); !slices.Equal(got, []Version{tc.version}) {
				t.Fatalf("accepted %v, want [%s]", got, tc.version)
			}
			vr := res.Version(tc.version)
			want := opensslSuites(t, tc.flag, legacyCiphers)
			if got := suiteSet(vr); !slices.Equal(got, want) {
				t.Errorf("suites\n got %v\nwant %v", hexList(got), hexList(want))
			}
			var kinds []string
			for _, s := range vr.Suites {
				switch {
				case s.Null:
					kinds = append(kinds, "null")
				case s.Anonymous:
					kinds = append(kinds, "anon")
				case s.TripleDES:
					kinds = append(kinds, "3des")
				case s.RC4:
					kinds = append(kinds, "rc4")
				case s.Kx == KxDHE:
					kinds = append(kinds, "dhe")
					if s.DHBits < 1024 {
						t.Errorf("%s: dh_bits %d", s.Name, s.DHBits)
					}
					t.Logf("%s: %d-bit DH", s.Name, s.DHBits)
				}
			}
			for _, k := range []string{"null", "anon", "dhe"} {
				if !slices.Contains(kinds, k) {
					t.Errorf("no %s suite found", k)
				}
			}
			t.Logf("%s: %d suites, %d handshakes: %v", tc.version, len(vr.Suites), res.Handshakes, hexList(suiteSet(vr)))
		})
	}
}

// TestAuditOpenSSLOrder checks the preference order with -serverpref and
// the client order without it.
func TestAuditOpenSSLOrder(t *testing.T) {
	cert := newRSACert(t)
	order := []uint16{0x002F, 0x009F, 0xC013, 0x0034, 0xC02F}
	ciphers := "AES128-SHA:DHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-SHA:ADH-AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0"
	t.Run("server", func(t *testing.T) {
		dial := sServer(t, cert, "-tls1_2", "-serverpref", "-cipher", ciphers)
		vr := audit(t, dial, Options{Versions: []Version{TLS12}}).Version(TLS12)
		var got []uint16
		for _, s := range vr.Suites {
			got = append(got, s.ID)
		}
		if !slices.Equal(got, order) || vr.CipherOrder != OrderServer {
			t.Errorf("order %v (%s), want %v (server)", hexList(got), vr.CipherOrder, hexList(order))
		}
	})
	t.Run("client", func(t *testing.T) {
		dial := sServer(t, cert, "-tls1_2", "-cipher", ciphers)
		vr := audit(t, dial, Options{Versions: []Version{TLS12}}).Version(TLS12)
		if got := suiteSet(vr); !slices.Equal(got, sorted(order...)) || vr.CipherOrder != OrderClient {
			t.Errorf("suites %v (%s), want %v (client)", hexList(got), vr.CipherOrder, hexList(order))
		}
	})
}

// TestAuditOpenSSLTLS13Groups: a server without x25519 answers the
// audit's x25519 key share with a HelloRetryRequest, and only the groups
// it has are found, finite-field ones included.
func TestAuditOpenSSLTLS13Groups(t *testing.T) {
	cert := newRSACert(t)
	dial := sServer(t, cert, "-tls1_3", "-groups", "secp384r1:ffdhe2048",
		"-ciphersuites", "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256")
	res := audit(t, dial, Options{})
	if got := res.Accepted(); !slices.Equal(got, []Version{TLS13}) {
		t.Fatalf("accepted %v", got)
	}
	vr := res.Version(TLS13)
	if got := suiteSet(vr); !slices.Equal(got, []uint16{0x1302, 0x1303}) {
		t.Errorf("suites %v", hexList(got))
	}
	if got, want := groupIDs(vr.Groups), []uint16{GroupSecp384r1, GroupFFDHE2048}; !slices.Equal(got, want) {
		t.Errorf("groups %v, want %v", got, want)
	}
	for _, s := range vr.Suites {
		if s.Group == nil || s.Group.ID != GroupSecp384r1 {
			t.Errorf("%s: group %v, want secp384r1 from the retry request", s.Name, s.Group)
		}
	}
}
