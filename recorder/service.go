package recorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/janustap/janustap/recorder/bus"
	"github.com/janustap/janustap/recorder/evh"
	"github.com/janustap/janustap/recorder/health"
	"github.com/janustap/janustap/recorder/lockfile"
	"github.com/janustap/janustap/recorder/metrics"
	"github.com/janustap/janustap/recorder/spool"
	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/recorder/tap"
)

// RecorderNice is the nice value of the thread that writes the SQLite
// projection beside the tap (see Service.Run). At 5 the thread gets about a third of
// a normal thread's share of a busy CPU: enough to keep up with 1000
// requests/s (janustap bench: lag p99 52-87 ms where nice 10 gave 66-146 ms,
// and 0.4-1.5 s on a machine loaded by other work), with no difference in
// the tap's latency the bench could tell from its noise.
const RecorderNice = 5

// MaxConnsFor is serve's default cap of client connections (tap.Config
// MaxConns) for a limit of open descriptors: each client connection may
// hold a second descriptor to Janus, and a reserve of a sixteenth of the
// limit (64 to 256) is kept for the spool, the embedded NATS server's files
// and connections, SQLite and the logs. 0 (limit unknown) means no cap.
func MaxConnsFor(limit uint64) int {
	if limit == 0 {
		return 0
	}
	reserve := min(max(limit/16, 64), 256)
	if limit < reserve+32 {
		return 16
	}
	return int((limit - reserve) / 2)
}

// URLFile is the file in the data directory where `serve` writes the URL of
// its embedded NATS server, so that the other commands find the same log.
const URLFile = "nats-url"

// AdminURLFile is the file in the data directory where `serve` writes the
// URL of its admin listener (health and readiness).
const AdminURLFile = "admin-url"

// EVHURLFile is the file in the data directory where `serve` writes the URL
// its Janus event handler receiver listens on (for sampleevh's backend).
const EVHURLFile = "evh-url"

// Config is everything `janustap serve` runs with.
type Config struct {
	// Tap says where Janus is and how to record; its Emitter is set by Open.
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
	// EmbeddedPort is the embedded server's client port on loopback; 0
	// means a free one. Either way its URL is written to DataDir/URLFile.
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

	// AdminListen serves /healthz and /readyz (see package health), and
	// /metrics when Metrics is set; ""
	// means none. With AdminListenDefault set, an address in use is not an
	// error: a free loopback port is taken instead (and logged), so that
	// two taps with default settings run side by side. The address served
	// is written to DataDir/AdminURLFile.
	AdminListen        string
	AdminListenDefault bool

	// Metrics, when set, counts every event and reads the parts' state
	// for Prometheus; the admin listener serves them on /metrics.
	Metrics *metrics.Metrics

	// EVHListen is where Janus's HTTP event handler (sampleevh) posts its
	// events (see package evh); "" or "off": no receiver.
	EVHListen string
	// EVHListenDefault says EVHListen was not asked for: when it is taken,
	// the receiver listens on a free loopback port instead (EVHURLFile says
	// which), so that a second serve on one machine still starts.
	EVHListenDefault bool
	// EVHListener, when not nil, is the receiver's listener, used instead
	// of EVHListen (the service closes it, even when Open fails).
	EVHListener net.Listener
	// EVHUser and EVHPassword, when EVHUser is set, are the basic
	// authentication sampleevh must send (its backend_user, backend_pwd).
	EVHUser, EVHPassword string
	// EVHFromEmitter takes each Janus event's gateway from its emitter
	// (Janus's server_name) instead of Tap.Gateway.
	EVHFromEmitter bool

	// Health receives what the parts of the service say of themselves
	// (serve's /readyz reads it); nil: nobody listens.
	Health *health.Status

	// Logger receives the service's logs; nil means slog.Default().
	Logger *slog.Logger
	// Ready, when set, is called with the tap's listeners once it serves.
	Ready func(addrs []net.Addr)
}

