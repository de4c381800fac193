package janustest_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/janustap/janustap/replayer/janus/janustest"
)

// get returns the JSON object at url.
func get(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return decode(t, resp)
}

// post sends body to url and returns the JSON object it answers.
func post(t *testing.T, url, body string) map[string]any {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	return decode(t, resp)
}

func decode(t *testing.T, resp *http.Response) map[string]any {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", resp.Request.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s %s", resp.Request.URL, resp.Status, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v in %s", resp.Request.URL, err, b)
	}
	return m
}

// dial checks that something accepts TCP connections at a ws:// URL.
func dial(wsURL string) error {
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(wsURL, "ws://"), time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

func TestTwoInstancesRunSideBySide(t *testing.T) {
	t.Parallel()
	dirs := []string{t.TempDir(), t.TempDir()}
	js := make([]*janustest.Janus, len(dirs))
	errs := make([]error, len(dirs))
	var wg sync.WaitGroup
	for i, dir := range dirs {
		wg.Go(func() { js[i], errs[i] = janustest.Run(t.Context(), dir, janustest.Options{}) })
	}
	wg.Wait()
	for _, j := range js {
		if j != nil {
			t.Cleanup(func() {
				if err := j.Stop(); err != nil {
					t.Errorf("stop janus: %v", err)
				}
			})
		}
	}
	for _, err := range errs {
		if errors.Is(err, janustest.ErrNotInstalled) && os.Getenv("CI") != "true" {
			t.Skip(err)
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	seen := make(map[string]bool)
	for _, j := range js {
		for _, u := range []string{j.HTTP, j.AdminHTTP, j.WS, j.AdminWS} {
			hostPort := u[strings.Index(u, "//")+2:]
			hostPort, _, _ = strings.Cut(hostPort, "/")
			if seen[hostPort] {
				t.Errorf("two listeners on %s", hostPort)
			}
			seen[hostPort] = true
		}
	}
	for i, j := range js {
		t.Run(fmt.Sprint("janus", i), func(t *testing.T) {
			info := get(t, j.HTTP+"/info")
			if got, want := info["version_string"], "1.1.2"; got != want {
				t.Errorf("version_string = %v, want %v", got, want)
			}
			pong := post(t, j.AdminHTTP, `{"janus":"ping","transaction":"x"}`)
			if got, want := pong["janus"], "pong"; got != want {
				t.Errorf("admin ping: janus = %v, want %v (reply %v)", got, want, pong)
			}
			if got, want := pong["transaction"], "x"; got != want {
				t.Errorf("admin ping: transaction = %v, want %v", got, want)
			}
			for _, u := range []string{j.WS, j.AdminWS} {
				if err := dial(u); err != nil {
					t.Errorf("dial %s: %v", u, err)
				}
			}
		})
	}
}

func TestRestart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		down func(*janustest.Janus) error
	}{
		{"after_kill", (*janustest.Janus).Kill},
		{"after_stop", (*janustest.Janus).Stop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j := janustest.Start(t, janustest.Options{})
			urls := func() []string { return []string{j.HTTP, j.AdminHTTP, j.WS, j.AdminWS} }
			before := urls()
			// Clients connected at the moment Janus goes away must not keep
			// it from binding the same ports again.
			client := &http.Client{}
			defer client.CloseIdleConnections()
			resp, err := client.Get(j.HTTP + "/info")
			if err != nil {
				t.Fatal(err)
			}
			decode(t, resp) // the connection stays open for reuse
			ws, err := net.Dial("tcp", strings.TrimPrefix(j.WS, "ws://"))
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()

			if err := tt.down(j); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if resp, err := http.Get(j.HTTP + "/info"); err == nil {
				resp.Body.Close()
				t.Fatalf("janus still answers after %s: %s", tt.name, resp.Status)
			}
			if err := j.Restart(t.Context()); err != nil {
				t.Fatalf("restart: %v", err)
			}
			if got, want := get(t, j.HTTP+"/info")["janus"], "server_info"; got != want {
				t.Errorf("after restart, info says janus = %v, want %v", got, want)
			}
			if got := urls(); !slices.Equal(got, before) {
				t.Errorf("restart moved janus from %v to %v", before, got)
			}
			if !strings.Contains(j.LogTail(1000), "janustest: restart") {
				t.Errorf("janus.log has no restart marker:\n%s", j.LogTail(20))
			}
		})
	}
}

