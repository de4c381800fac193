package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/mattn/go-sqlite3" // the "sqlite3" driver, to watch the projection
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/janustap/janustap/recorder"
	"github.com/janustap/janustap/recorder/bus"
)

// DBFile is the SQLite projection `janustap serve` keeps in its data
// directory.
const DBFile = "janustap.db"

const (
	// readyTimeout bounds the start of a child process.
	readyTimeout = 30 * time.Second
	// settleTimeout bounds the wait for the recorder to catch up.
	settleTimeout = 30 * time.Second
	// settleQuiet is how long the stream must not grow for the recorder to
	// count as caught up.
	settleQuiet = 300 * time.Millisecond
	// sqlitePoll is how often the projection's progress is read: the
	// resolution of the SQLite lag.
	sqlitePoll = 5 * time.Millisecond
)

// tapProcess is a `janustap serve` started by the bench, and what the
// bench reads of its recording.
type tapProcess struct {
	proc   *process
	listen string // host:port of the tap
	data   string // its data directory
	pprof  string // host:port of its --pprof server, "" if none
	nc     *nats.Conn
	js     jetstream.JetStream
	watch  *sqliteWatch
}

// startTap runs `janustap serve` on a free loopback port in front of j,
// with its data in dir, and waits until it accepts connections and its
// event stream exists. natsURL "" runs the embedded NATS server.
// With profile, serve also runs its pprof server on a free port.
func startTap(ctx context.Context, bin, dir, name string, j JanusURLs, natsURL string, profile bool, log *slog.Logger) (*tapProcess, error) {
	listen, err := freeAddr()
	if err != nil {
		return nil, err
	}
	natsPort, err := freePort()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	args := []string{"serve", "--listen", listen, "--gateway", "bench",
		"--janus-http", j.HTTP, "--janus-ws", j.WS, "--janus-admin-http", j.AdminHTTP, "--janus-admin-ws", j.AdminWS,
		"--data", data, "--nats-port", strconv.Itoa(natsPort)}
	if natsURL != "" {
		args = append(args, "--nats", natsURL)
	}
	var pprofAddr string
	if profile {
		if pprofAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		args = append(args, "--pprof", pprofAddr)
	}
	p, err := startProcess(name, dir, bin, args...)
	if err != nil {
		return nil, err
	}
	t := &tapProcess{proc: p, listen: listen, data: data, pprof: pprofAddr}
	if err := t.ready(ctx, natsURL); err != nil {
		p.stop()
		return nil, fmt.Errorf("janustap serve (%s %s) did not start: %w\n%s", bin, strings.Join(args, " "), err, p.output(20))
	}
	t.watch = &sqliteWatch{path: filepath.Join(data, DBFile), log: log}
	t.watch.start()
	return t, nil
}

// ready waits for the tap's port, then connects to its NATS and waits for
// the event stream.
func (t *tapProcess) ready(ctx context.Context, natsURL string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := waitListening(ctx, t.proc, t.listen); err != nil {
		return err
	}
	var opts bus.ConnectOptions
	if natsURL == "" {
		b, err := os.ReadFile(filepath.Join(t.data, recorder.URLFile))
		if err != nil {
			return fmt.Errorf("find its embedded nats: %w", err)
		}
		natsURL = strings.TrimSpace(string(b))
		if opts.User, opts.Password, err = bus.LoadCredentials(t.data); err != nil {
			return err
		}
	}
	opts.Name = "janustap bench"
	opts.Logger = slog.New(slog.DiscardHandler)
	nc, err := bus.Connect(ctx, natsURL, opts)
	if err != nil {
		return err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return fmt.Errorf("jetstream: %w", err)
	}
	t.nc, t.js = nc, js
	return poll(ctx, 20*time.Millisecond, func() error {
		_, err := js.Stream(ctx, bus.DefaultStream)
		if err != nil {
			return fmt.Errorf("event stream %s: %w", bus.DefaultStream, err)
		}
		return nil
	})
}

