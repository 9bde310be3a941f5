//go:build !unix

package smtp

import "net"

// peekNow cannot look at the socket here; GreetDelay still works.
func peekNow(net.Conn) bool { return false }
