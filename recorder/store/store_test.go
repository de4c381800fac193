package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/schema"
	"github.com/janustap/janustap/schema/golden"
)

// lineDiff shows the first lines where want and got differ.
func lineDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var lw, lg string
		if i < len(w) {
			lw = w[i]
		}
		if i < len(g) {
			lg = g[i]
		}
		if lw != lg {
			fmt.Fprintf(&b, "line %d:\n- %s\n+ %s\n", i+1, lw, lg)
			shown++
		}
	}
	return b.String()
}

// openDB opens a new store in a temporary directory, closed when the test
// ends.
func openDB(t testing.TB) *DB {
	t.Helper()
	return openPath(t, filepath.Join(t.TempDir(), "janustap.db"))
}

func openPath(t testing.TB, path string) *DB {
	t.Helper()
	db := NewDB(path)
	db.Logger = slog.New(slog.DiscardHandler)
	if err := db.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

func apply(t testing.TB, db *DB, batch []Item) {
	t.Helper()
	if err := db.Apply(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
}

func dump(t testing.TB, db *DB) string {
	t.Helper()
	var b bytes.Buffer
	if err := db.Dump(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestOpen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "sub", "janustap.db")
	db := NewDB(path)
	db.Logger = slog.New(slog.DiscardHandler)
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Mode().Perm(), os.FileMode(0o600); got != want {
		t.Errorf("database file mode %v, want %v", got, want)
	}
	var mode, sync string
	var version int
	if err := db.r.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := db.w.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if err := db.r.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || sync != "1" || version != SchemaVersion() || version == 0 {
		t.Errorf("journal_mode %s, synchronous %s, user_version %d; want wal, 1 (NORMAL), %d", mode, sync, version, SchemaVersion())
	}
	if _, err := db.r.ExecContext(ctx, "DELETE FROM events"); err == nil {
		t.Error("the read pool accepted a write")
	}
	if seq, err := db.LastSeq(ctx); err != nil || seq != 0 {
		t.Errorf("LastSeq of a new store = %d, %v; want 0", seq, err)
	}
	if _, err := db.w.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion()+1)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	newer := NewDB(path)
	newer.Logger = slog.New(slog.DiscardHandler)
	if err := newer.Open(ctx); !errors.Is(err, ErrNewerSchema) {
		newer.Close()
		t.Fatalf("Open of a newer schema: %v, want ErrNewerSchema", err)
	}
	if err := newer.Close(); err != nil {
		t.Error(err)
	}
}

// TestCheckpointInterval checks that the checkpointer runs at most once per
// CheckpointInterval however many batches are applied, and that it runs
// after the last one.
func TestCheckpointInterval(t *testing.T) {
	ctx := t.Context()
	all := items(1, newScenario().events)
	for _, tc := range []struct {
		name     string
		interval time.Duration
		most     int64 // checkpoints at most after the batches
	}{
		{"hour", time.Hour, 1},            // the first batch's checkpoint runs at once
		{"none", -1, int64(len(all) / 3)}, // one per batch
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := NewDB(filepath.Join(t.TempDir(), "janustap.db"))
			db.Logger = slog.New(slog.DiscardHandler)
			db.CheckpointInterval = tc.interval
			if err := db.Open(ctx); err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for start := 0; start+3 <= len(all); start += 3 {
				apply(t, db, all[start:start+3])
			}
			if n := db.checkpoints.Load(); n > tc.most {
				t.Errorf("%d checkpoints after %d batches, want at most %d", n, len(all)/3, tc.most)
			}
			// The checkpointer runs after the last batch: the first
			// checkpoint, or, with no interval, the last one asked for.
			janustest.WaitFor(t, 10*time.Second, func() error {
				if db.checkpoints.Load() == 0 {
					return errors.New("no checkpoint after the batches")
				}
				return nil
			})
		})
	}
}

