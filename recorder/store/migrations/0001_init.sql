-- 0001_init: the first schema of the projection. Times are Unix
-- microseconds, ids are the 53-bit Janus ids (an id beyond 2^63 is stored
-- as its two's complement), and a value the event did not have is NULL.
-- doc.go describes every table.

-- progress has one row: how far into the event stream the projection is.
CREATE TABLE progress (
	id          INTEGER PRIMARY KEY CHECK (id = 1),
	last_seq    INTEGER NOT NULL, -- stream sequence of the last item applied
	events      INTEGER NOT NULL, -- events stored
	duplicates  INTEGER NOT NULL, -- items skipped: their event id was stored already
	undecodable INTEGER NOT NULL  -- items skipped: not an event
);
INSERT INTO progress (id, last_seq, events, duplicates, undecodable) VALUES (1, 0, 0, 0, 0);

CREATE TABLE gateways (
	gateway    TEXT PRIMARY KEY,
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	events     INTEGER NOT NULL,
	sessions   INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE events (
	stream_seq   INTEGER PRIMARY KEY,
	id           TEXT NOT NULL UNIQUE,
	gateway      TEXT NOT NULL,
	tap          TEXT,
	conn         TEXT NOT NULL,
	seq          INTEGER NOT NULL,
	time         INTEGER NOT NULL,
	mono         INTEGER NOT NULL,
	transport    TEXT NOT NULL,
	dir          TEXT NOT NULL,
	kind         TEXT NOT NULL,
	method       TEXT,
	path         TEXT,
	query        TEXT,
	status       INTEGER,
	parent       TEXT,
	part         INTEGER,
	parts        INTEGER,
	janus        TEXT,
	tx           TEXT,
	session_id   INTEGER,
	handle_id    INTEGER,
	plugin       TEXT,
	plugin_key   TEXT,
	plugin_value TEXT,
	plugin_error INTEGER,
	error_code   INTEGER,
	error_reason TEXT,
	jsep         TEXT,
	has_jsep     INTEGER NOT NULL,
	opaque_id    TEXT,
	close_code   INTEGER,
	error        TEXT,
	request_seq  INTEGER,
	redacted     INTEGER NOT NULL,
	truncated    INTEGER NOT NULL,
	body         BLOB,
	raw          BLOB NOT NULL
);
CREATE INDEX events_session ON events (gateway, session_id) WHERE session_id IS NOT NULL;
CREATE INDEX events_handle ON events (gateway, handle_id) WHERE handle_id IS NOT NULL;
CREATE INDEX events_tx ON events (gateway, tx) WHERE tx IS NOT NULL;
CREATE INDEX events_time ON events (time);
CREATE INDEX events_plugin ON events (plugin) WHERE plugin IS NOT NULL;
CREATE INDEX events_janus ON events (janus) WHERE janus IS NOT NULL;

CREATE TABLE sessions (
	gateway      TEXT NOT NULL,
	session_id   INTEGER NOT NULL,
	transport    TEXT NOT NULL,
	conn         TEXT NOT NULL,
	source_conn  TEXT,
	create_seq   INTEGER,
	created_at   INTEGER,
	destroyed_at INTEGER,
	timed_out_at INTEGER,
	ended_at     INTEGER,
	ended        TEXT CHECK (ended IN ('destroyed', 'timeout', 'ws-closed', 'unknown')),
	first_seen   INTEGER NOT NULL,
	last_seen    INTEGER NOT NULL,
	events       INTEGER NOT NULL,
	errors       INTEGER NOT NULL,
	handles      INTEGER NOT NULL,
	PRIMARY KEY (gateway, session_id)
) WITHOUT ROWID;
CREATE INDEX sessions_first_seen ON sessions (first_seen);
CREATE INDEX sessions_source ON sessions (gateway, source_conn) WHERE source_conn IS NOT NULL AND ended IS NULL;

CREATE TABLE handles (
	gateway       TEXT NOT NULL,
	handle_id     INTEGER NOT NULL,
	session_id    INTEGER NOT NULL,
	plugin        TEXT,
	opaque_id     TEXT,
	attach_seq    INTEGER,
	attached_at   INTEGER,
	detached_at   INTEGER,
	webrtcup_at   INTEGER,
	hangup_at     INTEGER,
	hangup_reason TEXT,
	media         INTEGER NOT NULL,
	slowlinks     INTEGER NOT NULL,
	first_seen    INTEGER NOT NULL,
	last_seen     INTEGER NOT NULL,
	events        INTEGER NOT NULL,
	errors        INTEGER NOT NULL,
	PRIMARY KEY (gateway, handle_id)
) WITHOUT ROWID;
CREATE INDEX handles_session ON handles (gateway, session_id);
CREATE INDEX handles_opaque_id ON handles (opaque_id) WHERE opaque_id IS NOT NULL;

CREATE TABLE transactions (
	request_seq  INTEGER PRIMARY KEY,
	request_id   TEXT NOT NULL,
	gateway      TEXT NOT NULL,
	tx           TEXT,
	transport    TEXT NOT NULL,
	conn         TEXT NOT NULL,
	session_id   INTEGER,
	handle_id    INTEGER,
	janus        TEXT NOT NULL,
	plugin       TEXT,
	request      TEXT,
	opaque_id    TEXT,
	jsep         TEXT,
	request_at   INTEGER NOT NULL,
	request_tap  TEXT,
	request_mono INTEGER NOT NULL,
	reply_seq    INTEGER,
	reply        TEXT,
	reply_at     INTEGER,
	reply_us     INTEGER,
	status       INTEGER,
	ack_at       INTEGER,
	result       TEXT CHECK (result IN ('success', 'error', 'event')),
	result_at    INTEGER,
	error_code   INTEGER,
	error_reason TEXT,
	plugin_error INTEGER,
	events       INTEGER NOT NULL,
	event_at     INTEGER,
	event_us     INTEGER
);
-- No index of its own: the requests of a transaction or a session are
-- found through the events (request_seq = stream_seq) and their indexes.
