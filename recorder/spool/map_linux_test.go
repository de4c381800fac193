package spool

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"
)

// TestTmpfsFull appends until a small tmpfs is full: Append returns ENOSPC
// and the process does not die of SIGBUS. Mounting needs root.
func TestTmpfsFull(t *testing.T) {
	mapped(t)
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount tmpfs: %v", err)
		}
	})
	s := openTest(t, filepath.Join(dir, "spool"), nil)
	var last uint64
	for i := uint64(1); ; i++ {
		seq, err := s.Append(payload(i))
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil || i > 1<<20 {
			t.Fatalf("append %d: got %d, %v; want ENOSPC at some point", i, seq, err)
		}
		last = seq
	}
	t.Logf("tmpfs of 256 KiB full after %d records", last)
	if last < 256<<10/frameSize/2 {
		t.Errorf("only %d records fit in 256 KiB", last)
	}
	checkRecords(t, drain(t, s, 0), seqs(1, last))
}
