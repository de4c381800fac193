// Package faults holds janustap's fault suite: tests that run the real
// processes (Janus, nats-server, `janustap serve` and `janustap record`),
// drive real flows through the tap from several clients, inject a fault,
// and then count. It has no code of its own; everything is in its tests,
// which sit beside the binary they build and may import any package of the
// module.
//
// # What the tests hold
//
// After each fault, every message that reached the other side has exactly
// one event in the log (its bytes and direction; no event id twice; each
// connection's events numbered without a gap) and one row in the SQLite
// projection (the same events, none applied twice). Every client flow
// either completed or failed with an error, within its timeout: no client
// hangs.
//
//   - TestTapKilled: SIGKILL of `janustap serve` under load, then a restart
//     on the same data directory. The spool, written before forwarding, is
//     published by the next run. A connection cut by the kill may lack its
//     last few events: those of messages that were being recorded, and so
//     never forwarded, when the process died.
//   - TestRecorderKilled: SIGKILL of `janustap record` (the projection run
//     as its own process), three times under load.
//   - TestNATSKilled: SIGKILL of an external nats-server under load, then a
//     restart on the same store. Signaling is not disturbed.
//   - TestClusterNodeKilled: a three-node NATS cluster with the stream
//     replicated three ways; the node leading the stream is killed under
//     load and brought back. See "A NATS cluster" below.
//   - TestNATSOutage: NATS unreachable under load, once stopped (connections
//     refused) and once hung (SIGSTOP: connections open, nothing answers),
//     each for -nats-outage. Signaling is not disturbed (no flow fails; the
//     p99 of requests during the outage stays within 3× the p99 before it,
//     or it plus 50 ms); the events wait in the spool and are all published
//     once NATS is back.
//   - TestJanusKilled: SIGKILL of Janus under load, then a restart. Clients
//     get 502 and WebSocket close 1011, each with a reason; the tap keeps
//     running and serves again once Janus is back; Failure and Close events
//     say what happened.
//   - TestDiskFull: a 1 MiB tmpfs under the spool, then under the SQLite
//     database, and a spool at its --spool-max cap while NATS hangs.
//     Traffic is forwarded all along; the tap logs each loss with its error
//     and counts them; once there is room, recording resumes, and the
//     database passes SQLite's integrity_check. Mounting needs root; without
//     it the tmpfs subtests are skipped and SpoolMax alone emulates a full
//     disk.
//   - TestBadInput: malformed and truncated JSON, invalid UTF-8, 10 MiB and
//     100 MiB bodies (--max-body 16 MiB: the first goes through, the second
//     is answered 413 with a Janus error), 10 000 WebSocket frames a second
//     from one client, slowloris headers, a reader that never reads,
//     half-closed connections, unknown paths and methods. Each gets a
//     defined answer (Janus's own where Janus has one), other clients' flows
//     all complete, and the tap's resident memory (/proc/PID/status) stays
//     bounded: it does not grow when the large bodies come again.
//   - TestDescriptorsExhausted: serve under prlimit --nofile=300:300 with no
//     connection cap, a WebSocket client sending 256 KiB messages and 320
//     stalled request bodies holding every descriptor for -fd-hold (5s;
//     150s reaches JetStream's failed block write, which the publisher
//     repairs by restarting the embedded JetStream), then released.
//     Recording resumes without a restart; nothing lost or doubled.
//   - TestConcurrentOversizedBodies: eight 100 MiB bodies at once, with a
//     Content-Length (413 before any is read) and chunked (413 or 503 past
//     --max-inflight); the tap's peak resident memory stays under 300 MB.
//
// # Running
//
// The tests need the Debian packages janus and nats-server; without them
// they are skipped, and fail when the environment variable CI is "true".
// TestMain builds ./cmd/janustap once into a temporary directory; the tap
// runs as a separate process so that it can be killed and its memory read.
//
//	go test -race ./cmd/janustap/faults/
//	go test ./cmd/janustap/faults/ -run TestNATSOutage -nats-outage 30s
//
// Flags (after the package):
//
//	-nats-outage D   how long TestNATSOutage keeps NATS unreachable, each
//	                 time (default 5s; the issue asks for 30s)
//	-clients N       concurrent clients of each test's load (default 6)
//	-fd-hold D       how long TestDescriptorsExhausted keeps the tap out of
//	                 descriptors (default 5s; 150s reaches JetStream's
//	                 failed write)
//	-janustap PATH   test this binary instead of building one
//	-janustap-race   build the binary with -race
//
// # A NATS cluster
//
// One machine's embedded NATS is the default. To outgrow it, run three
// nats-server processes (on three machines, or as TestClusterNodeKilled
// does, on loopback) forming one JetStream cluster, and keep the event
// stream on all three: one node can then fail, or be upgraded, while the
// log stays available and loses nothing. Each node has a configuration file
// like this one (the test writes n1, n2 and n3 with their own ports and
// store directories):
//
//	server_name: n1
//	listen: 127.0.0.1:4222
//	jetstream {
//	  store_dir: "/var/lib/nats/n1"
//	}
//	cluster {
//	  name: janustap
//	  listen: 127.0.0.1:6222
//	  routes: [
//	    nats-route://127.0.0.1:6222
//	    nats-route://127.0.0.1:6223
//	    nats-route://127.0.0.1:6224
//	  ]
//	}
//
// server_name must differ between nodes and stay the same across restarts;
// every node lists the cluster port of every node in routes (its own is
// ignored); each has its own store_dir. Start each with `nats-server -c
// n1.conf`. Once a meta leader is elected (a second or two after the
// second node is up), create the stream with three replicas, before the
// first tap runs, for instance with the nats CLI or, from Go, as the test
// does:
//
//	bus.EnsureStream(ctx, js, bus.StreamConfig{Replicas: 3})
//
// (`nats stream add JANUSTAP --subjects 'janustap.>' --replicas 3
// --storage file --retention limits --discard new --dupe-window 10m`
// makes the same stream.) Then point every tap, recorder and reader at all
// the nodes:
//
//	janustap serve --nats nats://n1:4222,nats://n2:4222,nats://n3:4222 ...
//
// A client connects to any node and moves to another when its node goes.
// When the node leading the stream dies, the others elect a new leader;
// publishes in flight then wait for their acknowledgement timeout (10 s)
// and are sent again, deduplicated by their event id, so the log lags for
// that long while signaling is not affected.
//
// `janustap serve --stream-replicas 3` creates the stream with three
// replicas itself; without the flag, serve keeps the replicas of an
// existing stream and creates a new one with one.
package faults
