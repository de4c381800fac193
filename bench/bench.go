package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/janustap/janustap/replayer/janus/janusrun"
)

// The targets the workload runs against.
const (
	Direct           = "direct"            // Janus itself: the limit
	Nginx            = "nginx"             // a reverse proxy that records nothing
	Janustap         = "janustap"          // janustap serve with its embedded NATS
	JanustapExternal = "janustap-external" // janustap serve with a nats-server process
)

// Targets lists every target, in the order of the report.
var Targets = []string{Direct, Nginx, Janustap, JanustapExternal}

// Transports lists both transports.
var Transports = []string{HTTP, WS}

// ErrMissing says a program the bench needs is not installed.
var ErrMissing = errors.New("not installed")

// JanusURLs are the APIs of a Janus.
type JanusURLs struct {
	HTTP      string // Janus API over HTTP, http://host:port/janus
	WS        string // Janus API over WebSocket
	AdminHTTP string // admin API over HTTP, http://host:port/admin
	AdminWS   string // admin API over WebSocket
}

// Config says what to run. Set the fields, then call Run.
type Config struct {
	// Workload is what each client does.
	Workload
	// Duration is the measured load per target and transport, split
	// evenly over Rounds.
	Duration time.Duration
	// Warmup is the load per target and transport run, unmeasured, before
	// the first round; 0 means none.
	Warmup time.Duration
	// Rounds is how many times the bench goes round the targets: round r
	// runs every target and transport for Duration/Rounds, starting with
	// target r (round-robin), so that drift in the machine's speed spreads
	// over all of them. 0 means 1.
	Rounds int
	// Transports to run, from Transports; nil means both.
	Transports []string
	// Targets to run, from Targets; nil means all.
	Targets []string
	// IdleWS is the number of idle WebSocket clients held through each
	// proxy (and Janus) to measure memory per client; 0 skips it.
	IdleWS int

	// Janus is an existing Janus to run against; a zero HTTP means the
	// bench starts a private one (janusrun).
	Janus JanusURLs
	// Janustap is the janustap binary to run as `serve`. Required for the
	// janustap targets.
	Janustap string
	// Nginx and NATSServer are the binaries of nginx and nats-server; ""
	// means the one in PATH or in /usr/sbin.
	Nginx, NATSServer string
	// Dir is where child processes keep their files; "" means a new
	// temporary directory, removed at the end.
	Dir string
	// ProfileDir, when set, has the bench take CPU profiles of each
	// janustap target during its measured slices (through serve's --pprof),
	// write them there merged per target and transport
	// (<target>-<transport>.pprof), and report serve's CPU split by part.
	ProfileDir string
	// Logger receives progress; nil means slog.Default().
	Logger *slog.Logger
}

// target is one thing the workload runs against.
type target struct {
	name string
	ep   endpoint
	pids func() []int    // processes measured; nil for direct
	proc *process        // the proxy; nil for direct
	tap  *tapProcess     // for janustap targets
	nats *process        // the external nats-server
	rows map[string]*Row // by transport
}