// TestMigrationEventsBodyFromRaw opens a database of schema version 1 that
// holds a projection, with the body of each event in its own column: Open
// migrates it, and it then holds exactly the rows that a new database
// projects from the same events.
func TestMigrationEventsBodyFromRaw(t *testing.T) {
	ctx := t.Context()
	all := items(1, newScenario().events)
	fresh := openDB(t)
	apply(t, fresh, all)

	path := filepath.Join(t.TempDir(), "v1.db")
	old, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := old.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
	}
	exec(ms[0].sql)
	exec("PRAGMA user_version = 1")
	exec("ATTACH DATABASE ? AS fresh", fresh.Path)
	exec("DELETE FROM progress")
	for _, table := range []string{"progress", "gateways", "sessions", "transactions"} {
		exec("INSERT INTO main." + table + " SELECT * FROM fresh." + table)
	}
	// handles as of version 1: migration 4 added room and display.
	v1HandleCols := strings.TrimSuffix(handleCols, ", room, display")
	exec("INSERT INTO main.handles (" + v1HandleCols + ") SELECT " + v1HandleCols + " FROM fresh.handles")
	exec("INSERT INTO main.events (" + eventCols + ") SELECT " + eventCols + " FROM fresh.events")
	exec("DETACH DATABASE fresh")
	bodies := 0
	for _, it := range all {
		if len(it.Event.Body) > 0 {
			exec("UPDATE events SET body = ? WHERE stream_seq = ?", it.Event.Body, int64(it.StreamSeq))
			bodies++
		}
	}
	if bodies == 0 {
		t.Fatal("the scenario has no bodies")
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	db := openPath(t, path)
	// Migration 4 leaves room and display NULL on the handles stored
	// before it (a rebuild fills them): the fresh projection without them
	// is what the migrated one holds.
	res, err := fresh.w.ExecContext(ctx, "UPDATE handles SET room = NULL, display = NULL WHERE room IS NOT NULL OR display IS NOT NULL")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.Error("the scenario has no handle with a room or display name")
	}
	if err := Equal(ctx, fresh, db); err != nil {
		t.Error(err)
	}
}

