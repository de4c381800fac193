package har_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/schema"
	"github.com/janustap/janustap/schema/golden"
	"github.com/janustap/janustap/schema/har"
)

// t0 is when every test flow starts.
var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

// capture makes events as a tap records them: ids, sequences per
// connection, wall and monotonic clocks, parsed Janus fields.
type capture struct {
	gw   string
	now  time.Time
	n    int
	seqs map[string]uint64
	evs  []*schema.Event
}

func newCapture(gw string) *capture {
	return &capture{gw: gw, now: t0, seqs: map[string]uint64{}}
}

func (c *capture) after(d time.Duration) *capture { c.now = c.now.Add(d); return c }

// ev records one event; set completes it before it is kept.
func (c *capture) ev(conn string, tr schema.Transport, dir schema.Direction, kind schema.Kind, body string, set func(*schema.Event)) *schema.Event {
	c.n++
	c.seqs[conn]++
	ev := &schema.Event{V: schema.Version, ID: fmt.Sprintf("01JTEST%019d", c.n), Gateway: c.gw, Tap: "tap1",
		Conn: conn, Seq: c.seqs[conn], Time: c.now, Mono: int64(c.now.Sub(t0) + time.Second),
		Transport: tr, Direction: dir, Kind: kind}
	if body != "" {
		ev.Body, ev.BodySize = []byte(body), len(body)
		if j, err := schema.ParseJanus(ev.Body); err == nil {
			ev.Janus = j
		}
	}
	if set != nil {
		set(ev)
	}
	c.evs = append(c.evs, ev)
	return ev
}

// post records a POST and its answer, d later.
func (c *capture) post(conn, path, req, resp string, d time.Duration) {
	r := c.ev(conn, schema.HTTP, schema.ToGateway, schema.Request, req, func(ev *schema.Event) {
		ev.Method, ev.Path = "POST", path
		ev.Header = map[string]string{"Content-Type": "application/json", "Origin": "https://app.example"}
	})
	c.after(d).ev(conn, schema.HTTP, schema.ToClient, schema.Response, resp, func(ev *schema.Event) {
		ev.Parent, ev.Method, ev.Path, ev.Status = r.ID, "POST", path, 200
		ev.Header = map[string]string{"Content-Type": "application/json", "Access-Control-Allow-Origin": "*", "Transfer-Encoding": "chunked"}
	})
}

