package store

// #include "walvfs.h"
import "C"

import (
	"fmt"
	"sync"
)

// walVFS is the name of the SQLite VFS of walvfs.c, which the writer's
// connection uses: it writes the frames of a WAL commit in a few large
// writes, where SQLite makes two system calls per frame.
const walVFS = "janustap-wal"

// registerWALVFS registers walVFS with SQLite, once per process: SQLite's
// list of VFSes is the process's, as the VFS's buffers are its files'.
var registerWALVFS = sync.OnceValue(func() error {
	// The name must outlive the VFS: it is never freed.
	if rc := C.janustap_walvfs_register(C.CString(walVFS)); rc != 0 {
		return fmt.Errorf("register SQLite VFS %s: error %d", walVFS, int(rc))
	}
	return nil
})

// walVFSStats returns how many WAL frames went through walVFS, and in how
// many writes.
func walVFSStats() (frames, writes int64) {
	var f, w C.sqlite3_int64
	C.janustap_walvfs_stats(&f, &w)
	return int64(f), int64(w)
}
