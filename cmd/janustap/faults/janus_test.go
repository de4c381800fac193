//go:build linux

package faults_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/janustap/janustap/recorder"
	"github.com/janustap/janustap/recorder/bus"
	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/schema"
)

// TestJanusKilled kills Janus (SIGKILL) under load and starts it again. The
// tap, here with its embedded NATS, keeps running: WebSockets open at the
// kill are closed with 1011 and a reason, HTTP requests are answered 502
// with a reason, new WebSockets are accepted and closed with 1011 and a
// reason; once Janus is back, flows work again through the same process;
// and the log says what happened (Failure and Close events).
func TestJanusKilled(t *testing.T) {
	j := janustest.Start(t, janustest.Options{})
	data := t.TempDir()
	natsPort := freePorts(t, 1)[0]
	tp := startTap(t, data, append(tapArgs(j), "--nats-port", strconv.Itoa(natsPort))...)
	pid := tp.pid()
	l := startLoad(t, tp.httpURL(), tp.wsURL(), *clients)
	l.waitOK(t, 20, 30*time.Second)

	// WebSocket clients with a session, idle at the moment of the kill.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var held []*janus.WSClient
	var heldSessions []*janus.Session
	for range 3 {
		c, err := janus.DialWS(ctx, tp.wsURL(), janus.Protocol)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		s := &janus.Session{C: c, WS: true}
		if err := s.Create(ctx); err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		heldSessions = append(heldSessions, s)
	}
	l.adopt(heldSessions...)

	killed := time.Now()
	if err := j.Kill(); err != nil {
		t.Fatal(err)
	}
	t.Run("Held", func(t *testing.T) {
		// A client connected to Janus itself sees its connection end at
		// once; through the tap, it must too, and be told why.
		for i, c := range held {
			select {
			case <-c.Done():
			case <-time.After(10 * time.Second):
				t.Fatalf("held websocket %d still open 10s after janus died", i)
			}
			if d := time.Since(killed); d > 2*time.Second {
				t.Errorf("held websocket %d ended %v after janus died; want at once", i, d.Round(time.Millisecond))
			}
			checkClose(t, c.Err(), "janustap: gateway connection lost")
		}
	})
	t.Run("HTTP", func(t *testing.T) {
		for _, u := range []string{tp.httpURL(), tp.httpURL() + "/info", "http://" + tp.addr + "/admin"} {
			method := http.MethodPost
			if strings.HasSuffix(u, "/info") {
				method = http.MethodGet
			}
			req, _ := http.NewRequestWithContext(ctx, method, u, strings.NewReader(`{"janus":"create","transaction":"probe"}`))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", method, u, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(b), "janustap: gateway gw1 unreachable") {
				t.Errorf("%s %s with janus down: HTTP %d %q; want 502 saying the gateway is unreachable", method, u, resp.StatusCode, b)
			}
		}
	})
	t.Run("WebSocket", func(t *testing.T) {
		for _, proto := range []string{janus.Protocol, janus.AdminProtocol} {
			c, err := janus.DialWS(ctx, tp.wsURL(), proto)
			if err != nil {
				t.Fatalf("dial %s with janus down: %v; want the upgrade, then a close frame", proto, err)
			}
			select {
			case <-c.Done():
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: websocket still open 5s after it was accepted with janus down", proto)
			}
			checkClose(t, c.Err(), "janustap: gateway gw1 unreachable")
			c.Close()
		}
	})
	l.waitFailed(t, 3, 30*time.Second)
	select {
	case <-tp.exited:
		t.Fatalf("janustap exited when janus died:\n%s", tp.tail(20))
	default:
	}

	if err := j.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	l.waitOK(t, 20, 30*time.Second) // through the same tap
	l.stop()
	if got := tp.pid(); got != pid {
		t.Errorf("janustap pid %d, was %d", got, pid)
	}

	counts := l.report(t)
	for class, n := range counts {
		if class == "ok" || strings.Contains(class, "janustap:") || strings.Contains(class, "tap:") || strings.Contains(class, "long-poll answered 502") {
			continue
		}
		t.Errorf("%d flows failed without a word from the tap: %s", n, class)
	}
	js := connectLog(t, embeddedURL(t, data))
	evs := settled(t, js, expect{sessions: l.sessions(), db: filepath.Join(data, recorder.DBFile)})
	var unreachable, lost int
	closed := map[string][]*schema.Event{}
	for _, ev := range evs {
		switch {
		case ev.Kind == schema.Failure && strings.Contains(ev.Error, "gateway gw1 unreachable"):
			unreachable++
		case ev.Kind == schema.Close && ev.Direction == schema.ToClient && ev.Error != "":
			lost++ // the gateway's side of a WebSocket dropped
		}
		if ev.Kind == schema.Close {
			closed[ev.Conn] = append(closed[ev.Conn], ev.Event)
		}
	}
	t.Logf("%d events; %d failures 'gateway unreachable', %d websockets whose gateway side dropped; clients: %v", len(evs), unreachable, lost, counts)
	if unreachable == 0 {
		t.Error("no Failure event says the gateway was unreachable")
	}
	// Each held WebSocket's end is in the log, with what ended it.
	for i, s := range heldSessions {
		create := s.T.Exchanges[0].Request
		conn := ""
		for _, ev := range evs {
			if ev.Direction == schema.ToGateway && string(ev.Body) == string(create) {
				conn = ev.Conn
			}
		}
		if conn == "" {
			t.Errorf("held websocket %d: its create is not in the log", i)
			continue
		}
		said := slices.ContainsFunc(closed[conn], func(ev *schema.Event) bool {
			return ev.Direction == schema.ToClient && ev.Error != ""
		})
		if !said {
			var got []string
			for _, ev := range closed[conn] {
				got = append(got, fmt.Sprintf("%s %d %q error %q", ev.Direction, ev.CloseCode, ev.CloseText, ev.Error))
			}
			t.Errorf("held websocket %d (conn %s): no Close event says its gateway connection dropped (Close events: %v)", i, conn, got)
		}
	}
}

// checkClose checks that a WebSocket ended with a close frame 1011 whose
// reason contains reason.
func checkClose(t *testing.T, err error, reason string) {
	t.Helper()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		t.Errorf("websocket ended with %v; want a close frame", err)
		return
	}
	if ce.Code != websocket.CloseInternalServerErr || !strings.Contains(ce.Text, reason) {
		t.Errorf("websocket closed with %d %q; want 1011 and a reason saying %q", ce.Code, ce.Text, reason)
	}
}

// embeddedURL returns the URL of the embedded NATS of the serve whose data
// directory is dir, with its credentials.
func embeddedURL(t testing.TB, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, recorder.URLFile))
	if err != nil {
		t.Fatal(err)
	}
	user, pass, err := bus.LoadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	u := strings.TrimSpace(string(b))
	return strings.Replace(u, "nats://", fmt.Sprintf("nats://%s:%s@", user, pass), 1)
}
