-- 0003_janus_events: Janus's own view of sessions and handles, from the
-- events its event handlers report (schema.JanusEvent, transport evh). Each
-- is also a row of events, with its session_id and handle_id. janus_time is
-- Janus's clock (Unix µs); janus_clock estimates its offset from the tap's
-- clock, so that tap time = janus_time + offset_us. doc.go describes every
-- table.

-- janus_events has a row per Janus event except media statistics (which
-- go to janus_stats): what happened, in the words of the event.
CREATE TABLE janus_events (
	stream_seq INTEGER PRIMARY KEY, -- the event's row of events
	gateway    TEXT NOT NULL,
	session_id INTEGER,
	handle_id  INTEGER,
	janus_time INTEGER NOT NULL,
	time       INTEGER NOT NULL,    -- when the tap received it
	type       TEXT NOT NULL,       -- schema.EvhTypeName: session, handle, jsep, webrtc-ice, media-state...
	name       TEXT,                -- created, attached, offer, connected (ICE), trying (DTLS), webrtcup, receiving...
	mid        TEXT,
	value      TEXT                 -- a candidate, the selected pair, a hangup reason, a slow link's direction...
);
CREATE INDEX janus_events_session ON janus_events (gateway, session_id) WHERE session_id IS NOT NULL;
CREATE INDEX janus_events_handle ON janus_events (gateway, handle_id) WHERE handle_id IS NOT NULL;

-- janus_stats has a row per media statistics event (one per mid every
-- stats_period seconds).
CREATE TABLE janus_stats (
	stream_seq               INTEGER PRIMARY KEY,
	gateway                  TEXT NOT NULL,
	session_id               INTEGER,
	handle_id                INTEGER,
	janus_time               INTEGER NOT NULL,
	mid                      TEXT,
	media                    TEXT,
	codec                    TEXT,
	rtt                      INTEGER,
	lost                     INTEGER,
	lost_by_remote           INTEGER,
	jitter_local             INTEGER,
	jitter_remote            INTEGER,
	in_link_quality          INTEGER,
	out_link_quality         INTEGER,
	packets_received         INTEGER,
	packets_sent             INTEGER,
	bytes_received           INTEGER,
	bytes_sent               INTEGER,
	bytes_received_lastsec   INTEGER,
	bytes_sent_lastsec       INTEGER,
	nacks_received           INTEGER,
	nacks_sent               INTEGER,
	retransmissions_received INTEGER
);
CREATE INDEX janus_stats_handle ON janus_stats (gateway, handle_id);

-- janus_handles sums up a handle's Janus events: ICE and DTLS states (the
-- latest, and every state in order, space-separated), candidates, the
-- selected pair, webrtcup or hangup, media and the SDPs. Times are Janus's.
CREATE TABLE janus_handles (
	gateway           TEXT NOT NULL,
	handle_id         INTEGER NOT NULL,
	session_id        INTEGER,
	plugin            TEXT,
	opaque_id         TEXT,
	attached_at       INTEGER,
	detached_at       INTEGER,
	ice_state         TEXT,
	ice_states        TEXT,
	ice_connected_at  INTEGER,
	ice_failed_at     INTEGER,
	local_candidates  INTEGER NOT NULL DEFAULT 0,
	remote_candidates INTEGER NOT NULL DEFAULT 0,
	selected_pair     TEXT,
	local_type        TEXT,
	remote_type       TEXT,
	dtls_state        TEXT,
	dtls_states       TEXT,
	dtls_connected_at INTEGER,
	webrtcup_at       INTEGER,
	hangup_at         INTEGER,
	hangup_reason     TEXT,
	receiving         TEXT,             -- the mids last said to be receiving, space-separated ("0 1")
	receiving_at      INTEGER,          -- when media was first received
	media_events      INTEGER NOT NULL DEFAULT 0,
	slowlinks         INTEGER NOT NULL DEFAULT 0,
	stats             INTEGER NOT NULL DEFAULT 0,
	local_sdp         TEXT,
	remote_sdp        TEXT,
	first_time        INTEGER NOT NULL,
	last_time         INTEGER NOT NULL,
	PRIMARY KEY (gateway, handle_id)
) WITHOUT ROWID;
CREATE INDEX janus_handles_session ON janus_handles (gateway, session_id);

-- janus_sessions has Janus's own created, destroyed and timeout of a
-- session, and the transport it names.
CREATE TABLE janus_sessions (
	gateway      TEXT NOT NULL,
	session_id   INTEGER NOT NULL,
	transport    TEXT,
	created_at   INTEGER,
	destroyed_at INTEGER,
	timeout_at   INTEGER,
	first_time   INTEGER NOT NULL,
	last_time    INTEGER NOT NULL,
	PRIMARY KEY (gateway, session_id)
) WITHOUT ROWID;

-- janus_clock estimates each gateway's clock against the tap's: offset_us
-- is the least of (tap time − Janus time) over the events received and the
-- session creates (a create's answer as the tap forwarded it, against
-- Janus's created event). Each is Janus's clock plus a delay, so the least
-- is the closest.
CREATE TABLE janus_clock (
	gateway   TEXT PRIMARY KEY,
	offset_us INTEGER NOT NULL,
	samples   INTEGER NOT NULL
) WITHOUT ROWID;
