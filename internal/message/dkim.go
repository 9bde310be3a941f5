package message

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/dkim"
)

// DKIMOptions asks for a DKIM signature (RFC 6376) with relaxed/relaxed
// canonicalization and SHA-256, made by github.com/emersion/go-msgauth/dkim.
//
// Errors: an empty Domain or Selector, a key file that holds no usable
// private key, or a Headers list without From give a *ConfigError (exit 78);
// a missing or unreadable key file gives its *os.PathError, wrapped (exit 66);
// a message the signer cannot parse gives a *MessageError (exit 65).
type DKIMOptions struct {
	Domain   string // d=, the signing domain
	Selector string // s=; the key is published at <Selector>._domainkey.<Domain>
	// KeyPath is a PEM file with an RSA key (PKCS#1 "RSA PRIVATE KEY" or
	// PKCS#8 "PRIVATE KEY", at least 1024 bits: RFC 8301 3.2) or an Ed25519
	// key (PKCS#8, RFC 8463). Encrypted keys are not supported.
	KeyPath string
	// Headers lists the header fields to sign (h=); it must include From.
	// When nil, every field of RFC 6376 5.4.1's recommended list (plus
	// Message-ID, MIME-Version and the Content-* fields) that the message
	// holds is signed, and From once more than it occurs, so that no second
	// From can be added without breaking the signature (RFC 6376 8.15).
	Headers []string
	// Now is the signing time used to compute x= when Expire is set; zero
	// means the system clock. go-msgauth v0.7.0 stamps t= from the system
	// clock itself and offers no hook, so t= never follows Now.
	Now time.Time
	// Expire, when positive, adds x= = Now + Expire (RFC 6376 3.5).
	Expire time.Duration
}

// recommendedHeaders are signed by default: RFC 6376 5.4.1, plus the fields
// whose change would alter what the reader sees.
var recommendedHeaders = []string{
	"from", "reply-to", "subject", "date", "to", "cc",
	"resent-date", "resent-from", "resent-to", "resent-cc",
	"in-reply-to", "references",
	"list-id", "list-help", "list-unsubscribe", "list-subscribe",
	"list-post", "list-owner", "list-archive",
	"message-id", "mime-version", "content-type", "content-transfer-encoding",
}

// sign reads the content of p once through the DKIM signer and puts the
// DKIM-Signature field in front of it.
func (p *Prepared) sign(o *DKIMOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	key, err := LoadDKIMKey(o.KeyPath)
	if err != nil {
		return err
	}
	signer, err := dkim.NewSigner(o.signOptions(key, p.names))
	if err != nil {
		return &ConfigError{What: "dkim", Reason: strings.TrimPrefix(err.Error(), "dkim: ")}
	}
	r, err := p.Open()
	if err != nil {
		signer.Close()
		return err
	}
	er := &errReader{r: r}
	_, copyErr := io.CopyBuffer(signer, er, make([]byte, chunkSize))
	r.Close()
	signErr := signer.Close()
	if er.err != nil {
		// The content could not be read: report that, not the signer.
		return er.err
	}
	if signErr == nil {
		signErr = copyErr
	}
	if signErr != nil {
		return &MessageError{Source: "dkim", Reason: strings.TrimPrefix(signErr.Error(), "dkim: ")}
	}
	sig := signatureField(signer)
	prefix := make([]byte, 0, len(sig)+len(p.prefix))
	p.prefix = append(append(prefix, sig...), p.prefix...)
	p.Size += int64(len(sig))
	p.names = append([]string{"DKIM-Signature"}, p.names...)
	return nil
}

// check validates everything but the key.
func (o *DKIMOptions) check() error {
	if o.Domain == "" || strings.ContainsAny(o.Domain, " \t;=") {
		return &ConfigError{What: "dkim", Reason: fmt.Sprintf("invalid signing domain %q", o.Domain)}
	}
	if o.Selector == "" || strings.ContainsAny(o.Selector, " \t;=") {
		return &ConfigError{What: "dkim", Reason: fmt.Sprintf("invalid selector %q", o.Selector)}
	}
	if o.Headers != nil && !containsFold(o.Headers, "From") {
		// RFC 6376 5.4: "The From header field MUST be signed".
		return &ConfigError{What: "dkim", Reason: "the signed header list must include From"}
	}
	return nil
}

// signOptions are the go-msgauth options for a message whose header field
// names are names.
func (o *DKIMOptions) signOptions(key crypto.Signer, names []string) *dkim.SignOptions {
	keys := o.Headers
	if keys == nil {
		keys = defaultSignedHeaders(names)
	}
	so := &dkim.SignOptions{
		Domain:                 o.Domain,
		Selector:               o.Selector,
		Signer:                 key,
		Hash:                   crypto.SHA256,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             keys,
	}
	if o.Expire > 0 {
		now := o.Now
		if now.IsZero() {
			now = time.Now()
		}
		so.Expiration = now.Add(o.Expire)
	}
	return so
}

// signatureField is the signer's DKIM-Signature field, ending in CRLF.
func signatureField(signer *dkim.Signer) string {
	sig := signer.Signature()
	if !strings.HasSuffix(sig, "\r\n") {
		sig += "\r\n"
	}
	return sig
}