func TestScenario(t *testing.T) {
	ctx := t.Context()
	sc := newScenario()
	db := openDB(t)
	apply(t, db, items(1, sc.events))

	sessions, err := db.Sessions(ctx, SessionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[uint64]SessionRow{}
	for _, s := range sessions {
		byID[s.ID] = s
	}
	if got, want := len(sessions), 5; got != want {
		t.Fatalf("%d sessions, want %d: %+v", got, want, sessions)
	}
	for _, id := range []uint64{999, 888, 123} {
		if _, ok := byID[id]; ok {
			t.Errorf("session %d exists; only admin requests or errors named it", id)
		}
	}

	t.Run("http", func(t *testing.T) {
		s := byID[sc.s1]
		if s.Transport != schema.HTTP || s.Ended != EndDestroyed || s.DestroyedAt.IsZero() || s.EndedAt != s.DestroyedAt ||
			s.CreatedAt.IsZero() || s.Handles != 1 || s.Errors != 1 || !slices.Equal(s.Plugins, []string{echotest}) {
			t.Errorf("session 1: %+v", s)
		}
		if got, want := s.CreatedAt, t0.Add(2*time.Millisecond); !got.Equal(want) {
			t.Errorf("session 1 created at %v, want %v", got, want)
		}
		d, err := db.Session(ctx, "gw1", sc.s1)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Handles) != 1 {
			t.Fatalf("session 1 handles: %+v", d.Handles)
		}
		h := d.Handles[0]
		if h.ID != sc.h1 || h.Plugin != echotest || h.OpaqueID != "echo-A" || h.AttachedAt.IsZero() ||
			h.WebRTCUpAt.IsZero() || h.HangupReason != "Janus API" || h.HangupAt.IsZero() || h.Media != 2 ||
			h.DetachedAt.IsZero() {
			t.Errorf("handle 1: %+v", h)
		}
		verbs := map[string]TransactionRow{}
		for _, tr := range d.Transactions {
			verbs[tr.Transaction] = tr
		}
		for _, tc := range []struct {
			tx, janus, reply, result string
			replyUS, eventUS         time.Duration
			events                   int
		}{
			{"c1", "create", "success", "success", 2 * time.Millisecond, 0, 0},
			{"a1", "attach", "success", "success", 3 * time.Millisecond, 0, 0},
			{"m1", "message", "ack", "event", time.Millisecond, 11 * time.Millisecond, 1},
			{"t1", "trickle", "ack", "", time.Millisecond, 0, 0},
			{"m2", "message", "ack", "event", 5 * time.Millisecond, 4 * time.Millisecond, 1}, // event before ack
			{"k9", "keepalive", "failure", "error", time.Millisecond, 0, 0},
			{"hu1", "hangup", "success", "success", time.Millisecond, 0, 0},
			{"d1", "detach", "success", "success", time.Millisecond, 0, 0},
			{"x1", "destroy", "success", "success", time.Millisecond, 0, 0},
		} {
			tr, ok := verbs[tc.tx]
			if !ok {
				t.Errorf("no transaction %s in session 1", tc.tx)
				continue
			}
			if tr.Janus != tc.janus || tr.Reply != tc.reply || tr.Result != tc.result ||
				tr.ReplyLatency != tc.replyUS || tr.EventLatency != tc.eventUS || tr.Events != tc.events {
				t.Errorf("transaction %s: %+v\nwant %+v", tc.tx, tr, tc)
			}
		}
		if m1 := verbs["m1"]; m1.Plugin != echotest || m1.JSEP != "offer" || m1.HandleID != sc.h1 || m1.AckAt.IsZero() {
			t.Errorf("transaction m1: %+v", m1)
		}
		if a1 := verbs["a1"]; a1.HandleID != sc.h1 || a1.Plugin != echotest || a1.OpaqueID != "echo-A" {
			t.Errorf("transaction a1: %+v", a1)
		}
		if k9 := verbs["k9"]; !strings.Contains(k9.ErrorReason, "unreachable") {
			t.Errorf("transaction k9: %+v", k9)
		}
	})

	t.Run("ws", func(t *testing.T) {
		s := byID[sc.s2]
		if s.Transport != schema.WS || s.Ended != EndWSClosed || s.EndedAt.IsZero() || !s.DestroyedAt.IsZero() ||
			s.Errors != 2 || s.Handles != 1 || s.Conn != s.SourceConn {
			t.Errorf("session 2: %+v", s)
		}
		txs, err := db.Transaction(ctx, "gw1", "j1")
		if err != nil {
			t.Fatal(err)
		}
		if len(txs) != 1 {
			t.Fatalf("%d transactions j1", len(txs))
		}
		j1 := txs[0]
		tr := j1.Transaction
		if tr.Result != "event" || tr.Reply != "ack" || tr.Events != 1 || !tr.ResultAt.Before(tr.AckAt) ||
			tr.EventLatency != 5*time.Millisecond || tr.ReplyLatency != 6*time.Millisecond || tr.PluginRequest != "join" {
			t.Errorf("j1, event before ack: %+v", tr)
		}
		if j1.Request.Janus != "message" || len(j1.Replies) != 1 || j1.Replies[0].Janus != "ack" ||
			len(j1.Events) != 1 || j1.Events[0].PluginShort() != "videoroom/joined" {
			t.Errorf("j1 detail: %+v", j1)
		}
		vc1, err := db.Transaction(ctx, "gw1", "vc1")
		if err != nil {
			t.Fatal(err)
		}
		if tr := vc1[0].Transaction; tr.Result != "success" || tr.PluginError != 427 || tr.PluginRequest != "create" {
			t.Errorf("vc1, sync success with plugin error: %+v", tr)
		}
		e1, err := db.Transaction(ctx, "gw1", "e1")
		if err != nil {
			t.Fatal(err)
		}
		if tr := e1[0].Transaction; tr.Result != "error" || tr.ErrorCode != 459 {
			t.Errorf("e1: %+v", tr)
		}
		cf1, err := db.Transaction(ctx, "gw1", "cf1")
		if err != nil {
			t.Fatal(err)
		}
		if tr := cf1[0].Transaction; tr.Result != "event" || tr.JSEP != "offer" || tr.EventLatency != 21*time.Millisecond ||
			len(cf1[0].Events) != 1 || cf1[0].Events[0].JSEP != "answer" {
			t.Errorf("cf1: %+v", tr)
		}
	})

	t.Run("admin", func(t *testing.T) {
		n, err := db.CountEvents(ctx, EventFilter{Gateway: "gw1", SessionID: sc.s2, Transport: schema.AdminHTTP})
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("%d admin events linked to session 2, want 2 (handle_info and its reply)", n)
		}
		n, err = db.CountEvents(ctx, EventFilter{Gateway: "gw1", HandleID: sc.h2, Transport: schema.AdminHTTP})
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("%d admin events linked to handle 2, want 2 (handle_info and its reply)", n)
		}
		ad2, err := db.Transaction(ctx, "gw1", "ad2")
		if err != nil {
			t.Fatal(err)
		}
		if tr := ad2[0].Transaction; tr.Result != "success" || tr.SessionID != sc.s2 || tr.HandleID != sc.h2 || tr.Transport != schema.AdminHTTP {
			t.Errorf("ad2: %+v", tr)
		}
		if _, err := db.Session(ctx, "gw1", 999); !errors.Is(err, ErrNotFound) {
			t.Errorf("session 999 (named by admin list_handles): %v, want ErrNotFound", err)
		}
	})

	t.Run("ends", func(t *testing.T) {
		if s := byID[sc.s3]; s.Ended != EndTimeout || s.TimedOutAt.IsZero() || s.EndedAt != s.TimedOutAt {
			t.Errorf("session 3 (timeout, then its WebSocket closed): %+v", s)
		}
		if s := byID[sc.s4]; s.Ended != EndUnknown || s.Errors != 1 || s.EndedAt.IsZero() {
			t.Errorf("session 4 (458): %+v", s)
		}
		s := byID[sc.s5]
		if !s.CreatedAt.IsZero() || s.Ended != "" || s.Events != 1 || !slices.Equal(s.Plugins, []string{textroom}) {
			t.Errorf("session 5 (seen only in events): %+v", s)
		}
	})

	t.Run("filters", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			f    SessionFilter
			want []uint64
		}{
			{"plugin", SessionFilter{Plugin: "videoroom"}, []uint64{sc.s2}},
			{"full_plugin", SessionFilter{Plugin: echotest}, []uint64{sc.s1}},
			{"opaque_id", SessionFilter{OpaqueID: "vr-B"}, []uint64{sc.s2}},
			{"errors", SessionFilter{WithErrors: true}, []uint64{sc.s1, sc.s2, sc.s4}},
			{"timed_out", SessionFilter{TimedOut: true}, []uint64{sc.s3}},
			{"transport", SessionFilter{Transport: schema.HTTP}, []uint64{sc.s1, sc.s4}},
			{"gateway", SessionFilter{Gateway: "other"}, nil},
			{"limit", SessionFilter{Limit: 2}, []uint64{sc.s1, sc.s2}},
			{"from", SessionFilter{From: t0.Add(time.Minute)}, []uint64{sc.s3, sc.s4, sc.s5}},
			{"to", SessionFilter{To: t0.Add(time.Second)}, []uint64{sc.s1}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				rows, err := db.Sessions(ctx, tc.f)
				if err != nil {
					t.Fatal(err)
				}
				var got []uint64
				for _, r := range rows {
					got = append(got, r.ID)
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("sessions %v, want %v", got, tc.want)
				}
			})
		}
	})

	t.Run("counts", func(t *testing.T) {
		checkCounts(t, db)
	})

	t.Run("export", func(t *testing.T) {
		want := items(1, sc.events)
		i := 0
		for e, err := range db.Events(ctx, EventFilter{}) {
			if err != nil {
				t.Fatal(err)
			}
			if e.StreamSeq != want[i].StreamSeq || !bytes.Equal(e.Raw, want[i].Raw) {
				t.Fatalf("event %d: %d %s, want %d %s", i, e.StreamSeq, e.Raw, want[i].StreamSeq, want[i].Raw)
			}
			i++
		}
		if i != len(want) {
			t.Errorf("exported %d events, want %d", i, len(want))
		}
		n := 0
		for e, err := range db.Events(ctx, EventFilter{Gateway: "gw1", Transaction: "m1"}) {
			if err != nil {
				t.Fatal(err)
			}
			ev, err := schema.Decode(e.Raw)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Transaction() != "m1" {
				t.Errorf("event of transaction %q in an export of m1", ev.Transaction())
			}
			n++
		}
		if n != 3 {
			t.Errorf("%d events of m1, want 3 (message, ack, event)", n)
		}
		for _, tc := range []struct {
			name string
			f    EventFilter
			want int
		}{
			{"all", EventFilter{}, len(sc.events)},
			{"gateway", EventFilter{Gateway: "other"}, 0},
			{"after", EventFilter{AfterSeq: 10}, len(sc.events) - 10},
			{"limit", EventFilter{AfterSeq: 10, Limit: 5}, 5},
			{"session", EventFilter{SessionID: sc.s4}, 4},
			{"handle", EventFilter{HandleID: sc.h5}, 1},
			{"transport", EventFilter{Transport: schema.AdminHTTP}, 6},
			{"from_to", EventFilter{From: t0.Add(time.Minute), To: t0.Add(2 * time.Minute)}, 5}, // timeout, 2 closes, create, success
		} {
			n := 0
			for _, err := range db.Events(ctx, tc.f) {
				if err != nil {
					t.Fatal(err)
				}
				n++
			}
			if n != tc.want {
				t.Errorf("%s: %d events, want %d", tc.name, n, tc.want)
			}
			if tc.f.Limit == 0 {
				if c, err := db.CountEvents(ctx, tc.f); err != nil || c != tc.want {
					t.Errorf("%s: CountEvents = %d, %v; want %d", tc.name, c, err, tc.want)
				}
			}
		}
	})
}

