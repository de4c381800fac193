package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/janustap/janustap/schema"
)

// End says how a session ended.
type End string

// The ways a session ends.
const (
	EndDestroyed End = "destroyed" // a destroy request succeeded (or admin destroy_session)
	EndTimeout   End = "timeout"   // Janus sent a timeout event
	EndWSClosed  End = "ws-closed" // the WebSocket receiving its events closed; Janus destroys it
	EndUnknown   End = "unknown"   // Janus said it did not know it (458, or 404 on a long poll)
)

// SessionRow is a row of the sessions table. Times the log does not show
// are zero.
type SessionRow struct {
	Gateway string
	ID      uint64
	// Transport and Conn are those of the create request, or of the first
	// message that showed the session when the log does not hold its
	// creation.
	Transport schema.Transport
	Conn      string
	// SourceConn is the WebSocket its events go to (its creator, or the last
	// one that claimed it); "" over HTTP.
	SourceConn string
	CreatedAt  time.Time // the create success
	// DestroyedAt and TimedOutAt are the destroy success and timeout event;
	// EndedAt is the first end of any kind, and Ended says which. Ended is
	// "" while the session is open.
	DestroyedAt time.Time
	TimedOutAt  time.Time
	EndedAt     time.Time
	Ended       End
	// FirstSeen and LastSeen bound the Janus API events naming the session;
	// Events counts them and Errors those that are errors (Janus errors,
	// plugin error codes, HTTP errors, failures of the tap). Admin API
	// events are linked to the session but not counted.
	FirstSeen time.Time
	LastSeen  time.Time
	Events    int
	Errors    int
	// Handles counts the handles attached; Plugins lists their plugins.
	Handles int
	Plugins []string
}

// Start returns when the session was created, or first seen.
func (s *SessionRow) Start() time.Time {
	if !s.CreatedAt.IsZero() {
		return s.CreatedAt
	}
	return s.FirstSeen
}

// Duration returns how long the session lasted: to its end, or while open
// to its last event.
func (s *SessionRow) Duration() time.Duration {
	end := s.EndedAt
	if end.IsZero() {
		end = s.LastSeen
	}
	return end.Sub(s.Start())
}

// HandleRow is a row of the handles table.
type HandleRow struct {
	Gateway   string
	ID        uint64
	SessionID uint64
	// Plugin and OpaqueID come from the attach request, or from the
	// gateway's messages when the log does not hold the attach.
	Plugin     string
	OpaqueID   string
	AttachedAt time.Time // the attach success
	DetachedAt time.Time // the detach success or detached event
	WebRTCUpAt time.Time // the first webrtcup
	// HangupAt and HangupReason are those of the last hangup.
	HangupAt     time.Time
	HangupReason string
	Media        int // media events
	Slowlinks    int // slowlink events
	FirstSeen    time.Time
	LastSeen     time.Time
	Events       int // Janus API events naming the handle
	Errors       int
}

// TransactionRow is a row of the transactions table: one request and what
// answered it.
type TransactionRow struct {
	Gateway     string
	Transaction string // "" for a request that had none
	RequestSeq  uint64 // stream sequence of the request
	RequestID   string // event id of the request
	Transport   schema.Transport
	Conn        string
	// SessionID and HandleID are those the request named, or for a create
	// or attach the session or handle it made.
	SessionID     uint64
	HandleID      uint64
	Janus         string // the verb
	Plugin        string // of an attach, or of the handle a message went to
	PluginRequest string // the "request" of a plugin message body, as "join"
	OpaqueID      string
	JSEP          string // type of the jsep the request carried
	RequestAt     time.Time
	// ReplySeq is the stream sequence of the direct reply.
	ReplySeq uint64
	// Reply is the type of the direct reply ("ack", "success", "error",
	// "failure"...), ReplyAt its time and ReplyLatency the time from the
	// request, measured on the tap's monotonic clock. Zero without reply.
	Reply        string
	ReplyAt      time.Time
	ReplyLatency time.Duration
	Status       int // HTTP status of the response
	AckAt        time.Time
	// Result is "success", "error" or "event": the first reply or event
	// that was not an ack. ResultAt is its time.
	Result      string
	ResultAt    time.Time
	ErrorCode   int
	ErrorReason string
	PluginError int
	// Events counts the asynchronous events carrying the transaction;
	// EventAt and EventLatency are those of the first.
	Events       int
	EventAt      time.Time
	EventLatency time.Duration
}