// TestRestartOnTakenPort takes one of a stopped Janus's ports and expects
// Restart to fail, then to succeed once the port is free again.
func TestRestartOnTakenPort(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		url  func(*janustest.Janus) string
	}{
		{"http", func(j *janustest.Janus) string { return j.HTTP }},
		{"admin_http", func(j *janustest.Janus) string { return j.AdminHTTP }},
		{"ws", func(j *janustest.Janus) string { return j.WS }},
		{"admin_ws", func(j *janustest.Janus) string { return j.AdminWS }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j := janustest.Start(t, janustest.Options{})
			u, err := url.Parse(tt.url(j))
			if err != nil {
				t.Fatal(err)
			}
			if err := j.Stop(); err != nil {
				t.Fatal(err)
			}
			l, err := net.Listen("tcp", u.Host)
			if err != nil {
				t.Fatalf("take janus's port: %v", err)
			}
			err = j.Restart(t.Context())
			l.Close()
			if err == nil {
				t.Fatalf("restart with %s taken succeeded", u.Host)
			}
			t.Logf("restart with %s taken: %v", u.Host, err)
			if err := j.Restart(t.Context()); err != nil {
				t.Fatalf("restart with %s free again: %v", u.Host, err)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opts      janustest.Options
		info      map[string]any // top-level server_info fields
		status    map[string]any // admin get_status fields
		plugins   []string       // loaded
		noPlugins []string       // not loaded
	}{
		{
			name:      "defaults",
			info:      map[string]any{"session-timeout": 60.0, "api_secret": false, "full-trickle": false},
			status:    map[string]any{"log_level": 3.0},
			plugins:   []string{"janus.plugin.echotest", "janus.plugin.videoroom", "janus.plugin.streaming", "janus.plugin.textroom"},
			noPlugins: []string{"janus.plugin.sip", "janus.plugin.voicemail", "janus.plugin.duktape"},
		},
		{
			name: "session_timeout",
			opts: janustest.Options{Args: []string{"-s", "5"}},
			info: map[string]any{"session-timeout": 5.0},
		},
		{
			name: "reclaim_timeout",
			opts: janustest.Options{Args: []string{"-m", "7"}},
			info: map[string]any{"reclaim-session-timeout": 7.0},
		},
		{
			name: "api_secret_and_tokens",
			opts: janustest.Options{Args: []string{"-a", "s3cret", "-A"}},
			info: map[string]any{"api_secret": true, "auth_token": true},
		},
		{
			name: "full_trickle",
			opts: janustest.Options{FullTrickle: true},
			info: map[string]any{"full-trickle": true},
		},
		{
			name:   "debug",
			opts:   janustest.Options{Debug: 5},
			status: map[string]any{"log_level": 5.0},
		},
		{
			name:      "disable_videoroom",
			opts:      janustest.Options{DisablePlugins: []string{"libjanus_videoroom.so"}},
			plugins:   []string{"janus.plugin.echotest"},
			noPlugins: []string{"janus.plugin.videoroom"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j := janustest.Start(t, tt.opts)
			info := get(t, j.HTTP+"/info")
			for k, want := range tt.info {
				if got := info[k]; got != want {
					t.Errorf("info %s = %v, want %v", k, got, want)
				}
			}
			plugins, _ := info["plugins"].(map[string]any)
			for _, p := range tt.plugins {
				if _, ok := plugins[p]; !ok {
					t.Errorf("plugin %s not loaded", p)
				}
			}
			for _, p := range tt.noPlugins {
				if _, ok := plugins[p]; ok {
					t.Errorf("plugin %s loaded, want it disabled", p)
				}
			}
			if tt.status == nil {
				return
			}
			reply := post(t, j.AdminHTTP, fmt.Sprintf(`{"janus":"get_status","admin_secret":%q,"transaction":"s"}`, j.AdminSecret))
			status, _ := reply["status"].(map[string]any)
			for k, want := range tt.status {
				if got := status[k]; got != want {
					t.Errorf("get_status %s = %v, want %v (reply %v)", k, got, want, reply)
				}
			}
		})
	}
}

func TestRunRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts janustest.Options
	}{
		{"debug_too_high", janustest.Options{Debug: 8}},
		{"debug_negative", janustest.Options{Debug: -1}},
		{"unknown_flag", janustest.Options{Args: []string{"--no-such-flag"}}},
		{"plugin_name_with_comma", janustest.Options{DisablePlugins: []string{"libjanus_a.so,libjanus_b.so"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j, err := janustest.Run(t.Context(), t.TempDir(), tt.opts)
			if errors.Is(err, janustest.ErrNotInstalled) {
				t.Skip(err)
			}
			if err == nil {
				j.Stop()
				t.Fatal("Run succeeded, want an error")
			}
			t.Log(err)
		})
	}
}

