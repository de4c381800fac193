// Package bustest runs NATS servers with JetStream for tests: in process on a
// random port (Start), or the real nats-server binary as a separate process
// that a test can stop, kill and restart (StartExternal).
//
// It may import nats-server, janusrun (which starts the external server so
// that it dies with the test binary) and the standard library, testing
// among it.
package bustest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/janustap/janustap/replayer/janus/janusrun"
	"github.com/nats-io/nats-server/v2/server"
)

// NATSServerBinary is where the Debian package installs nats-server.
const NATSServerBinary = "/usr/sbin/nats-server"

// readyTimeout bounds the wait for a server to accept connections.
const readyTimeout = 30 * time.Second

// Start runs an in-process JetStream server for the test, on a random
// loopback port with its store in t.TempDir(), and stops it when the test
// ends. Connect to s.ClientURL().
func Start(t testing.TB) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	})
	if err != nil {
		t.Fatalf("new nats server: %v", err)
	}
	s.Start()
	if !s.ReadyForConnections(readyTimeout) {
		s.Shutdown()
		t.Fatalf("nats server not ready after %s", readyTimeout)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// External is a nats-server process with JetStream, listening on one
// loopback port and storing in one directory for its whole life, across
// Stop, Kill and Restart. Its methods are for the test goroutine.
type External struct {
	t    testing.TB
	bin  string
	dir  string // store directory
	port int    // 0 until the first start has picked one

	cmd    *exec.Cmd
	exited <-chan struct{} // closed when cmd has exited and its output is read
	out    *tail
}

// StartExternal runs the nats-server binary (NATSServerBinary, or the one in
// $PATH) with -js on a random loopback port and a store in t.TempDir(), and
// returns once it accepts connections. It kills the server when the test
// ends. If there is no binary, the test is skipped, or fails when the
// environment variable CI is "true".
func StartExternal(t testing.TB) *External {
	t.Helper()
	bin := NATSServerBinary
	if _, err := os.Stat(bin); err != nil {
		if bin, err = exec.LookPath("nats-server"); err != nil {
			msg := fmt.Sprintf("no nats-server binary at %s or in $PATH (apt-get install nats-server): %v", NATSServerBinary, err)
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	e := &External{t: t, bin: bin, dir: t.TempDir()}
	t.Cleanup(e.Kill)
	e.start()
	return e
}

// URL returns the server's client URL. It stays the same across restarts.
func (e *External) URL() string {
	return "nats://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(e.port))
}

// Port returns the server's client port.
func (e *External) Port() int { return e.port }

// Stop stops the server with SIGTERM, as an operator would, and waits until
// it has exited. It does nothing if the server is not running.
func (e *External) Stop() {
	if e.cmd != nil {
		_ = e.cmd.Process.Signal(syscall.SIGCONT) // a paused server cannot act on SIGTERM
	}
	e.signal(syscall.SIGTERM)
}

// Kill kills the server with SIGKILL, as a crash would, and waits until it
// has exited. It does nothing if the server is not running.
func (e *External) Kill() { e.signal(syscall.SIGKILL) }

// Pause freezes the server with SIGSTOP: its connections stay open but it
// answers nothing, as a hung server would. Resume or Kill it afterwards.
func (e *External) Pause() {
	e.t.Helper()
	if e.cmd == nil {
		e.t.Fatal("pause nats-server: not running")
	}
	if err := e.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		e.t.Fatalf("pause nats-server: %v", err)
	}
}

// Resume lets a paused server go on with SIGCONT.
func (e *External) Resume() {
	e.t.Helper()
	if e.cmd == nil {
		e.t.Fatal("resume nats-server: not running")
	}
	if err := e.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		e.t.Fatalf("resume nats-server: %v", err)
	}
}

// Restart starts the server again on the same port and store directory,
// after Stop or Kill, and returns once it accepts connections.
func (e *External) Restart() {
	e.t.Helper()
	if e.cmd != nil {
		e.t.Fatal("restart nats-server: still running")
	}
	e.start()
}

func (e *External) signal(sig syscall.Signal) {
	if e.cmd == nil {
		return
	}
	_ = e.cmd.Process.Signal(sig) // fails only if it has exited already
	select {
	case <-e.exited:
	case <-time.After(readyTimeout):
		_ = e.cmd.Process.Kill()
		<-e.exited
	}
	e.cmd = nil
}

// listening is the line in which nats-server names its client port.
var listening = regexp.MustCompile(`Listening for client connections on [^ ]*:(\d+)`)

// start runs the binary and waits for "Server is ready" in its log, which it
// prints once the client listener is up and JetStream enabled.
func (e *External) start() {
	e.t.Helper()
	port := e.port
	if port == 0 {
		port = -1 // let nats-server pick one, then keep it
	}
	cmd := exec.Command(e.bin, "-js", "-sd", e.dir, "-a", "127.0.0.1", "-p", strconv.Itoa(port))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		e.t.Fatalf("start nats-server: %v", err)
	}
	out := &tail{max: 64 << 10}
	ready := make(chan int, 1)
	child, err := janusrun.StartChild(cmd, false, func() {
		sc := bufio.NewScanner(stderr)
		got := 0
		for sc.Scan() {
			line := sc.Text()
			out.add(line)
			if m := listening.FindStringSubmatch(line); m != nil {
				got, _ = strconv.Atoi(m[1])
			}
			if bytes.Contains(sc.Bytes(), []byte("Server is ready")) {
				ready <- got
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	})
	if err != nil {
		e.t.Fatalf("start nats-server: %v", err)
	}
	exited := child.Done()
	e.cmd, e.exited, e.out = cmd, exited, out

	select {
	case got := <-ready:
		if got == 0 {
			e.Kill()
			e.t.Fatalf("nats-server is ready but named no client port; its log:\n%s", out)
		}
		e.port = got
	case <-exited:
		e.cmd = nil
		e.t.Fatalf("nats-server exited before it was ready; its log:\n%s", out)
	case <-time.After(readyTimeout):
		e.Kill()
		e.t.Fatalf("nats-server not ready after %s; its log:\n%s", readyTimeout, out)
	}
}

// Log returns the last lines the server process logged.
func (e *External) Log() string {
	if e.out == nil {
		return ""
	}
	return e.out.String()
}

// tail keeps the last max bytes of lines.
type tail struct {
	max   int
	mu    sync.Mutex
	lines []string
	size  int
}

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
	t.size += len(line) + 1
	for t.size > t.max && len(t.lines) > 1 {
		t.size -= len(t.lines[0]) + 1
		t.lines = t.lines[1:]
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b bytes.Buffer
	for _, l := range t.lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}
