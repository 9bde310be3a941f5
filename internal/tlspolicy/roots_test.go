package tlspolicy

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
)

// TestSystemRootsMatchesX509 checks that the bundle alone holds every
// certificate crypto/x509 would add from the certificate directory: it
// rebuilds x509's pool (the bundle, then every file of /etc/ssl/certs) and
// compares the two sets (Debian's snakeoil certificate aside).
func TestSystemRootsMatchesX509(t *testing.T) {
	got := loadSystemRoots()
	if got == nil {
		t.Skip("no system roots here")
	}
	bundle, err := os.ReadFile(bundleFiles[0])
	if err != nil {
		t.Skipf("no %s here", bundleFiles[0])
	}
	bundlePool := x509.NewCertPool()
	if !bundlePool.AppendCertsFromPEM(bundle) {
		t.Fatalf("%s holds no certificate", bundleFiles[0])
	}
	full := x509.NewCertPool()
	full.AppendCertsFromPEM(bundle)
	entries, err := os.ReadDir("/etc/ssl/certs")
	if err != nil {
		t.Skip(err)
	}
	for _, e := range entries {
		// Debian's ssl-cert package drops the host's self-signed
		// "snakeoil" certificate there; crypto/x509 then trusts it as a
		// root, which SystemRoots deliberately does not.
		path := filepath.Join("/etc/ssl/certs", e.Name())
		if real, err := filepath.EvalSymlinks(path); err == nil && filepath.Base(real) == "ssl-cert-snakeoil.pem" {
			continue
		}
		if data, err := os.ReadFile(path); err == nil {
			full.AppendCertsFromPEM(data)
		}
	}
	if !bundlePool.Equal(full) {
		t.Errorf("the certificate directory adds roots the bundle lacks")
	}
	first := SystemRoots()
	if again := SystemRoots(); again != first {
		t.Error("SystemRoots is not loaded once")
	}
}
