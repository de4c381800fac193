package recorder_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/janustap/janustap/recorder"
	"github.com/janustap/janustap/recorder/bus"
	"github.com/janustap/janustap/recorder/bus/bustest"
	"github.com/janustap/janustap/recorder/tap"
	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/schema"
)

// served is a running `serve`.
type served struct {
	addr string
	dir  string
	stop func() error
}

func (s *served) http() string { return "http://" + s.addr + "/janus" }
func (s *served) ws() string   { return "ws://" + s.addr + "/" }

// serve runs the recorder service in front of j until the test ends.
func serve(t *testing.T, j *janustest.Janus, natsURL string, opts ...func(*recorder.Config)) *served {
	t.Helper()
	return serveTB(t, j, func(c *recorder.Config) {
		c.NATSURL = natsURL
		for _, o := range opts {
			o(c)
		}
	})
}

// serveB is serve for benchmarks.
func serveB(b *testing.B, j *janustest.Janus) *served {
	b.Helper()
	return serveTB(b, j, nil)
}

// serveTB runs the recorder service in front of j until the test ends, with the
// configuration edit (if not nil) makes.
func serveTB(t testing.TB, j *janustest.Janus, edit func(*recorder.Config)) *served {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan []net.Addr, 1)
	done := make(chan error, 1)
	cfg := recorder.Config{
		Tap:     tap.Config{Gateway: "gw1", JanusHTTP: j.HTTP, JanusWS: j.WS, AdminHTTP: j.AdminHTTP, AdminWS: j.AdminWS},
		Listen:  []string{"127.0.0.1:0"},
		DataDir: dir,
		Logger:  slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Ready:   func(a []net.Addr) { ready <- a },
	}
	if edit != nil {
		edit(&cfg)
	}
	svc, err := recorder.Open(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("serve: %v", err)
	}
	go func() {
		err := svc.Run(ctx)
		done <- errors.Join(err, svc.Close())
	}()
	var s *served
	select {
	case addrs := <-ready:
		s = &served{addr: addrs[0].String(), dir: dir}
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve not ready after 30s")
	}
	stopped := false
	s.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// runFlows runs the echotest flow over HTTP and over WebSocket through url.
