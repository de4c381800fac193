package recorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/janustap/janustap/recorder/bus"
	"github.com/janustap/janustap/recorder/health"
	"github.com/janustap/janustap/recorder/lockfile"
	"github.com/janustap/janustap/recorder/spool"
	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/recorder/tap"
)

// RecorderNice is the nice value of the thread that writes the SQLite
// projection beside the tap (see Run). At 5 the thread gets about a third of
// a normal thread's share of a busy CPU: enough to keep up with 1000
// requests/s (janustap bench: lag p99 52-87 ms where nice 10 gave 66-146 ms,
// and 0.4-1.5 s on a machine loaded by other work), with no difference in
// the tap's latency the bench could tell from its noise.
const RecorderNice = 5

// URLFile is the file in the data directory where `serve` writes the URL of
// its embedded NATS server, so that the other commands find the same log.
const URLFile = "nats-url"

// Config is everything `janustap serve` runs with.
type Config struct {
	// Tap says where Janus is and how to record; its Emitter is set by Run.
	Tap tap.Config
	// Listen are the addresses the tap serves on; each serves every API.
	Listen []string
	// DataDir holds the spool, the embedded NATS store and its credentials.
	DataDir string

	// NATSURL joins an existing NATS server or cluster; "" runs the
	// embedded server.
	NATSURL string
	// NATS authenticates to NATSURL.
	NATS bus.ConnectOptions
	// EmbeddedPort is the embedded server's client port (0: bus.DefaultPort).
	EmbeddedPort int
	// Stream describes the event stream.
	Stream bus.StreamConfig

	// SpoolMaxBytes caps the spool (0: no cap); past it events are dropped
	// and counted, and traffic goes on.
	SpoolMaxBytes int64
	// Fsync makes every event reach the disk (group commit) before its
	// message is forwarded.
	Fsync bool

	// NoRecord turns off the SQLite projection that Run keeps beside the
	// tap (for a tap whose log another process, `janustap record`, projects).
	NoRecord bool
	// DBPath is the SQLite projection; "" means DataDir/janustap.db.
	DBPath string

	// Health receives what the parts of the service say of themselves
	// (serve's /readyz reads it); nil: nobody listens.
	Health *health.Status

	// Logger receives the service's logs; nil means slog.Default().
	Logger *slog.Logger
	// Ready, when set, is called with the tap's listeners once it serves.
	Ready func(addrs []net.Addr)
}

