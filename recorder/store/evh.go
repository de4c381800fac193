package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/janustap/janustap/schema"
)

// evhBody is the event object of a Janus event, with the fields of every
// type the projection reads.
type evhBody struct {
	Name      string          `json:"name"` // session, handle
	Plugin    string          `json:"plugin"`
	OpaqueID  string          `json:"opaque_id"`
	Transport json.RawMessage `json:"transport"` // session created: {transport, id}

	Owner string `json:"owner"` // jsep: local or remote
	JSEP  *struct {
		Type string `json:"type"`
		SDP  string `json:"sdp"`
	} `json:"jsep"`

	ICE        string `json:"ice"`
	LocalCand  string `json:"local-candidate"`
	RemoteCand string `json:"remote-candidate"`
	Pair       string `json:"selected-pair"`
	Candidates *struct {
		Local  struct{ Type string } `json:"local"`
		Remote struct{ Type string } `json:"remote"`
	} `json:"candidates"`
	DTLS       string `json:"dtls"`
	Connection string `json:"connection"`
	Reason     string `json:"reason"`

	Media     string `json:"media"`
	Mid       any    `json:"mid"`
	Receiving *bool  `json:"receiving"`
	Codec     string `json:"codec"`

	RTT                     *float64 `json:"rtt"`
	Lost                    *float64 `json:"lost"`
	LostByRemote            *float64 `json:"lost-by-remote"`
	JitterLocal             *float64 `json:"jitter-local"`
	JitterRemote            *float64 `json:"jitter-remote"`
	InLinkQuality           *float64 `json:"in-link-quality"`
	OutLinkQuality          *float64 `json:"out-link-quality"`
	PacketsReceived         *float64 `json:"packets-received"`
	PacketsSent             *float64 `json:"packets-sent"`
	BytesReceived           *float64 `json:"bytes-received"`
	BytesSent               *float64 `json:"bytes-sent"`
	BytesReceivedLastSec    *float64 `json:"bytes-received-lastsec"`
	BytesSentLastSec        *float64 `json:"bytes-sent-lastsec"`
	NACKsReceived           *float64 `json:"nacks-received"`
	NACKsSent               *float64 `json:"nacks-sent"`
	RetransmissionsReceived *float64 `json:"retransmissions-received"`
}