// checkCounts checks that the counters of sessions and handles agree with
// the events table, and that every row links to rows that exist.
func checkCounts(t *testing.T, db *DB) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []string{
		// sessions and handles counted every Janus API event naming them
		`SELECT 'session ' || s.session_id || ' events ' || s.events || ' errors ' || s.errors FROM sessions s
		 WHERE (s.events, s.errors, s.first_seen, s.last_seen) IS NOT (SELECT count(*), coalesce(sum(` + isErrorSQL + `), 0), min(time), max(time)
		   FROM events e WHERE e.gateway = s.gateway AND e.session_id = s.session_id AND e.transport IN ('http', 'ws'))`,
		`SELECT 'handle ' || h.handle_id || ' events ' || h.events FROM handles h
		 WHERE (h.events, h.errors, h.first_seen, h.last_seen) IS NOT (SELECT count(*), coalesce(sum(` + isErrorSQL + `), 0), min(time), max(time)
		   FROM events e WHERE e.gateway = h.gateway AND e.handle_id = h.handle_id AND e.transport IN ('http', 'ws'))`,
		`SELECT 'session ' || s.session_id || ' handles ' || s.handles FROM sessions s
		 WHERE s.handles != (SELECT count(*) FROM handles h WHERE h.gateway = s.gateway AND h.session_id = s.session_id)`,
		`SELECT 'handle ' || h.handle_id || ' of missing session' FROM handles h
		 WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.gateway = h.gateway AND s.session_id = h.session_id)`,
		`SELECT 'gateway ' || g.gateway FROM gateways g WHERE (g.events, g.sessions, g.first_seen, g.last_seen) IS NOT
		 ((SELECT count(*) FROM events e WHERE e.gateway = g.gateway), (SELECT count(*) FROM sessions s WHERE s.gateway = g.gateway),
		  (SELECT min(time) FROM events e WHERE e.gateway = g.gateway), (SELECT max(time) FROM events e WHERE e.gateway = g.gateway))`,
		`SELECT 'transaction ' || t.request_seq || ' events ' || t.events FROM transactions t
		 WHERE t.events != (SELECT count(*) FROM events e WHERE e.request_seq = t.request_seq AND e.janus = 'event')`,
		`SELECT 'event ' || e.stream_seq || ' links to missing request' FROM events e
		 WHERE e.request_seq IS NOT NULL AND NOT EXISTS (SELECT 1 FROM transactions t WHERE t.request_seq = e.request_seq)`,
		`SELECT 'progress' FROM progress WHERE events != (SELECT count(*) FROM events)`,
	} {
		rows, err := db.r.QueryContext(ctx, q)
		if err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			t.Errorf("counts disagree: %s", s)
		}
		rows.Close()
	}
}

