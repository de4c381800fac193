// Package clients holds janustap's end-to-end tests with the Janus clients
// people use: janus.js in headless Chromium and Meetecho's janode
// (replayer/janus/clienttest runs them), through a tap and through serve as
// the binary wires it. It has no code of its own;
// everything is in its tests, which may import any package of the module.
//
//   - TestBrowserEchoTest, TestJanode: the clients through a tap and
//     directly; the tap recorded what they said and were told.
//   - TestBrowserThroughServe, TestJanodeThroughServe: the same through
//     serve (tap, spool, JetStream, SQLite); the projection's view of each
//     session is checked, and the session replayed on a second Janus.
//   - TestBrowserJanusEvents: janus.js with media and Janus's own events
//     posted to serve's receiver, projected beside the signaling.
//
// The tests need Janus, node and npm, and Chromium; without them they are
// skipped, and fail when the environment variable CI is "true".
//
//	go test -race ./cmd/janustap/clients/
package clients