// Service is `janustap serve`: the tap in front of Janus, the spool it
// writes every event to, the NATS connection (and embedded server) the
// spool is published to, and the SQLite projection beside them. Open
// acquires the parts, Run serves until its context is done or a part fails,
// and Close releases what Open acquired:
//
//	s, err := recorder.Open(ctx, cfg)
//	if err != nil {
//		return err
//	}
//	defer s.Close()
//	return s.Run(ctx)
//
// Every goroutine the service starts has ended when Run returns, and
// whatever step of Open or Run fails, what the steps before it started is
// stopped.
type Service struct {
	cfg    Config
	log    *slog.Logger
	dbPath string

	closers []func() error // what Open acquired, released by Close in reverse

	sp      *spool.Spool
	nc      *nats.Conn
	repair  func(context.Context) error // of the embedded server's JetStream
	tp      *tap.Tap
	gateway string
	evhLn   net.Listener
	lns     []net.Listener
	adminLn net.Listener

	ran    bool
	closed bool
}

// Run is Open, Service.Run and Close in one call: it serves until ctx is
// done.
func Run(ctx context.Context, cfg Config) error {
	s, err := Open(ctx, cfg)
	if err != nil {
		return err
	}
	err = s.Run(ctx)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return err
}

// Open readies the service to serve: it locks the data directory (and the
// database), opens the spool, starts NATS (embedded unless NATSURL is set)
// and connects to it, and listens on the tap's, the event receiver's and the
// admin addresses. Nothing is served before Run. When a step fails, what
// the steps before it acquired is released; so is cfg.EVHListener.
func Open(ctx context.Context, cfg Config) (_ *Service, err error) {
	s := &Service{cfg: cfg, log: cfg.Logger, evhLn: cfg.EVHListener}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.evhLn != nil {
		s.onClose(s.evhLn.Close)
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if cfg.DataDir == "" {
		return nil, errors.New("serve: no data directory")
	}
	if len(cfg.Listen) == 0 {
		return nil, errors.New("serve: no listen address")
	}
	// One serve per data directory, and one writer per database: a second
	// one is refused with the pid of the first (so is a rebuild that would
	// swap the database under this one).
	dirLock, err := lockfile.DataDir(cfg.DataDir, "janustap serve")
	if err != nil {
		return nil, fmt.Errorf("data directory %s in use: %w", cfg.DataDir, err)
	}
	s.onClose(dirLock.Close)
	s.dbPath = cfg.DBPath
	if s.dbPath == "" {
		s.dbPath = filepath.Join(cfg.DataDir, DBFile)
	}
	if !cfg.NoRecord {
		dbLock, err := lockfile.DB(s.dbPath, "janustap serve")
		if err != nil {
			return nil, fmt.Errorf("database %s in use: %w", s.dbPath, err)
		}
		s.onClose(dbLock.Close)
	}

	// The spool first: from here on nothing the tap sees is lost.
	s.sp = spool.New(filepath.Join(cfg.DataDir, "spool"))
	s.sp.MaxBytes = cfg.SpoolMaxBytes
	if cfg.Fsync {
		s.sp.Sync = spool.SyncGroup
	}
	s.sp.Logger = s.log
	if err := s.sp.Open(); err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	s.onClose(s.sp.Close)

	url, copts := cfg.NATSURL, cfg.NATS
	if url == "" {
		srv := &bus.Server{Dir: cfg.DataDir, Port: cfg.EmbeddedPort, Logger: s.log}
		s.repair = srv.RestartJetStream
		s.onClose(func() error { srv.Shutdown(); return nil })
		if err := srv.Start(ctx); err != nil {
			return nil, fmt.Errorf("start embedded nats: %w", err)
		}
		url, copts = srv.ClientURL(), srv.ConnectOptions()
		if err := writeURL(cfg.DataDir, URLFile, url); err != nil {
			return nil, err
		}
		s.log.Info("embedded nats running", "url", url, "store", filepath.Join(cfg.DataDir, bus.StoreDir))
	}
	copts.RetryOnFailedConnect = true
	// No reconnect buffer: the publisher resends what was not acknowledged
	// itself, in spool order, which a buffered publish could overtake.
	copts.ReconnectBufSize = -1
	copts.Logger = s.log
	if s.nc, err = bus.Connect(ctx, url, copts); err != nil {
		return nil, fmt.Errorf("connect to nats: %w", err)
	}
	s.onClose(func() error { s.nc.Close(); return nil })

	tcfg := cfg.Tap
	tcfg.Emitter = SpoolEmitter{Spool: s.sp}
	if cfg.Metrics != nil {
		tcfg.Emitter = observingEmitter{next: tcfg.Emitter, metrics: cfg.Metrics}
	}
	limit := raiseFileLimit()
	if tcfg.MaxConns == 0 {
		tcfg.MaxConns = MaxConnsFor(limit)
	}
	s.log.Info("descriptor limit", "open_files", limit, "max_conns", tcfg.MaxConns)
	tcfg.Logger = s.log
	if s.tp, err = tap.New(tcfg); err != nil {
		return nil, err
	}
	s.gateway = tcfg.Gateway

	if s.evhLn == nil && cfg.EVHListen != "" && cfg.EVHListen != "off" {
		if s.evhLn, err = evh.Listen(cfg.EVHListen, cfg.EVHListenDefault, s.log); err != nil {
			return nil, err
		}
		s.onClose(s.evhLn.Close)
	}
	if s.evhLn != nil {
		if err := writeURL(cfg.DataDir, EVHURLFile, evh.URL(s.evhLn.Addr())); err != nil {
			return nil, err
		}
	}
	for _, addr := range cfg.Listen {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
		s.onClose(ln.Close)
		s.lns = append(s.lns, ln)
	}
	if cfg.AdminListen != "" {
		if s.adminLn, err = listenAdmin(cfg.AdminListen, cfg.AdminListenDefault, s.log); err != nil {
			return nil, err
		}
		s.onClose(s.adminLn.Close)
		if err := writeURL(cfg.DataDir, AdminURLFile, "http://"+s.adminLn.Addr().String()); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// onClose has Close call f, before what was registered earlier.
func (s *Service) onClose(f func() error) { s.closers = append(s.closers, f) }

// writeURL writes url to the file name of dir, for the other commands.
func writeURL(dir, name, url string) error {
	if err := os.WriteFile(filepath.Join(dir, name), []byte(url+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// Close releases what Open acquired: listeners, the NATS connection and
// embedded server, the spool and the locks. Call it after Run has returned
// (or instead of Run). Calls after the first do nothing.
func (s *Service) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	var err error
	for _, f := range slices.Backward(s.closers) {
		if cerr := f(); cerr != nil && !errors.Is(cerr, net.ErrClosed) && err == nil {
			err = cerr
		}
	}
	return err
}

// Run serves until ctx is done or a part fails: the tap on every listener,
// the admin listener and the event receiver, the publisher of the spool to
// JetStream and, unless NoRecord, the SQLite projection. Traffic never waits
// on NATS: if NATS is down, the spool grows until it is back. The database
// is opened once the tap serves, so that migrating a large one holds no
// traffic back. Run returns when every goroutine it started has ended; it
// runs once.
func (s *Service) Run(ctx context.Context) error {
	if s.ran || s.closed {
		return errors.New("serve: the service has run or is closed")
	}
	s.ran = true
	cfg, log := s.cfg, s.log
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(s.lns)+4)
	// stop ends what was started and returns first, after logging what the
	// tap did.
	stop := func(first error) error {
		cancel()
		wg.Wait()
		st := s.tp.Stats()
		ss := s.sp.Stats()
		log.Info("tap stopped", "events", st.Events, "lost", st.EmitErrors, "unpublished", ss.LastSeq+1-ss.FirstUnacked)
		return first
	}

	var pub atomic.Pointer[bus.Publisher] // once ship has made it
	if s.adminLn != nil {
		var h http.Handler = health.Handler(cfg.Health, readyChecks(cfg, s.nc, s.sp), 2*time.Second)
		if cfg.Metrics != nil {
			registerMetrics(cfg.Metrics, s.tp, s.sp, &pub)
			mux := http.NewServeMux()
			mux.Handle("/metrics", cfg.Metrics.Handler())
			mux.Handle("/", h)
			h = mux
		}
		wg.Go(func() { errc <- serveAdmin(ctx, s.adminLn, h) })
		log.Info("admin listening", "url", "http://"+s.adminLn.Addr().String(), "paths", "/healthz /readyz")
	}
	for _, ln := range s.lns {
		wg.Go(func() { errc <- s.tp.Serve(ctx, ln) })
		log.Info("tap listening", "addr", ln.Addr().String(), "gateway", s.gateway)
	}
	if s.evhLn != nil {
		rcv := &evh.Receiver{
			Gateway: s.gateway, FromEmitter: cfg.EVHFromEmitter, Tap: s.tp.ID(),
			Emitter: SpoolEmitter{Spool: s.sp}, User: cfg.EVHUser, Password: cfg.EVHPassword,
			EventBodyLimit: cfg.Tap.EventBodyLimit, Health: cfg.Health,
			Logger: log.With("part", "evh", "gateway", s.gateway),
		}
		if cfg.Metrics != nil {
			cfg.Metrics.Counter("janustap_evh_events_total", "Janus events received from its event handler and spooled.",
				func() float64 { return float64(rcv.Stats().Events) })
			cfg.Metrics.Counter("janustap_evh_posts_total", "Event handler POSTs answered 200.",
				func() float64 { return float64(rcv.Stats().Posts) })
			cfg.Metrics.Counter("janustap_evh_rejected_total", "Event handler POSTs refused with a 4xx (malformed, oversized, unauthorised).",
				func() float64 { return float64(rcv.Stats().Rejected) })
		}
		wg.Go(func() {
			if err := rcv.Serve(ctx, s.evhLn); err != nil {
				cfg.Health.Set(evh.HealthPart, err)
				errc <- fmt.Errorf("janus event receiver: %w", err)
			}
		})
		log.Info("janus event receiver listening", "url", evh.URL(s.evhLn.Addr()))
	}
	wg.Go(func() {
		if err := ship(ctx, s.nc, cfg.Stream, s.sp, cfg.Health, s.repair, &pub, log); err != nil && ctx.Err() == nil {
			errc <- err
		}
	})
	if cfg.Ready != nil {
		addrs := make([]net.Addr, len(s.lns))
		for i, ln := range s.lns {
			addrs[i] = ln.Addr()
		}
		cfg.Ready(addrs)
	}

	if !cfg.NoRecord {
		db := store.NewDB(s.dbPath)
		db.Logger = log
		if err := db.Open(ctx); err != nil {
			if ctx.Err() != nil {
				// Stopped while starting: not a failure.
				return stop(nil)
			}
			return stop(fmt.Errorf("open recorder database: %w", err))
		}
		defer db.Close() // after stop: the projection has ended
		js, err := jetstream.New(s.nc)
		if err != nil {
			return stop(fmt.Errorf("jetstream: %w", err))
		}
		proj := &Projector{JS: js, Stream: cfg.Stream, DB: db, Logger: log, Health: cfg.Health}
		if cfg.Metrics != nil {
			cfg.Metrics.Counter("janustap_projection_events_applied_total", "Events the SQLite projection applied since serve started.",
				func() float64 { return float64(proj.Applied()) })
			cfg.Metrics.Gauge("janustap_projection_lag_seconds", "Time from the last applied event's tap timestamp to its commit in SQLite.",
				func() float64 { return proj.Lag().Seconds() })
			cfg.Metrics.Gauge("janustap_projection_last_sequence", "Stream sequence of the last event the projection applied.",
				func() float64 { return float64(proj.LastSeq()) })
		}
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
		log.Info("recorder running", "db", s.dbPath)
	}

	var first error
	select {
	case <-ctx.Done():
	case first = <-errc:
	}
	return stop(first)
}

// ship makes sure the stream exists (retrying while NATS is unreachable) and
// then publishes the spool to it until ctx is done, reporting to h; repair,
// when set, repairs a JetStream that cannot store (see bus.Publisher).
// The publisher is stored in pub once made, for the metrics.
func ship(ctx context.Context, nc *nats.Conn, sc bus.StreamConfig, sp *spool.Spool, h *health.Status, repair func(context.Context) error, pub *atomic.Pointer[bus.Publisher], log *slog.Logger) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if sc.Replicas == 0 {
			// Keep the replicas of a stream an operator made (a cluster's
			// R3 stream must not become R1 because serve was not told).
			if st, err := js.Stream(sctx, sc.StreamName()); err == nil {
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
		h.Set("publish", fmt.Errorf("event stream not ready: %w", err))
		log.Warn("event stream not ready; events wait in the spool", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
	h.Set("publish", nil)
	p := &bus.Publisher{JS: js, Spool: sp, Prefix: sc.Prefix, After: sp.Stats().FirstUnacked - 1, Logger: log,
		Health: h, Repair: repair}
	pub.Store(p)
	return p.Run(ctx)
}

// registerMetrics exports the tap's, the spool's and the publisher's
// counters (the publisher's read 0 until pub holds it).
func registerMetrics(m *metrics.Metrics, tp *tap.Tap, sp *spool.Spool, pub *atomic.Pointer[bus.Publisher]) {
	pubStat := func(f func(bus.PublisherStats) uint64) func() float64 {
		return func() float64 {
			if p := pub.Load(); p != nil {
				return float64(f(p.Stats()))
			}
			return 0
		}
	}
	m.Counter("janustap_publish_errors_total", "Publishes to JetStream that failed or timed out (each is sent again).",
		pubStat(func(s bus.PublisherStats) uint64 { return s.Errors }))
	m.Counter("janustap_publish_duplicates_total", "Publishes JetStream already had (a retry it had stored): stored once.",
		pubStat(func(s bus.PublisherStats) uint64 { return s.Duplicates }))
	m.Counter("janustap_spool_corrupt_total", "Spool records found damaged and skipped by the publisher.",
		pubStat(func(s bus.PublisherStats) uint64 { return s.Corrupt }))
	m.Counter("janustap_jetstream_repairs_total", "Times the publisher restarted an embedded JetStream that could not store.",
		pubStat(func(s bus.PublisherStats) uint64 { return s.Repairs }))
	m.Gauge("janustap_publish_failing", "1 while publishes to JetStream fail (the spool keeps the events), else 0.",
		func() float64 {
			if p := pub.Load(); p != nil && p.Stats().Failing {
				return 1
			}
			return 0
		})
	m.Gauge("janustap_websockets_open", "Client WebSocket connections the tap relays now.",
		func() float64 { return float64(tp.Stats().WSOpen) })
	m.Counter("janustap_failures_total", "Failure events: what the tap answered because forwarding failed (gateway down, body too large...).",
		func() float64 { return float64(tp.Stats().Failures) })
	m.Counter("janustap_events_dropped_total", "Events lost: refused by the spool (full, or a write error). Their messages were still forwarded.",
		func() float64 { return float64(tp.Stats().EmitErrors) })
	m.Counter("janustap_events_published_total", "Events JetStream acknowledged since serve started.",
		func() float64 { return float64(sp.Stats().Acked) })
	m.Gauge("janustap_spool_pending_events", "Events in the spool not yet acknowledged by JetStream: the publish lag, in events.",
		func() float64 { st := sp.Stats(); return float64(st.LastSeq + 1 - st.FirstUnacked) })
	m.Gauge("janustap_spool_pending_bytes", "Bytes of the spool's unacknowledged events, the amount held against --spool-max.",
		func() float64 { return float64(sp.Stats().Bytes) })
	m.Counter("janustap_body_timeouts_total", "Request bodies that did not arrive within --body-timeout (answered 408).",
		func() float64 { return float64(tp.Stats().BodyTimeouts) })
	m.Counter("janustap_bodies_too_large_total", "Request bodies over --max-body (answered 413).",
		func() float64 { return float64(tp.Stats().TooLarge) })
	m.Counter("janustap_bodies_busy_total", "Requests refused because the bodies in flight would pass --max-inflight (answered 503).",
		func() float64 { return float64(tp.Stats().Busy) })
	m.Gauge("janustap_bodies_inflight_bytes", "Memory request bodies take now, held against --max-inflight.",
		func() float64 { return float64(tp.Stats().Inflight) })
	m.Counter("janustap_conns_full_total", "Times accepting waited for a connection slot (--max-conns).",
		func() float64 { return float64(tp.Stats().ConnsFull) })
}

// listenAdmin listens on addr; when addr is serve's default and in use, it
// takes a free port on the same host instead.
func listenAdmin(addr string, isDefault bool, log *slog.Logger) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil || !isDefault || !errors.Is(err, syscall.EADDRINUSE) {
		if err != nil {
			return nil, fmt.Errorf("admin listen on %s: %w", addr, err)
		}
		return ln, nil
	}
	host, _, _ := net.SplitHostPort(addr)
	ln, err2 := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err2 != nil {
		return nil, fmt.Errorf("admin listen on %s: %w (and on a free port: %w)", addr, err, err2)
	}
	log.Warn("default admin address in use (another janustap?); listening on a free port", "default", addr, "addr", ln.Addr().String())
	return ln, nil
}

// serveAdmin serves h on ln until ctx is done. It returns once the server
// has shut down.
func serveAdmin(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	shutdown := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(shutdown)
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	})
	err := srv.Serve(ln)
	if !stop() {
		<-shutdown // the shutdown has started: let it end
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve admin: %w", err)
	}
	return nil
}

// readyChecks are what /readyz asks at every request: Janus answers on one
// of its APIs, NATS is connected, the spool is under its cap.
func readyChecks(cfg Config, nc *nats.Conn, sp *spool.Spool) []health.Check {
	return []health.Check{
		{Name: "janus", Run: func(ctx context.Context) error { return janusAnswers(ctx, cfg.Tap) }},
		{Name: "nats", Run: func(context.Context) error {
			if st := nc.Status(); st != nats.CONNECTED {
				return fmt.Errorf("not connected to %s: %s", nc.ConnectedUrlRedacted(), st)
			}
			return nil
		}},
		{Name: "spool", Run: func(context.Context) error {
			st := sp.Stats()
			if sp.MaxBytes > 0 && st.Bytes >= sp.MaxBytes {
				return fmt.Errorf("full: %d unpublished bytes of %d, new events are dropped", st.Bytes, sp.MaxBytes)
			}
			return nil
		}},
	}
}

// janusAnswers tells whether Janus answers its HTTP API (GET /info), or else
// accepts a TCP connection on its WebSocket one. Any HTTP answer counts: it
// is Janus's, whatever it says.
func janusAnswers(ctx context.Context, tc tap.Config) error {
	if tc.JanusHTTP != "" {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(tc.JanusHTTP, "/")+"/info", nil)
		if err != nil {
			return fmt.Errorf("janus http url: %w", err)
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			return fmt.Errorf("janus http api: %w", err)
		}
		resp.Body.Close()
		return nil
	}
	if tc.JanusWS != "" {
		u, err := url.Parse(tc.JanusWS)
		if err != nil {
			return fmt.Errorf("janus ws url: %w", err)
		}
		host := u.Host
		if u.Port() == "" {
			port := "80"
			if u.Scheme == "wss" {
				port = "443"
			}
			host = net.JoinHostPort(u.Hostname(), port)
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", host)
		if err != nil {
			return fmt.Errorf("janus ws api: %w", err)
		}
		c.Close()
		return nil
	}
	return errors.New("no janus api configured")
}