// Run starts Janus (unless cfg.Janus names one), the proxies, and runs the
// idle WebSocket measurement and then the workload against every target,
// and returns the report.
func Run(ctx context.Context, cfg Config) (rep *Report, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	rep = &Report{Config: cfg, Started: time.Now(), LoadBefore: loadAvg()}
	if l, err := strconv.ParseFloat(strings.Fields(rep.LoadBefore + " x")[0], 64); err == nil && l > float64(runtime.NumCPU()) {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the machine was busy when the bench started (load average %.1f on %d CPUs): other work shares the CPUs, so every number here is worse and noisier than on an idle machine.",
			l, runtime.NumCPU()))
	}
	// A proxied WebSocket takes two descriptors in the proxy.
	want := uint64(max(2*cfg.IdleWS+4096, 16384))
	if got, err := RaiseFileLimit(want); err != nil || got < want {
		log.Warn("cannot raise the open file limit as far as wanted", "want", want, "got", got, "err", err)
		rep.Notes = append(rep.Notes, fmt.Sprintf("the open file limit is %d, not the %d wanted (raising the hard limit needs CAP_SYS_RESOURCE): one proxy process holds at most about %d proxied WebSockets.",
			got, want, got/2-50))
	}
	if cfg.Dir == "" {
		if cfg.Dir, err = os.MkdirTemp("", "janustap-bench-*"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(cfg.Dir)
	}

	j := cfg.Janus
	var janusPID func() []int
	if j.HTTP == "" {
		jt, err := janusrun.Run(ctx, filepath.Join(cfg.Dir, "janus"), janusrun.Options{})
		if err != nil {
			return nil, fmt.Errorf("start janus: %w", err)
		}
		defer jt.Stop()
		j = JanusURLs{HTTP: jt.HTTP, WS: jt.WS, AdminHTTP: jt.AdminHTTP, AdminWS: jt.AdminWS}
		conf := filepath.Join(jt.Dir, "conf")
		janusPID = func() []int {
			if pid := findProcess(conf); pid != 0 {
				return []int{pid}
			}
			return nil
		}
		log.Info("janus started", "http", j.HTTP, "ws", j.WS)
	}

	if cfg.IdleWS > 0 {
		if err := runIdle(ctx, cfg, j, janusPID, rep); err != nil {
			return nil, err
		}
	}

	var targets []*target
	defer func() {
		for _, t := range targets {
			if t.tap != nil {
				t.tap.stop()
			} else if t.proc != nil {
				t.proc.stop()
			}
			if t.nats != nil {
				t.nats.stop()
			}
		}
	}()
	for _, name := range cfg.Targets {
		t, err := startTarget(ctx, cfg, name, j)
		if err != nil {
			return nil, err
		}
		targets = append(targets, t)
		t.rows = map[string]*Row{}
		for _, tr := range cfg.Transports {
			t.rows[tr] = &Row{Target: name, Transport: tr}
		}
	}

	if cfg.Warmup > 0 {
		for _, t := range targets {
			for _, tr := range cfg.Transports {
				res := runLoad(ctx, cfg.Workload, tr, t.ep, cfg.Warmup)
				if res.Requests == 0 {
					return nil, fmt.Errorf("warm-up of %s over %s: no request succeeded: %w", t.name, tr, res.FirstErr)
				}
				if err := t.settle(ctx); err != nil {
					return nil, err
				}
			}
		}
	}

	slice := cfg.Duration / time.Duration(cfg.Rounds)
	prof := &profiles{dir: cfg.ProfileDir}
	for r := range cfg.Rounds {
		trs := slices.Clone(cfg.Transports)
		if r%2 == 1 {
			slices.Reverse(trs)
		}
		for i := range targets {
			t := targets[(i+r)%len(targets)]
			for _, tr := range trs {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				var before procUsage
				if t.pids != nil {
					before, _ = usage(t.pids())
				}
				var profiled func() error
				if cfg.ProfileDir != "" && t.tap != nil {
					profiled = prof.fetch(ctx, t.tap.pprof, t.name+"-"+tr, slice)
				}
				res := runLoad(ctx, cfg.Workload, tr, t.ep, slice)
				if err := t.settle(ctx); err != nil {
					return nil, err
				}
				if profiled != nil {
					if err := profiled(); err != nil {
						return nil, err
					}
				}
				row := t.rows[tr]
				if t.pids != nil {
					after, err := usage(t.pids())
					if err != nil {
						return nil, fmt.Errorf("measure %s: %w", t.name, err)
					}
					row.CPU += after.CPU - before.CPU
					row.HasProc = true
				}
				row.add(res)
				log.Info("round", "round", r+1, "of", cfg.Rounds, "target", t.name, "transport", tr,
					"req_per_s", fmt.Sprintf("%.0f", float64(res.Requests)/res.Elapsed.Seconds()),
					"p50", res.Latencies.Summarize().P50, "errors", res.Errors)
			}
		}
	}

	for _, t := range targets {
		if err := t.finish(ctx, rep); err != nil {
			return nil, err
		}
		for _, tr := range cfg.Transports {
			rep.Rows = append(rep.Rows, *t.rows[tr])
		}
	}
	rep.computeAdded()
	if cfg.ProfileDir != "" {
		if rep.Parts, err = prof.finish(); err != nil {
			return nil, err
		}
	}
	rep.Finished, rep.LoadAfter = time.Now(), loadAvg()
	return rep, nil
}

