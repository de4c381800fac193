package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
)

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
