//go:build !unix

package tap

import "net"

// open cannot look without reading here: a dead connection shows when it
// is used.
func open(net.Conn) bool { return true }