func (s *sessionRow) export() SessionRow {
	return SessionRow{Gateway: s.gateway, ID: s.id, Transport: schema.Transport(s.transport), Conn: s.conn,
		SourceConn: s.sourceConn, CreatedAt: micros(s.createdAt), DestroyedAt: micros(s.destroyedAt),
		TimedOutAt: micros(s.timedOutAt), EndedAt: micros(s.endedAt), Ended: s.ended,
		FirstSeen: micros(s.firstSeen), LastSeen: micros(s.lastSeen), Events: int(s.events),
		Errors: int(s.errors), Handles: int(s.handles)}
}

func (h *handleRow) export() HandleRow {
	return HandleRow{Gateway: h.gateway, ID: h.id, SessionID: h.session, Plugin: h.plugin, OpaqueID: h.opaqueID,
		AttachedAt: micros(h.attachedAt), DetachedAt: micros(h.detachedAt), WebRTCUpAt: micros(h.webrtcupAt),
		HangupAt: micros(h.hangupAt), HangupReason: h.hangupReason, Media: int(h.media), Slowlinks: int(h.slowlinks),
		FirstSeen: micros(h.firstSeen), LastSeen: micros(h.lastSeen), Events: int(h.events), Errors: int(h.errors)}
}

func (t *txRow) export() TransactionRow {
	r := TransactionRow{Gateway: t.gateway, Transaction: t.tx, RequestSeq: uint64(t.seq), RequestID: t.id,
		Transport: t.transport, Conn: t.conn, SessionID: t.session, HandleID: t.handle, Janus: t.janus,
		Plugin: t.plugin, PluginRequest: t.request, OpaqueID: t.opaqueID, JSEP: t.jsep, RequestAt: micros(t.requestAt),
		ReplySeq: uint64(t.replySeq), Reply: t.reply, ReplyAt: micros(t.replyAt), Status: int(t.status), AckAt: micros(t.ackAt),
		Result: t.result, ResultAt: micros(t.resultAt), ErrorCode: int(t.errorCode), ErrorReason: t.errorReason,
		PluginError: int(t.pluginError), Events: int(t.events), EventAt: micros(t.eventAt)}
	if t.replySeq != 0 {
		r.ReplyLatency = time.Duration(t.replyUS) * time.Microsecond
	}
	if t.events != 0 {
		r.EventLatency = time.Duration(t.eventUS) * time.Microsecond
	}
	return r
}

// SessionFilter selects sessions. The zero value selects every session.
type SessionFilter struct {
	Gateway string // "" means every gateway
	// From and To select the sessions seen in [From, To); zero means
	// unbounded.
	From, To time.Time
	// Plugin selects sessions with a handle of that plugin, named in full
	// ("janus.plugin.videoroom") or short ("videoroom").
	Plugin   string
	OpaqueID string // sessions with a handle of that opaque_id
	// Room and Display select sessions with a handle that joined room Room
	// (its id as text) and whose display name starts with Display (ASCII
	// case-insensitive); both on the same handle when both are set.
	Room, Display string
	WithErrors    bool             // sessions with at least one error
	TimedOut      bool             // sessions that timed out
	Transport     schema.Transport // sessions created over that transport
	Limit         int              // at most that many; 0 means no limit

	// From Janus's own events (janus_handles):
	ICEFailed  bool   // sessions with a handle whose ICE failed
	NoWebRTCUp bool   // sessions with a handle that negotiated a PeerConnection (an SDP) and never reached webrtcup
	Hangup     string // sessions with a handle hung up for this reason (Janus's, or the signaling's hangup event)
	NoMedia    bool   // sessions with a handle that negotiated a PeerConnection and never received media
}

// sessionQuery selects the session columns and the plugins of its handles.
// Without INDEXED BY, SQLite (no ANALYZE statistics) reads the handles by
// the primary key's gateway prefix, every handle of the gateway per session.
const sessionQuery = "SELECT " + sessionCols + ", (SELECT group_concat(plugin, ',') FROM (SELECT DISTINCT h.plugin " +
	"FROM handles h INDEXED BY handles_session WHERE h.gateway = s.gateway AND h.session_id = s.session_id AND h.plugin IS NOT NULL " +
	"ORDER BY h.plugin)) FROM sessions s"

