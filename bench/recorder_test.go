package bench

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/schema"
)

func TestParseStop(t *testing.T) {
	log := `time=2026-11-24T14:52:48.912Z level=INFO msg="tap listening" addr=127.0.0.1:39999 gateway=janus
time=2026-11-24T14:52:55.912Z level=ERROR msg="event lost" part=tap event_id=x lost=1 err="spool full"
time=2026-11-24T14:52:55.912Z level=INFO msg="tap stopped" events=13513 lost=2 unpublished=7
`
	got, ok := parseStop(log)
	if want := (stopStats{Events: 13513, Lost: 2, Unpublished: 7}); !ok || got != want {
		t.Errorf("parseStop = %+v, %v; want %+v, true", got, ok, want)
	}
	if _, ok := parseStop("level=INFO msg=\"tap listening\"\n"); ok {
		t.Error("parseStop found a stop line in a log without one")
	}
}

// TestSQLiteWatch writes a real projection with recorder/store while the
// watch follows it, and checks that every row is seen, by transport, with
// the lag from the event's time.
func TestSQLiteWatch(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, DBFile)
	w := &sqliteWatch{path: path, log: slog.New(slog.DiscardHandler)}
	w.start()
	defer w.stop()
	if _, ok := w.applied(); ok {
		t.Fatal("the watch reports a projection before there is a file")
	}

	db := store.NewDB(path)
	db.Logger = slog.New(slog.DiscardHandler)
	if err := db.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	const age = 200 * time.Millisecond // how old each event is when applied
	var seq uint64
	apply := func(tr schema.Transport, n int) {
		t.Helper()
		var batch []store.Item
		for range n {
			seq++
			now := time.Now().Add(-age)
			ev := &schema.Event{V: schema.Version, ID: fmt.Sprintf("ev%04d", seq), Gateway: "bench", Conn: "c1",
				Seq: seq, Time: now, Transport: tr, Direction: schema.ToGateway, Kind: schema.Frame,
				Body: []byte(`{"janus":"keepalive","transaction":"t"}`)}
			batch = append(batch, store.Item{StreamSeq: seq, Event: ev})
		}
		if err := db.Apply(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
	}
	apply(schema.HTTP, 3)
	waitApplied(t, w, 3)
	apply(schema.WS, 5)
	apply(schema.HTTP, 2)
	waitApplied(t, w, 10)

	p := w.result()
	if !p.Found || p.Err != nil {
		t.Fatalf("result: found %v, err %v", p.Found, p.Err)
	}
	if got, want := p.Rows[HTTP], 5; got != want {
		t.Errorf("http rows = %d, want %d", got, want)
	}
	if got, want := p.Rows[WS], 5; got != want {
		t.Errorf("ws rows = %d, want %d", got, want)
	}
	for tr, lag := range p.Lag {
		for _, l := range lag {
			// The event is age old when applied; the watch sees the row at
			// most a few polls later.
			if l < age || l > age+10*time.Second {
				t.Errorf("%s lag %v, want at least %v", tr, l, age)
			}
		}
	}
}

func waitApplied(t *testing.T, w *sqliteWatch, want uint64) {
	t.Helper()
	janustest.WaitFor(t, 10*time.Second, func() error {
		if got, ok := w.applied(); !ok || got < want {
			return fmt.Errorf("watch at sequence %d (projection found: %v), want %d; err %v", got, ok, want, w.result().Err)
		}
		return nil
	})
}
