// Package bus connects janustap to NATS JetStream: the embedded server, the
// event stream, the publisher that ships the spool, and consumers of the log.
//
// # The stream
//
// Every event is one message in one file-backed stream (EnsureStream), on the
// subject Prefix.<gateway>.<transport>.<direction> (schema.Event.Subject),
// with the event id as its Nats-Msg-Id. The stream discards new messages when
// it is full rather than old ones, so evidence is never deleted to make room:
// a full stream makes publishes fail, and the events wait in the spool.
//
// # Shipping
//
// A Publisher reads the spool in order, publishes asynchronously with a
// bounded window, and acknowledges a spool record only once JetStream has
// acknowledged it and every record before it. A publish that fails or times
// out is sent again with the same msg id, for as long as the Publisher runs;
// the stream's duplicate window makes the retry harmless. The order of the
// stream is the order of the spool, except where a publish fails while later
// ones in the window succeed: the retried event is then stored after them.
// Event ids sort by time, and each event carries its connection's Seq.
//
// # The embedded server
//
// Server runs nats-server in the janustap process, on loopback, with a
// user and password generated once and kept in the data directory
// (LoadCredentials), so that other janustap commands reading the same data
// directory can connect.
//
// # Reading
//
// A Reader yields the events of the stream in stream order, from an ordered
// ephemeral consumer or a durable one, following the stream or stopping once
// it has caught up with what the stream held when it started.
//
// It may import spool, health, schema, nats-server and nats.go.
package bus
