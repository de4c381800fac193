//go:build linux && (amd64 || arm64)

package spool

import (
	"errors"
	"os"
	"syscall"
)

// mapFile maps the first n bytes of f shared and writable, however long f is
// now: a store to a page the file does not cover raises SIGBUS, so the caller
// stores only below what fallocate has given the file.
func mapFile(f *os.File, n int64) ([]byte, error) {
	return syscall.Mmap(int(f.Fd()), 0, int(n), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
}

// unmapFile removes a mapping made by mapFile.
func unmapFile(m []byte) error {
	return syscall.Munmap(m)
}

// fallocate allocates blocks for bytes off to off+n of f, growing the file
// to cover them, so that stores through a mapping never fault for want of a
// block (disk full, sparse file).
func fallocate(f *os.File, off, n int64) error {
	for {
		err := syscall.Fallocate(int(f.Fd()), 0, off, n)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// allocUnsupported reports whether err from fallocate says the filesystem
// cannot allocate ahead, rather than that it has no room.
func allocUnsupported(err error) bool {
	return errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EINVAL)
}

// noSpace reports whether err says the disk is full.
func noSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
