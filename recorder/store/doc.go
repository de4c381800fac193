// Package store is the SQLite projection of the event log: every event the
// taps recorded, and the sessions, handles and transactions that correlating
// them reveals, in tables that a person (or `janustap show`) can query.
//
// The projection is derived: it can be dropped and rebuilt from the JetStream
// stream at any time, and a rebuilt database holds exactly the rows of the
// live one (Dump, Equal), however the stream was cut into batches.
//
//	db := store.NewDB(filepath.Join(dir, "janustap.db"))
//	if err := db.Open(ctx); err != nil { ... }
//	defer db.Close()
//	last, _ := db.LastSeq(ctx)
//	// read the stream after last, then for each batch:
//	err := db.Apply(ctx, []store.Item{{StreamSeq: seq, Event: ev, Raw: raw}, ...})
//
// # The database
//
// One file in WAL mode (synchronous=NORMAL), mode 0600. Apply writes through
// a single connection, in one transaction per batch; queries use a separate
// pool of read-only connections and see the last committed batch. The
// writer's connection writes the WAL through a VFS of its own (walvfs.c)
// that gathers a commit's frames into a few writes, where SQLite makes two
// system calls per frame; every frame of a commit is written before SQLite
// makes the commit visible. A goroutine of the DB checkpoints the WAL into
// the file after batches, at most every CheckpointInterval (250 ms), on its
// own connection, so that batches do not wait for it. A commit does not
// sync the WAL: a crash of the machine may lose the last batches, never part
// of one, and the projection resumes after the last batch it kept. The
// schema lives in migrations/*.sql, embedded; Open applies those not
// applied yet, each in its own transaction, and keeps the count in PRAGMA
// user_version. There are no foreign keys: every row is derived from
// events and the tests check that they agree.
//
// Times are Unix microseconds (UTC), ids the 53-bit Janus ids. A value the
// event did not have is NULL, never 0 or "".
//
// # Tables
//
// progress: one row; last_seq is the stream sequence of the last item
// applied, updated in the same transaction as the rows of the batch. Counts
// of events stored, of items skipped as duplicates (an event id stored
// already) and as undecodable.
//
// gateways: one row per gateway name: first_seen, last_seen, events,
// sessions.
//
// events: every event, keyed by stream_seq, with its id (unique), gateway,
// tap, conn, seq, time, mono (ns), transport, dir, kind, method, path, query,
// status, parent, part, parts, the parsed Janus fields (janus, tx,
// session_id, handle_id — handle_id or sender —, plugin, plugin_key,
// plugin_value, plugin_error, error_code, error_reason, jsep, has_jsep,
// opaque_id), close_code, error, redacted, truncated, and raw, the event
// exactly as it was encoded in the stream, from which an export reproduces
// it. The body as it went over the wire is in raw only (queries decode it):
// in SQL, json_extract(CAST(raw AS TEXT), '$.body') reads it when it is
// text, body_base64 when not. Correlation adds three things: plugin
// is also filled with the plugin of the handle an event names (a message
// request has no plugin field); request_seq is the stream_seq of the request
// of the transaction the event belongs to (its own for a request); and the
// create and attach requests and their success get the session_id or
// handle_id they made. The Janus transaction is the column tx, since
// TRANSACTION is an SQL keyword. Indexes: (gateway, session_id), (gateway,
// handle_id), (gateway, tx), time: each costs a B-tree write per event, so
// there is none that no query uses.
//
// sessions: one per (gateway, session_id): transport and conn of the create
// request; source_conn, the WebSocket its events go to (creator, or last
// claimer); create_seq and created_at (the create success); destroyed_at,
// timed_out_at; ended_at and ended, the first end of any kind: destroyed
// (destroy success, or admin destroy_session), timeout (timeout event),
// ws-closed (its source WebSocket closed: Janus destroys its sessions at
// once with the default reclaim_session_timeout of 0; a later claim reopens
// it) or unknown (Janus answered 458 "No such session", or 404 to a long
// poll, for a session the log had not seen end: typically an HTTP session
// that timed out with no poll pending). NULL while open. first_seen,
// last_seen, events and errors cover the Janus API events naming the
// session; handles counts its handles.
//
// handles: one per (gateway, handle_id): session_id, plugin and opaque_id
// of the attach request, attach_seq, attached_at, detached_at (detach
// success or detached event), webrtcup_at (the first), hangup_at and
// hangup_reason (the last), media and slowlinks (event counts), first_seen,
// last_seen, events, errors; room and display (migration 0004) of the
// latest plugin message with body.request "join" or "joinandconfigure"
// (body.room as text, body.display; display compares NOCASE).
//
// transactions: one per request (a message to the gateway with a janus
// verb, over either API), keyed by its request_seq: request_id, gateway, tx,
// transport, conn, session_id and handle_id (of the request; for create and
// attach, what it made), janus (the verb), plugin, request (the "request" of
// a plugin message), opaque_id, jsep; request_at; the direct reply
// (reply_seq, reply: ack, success, error, pong, server_info or failure,
// reply_at, reply_us: latency in µs, status); ack_at; result (success, error
// or event: the first reply or event that is not an ack) and result_at;
// error_code, error_reason, plugin_error; events (asynchronous events
// carrying the transaction), event_at and event_us (latency to the first).
// Latencies use the tap's monotonic clock when one tap saw both messages.
// The table has no index of its own: the requests of a transaction string or
// of a session are the events with request_seq = stream_seq, found through
// the indexes of events.
//
// Janus's own events (kind janus-event, transport evh, reported by its event
// handlers) are rows of events like the others, with their session_id and
// handle_id, and make the rows of five tables of their own (migration
// 0003), keyed like sessions and handles so that they join them. Their
// times (janus_time, *_at, first_time, last_time) are Janus's clock; tap
// time = Janus time + janus_clock.offset_us.
//
// janus_events: one per Janus event other than media statistics, by
// stream_seq: gateway, session_id, handle_id, janus_time, time (the tap's,
// on receipt), type (schema.EvhTypeName: session, handle, jsep, webrtc-ice,
// webrtc-lcand, webrtc-rcand, webrtc-pair, webrtc-dtls, webrtc-pc,
// media-state, media-slowlink, plugin, transport, core-startup...), name
// (what it says: created, attached, remote offer, gathering, connected,
// failed, trying, webrtcup, hangup, receiving, not-receiving, slowlink) and
// value (a candidate, the selected pair, a hangup reason, the media kind,
// the transport plugin).
//
// janus_stats: one per media statistics event (stats_period): the handle,
// janus_time, mid, media, codec, rtt, lost, lost_by_remote, jitter_local,
// jitter_remote, link qualities, packets, bytes (and per last second),
// NACKs and retransmissions as Janus reported them.
//
// janus_handles: one per (gateway, handle_id): session_id, plugin,
// opaque_id, attached_at, detached_at; ice_state (the last) and ice_states
// (every state in order, space-separated), ice_connected_at, ice_failed_at;
// local_candidates and remote_candidates (counts); selected_pair with
// local_type and remote_type; dtls_state, dtls_states, dtls_connected_at;
// webrtcup_at; hangup_at and hangup_reason; receiving (the mids last said
// to receive media), receiving_at (the first), media_events, slowlinks,
// stats (counts); local_sdp and remote_sdp (Janus's, the last of each);
// first_time, last_time.
//
// janus_sessions: one per (gateway, session_id): transport (the Janus
// transport plugin), created_at, destroyed_at, timeout_at, first_time,
// last_time.
//
// janus_clock: one per gateway: offset_us, the least of (tap time − Janus
// time) over the events received (each reaches the tap after Janus stamped
// it) and over the session creates (the create's answer as the tap
// forwarded it, against Janus's created event), and samples. Each is the
// offset plus a delay, so the least is the closest; queries correct Janus's
// times with the offset as it stands when they run.
//
// # Correlation
//
// A reply is linked to its request by Parent over HTTP; over WebSocket by
// transaction within the same connection (the latest request without a reply
// yet). An asynchronous event ("event" with a transaction) is linked by
// transaction to the latest request of the same API, session and handle,
// whatever the connection (a long poll, a claiming WebSocket) and whether or
// not the ack came first. Only the latest 32 requests with one transaction
// string are candidates, wherever the batch boundaries fall.
//
// A create success makes a session, an attach success a handle with the
// request's plugin and opaque_id. A message the gateway sent over the Janus
// API about a session or handle, without error, also makes its row when the
// log does not hold its creation (a capture started late); admin traffic
// never makes one, so an admin list_sessions or handle_info is linked to the
// sessions and handles it names (in events.session_id and handle_id) without
// making any. The destroy, detach and claim successes, and the timeout,
// webrtcup, hangup, media, slowlink and detached events update their rows;
// the close of a WebSocket ends the sessions whose source it was.
//
// # Speed
//
// Apply keeps the sessions, handles and transactions a batch touches in
// memory, and writes each changed row once at the end of the batch: all its
// columns, or only its counters when nothing else changed (an UPDATE that
// sets an indexed column rewrites the index entry). It keeps the rows for
// the next batches too (up to 30 000 entries), so that a projector that
// keeps up, applying every 20 ms what came in, does not read back the rows
// the batch before wrote; it forgets them after a failed batch and when
// another connection wrote (PRAGMA data_version). It runs its statements on
// the driver connection, where
// go-sqlite3 binds all the arguments of a statement and steps it in one cgo
// call, and prepares them once for the life of the connection rather than
// for each batch. Item.Prepare does the work on an item that needs no
// database (decoding, the arguments of its events row) ahead of Apply, on
// the caller's goroutine: a projector prepares the items on the goroutine
// that reads them, so that the one writing to SQLite mostly binds and
// steps. BenchmarkApply and BenchmarkRawInsert (the same events
// inserted with a plain prepared INSERT and no correlation) measure it.
//
// Known limit: a reply stored in the stream before its request (a publish
// retried after later ones succeeded) is not linked to it.
//
// It may import schema and go-sqlite3, and C: walvfs.c calls the SQLite
// that go-sqlite3 links in.
package store
