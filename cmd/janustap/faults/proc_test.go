//go:build linux

package faults_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/bus/bustest"
	"github.com/janustap/janustap/replayer/janus/janusrun"
	"github.com/janustap/janustap/replayer/janus/janustest"
)

const (
	// readyTimeout bounds the wait for a process to say it is ready.
	readyTimeout = 30 * time.Second
	// stopGrace is how long a process has to exit after SIGTERM.
	stopGrace = 15 * time.Second
	// maxLines is how many log lines of a process are kept, over all runs.
	maxLines = 50000
)

// child is a process that a test starts, kills and starts again with the
// same command line. It reads the process's stderr line by line; the
// process is ready once ready returns true for a line. Its methods are for
// the test goroutine.
type child struct {
	t     testing.TB
	name  string
	argv  []string
	ready func(line string) bool

	mu    sync.Mutex
	lines []string // stderr of every run, each run's first line marked

	cmd    *exec.Cmd
	exited <-chan struct{} // closed once cmd has exited and its stderr is read
	runs   int
}

// newChild returns a child for argv that is killed when the test ends.
func newChild(t testing.TB, name string, argv []string, ready func(string) bool) *child {
	c := &child{t: t, name: name, argv: argv, ready: ready}
	t.Cleanup(func() {
		c.kill()
		if t.Failed() {
			t.Logf("last lines of %s:\n%s", c.name, c.tail(60))
		}
	})
	return c
}

func (c *child) add(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.lines) >= maxLines {
		c.lines = slices.Delete(c.lines, 0, maxLines/10)
	}
	c.lines = append(c.lines, line)
}

// logLines returns every line logged so far.
func (c *child) logLines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.lines)
}

// tail returns the last n lines logged, for failure messages.
func (c *child) tail(n int) string {
	lines := c.logLines()
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// start runs the command and returns once it is ready; it fails the test if
// the process exits first or is not ready within readyTimeout.
func (c *child) start() {
	c.t.Helper()
	if c.cmd != nil {
		c.t.Fatalf("start %s: already running", c.name)
	}
	c.runs++
	c.add(fmt.Sprintf("--- faults: run %d of %s ---", c.runs, c.name))
	cmd := exec.Command(c.argv[0], c.argv[1:]...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		c.t.Fatalf("start %s: %v", c.name, err)
	}
	ready := make(chan struct{})
	proc, err := janusrun.StartChild(cmd, false, func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		isReady := false
		for sc.Scan() {
			line := sc.Text()
			c.add(line)
			if !isReady && c.ready(line) {
				isReady = true
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	})
	if err != nil {
		c.t.Fatalf("start %s: %v", c.name, err)
	}
	exited := proc.Done()
	c.cmd, c.exited = cmd, exited
	select {
	case <-ready:
	case <-exited:
		c.cmd = nil
		c.t.Fatalf("%s exited before it was ready (%v); its log:\n%s", c.name, cmd.ProcessState, c.tail(40))
	case <-time.After(readyTimeout):
		c.kill()
		c.t.Fatalf("%s not ready after %s; its log:\n%s", c.name, readyTimeout, c.tail(40))
	}
}

// pid returns the process id of the running process.
func (c *child) pid() int {
	c.t.Helper()
	if c.cmd == nil {
		c.t.Fatalf("%s is not running", c.name)
	}
	return c.cmd.Process.Pid
}

// kill sends SIGKILL, as a crash would, and waits until the process is
// gone. It does nothing if the process is not running.
func (c *child) kill() {
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.exited
	c.cmd = nil
}

// stop sends SIGTERM, as an operator would, and waits for the process to
// exit; it kills it and fails the test if that takes over stopGrace.
func (c *child) stop() {
	c.t.Helper()
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGCONT) // a paused process cannot act on SIGTERM
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
		c.cmd = nil
	case <-time.After(stopGrace):
		c.kill()
		c.t.Fatalf("%s still running %s after SIGTERM; killed it", c.name, stopGrace)
	}
}

// pause freezes the process (SIGSTOP): its sockets stay open, nothing
// answers. resume lets it go on.
func (c *child) pause()  { c.signal(syscall.SIGSTOP) }
func (c *child) resume() { c.signal(syscall.SIGCONT) }

func (c *child) signal(sig syscall.Signal) {
	c.t.Helper()
	if c.cmd == nil {
		c.t.Fatalf("signal %v to %s: not running", sig, c.name)
	}
	if err := c.cmd.Process.Signal(sig); err != nil {
		c.t.Fatalf("signal %v to %s: %v", sig, c.name, err)
	}
}

// rss returns the resident set of the running process, in bytes.
func (c *child) rss() int64 { return c.status("VmRSS") }

// peakRSS returns the largest resident set the running process has had.
func (c *child) peakRSS() int64 { return c.status("VmHWM") }

// status reads a memory figure, in bytes, from /proc/PID/status.
func (c *child) status(field string) int64 {
	c.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.pid()))
	if err != nil {
		c.t.Fatalf("read memory of %s: %v", c.name, err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				c.t.Fatalf("read memory of %s: %q: %v", c.name, line, err)
			}
			return kb << 10
		}
	}
	c.t.Fatalf("read memory of %s: no %s in /proc/%d/status", c.name, field, c.pid())
	return 0
}

