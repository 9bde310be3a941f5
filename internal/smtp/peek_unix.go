//go:build unix

package smtp

import (
	"net"
	"syscall"
)

// peekNow reports, without blocking, whether the client has already sent
// bytes (MSG_PEEK|MSG_DONTWAIT leaves them in the socket).
func peekNow(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var n int
	buf := make([]byte, 1)
	_ = rc.Read(func(fd uintptr) bool {
		n, _, _ = syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true
	})
	return n > 0
}
