package tap_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/janustap/janustap/recorder/tap"
	"github.com/janustap/janustap/recorder/tap/taptest"
	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/schema"
)

func post(t *testing.T, url, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, b := roundTrip(t, req)
	return resp.StatusCode, resp.Header, b
}

// roundTrip sends req on its own (no redirects followed) and returns the
// answer with its whole body.
func roundTrip(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func createSession(t *testing.T, base string) uint64 {
	t.Helper()
	_, _, b := post(t, base, `{"janus":"create","transaction":"c"}`)
	j, err := schema.ParseJanus(b)
	if err != nil || j.DataID == 0 {
		t.Fatalf("create: %s", b)
	}
	return j.DataID
}

// eventsWhere returns the recorded events that match.
func (r *rig) eventsWhere(match func(*schema.Event) bool) []*schema.Event {
	var out []*schema.Event
	for _, ev := range r.mem.Events() {
		if match(ev) {
			out = append(out, ev)
		}
	}
	return out
}

func TestLongPollBatch(t *testing.T) {
	r := newRig(t, janustest.Options{})
	s := createSession(t, r.tapHTTP())
	// Three keepalive-free events queued: attach two handles and detach them.
	var handles []uint64
	for range 2 {
		_, _, b := post(t, fmt.Sprintf("%s/%d", r.tapHTTP(), s), `{"janus":"attach","plugin":"janus.plugin.echotest","transaction":"a"}`)
		j, _ := schema.ParseJanus(b)
		handles = append(handles, j.DataID)
	}
	for _, h := range handles {
		post(t, fmt.Sprintf("%s/%d/%d", r.tapHTTP(), s, h), `{"janus":"detach","transaction":"d"}`)
	}
	// Janus may answer a poll before both detached events are queued: poll
	// until both came, as a client does.
	var bodies [][]byte
	detached := 0
	for rid := 1; detached < 2; rid++ {
		if rid > 20 {
			t.Fatalf("got %d detached events in 20 polls, want 2", detached)
		}
		resp, err := http.Get(fmt.Sprintf("%s/%d?rid=%d&maxev=5", r.tapHTTP(), s, rid))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var arr []json.RawMessage
		if err := json.Unmarshal(body, &arr); err != nil {
			t.Fatalf("poll answer %s: want an array with maxev=5 (%v)", body, err)
		}
		detached += bytes.Count(body, []byte(`"detached"`))
		bodies = append(bodies, body)
	}
	reqs := r.eventsWhere(func(ev *schema.Event) bool { return ev.Kind == schema.Request && ev.Method == "GET" })
	if len(reqs) != len(bodies) {
		t.Fatalf("%d poll request events for %d polls", len(reqs), len(bodies))
	}
	var got []uint64
	for i, req := range reqs {
		if want := fmt.Sprintf("rid=%d&maxev=5", i+1); req.Query != want {
			t.Errorf("poll %d has query %q, want %q", i+1, req.Query, want)
		}
		evs := r.eventsWhere(func(ev *schema.Event) bool { return ev.Kind == schema.PollEvent && ev.Parent == req.ID })
		for j, ev := range evs {
			if ev.Part != j || ev.Parts != len(evs) || !ev.Batch {
				t.Errorf("poll %d event %d: part %d/%d batch %v; want part %d/%d batch", i+1, j, ev.Part, ev.Parts, ev.Batch, j, len(evs))
			}
			if ev.Janus == nil || ev.Janus.SessionID != s {
				t.Errorf("poll %d event %d: parsed %+v", i+1, j, ev.Janus)
				continue
			}
			if ev.Janus.Janus == "detached" { // echotest may also say "done"
				got = append(got, ev.Janus.Sender)
			}
			if !bytes.Contains(bodies[i], ev.Body) {
				t.Errorf("poll %d event %d body is not a piece of the answer: %s", i+1, j, ev.Body)
			}
		}
	}
	slices.Sort(got)
	slices.Sort(handles)
	if !slices.Equal(got, handles) {
		t.Errorf("detached events recorded for handles %v, want %v", got, handles)
	}
}

// TestClientLeavesLongPoll: a client that goes away during a held poll
// cancels it upstream, and the tap keeps serving.
func TestClientLeavesLongPoll(t *testing.T) {
	r := newRig(t, janustest.Options{})
	s := createSession(t, r.tapHTTP())
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/%d?maxev=1", r.tapHTTP(), s), nil)
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	janustest.WaitFor(t, 5*time.Second, func() error {
		if n := len(r.eventsWhere(func(ev *schema.Event) bool { return ev.Method == "GET" && ev.Kind == schema.Request })); n != 1 {
			return fmt.Errorf("%d poll requests recorded", n)
		}
		return nil
	})
	cancel()
	if err := <-done; err == nil {
		t.Fatal("poll returned normally after its client went away")
	}
	janustest.WaitFor(t, 5*time.Second, func() error {
		f := r.eventsWhere(func(ev *schema.Event) bool { return ev.Kind == schema.Failure })
		if len(f) != 1 || !strings.Contains(f[0].Error, "client went away") {
			return fmt.Errorf("failure events %+v, want one saying the client went away", f)
		}
		return nil
	})
	// Other traffic is unaffected.
	if _, _, b := post(t, fmt.Sprintf("%s/%d", r.tapHTTP(), s), `{"janus":"keepalive","transaction":"k"}`); !bytes.Contains(b, []byte(`"ack"`)) {
		t.Fatalf("keepalive after the dropped poll: %s", b)
	}
}

func TestBadInput(t *testing.T) {
	r := newRig(t, janustest.Options{})
	t.Run("invalid_json", func(t *testing.T) {
		st, _, b := post(t, r.tapHTTP(), `{"janus":"create",`)
		direct, _, want := post(t, r.janus.HTTP, `{"janus":"create",`)
		if st != direct || !bytes.Equal(b, want) {
			t.Fatalf("through the tap %d %s, direct %d %s", st, b, direct, want)
		}
		evs := r.eventsWhere(func(ev *schema.Event) bool { return string(ev.Body) == `{"janus":"create",` })
		if len(evs) != 1 || evs[0].Janus != nil || evs[0].ParseError == "" {
			t.Fatalf("malformed request events: %+v", evs)
		}
	})
	t.Run("malformed_http", func(t *testing.T) {
		// Requests the tap cannot read are answered by it, and recorded:
		// a Failure event with the status the client got, and why.
		for _, tc := range []struct {
			raw    string
			status int
			reason string
		}{
			{"BLAH\r\n\r\n", http.StatusBadRequest, `malformed HTTP request "BLAH"`},
			{"POST /janus HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 1<<20+5000) + "\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge, "request head over"},
			{"POST /janus HTTP/1.1\r\nHost: x\r\nExpect: later\r\nContent-Length: 2\r\n\r\n{}", http.StatusExpectationFailed, `unsupported Expect ["later"] on POST /janus`},
		} {
			before := r.tap.Stats().Failures
			c, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second)) // a safety net
			io.WriteString(c, tc.raw)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			c.Close()
			if err != nil || resp.StatusCode != tc.status {
				t.Fatalf("%.40q: answer %v, %v; want %d", tc.raw, resp, err, tc.status)
			}
			evs := r.eventsWhere(func(ev *schema.Event) bool {
				return ev.Kind == schema.Failure && ev.Status == tc.status && strings.Contains(ev.Error, tc.reason)
			})
			if len(evs) != 1 || r.tap.Stats().Failures != before+1 {
				t.Fatalf("%.40q: %d failure events with status %d and %q (failures %d -> %d)", tc.raw, len(evs), tc.status, tc.reason, before, r.tap.Stats().Failures)
			}
		}
	})
	t.Run("ten_mib_body", func(t *testing.T) {
		s := createSession(t, r.tapHTTP())
		pad := strings.Repeat("x", 10<<20)
		body := `{"janus":"keepalive","transaction":"big","pad":"` + pad + `"}`
		st, _, b := post(t, fmt.Sprintf("%s/%d", r.tapHTTP(), s), body)
		if st != 200 || !bytes.Contains(b, []byte(`"ack"`)) {
			t.Fatalf("10 MiB keepalive: %d %.200s", st, b)
		}
		evs := r.eventsWhere(func(ev *schema.Event) bool {
			return ev.Janus != nil && ev.Janus.Transaction == "big" && ev.Kind == schema.Request
		})
		if len(evs) != 1 {
			t.Fatalf("got %d request events for the big body, want 1", len(evs))
		}
		ev := evs[0]
		if !ev.Truncated || ev.BodySize != len(body) || ev.BodySHA256 != schema.SHA256([]byte(body)) || len(ev.Body) != 1<<20 {
			t.Fatalf("big body event: truncated %v size %d body %d sha %s", ev.Truncated, ev.BodySize, len(ev.Body), ev.BodySHA256)
		}
	})
	t.Run("over_limit", func(t *testing.T) {
		mem := &memory{}
		tp, err := tap.New(tap.Config{Gateway: "test", JanusHTTP: r.janus.HTTP, Emitter: mem, MaxBody: 1 << 10})
		if err != nil {
			t.Fatal(err)
		}
		srvURL := taptest.Serve(t, tp)
		st, _, b := post(t, srvURL+"/janus", `{"janus":"create","transaction":"`+strings.Repeat("y", 2000)+`"}`)
		if st != http.StatusRequestEntityTooLarge || !bytes.Contains(b, []byte(`"code": 454`)) {
			t.Fatalf("over the limit: %d %s", st, b)
		}
		if tp.Stats().Failures != 1 {
			t.Fatalf("failures %d, want 1", tp.Stats().Failures)
		}
	})
	t.Run("unknown_path", func(t *testing.T) {
		resp, err := http.Get(r.url + "/nowhere")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		direct, err := http.Get(strings.TrimSuffix(r.janus.HTTP, "/janus") + "/nowhere")
		if err != nil {
			t.Fatal(err)
		}
		direct.Body.Close()
		if resp.StatusCode != direct.StatusCode {
			t.Fatalf("unknown path through the tap: %d, direct %d", resp.StatusCode, direct.StatusCode)
		}
	})
}

