// Package janusrun runs a private, real Janus (Debian package janus 1.1.2) on
// loopback: `janustap janus`, the bench and, through package janustest, the
// tests start one with Run and stop it with Stop.
//
// Each instance gets its own copy of /etc/janus in a state directory: every
// listener on 127.0.0.1 and never on a default port, the admin API on HTTP
// and WebSockets, unused plugins and transports off, no streaming sample
// mountpoints. Several instances may run at once.
//
//	j, err := janusrun.Run(ctx, dir, janusrun.Options{Args: []string{"-s", "5"}})
//	...
//	defer j.Stop()
//
// StartChild is how every child process of janustap is started (Janus here,
// the bench's proxies and NATS servers, the fault suite's processes): it dies
// with its starter, and Stop ends it with a grace.
//
// It sits beside the Janus client (package janus): a private Janus is the
// gateway that replays, the bench and tests play against. It may import only
// the standard library, and not testing: the shipped binary links it.
package janusrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNotInstalled says the janus binary or its packaged config is missing.
var ErrNotInstalled = errors.New("janus is not installed (apt-get install -y janus)")

const (
	defaultDebug = 3
	// readyTimeout bounds each start, from exec to all four listeners answering.
	readyTimeout = 20 * time.Second
	// stopGrace is how long Stop waits after SIGTERM before SIGKILL; Janus
	// 1.1.2 exits about 0.2 s after SIGTERM.
	stopGrace = 5 * time.Second
	// startAttempts is how often Run tries fresh ports when one was taken
	// between choosing it and Janus binding it.
	startAttempts = 4
	pollInterval  = 20 * time.Millisecond
)

// Options configure an instance. The zero value runs the packaged config with
// the edits described in the package comment at debug level 3.
type Options struct {
	// Args are extra janus command-line flags, e.g. "-s", "10" (session
	// timeout in seconds), "-a", "secret" (API secret), "-A" (token auth),
	// "-m", "5" (reclaim timeout in seconds). Nil adds none.
	Args []string
	// DisablePlugins are extra plugin file names to disable, e.g.
	// "libjanus_videoroom.so". Nil keeps every plugin the dev config loads.
	DisablePlugins []string
	// Debug is the janus -d level, 1 to 7; 0 means 3.
	Debug int
	// FullTrickle makes Janus do full trickle (janus -f) instead of half trickle.
	FullTrickle bool
	// BasePort, when not 0, fixes the ports: HTTP on
	// BasePort, admin HTTP on BasePort-1000, WebSocket on BasePort+100 and
	// admin WebSocket on BasePort-900. Zero picks four free ports.
	BasePort int
	// Events, when not nil, turns on Janus's event handlers and has
	// sampleevh post them (see EventHandler).
	Events *EventHandler
	// Logger receives retries, restarts and slow stops. Nil discards them
	// (Start logs to the test instead).
	Logger *slog.Logger
}

// Janus is one running (or stopped) Janus process with its own config and
// ports. Its URLs stay the same across Restart.
type Janus struct {
	HTTP        string // Janus API over HTTP, "http://127.0.0.1:PORT/janus"
	AdminHTTP   string // admin API over HTTP, "http://127.0.0.1:PORT/admin"
	WS          string // Janus API over WebSockets (subprotocol janus-protocol), "ws://127.0.0.1:PORT"
	AdminWS     string // admin API over WebSockets (subprotocol janus-admin-protocol), "ws://127.0.0.1:PORT"
	AdminSecret string // admin_secret from the packaged janus.jcfg, "janusoverlord"
	Dir         string // state directory: conf/, janus.log, janus.out (stdout and stderr)

	bin    string
	args   []string
	ports  ports
	logger *slog.Logger

	mu   sync.Mutex // serialises Stop, Kill and Restart
	proc *Child     // the current process; nil before the first start
}

// Run starts Janus with its state in dir (created if missing) and returns once
// its four listeners answer. The process outlives ctx, which bounds only the
// start; the caller calls Stop. A port taken by someone else between choosing
// and binding it makes Run try again with fresh ports.
func Run(ctx context.Context, dir string, opts Options) (*Janus, error) {
	bin, err := exec.LookPath("janus")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotInstalled, err)
	}
	if _, err := os.Stat(filepath.Join(packagedConfig, "janus.jcfg")); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotInstalled, err)
	}
	debug := opts.Debug
	if debug == 0 {
		debug = defaultDebug
	}
	if debug < 1 || debug > 7 {
		return nil, fmt.Errorf("janus debug level %d: want 1 to 7", opts.Debug)
	}
	if dir == "" {
		return nil, errors.New("run janus: empty state dir")
	}
	// Janus runs in dir and is given paths inside it: a relative dir would
	// be looked up one level too deep.
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("run janus: state dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create janus state dir: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	conf := filepath.Join(dir, "conf")
	args := []string{"-F", conf, "-d", strconv.Itoa(debug), "-o", "-L", filepath.Join(dir, "janus.log"), "-N"}
	if opts.FullTrickle {
		args = append(args, "-f")
	}
	args = append(args, opts.Args...)

	for attempt := 1; ; attempt++ {
		p, err := freePorts()
		if opts.BasePort != 0 {
			b := opts.BasePort
			p, err = ports{http: b, adminHTTP: b - 1000, ws: b + 100, adminWS: b - 900}, nil
		}
		if err != nil {
			return nil, err
		}
		if err := os.RemoveAll(conf); err != nil {
			return nil, fmt.Errorf("remove old janus config: %w", err)
		}
		secret, err := writeConfig(packagedConfig, conf, p, opts.DisablePlugins)
		if err != nil {
			return nil, err
		}
		if opts.Events != nil {
			if err := writeEventHandler(conf, opts.Events); err != nil {
				return nil, err
			}
		}
		j := &Janus{
			HTTP:        fmt.Sprintf("http://127.0.0.1:%d/janus", p.http),
			AdminHTTP:   fmt.Sprintf("http://127.0.0.1:%d/admin", p.adminHTTP),
			WS:          fmt.Sprintf("ws://127.0.0.1:%d", p.ws),
			AdminWS:     fmt.Sprintf("ws://127.0.0.1:%d", p.adminWS),
			AdminSecret: secret,
			Dir:         dir,
			bin:         bin,
			args:        args,
			ports:       p,
			logger:      logger.With("part", "janustest", "dir", dir),
		}
		err = j.start(ctx, true)
		if err == nil {
			j.logger.Debug("janus up", "http", j.HTTP, "ws", j.WS, "pid", j.proc.Pid())
			return j, nil
		}
		if !errors.Is(err, errPortTaken) || attempt == startAttempts || opts.BasePort != 0 {
			return nil, err
		}
		j.logger.Info("janus could not bind its ports; trying new ones", "attempt", attempt, "err", err)
	}
}

