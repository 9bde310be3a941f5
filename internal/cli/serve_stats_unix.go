//go:build unix

package cli

import (
	"os"
	"syscall"
)

// statsSignals make serve log its stats line.
var statsSignals = []os.Signal{syscall.SIGUSR1}