func (cfg Config) withDefaults() (Config, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clients <= 0 || cfg.Messages < 0 {
		return cfg, fmt.Errorf("bench: %d clients and %d messages: want at least one client", cfg.Clients, cfg.Messages)
	}
	if cfg.Duration <= 0 {
		return cfg, errors.New("bench: no duration")
	}
	if cfg.Rounds <= 0 {
		cfg.Rounds = 1
	}
	if cfg.Transports == nil {
		cfg.Transports = Transports
	}
	if cfg.Targets == nil {
		cfg.Targets = Targets
	}
	for _, tr := range cfg.Transports {
		if !slices.Contains(Transports, tr) {
			return cfg, fmt.Errorf("bench: unknown transport %q (want %v)", tr, Transports)
		}
	}
	// Keep the report's order whatever the order given.
	var targets []string
	for _, t := range Targets {
		if slices.Contains(cfg.Targets, t) {
			targets = append(targets, t)
		}
	}
	for _, t := range cfg.Targets {
		if !slices.Contains(Targets, t) {
			return cfg, fmt.Errorf("bench: unknown target %q (want %v)", t, Targets)
		}
	}
	cfg.Targets = targets
	if len(cfg.Targets) == 0 || len(cfg.Transports) == 0 {
		return cfg, errors.New("bench: no target or no transport")
	}
	needs := func(name string) bool { return slices.Contains(cfg.Targets, name) }
	if needs(Nginx) {
		bin, err := lookBin(cfg.Nginx, "nginx")
		if err != nil {
			return cfg, err
		}
		cfg.Nginx = bin
	}
	if needs(JanustapExternal) {
		bin, err := lookBin(cfg.NATSServer, "nats-server")
		if err != nil {
			return cfg, err
		}
		cfg.NATSServer = bin
	}
	if (needs(Janustap) || needs(JanustapExternal)) && cfg.Janustap == "" {
		return cfg, errors.New("bench: the janustap targets need the janustap binary")
	}
	if cfg.Janus.HTTP != "" && cfg.Janus.WS == "" {
		return cfg, errors.New("bench: an existing janus needs both its HTTP and its WebSocket URL")
	}
	return cfg, nil
}

// lookBin returns bin, or else name from PATH or /usr/sbin.
func lookBin(bin, name string) (string, error) {
	if bin != "" {
		return bin, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	p := filepath.Join("/usr/sbin", name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s: %w (apt-get install -y %s)", name, ErrMissing, name)
	}
	return p, nil
}

// startTarget starts the processes of one target and returns it ready.
func startTarget(ctx context.Context, cfg Config, name string, j JanusURLs) (*target, error) {
	dir := filepath.Join(cfg.Dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	t := &target{name: name}
	switch name {
	case Direct:
		t.ep = endpoint{HTTP: j.HTTP, WS: j.WS}
	case Nginx:
		p, addr, err := startNginxProxy(ctx, cfg.Nginx, dir, j)
		if err != nil {
			return nil, err
		}
		t.proc = p
		t.pids = func() []int { return append([]int{p.pid()}, children(p.pid())...) }
		t.ep = proxied(addr, j)
	case Janustap, JanustapExternal:
		var natsURL string
		if name == JanustapExternal {
			np, url, err := startNATSServer(ctx, cfg.NATSServer, filepath.Join(dir, "nats"))
			if err != nil {
				return nil, err
			}
			t.nats, natsURL = np, url
		}
		tp, err := startTap(ctx, cfg.Janustap, dir, name, j, natsURL, cfg.ProfileDir != "", cfg.Logger)
		if err != nil {
			if t.nats != nil {
				t.nats.stop()
			}
			return nil, err
		}
		t.tap, t.proc = tp, tp.proc
		t.pids = func() []int { return []int{tp.proc.pid()} }
		t.ep = proxied(tp.listen, j)
	}
	cfg.Logger.Info("target ready", "target", name, "http", t.ep.HTTP, "ws", t.ep.WS)
	return t, nil
}

// startNginxProxy starts nginx on a free port in front of j and waits
// until it answers GET /janus/info.
func startNginxProxy(ctx context.Context, bin, dir string, j JanusURLs) (*process, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	p, err := startNginx(bin, NginxConfig{Dir: dir, Listen: addr, JanusHTTP: j.HTTP, AdminHTTP: j.AdminHTTP, JanusWS: j.WS, Root: os.Geteuid() == 0})
	if err != nil {
		return nil, "", err
	}
	if err := waitStarted(ctx, p, addr); err != nil {
		return nil, "", fmt.Errorf("nginx did not start: %w\n%s%s", err, p.output(20), readTail(filepath.Join(dir, "error.log"), 20))
	}
	return p, addr, nil
}

func readTail(path string, n int) string {
	p := &process{out: path}
	return p.output(n)
}

// urlWithHost returns raw with its host replaced by host.
func urlWithHost(raw, host string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	u.Host = host
	return u.String(), nil
}

// proxied returns the endpoint of a proxy at addr in front of j: the same
// paths, another host.
func proxied(addr string, j JanusURLs) endpoint {
	ep := endpoint{WS: "ws://" + addr + "/"}
	if u, err := urlWithHost(j.HTTP, addr); err == nil {
		ep.HTTP = u
	}
	return ep
}

// settle waits for a janustap target's recorder to catch up.
func (t *target) settle(ctx context.Context) error {
	if t.tap == nil {
		return nil
	}
	if err := t.tap.settle(ctx); err != nil {
		return fmt.Errorf("%s: recorder did not catch up: %w", t.name, err)
	}
	return nil
}

// finish reads a target's peak memory and, for janustap, its recording,
// and stops its processes.
func (t *target) finish(ctx context.Context, rep *Report) error {
	if t.pids != nil {
		u, err := usage(t.pids())
		if err != nil {
			return fmt.Errorf("measure %s: %w", t.name, err)
		}
		for _, r := range t.rows {
			r.PeakRSS = u.HWM
		}
	}
	if t.nats != nil {
		if u, err := usage([]int{t.nats.pid()}); err == nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: the nats-server process used %.1f CPU s in all (rounds and warm-up) and peaked at %.1f MiB; not included above.",
				t.name, u.CPU.Seconds(), float64(u.HWM)/(1<<20)))
		}
	}
	if t.tap == nil {
		if t.proc != nil {
			return t.proc.stop()
		}
		return nil
	}
	st, err := t.tap.readLog(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", t.name, err)
	}
	proj := t.tap.watch.result()
	stop, found, err := t.tap.stop()
	if err != nil {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s: %v", t.name, err))
	}
	dropped := st.Gaps
	if found {
		// Every event the tap made is in the stream, unless it could not
		// be spooled (lost) or never left the spool.
		dropped = max(dropped, stop.Lost+max(0, stop.Events-st.Total))
		if stop.Unpublished > 0 {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: %d events were still in the spool when serve stopped.", t.name, stop.Unpublished))
		}
	} else {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s: no \"tap stopped\" line in serve's log; dropped counts only gaps in connection sequence numbers.", t.name))
	}
	if st.Undecoded > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s: %d stream messages were not events.", t.name, st.Undecoded))
	}
	if proj.Err != nil {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s: watching the SQLite projection failed: %v", t.name, proj.Err))
	} else if !proj.Found {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s: serve made no SQLite projection (%s in its data directory): projected events/s and lag are n/a.", t.name, DBFile))
	}
	for tr, r := range t.rows {
		rec := &RecorderRow{
			Events:     st.Events[tr],
			PublishLag: st.PublishLag[tr].Summarize(),
			Dropped:    dropped,
			Projected:  -1,
		}
		if proj.Found {
			rec.Projected = proj.Rows[tr]
			rec.ProjectLag = proj.Lag[tr].Summarize()
		}
		r.Rec = rec
	}
	rep.Notes = append(rep.Notes, fmt.Sprintf("%s: the stream holds %d events (http %d, ws %d, other %d); the tap reported %d made, %d lost; %d sequence gaps.",
		t.name, st.Total, st.Events[HTTP], st.Events[WS], st.Total-st.Events[HTTP]-st.Events[WS], stop.Events, stop.Lost, st.Gaps))
	return nil
}

