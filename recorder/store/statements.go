package store

import (
	"context"
	"database/sql/driver"
)

// statements are the statements Apply runs, prepared on the writer's
// connection by the first batch and kept for the next ones: preparing them
// for every batch cost more than applying a small batch.
type statements struct {
	conn driver.Conn // the connection they are prepared on

	insertEvent, stampSession, stampHandle               *rawStmt
	getSession, getHandle, getTx, getTxByKey, getEventID *rawStmt
	countSession, countHandle, getSourced                *rawStmt
	insSession, insHandle, insTx, putGateway             *rawStmt
	setSession, setHandle                                *rawStmt
	countSessionSet, countHandleSet, answerTx            *rawStmt
	getProgress, putProgress, getDataVersion             *rawStmt
	evh                                                  map[string]*rawStmt // by query; see evhStmt
	all                                                  []*rawStmt
}

// statements returns Apply's statements on dc, preparing them when they
// are not prepared on it. The caller holds db.mu.
func (db *DB) statements(ctx context.Context, dc driver.Conn) (*statements, error) {
	if db.stmts != nil && db.stmts.conn == dc {
		return db.stmts, nil
	}
	db.resetApply()
	st, err := prepareStatements(ctx, dc)
	if err != nil {
		return nil, err
	}
	db.stmts = st
	return st, nil
}

// resetApply closes Apply's statements, if prepared, and drops the rows
// kept from the batches before (read on the same connection): the next
// batch starts afresh. The caller holds db.mu.
func (db *DB) resetApply() {
	if db.stmts != nil {
		db.stmts.close()
		db.stmts = nil
	}
	db.cache = nil
}

func prepareStatements(ctx context.Context, dc driver.Conn) (*statements, error) {
	st := &statements{conn: dc}
	list := []struct {
		s   **rawStmt
		sql string
	}{
		{&st.insertEvent, insertEventSQL},
		{&st.stampSession, "UPDATE events SET session_id = ? WHERE stream_seq = ?"},
		{&st.stampHandle, "UPDATE events SET handle_id = ? WHERE stream_seq = ?"},
		{&st.getSession, "SELECT " + sessionCols + " FROM sessions WHERE gateway = ? AND session_id = ?"},
		{&st.getHandle, "SELECT " + handleCols + " FROM handles WHERE gateway = ? AND handle_id = ?"},
		{&st.getTx, "SELECT " + txCols + " FROM transactions WHERE request_seq = ?"},
		// The requests carrying a transaction, through the index of events.
		// No ORDER BY: SQLite sorts even an empty result, at several times
		// the cost of the lookup; candidates sorts the few rows.
		{&st.getTxByKey, "SELECT stream_seq FROM events WHERE gateway = ? AND tx = ? AND request_seq = stream_seq"},
		{&st.getEventID, "SELECT stream_seq FROM events WHERE id = ?"},
		{&st.countSession, "SELECT count(*), coalesce(sum(" + isErrorSQL + "), 0), min(time), max(time) FROM events WHERE gateway = ? AND session_id = ? AND transport IN ('http', 'ws')"},
		{&st.countHandle, "SELECT count(*), coalesce(sum(" + isErrorSQL + "), 0), min(time), max(time) FROM events WHERE gateway = ? AND handle_id = ? AND transport IN ('http', 'ws')"},
		{&st.getSourced, "SELECT session_id FROM sessions INDEXED BY sessions_source " +
			"WHERE gateway = ? AND source_conn = ? AND source_conn IS NOT NULL AND ended IS NULL"},
		{&st.insSession, insertSQL("sessions", sessionCols)},
		{&st.insHandle, insertSQL("handles", handleCols)},
		{&st.insTx, insertSQL("transactions", txCols)},
		{&st.setSession, updateSQL("sessions", sessionCols, "gateway", "session_id")},
		{&st.setHandle, updateSQL("handles", handleCols, "gateway", "handle_id")},
		{&st.countSessionSet, updateSQL("sessions", sessionCounterCols, "gateway", "session_id")},
		{&st.countHandleSet, updateSQL("handles", handleCounterCols, "gateway", "handle_id")},
		{&st.answerTx, updateSQL("transactions", txAnswerCols, "request_seq")},
		{&st.getDataVersion, "PRAGMA data_version"},
		{&st.putGateway, putGatewaySQL},
		{&st.getProgress, "SELECT last_seq FROM progress"},
		{&st.putProgress, "UPDATE progress SET last_seq = ?, events = events + ?, duplicates = duplicates + ?, " +
			"undecodable = undecodable + ?"},
	}
	for _, l := range list {
		s, err := prepareRaw(ctx, dc, l.sql)
		if err != nil {
			st.close()
			return nil, err
		}
		*l.s = s
		st.all = append(st.all, s)
	}
	return st, nil
}

func (st *statements) close() {
	for _, s := range st.all {
		s.close()
	}
}
