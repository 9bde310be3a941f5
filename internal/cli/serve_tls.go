package cli

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/smtpkit/smtpkit/internal/certgen"
	"github.com/smtpkit/smtpkit/internal/config"
	"github.com/smtpkit/smtpkit/internal/smtp"
)

// selfSigned makes a throwaway certificate for host (plus localhost and the
// loopback addresses) and returns it with the SHA-256 fingerprint of its
// DER encoding.
func selfSigned(host string, now time.Time) (tls.Certificate, string, error) {
	ch, err := certgen.SelfSigned(certgen.Request{
		Hosts:     []string{host, "localhost", "127.0.0.1", "::1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
	})
	if err != nil {
		return tls.Certificate{}, "", err
	}
	sum := sha256.Sum256(ch.Leaf.Raw)
	return ch.TLSCertificate(), fingerprint(sum[:]), nil
}

func fingerprint(b []byte) string {
	h := strings.ToUpper(hex.EncodeToString(b))
	var out strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			out.WriteByte(':')
		}
		out.WriteString(h[i : i+2])
	}
	return out.String()
}

// htpasswd checks users against an htpasswd-style file of bcrypt hashes
// ("user:$2y$..."). Unknown users cost the same bcrypt comparison as known
// ones, so timing does not tell them apart.
type htpasswd struct {
	users map[string][]byte
	dummy []byte
}

var errBadCredentials = errors.New("bad credentials")

func loadHtpasswd(path string) (*htpasswd, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--auth-users: %w", err)
	}
	defer f.Close()
	h := &htpasswd{users: map[string][]byte{}}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, &config.Error{Path: path, Line: n, Msg: "want user:bcrypt-hash"}
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, &config.Error{Path: path, Line: n, Msg: fmt.Sprintf("user %q: not a bcrypt hash (make one with htpasswd -B)", user)}
		}
		h.users[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--auth-users: %w", err)
	}
	if len(h.users) == 0 {
		return nil, &config.Error{Path: path, Msg: "no users"}
	}
	for _, hash := range h.users {
		h.dummy = hash
		break
	}
	return h, nil
}

func (h *htpasswd) check(_ *smtp.ConnState, user, pass string) error {
	hash, ok := h.users[user]
	if !ok {
		hash = h.dummy
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(pass))
	if subtle.ConstantTimeEq(boolInt(ok), 1) == 1 && err == nil {
		return nil
	}
	return errBadCredentials
}

func boolInt(b bool) int32 {
	if b {
		return 1
	}
	return 0
}
