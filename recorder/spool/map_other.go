//go:build !(linux && (amd64 || arm64))

package spool

import (
	"errors"
	"os"
)

// Shared mappings are used only on Linux, where the page cache is one with
// the mapping, and on amd64 and arm64, where the 4-byte stores of a frame's
// length and CRC are single instructions (see copyFrame). Elsewhere Append
// writes with write(2).

func mapFile(*os.File, int64) ([]byte, error) { return nil, errors.ErrUnsupported }

func unmapFile([]byte) error { return errors.ErrUnsupported }

func fallocate(*os.File, int64, int64) error { return errors.ErrUnsupported }

func allocUnsupported(err error) bool { return errors.Is(err, errors.ErrUnsupported) }

func noSpace(error) bool { return false }
