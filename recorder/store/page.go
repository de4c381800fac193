package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Cursor is where a page of sessions ends: the last session it showed, in
// the order SessionPage lists them (newest first seen first). The zero
// Cursor starts at the newest session.
type Cursor struct {
	FirstSeen time.Time
	Gateway   string
	ID        uint64
}

// IsZero says whether c is the start.
func (c Cursor) IsZero() bool { return c.FirstSeen.IsZero() && c.Gateway == "" && c.ID == 0 }

// String encodes c for a URL: "firstseen.id.gateway" (gateway last: it may
// hold dots).
func (c Cursor) String() string {
	if c.IsZero() {
		return ""
	}
	return fmt.Sprintf("%d.%d.%s", c.FirstSeen.UnixMicro(), c.ID, c.Gateway)
}

// ParseCursor decodes what Cursor.String wrote; "" is the zero Cursor.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	parts := strings.SplitN(s, ".", 3)
	if len(parts) != 3 {
		return Cursor{}, fmt.Errorf("cursor %q: want firstseen.id.gateway", s)
	}
	us, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		return Cursor{}, fmt.Errorf("cursor %q: %w", s, err)
	}
	id, err := strconv.ParseUint(parts[1], 10, 64)
	if err != nil {
		return Cursor{}, fmt.Errorf("cursor %q: %w", s, err)
	}
	return Cursor{FirstSeen: time.UnixMicro(us).UTC(), ID: id, Gateway: parts[2]}, nil
}

// PageQuery selects a page of sessions: the filter of Sessions, a search
// and a cursor.
type PageQuery struct {
	SessionFilter
	// Search matches a session or handle id (digits), else an opaque_id
	// starting with it or a transaction of the session.
	Search string
	// ICEFailed selects sessions with a handle whose ICE failed, and
	// NoWebRTCUp those with a handle that negotiated (an offer and an
	// answer) but never came up, both by Janus's own events.
	ICEFailed, NoWebRTCUp bool
	After                 Cursor // the page starts after this session
	Limit                 int    // 0 means 50
}