func TestApplyIsIdempotent(t *testing.T) {
	ctx := t.Context()
	sc := newScenario()
	all := items(1, sc.events)
	once := openDB(t)
	apply(t, once, all)
	want := dump(t, once)

	t.Run("twice", func(t *testing.T) {
		db := openDB(t)
		apply(t, db, all)
		apply(t, db, all)
		if err := Equal(ctx, once, db); err != nil {
			t.Error(err)
		}
	})
	t.Run("overlapping", func(t *testing.T) {
		db := openDB(t)
		for start := 0; start < len(all); start += 7 {
			apply(t, db, all[start:min(start+13, len(all))])
		}
		if got := dump(t, db); got != want {
			t.Errorf("dump after overlapping batches differs:\n%s", golden.Diff([]byte(want), []byte(got)))
		}
	})
	t.Run("old", func(t *testing.T) {
		db := openDB(t)
		apply(t, db, all)
		apply(t, db, all[:5])
		if err := Equal(ctx, once, db); err != nil {
			t.Error(err)
		}
	})
	t.Run("prepared", func(t *testing.T) {
		db := openDB(t)
		prepared := slices.Clone(all)
		for i := range prepared {
			if i%3 != 0 { // some prepared, some not
				prepared[i].Prepare()
			}
		}
		apply(t, db, prepared[:20])
		apply(t, db, prepared[10:]) // applied twice: the rows Prepare made stay as they were
		if err := Equal(ctx, once, db); err != nil {
			t.Error(err)
		}
	})
}

