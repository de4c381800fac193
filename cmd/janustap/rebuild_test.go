package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/janustap/janustap/recorder/bus"
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

// TestRebuildRefusedWhileServeRuns runs serve (recording into its data
// directory) and checks that a rebuild of its database, a record on it and
// a second serve on the same data directory or database are refused, each
// naming serve and its pid; once serve stops, the rebuild goes through.
func TestRebuildRefusedWhileServeRuns(t *testing.T) {
	srv := bustest.Start(t)
	data := t.TempDir()
	stop := startServe(t, srv.ClientURL(), "--data", data)

	db := filepath.Join(data, "janustap.db")
	held := fmt.Sprintf("held by janustap serve (pid %d)", os.Getpid())
	for _, args := range [][]string{
		{"rebuild", "--nats", srv.ClientURL(), "--data", data},
		{"record", "--nats", srv.ClientURL(), "--data", data},
		{"serve", "--nats", srv.ClientURL(), "--data", data, "--listen", "127.0.0.1:0"},
		{"serve", "--nats", srv.ClientURL(), "--data", t.TempDir(), "--db", db, "--listen", "127.0.0.1:0"},
	} {
		_, stderr, err := runCmd(t, args...)
		if err == nil || !strings.Contains(err.Error(), held) {
			t.Errorf("%v while serve runs: err %v, want one containing %q\n%s", args, err, held, stderr)
		}
	}

	stop()
	if got := mustRun(t, "rebuild", "--nats", srv.ClientURL(), "--data", data); !strings.Contains(got, "rebuilt "+db) {
		t.Errorf("rebuild after serve stopped printed %q", got)
	}
}

// startServe runs serve with the external NATS at url and args until the
// returned function is called, and returns once serve has created the event
// stream (and so holds its locks).
func startServe(t *testing.T, url string, args ...string) (stop func()) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	created := make(chan *nats.Msg, 1)
	if _, err := nc.ChanSubscribe("$JS.EVENT.ADVISORY.STREAM.CREATED."+bus.DefaultStream, created); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	var out, errw bytes.Buffer
	go func() {
		done <- newApp(&out, &errw).RunContext(ctx, append([]string{"janustap", "--log-level", "warn", "serve",
			"--listen", "127.0.0.1:0", "--nats", url}, args...))
	}()
	select {
	case <-created:
	case err := <-done:
		cancel()
		t.Fatalf("serve returned before creating the stream: %v\n%s", err, errw.String())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("no stream created by serve in 30 s\n%s", errw.String())
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v\n%s", err, errw.String())
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
