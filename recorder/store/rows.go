package store

import (
	"database/sql/driver"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/janustap/janustap/schema"
)

// The rows of the correlation tables as Apply keeps them in memory. Times
// are Unix microseconds; a zero id, time or string is NULL in the database.
// A row holds its columns and, in orig, the columns as the database has
// them: flush writes the rows whose columns differ, and when only counters
// differ, only the counters (an UPDATE that sets an indexed column rewrites
// its index entries, even to the same value).

type sessionVals struct {
	gateway                                       string
	id                                            uint64
	transport, conn, sourceConn                   string
	createSeq, createdAt, destroyedAt, timedOutAt int64
	endedAt                                       int64
	ended                                         End
	firstSeen, lastSeen, events, errors, handles  int64
}

type sessionRow struct {
	sessionVals
	orig  sessionVals // as stored; zero while isNew
	isNew bool        // not stored yet
	batch uint64      // the last batch that used it
}

type handleVals struct {
	gateway                                               string
	id, session                                           uint64
	plugin, opaqueID                                      string
	attachSeq, attachedAt, detachedAt, webrtcupAt         int64
	hangupAt                                              int64
	hangupReason                                          string
	media, slowlinks, firstSeen, lastSeen, events, errors int64
	room, display                                         string
}

type handleRow struct {
	handleVals
	orig  handleVals
	isNew bool
	batch uint64
}

// txRequest are the columns of a transaction that its request sets, which
// nothing changes once it is stored.
type txRequest struct {
	seq                                    int64
	id, gateway, tx                        string
	transport                              schema.Transport
	conn                                   string
	janus, plugin, request, opaqueID, jsep string
	requestAt                              int64
	requestTap                             string
	requestMono                            int64
}

// txAnswer are the columns of a transaction that what answered the request
// sets (txAnswerCols), with the session or handle a create or attach made.
type txAnswer struct {
	session, handle                       uint64
	replySeq                              int64
	reply                                 string
	replyAt, replyUS, status, ackAt       int64
	result                                string
	resultAt, errorCode                   int64
	errorReason                           string
	pluginError, events, eventAt, eventUS int64
}

type txRow struct {
	txRequest
	txAnswer
	orig  txAnswer // as stored; the request part does not change
	isNew bool
	batch uint64
}

// countersOnly reports whether the row differs from what is stored in its
// counters (sessionCounterCols) only.
func (s *sessionRow) countersOnly() bool {
	v, o := s.sessionVals, &s.orig
	v.lastSeen, v.events, v.errors, v.handles = o.lastSeen, o.events, o.errors, o.handles
	return v == *o
}

// countersOnly reports whether the row differs from what is stored in its
// counters (handleCounterCols) only.
func (h *handleRow) countersOnly() bool {
	v, o := h.handleVals, &h.orig
	v.media, v.slowlinks, v.firstSeen, v.lastSeen, v.events, v.errors = o.media, o.slowlinks, o.firstSeen, o.lastSeen, o.events, o.errors
	return v == *o
}

// touch counts an event of the session.
func (s *sessionRow) touch(at int64, isErr bool) {
	s.events++
	if isErr {
		s.errors++
	}
	s.firstSeen = min(s.firstSeen, at)
	s.lastSeen = max(s.lastSeen, at)
}

// touch counts an event of the handle.
func (h *handleRow) touch(at int64, isErr bool) {
	h.events++
	if isErr {
		h.errors++
	}
	h.firstSeen = min(h.firstSeen, at)
	h.lastSeen = max(h.lastSeen, at)
}

// latency returns the time from the request to ev in microseconds: by the
// monotonic clock when the same tap saw both, else by the wall clock.
func (t *txRow) latency(ev *schema.Event) int64 {
	if t.requestTap != "" && t.requestTap == ev.Tap {
		return (ev.Mono - t.requestMono) / 1000
	}
	return ev.Time.UnixMicro() - t.requestAt
}

