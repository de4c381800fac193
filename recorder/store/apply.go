package store

import (
	"cmp"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/janustap/janustap/schema"
)

// Item is one message of the event stream.
type Item struct {
	// StreamSeq is the message's JetStream stream sequence, from 1.
	StreamSeq uint64
	// Event is the decoded event; nil means Apply decodes Raw.
	Event *schema.Event
	// Raw is the event as schema.Encode wrote it, stored as it is so that
	// an export reproduces the event byte for byte; nil means Apply encodes
	// Event.
	Raw []byte

	// What Prepare made: the arguments of the item's events row, or why
	// the item is not an event.
	row []driver.NamedValue
	err error
}

// Prepare does the part of Apply's work on the item that needs no
// database, so that a caller can do it on another goroutine than the one
// that applies: it decodes Raw (or encodes Event) and makes the arguments
// of the item's events row, except for the columns that correlation fills.
// The item must not change afterwards. Apply prepares the items that are
// not prepared.
func (it *Item) Prepare() {
	ev, raw, err := it.decode()
	if err != nil {
		it.row, it.err = nil, err
		return
	}
	it.Event, it.Raw, it.err = ev, raw, nil
	it.row = appendEventRow(it.row[:0], it.StreamSeq, ev, raw)
}

// prepared returns what Prepare makes of the item, with the row in a.row
// (a copy: the item's stays as Prepare made it), making it when the item is
// not prepared.
func (a *applier) prepared(it *Item) (*schema.Event, error) {
	switch {
	case it.err != nil:
		return nil, it.err
	case it.row != nil:
		a.row = append(a.row[:0], it.row...)
		return it.Event, nil
	}
	ev, raw, err := it.decode()
	if err != nil {
		return nil, err
	}
	a.row = appendEventRow(a.row[:0], it.StreamSeq, ev, raw)
	return ev, nil
}

// candidatesKept is how many of the latest requests with one transaction
// string are candidates for a reply or event carrying it. Clients make
// transactions unique (janus.js: 12 random letters) but Janus does not
// check, so a reused string must not make the search unbounded. The same
// bound applies whether the requests are in the batch or in the database,
// so that how the stream is cut into batches never changes a result.
const candidatesKept = 32

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

// decode returns the item's event and encoding, making the missing one.
func (it *Item) decode() (*schema.Event, []byte, error) {
	ev, raw := it.Event, it.Raw
	switch {
	case ev == nil && raw == nil:
		return nil, nil, errors.New("item has neither event nor encoding")
	case ev == nil:
		var err error
		if ev, err = schema.Decode(raw); err != nil {
			return nil, nil, err
		}
	case raw == nil:
		if ev.V > schema.Version {
			return nil, nil, fmt.Errorf("event %s: version %d: %w", ev.ID, ev.V, schema.ErrUnknownVersion)
		}
		var err error
		if raw, err = schema.Encode(ev); err != nil {
			return nil, nil, err
		}
	}
	if ev.ID == "" {
		return nil, nil, errors.New("event has no id")
	}
	return ev, raw, nil
}

// Keys of the rows an applier keeps in memory.
type (
	sessionKey struct {
		gateway string
		id      uint64
	}
	handleKey struct {
		gateway string
		id      uint64
	}
	txKey struct {
		gateway, tx string
	}
)

// txList holds the requests of one transaction string, in stream order:
// those applied since it was made, and once loaded the latest from the
// database before them. It keeps the latest 2*candidatesKept at most.
type txList struct {
	loaded bool
	rows   []*txRow
}

// gatewayDelta is what a batch adds to a gateways row.
type gatewayDelta struct {
	firstSeen, lastSeen int64
	events, sessions    int64
}

// rowCache holds the sessions, handles and transactions that batches read
// or wrote, as the database has them once the last batch committed, so that
// the next batches find them in memory: a projector that keeps up applies
// small batches, which would otherwise read back most of the rows that the
// batch before wrote. DB drops it when a batch fails, when another
// connection wrote to the database, and when it holds more than
// DB.cacheRows entries.
type rowCache struct {
	sessions map[sessionKey]*sessionRow // nil: not in the database either
	handles  map[handleKey]*handleRow
	txs      map[int64]*txRow  // by request seq; nil: that event is no request
	txIDs    map[string]int64  // event id → seq of its request; 0: none
	txKeys   map[txKey]*txList // by transaction string

	dataVersion int64 // PRAGMA data_version when it was made
}