// httpFlow is an echotest session over REST and long poll, with what goes
// wrong at times: a failure of the tap, a poll left pending, answers whose
// request the capture lacks.
func httpFlow() []*schema.Event {
	c := newCapture("janus-eu1")
	c.post("tap1-1", "/janus", `{"janus":"create","transaction":"cr8Tx0aaaaaa"}`,
		"{\n   \"janus\": \"success\",\n   \"transaction\": \"cr8Tx0aaaaaa\",\n   \"data\": {\n      \"id\": 4611686018427387\n   }\n}", 850*time.Microsecond)
	pre := c.after(time.Millisecond).ev("tap1-2", schema.HTTP, schema.ToGateway, schema.Request, "", func(ev *schema.Event) {
		ev.Method, ev.Path = "OPTIONS", "/janus/4611686018427387"
		ev.Header = map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
	})
	c.after(300*time.Microsecond).ev("tap1-2", schema.HTTP, schema.ToClient, schema.Response, "", func(ev *schema.Event) {
		ev.Parent, ev.Method, ev.Path, ev.Status = pre.ID, "OPTIONS", "/janus/4611686018427387", 200
		ev.Header = map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Max-Age": "86400",
			"Access-Control-Allow-Methods": "POST", "Access-Control-Allow-Headers": "content-type", "Content-Length": "0"}
	})
	c.after(time.Millisecond).post("tap1-3", "/janus/4611686018427387",
		`{"janus":"attach","plugin":"janus.plugin.echotest","opaque_id":"echotest-1","transaction":"att1aaaaaaaa"}`,
		"{\n   \"janus\": \"success\",\n   \"session_id\": 4611686018427387,\n   \"transaction\": \"att1aaaaaaaa\",\n   \"data\": {\n      \"id\": 2305843009213693\n   }\n}", 2*time.Millisecond)
	poll := c.after(time.Millisecond).ev("tap1-4", schema.HTTP, schema.ToGateway, schema.Request, "", func(ev *schema.Event) {
		ev.Method, ev.Path, ev.Query = "GET", "/janus/4611686018427387", "maxev=10&rid=1740823200004&token=REDACTED"
		ev.Header = map[string]string{"Origin": "https://app.example"}
		ev.Redacted = true
	})
	c.after(time.Millisecond).post("tap1-5", "/janus/4611686018427387/2305843009213693",
		`{"janus":"message","body":{"audio":true,"video":true},"jsep":{"type":"offer","sdp":"v=0\r\n"},"transaction":"msg1aaaaaaaa"}`,
		"{\n   \"janus\": \"ack\",\n   \"session_id\": 4611686018427387,\n   \"transaction\": \"msg1aaaaaaaa\",\n   \"hint\": \"I'm taking my time!\"\n}", 400*time.Microsecond)
	for i, body := range []string{
		"{\n   \"janus\": \"event\",\n   \"session_id\": 4611686018427387,\n   \"transaction\": \"msg1aaaaaaaa\",\n   \"sender\": 2305843009213693,\n   \"plugindata\": {\n      \"plugin\": \"janus.plugin.echotest\",\n      \"data\": {\n         \"echotest\": \"event\",\n         \"result\": \"ok\"\n      }\n   },\n   \"jsep\": {\n      \"type\": \"answer\",\n      \"sdp\": \"v=0\\r\\n\"\n   }\n}",
		"{\n   \"janus\": \"webrtcup\",\n   \"session_id\": 4611686018427387,\n   \"sender\": 2305843009213693\n}",
	} {
		c.after(20*time.Microsecond).ev("tap1-4", schema.HTTP, schema.ToClient, schema.PollEvent, body, func(ev *schema.Event) {
			ev.Parent, ev.Method, ev.Path, ev.Query, ev.Status = poll.ID, poll.Method, poll.Path, poll.Query, 200
			ev.Header = map[string]string{"Content-Type": "application/json", "Access-Control-Allow-Origin": "*"}
			ev.Part, ev.Parts, ev.Batch = i, 2, true
		})
	}
	// maxev absent: one object, held 30 s until Janus sends a keepalive.
	single := c.after(time.Millisecond).ev("tap1-6", schema.HTTP, schema.ToGateway, schema.Request, "", func(ev *schema.Event) {
		ev.Method, ev.Path = "GET", "/janus/4611686018427387"
	})
	c.after(30*time.Second).ev("tap1-6", schema.HTTP, schema.ToClient, schema.PollEvent, "{\n   \"janus\": \"keepalive\"\n}", func(ev *schema.Event) {
		ev.Parent, ev.Method, ev.Path, ev.Status = single.ID, "GET", "/janus/4611686018427387", 200
		ev.Header = map[string]string{"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
	})
	// A message whose body the tap cut at its limit.
	big := c.after(time.Millisecond).ev("tap1-7", schema.HTTP, schema.ToGateway, schema.Request, `{"janus":"message","body":{"request":"set","bitrate":`, func(ev *schema.Event) {
		ev.Method, ev.Path = "POST", "/janus/4611686018427387/2305843009213693"
		ev.Truncated, ev.BodySize, ev.BodySHA256 = true, 5242880, strings.Repeat("ab", 32)
	})
	// The gateway went down: the tap answered 502 and recorded why.
	c.after(time.Millisecond).ev("tap1-7", schema.HTTP, schema.ToClient, schema.Failure, "", func(ev *schema.Event) {
		ev.Parent, ev.Method, ev.Path = big.ID, big.Method, big.Path
		ev.Error = "gateway janus-eu1 unreachable: dial tcp 127.0.0.1:8088: connect: connection refused"
	})
	// A poll still pending when the capture ended.
	c.after(time.Millisecond).ev("tap1-8", schema.HTTP, schema.ToGateway, schema.Request, "", func(ev *schema.Event) {
		ev.Method, ev.Path, ev.Query = "GET", "/janus/4611686018427387", "maxev=10"
	})
	// An answer whose request is not in the capture (cut by time).
	c.after(time.Millisecond).ev("tap1-0", schema.AdminHTTP, schema.ToClient, schema.Response,
		`{"janus":"success","transaction":"ls1aaaaaaaaa","sessions":[4611686018427387]}`, func(ev *schema.Event) {
			ev.Parent, ev.Method, ev.Path, ev.Status = "01JTESTBEFORETHECAPTURE000", "POST", "/admin", 200
			ev.Header = map[string]string{"Content-Type": "application/json"}
		})
	// A failure of the tap with nothing to attach it to.
	c.ev("tap1-9", schema.HTTP, schema.ToClient, schema.Failure, "", func(ev *schema.Event) { ev.Error = "spool full" })
	return c.evs
}

