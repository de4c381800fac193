package recorder_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder"
	"github.com/janustap/janustap/recorder/evh"
	"github.com/janustap/janustap/recorder/metrics"
	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/recorder/tap"
	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/schema"
)

// serveEVH runs a Janus whose sampleevh posts to serve's receiver, and
// serve in front of it. It returns serve and the receiver's URL.
func serveEVH(t *testing.T, eh janustest.EventHandler, janusArgs ...string) (*served, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	eh.URL = evh.URL(ln.Addr())
	j := janustest.Start(t, janustest.Options{Events: &eh, Args: janusArgs})
	s := serve(t, j, "", func(c *recorder.Config) { c.EVHListener = ln })
	return s, eh.URL
}

// TestServeEVH runs the echotest through serve while Janus posts its events
// to serve's receiver: the log holds Janus's own view of each session and
// handle beside the signaling, retried POSTs are stored once, bad POSTs
// are refused with a 4xx without disturbing signaling, and the projection
// rebuilt from the log equals the live one.
func TestServeEVH(t *testing.T) {
	s, evhURL := serveEVH(t, janustest.EventHandler{StatsPeriod: 1})
	sessions := runFlows(t, s.http(), s.ws())
	js := logOf(t, s)

	// Janus's created, attached, detached and destroyed events of each
	// session the clients made, keyed as the signaling is.
	var janusEvents []*schema.Event
	janustest.WaitFor(t, 20*time.Second, func() error {
		evs, err := readStream(t.Context(), js)
		if err != nil {
			return err
		}
		janusEvents = janusEvents[:0]
		seen := map[string]int{}
		for _, ev := range evs {
			if ev.Kind != schema.JanusEvent {
				continue
			}
			janusEvents = append(janusEvents, ev)
			env, err := schema.ParseEvhEnvelope(ev.Body)
			if err != nil {
				return fmt.Errorf("event %s: %w", ev.ID, err)
			}
			if ev.Gateway != "gw1" || ev.Transport != schema.EVH || ev.SessionID() != env.SessionID {
				return fmt.Errorf("event %s: gateway %s transport %s session %d", ev.ID, ev.Gateway, ev.Transport, ev.SessionID())
			}
			var name struct {
				Name string `json:"name"`
			}
			if env.Type == schema.EvhSession || env.Type == schema.EvhHandle {
				if err := jsonUnmarshal(env.Event, &name); err != nil {
					return err
				}
				seen[fmt.Sprintf("%d %s", env.SessionID, name.Name)]++
			}
		}
		for _, sess := range sessions {
			for _, n := range []string{"created", "attached", "detached", "destroyed"} {
				if seen[fmt.Sprintf("%d %s", sess.ID, n)] != 1 {
					return fmt.Errorf("session %d: %d %q events from Janus, want 1 (seen %v)", sess.ID, seen[fmt.Sprintf("%d %s", sess.ID, n)], n, seen)
				}
			}
		}
		return nil
	})

	post := func(body []byte, hdr ...string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), "POST", evhURL, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	// Retried POSTs: the same events again, alone and grouped, then one new
	// event; once that is in the log, the log grew by one.
	before, err := streamCount(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	retry := janusEvents[:3]
	for _, ev := range retry {
		if got := post(ev.Body); got != http.StatusOK {
			t.Fatalf("retried POST answered %d", got)
		}
	}
	group := "[" + string(retry[0].Body) + "," + string(retry[1].Body) + "]"
	if got := post([]byte(group)); got != http.StatusOK {
		t.Fatalf("retried grouped POST answered %d", got)
	}

	// Bad POSTs get a 4xx and leave nothing in the log.
	for _, tt := range []struct {
		name string
		body []byte
		want int
	}{
		{"malformed", []byte(`[{"type":1,`), http.StatusBadRequest},
		{"not_events", []byte(`{"janus":"keepalive","marker":"refused-7"}`), http.StatusBadRequest},
		{"oversized", bytes.Repeat([]byte(" "), 17<<20), http.StatusRequestEntityTooLarge},
	} {
		if got := post(tt.body); got != tt.want {
			t.Errorf("%s POST answered %d, want %d", tt.name, got, tt.want)
		}
	}
	// Signaling through the tap is unaffected.
	resp, err := http.Get(s.http() + "/info")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /info through the tap: %d", resp.StatusCode)
	}

	fresh := `{"emitter":"test","type":256,"subtype":2,"timestamp":1796500099000000,"event":{"status":"sentinel"}}`
	if got := post([]byte(fresh)); got != http.StatusOK {
		t.Fatalf("POST answered %d", got)
	}
	janustest.WaitFor(t, 10*time.Second, func() error {
		evs, err := readStream(t.Context(), js)
		if err != nil {
			return err
		}
		ids := map[string]int{}
		sentinel := false
		for _, ev := range evs {
			ids[ev.ID]++
			sentinel = sentinel || strings.Contains(string(ev.Body), "sentinel")
			if strings.Contains(string(ev.Body), "refused-7") {
				t.Fatalf("a refused POST is in the log: %s", ev.Body)
			}
		}
		if !sentinel {
			return fmt.Errorf("sentinel not in the log yet")
		}
		for _, ev := range retry {
			if ids[ev.ID] != 1 {
				t.Fatalf("event %s posted three times is %d times in the log", ev.ID, ids[ev.ID])
			}
		}
		return nil
	})
	after, err := streamCount(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Fatalf("log has %d events, had %d", after, before)
	}

	// The projection rebuilt from the log equals the live one.
	db := openDB(t, filepath.Join(s.dir, recorder.DBFile))
	janustest.WaitFor(t, 20*time.Second, func() error {
		c, err := db.Count(t.Context())
		if err != nil {
			return err
		}
		if uint64(c.Events) != after {
			return fmt.Errorf("database has %d events, log %d", c.Events, after)
		}
		return nil
	})
	rebuilt := openDB(t, filepath.Join(t.TempDir(), "rebuilt.db"))
	p := &recorder.Projector{JS: js, DB: rebuilt, UntilCaughtUp: true, Batch: 7}
	if err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := store.Equal(t.Context(), db, rebuilt); err != nil {
		t.Fatalf("rebuilt database differs from the live one: %v", err)
	}
}

