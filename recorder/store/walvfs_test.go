package store

import (
	"path/filepath"
	"testing"
)

// TestWALFramesCoalesced checks that the writer's WAL frames go to the file
// in a few writes (walvfs.c), not in two writes per frame as SQLite makes
// them.
func TestWALFramesCoalesced(t *testing.T) {
	db := openDB(t)
	g := newTraffic(50)
	defer g.stop()
	for _, size := range []int{1000, 60, 1} {
		f0, w0 := walVFSStats()
		apply(t, db, g.next(size))
		f1, w1 := walVFSStats()
		frames, writes := f1-f0, w1-w0
		if frames == 0 {
			t.Fatalf("batch of %d: no WAL frame went through %s", size, walVFS)
		}
		// A commit ends with a write of its own; 31 frames fit in a write.
		if most := frames/16 + 1; writes > most {
			t.Errorf("batch of %d: %d frames in %d writes, want at most %d", size, frames, writes, most)
		}
		t.Logf("batch of %d: %d frames in %d writes", size, frames, writes)
	}
}

// TestWALCommitsVisible applies batches of several sizes (some fill the
// VFS's buffer many times, some do not fill it once) and reads after each
// from another DB on the same file, as another process (janustap show)
// would: every commit is there, whole.
func TestWALCommitsVisible(t *testing.T) {
	path := filepath.Join(t.TempDir(), "janustap.db")
	w, r := openPath(t, path), openPath(t, path)
	g := newTraffic(30)
	defer g.stop()
	events := 0
	for i, size := range []int{1, 60, 1000, 7, 3000, 2, 500} {
		apply(t, w, g.next(size))
		events += size
		last, err := r.LastSeq(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		c, err := r.Count(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if last != uint64(events) || c.Events != events {
			t.Errorf("after batch %d (%d events): the other DB reads last_seq %d and %d events, want %d", i, size, last, c.Events, events)
		}
		var check string
		if err := r.r.QueryRowContext(t.Context(), "PRAGMA quick_check").Scan(&check); err != nil {
			t.Fatal(err)
		}
		if check != "ok" {
			t.Errorf("after batch %d: quick_check says %s", i, check)
		}
	}
}