// wsFlow is a session over WebSocket, a connection opened before the
// capture, and an admin WebSocket the gateway refused.
func wsFlow() []*schema.Event {
	c := newCapture("janus-eu1")
	c.ev("tap1-20", schema.WS, schema.ToGateway, schema.Open, "", func(ev *schema.Event) {
		ev.Method, ev.Path, ev.Subprotocol = "GET", "/", "janus-protocol"
		ev.Header = map[string]string{"Origin": "https://app.example", "Sec-Websocket-Protocol": "janus-protocol"}
	})
	frame := func(dir schema.Direction, body string, set func(*schema.Event)) *schema.Event {
		return c.after(time.Millisecond).ev("tap1-20", schema.WS, dir, schema.Frame, body, set)
	}
	frame(schema.ToGateway, `{"janus":"create","transaction":"wsCr8aaaaaaa"}`, nil)
	frame(schema.ToClient, "{\n   \"janus\": \"success\",\n   \"transaction\": \"wsCr8aaaaaaa\",\n   \"data\": {\n      \"id\": 1152921504606846\n   }\n}", nil)
	// Two requests in one frame: two events, the second linked to the first.
	first := frame(schema.ToGateway, `{"janus":"keepalive","session_id":1152921504606846,"transaction":"ka1aaaaaaaaa"}`, func(ev *schema.Event) {
		ev.Part, ev.Parts = 0, 2
	})
	c.ev("tap1-20", schema.WS, schema.ToGateway, schema.Frame, ` {"janus":"keepalive","session_id":1152921504606846,"transaction":"ka2aaaaaaaaa"}`, func(ev *schema.Event) {
		ev.Part, ev.Parts, ev.Parent = 1, 2, first.ID
	})
	frame(schema.ToClient, "{\n   \"janus\": \"ack\",\n   \"session_id\": 1152921504606846,\n   \"transaction\": \"ka1aaaaaaaaa\"\n}", nil)
	frame(schema.ToGateway, "\xff\x00binary", func(ev *schema.Event) { ev.Binary = true })
	c.after(time.Millisecond).ev("tap1-20", schema.WS, schema.ToGateway, schema.Close, "", func(ev *schema.Event) {
		ev.CloseCode, ev.CloseText = 1000, "bye"
	})
	c.ev("tap1-20", schema.WS, schema.ToClient, schema.Close, "", func(ev *schema.Event) { ev.CloseCode = 1000 })
	// A connection opened before the capture started.
	c.after(time.Millisecond).ev("tap1-21", schema.WS, schema.ToClient, schema.Frame,
		`{"janus":"timeout","session_id":2251799813685248}`, func(ev *schema.Event) { ev.Seq = 40 })
	// An admin WebSocket whose upgrade failed.
	open := c.after(time.Millisecond).ev("tap1-22", schema.AdminWS, schema.ToGateway, schema.Open, "", func(ev *schema.Event) {
		ev.Method, ev.Path, ev.Query, ev.Subprotocol = "GET", "/admin", "v=1", "janus-admin-protocol"
	})
	c.ev("tap1-22", schema.AdminWS, schema.ToClient, schema.Failure, "", func(ev *schema.Event) {
		ev.Parent, ev.Method, ev.Path = open.ID, open.Method, open.Path
		ev.Error = "websocket upgrade: websocket: the client is not using the websocket protocol"
	})
	return c.evs
}

