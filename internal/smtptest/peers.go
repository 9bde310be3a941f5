package smtptest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// RequirePeers reports whether what a test needs from the machine (a peer
// program, a tmpfs mount) must be there: SMTPKIT_REQUIRE_PEERS=1, as CI
// sets. Then a test fails where it would otherwise skip.
func RequirePeers() bool { return os.Getenv("SMTPKIT_REQUIRE_PEERS") == "1" }

// LookProgram finds a peer program on PATH or in the system directories a
// non-root PATH often lacks (postfix, smtp-sink, nsd and unbound live in
// /usr/sbin).
func LookProgram(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH or in /usr/sbin", name)
}
