package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"

	"github.com/janustap/janustap/schema"
)

// checkCache compares every row Apply keeps in memory with the database:
// after a batch committed, the rows in memory must be the rows stored.
func checkCache(t *testing.T, db *DB) {
	t.Helper()
	ctx := context.Background()
	db.mu.Lock()
	defer db.mu.Unlock()
	c := db.cache
	if c == nil {
		return
	}
	for k, s := range c.sessions {
		var got sessionRow
		err := scanSession(db.r.QueryRowContext(ctx, "SELECT "+sessionCols+" FROM sessions WHERE gateway = ? AND session_id = ?",
			k.gateway, dbID(k.id)), &got)
		switch {
		case s == nil && errors.Is(err, sql.ErrNoRows):
		case s == nil:
			t.Errorf("session %d: kept as absent, stored: %v", k.id, err)
		case err != nil:
			t.Errorf("session %d: %v", k.id, err)
		case got.sessionVals != s.sessionVals || s.orig != s.sessionVals || s.isNew:
			t.Errorf("session %d kept as %+v (stored as %+v, new %v), stored %+v", k.id, s.sessionVals, s.orig, s.isNew, got.sessionVals)
		}
	}
	for k, h := range c.handles {
		var got handleRow
		err := scanHandle(db.r.QueryRowContext(ctx, "SELECT "+handleCols+" FROM handles WHERE gateway = ? AND handle_id = ?",
			k.gateway, dbID(k.id)), &got)
		switch {
		case h == nil && errors.Is(err, sql.ErrNoRows):
		case h == nil:
			t.Errorf("handle %d: kept as absent, stored: %v", k.id, err)
		case err != nil:
			t.Errorf("handle %d: %v", k.id, err)
		case got.handleVals != h.handleVals || h.orig != h.handleVals || h.isNew:
			t.Errorf("handle %d kept as %+v (stored as %+v, new %v), stored %+v", k.id, h.handleVals, h.orig, h.isNew, got.handleVals)
		}
	}
	for seq, tx := range c.txs {
		var got txRow
		err := scanTx(db.r.QueryRowContext(ctx, "SELECT "+txCols+" FROM transactions WHERE request_seq = ?", seq), &got)
		switch {
		case tx == nil && errors.Is(err, sql.ErrNoRows):
		case tx == nil:
			t.Errorf("transaction %d: kept as absent, stored: %v", seq, err)
		case err != nil:
			t.Errorf("transaction %d: %v", seq, err)
		case got.txRequest != tx.txRequest || got.txAnswer != tx.txAnswer || tx.orig != tx.txAnswer || tx.isNew:
			t.Errorf("transaction %d kept as %+v %+v (stored as %+v, new %v), stored %+v %+v", seq,
				tx.txRequest, tx.txAnswer, tx.orig, tx.isNew, got.txRequest, got.txAnswer)
		}
	}
	for id, seq := range c.txIDs {
		var n int64
		q, arg := "SELECT count(*) FROM transactions t JOIN events e ON e.stream_seq = t.request_seq WHERE e.id = ?", any(id)
		if seq != 0 {
			q, arg = "SELECT count(*) FROM events WHERE id = ? AND stream_seq = ?", []any{id, seq}
		}
		args := []any{arg}
		if a, ok := arg.([]any); ok {
			args = a
		}
		if err := db.r.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if seq != 0 && n != 1 || seq == 0 && n != 0 {
			t.Errorf("event %s kept as the request of stream seq %d (0: of none); the database does not agree", id, seq)
		}
	}
	for k, l := range c.txKeys {
		var seqs []int64
		for _, tx := range l.rows {
			seqs = append(seqs, tx.seq)
		}
		rows, err := db.r.QueryContext(ctx, "SELECT stream_seq FROM events WHERE gateway = ? AND tx = ? AND request_seq = stream_seq "+
			"ORDER BY stream_seq DESC LIMIT ?", k.gateway, k.tx, len(seqs))
		if err != nil {
			t.Fatal(err)
		}
		var stored []int64
		for rows.Next() {
			var seq int64
			if err := rows.Scan(&seq); err != nil {
				t.Fatal(err)
			}
			stored = append(stored, seq)
		}
		rows.Close()
		slices.Reverse(stored)
		if !slices.Equal(seqs, stored) {
			t.Errorf("transaction %q: requests kept %v, the latest stored %v", k.tx, seqs, stored)
		}
	}
}

