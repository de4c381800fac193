package spool

import (
	"fmt"
	"os"
)

// unlockDir releases a lock taken by lockDir.
func unlockDir(f *os.File) error {
	if f == nil {
		return nil
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("unlock directory: %w", err)
	}
	return nil
}
