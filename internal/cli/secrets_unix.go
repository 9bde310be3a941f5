//go:build unix

package cli

import "syscall"

// noCoreDumps sets this process's core file size limit to zero, soft and
// hard, once it holds a secret (a password, an OAuth token, or the AUTH
// exchanges serve checks), so that a crash under GOTRACEBACK=crash or a
// signal never writes that memory to a core file (as ssh-agent and
// Dovecot's auth process keep themselves from dumping). A failure only
// means the limit stays as it was.
func noCoreDumps() {
	_ = syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{Cur: 0, Max: 0})
}
