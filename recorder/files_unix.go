//go:build unix

package recorder

import "syscall"

// raiseFileLimit raises the soft limit of open descriptors to the hard
// limit (Go's runtime does so too, on most systems) and returns it; 0 when
// it cannot be read.
func raiseFileLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	if rl.Cur < rl.Max {
		want := rl
		want.Cur = rl.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) == nil {
			rl = want
		}
	}
	return uint64(rl.Cur)
}
