//go:build linux

package faults_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/janustap/janustap/recorder/bus/bustest"
	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/schema"
)

// badMaxBody is the --max-body of TestBadInput's tap: 10 MiB bodies go
// through, 100 MiB ones are refused.
const badMaxBody = 16 << 20

// badRig is what the subtests of TestBadInput share.
type badRig struct {
	j  *janustest.Janus
	tp *tapProc
	bg *load

	mu     sync.Mutex
	checks []func(evs []logEvent) error // run on the settled log
}

// afterwards registers a check of the log, run once it has settled.
func (r *badRig) afterwards(check func(evs []logEvent) error) {
	r.mu.Lock()
	r.checks = append(r.checks, check)
	r.mu.Unlock()
}

// adopt has the settled log checked against exchanges a subtest made
// outside package janus: each request once, each reply once.
func (r *badRig) adopt(xs []janus.Exchange) {
	s := &janus.Session{}
	s.T.Exchanges = xs
	r.bg.adopt(s)
}

// TestBadInput sends the tap, while other clients run flows through it,
// malformed and truncated JSON, invalid UTF-8, 10 MiB and 100 MiB bodies,
// 10 000 WebSocket frames a second from one client, slow clients (slowloris
// headers, a reader that never reads), half-open connections, unknown paths
// and methods. Each gets a defined answer, the same as Janus's where Janus
// has one; the other clients' flows all complete; the tap's resident memory
// stays bounded, and does not grow when the storm comes again.
func TestBadInput(t *testing.T) {
	j := janustest.Start(t, janustest.Options{})
	ext := bustest.StartExternal(t)
	// The tap alone in its process, so that its memory is the tap's: NATS
	// and the SQLite projection (whose page cache grows to 64 MiB) run in
	// processes of their own.
	dbPath := filepath.Join(t.TempDir(), "recorder.db")
	tp := startTap(t, t.TempDir(), append(tapArgs(j), "--nats", ext.URL(), "--no-record",
		"--max-body", strconv.Itoa(badMaxBody))...)
	startRecorder(t, "--nats", ext.URL(), "--db", dbPath)
	r := &badRig{j: j, tp: tp, bg: startLoad(t, tp.httpURL(), tp.wsURL(), 4)}
	r.bg.waitOK(t, 10, 30*time.Second)

	rss0 := tp.rss()
	t.Run("Storm", func(t *testing.T) {
		t.Run("Malformed", func(t *testing.T) { t.Parallel(); r.malformed(t) })
		t.Run("Bodies", func(t *testing.T) { t.Parallel(); r.bodies(t) })
		t.Run("Flood", func(t *testing.T) { t.Parallel(); r.flood(t) })
		t.Run("NeverReads", func(t *testing.T) { t.Parallel(); r.neverReads(t) })
		t.Run("HalfOpen", func(t *testing.T) { t.Parallel(); r.halfOpen(t) })
		t.Run("UnknownPaths", func(t *testing.T) { t.Parallel(); r.unknownPaths(t) })
		t.Run("Slowloris", func(t *testing.T) { t.Parallel(); r.slowloris(t) })
	})
	rss1, peak1 := tp.rss(), tp.peakRSS()
	// The part that costs memory, twice more.
	t.Run("Again", func(t *testing.T) { r.bodies(t) })
	rss2, peak2 := tp.rss(), tp.peakRSS()
	t.Run("AndAgain", func(t *testing.T) { r.bodies(t) })
	rss3, peak3 := tp.rss(), tp.peakRSS()
	r.bg.waitOK(t, 5, 30*time.Second)
	r.bg.stop()

	r.bg.report(t)
	if n := r.bg.failed.Load(); n != 0 {
		t.Errorf("%d flows of other clients failed during the storm", n)
	}
	const mib = 1 << 20
	t.Logf("tap resident memory: %d MiB before the storm, %d MiB after it (peak %d MiB), after the large bodies again %d MiB (peak %d MiB) and again %d MiB (peak %d MiB); --max-body %d MiB",
		rss0/mib, rss1/mib, peak1/mib, rss2/mib, peak2/mib, rss3/mib, peak3/mib, badMaxBody/mib)
	// The tap holds a request body, up to --max-body, in memory while it
	// reads and forwards it, and the Go runtime gives freed memory back to
	// the system only little by little: the bound is in --max-body, and
	// the peak must not move when the same input comes again.
	if limit := rss0 + 24*badMaxBody; peak3 > limit {
		t.Errorf("resident memory peaked at %d MiB, over %d MiB", peak3/mib, limit/mib)
	}
	if limit := peak2 + max(peak2/4, 32*mib); peak3 > limit {
		t.Errorf("resident memory peaked at %d MiB, then at %d MiB when the large bodies came a third time: not bounded", peak2/mib, peak3/mib)
	}

	js := connectLog(t, ext.URL())
	evs := settled(t, js, expect{sessions: r.bg.sessions(), db: dbPath})
	for _, check := range r.checks {
		if err := check(evs); err != nil {
			t.Error(err)
		}
	}
	t.Logf("%d events in the log and the database", len(evs))
}

