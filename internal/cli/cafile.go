package cli

import (
	"crypto/x509"
	"fmt"
	"os"

	"github.com/smtpkit/smtpkit/internal/config"
)

// loadCAFile reads --ca-file for send, probe, mx and relay: a missing or
// unreadable file is an input error (66), a file holding no PEM
// certificate a configuration error (78).
func loadCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, &config.Error{Msg: fmt.Sprintf("--ca-file %s: no PEM certificate found", path)}
	}
	return pool, nil
}
