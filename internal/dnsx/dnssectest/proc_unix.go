//go:build unix

package dnssectest

import (
	"os"
	"os/exec"
	"syscall"
	"time"
)

// newGroup makes cmd lead a process group of its own (nsd forks helpers).
func newGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// stopGroup ends the process group p leads, politely first.
func stopGroup(p *os.Process, exited <-chan struct{}) {
	_ = syscall.Kill(-p.Pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(stopGrace):
		_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
		<-exited
	}
	// Helpers may outlive the leader for a moment.
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
}