// streamState returns the number of messages and the last sequence of the
// event stream.
func (t *tapProcess) streamState(ctx context.Context) (msgs, last uint64, err error) {
	s, err := t.js.Stream(ctx, bus.DefaultStream)
	if err != nil {
		return 0, 0, fmt.Errorf("event stream: %w", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("event stream info: %w", err)
	}
	return info.State.Msgs, info.State.LastSeq, nil
}

// settle waits until the recorder has caught up with the traffic: the
// stream has not grown for settleQuiet and, when there is a projection, it
// has applied the whole stream. The next target's round then does not
// share the machine with this one's backlog.
func (t *tapProcess) settle(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	var lastMsgs uint64
	var since time.Time
	return poll(ctx, 25*time.Millisecond, func() error {
		msgs, last, err := t.streamState(ctx)
		if err != nil {
			return err
		}
		now := time.Now()
		if msgs != lastMsgs || since.IsZero() {
			lastMsgs, since = msgs, now
		}
		if now.Sub(since) < settleQuiet {
			return fmt.Errorf("event stream still growing (%d messages)", msgs)
		}
		if applied, ok := t.watch.applied(); ok && applied < last {
			return fmt.Errorf("projection at stream sequence %d of %d", applied, last)
		}
		return nil
	})
}

// logStats is what the bench found in the event stream.
type logStats struct {
	Events     map[string]int       // distinct events by transport
	PublishLag map[string]Latencies // JetStream's store time − the event's time
	Gaps       int                  // sequence numbers missing inside connections
	Total      int                  // distinct events
	Undecoded  int                  // stream messages that are not events
}

// readLog reads the whole stream: it counts the events, checks that every
// connection's sequence numbers are contiguous, and measures how long each
// event took from the tap to JetStream.
func (t *tapProcess) readLog(ctx context.Context) (*logStats, error) {
	st := &logStats{Events: map[string]int{}, PublishLag: map[string]Latencies{}}
	seen := make(map[string]struct{})
	type connSeqs struct {
		max  uint64
		seqs map[uint64]struct{}
	}
	conns := make(map[string]*connSeqs)
	r := &bus.Reader{JS: t.js, UntilCaughtUp: true}
	err := r.Consume(ctx, func(d bus.Delivery) error {
		if d.Err != nil {
			st.Undecoded++
			return nil
		}
		ev := d.Event
		if _, dup := seen[ev.ID]; dup {
			return nil
		}
		seen[ev.ID] = struct{}{}
		st.Total++
		tr := string(ev.Transport)
		st.Events[tr]++
		st.PublishLag[tr] = append(st.PublishLag[tr], d.Time.Sub(ev.Time))
		c := conns[ev.Conn]
		if c == nil {
			c = &connSeqs{seqs: make(map[uint64]struct{})}
			conns[ev.Conn] = c
		}
		c.max = max(c.max, ev.Seq)
		c.seqs[ev.Seq] = struct{}{}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read event stream: %w", err)
	}
	for _, c := range conns {
		st.Gaps += int(c.max) - len(c.seqs)
	}
	return st, nil
}

// stopStats is what `janustap serve` says about itself when it stops.
type stopStats struct {
	Events      int // events the tap made and spooled
	Lost        int // events the tap made but could not spool
	Unpublished int // spooled events not yet in JetStream at the stop
}

var stopLine = regexp.MustCompile(`tap stopped.*\bevents=(\d+).*\blost=(\d+).*\bunpublished=(\d+)`)

// parseStop finds the "tap stopped" line of serve's log.
func parseStop(log string) (stopStats, bool) {
	m := stopLine.FindStringSubmatch(log)
	if m == nil {
		return stopStats{}, false
	}
	var s stopStats
	s.Events, _ = strconv.Atoi(m[1])
	s.Lost, _ = strconv.Atoi(m[2])
	s.Unpublished, _ = strconv.Atoi(m[3])
	return s, true
}

// stop stops the tap and returns what it said about itself.
func (t *tapProcess) stop() (stopStats, bool, error) {
	t.watch.stop()
	if t.nc != nil {
		t.nc.Close()
	}
	err := t.proc.stop()
	b, rerr := os.ReadFile(t.proc.out)
	if rerr != nil {
		return stopStats{}, false, errors.Join(err, rerr)
	}
	s, ok := parseStop(string(b))
	return s, ok, err
}

// sqliteWatch follows the projection's progress while the bench runs and
// times each event from the tap to its row: when progress.last_seq moves
// from a to b, the rows of the events a+1..b have just been committed.
type sqliteWatch struct {
	path string
	log  *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	found   bool                 // the projection exists
	last    int64                // progress.last_seq when last read
	lag     map[string]Latencies // by transport
	rows    map[string]int       // rows seen committed, by transport
	failure error                // why watching stopped, if it did
}

func (w *sqliteWatch) start() {
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.done = cancel, make(chan struct{})
	w.lag, w.rows = map[string]Latencies{}, map[string]int{}
	go func() {
		defer close(w.done)
		if err := w.run(ctx); err != nil && ctx.Err() == nil {
			w.mu.Lock()
			w.failure = err
			w.mu.Unlock()
			w.log.Warn("stopped watching the sqlite projection", "path", w.path, "err", err)
		}
	}()
}

func (w *sqliteWatch) stop() {
	if w == nil || w.cancel == nil {
		return
	}
	w.cancel()
	<-w.done
}

// applied returns the last stream sequence the projection has applied, and
// whether there is a projection.
func (w *sqliteWatch) applied() (uint64, bool) {
	if w == nil {
		return 0, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.found || w.failure != nil {
		return 0, false
	}
	return uint64(w.last), true
}

// projection is what the watch measured.
type projection struct {
	Found bool
	Rows  map[string]int
	Lag   map[string]Latencies
	Err   error
}

func (w *sqliteWatch) result() projection {
	w.mu.Lock()
	defer w.mu.Unlock()
	return projection{Found: w.found && w.failure == nil, Rows: w.rows, Lag: w.lag, Err: w.failure}
}

func (w *sqliteWatch) run(ctx context.Context) error {
	tick := time.NewTicker(sqlitePoll)
	defer tick.Stop()
	var db *sql.DB
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if db == nil {
			if _, err := os.Stat(w.path); err != nil {
				continue // serve has not made it (yet)
			}
			var err error
			if db, err = sql.Open("sqlite3", "file:"+w.path+"?_busy_timeout=1000"); err != nil {
				return fmt.Errorf("open %s: %w", w.path, err)
			}
			db.SetMaxOpenConns(1)
		}
		var last int64
		if err := db.QueryRowContext(ctx, "SELECT last_seq FROM progress WHERE id = 1").Scan(&last); err != nil {
			if ctx.Err() == nil && !strings.Contains(err.Error(), "no such table") {
				return fmt.Errorf("read progress: %w", err)
			}
			continue // migrations not applied yet
		}
		seen := time.Now()
		w.mu.Lock()
		prev := w.last
		w.found = true
		w.mu.Unlock()
		if last <= prev {
			continue
		}
		if err := w.observe(ctx, db, prev, last, seen); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// observe records the rows of the events prev+1..last as committed at seen.
func (w *sqliteWatch) observe(ctx context.Context, db *sql.DB, prev, last int64, seen time.Time) error {
	rows, err := db.QueryContext(ctx, "SELECT time, transport FROM events WHERE stream_seq > ? AND stream_seq <= ?", prev, last)
	if err != nil {
		return fmt.Errorf("read events %d..%d: %w", prev+1, last, err)
	}
	defer rows.Close()
	lag := map[string]Latencies{}
	for rows.Next() {
		var us int64
		var tr string
		if err := rows.Scan(&us, &tr); err != nil {
			return fmt.Errorf("read events %d..%d: %w", prev+1, last, err)
		}
		lag[tr] = append(lag[tr], seen.Sub(time.UnixMicro(us)))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read events %d..%d: %w", prev+1, last, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = last
	for tr, l := range lag {
		w.lag[tr] = append(w.lag[tr], l...)
		w.rows[tr] += len(l)
	}
	return nil
}

// startNATSServer runs the nats-server binary with JetStream on a free
// loopback port, its store in dir, and returns it with its URL.
func startNATSServer(ctx context.Context, bin, dir string) (*process, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	p, err := startProcess("nats-server", dir, bin, "-js", "-sd", filepath.Join(dir, "store"), "-a", "127.0.0.1", "-p", strconv.Itoa(port))
	if err != nil {
		return nil, "", err
	}
	if err := waitStarted(ctx, p, addr); err != nil {
		return nil, "", fmt.Errorf("nats-server did not start: %w\n%s", err, p.output(20))
	}
	return p, "nats://" + addr, nil
}

// waitStarted waits up to readyTimeout until p accepts TCP connections on
// addr (waitListening), and stops p when it does not.
func waitStarted(ctx context.Context, p *process, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := waitListening(ctx, p, addr); err != nil {
		p.stop()
		return err
	}
	return nil
}

// waitListening waits until addr accepts TCP connections, or p exits.
func waitListening(ctx context.Context, p *process, addr string) error {
	return poll(ctx, 20*time.Millisecond, func() error {
		if p.exited() {
			return errExited
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		c.Close()
		return nil
	})
}

var errExited = errors.New("process exited")

// poll calls cond every interval until it returns nil, ctx is done (the
// last error is returned) or it returns errExited.
func poll(ctx context.Context, interval time.Duration, cond func() error) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil || errors.Is(err, errExited) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// freeAddr returns a loopback address (host:port) whose port was free a
// moment ago.
func freeAddr() (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
