package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/janustap/janustap/schema"
)

// JanusHandleRow is Janus's own account of a handle, from its event
// handlers. Times are Janus's clock, corrected by the gateway's offset
// (JanusClock) to the tap's.
type JanusHandleRow struct {
	Gateway   string
	ID        uint64
	SessionID uint64
	Plugin    string
	OpaqueID  string

	AttachedAt, DetachedAt time.Time
	// ICEState is the last ICE state; ICEStates every one in order.
	ICEState         string
	ICEStates        []string
	ICEConnectedAt   time.Time
	ICEFailedAt      time.Time
	LocalCandidates  int
	RemoteCandidates int
	// SelectedPair is Janus's "local <-> remote" text; LocalType and
	// RemoteType the candidate types (host, srflx, relay, prflx).
	SelectedPair          string
	LocalType, RemoteType string
	DTLSState             string
	DTLSStates            []string
	DTLSConnectedAt       time.Time
	WebRTCUpAt            time.Time
	HangupAt              time.Time
	HangupReason          string
	// Receiving lists the mids last said to be receiving media.
	Receiving   []string
	ReceivingAt time.Time // when media was first received
	MediaEvents int
	Slowlinks   int
	Stats       int // media statistics events
	LocalSDP    string
	RemoteSDP   string
	FirstTime   time.Time
	LastTime    time.Time
}

// JanusSessionRow is Janus's own account of a session.
type JanusSessionRow struct {
	Gateway     string
	ID          uint64
	Transport   string // the Janus transport plugin it was created over
	CreatedAt   time.Time
	DestroyedAt time.Time
	TimeoutAt   time.Time
}

// JanusStatsRow sums up the media statistics of one mid of a handle.
type JanusStatsRow struct {
	HandleID uint64
	Mid      string
	Media    string
	Codec    string
	Samples  int
	// MaxRTT is the largest round-trip time reported, ms.
	MaxRTT int64
	// Lost and LostByRemote are the packets lost, as last reported.
	Lost, LostByRemote int64
	// MaxJitter is the largest local jitter reported.
	MaxJitter int64
	// The counters as last reported.
	PacketsReceived, PacketsSent, BytesReceived, BytesSent, NACKsReceived, NACKsSent int64
}

// JanusClock returns the estimated offset of a gateway's clock from the
// tap's (tap time = Janus time + offset) and how many samples it rests on;
// zero and 0 when there is none.
func (db *DB) JanusClock(ctx context.Context, gateway string) (time.Duration, int, error) {
	var us, n int64
	err := db.r.QueryRowContext(ctx, "SELECT offset_us, samples FROM janus_clock WHERE gateway = ?", gateway).Scan(&us, &n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read clock of %s: %w", gateway, err)
	}
	return time.Duration(us) * time.Microsecond, int(n), nil
}

