package store

import (
	"context"
	"database/sql/driver"
	"fmt"
	"math"

	"github.com/janustap/janustap/schema"
)

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