// TestCacheAcrossBatches applies traffic in small batches, as a projector
// that keeps up does, with the rows kept between batches, with a cache so
// small that it is dropped every few batches, and in one batch: the rows
// kept in memory must always be those stored, and all three databases
// equal.
func TestCacheAcrossBatches(t *testing.T) {
	ctx := t.Context()
	g := newTraffic(20)
	defer g.stop()
	all := g.next(2000)
	whole := openDB(t)
	apply(t, whole, all)
	for _, tc := range []struct {
		name string
		rows int
	}{
		{"kept", 0},
		{"dropped", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openDB(t)
			db.cacheRows = tc.rows
			for start := 0; start < len(all); start += 31 {
				apply(t, db, all[start:min(start+31, len(all))])
				checkCache(t, db)
				if t.Failed() {
					t.Fatalf("after the batch from stream seq %d", all[start].StreamSeq)
				}
			}
			if err := Equal(ctx, whole, db); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestCacheAfterOtherWriter changes a session from another connection
// between two batches: the next batch must not write over it the row it
// kept in memory.
func TestCacheAfterOtherWriter(t *testing.T) {
	ctx := t.Context()
	g := newTraffic(5)
	defer g.stop()
	db := openDB(t)
	apply(t, db, g.next(100))
	var gw string
	var id int64
	if err := db.r.QueryRowContext(ctx, "SELECT gateway, session_id FROM sessions WHERE ended IS NULL LIMIT 1").Scan(&gw, &id); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite3", db.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.ExecContext(ctx, "UPDATE sessions SET events = events + 1000 WHERE gateway = ? AND session_id = ?", gw, id); err != nil {
		t.Fatal(err)
	}
	apply(t, db, g.next(100))
	checkCache(t, db)
	var events int
	if err := db.r.QueryRowContext(ctx, "SELECT events FROM sessions WHERE gateway = ? AND session_id = ?", gw, id).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if events < 1000 {
		t.Errorf("session %d has %d events: the batch wrote over the change of another connection", id, events)
	}
}

// TestCacheAfterFailedBatch fails a batch after it changed rows in memory:
// the next batches must not keep what it did not commit.
func TestCacheAfterFailedBatch(t *testing.T) {
	ctx := t.Context()
	g := newTraffic(5)
	defer g.stop()
	all := g.next(300)
	whole := openDB(t)
	apply(t, whole, all)

	db := openDB(t)
	apply(t, db, all[:100])
	bad := append(slices.Clone(all[100:150]), Item{StreamSeq: 0, Event: all[150].Event})
	if err := db.Apply(ctx, bad); err == nil {
		t.Fatal("Apply took an item without stream sequence")
	}
	apply(t, db, all[100:])
	checkCache(t, db)
	if err := Equal(ctx, whole, db); err != nil {
		t.Error(err)
	}
}

// TestTransactionReused has a client reuse one transaction string for more
// requests than are candidates (candidatesKept) for a reply, as Janus
// allows, and the replies come after them: each reply goes to the latest
// request still without one among the latest 32. Applied in one batch, in
// batches with the rows kept between them (where Apply keeps the latest
// requests of a transaction only), and in batches that each read the
// database again, the result must be the same.
func TestTransactionReused(t *testing.T) {
	ctx := t.Context()
	var events []*schema.Event
	f := newFlow("gw1", func(ev *schema.Event) { events = append(events, ev) })
	c := f.wsClient(schema.WS)
	s := f.newID()
	c.open()
	c.send(createReq("c"))
	c.recv(successID("c", 0, s))
	c.recv(ack("t", s)) // a reply to no request: the requests of "t" are read from the database
	for round := range 2 {
		for range 65 + round {
			c.send(`{"janus":"keepalive","transaction":"t"` + ids(s, 0) + `}`)
		}
		for range 33 {
			c.recv(ack("t", s))
		}
	}
	all := items(1, events)

	whole := openDB(t)
	apply(t, whole, all)
	var replied int
	if err := whole.r.QueryRowContext(ctx, "SELECT count(*) FROM transactions WHERE tx = 't' AND reply_seq IS NOT NULL").Scan(&replied); err != nil {
		t.Fatal(err)
	}
	if replied != 2*candidatesKept {
		t.Errorf("%d requests of transaction t have a reply, want %d", replied, 2*candidatesKept)
	}
	for _, tc := range []struct {
		name string
		rows int
	}{
		{"kept", 0},
		{"read", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openDB(t)
			db.cacheRows = tc.rows
			for start := 0; start < len(all); start += 5 {
				apply(t, db, all[start:min(start+5, len(all))])
			}
			checkCache(t, db)
			if err := Equal(ctx, whole, db); err != nil {
				t.Error(err)
			}
		})
	}
}
