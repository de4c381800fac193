// Package verdict names the likely cause of a failed call from what the
// store holds of its session: `janustap why` and the banner of the web
// view's session page.
//
// A Verdict is the list of Findings that a table of rules (Rules) makes over
// the Facts of one session: its row, handles, transactions and timeline,
// and the close of its WebSocket. Each finding names its rule, a one-line
// cause, and the messages that show it (Evidence: the message number in the
// session's timeline, as `janustap show` counts, and the event id). A
// session no rule finds fault with gets "no problem found".
//
// Rules are functions over Facts and know nothing of each other; their
// order in the table is the order findings are listed in, the likeliest
// root cause first (the tap could not reach Janus before the client went
// away, before what Janus then said).
//
// The rules on a PeerConnection (ice-failed, dtls-failed, hangup,
// pc-never-up, no-media, slowlink) read what Janus told the client
// (webrtcup, hangup with its reason, media with receiving per mid,
// slowlink with uplink) and, when Janus posted them to the tap, its event
// handler's events and store.JanusHandles (ICE and DTLS states,
// candidates, media statistics). Janus's "receiving" is what Janus
// receives from the client: no-media judges the client → Janus direction
// only. slowlink's uplink false is client → Janus (Janus sent NACKs),
// uplink true Janus → client.
//
// It reads the SQLite projection, and so sits in the recorder beside it: it
// may import store and schema.
package verdict