// malformed sends bodies Janus cannot parse, over HTTP and WebSocket, to the
// tap and to Janus itself: the answers are the same, and the log keeps the
// bodies byte for byte.
func (r *badRig) malformed(t *testing.T) {
	bodies := []struct {
		name string
		body string
	}{
		{"truncated", `{"janus":"create","transaction":`},
		{"unclosed", `{"janus":"info"`},
		{"not_json", `hello`},
		{"invalid_utf8_in_string", "{\"janus\":\"info\",\"transaction\":\"\xff\xfe\"}"},
		{"invalid_utf8", "\xff\xfe\xfd"},
		{"nul", "\x00\x00\x00"},
		{"deep", strings.Repeat("[", 100000)},
		{"two_objects", `{"janus":"info","transaction":"a"}{"janus":"info"`},
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var xs []janus.Exchange
	for _, b := range bodies {
		got, err := post(ctx, r.tp.httpURL(), b.body)
		if err != nil {
			t.Errorf("%s over http: %v", b.name, err)
			continue
		}
		want, err := post(ctx, r.j.HTTP, b.body)
		if err != nil {
			t.Fatalf("%s over http to janus: %v", b.name, err)
		}
		if got.Status != want.Status || !bytes.Equal(got.Body, want.Body) {
			t.Errorf("%s over http: the tap answered %d %q, janus %d %q", b.name, got.Status, got.Body, want.Status, want.Body)
		}
		xs = append(xs, janus.Exchange{Request: []byte(b.body), Reply: got})
	}

	tapWS, err := dialRaw(ctx, r.tp.wsURL(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tapWS.Close()
	janusWS, err := dialRaw(ctx, r.j.WS, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer janusWS.Close()
	frames := append(bodies, struct{ name, body string }{"empty", ""})
	for _, b := range frames {
		if b.name == "two_objects" {
			continue // one frame, two events: the replies cannot be told apart
		}
		if b.body != "" {
			b.body += "\n" // not the bytes of the HTTP body, so that each is found once in the log
		}
		got, err := roundTrip(tapWS, websocket.TextMessage, b.body)
		if err != nil {
			t.Fatalf("%s over websocket: %v", b.name, err)
		}
		want, err := roundTrip(janusWS, websocket.TextMessage, b.body)
		if err != nil {
			t.Fatalf("%s over websocket to janus: %v", b.name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s over websocket: the tap answered %q, janus %q", b.name, got, want)
		}
		if b.body != "" {
			xs = append(xs, janus.Exchange{Request: []byte(b.body), Reply: janus.Reply{Body: got}})
		}
	}
	// Janus gives some of these the same answer: each request is in the
	// log once, each answer at least once.
	r.afterwards(func(evs []logEvent) error {
		for _, x := range xs {
			var reqs, replies int
			for _, ev := range evs {
				switch {
				case ev.Direction == schema.ToGateway && bytes.Equal(ev.Body, x.Request):
					reqs++
				case ev.Direction == schema.ToClient && bytes.Equal(ev.Body, x.Reply.Body):
					replies++
				}
			}
			if reqs != 1 || replies == 0 {
				return fmt.Errorf("malformed request %.60q: %d events, its answer %d; want 1 and at least 1", x.Request, reqs, replies)
			}
		}
		return nil
	})
	bin := `{"janus":"info","transaction":"binary-frame"}`
	if got, err := roundTrip(tapWS, websocket.BinaryMessage, bin); err != nil || !bytes.Contains(got, []byte(`"server_info"`)) {
		t.Errorf("a binary frame: answered %q, %v; want janus's server_info", got, err)
	}
}

// bodies sends a body under --max-body (10 MiB), which goes through and is
// kept in the log truncated with its SHA-256, and bodies over it (100 MiB
// over HTTP, 20 MiB in one WebSocket message), which the tap refuses: 413
// with a Janus error, and close code 1009, each with the reason and a
// Failure event.
func (r *badRig) bodies(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	pad := func(n int) string {
		return `{"janus":"keepalive","transaction":"big-` + janus.NewTx() + `","pad":"` + strings.Repeat("A", n) + `"}`
	}
	big := pad(10 << 20)
	got, err := post(ctx, r.tp.httpURL(), big)
	if err != nil {
		t.Fatal(err)
	}
	if j, err := schema.ParseJanus(got.Body); got.Status != http.StatusOK || err != nil || j.ErrorCode != 457 {
		t.Errorf("10 MiB keepalive without a session: %d %q; want janus's error 457", got.Status, got.Body)
	}
	sum := sha256.Sum256([]byte(big))
	r.afterwards(func(evs []logEvent) error {
		for _, ev := range evs {
			if ev.BodySHA256 == hex.EncodeToString(sum[:]) {
				if !ev.Truncated || ev.BodySize != len(big) || !strings.HasPrefix(big, string(ev.Body)) {
					return fmt.Errorf("10 MiB body: event truncated %v, size %d, %d bytes kept", ev.Truncated, ev.BodySize, len(ev.Body))
				}
				return nil
			}
		}
		return errors.New("10 MiB body: no event with its SHA-256")
	})

	huge := pad(100 << 20)
	got, err = post(ctx, r.tp.httpURL(), huge)
	if err != nil {
		t.Fatalf("100 MiB body: %v; want the tap's 413", err)
	}
	want := fmt.Sprintf("janustap: request body over the tap's limit of %d bytes", badMaxBody)
	if j, err := schema.ParseJanus(got.Body); got.Status != http.StatusRequestEntityTooLarge || err != nil || j.Janus != "error" || j.ErrorCode != 454 || !strings.Contains(string(got.Body), want) {
		t.Errorf("100 MiB body: %d %q; want 413 with a Janus error 454 saying %q", got.Status, got.Body, want)
	}

	c, err := dialRaw(ctx, r.tp.wsURL(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Write and read at once: the tap closes the connection as soon as the
	// message passes the limit, while the rest is still being written.
	written := make(chan error, 1)
	go func() { written <- c.WriteMessage(websocket.TextMessage, []byte(pad(20<<20))) }()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, _, err = c.ReadMessage()
	<-written // fails once the tap has closed: no matter
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
		t.Errorf("20 MiB websocket message: %v; want close 1009", err)
	} else if !strings.Contains(ce.Text, "janustap: message over") {
		// gorilla/websocket sends its own 1009, without a reason, as
		// soon as the limit is passed; the tap's, with one, comes second.
		t.Logf("20 MiB websocket message: closed with 1009 %q (the reason is in the log)", ce.Text)
	}
	r.afterwards(func(evs []logEvent) error {
		want := fmt.Sprintf("janustap: message over %d bytes", badMaxBody)
		for _, ev := range evs {
			if ev.Kind == schema.Failure && ev.Error == want {
				return nil
			}
		}
		return fmt.Errorf("no Failure event says %q", want)
	})
}

// flood sends 10 000 WebSocket frames within a second from one client and
// reads the answers: each frame is forwarded and answered, and each frame
// and answer is in the log once.
func (r *badRig) flood(t *testing.T) {
	const n = 10000
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	c, err := dialRaw(ctx, r.tp.wsURL(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	prefix := "flood-" + janus.NewTx() + "-"
	replies := make(map[string][]byte, n)
	readDone := make(chan error, 1)
	go func() {
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		for len(replies) < n {
			_, msg, err := c.ReadMessage()
			if err != nil {
				readDone <- fmt.Errorf("after %d answers: %w", len(replies), err)
				return
			}
			if j, err := schema.ParseJanus(msg); err == nil {
				replies[j.Transaction] = msg
			}
		}
		readDone <- nil
	}()
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := range n {
		if i%100 == 0 && i > 0 {
			<-tick.C // 100 frames every 10 ms: 10 000 a second
		}
		if err := c.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"janus":"keepalive","transaction":"%s%d"}`, prefix, i)); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	sent := time.Since(start)
	if err := <-readDone; err != nil {
		t.Fatalf("%d frames sent in %v: %v", n, sent, err)
	}
	t.Logf("%d frames sent in %v, all answered after %v", n, sent.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	xs := make([]janus.Exchange, 0, n)
	for i := range n {
		tx := fmt.Sprintf("%s%d", prefix, i)
		xs = append(xs, janus.Exchange{Request: fmt.Appendf(nil, `{"janus":"keepalive","transaction":"%s"}`, tx), Reply: janus.Reply{Body: replies[tx]}})
	}
	r.adopt(xs)
}

// neverReads opens a WebSocket with a tiny receive buffer, asks for large
// answers and never reads them, then goes away without a close frame: the
// tap holds back (it does not buffer without bound), others go on, and the
// log records the end of the connection.
func (r *badRig) neverReads(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := dialRaw(ctx, r.tp.wsURL(), 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	first := `{"janus":"info","transaction":"never-reads-` + janus.NewTx() + `"}`
	sent := 0
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	for i := range 4000 {
		msg := first
		if i > 0 {
			msg = fmt.Sprintf(`{"janus":"info","transaction":"never-reads-%d"}`, i)
		}
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			break // the tap holds back: its reads wait on its writes
		}
		sent++
	}
	r.bg.waitOK(t, 5, 30*time.Second) // meanwhile, others are served
	c.UnderlyingConn().Close()        // gone, without a close frame
	t.Logf("sent %d requests for server_info (about 2.6 KB each) without reading an answer", sent)
	r.afterwards(func(evs []logEvent) error {
		return closeRecorded(evs, first, "never-reading websocket")
	})
}

// halfOpen half-closes connections (TCP FIN after a request): an HTTP
// request is answered as Janus answers it or not at all, and a WebSocket
// that ends so is ended by the tap, at once, and recorded.
func (r *badRig) halfOpen(t *testing.T) {
	t.Run("HTTP", func(t *testing.T) {
		body := `{"janus":"info","transaction":"half-` + janus.NewTx() + `"}`
		c, err := net.Dial("tcp", r.tp.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /janus HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n%s", r.tp.addr, len(body), body)
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("read the answer to a half-closed request: %v", err)
		}
		// Janus answers nothing and closes. An answer is fine if it is
		// Janus's; a success with no body is not.
		if len(got) > 0 && !bytes.Contains(got, []byte(`"server_info"`)) {
			t.Errorf("a half-closed request was answered %q; want Janus's answer or none", got)
		}
	})
	t.Run("WebSocket", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		c, err := dialRaw(ctx, r.tp.wsURL(), 0)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		first := `{"janus":"info","transaction":"half-ws-` + janus.NewTx() + `"}`
		if _, err := roundTrip(c, websocket.TextMessage, first); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		c.UnderlyingConn().(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(15 * time.Second))
		_, _, err = c.ReadMessage()
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("the tap ended a half-closed websocket %v after its FIN (%v); want at once", d.Round(time.Millisecond), err)
		}
		r.afterwards(func(evs []logEvent) error {
			return closeRecorded(evs, first, "half-closed websocket")
		})
	})
}

// unknownPaths sends methods and paths Janus does not serve: the tap
// answers as Janus does, or, where Janus drops the connection, drops it too.
func (r *badRig) unknownPaths(t *testing.T) {
	janusBase := strings.TrimSuffix(r.j.HTTP, "/janus")
	adminBase := strings.TrimSuffix(r.j.AdminHTTP, "/admin")
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/", ""},
		{"GET", "/nope", ""},
		{"POST", "/nope", `{"janus":"info","transaction":"x"}`},
		{"GET", "/janus/1234", ""},
		{"GET", "/janus/1234/5678", ""},
		{"GET", "/janus/../../etc/passwd", ""},
		{"HEAD", "/janus", ""},
		{"DELETE", "/janus", ""},
		{"TRACE", "/janus", ""},
		{"OPTIONS", "/janus", ""},
		{"PUT", "/janus", `{}`},
		{"PATCH", "/janus", `{}`},
		{"BREW", "/janus", ""},
		{"GET", "/admin/nope", ""},
		{"DELETE", "/admin", ""},
	} {
		base := janusBase
		if strings.HasPrefix(c.path, "/admin") {
			base = adminBase
		}
		got, gerr := do(t.Context(), c.method, "http://"+r.tp.addr+c.path, c.body)
		want, werr := do(t.Context(), c.method, base+c.path, c.body)
		name := c.method + " " + c.path
		switch {
		case werr != nil:
			// Janus hangs up; so does the tap (issue 14, finding 8), and
			// a failure event says why.
			if gerr == nil {
				t.Errorf("%s: janus hangs up (%v); the tap answered %d %q, want it to hang up too", name, werr, got.Status, got.Body)
			}
		case gerr != nil:
			t.Errorf("%s: %v; janus answers %d, want an answer", name, gerr, want.Status)
		case got.Status != want.Status:
			t.Errorf("%s: the tap answered %d %q, janus %d %q", name, got.Status, got.Body, want.Status, want.Body)
		}
	}
	// A WebSocket upgrade without a subprotocol Janus serves: Janus closes
	// the TCP connection, and so does the tap.
	d := websocket.Dialer{Subprotocols: []string{"chat"}, HandshakeTimeout: 5 * time.Second}
	if c, _, err := d.DialContext(t.Context(), r.tp.wsURL(), nil); err == nil {
		c.Close()
		t.Error("a websocket with subprotocol chat was accepted")
	}
}

// slowloris holds connections that send their headers a byte at a time,
// connections that send nothing, and connections that send headers and
// then stall in the body. The tap closes the first two kinds once
// ReadHeaderTimeout (10 s) has passed; meanwhile others are served.
func (r *badRig) slowloris(t *testing.T) {
	const n = 30
	type result struct {
		kind string
		d    time.Duration
		err  error
	}
	results := make(chan result, 2*n)
	var stalled []net.Conn
	var wg sync.WaitGroup
	start := time.Now()
	for i := range 2 * n {
		c, err := net.Dial("tcp", r.tp.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		kind := "slow headers"
		if i%2 == 1 {
			kind = "silent"
		}
		wg.Go(func() {
			c.SetDeadline(time.Now().Add(25 * time.Second))
			if kind == "slow headers" {
				if _, err := io.WriteString(c, "POST /janus HTTP/1.1\r\nHost: janus\r\n"); err != nil {
					results <- result{kind, time.Since(start), err}
					return
				}
				// Trickle a header, a byte every 200 ms, while this
				// goroutine reads for the tap's answer, or its close.
				done := make(chan struct{})
				defer close(done)
				go func() {
					tick := time.NewTicker(200 * time.Millisecond)
					defer tick.Stop()
					for _, b := range []byte("X-Slow: " + strings.Repeat("a", 200)) {
						if _, err := c.Write([]byte{b}); err != nil {
							return
						}
						select {
						case <-done:
							return
						case <-tick.C:
						}
					}
				}()
			}
			_, err := io.ReadAll(c)
			results <- result{kind, time.Since(start), err}
		})
	}
	for range n {
		c, err := net.Dial("tcp", r.tp.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /janus HTTP/1.1\r\nHost: janus\r\nContent-Length: 1000\r\n\r\n{\"janus\":")
		stalled = append(stalled, c)
	}
	wg.Wait()
	close(results)
	var longest time.Duration
	for res := range results {
		longest = max(longest, res.d)
		// The tap closes the connection; unread bytes make that a reset.
		if (res.err != nil && !errors.Is(res.err, syscall.ECONNRESET)) || res.d > 14*time.Second {
			t.Errorf("%s connection: closed by the tap after %v (%v); want within ReadHeaderTimeout (10s)", res.kind, res.d.Round(time.Millisecond), res.err)
		}
	}
	// A body that stalls is not bounded in time by the tap (Janus does
	// not bound it either): count those still open.
	open := 0
	for _, c := range stalled {
		c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); isTimeout(err) {
			open++
		}
		c.Close()
	}
	t.Logf("%d slow-header and silent connections closed by the tap within %v; %d of %d connections stalled in their body still open after that",
		2*n, longest.Round(time.Millisecond), open, n)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// closeRecorded checks that the log has a Close event, with an error, on
// the connection whose event carries the request body first.
func closeRecorded(evs []logEvent, first, what string) error {
	conn := ""
	for _, ev := range evs {
		if ev.Direction == schema.ToGateway && string(ev.Body) == first {
			conn = ev.Conn
			break
		}
	}
	if conn == "" {
		return fmt.Errorf("%s: its first request is not in the log", what)
	}
	for _, ev := range evs {
		if ev.Conn == conn && ev.Kind == schema.Close {
			if ev.Error == "" && ev.CloseCode == 0 {
				return fmt.Errorf("%s (conn %s): Close event says nothing: %+v", what, conn, ev.Event)
			}
			return nil
		}
	}
	return fmt.Errorf("%s (conn %s): no Close event: the log does not say the connection ended", what, conn)
}

// post sends body to url and returns the answer.
func post(ctx context.Context, url, body string) (janus.Reply, error) {
	return do(ctx, http.MethodPost, url, body)
}

func do(ctx context.Context, method, url, body string) (janus.Reply, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return janus.Reply{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return janus.Reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return janus.Reply{Status: resp.StatusCode, Body: b}, err
}

// dialRaw opens a WebSocket with the Janus subprotocol; rcvbuf, when not 0,
// is the socket's receive buffer in bytes.
func dialRaw(ctx context.Context, url string, rcvbuf int) (*websocket.Conn, error) {
	nd := &net.Dialer{}
	if rcvbuf > 0 {
		nd.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
			return errors.Join(err, serr)
		}
	}
	d := websocket.Dialer{Subprotocols: []string{janus.Protocol}, NetDialContext: nd.DialContext, HandshakeTimeout: 10 * time.Second}
	c, _, err := d.DialContext(ctx, url, nil)
	return c, err
}

// roundTrip writes one message and reads the next.
func roundTrip(c *websocket.Conn, typ int, body string) ([]byte, error) {
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := c.WriteMessage(typ, []byte(body)); err != nil {
		return nil, err
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, msg, err := c.ReadMessage()
	return msg, err
}
