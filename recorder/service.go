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
// projection beside the tap (see Run). At 5 the thread gets about a third of
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
	// of EVHListen (Run closes it).
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
	var repair func(context.Context) error // of the embedded server's JetStream
	if url == "" {
		srv := &bus.Server{Dir: cfg.DataDir, Port: cfg.EmbeddedPort, Logger: log}
		repair = srv.RestartJetStream
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
	if cfg.Metrics != nil {
		tcfg.Emitter = observingEmitter{next: tcfg.Emitter, metrics: cfg.Metrics}
	}
	limit := raiseFileLimit()
	if tcfg.MaxConns == 0 {
		tcfg.MaxConns = MaxConnsFor(limit)
	}
	log.Info("descriptor limit", "open_files", limit, "max_conns", tcfg.MaxConns)
	tcfg.Logger = log
	tp, err := tap.New(tcfg)
	if err != nil {
		return err
	}

	evhLn := cfg.EVHListener
	if evhLn == nil && cfg.EVHListen != "" && cfg.EVHListen != "off" {
		if evhLn, err = evh.Listen(cfg.EVHListen, cfg.EVHListenDefault, log); err != nil {
			return err
		}
	}
	if evhLn != nil {
		defer evhLn.Close()
		if err := os.WriteFile(filepath.Join(cfg.DataDir, EVHURLFile), []byte(evh.URL(evhLn.Addr())+"\n"), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", EVHURLFile, err)
		}
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
	var pub atomic.Pointer[bus.Publisher] // once ship has made it
	var wg sync.WaitGroup
	errc := make(chan error, len(lns)+3)
	if cfg.AdminListen != "" {
		ln, err := listenAdmin(cfg.AdminListen, cfg.AdminListenDefault, log)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return err
		}
		u := "http://" + ln.Addr().String()
		if err := os.WriteFile(filepath.Join(cfg.DataDir, AdminURLFile), []byte(u+"\n"), 0o600); err != nil {
			ln.Close()
			for _, l := range lns {
				l.Close()
			}
			return fmt.Errorf("write %s: %w", AdminURLFile, err)
		}
		var h http.Handler = health.Handler(cfg.Health, readyChecks(cfg, nc, sp), 2*time.Second)
		if cfg.Metrics != nil {
			registerMetrics(cfg.Metrics, tp, sp, &pub)
			mux := http.NewServeMux()
			mux.Handle("/metrics", cfg.Metrics.Handler())
			mux.Handle("/", h)
			h = mux
		}
		wg.Go(func() { errc <- serveAdmin(ctx, ln, h) })
		log.Info("admin listening", "url", u, "paths", "/healthz /readyz")
	}
	for _, ln := range lns {
		wg.Go(func() { errc <- tp.Serve(ctx, ln) })
		log.Info("tap listening", "addr", ln.Addr().String(), "gateway", tcfg.Gateway)
	}
	if evhLn != nil {
		rcv := &evh.Receiver{
			Gateway: tcfg.Gateway, FromEmitter: cfg.EVHFromEmitter, Tap: tp.ID(),
			Emitter: SpoolEmitter{Spool: sp}, User: cfg.EVHUser, Password: cfg.EVHPassword,
			EventBodyLimit: tcfg.EventBodyLimit, Health: cfg.Health,
			Logger: log.With("part", "evh", "gateway", tcfg.Gateway),
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
			if err := rcv.Serve(ctx, evhLn); err != nil {
				cfg.Health.Set(evh.HealthPart, err)
				errc <- fmt.Errorf("janus event receiver: %w", err)
			}
		})
		log.Info("janus event receiver listening", "url", evh.URL(evhLn.Addr()))
	}
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		if err := ship(ctx, nc, cfg.Stream, sp, cfg.Health, repair, &pub, log); err != nil && ctx.Err() == nil {
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
			stopping := ctx.Err() != nil
			cancel()
			wg.Wait()
			<-pubDone
			if stopping {
				// Stopped while starting: not a failure.
				return nil
			}
			return fmt.Errorf("open recorder database: %w", err)
		}
		defer db.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			cancel()
			wg.Wait()
			<-pubDone
			return fmt.Errorf("jetstream: %w", err)
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

// serveAdmin serves h on ln until ctx is done.
func serveAdmin(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
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
