//go:build !linux

package recorder

import "runtime"

// lowerThreadPriority locks the calling goroutine to its OS thread; only
// Linux sets a priority per thread, so elsewhere the thread keeps the
// process's.
func lowerThreadPriority(nice int) error {
	runtime.LockOSThread()
	return nil
}