// defaultCacheRows is how many entries the rowCache holds at most (about
// 10 MB): enough for the sessions and recent requests of a busy gateway.
// A larger cache gained nothing for large batches, and cost in garbage
// collection.
const defaultCacheRows = 30_000

func (c *rowCache) size() int {
	return len(c.sessions) + len(c.handles) + len(c.txs) + len(c.txIDs) + len(c.txKeys)
}

// rowCache returns the rows kept from the batches before, or a new, empty
// cache when there are none to trust. The caller holds db.mu and the
// write transaction, so that data_version cannot change before the batch
// commits.
func (db *DB) rowCache(ctx context.Context, st *statements) (*rowCache, error) {
	var version int64
	if _, err := st.getDataVersion.queryRow(ctx, nil, func(r scanner) error { return r.Scan(nInt(&version)) }); err != nil {
		return nil, fmt.Errorf("read data version: %w", err)
	}
	limit := db.cacheRows
	if limit == 0 {
		limit = defaultCacheRows
	}
	if c := db.cache; c != nil && c.dataVersion == version && c.size() <= limit {
		return c, nil
	}
	db.cache = &rowCache{
		sessions:    make(map[sessionKey]*sessionRow),
		handles:     make(map[handleKey]*handleRow),
		txs:         make(map[int64]*txRow),
		txIDs:       make(map[string]int64),
		txKeys:      make(map[txKey]*txList),
		dataVersion: version,
	}
	return db.cache, nil
}

// applier applies the events of one batch inside one SQL transaction. It
// finds the sessions, handles and transactions in the rowCache, or reads
// them into it, and writes those it changed once, in flush. Every decision
// it takes from memory is the one it would take from the database, so that
// the result does not depend on where the stream was cut into batches.
type applier struct {
	ctx context.Context
	*statements
	*rowCache

	// batch numbers the batch; the rows it used (of which flush writes
	// those it changed) are marked with it.
	batch    uint64
	sessUsed []*sessionRow
	handUsed []*handleRow
	txUsed   []*txRow
	gateways map[string]*gatewayDelta

	args, args2 []any               // the arguments of a statement, reused
	row         []driver.NamedValue // the events row of the item being applied

	last                                       int64 // stream seq of the last item applied
	skipped, inserted, duplicates, undecodable int64
}

func newApplier(ctx context.Context, st *statements, c *rowCache, batch uint64) *applier {
	return &applier{
		ctx:        ctx,
		statements: st,
		rowCache:   c,
		batch:      batch,
		gateways:   make(map[string]*gatewayDelta),
	}
}

// useSession marks a session row as used by the batch, which writes it if
// it changed. Every row the batch changes must be marked.
func (a *applier) useSession(s *sessionRow) *sessionRow {
	if s != nil && s.batch != a.batch {
		s.batch = a.batch
		a.sessUsed = append(a.sessUsed, s)
	}
	return s
}

func (a *applier) useHandle(h *handleRow) *handleRow {
	if h != nil && h.batch != a.batch {
		h.batch = a.batch
		a.handUsed = append(a.handUsed, h)
	}
	return h
}

func (a *applier) useTx(t *txRow) *txRow {
	if t != nil && t.batch != a.batch {
		t.batch = a.batch
		a.txUsed = append(a.txUsed, t)
	}
	return t
}

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

// isErrorSQL is isError as SQL over a row of events.
const isErrorSQL = "dir = 'g2c' AND (error_code IS NOT NULL OR plugin_error IS NOT NULL OR kind = 'failure' OR status >= 400)"

// isError reports whether ev tells of an error: a Janus error, a plugin
// error code, a failure of the tap or an HTTP error status. It must agree
// with isErrorSQL.
func isError(ev *schema.Event, j *schema.Janus) bool {
	return ev.Direction == schema.ToClient &&
		(j.ErrorCode != 0 || j.PluginError != 0 || ev.Kind == schema.Failure || ev.Status >= 400)
}

// isAPI reports whether t carries the Janus API (not the admin API).
func isAPI(t schema.Transport) bool { return t == schema.HTTP || t == schema.WS }

// isReply reports whether a message of type typ is the direct reply to a
// request, as opposed to an asynchronous message.
func isReply(typ string) bool {
	switch typ {
	case "ack", "success", "error", "pong", "server_info":
		return true
	}
	return false
}

