//go:build !unix

package cli

import "os"

// statsSignals: no SIGUSR1 here, so no stats line on a signal.
var statsSignals []os.Signal
