package tlspolicy

import (
	"crypto/x509"
	"os"
	"runtime"
	"sync"
)

// bundleFiles are the CA bundles of the common Unix systems, in the order
// crypto/x509 tries them (root_linux.go, root_bsd.go).
var bundleFiles = []string{
	"/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu, Gentoo, Arch
	"/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora, RHEL 6
	"/etc/ssl/ca-bundle.pem",                            // openSUSE
	"/etc/pki/tls/cacert.pem",                           // OpenELEC
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS, RHEL 7
	"/etc/ssl/cert.pem",                                 // Alpine, the BSDs
	"/usr/local/etc/ssl/cert.pem",                       // FreeBSD
}

// SystemRoots returns the system's trusted roots, loaded once per process.
//
// crypto/x509's SystemCertPool reads the CA bundle and then every file of
// /etc/ssl/certs as well (some 300 on Debian, the same certificates again
// as hashed links): about 26 ms of system calls here, more than a whole
// probe of a loopback server. Where a bundle file exists and neither
// SSL_CERT_FILE nor SSL_CERT_DIR is set, the bundle alone is read (about
// 2 ms); otherwise, and on systems with a platform verifier (macOS,
// Windows), this is x509.SystemCertPool. It returns nil when no roots can
// be loaded, which callers pass on as "use the system's".
func SystemRoots() *x509.CertPool {
	systemRoots.once.Do(func() { systemRoots.pool = loadSystemRoots() })
	return systemRoots.pool
}

var systemRoots struct {
	once sync.Once
	pool *x509.CertPool
}

func loadSystemRoots() *x509.CertPool {
	_, file := os.LookupEnv("SSL_CERT_FILE")
	_, dir := os.LookupEnv("SSL_CERT_DIR")
	if !file && !dir && runtime.GOOS != "darwin" && runtime.GOOS != "windows" && runtime.GOOS != "ios" {
		for _, f := range bundleFiles {
			pem, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			pool := x509.NewCertPool()
			if pool.AppendCertsFromPEM(pem) {
				return pool
			}
		}
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		return nil
	}
	return pool
}