func TestCORSAndInfo(t *testing.T) {
	r := newRig(t, janustest.Options{})
	req, _ := http.NewRequest(http.MethodOptions, r.tapHTTP(), nil)
	req.Header.Set("Origin", "http://example.test")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for k, want := range map[string]string{
		"Access-Control-Allow-Origin":  "*",
		"Access-Control-Allow-Methods": "POST",
		"Access-Control-Allow-Headers": "content-type",
		"Access-Control-Max-Age":       "86400",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("preflight %s = %q, want %q", k, got, want)
		}
	}
	pre := r.eventsWhere(func(ev *schema.Event) bool { return ev.Method == http.MethodOptions })
	if len(pre) != 2 || pre[0].Header["Origin"] != "http://example.test" || pre[1].Header["Access-Control-Allow-Methods"] != "POST" {
		t.Fatalf("preflight events: %+v", pre)
	}
	c := janus.NewHTTP(r.tapHTTP())
	defer c.Close()
	info, err := c.Get(t.Context(), "/info")
	if err != nil || !bytes.Contains(info.Body, []byte(`"server_info"`)) {
		t.Fatalf("GET /info: %v %s", err, info.Body)
	}
}

func TestAdminAPI(t *testing.T) {
	r := newRig(t, janustest.Options{})
	s := createSession(t, r.tapHTTP())
	list := fmt.Sprintf(`{"janus":"list_sessions","admin_secret":%q,"transaction":"ls"}`, r.janus.AdminSecret)
	_, _, b := post(t, r.url+"/admin", list)
	if !bytes.Contains(b, []byte(fmt.Sprint(s))) {
		t.Fatalf("admin list_sessions over HTTP: %s", b)
	}
	ws, err := janus.DialWS(t.Context(), r.tapWS(), janus.AdminProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	rep, err := ws.Do(t.Context(), []byte(list), 0, 0)
	if err != nil || !bytes.Contains(rep.Body, []byte(fmt.Sprint(s))) {
		t.Fatalf("admin list_sessions over WS: %v %s", err, rep.Body)
	}
	reqs := r.eventsWhere(func(ev *schema.Event) bool {
		return ev.Janus != nil && ev.Janus.Janus == "list_sessions" && ev.Direction == schema.ToGateway
	})
	if len(reqs) != 2 || reqs[0].Transport != schema.AdminHTTP || reqs[1].Transport != schema.AdminWS {
		t.Fatalf("admin requests: %+v", reqs)
	}
	for _, ev := range reqs {
		if bytes.Contains(ev.Body, []byte(r.janus.AdminSecret)) || !ev.Redacted {
			t.Errorf("admin secret not redacted in %s", ev.Body)
		}
	}
}

func TestWebSocketFramesAndClose(t *testing.T) {
	r := newRig(t, janustest.Options{})
	d := websocket.Dialer{Subprotocols: []string{janus.Protocol}}
	conn, resp, err := d.Dial(r.tapWS(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Sec-WebSocket-Protocol") != janus.Protocol {
		t.Fatalf("subprotocol %q", resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	// Two objects in one frame: Janus runs both, and so two answers come.
	frame := `{"janus":"ping","transaction":"p1"}{"janus":"ping","transaction":"p2"}`
	if err := conn.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		t.Fatal(err)
	}
	for _, tx := range []string{"p1", "p2"} {
		_, m, err := conn.ReadMessage()
		if err != nil || !bytes.Contains(m, []byte(tx)) {
			t.Fatalf("answer %s: %v %s", tx, err, m)
		}
	}
	conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"))
	_, _, err = conn.ReadMessage()
	var ce *websocket.CloseError
	if !errorsAs(err, &ce) || ce.Code != 4001 || ce.Text != "bye" {
		t.Fatalf("close echo: %v", err)
	}
	conn.Close()
	janustest.WaitFor(t, 5*time.Second, func() error {
		parts := r.eventsWhere(func(ev *schema.Event) bool { return ev.Kind == schema.Frame && ev.Direction == schema.ToGateway })
		closes := r.eventsWhere(func(ev *schema.Event) bool { return ev.Kind == schema.Close })
		if len(parts) != 2 || parts[0].Parts != 2 || parts[1].Parent != parts[0].ID || string(parts[0].Body)+string(parts[1].Body) != frame {
			return fmt.Errorf("frame parts %+v", parts)
		}
		if len(closes) != 2 || closes[0].CloseCode != 4001 || closes[0].Direction != schema.ToGateway || closes[1].Direction != schema.ToClient {
			return fmt.Errorf("close events %+v", closes)
		}
		return nil
	})
	// No subprotocol: Janus closes the TCP connection without an answer, and
	// so does the tap.
	if _, _, err := (&websocket.Dialer{}).Dial(r.tapWS(), nil); err == nil {
		t.Fatal("websocket without subprotocol was accepted")
	}
}

func TestGatewayDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now
	mem := &memory{}
	tp, err := tap.New(tap.Config{Gateway: "down", JanusHTTP: "http://" + dead + "/janus", JanusWS: "ws://" + dead, Emitter: mem})
	if err != nil {
		t.Fatal(err)
	}
	srvURL := taptest.Serve(t, tp)
	st, _, b := post(t, srvURL+"/janus", `{"janus":"create","transaction":"c"}`)
	if st != http.StatusBadGateway || !bytes.Contains(b, []byte("unreachable")) {
		t.Fatalf("POST with the gateway down: %d %s", st, b)
	}
	conn, _, err := (&websocket.Dialer{Subprotocols: []string{janus.Protocol}}).Dial("ws"+strings.TrimPrefix(srvURL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = conn.ReadMessage()
	var ce *websocket.CloseError
	if !errorsAs(err, &ce) || ce.Code != tap.CloseBadGateway || !strings.Contains(ce.Text, "unreachable") {
		t.Fatalf("websocket with the gateway down: %v", err)
	}
	conn.Close()
	if f := tp.Stats().Failures; f != 2 {
		t.Fatalf("failures %d, want 2 (one per transport)", f)
	}
}

// TestHTTPFraming checks that an answer comes through with the framing
// Janus gave it: chunked when Janus chunked it, its Content-Length when it
// sent one, and the same status and body.
func TestHTTPFraming(t *testing.T) {
	r := newRig(t, janustest.Options{})
	for _, tc := range []struct {
		name, method, path, body string
		chunked, sameBody        bool // sameBody: the answer has no new id or random transaction
	}{
		{"create", http.MethodPost, "", `{"janus":"create","transaction":"f1"}`, true, false},
		{"info", http.MethodGet, "/info", "", true, false},
		{"preflight", http.MethodOptions, "", "", false, true},
		{"unknown session", http.MethodPost, "/1", `{"janus":"keepalive","transaction":"f2"}`, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			get := func(base string) (*http.Response, []byte) {
				req, err := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
				if err != nil {
					t.Fatal(err)
				}
				return roundTrip(t, req)
			}
			direct, db := get(r.janus.HTTP)
			tapped, tb := get(r.tapHTTP())
			if got := slices.Contains(direct.TransferEncoding, "chunked"); got != tc.chunked {
				t.Fatalf("Janus itself: chunked = %v, want %v (the test's premise)", got, tc.chunked)
			}
			if !slices.Equal(tapped.TransferEncoding, direct.TransferEncoding) || tapped.ContentLength != direct.ContentLength {
				t.Errorf("framing through the tap: transfer-encoding %v, length %d; Janus: %v, %d",
					tapped.TransferEncoding, tapped.ContentLength, direct.TransferEncoding, direct.ContentLength)
			}
			if tapped.StatusCode != direct.StatusCode {
				t.Errorf("status through the tap %d, Janus %d", tapped.StatusCode, direct.StatusCode)
			}
			if tc.sameBody && !bytes.Equal(tb, db) {
				t.Errorf("body through the tap %q, Janus %q", tb, db)
			}
			for _, k := range []string{"Content-Type", "Access-Control-Allow-Origin", "Access-Control-Max-Age"} {
				if tapped.Header.Get(k) != direct.Header.Get(k) {
					t.Errorf("header %s through the tap %q, Janus %q", k, tapped.Header.Get(k), direct.Header.Get(k))
				}
			}
		})
	}
}

// TestForwardedHeaders checks what the gateway receives: the client's
// headers without the hop-by-hop ones, no X-Forwarded-* or Via, no Go
// User-Agent, and the path and query as sent. The upstream here is a Go
// server that echoes what it received, since Janus cannot show its request
// headers; the hop-by-hop answer headers are checked the same way.
func TestForwardedHeaders(t *testing.T) {
	var got *http.Request
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(r.Context())
		w.Header().Set("Connection", "X-Hop")
		w.Header().Set("X-Hop", "1")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"janus":"ack","transaction":"h"}`)
	}))
	defer up.Close()
	tp, err := tap.New(tap.Config{Gateway: "test", JanusHTTP: up.URL + "/janus", Emitter: &memory{}})
	if err != nil {
		t.Fatal(err)
	}
	// Through the tap's own server, as janustap serve runs it, and through
	// Handler in net/http's server.
	nethttp := httptest.NewServer(tp.Handler())
	defer nethttp.Close()
	for _, base := range []string{taptest.Serve(t, tp), nethttp.URL} {
		got = nil
		req, _ := http.NewRequest(http.MethodPost, base+"/janus/12?rid=7&maxev=1", strings.NewReader(`{"janus":"keepalive","transaction":"h"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", "http://example.test")
		req.Header.Set("Connection", "X-Client-Hop")
		req.Header.Set("X-Client-Hop", "1")
		req.Header.Set("Proxy-Authorization", "Basic eA==")
		req.Header["User-Agent"] = []string{""} // send none
		resp, body := roundTrip(t, req)
		if string(body) != `{"janus":"ack","transaction":"h"}` {
			t.Fatalf("answer %q", body)
		}
		if got.URL.Path != "/janus/12" || got.URL.RawQuery != "rid=7&maxev=1" {
			t.Errorf("upstream got %s?%s", got.URL.Path, got.URL.RawQuery)
		}
		if got.Header.Get("Origin") != "http://example.test" || got.Header.Get("Content-Type") != "application/json" {
			t.Errorf("end-to-end headers lost: %v", got.Header)
		}
		for _, k := range []string{"X-Client-Hop", "Proxy-Authorization", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Via", "User-Agent"} {
			if v, ok := got.Header[k]; ok {
				t.Errorf("upstream got %s: %q", k, v)
			}
		}
		for _, k := range []string{"X-Hop", "Keep-Alive"} {
			if v, ok := resp.Header[k]; ok {
				t.Errorf("client got hop-by-hop %s: %q", k, v)
			}
		}
	}
}