func TestEVHListenFallback(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	if _, err := evh.Listen(addr, false, nil); err == nil {
		t.Fatal("evh.Listen on a taken address that was asked for: no error")
	}
	ln, err := evh.Listen(addr, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if ln.Addr().String() == addr || !strings.HasPrefix(ln.Addr().String(), "127.0.0.1:") {
		t.Errorf("fallback listens on %s (taken: %s)", ln.Addr(), addr)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// TestServeEVHICEFailed offers a PeerConnection to the echotest through
// serve, withholds the client's candidates and trickles instead one that
// leads nowhere (a UDP socket that never answers), then "completed": Janus's
// connectivity checks fail, it reports ICE failing, which the projection
// holds for the handle that the signaling attached, and the sessions filter
// finds. (With no remote candidate at all, Janus never starts the checks
// and stays in "gathering": libnice only fails checks it made.)
func TestServeEVHICEFailed(t *testing.T) {
	s, _ := serveEVH(t, janustest.EventHandler{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	hc := janus.NewHTTP(s.http())
	defer hc.Close()
	sess := &janus.Session{C: hc}
	if err := sess.Create(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := sess.Attach(ctx, janus.EchoTest, map[string]any{"opaque_id": "ice-fails"})
	if err != nil {
		t.Fatal(err)
	}
	j, _, err := sess.Message(ctx, h, map[string]any{"audio": true, "video": true}, janus.Offer())
	if err != nil {
		t.Fatal(err)
	}
	if _, ev, err := sess.WaitEvent(ctx, janus.ForTx(j.Transaction)); err != nil || ev.JSEP != "answer" {
		t.Fatalf("echotest answer: %+v, %v", ev, err)
	}
	deaf, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer deaf.Close()
	port := deaf.LocalAddr().(*net.UDPAddr).Port
	cand := map[string]any{"candidate": fmt.Sprintf("candidate:1 1 udp 2122260223 127.0.0.1 %d typ host generation 0", port), "sdpMid": "0", "sdpMLineIndex": 0}
	for _, c := range []map[string]any{cand, {"completed": true}} {
		if _, _, err := sess.Request(ctx, "trickle", h, map[string]any{"candidate": c}); err != nil {
			t.Fatal(err)
		}
	}

	db := openDB(t, filepath.Join(s.dir, recorder.DBFile))
	janustest.WaitFor(t, 45*time.Second, func() error {
		hs, err := db.JanusHandles(ctx, "gw1", sess.ID)
		if err != nil {
			return err
		}
		if len(hs) != 1 || hs[0].ID != h || hs[0].ICEFailedAt.IsZero() {
			return fmt.Errorf("janus handles of session %d: %+v; want handle %d with ICE failed", sess.ID, hs, h)
		}
		return nil
	})
	found, err := db.Sessions(ctx, store.SessionFilter{ICEFailed: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].ID != sess.ID {
		t.Errorf("sessions with ICE failed: %+v, want session %d", found, sess.ID)
	}
	hs, err := db.JanusHandles(ctx, "gw1", sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !hs[0].WebRTCUpAt.IsZero() || hs[0].RemoteSDP == "" || hs[0].LocalSDP == "" || hs[0].RemoteCandidates != 1 {
		t.Errorf("janus handle: %+v", hs[0])
	}
	t.Logf("ICE states %v, hangup %q", hs[0].ICEStates, hs[0].HangupReason)
}

// TestServeEVHTimeout leaves a session without keepalives: Janus times it
// out (session_timeout 2 s) and says so in its events, which the projection
// holds beside the session the signaling created.
func TestServeEVHTimeout(t *testing.T) {
	s, _ := serveEVH(t, janustest.EventHandler{}, "-s", "2")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	hc := janus.NewHTTP(s.http())
	defer hc.Close()
	sess := &janus.Session{C: hc}
	if err := sess.Create(ctx); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, filepath.Join(s.dir, recorder.DBFile))
	janustest.WaitFor(t, 30*time.Second, func() error {
		js, err := db.JanusSession(ctx, "gw1", sess.ID)
		if err != nil {
			return err
		}
		if js == nil || js.TimeoutAt.IsZero() || js.CreatedAt.IsZero() {
			return fmt.Errorf("janus session %d: %+v, want created and timed out", sess.ID, js)
		}
		if d := js.TimeoutAt.Sub(js.CreatedAt); d < 2*time.Second {
			t.Errorf("timed out %v after its creation, session_timeout is 2s", d)
		}
		return nil
	})
	d, err := db.Session(ctx, "gw1", sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.CreatedAt.IsZero() {
		t.Errorf("signaling's session %d has no create", sess.ID)
	}
}

// TestServeEVHListenTaken runs serve with its receiver's address taken: left
// at its default, serve listens on a free loopback port and writes its URL
// to EVHURLFile; asked for explicitly, it refuses to start.
func TestServeEVHListenTaken(t *testing.T) {
	j := janustest.Start(t, janustest.Options{})
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()

	s := serve(t, j, "", func(c *recorder.Config) { c.EVHListen, c.EVHListenDefault = addr, true })
	b, err := os.ReadFile(filepath.Join(s.dir, recorder.EVHURLFile))
	if err != nil {
		t.Fatal(err)
	}
	url := strings.TrimSpace(string(b))
	if !strings.HasPrefix(url, "http://127.0.0.1:") || strings.Contains(url, addr) {
		t.Fatalf("%s says %q, want a free loopback port other than %s", recorder.EVHURLFile, url, addr)
	}
	resp, err := http.Post(url, "application/json", strings.NewReader(`{"type":256,"subtype":1,"timestamp":1,"event":{"status":"started"}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("POST to %s: %d", url, resp.StatusCode)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err = recorder.Run(ctx, recorder.Config{
		Tap:    tap.Config{Gateway: "gw1", JanusHTTP: j.HTTP},
		Listen: []string{"127.0.0.1:0"}, DataDir: t.TempDir(), EmbeddedPort: -1, NoRecord: true,
		EVHListen: addr,
		Logger:    slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("serve with --evh-listen %s taken: %v, want an error naming it", addr, err)
	}
}

// TestServeEVHGzipAuth has Janus post each event alone, gzipped, with basic
// authentication, as sampleevh does with grouping off, compress on and
// backend_user set: serve takes them all.
func TestServeEVHGzipAuth(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	eh := janustest.EventHandler{URL: evh.URL(ln.Addr()), Ungrouped: true, Compress: true, User: "janus", Password: "s3cret"}
	j := janustest.Start(t, janustest.Options{Events: &eh})
	s := serve(t, j, "", func(c *recorder.Config) {
		c.EVHListener, c.EVHUser, c.EVHPassword = ln, "janus", "s3cret"
	})
	sessions := runFlows(t, s.http(), s.ws())
	db := openDB(t, filepath.Join(s.dir, recorder.DBFile))
	janustest.WaitFor(t, 20*time.Second, func() error {
		for _, sess := range sessions {
			js, err := db.JanusSession(t.Context(), "gw1", sess.ID)
			if err != nil {
				return err
			}
			if js == nil || js.CreatedAt.IsZero() || js.DestroyedAt.IsZero() {
				return fmt.Errorf("janus session %d: %+v, want created and destroyed", sess.ID, js)
			}
			hs, err := db.JanusHandles(t.Context(), "gw1", sess.ID)
			if err != nil {
				return err
			}
			if len(hs) != 1 || hs[0].AttachedAt.IsZero() || hs[0].DetachedAt.IsZero() {
				return fmt.Errorf("janus handles of session %d: %+v", sess.ID, hs)
			}
		}
		return nil
	})
	// Each POST held one event: none is part of a batch.
	evs, err := readStream(t.Context(), logOf(t, s))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Kind == schema.JanusEvent && (ev.Batch || ev.Parts != 0) {
			t.Errorf("event %s is part %d of %d of a batch; Janus posted each alone", ev.ID, ev.Part, ev.Parts)
		}
	}
}

// TestServeEVHMetrics finds the receiver's counters on /metrics.
func TestServeEVHMetrics(t *testing.T) {
	j := janustest.Start(t, janustest.Options{})
	s := serve(t, j, "", func(c *recorder.Config) {
		c.AdminListen, c.Metrics, c.EVHListen = "127.0.0.1:0", metrics.New(), "127.0.0.1:0"
	})
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(s.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	for _, body := range []string{`[{"type":1,"timestamp":1,"session_id":7,"event":{"name":"created"}},{"type":1,"timestamp":2,"session_id":7,"event":{"name":"destroyed"}}]`, `{"type":`} {
		resp, err := http.Post(read(recorder.EVHURLFile), "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(read(recorder.AdminURLFile) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	for _, want := range []string{"janustap_evh_events_total 2", "janustap_evh_posts_total 1", "janustap_evh_rejected_total 1"} {
		if !strings.Contains(b.String(), want+"\n") {
			t.Errorf("/metrics has no line %q", want)
		}
	}
}
