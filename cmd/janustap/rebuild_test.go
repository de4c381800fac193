package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/janustap/janustap/recorder/bus/bustest"
	"github.com/janustap/janustap/recorder/store"
)

// TestRebuild imports a real capture into a log, rebuilds a database from
// it with the command, and compares it row by row with one projected
// directly from the same events; then rebuilds over an existing file.
func TestRebuild(t *testing.T) {
	c := captureEcho(t)
	srv := bustest.Start(t)
	capFile := filepath.Join(t.TempDir(), "capture.jsonl")
	if err := os.WriteFile(capFile, encodeAll(t, c.events), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "import", "--nats", srv.ClientURL(), capFile)

	out := filepath.Join(t.TempDir(), "rebuilt.db")
	if err := os.WriteFile(out, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := mustRun(t, "rebuild", "--nats", srv.ClientURL(), "--out", out)
	if !strings.Contains(got, "rebuilt "+out) {
		t.Fatalf("rebuild printed %q", got)
	}
	a, b := store.NewDB(c.db), store.NewDB(out)
	for _, db := range []*store.DB{a, b} {
		if err := db.Open(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer db.Close()
	}
	if err := store.Equal(t.Context(), a, b); err != nil {
		t.Fatalf("rebuilt database differs from the projection of the same events: %v", err)
	}
	matches, _ := filepath.Glob(out + ".rebuild-*")
	if len(matches) != 0 {
		t.Errorf("rebuild left %v behind", matches)
	}
}