// runIdle measures the memory per idle WebSocket client of Janus itself
// (when the bench started it) and of fresh nginx and janustap processes.
func runIdle(ctx context.Context, cfg Config, j JanusURLs, janusPID func() []int, rep *Report) error {
	n := cfg.IdleWS
	log := cfg.Logger
	if janusPID != nil && slices.Contains(cfg.Targets, Direct) && len(janusPID()) > 0 {
		r := measureIdle(ctx, Direct, j.WS, janusPID, n)
		rep.Idle = append(rep.Idle, r)
		log.Info("idle websockets", "target", Direct, "held", r.Held, "err", r.FirstErr)
	}
	if slices.Contains(cfg.Targets, Nginx) {
		dir := filepath.Join(cfg.Dir, "idle-nginx")
		p, addr, err := startNginxProxy(ctx, cfg.Nginx, dir, j)
		if err != nil {
			return err
		}
		r := measureIdle(ctx, Nginx, "ws://"+addr+"/", func() []int { return append([]int{p.pid()}, children(p.pid())...) }, n)
		rep.Idle = append(rep.Idle, r)
		log.Info("idle websockets", "target", Nginx, "held", r.Held, "err", r.FirstErr)
		if err := p.stop(); err != nil {
			return err
		}
	}
	if slices.Contains(cfg.Targets, Janustap) {
		dir := filepath.Join(cfg.Dir, "idle-janustap")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		tp, err := startTap(ctx, cfg.Janustap, dir, Janustap, j, "", false, log)
		if err != nil {
			return err
		}
		r := measureIdle(ctx, Janustap, "ws://"+tp.listen+"/", func() []int { return []int{tp.proc.pid()} }, n)
		rep.Idle = append(rep.Idle, r)
		log.Info("idle websockets", "target", Janustap, "held", r.Held, "err", r.FirstErr)
		if _, _, err := tp.stop(); err != nil {
			return err
		}
	}
	return nil
}