// Run serves until ctx is done: it opens the spool, starts NATS (embedded
// unless NATSURL is set), publishes the spool to JetStream, and runs the tap
// on every listen address. Traffic never waits on NATS: if NATS is down, the
// spool grows until it is back.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.DataDir == "" {
		return errors.New("serve: no data directory")
	}
	// One serve per data directory, and one writer per database: a second
	// one is refused with the pid of the first (so is a rebuild that would
	// swap the database under this one).
	dirLock, err := lockfile.DataDir(cfg.DataDir, "janustap serve")
	if err != nil {
		return fmt.Errorf("data directory %s in use: %w", cfg.DataDir, err)
	}
	defer dirLock.Close()
	dbPath := cfg.DBPath
	if dbPath == "" {
		dbPath = filepath.Join(cfg.DataDir, DBFile)
	}
	if !cfg.NoRecord {
		dbLock, err := lockfile.DB(dbPath, "janustap serve")
		if err != nil {
			return fmt.Errorf("database %s in use: %w", dbPath, err)
		}
		defer dbLock.Close()
	}

	// The spool first: from here on nothing the tap sees is lost.
	sp := spool.New(filepath.Join(cfg.DataDir, "spool"))
	sp.MaxBytes = cfg.SpoolMaxBytes
	if cfg.Fsync {
		sp.Sync = spool.SyncGroup
	}
	sp.Logger = log
	if err := sp.Open(); err != nil {
		return fmt.Errorf("open spool: %w", err)
	}
	defer sp.Close()

	url, copts := cfg.NATSURL, cfg.NATS
	if url == "" {
		srv := &bus.Server{Dir: cfg.DataDir, Port: cfg.EmbeddedPort, Logger: log}
		if err := srv.Start(ctx); err != nil {
			return fmt.Errorf("start embedded nats: %w", err)
		}
		defer srv.Shutdown()
		url, copts = srv.ClientURL(), srv.ConnectOptions()
		if err := os.WriteFile(filepath.Join(cfg.DataDir, URLFile), []byte(url+"\n"), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", URLFile, err)
		}
		log.Info("embedded nats running", "url", url, "store", filepath.Join(cfg.DataDir, bus.StoreDir))
	}
	copts.RetryOnFailedConnect = true
	// No reconnect buffer: the publisher resends what was not acknowledged
	// itself, in spool order, which a buffered publish could overtake.
	copts.ReconnectBufSize = -1
	copts.Logger = log
	nc, err := bus.Connect(ctx, url, copts)
	if err != nil {
		return fmt.Errorf("connect to nats: %w", err)
	}
	defer nc.Close()

	tcfg := cfg.Tap
	tcfg.Emitter = SpoolEmitter{Spool: sp}
	tcfg.Logger = log
	tp, err := tap.New(tcfg)
	if err != nil {
		return err
	}

	var lns []net.Listener
	for _, addr := range cfg.Listen {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return fmt.Errorf("listen on %s: %w", addr, err)
		}
		lns = append(lns, ln)
	}
	if len(lns) == 0 {
		return errors.New("serve: no listen address")
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(lns)+1)
	for _, ln := range lns {
		wg.Go(func() { errc <- tp.Serve(ctx, ln) })
		log.Info("tap listening", "addr", ln.Addr().String(), "gateway", tcfg.Gateway)
	}
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		if err := ship(ctx, nc, cfg.Stream, sp, log); err != nil && ctx.Err() == nil {
			errc <- err
		}
	}()
	if cfg.Ready != nil {
		addrs := make([]net.Addr, len(lns))
		for i, ln := range lns {
			addrs[i] = ln.Addr()
		}
		cfg.Ready(addrs)
	}

	if !cfg.NoRecord {
		db := store.NewDB(dbPath)
		db.Logger = log
		if err := db.Open(ctx); err != nil {
			stopped := ctx.Err() != nil
			cancel()
			wg.Wait()
			<-pubDone
			if stopped {
				return nil // stopped while the database opened
			}
			return fmt.Errorf("open recorder database: %w", err)
		}
		defer db.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return fmt.Errorf("jetstream: %w", err)
		}
		proj := &Projector{JS: js, Stream: cfg.Stream, DB: db, Logger: log}
		wg.Go(func() {
			// Recording must never slow signaling down: the projection
			// runs on a thread of its own at a lower priority, so that on a
			// busy machine the tap's forwarding comes first and the
			// recorder catches up when there is time.
			if err := lowerThreadPriority(RecorderNice); err != nil {
				log.Warn("recorder runs at the tap's priority", "err", err)
			}
			proj.RunForever(ctx)
		})
		log.Info("recorder running", "db", dbPath)
	}

	var first error
	select {
	case <-ctx.Done():
	case first = <-errc:
	}
	cancel()
	wg.Wait()
	<-pubDone
	st := tp.Stats()
	ss := sp.Stats()
	log.Info("tap stopped", "events", st.Events, "lost", st.EmitErrors, "unpublished", ss.LastSeq+1-ss.FirstUnacked)
	return first
}

// ship makes sure the stream exists (retrying while NATS is unreachable) and
// then publishes the spool to it until ctx is done.
func ship(ctx context.Context, nc *nats.Conn, sc bus.StreamConfig, sp *spool.Spool, log *slog.Logger) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if sc.Replicas == 0 {
			// Keep the replicas of a stream an operator made (a cluster's
			// R3 stream must not become R1 because serve was not told).
			if st, err := js.Stream(sctx, streamName(sc)); err == nil {
				if info, err := st.Info(sctx); err == nil {
					sc.Replicas = info.Config.Replicas
				}
			}
		}
		_, err := bus.EnsureStream(sctx, js, sc)
		cancel()
		if err == nil {
			break
		}
		log.Warn("event stream not ready; events wait in the spool", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
	p := &bus.Publisher{JS: js, Spool: sp, Prefix: sc.Prefix, After: sp.Stats().FirstUnacked - 1, Logger: log}
	return p.Run(ctx)
}

func streamName(sc bus.StreamConfig) string {
	if sc.Name == "" {
		return bus.DefaultStream
	}
	return sc.Name
}