// logRecord is one JSON log line of janustap (--log-json).
type logRecord map[string]any

func (r logRecord) str(key string) string {
	s, _ := r[key].(string)
	return s
}

func (r logRecord) num(key string) int64 {
	f, _ := r[key].(float64)
	return int64(f)
}

// records returns the JSON log records of janustap whose msg is msg; ""
// returns them all.
func (c *child) records(msg string) []logRecord {
	var out []logRecord
	for _, line := range c.logLines() {
		var r logRecord
		if json.Unmarshal([]byte(line), &r) != nil {
			continue
		}
		if msg == "" || r.str("msg") == msg {
			out = append(out, r)
		}
	}
	return out
}

// tapProc is `janustap serve` running as a separate process, on the same
// address and data directory across restarts.
type tapProc struct {
	*child
	addr string // host:port the tap listens on
	data string // --data
}

// startTap runs `janustap serve` with args after --listen and --data, and
// returns once it listens. The first run listens on a free port, which
// later runs keep.
func startTap(t testing.TB, data string, args ...string) *tapProc {
	t.Helper()
	p := &tapProc{data: data}
	argv := append([]string{janustapBin, "--log-json", "serve", "--listen", "127.0.0.1:0", "--data", data}, args...)
	p.child = newChild(t, "janustap serve", argv, func(line string) bool {
		var r logRecord
		if json.Unmarshal([]byte(line), &r) != nil || r.str("msg") != "tap listening" {
			return false
		}
		p.addr = r.str("addr")
		return true
	})
	p.start()
	p.argv[4] = p.addr // restarts listen where clients look
	return p
}

// tapArgs are the serve flags that put a tap in front of j.
func tapArgs(j *janustest.Janus) []string {
	return []string{"--gateway", "gw1", "--janus-http", j.HTTP, "--janus-ws", j.WS,
		"--janus-admin-http", j.AdminHTTP, "--janus-admin-ws", j.AdminWS}
}

func (p *tapProc) httpURL() string { return "http://" + p.addr + "/janus" }
func (p *tapProc) wsURL() string   { return "ws://" + p.addr + "/" }

// stopped returns the counters of the last "tap stopped" line: events
// recorded, events lost, records left unpublished.
func (p *tapProc) stopped() (events, lost, unpublished int64, ok bool) {
	rs := p.records("tap stopped")
	if len(rs) == 0 {
		return 0, 0, 0, false
	}
	r := rs[len(rs)-1]
	return r.num("events"), r.num("lost"), r.num("unpublished"), true
}

// startRecorder runs `janustap record` (the SQLite projection alone) as a
// separate process and returns once it runs.
func startRecorder(t testing.TB, args ...string) *child {
	t.Helper()
	argv := append([]string{janustapBin, "--log-json", "record"}, args...)
	c := newChild(t, "janustap record", argv, func(line string) bool {
		return strings.Contains(line, `"msg":"recorder running"`)
	})
	c.start()
	return c
}

// natsBinary returns the nats-server binary, or skips the test (fails it
// under CI) when there is none, as bustest.StartExternal does.
func natsBinary(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(bustest.NATSServerBinary); err == nil {
		return bustest.NATSServerBinary
	}
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		msg := fmt.Sprintf("no nats-server binary at %s or in $PATH (apt-get install nats-server): %v", bustest.NATSServerBinary, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// natsCluster is three nats-server processes on loopback forming one
// JetStream cluster. See the package documentation for the configuration.
type natsCluster struct {
	nodes []*child
	urls  []string
	confs []string
}

// startCluster writes the configuration of three nodes and starts them.
func startCluster(t testing.TB) *natsCluster {
	t.Helper()
	bin := natsBinary(t)
	dir := t.TempDir()
	const n = 3
	ports, cports := freePorts(t, n), freePorts(t, n)
	var routes []string
	for _, p := range cports {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	c := &natsCluster{}
	for i := range n {
		name := fmt.Sprintf("n%d", i+1)
		conf := clusterConfig(name, ports[i], cports[i], filepath.Join(dir, name), routes)
		path := filepath.Join(dir, name+".conf")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		c.confs = append(c.confs, conf)
		c.urls = append(c.urls, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
		c.nodes = append(c.nodes, newChild(t, "nats-server "+name, []string{bin, "-c", path}, func(line string) bool {
			return strings.Contains(line, "Server is ready")
		}))
	}
	// A node waits for its routes only to elect leaders, not to be ready:
	// start them one after the other.
	for _, node := range c.nodes {
		node.start()
	}
	return c
}

// clusterConfig is the configuration file of one node.
func clusterConfig(name string, port, clusterPort int, storeDir string, routes []string) string {
	return fmt.Sprintf(`server_name: %s
listen: 127.0.0.1:%d
jetstream {
  store_dir: %q
}
cluster {
  name: janustap
  listen: 127.0.0.1:%d
  routes: [
    %s
  ]
}
`, name, port, storeDir, clusterPort, strings.Join(routes, "\n    "))
}

// url is the comma-separated list of every node, as --nats takes it.
func (c *natsCluster) url() string { return strings.Join(c.urls, ",") }

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var lns []net.Listener
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}