func TestRunWithoutJanus(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := janustest.Run(t.Context(), t.TempDir(), janustest.Options{})
	if !errors.Is(err, janustest.ErrNotInstalled) {
		t.Fatalf("Run with janus missing: %v, want ErrNotInstalled", err)
	}
}

func TestFreePort(t *testing.T) {
	t.Parallel()
	port, err := janustest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("listen on the free port %d: %v", port, err)
	}
	l.Close()
}

// fatalRecorder is a testing.TB whose Fatalf only records the message.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) { f.msg = fmt.Sprintf(format, args...) }

func TestWaitFor(t *testing.T) {
	t.Parallel()
	t.Run("met", func(t *testing.T) {
		t.Parallel()
		calls := 0
		janustest.WaitFor(t, 5*time.Second, func() error {
			if calls++; calls < 3 {
				return fmt.Errorf("call %d", calls)
			}
			return nil
		})
		if got, want := calls, 3; got != want {
			t.Errorf("cond called %d times, want %d", got, want)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		rec := &fatalRecorder{TB: t}
		calls := 0
		janustest.WaitFor(rec, 50*time.Millisecond, func() error {
			calls++
			return fmt.Errorf("still %d", calls)
		})
		if want := fmt.Sprintf("still %d", calls); !strings.Contains(rec.msg, want) {
			t.Errorf("Fatalf message %q does not carry the last error %q", rec.msg, want)
		}
		if calls < 2 {
			t.Errorf("cond called %d times in 50ms, want it polled", calls)
		}
	})
}

// BenchmarkRunStop measures one private Janus from exec to ready and back:
// about 0.1 s to start and 0.2 s to stop on SIGTERM with Janus 1.1.2.
func BenchmarkRunStop(b *testing.B) {
	dir := b.TempDir()
	var start, stop time.Duration
	for b.Loop() {
		t0 := time.Now()
		j, err := janustest.Run(b.Context(), dir, janustest.Options{})
		if errors.Is(err, janustest.ErrNotInstalled) {
			b.Skip(err)
		}
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := j.Stop(); err != nil {
			b.Fatal(err)
		}
		start += t1.Sub(t0)
		stop += time.Since(t1)
	}
	b.ReportMetric(start.Seconds()/float64(b.N), "start-s/op")
	b.ReportMetric(stop.Seconds()/float64(b.N), "stop-s/op")
}

// TestRunRelativeDir starts Janus with its state directory given as a
// relative path, as the quick start does (`--dir janustap-data/janus`):
// Janus runs in that directory, so the paths it is given must not be
// relative to it again.
func TestRunRelativeDir(t *testing.T) {
	t.Chdir(t.TempDir())
	j, err := janustest.Run(t.Context(), filepath.Join("data", "janus"), janustest.Options{})
	if errors.Is(err, janustest.ErrNotInstalled) && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("Run with a relative dir: %v", err)
	}
	defer j.Stop()
	if !filepath.IsAbs(j.Dir) {
		t.Errorf("Dir = %q, want an absolute path", j.Dir)
	}
	if info := get(t, j.HTTP+"/info"); info["janus"] != "server_info" {
		t.Errorf("info answered %v", info)
	}
	if _, err := os.Stat(filepath.Join("data", "janus", "janus.log")); err != nil {
		t.Errorf("janus.log not in the relative dir: %v", err)
	}
}
