package store_test

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/janustap/janustap/recorder/store"
)

// TestConcurrentOpen opens one new file from two DBs at once, as serve's
// recorder and a reader (show, a test) may: both must succeed, and the
// migrations run once.
func TestConcurrentOpen(t *testing.T) {
	for i := range 20 {
		path := filepath.Join(t.TempDir(), "x.db")
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for k := range 2 {
			wg.Go(func() {
				db := store.NewDB(path)
				errs[k] = db.Open(t.Context())
				if errs[k] == nil {
					db.Close()
				}
			})
		}
		wg.Wait()
		for k, err := range errs {
			if err != nil {
				t.Fatalf("try %d: open %d: %v", i, k, err)
			}
		}
	}
}