// The roles an event can have in a transaction.
const (
	roleNone    = iota
	roleRequest // a request of the Janus or admin API
	roleReply   // its direct reply: ack, success, error; an HTTP response, a failure
	roleEvent   // an asynchronous event carrying its transaction
)

// apply stores one event, whose row prepared made in a.row, and updates the
// rows it concerns.
func (a *applier) apply(seq int64, ev *schema.Event) error {
	j := ev.Janus
	if j == nil {
		j = &schema.Janus{}
	}
	gw := ev.Gateway
	api := isAPI(ev.Transport)
	at := ev.Time.UnixMicro()
	sess, hand := j.SessionID, j.HandleID
	if hand == 0 {
		hand = j.Sender
	}

	// The transaction the event belongs to.
	var t *txRow
	role := roleNone
	var err error
	switch {
	case ev.Direction == schema.ToGateway && j.Janus != "" && (ev.Kind == schema.Request || ev.Kind == schema.Frame):
		role = roleRequest
	case ev.Direction == schema.ToClient && ev.Parent != "" && (ev.Kind == schema.Response || ev.Kind == schema.Failure):
		role = roleReply
		t, err = a.txByID(ev.Parent)
	case ev.Direction == schema.ToClient && ev.Kind == schema.Frame && j.Transaction != "" && isReply(j.Janus):
		role = roleReply
		t, err = a.wsReplyTo(ev, j)
	case ev.Direction == schema.ToClient && (ev.Kind == schema.Frame || ev.Kind == schema.PollEvent) && j.Janus == "event" && j.Transaction != "":
		role = roleEvent
		t, err = a.eventOf(ev, j)
	}
	if err != nil {
		return err
	}
	a.useTx(t)

	// A create or attach success names what it made: link it, and its
	// request, to the new session or handle.
	var newSession, newHandle uint64
	if role == roleReply && t != nil && api && isAPI(t.transport) && j.Janus == "success" && j.DataID != 0 {
		switch t.janus {
		case "create":
			newSession, sess = j.DataID, j.DataID
		case "attach":
			newHandle, hand = j.DataID, j.DataID
			if sess == 0 {
				sess = t.session
			}
		}
	}

	var s *sessionRow
	var h *handleRow
	if sess != 0 {
		if s, err = a.session(gw, sess); err != nil {
			return err
		}
	}
	if hand != 0 {
		if h, err = a.handle(gw, hand); err != nil {
			return err
		}
	}
	plugin := j.Plugin
	if plugin == "" && h != nil {
		plugin = h.plugin
	}
	var reqSeq int64
	switch {
	case role == roleRequest:
		reqSeq = seq
	case t != nil:
		reqSeq = t.seq
	}

	a.row[colSessionID].Value, a.row[colHandleID].Value = dbID(sess), dbID(hand)
	a.row[colPlugin].Value, a.row[colRequestSeq].Value = nullStr(plugin), nullInt(reqSeq)
	err = a.insertEvent.runNamed(a.ctx, a.row, nil)
	switch {
	case isUniqueViolation(err): // its id is stored already
		a.duplicates++
		return nil
	case err != nil:
		return fmt.Errorf("insert event: %w", err)
	}
	a.inserted++
	g := a.gateway(gw)
	g.events++
	g.firstSeen = min(g.firstSeen, at)
	g.lastSeen = max(g.lastSeen, at)
	if ev.Kind == schema.JanusEvent {
		return a.applyEvh(seq, ev)
	}

	// Count the event in the session and handle it names. Rows made below
	// count it (and the events before it) when they are made.
	isErr := isError(ev, j)
	if api {
		if s != nil {
			s.touch(at, isErr)
		}
		if h != nil {
			h.touch(at, isErr)
		}
	}

	switch role {
	case roleRequest:
		a.newTx(seq, ev, j, h)
		if h != nil {
			// The latest join names the handle's room and display name.
			if room, display, ok := joinOf(ev, j); ok {
				if room != "" {
					h.room = room
				}
				if display != "" {
					h.display = display
				}
			}
		}
	case roleNone:
		if ev.Kind == schema.Request {
			a.txIDs[ev.ID] = 0 // a long poll, an OPTIONS: its response answers no transaction
		}
	case roleReply:
		if t != nil {
			t.onReply(seq, ev, j)
		}
	case roleEvent:
		if t != nil {
			t.onEvent(ev, j)
		}
	}
	if ev.Kind == schema.Close && ev.Transport == schema.WS {
		// Either side may close first; the first close ends the sessions.
		return a.closeConn(gw, ev.Conn, at)
	}
	if ev.Direction == schema.ToClient {
		return a.effects(ev, j, t, newSession, newHandle)
	}
	return nil
}

