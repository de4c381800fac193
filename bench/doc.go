// Package bench measures what janustap costs: it drives one Janus workload
// against Janus directly, through nginx (a reverse proxy that records
// nothing) and through `janustap serve` with its embedded NATS and with an
// external nats-server, in the same run, and reports for each the request
// rate, round-trip latencies and the latency added over direct, the
// proxy's CPU time and peak memory, and for janustap what it recorded:
// events published per second and their lag, events projected into SQLite
// and their lag, and events dropped. It also measures the memory each
// proxy holds per idle WebSocket client.
//
// Every proxy is a separate process started by the bench on loopback
// ports (janustap is the same binary, re-executed as `serve`), so that its
// CPU time and resident set can be read from /proc. Janus is a private
// instance (replayer/janus/janusrun) unless the caller names one.
//
// `janustap bench` (cmd/janustap/bench.go) is the command line; README.md
// in this directory describes the method, and results/ keeps the reports.
//
// It may import recorder, recorder/bus, the Janus client and runner
// (replayer/janus, janusrun) and schema, and pprof, gorilla/websocket, go-
// sqlite3 and nats.go.
package bench