// DKIMSigner signs many messages with one key, as send --batch does for
// each row: the options are checked and the key is read once, by
// NewDKIMSigner, so each Sign costs one pass over the message and one
// signature. It is safe for concurrent use.
type DKIMSigner struct {
	o   DKIMOptions
	key crypto.Signer
}

// NewDKIMSigner checks o and loads its key. Its errors are those described
// on DKIMOptions for the options and the key file.
func NewDKIMSigner(o DKIMOptions) (*DKIMSigner, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	key, err := LoadDKIMKey(o.KeyPath)
	if err != nil {
		return nil, err
	}
	return &DKIMSigner{o: o, key: key}, nil
}

// Sign returns msg, a whole message in memory, with every line ending made
// CRLF (what goes on the wire, so what a verifier sees) and a
// DKIM-Signature field in front. The header fields signed are those of
// DKIMOptions.Headers, or by default the ones it describes. A message
// without a blank line after its header gets one. msg is not modified.
//
// A message without a header section, or one the signer cannot parse,
// gives a *MessageError.
func (s *DKIMSigner) Sign(msg []byte) ([]byte, error) {
	var c crlf
	norm := c.finish(c.add(make([]byte, 0, len(msg)+len(msg)/32+2), msg))
	hs, err := readHeaderSection(bufio.NewReader(bytes.NewReader(norm)), "message")
	if err != nil {
		return nil, err
	}
	if !hs.blank && len(hs.rest) == 0 {
		// As setHeader: the empty line that ends a header-only message.
		norm = append(norm, '\r', '\n')
	}
	names := make([]string, len(hs.fields))
	for i, f := range hs.fields {
		names[i] = f.name
	}
	signer, err := dkim.NewSigner(s.o.signOptions(s.key, names))
	if err != nil {
		return nil, &ConfigError{What: "dkim", Reason: strings.TrimPrefix(err.Error(), "dkim: ")}
	}
	// In chunks: go-msgauth copies each write whole through its pipe and
	// canonicalizers, which costs far more for one large write.
	_, werr := io.CopyBuffer(signer, bytes.NewReader(norm), make([]byte, chunkSize))
	if err := signer.Close(); err != nil || werr != nil {
		if err == nil {
			err = werr
		}
		return nil, &MessageError{Source: "dkim", Reason: strings.TrimPrefix(err.Error(), "dkim: ")}
	}
	sig := signatureField(signer)
	out := make([]byte, 0, len(sig)+len(norm))
	return append(append(out, sig...), norm...), nil
}

// defaultSignedHeaders picks from names, in order, the fields to sign.
func defaultSignedHeaders(names []string) []string {
	var keys []string
	for _, n := range names {
		if containsFold(recommendedHeaders, n) {
			keys = append(keys, n)
		}
	}
	return append(keys, "From")
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// LoadDKIMKey reads a PEM private key for DKIM signing from path: RSA in
// PKCS#1 or PKCS#8 of at least 1024 bits, or Ed25519 in PKCS#8. Other PEM
// blocks in the file (certificates, EC parameters) are skipped.
//
// A missing or unreadable file gives its *os.PathError, wrapped; a file with
// no usable key gives a *ConfigError such as
// `dkim key /etc/dkim.pem: not a PEM private key`.
func LoadDKIMKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dkim key: %w", err)
	}
	fail := func(reason string) (crypto.Signer, error) {
		return nil, &ConfigError{What: "dkim key " + path, Reason: reason}
	}
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return fail("not a PEM private key")
		}
		if strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") || block.Type == "ENCRYPTED PRIVATE KEY" {
			return fail("encrypted keys are not supported")
		}
		switch block.Type {
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return fail("bad PKCS#1 rsa key: " + trimX509(err))
			}
			return checkRSA(path, k)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return fail("bad PKCS#8 key: " + trimX509(err))
			}
			switch k := k.(type) {
			case *rsa.PrivateKey:
				return checkRSA(path, k)
			case ed25519.PrivateKey:
				return k, nil
			case *ecdsa.PrivateKey:
				return fail("ecdsa keys cannot sign DKIM (use rsa or ed25519)")
			default:
				return fail(fmt.Sprintf("unsupported key type %T (use rsa or ed25519)", k))
			}
		case "EC PRIVATE KEY":
			return fail("ecdsa keys cannot sign DKIM (use rsa or ed25519)")
		case "OPENSSH PRIVATE KEY":
			return fail("openssh key format is not supported (need PEM PKCS#1 or PKCS#8)")
		}
	}
}

// checkRSA enforces RFC 8301 3.2: "Signers MUST use RSA keys of at least
// 1024 bits".
func checkRSA(path string, k *rsa.PrivateKey) (crypto.Signer, error) {
	if bits := k.N.BitLen(); bits < 1024 {
		return nil, &ConfigError{
			What:   "dkim key " + path,
			Reason: fmt.Sprintf("rsa key of %d bits is too short (RFC 8301: at least 1024)", bits),
		}
	}
	return k, nil
}

func trimX509(err error) string {
	return strings.TrimPrefix(err.Error(), "x509: ")
}

// errReader remembers the first read error other than io.EOF.
type errReader struct {
	r   io.Reader
	err error
}

func (r *errReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}