// TestPrepare checks that Prepare makes the missing half of an item, and
// keeps why an item is not an event for Apply to count.
func TestPrepare(t *testing.T) {
	sc := newScenario()
	all := items(1, sc.events[:2])
	for _, it := range []Item{{StreamSeq: 1, Raw: all[0].Raw}, {StreamSeq: 1, Event: all[0].Event}} {
		it.Prepare()
		if it.err != nil || it.Event.ID != all[0].Event.ID || !bytes.Equal(it.Raw, all[0].Raw) {
			t.Errorf("prepared item: %v, event %v, raw %s", it.err, it.Event, it.Raw)
		}
	}
	ctx := t.Context()
	db := openDB(t)
	bad := Item{StreamSeq: 1, Raw: []byte(`{"not":"an event"}`)}
	bad.Prepare()
	if bad.err == nil {
		t.Fatal("Prepare took a record that is not an event")
	}
	good := all[1]
	good.StreamSeq = 2
	good.Prepare()
	apply(t, db, []Item{bad, good})
	if p, err := db.Progress(ctx); err != nil || p != (Progress{LastSeq: 2, Events: 1, Undecodable: 1}) {
		t.Errorf("progress %+v, %v; want 1 event, 1 undecodable", p, err)
	}
}

// TestBatchSplits checks that the projection does not depend on how the
// stream is cut into batches: the property a rebuild relies on.
func TestBatchSplits(t *testing.T) {
	ctx := t.Context()
	sc := newScenario()
	all := items(1, sc.events)
	whole := openDB(t)
	apply(t, whole, all)
	for _, size := range []int{1, 2, 3, 5, 8, 13, 40} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			db := openDB(t)
			for start := 0; start < len(all); start += size {
				apply(t, db, all[start:min(start+size, len(all))])
			}
			if err := Equal(ctx, whole, db); err != nil {
				t.Error(err)
			}
		})
	}
	t.Run("differs", func(t *testing.T) {
		db := openDB(t)
		apply(t, db, all[:len(all)-1])
		if err := Equal(ctx, whole, db); err == nil {
			t.Error("Equal found no difference between databases one event apart")
		}
	})
}

