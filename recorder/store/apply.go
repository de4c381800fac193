package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"

	"github.com/janustap/janustap/schema"
)

// Apply applies a batch of stream items in one transaction, together with
// the new last applied sequence. Items at or below LastSeq are skipped, so
// applying a batch again changes nothing. Items must come in stream order.
//
// An item that is not an event is skipped with a warning and counted in
// progress.undecodable; an event whose id is stored already (published
// twice, outside JetStream's duplicate window) is skipped and counted in
// progress.duplicates. An event of a newer encoding fails the batch with
// schema.ErrUnknownVersion: a newer janustap must apply it.
func (db *DB) Apply(ctx context.Context, batch []Item) error {
	if len(batch) == 0 {
		return nil
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	start := db.Now()
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("apply batch: %w", err)
	}
	defer conn.Close()
	var a *applier
	err = conn.Raw(func(dc any) error {
		var err error
		a, err = db.applyOn(ctx, dc.(driver.Conn), batch)
		return err
	})
	if err != nil {
		return err
	}
	db.askCheckpoint()
	if a.duplicates > 0 {
		db.Logger.Warn("events stored twice in the stream; skipped", "count", a.duplicates, "seq", a.last)
	}
	db.Logger.Debug("applied batch", "items", len(batch), "skipped", a.skipped, "events", a.inserted,
		"seq", a.last, "took", db.Now().Sub(start))
	return nil
}

// applyOn applies a batch on the writer's driver connection.
func (db *DB) applyOn(ctx context.Context, dc driver.Conn, batch []Item) (_ *applier, err error) {
	// Statements run without cancellation (go-sqlite3 would watch the
	// context of each); the batch checks ctx between events instead.
	sctx := context.WithoutCancel(ctx)
	bt, ok := dc.(driver.ConnBeginTx)
	if !ok {
		return nil, fmt.Errorf("apply batch: driver connection %T cannot begin with a context", dc)
	}
	tx, err := bt.BeginTx(sctx, driver.TxOptions{})
	if err != nil {
		return nil, fmt.Errorf("apply batch: begin: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tx.Rollback()
		}
	}()
	st, err := db.statements(sctx, dc)
	if err != nil {
		return nil, fmt.Errorf("apply batch: %w", err)
	}
	defer func() {
		if err != nil {
			// The rows in memory may hold what the batch did not commit;
			// prepare the statements again for the next batch too,
			// should the failure have been the connection's.
			db.resetApply()
		}
	}()
	c, err := db.rowCache(sctx, st)
	if err != nil {
		return nil, fmt.Errorf("apply batch: %w", err)
	}
	db.batches++
	a := newApplier(sctx, st, c, db.batches)
	if _, err := a.getProgress.queryRow(sctx, nil, func(r scanner) error { return r.Scan(nInt(&a.last)) }); err != nil {
		return nil, fmt.Errorf("apply batch: read last applied sequence: %w", err)
	}

	first := a.last
	for i := range batch {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("apply batch: %w", err)
			}
		}
		it := &batch[i]
		if it.StreamSeq == 0 || it.StreamSeq > math.MaxInt64 {
			return nil, fmt.Errorf("apply batch: item %d has stream sequence %d", i, it.StreamSeq)
		}
		seq := int64(it.StreamSeq)
		if seq <= a.last {
			a.skipped++
			continue
		}
		ev, err := a.prepared(it)
		if err != nil {
			if errors.Is(err, schema.ErrUnknownVersion) {
				return nil, fmt.Errorf("apply stream seq %d: %w", seq, err)
			}
			db.Logger.Warn("stream item is not an event; skipped", "seq", seq, "err", err)
			a.undecodable++
			a.last = seq
			continue
		}
		if err := a.apply(seq, ev); err != nil {
			return nil, fmt.Errorf("apply event %s (stream seq %d): %w", ev.ID, seq, err)
		}
		a.last = seq
	}
	if a.last == first {
		return a, nil // nothing new; leave the database untouched
	}
	if err := a.flush(a.last); err != nil {
		return nil, fmt.Errorf("apply batch up to stream seq %d: %w", a.last, err)
	}
	done = true
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("apply batch up to stream seq %d: commit: %w", a.last, err)
	}
	return a, nil
}
