//go:build !unix

package recorder

// raiseFileLimit cannot read the descriptor limit on this platform: 0.
func raiseFileLimit() uint64 { return 0 }
