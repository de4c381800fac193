package store

import (
	"context"
	"fmt"

	"github.com/janustap/janustap/schema"
)

// InsertPlain inserts the events rows of batch in one transaction with a
// plain prepared INSERT: no correlation into sessions, handles and
// transactions, no progress. It is the baseline the projection's throughput
// is measured against (the same rows, written as simply as SQLite allows);
// a database it wrote is not a projection to query.
func (db *DB) InsertPlain(ctx context.Context, batch []Item) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("insert plain rows: %w", err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, insertEventSQL)
	if err != nil {
		return fmt.Errorf("insert plain rows: %w", err)
	}
	defer st.Close()
	for _, it := range batch {
		if it.Event == nil {
			continue
		}
		if _, err := st.ExecContext(ctx, rawArgs(it)...); err != nil {
			return fmt.Errorf("insert plain row %d: %w", it.StreamSeq, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("insert plain rows: %w", err)
	}
	return nil
}

// rawArgs returns the columns of an event as they are without correlation:
// appendEventRow's, with the session and handle the event names (the sender
// for a handle it does not) and its plugin.
func rawArgs(it Item) []any {
	ev := it.Event
	j := ev.Janus
	if j == nil {
		j = &schema.Janus{}
	}
	hand := j.HandleID
	if hand == 0 {
		hand = j.Sender
	}
	row := appendEventRow(nil, it.StreamSeq, ev, it.Raw)
	row[colSessionID].Value, row[colHandleID].Value, row[colPlugin].Value = dbID(j.SessionID), dbID(hand), nullStr(j.Plugin)
	args := make([]any, len(row))
	for i, v := range row {
		args[i] = v.Value
	}
	return args
}
