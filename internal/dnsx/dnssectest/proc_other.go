//go:build !unix

package dnssectest

import (
	"os"
	"os/exec"
)

// newGroup does nothing where there are no process groups; unbound and
// nsd, the servers this package starts, run on Unix only.
func newGroup(*exec.Cmd) {}

// stopGroup kills p.
func stopGroup(p *os.Process, exited <-chan struct{}) {
	_ = p.Kill()
	<-exited
}
