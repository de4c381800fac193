//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package lockfile

import "os"

// tryLock cannot lock on this platform (no flock(2)): every caller gets the
// lock, and nothing keeps two processes apart.
func tryLock(f *os.File) (held bool, err error) { return false, nil }