func runFlows(t *testing.T, httpURL, wsURL string) []*janus.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out []*janus.Session
	for _, transport := range []string{"http", "ws"} {
		var c janus.Client
		if transport == "http" {
			hc := janus.NewHTTP(httpURL)
			defer hc.Close()
			c = hc
		} else {
			wc, err := janus.DialWS(ctx, wsURL, janus.Protocol)
			if err != nil {
				t.Fatal(err)
			}
			defer wc.Close()
			c = wc
		}
		s := &janus.Session{C: c, WS: transport == "ws"}
		if err := s.Create(ctx); err != nil {
			t.Fatal(err)
		}
		if err := janus.RunEchoTest(ctx, s); err != nil {
			t.Fatal(err)
		}
		if err := s.Destroy(ctx); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// readStream returns every event of the stream.
func readStream(ctx context.Context, js jetstream.JetStream) ([]*schema.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	r := &bus.Reader{JS: js, UntilCaughtUp: true}
	var evs []*schema.Event
	for d, err := range r.Events(ctx) {
		if err != nil {
			return nil, fmt.Errorf("read stream: %w", err)
		}
		if d.Err != nil {
			return nil, fmt.Errorf("stream message %d is not an event: %w", d.StreamSeq, d.Err)
		}
		evs = append(evs, d.Event)
	}
	return evs, nil
}

// logHolds reads the stream and checks it with checkLog.
func logHolds(ctx context.Context, js jetstream.JetStream, sessions []*janus.Session) error {
	evs, err := readStream(ctx, js)
	if err != nil {
		return err
	}
	return checkLog(evs, sessions)
}

// checkLog checks that the stream holds every message of the sessions once,
// every event once, and each connection's events without a gap.
func checkLog(evs []*schema.Event, sessions []*janus.Session) error {
	ids := map[string]bool{}
	seqs := map[string][]uint64{}
	for _, ev := range evs {
		if ids[ev.ID] {
			return fmt.Errorf("event %s is in the stream twice", ev.ID)
		}
		ids[ev.ID] = true
		seqs[ev.Conn] = append(seqs[ev.Conn], ev.Seq)
	}
	for conn, s := range seqs {
		for i, n := range s {
			if n != uint64(i+1) {
				return fmt.Errorf("conn %s: event %d has seq %d: events lost or out of order (%v)", conn, i+1, n, s)
			}
		}
	}
	count := func(dir schema.Direction, body []byte) int {
		n := 0
		for _, ev := range evs {
			if ev.Direction == dir && bytes.Equal(ev.Body, body) {
				n++
			}
		}
		return n
	}
	for _, s := range sessions {
		for _, x := range s.T.Exchanges {
			if n := count(schema.ToGateway, x.Request); n != 1 {
				return fmt.Errorf("request %s is in the stream %d times", x.Request, n)
			}
			if n := count(schema.ToClient, x.Reply.Body); n < 1 {
				return fmt.Errorf("reply %s is not in the stream", x.Reply.Body)
			}
		}
		for _, e := range s.T.Events {
			if n := count(schema.ToClient, e); n != 1 {
				return fmt.Errorf("event %s is in the stream %d times", e, n)
			}
		}
	}
	return nil
}

func TestServeEmbedded(t *testing.T) {
	j := janustest.Start(t, janustest.Options{})
	s := serve(t, j, "")
	sessions := runFlows(t, s.http(), s.ws())
	// A request the tap cannot read is refused, and the refusal is in the
	// log like any other event.
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second)) // a safety net
	io.WriteString(c, "BLAH\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("malformed request answered %v, %v; want 400", resp, err)
	}
	c.Close()

	// Another process reaches the embedded server as `tail` does: the URL
	// and the credentials are in the data directory, private.
	for _, f := range []string{recorder.URLFile, "nats-credentials"} {
		fi, err := os.Stat(filepath.Join(s.dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	url, _ := os.ReadFile(filepath.Join(s.dir, recorder.URLFile))
	user, pass, err := bus.LoadCredentials(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := bus.Connect(t.Context(), strings.TrimSpace(string(url)), bus.ConnectOptions{User: user, Password: pass})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	janustest.WaitFor(t, 20*time.Second, func() error {
		if err := logHolds(t.Context(), js, sessions); err != nil {
			return err
		}
		evs, err := readStream(t.Context(), js)
		if err != nil {
			return err
		}
		refused := 0
		for _, ev := range evs {
			if ev.Kind == schema.Failure && ev.Status == http.StatusBadRequest && strings.Contains(ev.Error, `malformed HTTP request "BLAH"`) {
				refused++
			}
		}
		if refused != 1 {
			return fmt.Errorf("%d refusal events in the log, want 1", refused)
		}
		return nil
	})
	evs, err := readStream(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Gateway != "gw1" {
			t.Fatalf("event of gateway %q", ev.Gateway)
		}
	}
}

// TestServeNATSDown stops an external nats-server in the middle of the
// flows: they complete through the tap, and once NATS is back the stream
// holds every event exactly once.
func TestServeNATSDown(t *testing.T) {
	j := janustest.Start(t, janustest.Options{})
	ext := bustest.StartExternal(t)
	s := serve(t, j, ext.URL())
	first := runFlows(t, s.http(), s.ws())
	ext.Stop()
	second := runFlows(t, s.http(), s.ws()) // NATS is down: signaling goes on
	ext.Restart()

	nc, err := bus.Connect(t.Context(), ext.URL(), bus.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	janustest.WaitFor(t, 60*time.Second, func() error {
		return logHolds(t.Context(), js, append(first, second...))
	})
}

// TestServeRestartPublishesSpool: events spooled while NATS was down and the
// tap then stopped are published by the next run.
func TestServeRestartPublishesSpool(t *testing.T) {
	j := janustest.Start(t, janustest.Options{})
	ext := bustest.StartExternal(t)
	ext.Stop()
	s := serve(t, j, ext.URL())
	sessions := runFlows(t, s.http(), s.ws())
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	ext.Restart()
	// The same data directory again.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- recorder.Run(ctx, recorder.Config{
			Tap:     tap.Config{Gateway: "gw1", JanusHTTP: j.HTTP},
			Listen:  []string{"127.0.0.1:0"},
			DataDir: s.dir,
			NATSURL: ext.URL(),
			Logger:  slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	nc, err := bus.Connect(t.Context(), ext.URL(), bus.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	janustest.WaitFor(t, 60*time.Second, func() error {
		return logHolds(t.Context(), js, sessions)
	})
}