// JanusHandles returns Janus's account of the handles of a session, by the
// time Janus first named them.
func (db *DB) JanusHandles(ctx context.Context, gateway string, session uint64) ([]JanusHandleRow, error) {
	off, _, err := db.JanusClock(ctx, gateway)
	if err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT handle_id, session_id, plugin, opaque_id, attached_at, detached_at,
		ice_state, ice_states, ice_connected_at, ice_failed_at, local_candidates, remote_candidates, selected_pair,
		local_type, remote_type, dtls_state, dtls_states, dtls_connected_at, webrtcup_at, hangup_at, hangup_reason,
		receiving, receiving_at, media_events, slowlinks, stats, local_sdp, remote_sdp, first_time, last_time
		FROM janus_handles WHERE gateway = ? AND session_id = ? ORDER BY first_time, handle_id`, gateway, dbID(session))
	if err != nil {
		return nil, fmt.Errorf("read janus handles of session %d: %w", session, err)
	}
	defer rows.Close()
	var out []JanusHandleRow
	for rows.Next() {
		h := JanusHandleRow{Gateway: gateway}
		var att, det, iceC, iceF, dtlsC, up, hang, recvAt, first, last int64
		var iceStates, dtlsStates, recv string
		if err := rows.Scan(nInt(&h.ID), nInt(&h.SessionID), nText(&h.Plugin), nText(&h.OpaqueID), nInt(&att), nInt(&det),
			nText(&h.ICEState), nText(&iceStates), nInt(&iceC), nInt(&iceF), &h.LocalCandidates, &h.RemoteCandidates,
			nText(&h.SelectedPair), nText(&h.LocalType), nText(&h.RemoteType), nText(&h.DTLSState), nText(&dtlsStates),
			nInt(&dtlsC), nInt(&up), nInt(&hang), nText(&h.HangupReason), nText(&recv), nInt(&recvAt), &h.MediaEvents,
			&h.Slowlinks, &h.Stats, nText(&h.LocalSDP), nText(&h.RemoteSDP), &first, &last); err != nil {
			return nil, fmt.Errorf("read janus handles of session %d: %w", session, err)
		}
		at := func(us int64) time.Time {
			if us == 0 {
				return time.Time{}
			}
			return schema.JanusTime(us).Add(off)
		}
		h.AttachedAt, h.DetachedAt, h.ICEConnectedAt, h.ICEFailedAt = at(att), at(det), at(iceC), at(iceF)
		h.DTLSConnectedAt, h.WebRTCUpAt, h.HangupAt, h.ReceivingAt = at(dtlsC), at(up), at(hang), at(recvAt)
		h.FirstTime, h.LastTime = at(first), at(last)
		h.ICEStates, h.DTLSStates, h.Receiving = strings.Fields(iceStates), strings.Fields(dtlsStates), strings.Fields(recv)
		out = append(out, h)
	}
	return out, rows.Err()
}

// JanusSession returns Janus's account of a session, or nil when Janus
// reported nothing of it.
func (db *DB) JanusSession(ctx context.Context, gateway string, id uint64) (*JanusSessionRow, error) {
	off, _, err := db.JanusClock(ctx, gateway)
	if err != nil {
		return nil, err
	}
	s := &JanusSessionRow{Gateway: gateway, ID: id}
	var created, destroyed, timeout int64
	err = db.r.QueryRowContext(ctx, `SELECT transport, created_at, destroyed_at, timeout_at FROM janus_sessions
		WHERE gateway = ? AND session_id = ?`, gateway, dbID(id)).Scan(nText(&s.Transport), nInt(&created), nInt(&destroyed), nInt(&timeout))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read janus session %d: %w", id, err)
	}
	at := func(us int64) time.Time {
		if us == 0 {
			return time.Time{}
		}
		return schema.JanusTime(us).Add(off)
	}
	s.CreatedAt, s.DestroyedAt, s.TimeoutAt = at(created), at(destroyed), at(timeout)
	return s, nil
}

// JanusStats sums up the media statistics of a session's handles, one row
// per handle and mid.
func (db *DB) JanusStats(ctx context.Context, gateway string, session uint64) ([]JanusStatsRow, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT handle_id, coalesce(mid, ''), coalesce(max(media), ''), coalesce(max(codec), ''),
		count(*), coalesce(max(rtt), 0), coalesce(max(jitter_local), 0),
		coalesce(max(lost), 0), coalesce(max(lost_by_remote), 0),
		coalesce(max(packets_received), 0), coalesce(max(packets_sent), 0), coalesce(max(bytes_received), 0),
		coalesce(max(bytes_sent), 0), coalesce(max(nacks_received), 0), coalesce(max(nacks_sent), 0)
		FROM janus_stats WHERE gateway = ? AND session_id = ? GROUP BY handle_id, mid ORDER BY handle_id, mid`,
		gateway, dbID(session))
	if err != nil {
		return nil, fmt.Errorf("read janus stats of session %d: %w", session, err)
	}
	defer rows.Close()
	var out []JanusStatsRow
	for rows.Next() {
		var r JanusStatsRow
		if err := rows.Scan(nInt(&r.HandleID), &r.Mid, &r.Media, &r.Codec, &r.Samples, &r.MaxRTT, &r.MaxJitter,
			&r.Lost, &r.LostByRemote, &r.PacketsReceived, &r.PacketsSent, &r.BytesReceived, &r.BytesSent,
			&r.NACKsReceived, &r.NACKsSent); err != nil {
			return nil, fmt.Errorf("read janus stats of session %d: %w", session, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// correctJanusTimes gives the Janus events of a timeline their time on
// Janus's clock corrected by the gateway's offset, and orders the timeline
// by time again (stably: events of one time keep their stream order).
func (db *DB) correctJanusTimes(ctx context.Context, gateway string, entries []TimelineEntry) error {
	if !slices.ContainsFunc(entries, func(e TimelineEntry) bool { return e.Transport == schema.EVH }) {
		return nil
	}
	off, _, err := db.JanusClock(ctx, gateway)
	if err != nil {
		return err
	}
	for i := range entries {
		e := &entries[i]
		if e.Transport != schema.EVH || e.JanusTime.IsZero() {
			continue
		}
		e.Time = e.JanusTime.Add(off)
	}
	slices.SortStableFunc(entries, func(a, b TimelineEntry) int { return a.Time.Compare(b.Time) })
	return nil
}

// describeJanusEvent fills the fields a timeline shows of a Janus event:
// JanusTime, Janus (what happened) and Detail.
func describeJanusEvent(e *TimelineEntry) {
	env, err := schema.ParseEvhEnvelope(e.Body)
	if err != nil {
		return
	}
	var b evhBody
	if len(env.Event) > 0 && env.Event[0] == '{' {
		_ = jsonUnmarshal(env.Event, &b)
	}
	if env.Timestamp > 0 {
		e.JanusTime = schema.JanusTime(env.Timestamp)
	}
	name, value := evhWhat(env, &b)
	if env.Type == schema.EvhMedia && env.Subtype == schema.EvhMediaStats {
		name = "stats"
		value = fmt.Sprintf("%s rtt=%d lost=%d in=%dB out=%dB", b.Media, numOr0(b.RTT), numOr0(b.Lost), numOr0(b.BytesReceived), numOr0(b.BytesSent))
	}
	if env.Type == schema.EvhMedia && env.Subtype == schema.EvhMediaSlowLink {
		value = ""
	}
	if m := b.mid(); m != "" {
		value = strings.TrimSpace("mid=" + m + " " + value)
	}
	e.Janus, e.Detail = name, value
}

func numOr0(f *float64) int64 {
	if f == nil {
		return 0
	}
	return int64(*f)
}

// JanusCounts returns how many Janus events the projection holds: the rows
// of janus_events and of janus_stats.
func (db *DB) JanusCounts(ctx context.Context) (events, stats int64, err error) {
	err = db.r.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM janus_events), (SELECT count(*) FROM janus_stats)").Scan(&events, &stats)
	if err != nil {
		return 0, 0, fmt.Errorf("count janus events: %w", err)
	}
	return events, stats, nil
}

// JanusCandidate is a candidate Janus reported for a handle: its own
// (local) or the client's (remote), as the candidate line says it.
type JanusCandidate struct {
	HandleID uint64 `json:"handle_id"`
	Side     string `json:"side"` // "local" or "remote"
	Line     string `json:"line"`
	// Type is the candidate's typ (host, srflx, prflx, relay); Protocol and
	// Address what the line says.
	Type     string    `json:"type"`
	Protocol string    `json:"protocol"`
	Address  string    `json:"address"`
	Time     time.Time `json:"time"` // tap's clock
}

// JanusCandidates lists the candidates Janus reported for the handles of a
// session, in the order it reported them.
func (db *DB) JanusCandidates(ctx context.Context, gateway string, session uint64) ([]JanusCandidate, error) {
	off, _, err := db.JanusClock(ctx, gateway)
	if err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT handle_id, name, value, janus_time FROM janus_events
		WHERE gateway = ? AND session_id = ? AND name IN ('local-candidate', 'remote-candidate') ORDER BY janus_time, stream_seq`,
		gateway, dbID(session))
	if err != nil {
		return nil, fmt.Errorf("read janus candidates of session %d: %w", session, err)
	}
	defer rows.Close()
	var out []JanusCandidate
	for rows.Next() {
		var c JanusCandidate
		var name string
		var jt int64
		if err := rows.Scan(nInt(&c.HandleID), &name, nText(&c.Line), &jt); err != nil {
			return nil, fmt.Errorf("read janus candidates of session %d: %w", session, err)
		}
		c.Side = strings.TrimSuffix(name, "-candidate")
		c.Time = schema.JanusTime(jt).Add(off)
		c.Type, c.Protocol, c.Address = parseCandidate(c.Line)
		out = append(out, c)
	}
	return out, rows.Err()
}

// parseCandidate reads the transport, address:port and typ of an ICE
// candidate line ("[candidate:]foundation component transport priority
// address port typ type ...").
func parseCandidate(line string) (typ, protocol, address string) {
	f := strings.Fields(strings.TrimPrefix(line, "candidate:"))
	if len(f) >= 6 {
		protocol, address = strings.ToLower(f[2]), net.JoinHostPort(f[4], f[5])
	}
	for i := 6; i+1 < len(f); i++ {
		if f[i] == "typ" {
			typ = f[i+1]
		}
	}
	return typ, protocol, address
}

// JanusStatsSample is one media statistics event of a handle's mid.
type JanusStatsSample struct {
	HandleID uint64    `json:"handle_id"`
	Mid      string    `json:"mid"`
	Media    string    `json:"media"`
	Time     time.Time `json:"time"` // tap's clock
	// RTT is in ms; Lost counts packets lost so far (Janus's side);
	// BytesReceivedLastSec and BytesSentLastSec the bitrate's bytes over
	// the last second. A value Janus did not report is -1.
	RTT                  int64 `json:"rtt"`
	Lost                 int64 `json:"lost"`
	LostByRemote         int64 `json:"lost_by_remote"`
	Jitter               int64 `json:"jitter"`
	BytesReceivedLastSec int64 `json:"bytes_received_lastsec"`
	BytesSentLastSec     int64 `json:"bytes_sent_lastsec"`
}

// JanusStatsSeries lists the media statistics events of a session's
// handles in time order, for graphs.
func (db *DB) JanusStatsSeries(ctx context.Context, gateway string, session uint64) ([]JanusStatsSample, error) {
	off, _, err := db.JanusClock(ctx, gateway)
	if err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT handle_id, coalesce(mid, ''), coalesce(media, ''), janus_time,
		coalesce(rtt, -1), coalesce(lost, -1), coalesce(lost_by_remote, -1), coalesce(jitter_local, -1),
		coalesce(bytes_received_lastsec, -1), coalesce(bytes_sent_lastsec, -1)
		FROM janus_stats WHERE gateway = ? AND session_id = ? ORDER BY janus_time, stream_seq`, gateway, dbID(session))
	if err != nil {
		return nil, fmt.Errorf("read janus stats of session %d: %w", session, err)
	}
	defer rows.Close()
	var out []JanusStatsSample
	for rows.Next() {
		var s JanusStatsSample
		var jt int64
		if err := rows.Scan(nInt(&s.HandleID), &s.Mid, &s.Media, &jt, &s.RTT, &s.Lost, &s.LostByRemote, &s.Jitter,
			&s.BytesReceivedLastSec, &s.BytesSentLastSec); err != nil {
			return nil, fmt.Errorf("read janus stats of session %d: %w", session, err)
		}
		s.Time = schema.JanusTime(jt).Add(off)
		out = append(out, s)
	}
	return out, rows.Err()
}