// onReply records a direct reply to the request: an ack, a success or error,
// an HTTP response, a failure of the tap.
func (t *txRow) onReply(seq int64, ev *schema.Event, j *schema.Janus) {
	at := ev.Time.UnixMicro()
	if t.replySeq == 0 {
		t.replySeq, t.replyAt, t.replyUS, t.status = seq, at, t.latency(ev), int64(ev.Status)
		t.reply = j.Janus
		if ev.Kind == schema.Failure {
			t.reply = string(schema.Failure)
		}
	}
	switch {
	case ev.Kind == schema.Failure || j.Janus == "error" || j.ErrorCode != 0 || ev.Status >= 400:
		if t.result == "" {
			t.result, t.resultAt = "error", at
		}
		if t.errorCode == 0 && t.errorReason == "" {
			t.errorCode, t.errorReason = int64(j.ErrorCode), j.ErrorReason
			if ev.Kind == schema.Failure {
				t.errorReason = ev.Error
			}
		}
	case j.Janus == "ack":
		if t.ackAt == 0 {
			t.ackAt = at
		}
	case j.Janus != "":
		if t.result == "" {
			t.result, t.resultAt = "success", at
		}
	}
	if t.pluginError == 0 {
		t.pluginError = int64(j.PluginError)
	}
}

// onEvent records an asynchronous event carrying the transaction.
func (t *txRow) onEvent(ev *schema.Event, j *schema.Janus) {
	at := ev.Time.UnixMicro()
	t.events++
	if t.events == 1 {
		t.eventAt, t.eventUS = at, t.latency(ev)
	}
	if t.result == "" {
		t.result, t.resultAt = "event", at
	}
	if t.pluginError == 0 {
		t.pluginError = int64(j.PluginError)
	}
	if t.errorCode == 0 && t.errorReason == "" && j.ErrorCode != 0 {
		t.errorCode, t.errorReason = int64(j.ErrorCode), j.ErrorReason
	}
}

const sessionCols = "gateway, session_id, transport, conn, source_conn, create_seq, created_at, destroyed_at, " +
	"timed_out_at, ended_at, ended, first_seen, last_seen, events, errors, handles"

// sessionCounterCols are the key and the columns a session's events change,
// none of them indexed.
const sessionCounterCols = "gateway, session_id, last_seen, events, errors, handles"

const handleCols = "gateway, handle_id, session_id, plugin, opaque_id, attach_seq, attached_at, detached_at, " +
	"webrtcup_at, hangup_at, hangup_reason, media, slowlinks, first_seen, last_seen, events, errors, room, display"

// handleCounterCols are the key and the columns a handle's events change,
// none of them indexed.
const handleCounterCols = "gateway, handle_id, media, slowlinks, first_seen, last_seen, events, errors"

const txCols = "request_seq, request_id, gateway, tx, transport, conn, session_id, handle_id, janus, plugin, " +
	"request, opaque_id, jsep, request_at, request_tap, request_mono, reply_seq, reply, reply_at, reply_us, " +
	"status, ack_at, result, result_at, error_code, error_reason, plugin_error, events, event_at, event_us"

// txAnswerCols are the key and the columns that the replies and events of a
// request change, with the session or handle a create or attach made.
const txAnswerCols = "request_seq, session_id, handle_id, reply_seq, reply, reply_at, reply_us, status, ack_at, " +
	"result, result_at, error_code, error_reason, plugin_error, events, event_at, event_us"

const eventCols = "stream_seq, id, gateway, tap, conn, seq, time, mono, transport, dir, kind, method, path, " +
	"query, status, parent, part, parts, janus, tx, session_id, handle_id, plugin, plugin_key, plugin_value, " +
	"plugin_error, error_code, error_reason, jsep, has_jsep, opaque_id, close_code, error, request_seq, " +
	"redacted, truncated, raw"

// The columns of eventCols that correlation fills, by index.
const (
	colSessionID  = 20
	colHandleID   = 21
	colPlugin     = 22
	colRequestSeq = 33
)

// appendEventRow appends the arguments of insertEventSQL for an event, with
// NULL for the columns that correlation fills; for the others, as rawArgs.
func appendEventRow(b []driver.NamedValue, seq uint64, ev *schema.Event, raw []byte) []driver.NamedValue {
	j := ev.Janus
	if j == nil {
		j = &schema.Janus{}
	}
	vals := [...]any{
		int64(seq), ev.ID, ev.Gateway, nullStr(ev.Tap), ev.Conn, int64(ev.Seq), ev.Time.UnixMicro(), ev.Mono,
		string(ev.Transport), string(ev.Direction), string(ev.Kind),
		nullStr(ev.Method), nullStr(ev.Path), nullStr(ev.Query), nullInt(int64(ev.Status)), nullStr(ev.Parent),
		nullInt(int64(ev.Part)), nullInt(int64(ev.Parts)),
		nullStr(j.Janus), nullStr(j.Transaction), nil, nil,
		nil, nullStr(j.PluginKey), nullStr(j.PluginValue), nullInt(int64(j.PluginError)),
		nullInt(int64(j.ErrorCode)), nullStr(j.ErrorReason), nullStr(j.JSEP), j.HasJSEP, nullStr(j.OpaqueID),
		nullInt(int64(ev.CloseCode)), nullStr(ev.Error), nil, ev.Redacted, ev.Truncated, raw,
	}
	// Grown once: appended one by one from nil, as for the items the
	// projector's reader makes, the row took seven allocations.
	b = slices.Grow(b, len(vals))
	for i, v := range vals {
		b = append(b, driver.NamedValue{Ordinal: i + 1, Value: v})
	}
	return b
}

