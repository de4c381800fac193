package main

import (
	"errors"
	"os"
	"runtime/debug"

	"github.com/urfave/cli/v2"

	"github.com/janustap/janustap/recorder"
	"github.com/janustap/janustap/recorder/bus"
	"github.com/janustap/janustap/recorder/health"
	"github.com/janustap/janustap/recorder/metrics"
	"github.com/janustap/janustap/recorder/tap"
)

// natsFlags are the flags of every command that reaches the event log.
func natsFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "data", Value: "janustap-data", Usage: "data directory: spool, embedded NATS store and credentials, SQLite", EnvVars: env("data")},
		&cli.StringFlag{Name: "nats", Usage: "URL(s) of an existing NATS server or cluster (comma-separated); empty: the embedded server", EnvVars: env("nats")},
		&cli.StringFlag{Name: "nats-user", EnvVars: env("nats-user")},
		&cli.StringFlag{Name: "nats-password", EnvVars: env("nats-password")},
		&cli.StringFlag{Name: "nats-creds", Usage: "NATS credentials file (JWT + NKey seed)", EnvVars: env("nats-creds")},
		&cli.StringFlag{Name: "nats-nkey", Usage: "NKey seed file", EnvVars: env("nats-nkey")},
		&cli.StringFlag{Name: "nats-ca", Usage: "PEM file of the CAs of the NATS servers (requires TLS)", EnvVars: env("nats-ca")},
		&cli.StringFlag{Name: "nats-cert", Usage: "client certificate for mutual TLS", EnvVars: env("nats-cert")},
		&cli.StringFlag{Name: "nats-key", Usage: "client key for mutual TLS", EnvVars: env("nats-key")},
		&cli.StringFlag{Name: "stream", Value: bus.DefaultStream, Usage: "JetStream stream name", EnvVars: env("stream")},
		&cli.StringFlag{Name: "subject-prefix", Value: bus.DefaultPrefix, Usage: "first subject token(s) of events", EnvVars: env("subject-prefix")},
	}
}

func natsOptions(c *cli.Context) bus.ConnectOptions {
	return bus.ConnectOptions{
		User: c.String("nats-user"), Password: c.String("nats-password"),
		CredsFile: c.String("nats-creds"), NKeyFile: c.String("nats-nkey"),
		CAFile: c.String("nats-ca"), CertFile: c.String("nats-cert"), KeyFile: c.String("nats-key"),
	}
}

func serveCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringSliceFlag{Name: "listen", Value: cli.NewStringSlice("127.0.0.1:8089"), Usage: "address to serve every API on (repeat to mirror Janus's own ports)", EnvVars: env("listen")},
		&cli.StringFlag{Name: "gateway", Value: "janus", Usage: "name of the gateway in events and subjects", EnvVars: env("gateway")},
		&cli.StringFlag{Name: "janus-http", Value: "http://127.0.0.1:8088/janus", Usage: "Janus API over HTTP (empty: off)", EnvVars: env("janus-http")},
		&cli.StringFlag{Name: "janus-ws", Value: "ws://127.0.0.1:8188", Usage: "Janus API over WebSocket (empty: off)", EnvVars: env("janus-ws")},
		&cli.StringFlag{Name: "janus-admin-http", Value: "http://127.0.0.1:7088/admin", Usage: "admin API over HTTP (empty: off)", EnvVars: env("janus-admin-http")},
		&cli.StringFlag{Name: "janus-admin-ws", Value: "ws://127.0.0.1:7188", Usage: "admin API over WebSocket (empty: off)", EnvVars: env("janus-admin-ws")},
		&cli.IntFlag{Name: "nats-port", Usage: "client port of the embedded NATS server on loopback (0: a free one; either way written to <data>/nats-url, where the other commands find it)", EnvVars: env("nats-port")},
		&cli.StringFlag{Name: "admin-listen", Value: defaultAdminListen, Usage: "address of /healthz, /readyz and /metrics (empty: off; when the default is in use, a free port, written to <data>/admin-url)", EnvVars: env("admin-listen")},
		&cli.BoolFlag{Name: "keep-secrets", Usage: "keep apisecret, token, admin_secret and Authorization in events (default: redacted)", EnvVars: env("keep-secrets")},
		&cli.Int64Flag{Name: "max-body", Value: 64 << 20, Usage: "largest request body or WebSocket message accepted, bytes", EnvVars: env("max-body")},
		&cli.DurationFlag{Name: "body-timeout", Value: tap.DefaultBodyTimeout, Usage: "time a request body may take to arrive, plus a second per --body-min-rate bytes; past it: 408 (negative: no limit)", EnvVars: env("body-timeout")},
		&cli.Int64Flag{Name: "body-min-rate", Value: tap.DefaultBodyMinRate, Usage: "bytes a second a long request body must keep up past --body-timeout (negative: none)", EnvVars: env("body-min-rate")},
		&cli.Int64Flag{Name: "max-inflight", Value: tap.DefaultMaxInflight, Usage: "memory request bodies take at once, all clients together; past it: 503 (negative: no cap)", EnvVars: env("max-inflight")},
		&cli.IntFlag{Name: "max-conns", Usage: "client connections open at once; past it new ones wait (0: from the descriptor limit, keeping descriptors for the spool, NATS and SQLite; negative: no cap)", EnvVars: env("max-conns")},
		&cli.IntFlag{Name: "max-event-body", Value: 1 << 20, Usage: "bytes of a body kept in its event (longer bodies are forwarded whole, kept truncated with their SHA-256)", EnvVars: env("max-event-body")},
		&cli.Int64Flag{Name: "spool-max", Value: 0, Usage: "cap of unpublished events on disk, bytes (0: none)", EnvVars: env("spool-max")},
		&cli.BoolFlag{Name: "fsync", Usage: "fsync each event (group commit) before forwarding its message", EnvVars: env("fsync")},
		&cli.BoolFlag{Name: "no-record", Usage: "do not run the SQLite recorder beside the tap (run janustap record elsewhere)", EnvVars: env("no-record")},
		&cli.IntFlag{Name: "stream-replicas", Usage: "copies of the event stream in a NATS cluster (default: 1 for a new stream, an existing stream's own)", EnvVars: env("stream-replicas")},
		&cli.DurationFlag{Name: "dedupe-window", Value: bus.DefaultDuplicates, Usage: "the stream's duplicate window: a retried publish within it is stored once (its msg ids are held in the NATS server's memory, ~120 bytes per event)", EnvVars: env("dedupe-window")},
		&cli.StringFlag{Name: "db", Usage: "SQLite projection (default: <data>/janustap.db)", EnvVars: env("db")},
		&cli.StringFlag{Name: "evh-listen", Value: "127.0.0.1:8090", Usage: "address for Janus's HTTP event handler (sampleevh) to post its events to; off: none. When the default is taken, a free loopback port is used and written to <data>/evh-url", EnvVars: env("evh-listen")},
		&cli.StringFlag{Name: "evh-user", Usage: "basic authentication user sampleevh must send (its backend_user; empty: none)", EnvVars: env("evh-user")},
		&cli.StringFlag{Name: "evh-password", Usage: "basic authentication password (sampleevh's backend_pwd)", EnvVars: env("evh-password")},
		&cli.BoolFlag{Name: "evh-gateway-from-emitter", Usage: "name each Janus event's gateway after its emitter (Janus's server_name) instead of --gateway", EnvVars: env("evh-gateway-from-emitter")},
		&cli.StringFlag{Name: "ui-listen", Usage: "serve the web view (janustap ui) on this address too, e.g. 127.0.0.1:8092 (empty: off)", EnvVars: env("ui-listen")},
		&cli.StringFlag{Name: "pprof", Usage: "serve Go's profiler (net/http/pprof) on this address, e.g. 127.0.0.1:6060 (empty: off)", EnvVars: env("pprof")},
	}
	return &cli.Command{
		Name:  "serve",
		Usage: "run the tap in front of Janus, recording every message to the event log",
		Flags: append(flags, natsFlags()...),
		Action: func(c *cli.Context) error {
			tuneGC(os.Getenv)
			log, err := logger(c)
			if err != nil {
				return err
			}
			if addr := c.String("pprof"); addr != "" {
				stop, err := servePprof(c.Context, addr, log)
				if err != nil {
					return err
				}
				defer stop()
			}
			if addr := c.String("ui-listen"); addr != "" {
				stop, err := serveUI(c.Context, c, addr, log)
				if err != nil {
					return err
				}
				defer stop()
			}
			svc, err := recorder.Open(c.Context, recorder.Config{
				Tap: tap.Config{
					Gateway:        c.String("gateway"),
					JanusHTTP:      c.String("janus-http"),
					JanusWS:        c.String("janus-ws"),
					AdminHTTP:      c.String("janus-admin-http"),
					AdminWS:        c.String("janus-admin-ws"),
					KeepSecrets:    c.Bool("keep-secrets"),
					MaxBody:        c.Int64("max-body"),
					EventBodyLimit: c.Int("max-event-body"),
					BodyTimeout:    c.Duration("body-timeout"),
					BodyMinRate:    c.Int64("body-min-rate"),
					MaxInflight:    c.Int64("max-inflight"),
					MaxConns:       c.Int("max-conns"),
				},
				Listen:        c.StringSlice("listen"),
				DataDir:       c.String("data"),
				NATSURL:       c.String("nats"),
				NATS:          natsOptions(c),
				EmbeddedPort:  c.Int("nats-port"),
				Stream:        bus.StreamConfig{Name: c.String("stream"), Prefix: c.String("subject-prefix"), Replicas: c.Int("stream-replicas"), Duplicates: c.Duration("dedupe-window")},
				SpoolMaxBytes: c.Int64("spool-max"),
				Fsync:         c.Bool("fsync"),
				NoRecord:      c.Bool("no-record"),
				DBPath:        c.String("db"),
				AdminListen:   c.String("admin-listen"),
				// Only the default gives way to another tap: an address
				// the user chose must be the one served.
				AdminListenDefault: !c.IsSet("admin-listen"),
				Health:             &health.Status{},
				Metrics:            metrics.New(),
				Logger:             log,

				EVHListen:        c.String("evh-listen"),
				EVHListenDefault: !c.IsSet("evh-listen"),
				EVHUser:          c.String("evh-user"),
				EVHPassword:      c.String("evh-password"),
				EVHFromEmitter:   c.Bool("evh-gateway-from-emitter"),
			})
			if err != nil {
				return err
			}
			err = svc.Run(c.Context)
			return errors.Join(err, svc.Close())
		},
	}
}

// defaultAdminListen is where serve answers /healthz and /readyz unless told
// otherwise: loopback, next to the tap's default 8089 and the event
// handler's 8090.
const defaultAdminListen = "127.0.0.1:8091"

// serveGOGC is the garbage collector's target (GOGC) of serve. Go's default,
// 100, lets the heap grow to twice what is live (goroutine stacks included)
// before it collects; an idle WebSocket pair holds about 7.3 KB, so at 100 the
// tap's resident set grew by 16.1-16.4 KiB per idle client (janustap bench,
// 9 900-9 975 clients), and at 75 by 14.9 KiB, with no difference in CPU or
// latency that the same bench could tell apart from its noise.
const serveGOGC = 75

// tuneGC sets serve's GC target, unless the GOGC environment variable
// (read with getenv) sets one.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(serveGOGC)
	}
}