func TestReopen(t *testing.T) {
	ctx := t.Context()
	sc := newScenario()
	all := items(100, sc.events)
	path := filepath.Join(t.TempDir(), "janustap.db")
	db := NewDB(path)
	db.Logger = slog.New(slog.DiscardHandler)
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	apply(t, db, all[:20])
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openPath(t, path)
	last, err := db.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := last, all[19].StreamSeq; got != want {
		t.Fatalf("LastSeq after reopening = %d, want %d", got, want)
	}
	apply(t, db, all[20:])
	whole := openDB(t)
	apply(t, whole, all)
	if err := Equal(ctx, whole, db); err != nil {
		t.Error(err)
	}
}

func TestApplySkips(t *testing.T) {
	ctx := t.Context()
	sc := newScenario()
	db := openDB(t)
	all := items(1, sc.events[:4])
	batch := []Item{
		all[0],
		{StreamSeq: 2, Raw: []byte(`{"not":"an event"}`)},
		{StreamSeq: 3, Event: all[1].Event}, // encoded by Apply
		{StreamSeq: 4, Raw: all[0].Raw},     // the first event again
		{StreamSeq: 5, Raw: all[2].Raw},     // decoded by Apply
	}
	apply(t, db, batch)
	p, err := db.Progress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Progress{LastSeq: 5, Events: 3, Duplicates: 1, Undecodable: 1}); p != want {
		t.Errorf("progress %+v, want %+v", p, want)
	}
	n := 0
	for e, err := range db.Events(ctx, EventFilter{}) {
		if err != nil {
			t.Fatal(err)
		}
		if want := all[n].Raw; !bytes.Equal(e.Raw, want) {
			t.Errorf("event %d stored as %s, want %s", e.StreamSeq, e.Raw, want)
		}
		n++
	}

	newer := *all[3].Event
	newer.V = schema.Version + 1
	if err := db.Apply(ctx, []Item{{StreamSeq: 6, Event: &newer}}); !errors.Is(err, schema.ErrUnknownVersion) {
		t.Errorf("Apply of a newer event: %v, want ErrUnknownVersion", err)
	}
	if err := db.Apply(ctx, []Item{{StreamSeq: 0, Event: all[3].Event}}); err == nil {
		t.Error("Apply took an item without stream sequence")
	}
	if last, err := db.LastSeq(ctx); err != nil || last != 5 {
		t.Errorf("LastSeq after failed batches = %d, %v; want 5", last, err)
	}
	// The statements Apply keeps are prepared again after a failed batch.
	apply(t, db, []Item{{StreamSeq: 6, Event: all[3].Event}})
	if p, err := db.Progress(ctx); err != nil || p.LastSeq != 6 || p.Events != 4 {
		t.Errorf("progress after a batch that followed failed ones: %+v, %v; want last_seq 6, 4 events", p, err)
	}
}

// TestClaim follows a session whose WebSocket closed and that another
// WebSocket claimed within the reclaim timeout, then destroyed.
func TestClaim(t *testing.T) {
	ctx := t.Context()
	var events []*schema.Event
	f := newFlow("gw1", func(ev *schema.Event) { events = append(events, ev) })
	a, b := f.wsClient(schema.WS), f.wsClient(schema.WS)
	s := f.newID()
	a.open()
	a.send(createReq("c1"))
	f.advance(time.Millisecond)
	a.recv(successID("c1", 0, s))
	f.advance(time.Second)
	a.close(schema.ToGateway, 1001)
	closed := len(events)
	f.advance(time.Second)
	b.open()
	b.send(`{"janus":"claim","transaction":"cl1"` + ids(s, 0) + `}`)
	b.recv(success("cl1", s))
	claimed := len(events)
	f.advance(time.Second)
	a.close(schema.ToClient, 1001) // the other half of a's close changes nothing now
	b.send(`{"janus":"destroy","transaction":"x1"` + ids(s, 0) + `}`)
	b.recv(success("x1", s))
	all := items(1, events)

	db := openDB(t)
	check := func(upTo int, ended End, source string) {
		t.Helper()
		d, err := db.Session(ctx, "gw1", s)
		if err != nil {
			t.Fatal(err)
		}
		if d.Ended != ended || d.SourceConn != source || d.Conn != a.conn {
			t.Errorf("after %d events: ended %q, source %s, conn %s; want %q, %s, %s", upTo, d.Ended, d.SourceConn, d.Conn, ended, source, a.conn)
		}
	}
	apply(t, db, all[:closed])
	check(closed, EndWSClosed, a.conn)
	apply(t, db, all[closed:claimed])
	check(claimed, "", b.conn)
	apply(t, db, all[claimed:])
	check(len(all), EndDestroyed, b.conn)
}