// start runs the binary and waits until it is ready. A fresh start truncates
// janus.log; otherwise a marker line separates the runs.
func (j *Janus) start(ctx context.Context, fresh bool) error {
	logPath := filepath.Join(j.Dir, "janus.log")
	flags := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	if fresh {
		flags |= os.O_TRUNC
	}
	lf, err := os.OpenFile(logPath, flags, 0o644)
	if err != nil {
		return fmt.Errorf("open janus log: %w", err)
	}
	if !fresh {
		_, err = fmt.Fprintf(lf, "--- janustest: restart at %s ---\n", time.Now().Format(time.RFC3339Nano))
	}
	var offset int64
	if fi, serr := lf.Stat(); serr == nil {
		offset = fi.Size()
	}
	if cerr := lf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write janus log: %w", err)
	}
	out, err := os.OpenFile(filepath.Join(j.Dir, "janus.out"), flags, 0o644)
	if err != nil {
		return fmt.Errorf("open janus output file: %w", err)
	}
	defer out.Close() // the child has its own copy

	cmd := exec.Command(j.bin, j.args...) // not CommandContext: ctx bounds the start, not the process
	cmd.Dir = j.Dir
	cmd.Stdout = out
	cmd.Stderr = out
	p, err := StartChild(cmd, true, nil)
	if err != nil {
		return fmt.Errorf("start janus: %w", err)
	}
	j.proc = p

	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := j.waitReady(ctx, p, logPath, offset); err != nil {
		if kerr := j.kill(p); kerr != nil {
			err = errors.Join(err, kerr)
		}
		return err
	}
	return nil
}

// Stop sends SIGTERM to Janus and waits for it to exit, sending SIGKILL if it
// has not exited after a few seconds. Stopping a stopped Janus does nothing.
func (j *Janus) Stop() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.stop()
}

func (j *Janus) stop() error {
	p := j.proc
	if p == nil || !p.Running() {
		return nil
	}
	killed, err := p.Stop(stopGrace)
	if killed {
		j.logger.Warn("janus ignored SIGTERM; killed it", "pid", p.Pid(), "grace", stopGrace)
	}
	if err != nil {
		return fmt.Errorf("stop janus: %w", err)
	}
	return nil
}

// Kill sends SIGKILL to Janus and waits until it is gone: no shutdown, no
// goodbye to clients. For fault tests; Restart brings it back.
func (j *Janus) Kill() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.proc == nil {
		return nil
	}
	return j.kill(j.proc)
}

func (j *Janus) kill(p *Child) error {
	if err := p.Kill(); err != nil {
		return fmt.Errorf("kill janus: %w", err)
	}
	return nil
}

// Restart starts Janus again with the same ports, config and flags, stopping
// it first if it still runs, and returns once it is ready. It does not move to
// other ports: if one has been taken meanwhile, Restart fails.
func (j *Janus) Restart(ctx context.Context) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.stop(); err != nil {
		return err
	}
	if err := j.start(ctx, false); err != nil {
		return fmt.Errorf("restart janus: %w", err)
	}
	j.logger.Debug("janus restarted", "pid", j.proc.Pid())
	return nil
}

// LogTail returns the last n lines of janus.log, across restarts, for failure
// messages. It never fails: a read error comes back as the text.
func (j *Janus) LogTail(n int) string {
	b, err := os.ReadFile(filepath.Join(j.Dir, "janus.log"))
	if err != nil {
		return fmt.Sprintf("(no janus log: %v)", err)
	}
	return tail(string(b), n)
}

func tail(s string, n int) string {
	lines := strings.SplitAfter(strings.TrimRight(s, "\n"), "\n")
	if n < len(lines) {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}

// readFrom returns the contents of path from offset on.
func readFrom(path string, offset int64) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return "", err
	}
	b, err := io.ReadAll(f)
	return string(b), err
}
