package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder"
	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/janus/janustest"
)

// TestQuickstart runs the README's first command, `make run`, as a new user
// would, from the repository: it installs what running needs (nothing, when
// it is there), builds bin/janustap, starts a private Janus (none answers on
// the port it is given) and serve in front of it. The test then waits for
// serve's /readyz, drives a REST flow with its long-poll and a WebSocket flow
// through the tap, finds both with `janustap sessions`, stops everything with
// SIGINT as Ctrl-C would, and checks that serve and Janus have exited and
// released their ports.
//
// Only the ports and the data directory are moved, through the environment
// the script documents, so that the test runs beside anything else.
func TestQuickstart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts Janus")
	}
	for _, tool := range []string{"make", "janus", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s: %v; CI must install it (scripts/install-deps.sh)", tool, err)
			}
			t.Skipf("%s is not installed (scripts/install-deps.sh run installs it): %v", tool, err)
		}
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	base := freeBasePort(t)
	listen := "127.0.0.1:" + strconv.Itoa(freePort(t))

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.Command("make", "run")
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"JANUSTAP_DATA="+data,
		"JANUSTAP_JANUS_BASE_PORT="+strconv.Itoa(base),
		"JANUSTAP_LISTEN="+listen,
		"JANUSTAP_LOG_LEVEL=info",
	)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, so that SIGINT reaches make, the script, serve
	// and Janus at once, as Ctrl-C in a terminal does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("make run: %v", err)
	}
	pgid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		// Whatever happened, leave nothing running.
		syscall.Kill(-pgid, syscall.SIGKILL)
		if t.Failed() {
			t.Logf("make run printed:\n%s", out.String())
		}
	}()

	// Ready: the admin URL is written, and /readyz says every part is.
	adminURL := filepath.Join(data, recorder.AdminURLFile)
	var ready string
	waitFor(t, ctx, exited, 4*time.Minute, func() error {
		b, err := os.ReadFile(adminURL)
		if err != nil {
			return err
		}
		code, body, err := httpGet(ctx, strings.TrimSpace(string(b))+"/readyz")
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("/readyz: %d %s", code, body)
		}
		ready = body
		return nil
	})
	for _, part := range []string{"ok janus", "ok nats", "ok spool"} {
		if !strings.Contains(ready, part) {
			t.Errorf("/readyz = %q, want %q", ready, part)
		}
	}

	// A REST flow, with its long-poll, and a WebSocket flow through the tap.
	var ids []uint64
	for _, transport := range []string{"http", "ws"} {
		var c janus.Client
		if transport == "http" {
			hc := janus.NewHTTP("http://" + listen + "/janus")
			defer hc.Close()
			c = hc
		} else {
			wc, err := janus.DialWS(ctx, "ws://"+listen, janus.Protocol)
			if err != nil {
				t.Fatalf("dial the tap's WebSocket: %v", err)
			}
			defer wc.Close()
			c = wc
		}
		s := &janus.Session{C: c, WS: transport == "ws"}
		if err := s.Create(ctx); err != nil {
			t.Fatalf("%s create: %v", transport, err)
		}
		if err := janus.RunEchoTest(ctx, s); err != nil {
			t.Fatalf("%s echotest: %v", transport, err)
		}
		if err := s.Destroy(ctx); err != nil {
			t.Fatalf("%s destroy: %v", transport, err)
		}
		ids = append(ids, s.ID)
	}

	// `janustap sessions` lists both, once the recorder has caught up.
	bin := filepath.Join(root, "bin", "janustap")
	waitFor(t, ctx, exited, time.Minute, func() error {
		var stdout, stderr bytes.Buffer
		c := exec.CommandContext(ctx, bin, "sessions", "--data", data, "--json")
		c.Stdout, c.Stderr = &stdout, &stderr
		if err := c.Run(); err != nil {
			return fmt.Errorf("janustap sessions: %w: %s", err, stderr.String())
		}
		var rows []struct {
			Session   uint64 `json:"session_id"`
			Transport string `json:"transport"`
			Ended     string `json:"ended"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &rows); err != nil {
			return fmt.Errorf("janustap sessions --json: %w in %s", err, stdout.String())
		}
		got := map[uint64]string{}
		for _, r := range rows {
			got[r.Session] = r.Transport + " " + r.Ended
		}
		for i, want := range []string{"http destroyed", "ws destroyed"} {
			if got[ids[i]] != want {
				return fmt.Errorf("session %d: %q, want %q (all: %v)", ids[i], got[ids[i]], want, got)
			}
		}
		return nil
	})

	natsURL, err := os.ReadFile(filepath.Join(data, recorder.URLFile))
	if err != nil {
		t.Fatal(err)
	}
	// Ctrl-C.
	if err := syscall.Kill(-pgid, syscall.SIGINT); err != nil {
		t.Fatalf("SIGINT: %v", err)
	}
	select {
	case err := <-exited:
		t.Logf("make run ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("make run still running 30s after SIGINT")
	}
	// Nothing of the group is left (serve, the private Janus)...
	waitFor(t, ctx, nil, 10*time.Second, func() error {
		if err := syscall.Kill(-pgid, 0); !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("processes of make run still alive after SIGINT (kill 0: %v)", err)
		}
		return nil
	})
	// ... and every port it served can be bound again.
	nats := strings.TrimPrefix(strings.TrimSpace(string(natsURL)), "nats://")
	for _, addr := range []string{listen, nats, port(base), port(base + 100), port(base - 1000), port(base - 900)} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("port %s still held after SIGINT: %v", addr, err)
			continue
		}
		l.Close()
	}
	if !strings.Contains(out.String(), "starting a private one") {
		t.Errorf("make run did not start its own Janus:\n%s", out.String())
	}
}

func port(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }

// freePort returns a port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	p, err := janustest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// freeBasePort returns a base port for `janustap janus --base-port`: it and
// the three ports that follow from it (+100, -1000, -900) are free.
func freeBasePort(t *testing.T) int {
	t.Helper()
	for range 100 {
		base := 20000 + rand.IntN(20000)
		var held []net.Listener
		for _, p := range []int{base, base + 100, base - 1000, base - 900} {
			l, err := net.Listen("tcp", port(p))
			if err != nil {
				break
			}
			held = append(held, l)
		}
		for _, l := range held {
			l.Close()
		}
		if len(held) == 4 {
			return base
		}
	}
	t.Fatal("no free base port for Janus")
	return 0
}

// waitFor is janustest.WaitFor that also gives up when the process under
// test has exited (exited may be nil) or ctx is done.
func waitFor(t *testing.T, ctx context.Context, exited <-chan error, timeout time.Duration, cond func() error) {
	t.Helper()
	janustest.WaitFor(t, timeout, func() error {
		select {
		case err := <-exited:
			t.Fatalf("make run exited early: %v", err)
		case <-ctx.Done():
			t.Fatalf("gave up: %v", ctx.Err())
		default:
		}
		return cond()
	})
}

func httpGet(ctx context.Context, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// lockedBuffer is a bytes.Buffer that a child process writes to while the
// test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