func TestGolden(t *testing.T) {
	ctx := t.Context()
	sc := newScenario()
	db := openDB(t)
	apply(t, db, items(1, sc.events))

	sessions, err := db.Sessions(ctx, SessionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteSessions(&b, sessions); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "sessions.golden", b.Bytes())

	for _, tc := range []struct {
		name    string
		session uint64
		full    bool
	}{
		{"timeline-http", sc.s1, false},
		{"timeline-ws", sc.s2, false},
		{"timeline-ws-full", sc.s2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl, err := db.Timeline(ctx, "gw1", tc.session)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := WriteTimeline(&b, tl, tc.full); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, tc.name+".golden", b.Bytes())
		})
	}

	t.Run("transaction", func(t *testing.T) {
		var b bytes.Buffer
		for _, tx := range []string{"m1", "j1", "k9"} {
			d, err := db.Transaction(ctx, "gw1", tx)
			if err != nil {
				t.Fatal(err)
			}
			if err := WriteTransaction(&b, d, false); err != nil {
				t.Fatal(err)
			}
			b.WriteString("\n")
		}
		golden.Check(t, "transactions.golden", b.Bytes())
	})

	if _, err := db.Timeline(ctx, "gw1", 42); !errors.Is(err, ErrNotFound) {
		t.Errorf("timeline of an unknown session: %v, want ErrNotFound", err)
	}
	if _, err := db.Transaction(ctx, "gw1", "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown transaction: %v, want ErrNotFound", err)
	}
}

// TestReadWhileApplying queries the store while batches are applied: the
// queries see whole batches only.
func TestReadWhileApplying(t *testing.T) {
	ctx := t.Context()
	db := openDB(t)
	g := newTraffic(10)
	defer g.stop()
	var batches [][]Item
	for range 8 {
		batches = append(batches, g.next(250))
	}
	errc := make(chan error, 1)
	go func() {
		for _, b := range batches {
			if err := db.Apply(ctx, b); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for done := false; !done; {
		select {
		case err := <-errc:
			if err != nil {
				t.Fatal(err)
			}
			done = true
		default:
		}
		p, err := db.Progress(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p.LastSeq%250 != 0 || p.Events != int(p.LastSeq) {
			t.Fatalf("a reader saw part of a batch: %+v", p)
		}
		if _, err := db.Sessions(ctx, SessionFilter{Limit: 5}); err != nil {
			t.Fatal(err)
		}
	}
	if last, err := db.LastSeq(ctx); err != nil || last != 2000 {
		t.Errorf("LastSeq = %d, %v; want 2000", last, err)
	}
}

// TestEventRowColumns checks the indexes of the columns that correlation
// fills in a row appendEventRow made.
func TestEventRowColumns(t *testing.T) {
	cols := strings.Split(eventCols, ", ")
	for i, want := range map[int]string{colSessionID: "session_id", colHandleID: "handle_id", colPlugin: "plugin",
		colRequestSeq: "request_seq"} {
		if got := cols[i]; got != want {
			t.Errorf("column %d is %s, want %s", i, got, want)
		}
	}
	sc := newScenario()
	it := items(1, sc.events[:1])[0]
	if got, want := len(appendEventRow(nil, it.StreamSeq, it.Event, it.Raw)), len(cols); got != want {
		t.Errorf("appendEventRow made %d arguments for %d columns", got, want)
	}
}