// effects updates sessions and handles for a message from the gateway.
func (a *applier) effects(ev *schema.Event, j *schema.Janus, t *txRow, newSession, newHandle uint64) error {
	gw := ev.Gateway
	at := ev.Time.UnixMicro()
	api := isAPI(ev.Transport)
	success := j.Janus == "success" && j.ErrorCode == 0

	// A message that the gateway sent about a session or handle without
	// complaint shows that it exists, even when the log does not hold its
	// creation (the capture started later). Admin replies prove nothing of
	// the kind: an admin request must never make a session.
	if api && j.SessionID != 0 && j.Janus != "" && j.Janus != "error" && j.ErrorCode == 0 && ev.Status < 400 {
		if _, err := a.ensureSession(gw, j.SessionID, ev); err != nil {
			return err
		}
		if j.Sender != 0 {
			if _, err := a.ensureHandle(gw, j.Sender, j.SessionID, j.Plugin, j.OpaqueID, 0, 0); err != nil {
				return err
			}
		}
	}

	switch {
	case newSession != 0:
		// The request first, so that the new row counts it.
		if err := a.stamp(a.stampSession, newSession, t.seq); err != nil {
			return err
		}
		if err := a.createSession(gw, newSession, t, at); err != nil {
			return err
		}
		t.session = newSession
	case newHandle != 0:
		sess := t.session
		if sess == 0 {
			sess = j.SessionID
		}
		if err := a.stamp(a.stampHandle, newHandle, t.seq); err != nil {
			return err
		}
		h, err := a.ensureHandle(gw, newHandle, sess, t.plugin, t.opaqueID, t.seq, at)
		if err != nil {
			return err
		}
		h.attachSeq, h.attachedAt = t.seq, at
		t.handle = newHandle
	}

	// Replies whose success changes a session or handle.
	if t != nil && success && ev.Kind != schema.Failure {
		switch {
		case api && t.janus == "destroy" && t.session != 0:
			if err := a.endSession(gw, t.session, EndDestroyed, at); err != nil {
				return err
			}
		case api && t.janus == "detach" && t.handle != 0:
			if h, err := a.handle(gw, t.handle); err != nil {
				return err
			} else if h != nil && h.detachedAt == 0 {
				h.detachedAt = at
			}
		case api && t.janus == "claim" && t.session != 0:
			s, err := a.session(gw, t.session)
			if err != nil {
				return err
			}
			if s != nil {
				s.sourceConn = ""
				if t.transport == schema.WS {
					s.sourceConn = t.conn
				}
				if s.ended == EndWSClosed { // claimed within reclaim_session_timeout
					s.ended, s.endedAt = "", 0
				}
			}
		case !api && t.janus == "destroy_session" && t.session != 0:
			if err := a.endSession(gw, t.session, EndDestroyed, at); err != nil {
				return err
			}
		}
	}

	// Messages that say a session is gone without saying how: 458 "No such
	// session", or a long poll answered 404.
	if j.SessionID != 0 && (j.ErrorCode == 458 ||
		ev.Transport == schema.HTTP && ev.Kind == schema.Response && ev.Method == "GET" && ev.Status == 404) {
		if err := a.endSession(gw, j.SessionID, EndUnknown, at); err != nil {
			return err
		}
	}

	if !api {
		return nil
	}
	switch j.Janus {
	case "timeout":
		if j.SessionID != 0 {
			if err := a.endSession(gw, j.SessionID, EndTimeout, at); err != nil {
				return err
			}
		}
	case "webrtcup", "hangup", "media", "slowlink", "detached":
		if j.Sender == 0 {
			break
		}
		h, err := a.handle(gw, j.Sender)
		if err != nil || h == nil {
			return err
		}
		switch j.Janus {
		case "webrtcup":
			if h.webrtcupAt == 0 {
				h.webrtcupAt = at
			}
		case "hangup":
			h.hangupAt, h.hangupReason = at, j.Reason
		case "media":
			h.media++
		case "slowlink":
			h.slowlinks++
		case "detached":
			if h.detachedAt == 0 {
				h.detachedAt = at
			}
		}
	}
	return nil
}

