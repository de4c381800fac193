// Package tap is the transparent proxy that clients use instead of Janus. It
// forwards the Janus API and the admin API, over HTTP (REST, long-poll, CORS
// preflight) and over WebSocket (subprotocols janus-protocol and
// janus-admin-protocol), unchanged, and turns every message that crosses it
// into a schema.Event handed to an Emitter before the message is forwarded.
//
// One handler serves all four APIs: a WebSocket upgrade is routed by its
// subprotocol, as Janus's ports do, and an HTTP request by its path (the
// admin base path, "/admin" by default, goes to the admin API; everything
// else to the Janus API, so that Janus answers unknown paths itself).
//
// Serve runs the tap on a listener with a small HTTP/1.1 server of its own
// (server.go says why and how it differs from net/http's); Handler serves
// the same APIs inside any http.Server.
//
// The tap never waits on the event log: the Emitter (in janustap, a local
// spool file) must return quickly, and a failing Emitter is counted and
// logged while traffic goes on.
//
// It may import schema, gorilla/websocket and the standard library.
package tap
