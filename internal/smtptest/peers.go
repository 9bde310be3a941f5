package smtptest

import "os"

// RequirePeers reports whether what a test needs from the machine (a peer
// program, a tmpfs mount) must be there: SMTPKIT_REQUIRE_PEERS=1, as CI
// sets. Then a test fails where it would otherwise skip.
func RequirePeers() bool { return os.Getenv("SMTPKIT_REQUIRE_PEERS") == "1" }