func build(evs []*schema.Event) []byte {
	var buf bytes.Buffer
	if err := har.Build(evs, har.Options{CreatorVersion: "test"}).Write(&buf); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func TestBuildGolden(t *testing.T) {
	for name, evs := range map[string][]*schema.Event{"http": httpFlow(), "ws": wsFlow()} {
		t.Run(name, func(t *testing.T) {
			golden.Check(t, name+".har.golden", build(evs))
		})
	}
}

// checkHAR checks that b is a HAR 1.2 document with every required field,
// and returns its entries.
func checkHAR(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("HAR is not JSON: %v", err)
	}
	log, ok := doc["log"].(map[string]any)
	if !ok {
		t.Fatalf("no log object")
	}
	if log["version"] != "1.2" {
		t.Errorf("log.version = %v, want 1.2", log["version"])
	}
	creator, _ := log["creator"].(map[string]any)
	if _, ok := creator["name"].(string); !ok {
		t.Errorf("log.creator.name missing")
	}
	if _, ok := creator["version"].(string); !ok {
		t.Errorf("log.creator.version missing")
	}
	raw, ok := log["entries"].([]any)
	if !ok {
		t.Fatalf("log.entries is not an array")
	}
	var entries []map[string]any
	for i, r := range raw {
		e, _ := r.(map[string]any)
		where := fmt.Sprintf("entries[%d]", i)
		need := func(obj map[string]any, path string, keys ...string) {
			for _, k := range keys {
				if _, ok := obj[k]; !ok {
					t.Errorf("%s.%s: missing %s", where, path, k)
				}
			}
		}
		need(e, "", "startedDateTime", "time", "request", "response", "cache", "timings")
		if s, _ := e["startedDateTime"].(string); s != "" {
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				t.Errorf("%s.startedDateTime: %v", where, err)
			}
		}
		if tm, ok := e["time"].(float64); !ok || tm < 0 {
			t.Errorf("%s.time = %v, want a number ≥ 0", where, e["time"])
		}
		req, _ := e["request"].(map[string]any)
		need(req, "request", "method", "url", "httpVersion", "cookies", "headers", "queryString", "headersSize", "bodySize")
		if pd, ok := req["postData"].(map[string]any); ok {
			need(pd, "request.postData", "mimeType", "text")
		}
		resp, _ := e["response"].(map[string]any)
		need(resp, "response", "status", "statusText", "httpVersion", "cookies", "headers", "content", "redirectURL", "headersSize", "bodySize")
		content, _ := resp["content"].(map[string]any)
		need(content, "response.content", "size", "mimeType")
		timings, _ := e["timings"].(map[string]any)
		need(timings, "timings", "send", "wait", "receive")
		for _, k := range []string{"send", "wait", "receive"} {
			if v, ok := timings[k].(float64); ok && v < 0 {
				t.Errorf("%s.timings.%s = %v, want ≥ 0", where, k, v)
			}
		}
		for _, list := range []any{req["headers"], req["cookies"], req["queryString"], resp["headers"], resp["cookies"]} {
			for _, nv := range list.([]any) {
				need(nv.(map[string]any), "name/value", "name", "value")
			}
		}
		entries = append(entries, e)
	}
	return entries
}

func TestBuildIsHAR(t *testing.T) {
	evs := append(httpFlow(), wsFlow()...)
	entries := checkHAR(t, build(evs))
	var xhr, ws int
	for _, e := range entries {
		switch e["_resourceType"] {
		case "xhr":
			xhr++
		case "websocket":
			ws++
			if _, ok := e["_webSocketMessages"].([]any); !ok {
				t.Errorf("websocket entry %v has no _webSocketMessages", e["request"])
			}
		}
	}
	// 8 requests, and an answer whose request the capture lacks.
	if xhr != 9 {
		t.Errorf("%d HTTP entries, want 9", xhr)
	}
	if ws != 3 {
		t.Errorf("%d WebSocket entries, want 3", ws)
	}
}