// stamp links a create or attach request to what it made.
func (a *applier) stamp(st *rawStmt, id uint64, seq int64) error {
	if err := st.exec(a.ctx, dbID(id), seq); err != nil {
		return fmt.Errorf("link request %d to %d: %w", seq, id, err)
	}
	return nil
}

// gateway returns the changes of this batch to a gateway row.
func (a *applier) gateway(gw string) *gatewayDelta {
	g := a.gateways[gw]
	if g == nil {
		g = &gatewayDelta{firstSeen: math.MaxInt64, lastSeen: math.MinInt64}
		a.gateways[gw] = g
	}
	return g
}

// session returns a session row, or nil when there is none.
func (a *applier) session(gw string, id uint64) (*sessionRow, error) {
	k := sessionKey{gw, id}
	if s, ok := a.sessions[k]; ok {
		return a.useSession(s), nil
	}
	s := &sessionRow{}
	found, err := a.getSession.queryRow(a.ctx, []any{gw, dbID(id)}, func(r scanner) error { return scanSession(r, s) })
	if err != nil {
		return nil, fmt.Errorf("read session %d: %w", id, err)
	}
	if found {
		s.orig = s.sessionVals
	} else {
		s = nil
	}
	a.sessions[k] = s
	return a.useSession(s), nil
}

// handle returns a handle row, or nil when there is none.
func (a *applier) handle(gw string, id uint64) (*handleRow, error) {
	k := handleKey{gw, id}
	if h, ok := a.handles[k]; ok {
		return a.useHandle(h), nil
	}
	h := &handleRow{}
	found, err := a.getHandle.queryRow(a.ctx, []any{gw, dbID(id)}, func(r scanner) error { return scanHandle(r, h) })
	if err != nil {
		return nil, fmt.Errorf("read handle %d: %w", id, err)
	}
	if found {
		h.orig = h.handleVals
	} else {
		h = nil
	}
	a.handles[k] = h
	return a.useHandle(h), nil
}

// counts returns what the events stored so far say of a new session or
// handle: how many Janus API events name it, how many are errors, and when
// the first and last were seen.
func (a *applier) counts(st *rawStmt, gw string, id uint64) (n, errs, first, last int64, err error) {
	_, err = st.queryRow(a.ctx, []any{gw, dbID(id)}, func(r scanner) error {
		return r.Scan(nInt(&n), nInt(&errs), nInt(&first), nInt(&last))
	})
	if err != nil {
		return 0, 0, 0, 0, fmt.Errorf("count events of %d: %w", id, err)
	}
	return n, errs, first, last, nil
}

// newSession makes the row of a session that is not in the store.
func (a *applier) newSession(gw string, id uint64, tr schema.Transport, conn string) (*sessionRow, error) {
	n, errs, first, last, err := a.counts(a.countSession, gw, id)
	if err != nil {
		return nil, err
	}
	s := &sessionRow{sessionVals: sessionVals{gateway: gw, id: id, transport: string(tr), conn: conn,
		firstSeen: first, lastSeen: last, events: n, errors: errs}, isNew: true}
	if tr == schema.WS {
		s.sourceConn = conn
	}
	a.sessions[sessionKey{gw, id}] = a.useSession(s)
	a.gateway(gw).sessions++
	return s, nil
}

// ensureSession returns the row of a session, making it from ev when the
// store does not have it.
func (a *applier) ensureSession(gw string, id uint64, ev *schema.Event) (*sessionRow, error) {
	s, err := a.session(gw, id)
	if err != nil || s != nil {
		return s, err
	}
	return a.newSession(gw, id, ev.Transport, ev.Conn)
}

// createSession records the session made by a create request.
func (a *applier) createSession(gw string, id uint64, t *txRow, at int64) error {
	s, err := a.session(gw, id)
	if err != nil {
		return err
	}
	if s == nil {
		if s, err = a.newSession(gw, id, t.transport, t.conn); err != nil {
			return err
		}
	} else { // an id given back by a create with "id" after the old one ended
		s.transport, s.conn, s.sourceConn = string(t.transport), t.conn, ""
		if t.transport == schema.WS {
			s.sourceConn = t.conn
		}
		s.destroyedAt, s.timedOutAt, s.endedAt, s.ended = 0, 0, 0, ""
	}
	s.createSeq, s.createdAt = t.seq, at
	return nil
}

