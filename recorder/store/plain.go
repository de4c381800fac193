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

// rawArgs returns the columns of an event as they are without correlation.
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
	return []any{int64(it.StreamSeq), ev.ID, ev.Gateway, nullStr(ev.Tap), ev.Conn, int64(ev.Seq), ev.Time.UnixMicro(), ev.Mono,
		string(ev.Transport), string(ev.Direction), string(ev.Kind),
		nullStr(ev.Method), nullStr(ev.Path), nullStr(ev.Query), nullInt(int64(ev.Status)), nullStr(ev.Parent),
		nullInt(int64(ev.Part)), nullInt(int64(ev.Parts)),
		nullStr(j.Janus), nullStr(j.Transaction), dbID(j.SessionID), dbID(hand),
		nullStr(j.Plugin), nullStr(j.PluginKey), nullStr(j.PluginValue), nullInt(int64(j.PluginError)),
		nullInt(int64(j.ErrorCode)), nullStr(j.ErrorReason), nullStr(j.JSEP), j.HasJSEP, nullStr(j.OpaqueID),
		nullInt(int64(ev.CloseCode)), nullStr(ev.Error), nil, ev.Redacted, ev.Truncated, it.Raw}
}