var (
	// insertEventSQL fails on an id stored already: Apply counts it as a
	// duplicate.
	insertEventSQL = "INSERT INTO events (" + eventCols + ") VALUES (" + placeholders(eventCols) + ")"
	putGatewaySQL  = "INSERT INTO gateways (gateway, first_seen, last_seen, events, sessions) VALUES (?, ?, ?, ?, ?) " +
		"ON CONFLICT (gateway) DO UPDATE SET first_seen = min(first_seen, excluded.first_seen), " +
		"last_seen = max(last_seen, excluded.last_seen), events = events + excluded.events, " +
		"sessions = sessions + excluded.sessions"
)

func placeholders(cols string) string {
	n := strings.Count(cols, ",") + 1
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// insertSQL returns an INSERT of every column.
func insertSQL(table, cols string) string {
	return "INSERT INTO " + table + " (" + cols + ") VALUES (" + placeholders(cols) + ")"
}

// updateSQL returns an UPDATE of every column but the key, which cols lists
// first: its arguments are the other columns, then the key.
func updateSQL(table, cols string, key ...string) string {
	all := strings.Split(cols, ",")
	var set []string
	for _, c := range all[len(key):] {
		set = append(set, strings.TrimSpace(c)+" = ?")
	}
	var where []string
	for i, k := range key {
		if strings.TrimSpace(all[i]) != k {
			panic("updateSQL: " + table + " does not list its key first")
		}
		where = append(where, k+" = ?")
	}
	return "UPDATE " + table + " SET " + strings.Join(set, ", ") + " WHERE " + strings.Join(where, " AND ")
}

func (s *sessionRow) appendArgs(b []any) []any {
	return append(b, s.gateway, dbID(s.id), s.transport, s.conn, nullStr(s.sourceConn), nullInt(s.createSeq),
		nullInt(s.createdAt), nullInt(s.destroyedAt), nullInt(s.timedOutAt), nullInt(s.endedAt),
		nullStr(string(s.ended)), s.firstSeen, s.lastSeen, s.events, s.errors, s.handles)
}

func (h *handleRow) appendArgs(b []any) []any {
	return append(b, h.gateway, dbID(h.id), dbID(h.session), nullStr(h.plugin), nullStr(h.opaqueID),
		nullInt(h.attachSeq), nullInt(h.attachedAt), nullInt(h.detachedAt), nullInt(h.webrtcupAt),
		nullInt(h.hangupAt), nullStr(h.hangupReason), h.media, h.slowlinks, h.firstSeen, h.lastSeen,
		h.events, h.errors, nullStr(h.room), nullStr(h.display))
}

func (s *sessionRow) appendCounterArgs(b []any) []any {
	return append(b, s.gateway, dbID(s.id), s.lastSeen, s.events, s.errors, s.handles)
}

func (h *handleRow) appendCounterArgs(b []any) []any {
	return append(b, h.gateway, dbID(h.id), h.media, h.slowlinks, h.firstSeen, h.lastSeen, h.events, h.errors)
}

func (t *txRow) appendAnswerArgs(b []any) []any {
	replyUS, eventUS := t.nullLatencies()
	return append(b, t.seq, dbID(t.session), dbID(t.handle), nullInt(t.replySeq), nullStr(t.reply), nullInt(t.replyAt),
		replyUS, nullInt(t.status), nullInt(t.ackAt), nullStr(t.result), nullInt(t.resultAt), nullInt(t.errorCode),
		nullStr(t.errorReason), nullInt(t.pluginError), t.events, nullInt(t.eventAt), eventUS)
}

// nullLatencies returns reply_us and event_us: NULL without a reply or
// event (a latency may be 0).
func (t *txRow) nullLatencies() (replyUS, eventUS any) {
	if t.replySeq != 0 {
		replyUS = t.replyUS
	}
	if t.events != 0 {
		eventUS = t.eventUS
	}
	return replyUS, eventUS
}

func (t *txRow) appendArgs(b []any) []any {
	replyUS, eventUS := t.nullLatencies()
	return append(b, t.seq, t.id, t.gateway, nullStr(t.tx), string(t.transport), t.conn, dbID(t.session),
		dbID(t.handle), t.janus, nullStr(t.plugin), nullStr(t.request), nullStr(t.opaqueID), nullStr(t.jsep),
		t.requestAt, nullStr(t.requestTap), t.requestMono, nullInt(t.replySeq), nullStr(t.reply),
		nullInt(t.replyAt), replyUS, nullInt(t.status), nullInt(t.ackAt), nullStr(t.result),
		nullInt(t.resultAt), nullInt(t.errorCode), nullStr(t.errorReason), nullInt(t.pluginError),
		t.events, nullInt(t.eventAt), eventUS)
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// The scan functions use sql.Scanner destinations only, so that they read
// rows of database/sql and of the driver (valueRow) alike.

func scanSession(r scanner, s *sessionRow) error {
	return r.Scan(nText(&s.gateway), nInt(&s.id), nText(&s.transport), nText(&s.conn), nText(&s.sourceConn),
		nInt(&s.createSeq), nInt(&s.createdAt), nInt(&s.destroyedAt), nInt(&s.timedOutAt), nInt(&s.endedAt),
		nText(&s.ended), nInt(&s.firstSeen), nInt(&s.lastSeen), nInt(&s.events), nInt(&s.errors), nInt(&s.handles))
}

func scanHandle(r scanner, h *handleRow) error {
	return r.Scan(nText(&h.gateway), nInt(&h.id), nInt(&h.session), nText(&h.plugin), nText(&h.opaqueID),
		nInt(&h.attachSeq), nInt(&h.attachedAt), nInt(&h.detachedAt), nInt(&h.webrtcupAt), nInt(&h.hangupAt),
		nText(&h.hangupReason), nInt(&h.media), nInt(&h.slowlinks), nInt(&h.firstSeen), nInt(&h.lastSeen),
		nInt(&h.events), nInt(&h.errors), nText(&h.room), nText(&h.display))
}

func scanTx(r scanner, t *txRow) error {
	return r.Scan(nInt(&t.seq), nText(&t.id), nText(&t.gateway), nText(&t.tx), nText(&t.transport), nText(&t.conn),
		nInt(&t.session), nInt(&t.handle), nText(&t.janus), nText(&t.plugin), nText(&t.request), nText(&t.opaqueID),
		nText(&t.jsep), nInt(&t.requestAt), nText(&t.requestTap), nInt(&t.requestMono), nInt(&t.replySeq),
		nText(&t.reply), nInt(&t.replyAt), nInt(&t.replyUS), nInt(&t.status), nInt(&t.ackAt), nText(&t.result),
		nInt(&t.resultAt), nInt(&t.errorCode), nText(&t.errorReason), nInt(&t.pluginError), nInt(&t.events),
		nInt(&t.eventAt), nInt(&t.eventUS))
}

// dbID is a Janus id as the database keeps it: NULL for 0, and ids beyond
// 2^63 (which Janus never makes, but a client may send) as their two's
// complement, which reads back as the same uint64.
func dbID(id uint64) any {
	if id == 0 {
		return nil
	}
	return int64(id)
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullInt(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}

// nullIntScanner scans an INTEGER that may be NULL, as 0.
type nullIntScanner[T ~int64 | ~uint64 | ~int] struct{ p *T }

func nInt[T ~int64 | ~uint64 | ~int](p *T) nullIntScanner[T] { return nullIntScanner[T]{p} }

func (n nullIntScanner[T]) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*n.p = 0
	case int64:
		*n.p = T(v)
	default:
		return fmt.Errorf("want an integer or NULL, have %T", src)
	}
	return nil
}

// nullTextScanner scans a TEXT that may be NULL, as "".
type nullTextScanner[T ~string] struct{ p *T }

func nText[T ~string](p *T) nullTextScanner[T] { return nullTextScanner[T]{p} }

func (n nullTextScanner[T]) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*n.p = ""
	case string:
		*n.p = T(v)
	case []byte:
		*n.p = T(v)
	default:
		return fmt.Errorf("want text or NULL, have %T", src)
	}
	return nil
}

// micros returns a time from Unix microseconds; 0 is the zero time.
func micros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