// endSession records the end of a session the store knows. The first end
// recorded stands, except that an end only inferred ("unknown": a 458, or a
// 404 on a long poll, which can reach the log before the destroy that caused
// it when the two travel on different connections) gives way to a destroy
// or a timeout; destroyed_at and timed_out_at are kept apart.
func (a *applier) endSession(gw string, id uint64, how End, at int64) error {
	s, err := a.session(gw, id)
	if err != nil || s == nil {
		return err
	}
	switch how {
	case EndDestroyed:
		if s.destroyedAt == 0 {
			s.destroyedAt = at
		}
	case EndTimeout:
		if s.timedOutAt == 0 {
			s.timedOutAt = at
		}
	}
	if s.ended == "" || s.ended == EndUnknown && (how == EndDestroyed || how == EndTimeout) {
		s.ended = how
		if s.endedAt == 0 || at < s.endedAt {
			s.endedAt = at
		}
	}
	return nil
}

// closeConn ends the sessions whose events went to a WebSocket that closed:
// Janus destroys them (with the default reclaim_session_timeout of 0).
func (a *applier) closeConn(gw, conn string, at int64) error {
	var ids []uint64
	err := a.getSourced.run(a.ctx, []any{gw, conn}, func(r valueRow) error {
		var id uint64
		if err := r.Scan(nInt(&id)); err != nil {
			return err
		}
		ids = append(ids, id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("find sessions of connection %s: %w", conn, err)
	}
	for _, id := range ids {
		if _, err := a.session(gw, id); err != nil {
			return err
		}
	}
	// The rows in memory are the truth for the sessions they hold. Those
	// the batch did not use are as stored, so the query found those of
	// them that the close ends, and session marked them used.
	for _, s := range a.sessUsed {
		if s != nil && s.gateway == gw && s.sourceConn == conn && s.ended == "" {
			a.useSession(s)
			s.ended, s.endedAt = EndWSClosed, at
		}
	}
	return nil
}

// ensureHandle returns the row of a handle, making it when the store does
// not have it.
func (a *applier) ensureHandle(gw string, id, session uint64, plugin, opaqueID string, attachSeq, attachedAt int64) (*handleRow, error) {
	h, err := a.handle(gw, id)
	if err != nil {
		return nil, err
	}
	if h != nil {
		if h.plugin == "" && plugin != "" {
			h.plugin = plugin
		}
		if h.opaqueID == "" && opaqueID != "" {
			h.opaqueID = opaqueID
		}
		return h, nil
	}
	n, errs, first, last, err := a.counts(a.countHandle, gw, id)
	if err != nil {
		return nil, err
	}
	h = &handleRow{handleVals: handleVals{gateway: gw, id: id, session: session, plugin: plugin, opaqueID: opaqueID,
		attachSeq: attachSeq, attachedAt: attachedAt,
		firstSeen: first, lastSeen: last, events: n, errors: errs}, isNew: true}
	a.handles[handleKey{gw, id}] = a.useHandle(h)
	if s, err := a.session(gw, session); err != nil {
		return nil, err
	} else if s != nil {
		s.handles++
	}
	return h, nil
}

// newTx records a request.
func (a *applier) newTx(seq int64, ev *schema.Event, j *schema.Janus, h *handleRow) {
	t := &txRow{txRequest: txRequest{seq: seq, id: ev.ID, gateway: ev.Gateway, tx: j.Transaction,
		transport: ev.Transport, conn: ev.Conn, janus: j.Janus, plugin: j.Plugin, opaqueID: j.OpaqueID, jsep: j.JSEP,
		requestAt: ev.Time.UnixMicro(), requestTap: ev.Tap, requestMono: ev.Mono},
		txAnswer: txAnswer{session: j.SessionID, handle: j.HandleID}, isNew: true}
	if t.plugin == "" && h != nil {
		t.plugin = h.plugin
	}
	if j.PluginKey == "request" {
		t.request = j.PluginValue
	}
	a.txs[seq] = a.useTx(t)
	a.txIDs[ev.ID] = seq
	if t.tx != "" {
		l := a.txKeys[txKey{ev.Gateway, t.tx}]
		if l == nil {
			l = &txList{}
			a.txKeys[txKey{ev.Gateway, t.tx}] = l
		}
		l.rows = append(l.rows, t)
		if n := len(l.rows); n > 2*candidatesKept {
			// Only the latest are candidates; older ones, if ever
			// needed, come back from the database when the list loads.
			l.rows = append(l.rows[:0], l.rows[n-candidatesKept:]...)
		}
	}
}

// txBySeq returns the transaction of the request with stream seq seq, or nil.
func (a *applier) txBySeq(seq int64) (*txRow, error) {
	if t, ok := a.txs[seq]; ok {
		return a.useTx(t), nil
	}
	t := &txRow{}
	found, err := a.getTx.queryRow(a.ctx, []any{seq}, func(r scanner) error { return scanTx(r, t) })
	if err != nil {
		return nil, fmt.Errorf("read transaction of request %d: %w", seq, err)
	}
	if found {
		t.orig = t.txAnswer
	} else {
		t = nil
	}
	a.txs[seq] = t
	return a.useTx(t), nil
}

// txByID returns the transaction whose request is the event id, or nil: the
// HTTP request an HTTP response or failure answers.
func (a *applier) txByID(id string) (*txRow, error) {
	seq, ok := a.txIDs[id]
	if !ok {
		_, err := a.getEventID.queryRow(a.ctx, []any{id}, func(r scanner) error { return r.Scan(nInt(&seq)) })
		if err != nil {
			return nil, fmt.Errorf("find request %s: %w", id, err)
		}
		a.txIDs[id] = seq
	}
	if seq == 0 {
		return nil, nil
	}
	return a.txBySeq(seq)
}

// candidates returns the latest requests that carried transaction tx, in
// stream order.
func (a *applier) candidates(gw, tx string) ([]*txRow, error) {
	k := txKey{gw, tx}
	l := a.txKeys[k]
	if l == nil {
		l = &txList{}
		a.txKeys[k] = l
	}
	if !l.loaded {
		var seqs []int64
		err := a.getTxByKey.run(a.ctx, []any{gw, tx}, func(r valueRow) error {
			var seq int64
			if err := r.Scan(nInt(&seq)); err != nil {
				return err
			}
			seqs = append(seqs, seq)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("find requests of transaction %q: %w", tx, err)
		}
		// The events table has the requests of the batch too: they are in
		// l.rows already.
		seqs = slices.DeleteFunc(seqs, func(seq int64) bool {
			return slices.ContainsFunc(l.rows, func(t *txRow) bool { return t.seq == seq })
		})
		slices.Sort(seqs)
		if len(seqs) > candidatesKept {
			seqs = seqs[len(seqs)-candidatesKept:]
		}
		old := make([]*txRow, 0, len(seqs)+len(l.rows))
		for _, seq := range seqs {
			t, err := a.txBySeq(seq) // the row in memory when the batch has read it
			if err != nil {
				return nil, err
			}
			if t != nil {
				old = append(old, t)
			}
		}
		// The rows of the batch are all newer than those before it.
		l.rows = append(old, l.rows...)
		l.loaded = true
	}
	if n := len(l.rows); n > candidatesKept {
		return l.rows[n-candidatesKept:], nil
	}
	return l.rows, nil
}

// batchCandidates returns the candidates for transaction tx among the
// requests of the batch, before the database is read: the latest of them,
// all newer than those in the database.
func (a *applier) batchCandidates(gw, tx string) []*txRow {
	l := a.txKeys[txKey{gw, tx}]
	if l == nil || l.loaded {
		return nil // when loaded, candidates has them all
	}
	if n := len(l.rows); n > candidatesKept {
		return l.rows[n-candidatesKept:]
	}
	return l.rows
}

// wsReplyTo returns the request a WebSocket reply answers: the latest
// request on the same connection with its transaction that has no reply
// yet, else the latest one.
func (a *applier) wsReplyTo(ev *schema.Event, j *schema.Janus) (*txRow, error) {
	// The requests of the batch are newer than those in the database: when
	// one of them is the answer, the database need not be read.
	for _, c := range slices.Backward(a.batchCandidates(ev.Gateway, j.Transaction)) {
		if c.conn == ev.Conn && c.replySeq == 0 {
			return c, nil
		}
	}
	cands, err := a.candidates(ev.Gateway, j.Transaction)
	if err != nil {
		return nil, err
	}
	var latest *txRow
	for i := len(cands) - 1; i >= 0; i-- {
		c := cands[i]
		if c.conn != ev.Conn {
			continue
		}
		if c.replySeq == 0 {
			return c, nil
		}
		if latest == nil {
			latest = c
		}
	}
	return latest, nil
}

// eventOf returns the request an asynchronous event carrying a transaction
// belongs to: the latest request of the same API with that transaction, on
// the event's session and handle. The event may come on another connection
// (an HTTP long poll, a WebSocket that claimed the session) and before the
// request's ack.
func (a *applier) eventOf(ev *schema.Event, j *schema.Janus) (*txRow, error) {
	admin := ev.Transport.IsAdmin()
	match := func(c *txRow) bool {
		return c.transport.IsAdmin() == admin &&
			(j.SessionID == 0 || c.session == j.SessionID) &&
			(j.Sender == 0 || c.handle == 0 || c.handle == j.Sender)
	}
	for _, c := range slices.Backward(a.batchCandidates(ev.Gateway, j.Transaction)) {
		if match(c) {
			return c, nil // newer than any in the database
		}
	}
	cands, err := a.candidates(ev.Gateway, j.Transaction)
	if err != nil {
		return nil, err
	}
	for _, c := range slices.Backward(cands) {
		if match(c) {
			return c, nil
		}
	}
	return nil, nil
}

// flush writes the rows the batch changed and the new last sequence: an
// INSERT for a row made by the batch, an UPDATE of the counters of a row
// whose counters only changed, of every column for others; of what
// answered it for a transaction.
func (a *applier) flush(last int64) error {
	// put runs insert, or update with the arguments made for it, which
	// take the key first, as the UPDATE takes it last.
	put := func(insert, update *rawStmt, args []any, nkey int) error {
		if insert != nil {
			return insert.run(a.ctx, args, nil)
		}
		a.args2 = append(append(a.args2[:0], args[nkey:]...), args[:nkey]...)
		return update.run(a.ctx, a.args2, nil)
	}
	for _, s := range a.sessUsed {
		var err error
		switch {
		case s.isNew:
			err = put(a.insSession, nil, s.appendArgs(a.args[:0]), 2)
		case s.sessionVals == s.orig:
			continue
		case s.countersOnly():
			err = put(nil, a.countSessionSet, s.appendCounterArgs(a.args[:0]), 2)
		default:
			err = put(nil, a.setSession, s.appendArgs(a.args[:0]), 2)
		}
		if err != nil {
			return fmt.Errorf("write session %d: %w", s.id, err)
		}
		s.orig, s.isNew = s.sessionVals, false
	}
	for _, h := range a.handUsed {
		var err error
		switch {
		case h.isNew:
			err = put(a.insHandle, nil, h.appendArgs(a.args[:0]), 2)
		case h.handleVals == h.orig:
			continue
		case h.countersOnly():
			err = put(nil, a.countHandleSet, h.appendCounterArgs(a.args[:0]), 2)
		default:
			err = put(nil, a.setHandle, h.appendArgs(a.args[:0]), 2)
		}
		if err != nil {
			return fmt.Errorf("write handle %d: %w", h.id, err)
		}
		h.orig, h.isNew = h.handleVals, false
	}
	// In stream order, so that new rows go at the end of the table, where
	// SQLite appends without searching.
	slices.SortFunc(a.txUsed, func(x, y *txRow) int { return cmp.Compare(x.seq, y.seq) })
	for _, t := range a.txUsed {
		var err error
		switch {
		case t.isNew:
			err = put(a.insTx, nil, t.appendArgs(a.args[:0]), 1)
		case t.txAnswer == t.orig:
			continue
		default:
			err = put(nil, a.answerTx, t.appendAnswerArgs(a.args[:0]), 1)
		}
		if err != nil {
			return fmt.Errorf("write transaction of request %s: %w", t.id, err)
		}
		t.orig, t.isNew = t.txAnswer, false
	}
	for gw, g := range a.gateways {
		if g.events == 0 && g.sessions == 0 {
			continue
		}
		if err := a.putGateway.exec(a.ctx, gw, g.firstSeen, g.lastSeen, g.events, g.sessions); err != nil {
			return fmt.Errorf("write gateway %s: %w", gw, err)
		}
	}
	if err := a.putProgress.exec(a.ctx, last, a.inserted, a.duplicates, a.undecodable); err != nil {
		return fmt.Errorf("write progress: %w", err)
	}
	return nil
}