// SessionPage returns the sessions q selects, newest first seen first, at
// most q.Limit of them, and the cursor of the next page (zero when this is
// the last). It walks the index on first_seen, so that a page costs the
// same however many sessions the store holds.
func (db *DB) SessionPage(ctx context.Context, q PageQuery) ([]SessionRow, Cursor, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	f := q.SessionFilter
	var where []string
	var args, keyArgs []any
	from := " FROM sessions s"
	add := func(cond string, a ...any) { where, args = append(where, cond), append(args, a...) }
	if f.Gateway != "" {
		add("s.gateway = ?", f.Gateway)
	}
	if !f.From.IsZero() {
		add("s.last_seen >= ?", f.From.UnixMicro())
	}
	if !f.To.IsZero() {
		add("s.first_seen < ?", f.To.UnixMicro())
	}
	if f.Plugin != "" {
		add("EXISTS (SELECT 1 FROM handles h INDEXED BY handles_session WHERE h.gateway = s.gateway AND h.session_id = s.session_id AND "+
			"(h.plugin = ? OR h.plugin = 'janus.plugin.' || ?))", f.Plugin, f.Plugin)
	}
	if f.OpaqueID != "" {
		add("(s.gateway, s.session_id) IN (SELECT gateway, session_id FROM handles WHERE opaque_id = ?)", f.OpaqueID)
	}
	if f.Room != "" || f.Display != "" {
		cond, a, err := db.pageJoinFilter(ctx, f.Room, f.Display)
		if err != nil {
			return nil, Cursor{}, err
		}
		add(cond, a...)
	}
	if f.WithErrors {
		add("s.errors > 0")
	}
	if q.ICEFailed {
		add("EXISTS (SELECT 1 FROM janus_handles jh INDEXED BY janus_handles_session WHERE jh.gateway = s.gateway AND " +
			"jh.session_id = s.session_id AND (jh.ice_failed_at IS NOT NULL OR jh.ice_state = 'failed'))")
	}
	if q.NoWebRTCUp {
		add("EXISTS (SELECT 1 FROM janus_handles jh INDEXED BY janus_handles_session WHERE jh.gateway = s.gateway AND " +
			"jh.session_id = s.session_id AND jh.local_sdp IS NOT NULL AND jh.remote_sdp IS NOT NULL AND jh.webrtcup_at IS NULL)")
	}
	if f.TimedOut {
		add("s.timed_out_at IS NOT NULL")
	}
	if f.Transport != "" {
		add("s.transport = ?", string(f.Transport))
	}
	if s := strings.TrimSpace(q.Search); s != "" {
		// The sessions the search names are found first, by their own
		// indexes; a condition on them inside the page's query would make
		// SQLite read every session.
		keys, err := db.searchKeys(ctx, s)
		if err != nil {
			return nil, Cursor{}, err
		}
		if len(keys) == 0 {
			return nil, Cursor{}, nil
		}
		values := make([]string, len(keys))
		for i, k := range keys {
			values[i] = "(?, ?)"
			keyArgs = append(keyArgs, k.gateway, k.id)
		}
		// CROSS JOIN makes SQLite start from the keys.
		from = " FROM (VALUES " + strings.Join(values, ", ") + ") k CROSS JOIN sessions s ON s.gateway = k.column1 AND s.session_id = k.column2"
	}
	if !q.After.IsZero() {
		add("(s.first_seen, s.gateway, s.session_id) < (?, ?, ?)", q.After.FirstSeen.UnixMicro(), q.After.Gateway, dbID(q.After.ID))
	}
	sql := strings.TrimSuffix(sessionQuery, " FROM sessions s") + from
	args = append(keyArgs, args...)
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += fmt.Sprintf(" ORDER BY s.first_seen DESC, s.gateway DESC, s.session_id DESC LIMIT %d", limit+1)
	rows, err := db.r.QueryContext(ctx, sql, args...)
	if err != nil {
		return nil, Cursor{}, fmt.Errorf("list a page of sessions: %w", err)
	}
	defer rows.Close()
	var out []SessionRow
	for rows.Next() {
		s, err := scanSessionExport(rows)
		if err != nil {
			return nil, Cursor{}, fmt.Errorf("list a page of sessions: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, Cursor{}, fmt.Errorf("list a page of sessions: %w", err)
	}
	var next Cursor
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = Cursor{FirstSeen: last.FirstSeen, Gateway: last.Gateway, ID: last.ID}
	}
	return out, next, nil
}

// Gateways returns the names of the gateways the store has seen.
func (db *DB) Gateways(ctx context.Context) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT gateway FROM gateways ORDER BY gateway")
	if err != nil {
		return nil, fmt.Errorf("list gateways: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil, fmt.Errorf("list gateways: %w", err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// maxSearchKeys bounds the sessions a search names.
const maxSearchKeys = 5000

type pageKey struct {
	gateway string
	id      int64
}

// searchKeys returns the sessions a search names: a session or handle id
// (digits), else the sessions of the handles whose opaque_id starts with s
// and of the requests with transaction s.
func (db *DB) searchKeys(ctx context.Context, s string) ([]pageKey, error) {
	var q string
	var args []any
	if id, err := strconv.ParseUint(s, 10, 64); err == nil {
		q = "SELECT s.gateway, s.session_id FROM gateways g CROSS JOIN sessions s ON s.gateway = g.gateway AND s.session_id = ?1 " +
			"UNION ALL SELECT h.gateway, h.session_id FROM gateways g CROSS JOIN handles h ON h.gateway = g.gateway AND h.handle_id = ?1"
		args = []any{dbID(id)}
	} else {
		q = "SELECT gateway, session_id FROM handles WHERE opaque_id >= ?1 AND opaque_id < ?2 AND session_id IS NOT NULL " +
			"UNION ALL SELECT e.gateway, e.session_id FROM gateways g CROSS JOIN events e ON e.gateway = g.gateway AND e.tx = ?1 " +
			"WHERE e.session_id IS NOT NULL"
		args = []any{s, s + "\U0010FFFF"}
	}
	rows, err := db.r.QueryContext(ctx, "SELECT * FROM ("+q+fmt.Sprintf(") LIMIT %d", maxSearchKeys), args...)
	if err != nil {
		return nil, fmt.Errorf("search sessions for %q: %w", s, err)
	}
	defer rows.Close()
	// UNION ALL and CROSS JOIN keep SQLite on the indexes of the search
	// (a UNION merges sorted lists, which it reads every session for);
	// duplicates go here.
	var out []pageKey
	seen := map[pageKey]bool{}
	for rows.Next() {
		var k pageKey
		if err := rows.Scan(&k.gateway, &k.id); err != nil {
			return nil, fmt.Errorf("search sessions for %q: %w", s, err)
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out, rows.Err()
}

// joinFew is how many handles a room or display filter may match for
// SessionPage to start from them (their sessions, sorted); beyond, it walks
// the sessions newest first and asks each whether a handle matches, which
// stops as soon as the page is full.
const joinFew = 1000

// pageJoinFilter is joinFilter for SessionPage: by the handles when they
// are few, else by the sessions, so that neither a rare room nor one in
// every session reads every session.
func (db *DB) pageJoinFilter(ctx context.Context, room, display string) (string, []any, error) {
	few := joinFew
	if db.joinFew > 0 {
		few = db.joinFew
	}
	cond, args := joinConds("", room, display)
	var n int
	err := db.r.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM handles WHERE %s LIMIT %d)", cond, few+1), args...).Scan(&n)
	if err != nil {
		return "", nil, fmt.Errorf("count the handles of room %q, display %q: %w", room, display, err)
	}
	if n <= few {
		cond, args = joinFilter(room, display)
		return cond, args, nil
	}
	cond, args = joinConds("h.", room, display)
	return "EXISTS (SELECT 1 FROM handles h INDEXED BY handles_session WHERE h.gateway = s.gateway AND h.session_id = s.session_id AND " +
		cond + ")", args, nil
}