func (b *evhBody) mid() string {
	switch m := b.Mid.(type) {
	case string:
		return m
	case float64:
		return fmt.Sprint(m)
	}
	return ""
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func numArg(f *float64) any {
	if f == nil {
		return nil
	}
	return int64(*f)
}

// evhStmt returns the statement of query, prepared on the writer's
// connection the first time.
func (a *applier) evhStmt(query string) (*rawStmt, error) {
	if s := a.statements.evh[query]; s != nil {
		return s, nil
	}
	s, err := prepareRaw(a.ctx, a.statements.conn, query)
	if err != nil {
		return nil, err
	}
	if a.statements.evh == nil {
		a.statements.evh = make(map[string]*rawStmt)
	}
	a.statements.evh[query] = s
	a.statements.all = append(a.statements.all, s)
	return s, nil
}

func (a *applier) evhExec(query string, args ...any) error {
	s, err := a.evhStmt(query)
	if err != nil {
		return err
	}
	if err := s.exec(a.ctx, args...); err != nil {
		return fmt.Errorf("%s: %w", strings.Join(strings.Fields(query)[:3], " "), err)
	}
	return nil
}

// applyEvh projects a Janus event (stored already as the events row seq)
// into janus_events or janus_stats, janus_handles, janus_sessions and
// janus_clock. Everything it reads it reads in the batch's transaction, so
// that the result does not depend on where the stream was cut into
// batches. A body that is not a Janus event (cut by the event body limit)
// is left in events alone.
func (a *applier) applyEvh(seq int64, ev *schema.Event) error {
	if ev.Truncated {
		return nil
	}
	env, err := schema.ParseEvhEnvelope(ev.Body)
	if err != nil {
		return nil
	}
	var b evhBody
	if len(env.Event) > 0 && env.Event[0] == '{' {
		if err := json.Unmarshal(env.Event, &b); err != nil {
			return nil
		}
	}
	gw, jt, at := ev.Gateway, env.Timestamp, ev.Time.UnixMicro()
	sess, hand := dbID(env.SessionID), dbID(env.HandleID)
	typ := schema.EvhTypeName(env.Type, env.Subtype)

	if jt > 0 {
		if err := a.evhClock(gw, at-jt); err != nil {
			return err
		}
	}
	if env.Type == schema.EvhSession && b.Name == "created" && env.SessionID != 0 {
		// The tap forwarded the create's answer just after Janus made the
		// session: the closest pair of clocks there is.
		s, err := a.session(gw, env.SessionID)
		if err != nil {
			return err
		}
		if s != nil && s.createdAt != 0 && jt > 0 {
			if err := a.evhClock(gw, s.createdAt-jt); err != nil {
				return err
			}
		}
	}

	if env.Type == schema.EvhMedia && env.Subtype == schema.EvhMediaStats {
		err := a.evhExec(`INSERT INTO janus_stats (stream_seq, gateway, session_id, handle_id, janus_time, mid, media, codec,
			rtt, lost, lost_by_remote, jitter_local, jitter_remote, in_link_quality, out_link_quality,
			packets_received, packets_sent, bytes_received, bytes_sent, bytes_received_lastsec, bytes_sent_lastsec,
			nacks_received, nacks_sent, retransmissions_received)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			seq, gw, sess, hand, jt, nullStr(b.mid()), nullStr(b.Media), nullStr(b.Codec),
			numArg(b.RTT), numArg(b.Lost), numArg(b.LostByRemote), numArg(b.JitterLocal), numArg(b.JitterRemote),
			numArg(b.InLinkQuality), numArg(b.OutLinkQuality), numArg(b.PacketsReceived), numArg(b.PacketsSent),
			numArg(b.BytesReceived), numArg(b.BytesSent), numArg(b.BytesReceivedLastSec), numArg(b.BytesSentLastSec),
			numArg(b.NACKsReceived), numArg(b.NACKsSent), numArg(b.RetransmissionsReceived))
		if err != nil {
			return err
		}
	} else {
		name, value := evhWhat(env, &b)
		if err := a.evhExec(`INSERT INTO janus_events (stream_seq, gateway, session_id, handle_id, janus_time, time, type, name, mid, value)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			seq, gw, sess, hand, jt, at, typ, nullStr(name), nullStr(b.mid()), nullStr(value)); err != nil {
			return err
		}
	}

	if env.SessionID != 0 && (env.Type == schema.EvhSession || env.HandleID == 0) {
		if err := a.evhExec(`INSERT INTO janus_sessions (gateway, session_id, first_time, last_time) VALUES (?1, ?2, ?3, ?3)
			ON CONFLICT (gateway, session_id) DO UPDATE SET first_time = min(first_time, ?3), last_time = max(last_time, ?3)`,
			gw, sess, jt); err != nil {
			return err
		}
		if env.Type == schema.EvhSession {
			if err := a.evhSession(gw, sess, jt, &b); err != nil {
				return err
			}
		}
	}
	if env.HandleID == 0 {
		return nil
	}
	if err := a.evhExec(`INSERT INTO janus_handles (gateway, handle_id, session_id, opaque_id, first_time, last_time)
		VALUES (?1, ?2, ?3, ?4, ?5, ?5)
		ON CONFLICT (gateway, handle_id) DO UPDATE SET session_id = coalesce(session_id, ?3),
			opaque_id = coalesce(opaque_id, ?4), first_time = min(first_time, ?5), last_time = max(last_time, ?5)`,
		gw, hand, sess, nullStr(env.OpaqueID), jt); err != nil {
		return err
	}
	return a.evhHandle(gw, hand, jt, env, &b)
}

// evhWhat names what a Janus event says, and its detail; for a slow link,
// the whole event.
func evhWhat(env schema.EvhEnvelope, _ *evhBody) (name, value string) {
	name, value = schema.EvhDescribe(env)
	if env.Type == schema.EvhMedia && env.Subtype == schema.EvhMediaSlowLink {
		value = string(env.Event)
	}
	return name, value
}

// evhClock lowers the gateway's clock offset estimate to d when d is less.
func (a *applier) evhClock(gw string, d int64) error {
	return a.evhExec(`INSERT INTO janus_clock (gateway, offset_us, samples) VALUES (?1, ?2, 1)
		ON CONFLICT (gateway) DO UPDATE SET offset_us = min(offset_us, ?2), samples = samples + 1`, gw, d)
}

func (a *applier) evhSession(gw string, sess any, jt int64, b *evhBody) error {
	const where = ` WHERE gateway = ? AND session_id = ?`
	switch b.Name {
	case "created":
		var tr struct {
			Transport string `json:"transport"`
		}
		json.Unmarshal(b.Transport, &tr)
		return a.evhExec(`UPDATE janus_sessions SET created_at = coalesce(created_at, ?), transport = coalesce(transport, ?)`+where,
			jt, nullStr(tr.Transport), gw, sess)
	case "destroyed":
		return a.evhExec(`UPDATE janus_sessions SET destroyed_at = coalesce(destroyed_at, ?)`+where, jt, gw, sess)
	case "timeout":
		return a.evhExec(`UPDATE janus_sessions SET timeout_at = coalesce(timeout_at, ?)`+where, jt, gw, sess)
	}
	return nil
}

func (a *applier) evhHandle(gw string, hand any, jt int64, env schema.EvhEnvelope, b *evhBody) error {
	const where = ` WHERE gateway = ? AND handle_id = ?`
	switch env.Type {
	case schema.EvhHandle:
		switch b.Name {
		case "attached":
			return a.evhExec(`UPDATE janus_handles SET attached_at = coalesce(attached_at, ?), plugin = ?`+where, jt, nullStr(b.Plugin), gw, hand)
		case "detached":
			return a.evhExec(`UPDATE janus_handles SET detached_at = coalesce(detached_at, ?)`+where, jt, gw, hand)
		}
	case schema.EvhJSEP:
		if b.JSEP == nil || b.JSEP.SDP == "" {
			return nil
		}
		col := "remote_sdp"
		if b.Owner == "local" {
			col = "local_sdp"
		}
		return a.evhExec(`UPDATE janus_handles SET `+col+` = ?`+where, b.JSEP.SDP, gw, hand)
	case schema.EvhWebRTC:
		switch env.Subtype {
		case schema.EvhWebRTCICE:
			return a.evhExec(`UPDATE janus_handles SET ice_state = ?1,
				ice_states = CASE WHEN ice_states IS NULL THEN ?1 ELSE ice_states || ' ' || ?1 END,
				ice_connected_at = CASE WHEN ?1 IN ('connected', 'ready') THEN coalesce(ice_connected_at, ?2) ELSE ice_connected_at END,
				ice_failed_at = CASE WHEN ?1 = 'failed' THEN coalesce(ice_failed_at, ?2) ELSE ice_failed_at END
				WHERE gateway = ?3 AND handle_id = ?4`, b.ICE, jt, gw, hand)
		case schema.EvhWebRTCLocalCand:
			return a.evhExec(`UPDATE janus_handles SET local_candidates = local_candidates + 1`+where, gw, hand)
		case schema.EvhWebRTCRemoteCand:
			return a.evhExec(`UPDATE janus_handles SET remote_candidates = remote_candidates + 1`+where, gw, hand)
		case schema.EvhWebRTCSelectedPair:
			var lt, rt string
			if b.Candidates != nil {
				lt, rt = b.Candidates.Local.Type, b.Candidates.Remote.Type
			}
			return a.evhExec(`UPDATE janus_handles SET selected_pair = ?, local_type = ?, remote_type = ?`+where,
				nullStr(b.Pair), nullStr(lt), nullStr(rt), gw, hand)
		case schema.EvhWebRTCDTLS:
			return a.evhExec(`UPDATE janus_handles SET dtls_state = ?1,
				dtls_states = CASE WHEN dtls_states IS NULL THEN ?1 ELSE dtls_states || ' ' || ?1 END,
				dtls_connected_at = CASE WHEN ?1 = 'connected' THEN coalesce(dtls_connected_at, ?2) ELSE dtls_connected_at END
				WHERE gateway = ?3 AND handle_id = ?4`, b.DTLS, jt, gw, hand)
		case schema.EvhWebRTCPC:
			switch b.Connection {
			case "webrtcup":
				return a.evhExec(`UPDATE janus_handles SET webrtcup_at = coalesce(webrtcup_at, ?)`+where, jt, gw, hand)
			case "hangup":
				return a.evhExec(`UPDATE janus_handles SET hangup_at = ?, hangup_reason = ?`+where, jt, nullStr(b.Reason), gw, hand)
			}
		}
	case schema.EvhMedia:
		switch env.Subtype {
		case schema.EvhMediaState:
			return a.evhReceiving(gw, hand, jt, b)
		case schema.EvhMediaSlowLink:
			return a.evhExec(`UPDATE janus_handles SET slowlinks = slowlinks + 1`+where, gw, hand)
		case schema.EvhMediaStats:
			return a.evhExec(`UPDATE janus_handles SET stats = stats + 1`+where, gw, hand)
		}
	}
	return nil
}

// evhReceiving updates the mids a handle receives on.
func (a *applier) evhReceiving(gw string, hand any, jt int64, b *evhBody) error {
	s, err := a.evhStmt(`SELECT coalesce(receiving, '') FROM janus_handles WHERE gateway = ? AND handle_id = ?`)
	if err != nil {
		return err
	}
	var cur string
	if _, err := s.queryRow(a.ctx, []any{gw, hand}, func(r scanner) error { return r.Scan(nText(&cur)) }); err != nil {
		return fmt.Errorf("read janus handle: %w", err)
	}
	mid := b.mid()
	if mid == "" {
		mid = b.Media
	}
	mids := strings.Fields(cur)
	mids = slices.DeleteFunc(mids, func(m string) bool { return m == mid })
	var first any
	if b.Receiving != nil && *b.Receiving {
		mids = append(mids, mid)
		slices.Sort(mids)
		first = jt
	}
	return a.evhExec(`UPDATE janus_handles SET media_events = media_events + 1, receiving = ?,
		receiving_at = coalesce(receiving_at, ?) WHERE gateway = ? AND handle_id = ?`,
		nullStr(strings.Join(mids, " ")), first, gw, hand)
}