func TestBuildRebuildsMessages(t *testing.T) {
	doc := har.Build(append(httpFlow(), wsFlow()...), har.Options{})
	byURL := map[string][]har.Entry{}
	for _, e := range doc.Log.Entries {
		byURL[e.Request.Method+" "+e.Request.URL] = append(byURL[e.Request.Method+" "+e.Request.URL], e)
	}
	t.Run("batch", func(t *testing.T) {
		e := byURL["GET http://janus-eu1/janus/4611686018427387?maxev=10&rid=1740823200004&token=REDACTED"]
		if len(e) != 1 {
			t.Fatalf("%d entries for the batched poll, want 1", len(e))
		}
		var elems []map[string]any
		if err := json.Unmarshal([]byte(e[0].Response.Content.Text), &elems); err != nil {
			t.Fatalf("batched poll answer is not a JSON array: %v", err)
		}
		if len(elems) != 2 || elems[0]["janus"] != "event" || elems[1]["janus"] != "webrtcup" {
			t.Errorf("batched poll answer = %s", e[0].Response.Content.Text)
		}
		if got, want := e[0].Time, 1.42; got != want {
			t.Errorf("poll time = %vms, want %vms", got, want)
		}
	})
	t.Run("single", func(t *testing.T) {
		e := byURL["GET http://janus-eu1/janus/4611686018427387"]
		if len(e) != 1 || e[0].Response.Content.Text != "{\n   \"janus\": \"keepalive\"\n}" || e[0].Time != 30000 {
			t.Errorf("single poll = %+v", e)
		}
	})
	t.Run("frames", func(t *testing.T) {
		e := byURL["GET ws://janus-eu1/"]
		if len(e) != 2 || e[0].Connection != "tap1-20" || e[1].Comment != "connection opened before the capture" {
			t.Fatalf("entries for the WebSockets = %+v, want tap1-20 then the one opened before the capture", e)
		}
		msgs := e[0].WebSocketMessages
		if len(msgs) != 5 {
			t.Fatalf("%d messages, want 5: %+v", len(msgs), msgs)
		}
		if want := `{"janus":"keepalive","session_id":1152921504606846,"transaction":"ka1aaaaaaaaa"} {"janus":"keepalive","session_id":1152921504606846,"transaction":"ka2aaaaaaaaa"}`; msgs[2].Data != want || msgs[2].Type != "send" {
			t.Errorf("joined frame = %s %q, want send %q", msgs[2].Type, msgs[2].Data, want)
		}
		if msgs[4].Opcode != 2 || msgs[4].Data != base64.StdEncoding.EncodeToString([]byte("\xff\x00binary")) {
			t.Errorf("binary message = %+v", msgs[4])
		}
		if msgs[1].Type != "receive" || msgs[1].Opcode != 1 {
			t.Errorf("gateway message = %+v", msgs[1])
		}
	})
	t.Run("upgrade-failed", func(t *testing.T) {
		e := byURL["GET ws://janus-eu1/admin?v=1"]
		if len(e) != 1 || e[0].Response.Status != 0 || e[0].Response.Error == "" {
			t.Errorf("failed upgrade = %+v", e)
		}
	})
	if !strings.HasPrefix(doc.Log.Comment, "1 event belongs") {
		t.Errorf("log comment = %q, want the unattached failure counted", doc.Log.Comment)
	}
}

func TestBuildHost(t *testing.T) {
	evs := []*schema.Event{{V: 1, ID: "a", Gateway: "not a host!", Kind: schema.Request, Transport: schema.HTTP, Method: "POST", Path: "/janus"}}
	if got := har.Build(evs, har.Options{}).Log.Entries[0].Request.URL; got != "http://janus/janus" {
		t.Errorf("URL = %q, want the placeholder host", got)
	}
	if got := har.Build(evs, har.Options{Host: "127.0.0.1:8088"}).Log.Entries[0].Request.URL; got != "http://127.0.0.1:8088/janus" {
		t.Errorf("URL = %q, want Options.Host", got)
	}
}

// FuzzHAR checks that events decoded from any JSON Lines never make Build
// panic, and that what it writes is JSON.
func FuzzHAR(f *testing.F) {
	for _, evs := range [][]*schema.Event{httpFlow(), wsFlow()} {
		var buf bytes.Buffer
		for _, ev := range evs {
			b, err := schema.Encode(ev)
			if err != nil {
				f.Fatal(err)
			}
			buf.Write(b)
			buf.WriteByte('\n')
		}
		f.Add(buf.Bytes())
		f.Add(buf.Bytes()[:buf.Len()/2]) // cut short
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var evs []*schema.Event
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if ev, err := schema.Decode(sc.Bytes()); err == nil {
				evs = append(evs, ev)
			}
		}
		var out bytes.Buffer
		if err := har.Build(evs, har.Options{}).Write(&out); err != nil {
			t.Fatalf("write: %v", err)
		}
		if !json.Valid(out.Bytes()) {
			t.Fatalf("output is not JSON")
		}
	})
}