func scanSessionExport(r scanner) (SessionRow, error) {
	var s sessionRow
	var plugins sql.NullString
	if err := r.Scan(nText(&s.gateway), nInt(&s.id), nText(&s.transport), nText(&s.conn), nText(&s.sourceConn),
		nInt(&s.createSeq), nInt(&s.createdAt), nInt(&s.destroyedAt), nInt(&s.timedOutAt), nInt(&s.endedAt),
		nText(&s.ended), nInt(&s.firstSeen), nInt(&s.lastSeen), nInt(&s.events), nInt(&s.errors),
		nInt(&s.handles), &plugins); err != nil {
		return SessionRow{}, err
	}
	row := s.export()
	if plugins.String != "" {
		row.Plugins = strings.Split(plugins.String, ",")
	}
	return row, nil
}

// Sessions returns the sessions f selects, in the order they started.
func (db *DB) Sessions(ctx context.Context, f SessionFilter) ([]SessionRow, error) {
	var where []string
	var args []any
	if f.Gateway != "" {
		where, args = append(where, "s.gateway = ?"), append(args, f.Gateway)
	}
	if !f.From.IsZero() {
		where, args = append(where, "s.last_seen >= ?"), append(args, f.From.UnixMicro())
	}
	if !f.To.IsZero() {
		where, args = append(where, "s.first_seen < ?"), append(args, f.To.UnixMicro())
	}
	if f.Plugin != "" {
		where = append(where, "EXISTS (SELECT 1 FROM handles h INDEXED BY handles_session WHERE h.gateway = s.gateway AND "+
			"h.session_id = s.session_id AND (h.plugin = ? OR h.plugin = 'janus.plugin.' || ?))")
		args = append(args, f.Plugin, f.Plugin)
	}
	if f.OpaqueID != "" {
		where = append(where, "EXISTS (SELECT 1 FROM handles h INDEXED BY handles_session WHERE h.gateway = s.gateway AND "+
			"h.session_id = s.session_id AND h.opaque_id = ?)")
		args = append(args, f.OpaqueID)
	}
	if f.Room != "" || f.Display != "" {
		cond, a := joinFilter(f.Room, f.Display)
		where, args = append(where, cond), append(args, a...)
	}
	if f.WithErrors {
		where = append(where, "s.errors > 0")
	}
	if f.TimedOut {
		where = append(where, "s.timed_out_at IS NOT NULL")
	}
	if f.Transport != "" {
		where, args = append(where, "s.transport = ?"), append(args, string(f.Transport))
	}
	janusHandle := func(cond string) string {
		return "EXISTS (SELECT 1 FROM janus_handles jh WHERE jh.gateway = s.gateway AND jh.session_id = s.session_id AND " + cond + ")"
	}
	if f.ICEFailed {
		where = append(where, janusHandle("jh.ice_failed_at IS NOT NULL"))
	}
	if f.NoWebRTCUp {
		where = append(where, janusHandle("(jh.remote_sdp IS NOT NULL OR jh.local_sdp IS NOT NULL) AND jh.webrtcup_at IS NULL"))
	}
	if f.NoMedia {
		where = append(where, janusHandle("(jh.remote_sdp IS NOT NULL OR jh.local_sdp IS NOT NULL) AND jh.receiving_at IS NULL"))
	}
	if f.Hangup != "" {
		where = append(where, "("+janusHandle("jh.hangup_reason = ?")+" OR EXISTS (SELECT 1 FROM handles h WHERE "+
			"h.gateway = s.gateway AND h.session_id = s.session_id AND h.hangup_reason = ?))")
		args = append(args, f.Hangup, f.Hangup)
	}
	q := sessionQuery
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY coalesce(s.created_at, s.first_seen), s.gateway, s.session_id"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	var out []SessionRow
	for rows.Next() {
		s, err := scanSessionExport(rows)
		if err != nil {
			return nil, fmt.Errorf("list sessions: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return out, nil
}

// SessionDetail is a session with its handles and transactions.
type SessionDetail struct {
	SessionRow
	Handles      []HandleRow      // in the order they were attached or seen
	Transactions []TransactionRow // in stream order
}

// Session returns one session, or an error wrapping ErrNotFound.
func (db *DB) Session(ctx context.Context, gateway string, id uint64) (*SessionDetail, error) {
	d, err := db.SessionHandles(ctx, gateway, id)
	if err != nil {
		return nil, err
	}
	// The requests of a session are events naming it (the create request
	// too: Apply links it to the session it made).
	d.Transactions, err = db.transactions(ctx, "WHERE request_seq IN (SELECT stream_seq FROM events "+
		"WHERE gateway = ? AND session_id = ? AND request_seq = stream_seq) ORDER BY request_seq", gateway, dbID(id))
	if err != nil {
		return nil, fmt.Errorf("read session %d of %s: %w", id, gateway, err)
	}
	return d, nil
}

// SessionHandles returns one session with its handles but not its
// transactions (a long session has thousands), or an error wrapping
// ErrNotFound.
func (db *DB) SessionHandles(ctx context.Context, gateway string, id uint64) (*SessionDetail, error) {
	s, err := scanSessionExport(db.r.QueryRowContext(ctx, sessionQuery+" WHERE s.gateway = ? AND s.session_id = ?",
		gateway, dbID(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read session %d of %s: %w", id, gateway, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read session %d of %s: %w", id, gateway, err)
	}
	d := &SessionDetail{SessionRow: s}
	if d.Handles, err = db.handles(ctx, gateway, id); err != nil {
		return nil, fmt.Errorf("read session %d of %s: %w", id, gateway, err)
	}
	return d, nil
}

func (db *DB) handles(ctx context.Context, gateway string, session uint64) ([]HandleRow, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT "+handleCols+" FROM handles WHERE gateway = ? AND session_id = ? "+
		"ORDER BY coalesce(attached_at, first_seen), handle_id", gateway, dbID(session))
	if err != nil {
		return nil, fmt.Errorf("read handles: %w", err)
	}
	defer rows.Close()
	var out []HandleRow
	for rows.Next() {
		var h handleRow
		if err := scanHandle(rows, &h); err != nil {
			return nil, fmt.Errorf("read handles: %w", err)
		}
		out = append(out, h.export())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read handles: %w", err)
	}
	return out, nil
}

func (db *DB) transactions(ctx context.Context, where string, args ...any) ([]TransactionRow, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT "+txCols+" FROM transactions "+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read transactions: %w", err)
	}
	defer rows.Close()
	var out []TransactionRow
	for rows.Next() {
		var t txRow
		if err := scanTx(rows, &t); err != nil {
			return nil, fmt.Errorf("read transactions: %w", err)
		}
		out = append(out, t.export())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read transactions: %w", err)
	}
	return out, nil
}

// TimelineEntry is one event as a timeline shows it.
type TimelineEntry struct {
	StreamSeq uint64
	ID        string
	Time      time.Time
	Transport schema.Transport
	Direction schema.Direction
	Kind      schema.Kind
	Conn      string
	Method    string
	Path      string
	Status    int
	Janus     string
	SessionID uint64
	HandleID  uint64 // handle_id of a request, sender of a reply
	// Transaction is the Janus transaction; RequestSeq the stream sequence
	// of the request of the transaction the event belongs to (its own for a
	// request), 0 when it belongs to none.
	Transaction string
	RequestSeq  uint64
	// SinceRequest is the time from the request of the transaction to this
	// event; 0 for the request itself and for events of no transaction.
	SinceRequest time.Duration
	Plugin       string
	PluginKey    string
	PluginValue  string
	PluginError  int
	ErrorCode    int
	ErrorReason  string
	JSEP         string
	HasJSEP      bool
	CloseCode    int
	Error        string // of a failure, or a close the tap made
	Body         []byte
	Truncated    bool
	Redacted     bool
	// JanusTime is the time on Janus's clock of a Janus event (transport
	// evh), whose Time is JanusTime corrected by the gateway's clock
	// offset; Detail is what the event says beyond its Janus (the state or
	// name it reports): a candidate, a pair, a reason, a mid.
	JanusTime time.Time
	Detail    string
}

// PluginShort returns the plugin data in short form: the plugin without
// "janus.plugin.", a slash and the first value of the plugin data, as
// "videoroom/join" or "echotest/event"; "" when there is no plugin data.
func (e *TimelineEntry) PluginShort() string {
	what := e.PluginValue
	if what == "" {
		what = e.PluginKey
	}
	p := strings.TrimPrefix(e.Plugin, "janus.plugin.")
	switch {
	case what == "":
		return ""
	case p == "":
		return what
	}
	return p + "/" + what
}

const timelineQuery = "SELECT e.stream_seq, e.id, e.time, e.mono, e.tap, e.transport, e.dir, e.kind, e.conn, " +
	"e.method, e.path, e.status, e.janus, e.session_id, e.handle_id, e.tx, e.request_seq, e.plugin, " +
	"e.plugin_key, e.plugin_value, e.plugin_error, e.error_code, e.error_reason, e.jsep, e.has_jsep, " +
	"e.close_code, e.error, e.raw, e.truncated, e.redacted, t.request_at, t.request_tap, t.request_mono " +
	"FROM events e LEFT JOIN transactions t ON t.request_seq = e.request_seq "

func scanTimeline(rows *sql.Rows) ([]TimelineEntry, error) {
	var out []TimelineEntry
	for rows.Next() {
		var e TimelineEntry
		var at, mono, reqAt, reqMono int64
		var tap, reqTap string
		var raw []byte
		if err := rows.Scan(&e.StreamSeq, &e.ID, &at, &mono, nText(&tap), &e.Transport, &e.Direction, &e.Kind,
			&e.Conn, nText(&e.Method), nText(&e.Path), nInt(&e.Status), nText(&e.Janus), nInt(&e.SessionID),
			nInt(&e.HandleID), nText(&e.Transaction), nInt(&e.RequestSeq), nText(&e.Plugin), nText(&e.PluginKey),
			nText(&e.PluginValue), nInt(&e.PluginError), nInt(&e.ErrorCode), nText(&e.ErrorReason),
			nText(&e.JSEP), &e.HasJSEP, nInt(&e.CloseCode), nText(&e.Error), &raw, &e.Truncated,
			&e.Redacted, nInt(&reqAt), nText(&reqTap), nInt(&reqMono)); err != nil {
			return nil, err
		}
		// The body is kept once, in the event as encoded.
		ev, err := schema.Decode(raw)
		if err != nil {
			return nil, fmt.Errorf("event %s (stream seq %d): %w", e.ID, e.StreamSeq, err)
		}
		if len(ev.Body) > 0 {
			e.Body = ev.Body
		}
		e.Time = micros(at)
		if e.Transport == schema.EVH {
			describeJanusEvent(&e)
		}
		if e.RequestSeq != 0 && e.RequestSeq != e.StreamSeq && reqAt != 0 {
			t := txRow{txRequest: txRequest{requestAt: reqAt, requestTap: reqTap, requestMono: reqMono}}
			e.SinceRequest = time.Duration(t.latency(&schema.Event{Tap: tap, Mono: mono, Time: e.Time})) * time.Microsecond
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Timeline returns every event of a session and of its handles (admin API
// events naming them included) in the order they happened: by time, then
// stream sequence. It returns an error wrapping ErrNotFound when the store
// has no event of the session.
func (db *DB) Timeline(ctx context.Context, gateway string, session uint64) ([]TimelineEntry, error) {
	rows, err := db.r.QueryContext(ctx, timelineQuery+"WHERE e.gateway = ?1 AND (e.session_id = ?2 OR "+
		"e.handle_id IN (SELECT handle_id FROM handles WHERE gateway = ?1 AND session_id = ?2)) "+
		"ORDER BY e.time, e.stream_seq", gateway, dbID(session))
	if err != nil {
		return nil, fmt.Errorf("read timeline of session %d of %s: %w", session, gateway, err)
	}
	defer rows.Close()
	out, err := scanTimeline(rows)
	if err != nil {
		return nil, fmt.Errorf("read timeline of session %d of %s: %w", session, gateway, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("read timeline of session %d of %s: %w", session, gateway, ErrNotFound)
	}
	if err := db.correctJanusTimes(ctx, gateway, out); err != nil {
		return nil, fmt.Errorf("read timeline of session %d of %s: %w", session, gateway, err)
	}
	return out, nil
}

// TransactionDetail is one request with everything that answered it.
type TransactionDetail struct {
	Transaction TransactionRow
	Request     TimelineEntry
	Replies     []TimelineEntry // direct replies: ack, success, error, HTTP response, failure
	Events      []TimelineEntry // asynchronous events carrying the transaction
}

// Transaction returns every request of a gateway that carried the
// transaction string tx (clients should make them unique; Janus does not
// check), oldest first, each with its replies and events. It returns an error
// wrapping ErrNotFound when there is none.
func (db *DB) Transaction(ctx context.Context, gateway, tx string) ([]TransactionDetail, error) {
	ts, err := db.transactions(ctx, "WHERE request_seq IN (SELECT stream_seq FROM events "+
		"WHERE gateway = ? AND tx = ? AND request_seq = stream_seq) ORDER BY request_seq", gateway, tx)
	if err != nil {
		return nil, fmt.Errorf("read transaction %q of %s: %w", tx, gateway, err)
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("read transaction %q of %s: %w", tx, gateway, ErrNotFound)
	}
	out := make([]TransactionDetail, 0, len(ts))
	for _, t := range ts {
		d := TransactionDetail{Transaction: t}
		// The reply is looked up by its sequence too: an HTTP error made by
		// the transport or a failure of the tap carries no transaction.
		rows, err := db.r.QueryContext(ctx, timelineQuery+"WHERE (e.gateway = ? AND e.tx = ? AND e.request_seq = ?) "+
			"OR e.stream_seq IN (?, ?) ORDER BY e.stream_seq", gateway, tx, int64(t.RequestSeq),
			int64(t.RequestSeq), int64(t.ReplySeq))
		if err != nil {
			return nil, fmt.Errorf("read transaction %q of %s: %w", tx, gateway, err)
		}
		es, err := scanTimeline(rows)
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("read transaction %q of %s: %w", tx, gateway, err)
		}
		for _, e := range es {
			switch {
			case e.StreamSeq == t.RequestSeq:
				d.Request = e
			case e.Kind == schema.Response || e.Kind == schema.Failure || isReply(e.Janus):
				d.Replies = append(d.Replies, e)
			default:
				d.Events = append(d.Events, e)
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// EventFilter selects events. The zero value selects every event.
type EventFilter struct {
	Gateway     string
	SessionID   uint64 // events naming the session (not those of its handles only)
	HandleID    uint64
	Transaction string
	Transport   schema.Transport
	// From and To select events in [From, To); zero means unbounded.
	From, To time.Time
	// AfterSeq selects events after that stream sequence.
	AfterSeq uint64
	Limit    int // at most that many; 0 means no limit
}

func (f EventFilter) where() (string, []any) {
	var where []string
	var args []any
	add := func(cond string, arg any) { where, args = append(where, cond), append(args, arg) }
	if f.Gateway != "" {
		add("gateway = ?", f.Gateway)
	}
	if f.SessionID != 0 {
		add("session_id = ?", dbID(f.SessionID))
	}
	if f.HandleID != 0 {
		add("handle_id = ?", dbID(f.HandleID))
	}
	if f.Transaction != "" {
		add("tx = ?", f.Transaction)
	}
	if f.Transport != "" {
		add("transport = ?", string(f.Transport))
	}
	if !f.From.IsZero() {
		add("time >= ?", f.From.UnixMicro())
	}
	if !f.To.IsZero() {
		add("time < ?", f.To.UnixMicro())
	}
	if f.AfterSeq != 0 {
		add("stream_seq > ?", int64(f.AfterSeq))
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// RawEvent is an event as the stream held it.
type RawEvent struct {
	StreamSeq uint64
	ID        string
	Raw       []byte // the encoded event, as schema.Encode wrote it
}

// Events yields the events f selects in stream order, encoded as they came.
// It reads from one snapshot of the database; stop early by breaking out of
// the loop.
func (db *DB) Events(ctx context.Context, f EventFilter) iter.Seq2[RawEvent, error] {
	return func(yield func(RawEvent, error) bool) {
		where, args := f.where()
		q := "SELECT stream_seq, id, raw FROM events" + where + " ORDER BY stream_seq"
		if f.Limit > 0 {
			q += fmt.Sprintf(" LIMIT %d", f.Limit)
		}
		rows, err := db.r.QueryContext(ctx, q, args...)
		if err != nil {
			yield(RawEvent{}, fmt.Errorf("read events: %w", err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			var e RawEvent
			if err := rows.Scan(&e.StreamSeq, &e.ID, &e.Raw); err != nil {
				yield(RawEvent{}, fmt.Errorf("read events: %w", err))
				return
			}
			if !yield(e, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(RawEvent{}, fmt.Errorf("read events: %w", err))
		}
	}
}

// CountEvents returns how many events f selects (ignoring its Limit).
func (db *DB) CountEvents(ctx context.Context, f EventFilter) (int, error) {
	where, args := f.where()
	var n int
	if err := db.r.QueryRowContext(ctx, "SELECT count(*) FROM events"+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count events: %w", err)
	}
	return n, nil
}

// Counts are the numbers of rows of each table.
type Counts struct {
	Gateways, Sessions, Handles, Transactions, Events int
}

// Count returns the number of rows of each table.
func (db *DB) Count(ctx context.Context) (Counts, error) {
	var c Counts
	err := db.r.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM gateways), (SELECT count(*) FROM sessions), "+
		"(SELECT count(*) FROM handles), (SELECT count(*) FROM transactions), (SELECT count(*) FROM events)").
		Scan(&c.Gateways, &c.Sessions, &c.Handles, &c.Transactions, &c.Events)
	if err != nil {
		return Counts{}, fmt.Errorf("count rows: %w", err)
	}
	return c, nil
}

// Progress is the progress row: how far into the stream the projection is.
type Progress struct {
	LastSeq     uint64 // stream sequence of the last item applied
	Events      int    // events stored
	Duplicates  int    // items skipped because their event was stored already
	Undecodable int    // items skipped because they were not events
}

// Progress returns the progress row.
func (db *DB) Progress(ctx context.Context) (Progress, error) {
	var p Progress
	var last int64
	if err := db.r.QueryRowContext(ctx, "SELECT last_seq, events, duplicates, undecodable FROM progress").
		Scan(&last, &p.Events, &p.Duplicates, &p.Undecodable); err != nil {
		return Progress{}, fmt.Errorf("read progress: %w", err)
	}
	p.LastSeq = uint64(last)
	return p, nil
}

// ConnClose returns the close events of connection conn of a gateway
// recorded from time at to 10 s after (a session ended by its WebSocket
// closing has the first close's time as EndedAt; the other side's close
// follows): the events that say how the connection went, in order.
func (db *DB) ConnClose(ctx context.Context, gateway, conn string, at time.Time) ([]TimelineEntry, error) {
	rows, err := db.r.QueryContext(ctx, timelineQuery+"WHERE e.time >= ? AND e.time <= ? AND e.gateway = ? AND e.conn = ? "+
		"AND e.kind = 'close' ORDER BY e.time, e.stream_seq", at.UnixMicro(), at.Add(10*time.Second).UnixMicro(), gateway, conn)
	if err != nil {
		return nil, fmt.Errorf("read close of connection %s of %s: %w", conn, gateway, err)
	}
	defer rows.Close()
	out, err := scanTimeline(rows)
	if err != nil {
		return nil, fmt.Errorf("read close of connection %s of %s: %w", conn, gateway, err)
	}
	return out, nil
}

// joinFilter is the condition on a session (s) that a handle of it joined
// room and has a display name starting with display (each "" for any),
// with its arguments. It reads the handles by handles_room or
// handles_display and the sessions by their key, so that it costs what
// the matching handles cost.
func joinFilter(room, display string) (string, []any) {
	cond, args := joinConds("", room, display)
	return "(s.gateway, s.session_id) IN (SELECT gateway, session_id FROM handles WHERE " + cond + ")", args
}

// joinConds is the condition on a handle (its columns prefixed by p) of
// joinFilter.
func joinConds(p, room, display string) (string, []any) {
	var conds []string
	var args []any
	if room != "" {
		conds, args = append(conds, p+"room = ?"), append(args, room)
	}
	if display != "" {
		// display compares NOCASE (its column's collation), so this range
		// is a case-insensitive prefix match on handles_display.
		conds, args = append(conds, p+"display >= ? AND "+p+"display < ?"), append(args, display, display+"\U0010FFFF")
	}
	return strings.Join(conds, " AND "), args
}
