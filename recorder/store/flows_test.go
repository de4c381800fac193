package store

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/janustap/janustap/schema"
)

// This file builds event sequences as a tap records them, for tests and
// benchmarks: the same kinds, parents, sequences and parsed fields.

// t0 is when every test flow starts.
var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

// flow makes the events of one gateway seen by one tap, on a clock that
// moves only when told (advance) or by step after each event.
type flow struct {
	gw, tap string
	*clock
	emit func(*schema.Event)
}

// clock is what the flows of one tap share: time and counters.
type clock struct {
	now    time.Time
	step   time.Duration
	events int
	conns  int
	ids    uint64
	txs    int
	seqs   map[string]uint64
}

func newFlow(gw string, emit func(*schema.Event)) *flow {
	return &flow{gw: gw, tap: "tap1", clock: &clock{now: t0, seqs: map[string]uint64{}}, emit: emit}
}

// newTx returns a new transaction string of 12 letters, as janus.js makes.
func (f *flow) newTx() string {
	f.txs++
	return fmt.Sprintf("tx%010d", f.txs)
}

func (f *flow) advance(d time.Duration) { f.now = f.now.Add(d) }

// newID returns a new Janus id: 16 digits, under 2^53.
func (f *flow) newID() uint64 {
	f.ids++
	return 1_000_000_000_000_000 + f.ids*104_729_113
}

func (f *flow) newConn() string {
	f.conns++
	return f.tap + "-" + strconv.Itoa(f.conns)
}

// event makes and emits one event.
func (f *flow) event(conn string, tr schema.Transport, dir schema.Direction, kind schema.Kind, body string) *schema.Event {
	ev := f.make(conn, tr, dir, kind, body)
	f.emit(ev)
	return ev
}

// make makes one event, for the caller to complete and emit.
func (f *flow) make(conn string, tr schema.Transport, dir schema.Direction, kind schema.Kind, body string) *schema.Event {
	f.events++
	f.seqs[conn]++
	ev := &schema.Event{V: schema.Version, ID: fmt.Sprintf("01TEST%020d", f.events), Gateway: f.gw, Tap: f.tap,
		Conn: conn, Seq: f.seqs[conn], Time: f.now, Mono: int64(f.now.Sub(t0)) + int64(time.Second),
		Transport: tr, Direction: dir, Kind: kind}
	if body != "" {
		ev.Body = []byte(body)
		ev.BodySize = len(body)
		if j, err := schema.ParseJanus(ev.Body); err == nil {
			ev.Janus = j
		} else {
			ev.ParseError = err.Error()
		}
		if strings.Contains(body, schema.RedactedMarker) {
			ev.Redacted = true
		}
	}
	f.now = f.now.Add(f.step)
	return ev
}

// httpClient is a client of the REST API: one connection for its POSTs and
// one for its long polls.
type httpClient struct {
	f          *flow
	tr         schema.Transport
	conn, poll string
}

func (f *flow) httpClient(tr schema.Transport) *httpClient {
	return &httpClient{f: f, tr: tr, conn: f.newConn(), poll: f.newConn()}
}

func (c *httpClient) request(conn, method, path, query, body string) *schema.Event {
	ev := c.f.make(conn, c.tr, schema.ToGateway, schema.Request, body)
	ev.Method, ev.Path, ev.Query = method, path, query
	if body != "" {
		ev.Header = map[string]string{"Content-Type": "application/json"}
	}
	ev.FillPathIDs()
	c.f.emit(ev)
	return ev
}

// post sends a request to path.
func (c *httpClient) post(path, body string) *schema.Event {
	return c.request(c.conn, "POST", path, "", body)
}

// get starts a long poll on the session.
func (c *httpClient) get(session uint64) *schema.Event {
	return c.request(c.poll, "GET", fmt.Sprintf("/janus/%d", session), "maxev=10&rid=1740823200000", "")
}

func (c *httpClient) answer(req *schema.Event, kind schema.Kind, status int, body string, part, parts int) *schema.Event {
	ev := c.f.make(req.Conn, c.tr, schema.ToClient, kind, body)
	ev.Parent, ev.Method, ev.Path, ev.Query, ev.Status = req.ID, req.Method, req.Path, req.Query, status
	ev.Header = map[string]string{"Content-Type": "application/json", "Access-Control-Allow-Origin": "*"}
	if kind == schema.PollEvent {
		ev.Part, ev.Parts, ev.Batch = part, parts, true
	}
	ev.FillPathIDs()
	c.f.emit(ev)
	return ev
}

// respond answers req.
func (c *httpClient) respond(req *schema.Event, status int, body string) *schema.Event {
	return c.answer(req, schema.Response, status, body, 0, 0)
}

// deliver answers a long poll with an array of messages.
func (c *httpClient) deliver(poll *schema.Event, bodies ...string) {
	for i, b := range bodies {
		c.answer(poll, schema.PollEvent, 200, b, i, len(bodies))
	}
}

// fail records a failure of the tap for req.
func (c *httpClient) fail(req *schema.Event, msg string) *schema.Event {
	ev := c.f.make(req.Conn, c.tr, schema.ToClient, schema.Failure, "")
	ev.Parent, ev.Method, ev.Path, ev.Query, ev.Error = req.ID, req.Method, req.Path, req.Query, msg
	ev.Janus = &schema.Janus{SessionID: req.Janus.SessionID, HandleID: req.Janus.HandleID, Transaction: req.Janus.Transaction}
	c.f.emit(ev)
	return ev
}

// wsClient is one WebSocket connection.
type wsClient struct {
	f    *flow
	tr   schema.Transport
	conn string
}

func (f *flow) wsClient(tr schema.Transport) *wsClient {
	return &wsClient{f: f, tr: tr, conn: f.newConn()}
}

func (c *wsClient) open() *schema.Event {
	ev := c.f.make(c.conn, c.tr, schema.ToGateway, schema.Open, "")
	ev.Method, ev.Path, ev.Subprotocol = "GET", "/", "janus-protocol"
	if c.tr == schema.AdminWS {
		ev.Subprotocol = "janus-admin-protocol"
	}
	c.f.emit(ev)
	return ev
}

func (c *wsClient) send(body string) *schema.Event {
	return c.f.event(c.conn, c.tr, schema.ToGateway, schema.Frame, body)
}

func (c *wsClient) recv(body string) *schema.Event {
	return c.f.event(c.conn, c.tr, schema.ToClient, schema.Frame, body)
}

func (c *wsClient) close(dir schema.Direction, code int) *schema.Event {
	ev := c.f.make(c.conn, c.tr, dir, schema.Close, "")
	ev.CloseCode = code
	c.f.emit(ev)
	return ev
}

// Bodies, shaped as Janus and janus.js write them.

// sdp returns an SDP of about n bytes.
func sdp(kind string, n int) string {
	var b strings.Builder
	b.WriteString(`v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n`)
	b.WriteString(`m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=` + kind + `\r\n`)
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `a=candidate:%d 1 udp 2122260223 192.0.2.%d 5%04d typ host generation 0\r\n`, i, i%250, i)
	}
	return b.String()
}

func createReq(tx string) string {
	return `{"janus":"create","transaction":"` + tx + `"}`
}

func successID(tx string, session, id uint64) string {
	if session == 0 {
		return fmt.Sprintf(`{"janus":"success","transaction":"%s","data":{"id":%d}}`, tx, id)
	}
	return fmt.Sprintf(`{"janus":"success","session_id":%d,"transaction":"%s","data":{"id":%d}}`, session, tx, id)
}

func success(tx string, session uint64) string {
	return fmt.Sprintf(`{"janus":"success","session_id":%d,"transaction":"%s"}`, session, tx)
}

func ack(tx string, session uint64) string {
	return fmt.Sprintf(`{"janus":"ack","session_id":%d,"transaction":"%s"}`, session, tx)
}

// ids returns the session_id and handle_id fields of a WebSocket request.
func ids(session, handle uint64) string {
	s := ""
	if session != 0 {
		s += fmt.Sprintf(`,"session_id":%d`, session)
	}
	if handle != 0 {
		s += fmt.Sprintf(`,"handle_id":%d`, handle)
	}
	return s
}

func attachReq(tx, plugin, opaque string, session uint64) string {
	return fmt.Sprintf(`{"janus":"attach","plugin":"%s","opaque_id":"%s","transaction":"%s"%s}`, plugin, opaque, tx, ids(session, 0))
}

func messageReq(tx, body, jsep string, session, handle uint64) string {
	j := ""
	if jsep != "" {
		j = fmt.Sprintf(`,"jsep":{"type":"%s","sdp":"%s"}`, jsep, sdp(jsep, 1500))
	}
	return fmt.Sprintf(`{"janus":"message","body":%s%s,"transaction":"%s"%s}`, body, j, tx, ids(session, handle))
}

func pluginEvent(tx string, session, handle uint64, plugin, data, jsep string) string {
	t, j := "", ""
	if tx != "" {
		t = fmt.Sprintf(`"transaction":"%s",`, tx)
	}
	if jsep != "" {
		j = fmt.Sprintf(`,"jsep":{"type":"%s","sdp":"%s"}`, jsep, sdp(jsep, 1500))
	}
	return fmt.Sprintf(`{"janus":"event","session_id":%d,%s"sender":%d,"plugindata":{"plugin":"%s","data":%s}%s}`,
		session, t, handle, plugin, data, j)
}

func pluginSuccess(tx string, session, handle uint64, plugin, data string) string {
	return fmt.Sprintf(`{"janus":"success","session_id":%d,"transaction":"%s","sender":%d,"plugindata":{"plugin":"%s","data":%s}}`,
		session, tx, handle, plugin, data)
}

func handleEvent(typ string, session, handle uint64, extra string) string {
	return fmt.Sprintf(`{"janus":"%s","session_id":%d,"sender":%d%s}`, typ, session, handle, extra)
}

func janusError(tx string, session uint64, code int, reason string) string {
	t, s := "", ""
	if tx != "" {
		t = fmt.Sprintf(`,"transaction":"%s"`, tx)
	}
	if session != 0 {
		s = fmt.Sprintf(`,"session_id":%d`, session)
	}
	return fmt.Sprintf(`{"janus":"error"%s%s,"error":{"code":%d,"reason":"%s"}}`, s, t, code, reason)
}

const (
	echotest  = "janus.plugin.echotest"
	videoroom = "janus.plugin.videoroom"
	textroom  = "janus.plugin.textroom"
)

// scenario holds the ids of the test scenario, for the checks.
type scenario struct {
	events []*schema.Event
	// S1/H1: HTTP echotest, destroyed. S2/H2: WebSocket videoroom, closed.
	// S3: WebSocket, timed out. S4: HTTP, gone (458). S5/H5: seen only in
	// events (capture started late).
	s1, h1, s2, h2, s3, s4, s5, h5 uint64
}

// newScenario records a realistic mix of flows on gateway "gw1".
func newScenario() *scenario {
	sc := &scenario{}
	f := newFlow("gw1", func(ev *schema.Event) { sc.events = append(sc.events, ev) })
	ms := time.Millisecond

	// A: echotest over HTTP, from create to destroy.
	a := f.httpClient(schema.HTTP)
	sc.s1, sc.h1 = f.newID(), f.newID()
	req := a.post("/janus", createReq("c1"))
	f.advance(2 * ms)
	a.respond(req, 200, successID("c1", 0, sc.s1))
	f.advance(ms)
	p1 := a.get(sc.s1)
	f.advance(ms)
	req = a.post(fmt.Sprintf("/janus/%d", sc.s1), attachReq("a1", echotest, "echo-A", 0))
	f.advance(3 * ms)
	a.respond(req, 200, successID("a1", sc.s1, sc.h1))
	f.advance(ms)
	hpath := fmt.Sprintf("/janus/%d/%d", sc.s1, sc.h1)
	req = a.post(hpath, messageReq("m1", `{"audio":true,"video":true}`, "offer", 0, 0))
	f.advance(ms)
	a.respond(req, 200, `{"janus":"ack","session_id":`+fmt.Sprint(sc.s1)+`,"transaction":"m1","hint":"I'm taking my time!"}`)
	f.advance(10 * ms)
	a.deliver(p1, pluginEvent("m1", sc.s1, sc.h1, echotest, `{"echotest":"event","result":"ok"}`, "answer"))
	f.advance(ms)
	p2 := a.get(sc.s1)
	f.advance(ms)
	req = a.post(hpath, `{"janus":"trickle","candidate":{"completed":true},"transaction":"t1"}`)
	f.advance(ms)
	a.respond(req, 200, ack("t1", sc.s1))
	f.advance(ms)
	// The long poll can answer before the POST that caused the event.
	req = a.post(hpath, messageReq("m2", `{"audio":true,"video":false}`, "", 0, 0))
	f.advance(4 * ms)
	a.deliver(p2, pluginEvent("m2", sc.s1, sc.h1, echotest, `{"echotest":"event","result":"ok"}`, ""))
	f.advance(ms)
	a.respond(req, 200, `{"janus":"ack","session_id":`+fmt.Sprint(sc.s1)+`,"transaction":"m2","hint":"I'm taking my time!"}`)
	p2 = a.get(sc.s1)
	f.advance(50 * ms)
	a.deliver(p2,
		handleEvent("webrtcup", sc.s1, sc.h1, ""),
		handleEvent("media", sc.s1, sc.h1, `,"mid":"0","type":"audio","receiving":true`),
		handleEvent("media", sc.s1, sc.h1, `,"mid":"1","type":"video","receiving":true`))
	f.advance(ms)
	p3 := a.get(sc.s1)
	f.advance(time.Second)
	req = a.post(fmt.Sprintf("/janus/%d", sc.s1), `{"janus":"keepalive","transaction":"k9"}`)
	f.advance(ms)
	a.fail(req, "gateway gw1 unreachable: connection refused")
	f.advance(ms)
	req = a.post(hpath, `{"janus":"hangup","transaction":"hu1"}`)
	f.advance(ms)
	a.respond(req, 200, success("hu1", sc.s1))
	f.advance(ms)
	a.deliver(p3,
		pluginEvent("", sc.s1, sc.h1, echotest, `{"echotest":"event","result":"done"}`, ""),
		handleEvent("hangup", sc.s1, sc.h1, `,"reason":"Janus API"`))
	f.advance(ms)
	p4 := a.get(sc.s1)
	f.advance(ms)
	req = a.post(hpath, `{"janus":"detach","transaction":"d1"}`)
	f.advance(ms)
	a.respond(req, 200, success("d1", sc.s1))
	f.advance(ms)
	a.deliver(p4, handleEvent("detached", sc.s1, sc.h1, ""))
	f.advance(ms)
	req = a.post(fmt.Sprintf("/janus/%d", sc.s1), `{"janus":"destroy","transaction":"x1"}`)
	f.advance(ms)
	a.respond(req, 200, success("x1", sc.s1))

	// B: videoroom over WebSocket; the join event comes before its ack.
	f.advance(100 * ms)
	b := f.wsClient(schema.WS)
	sc.s2, sc.h2 = f.newID(), f.newID()
	b.open()
	f.advance(ms)
	b.send(createReq("c2"))
	f.advance(2 * ms)
	b.recv(successID("c2", 0, sc.s2))
	f.advance(ms)
	b.send(attachReq("a2", videoroom, "vr-B", sc.s2))
	f.advance(2 * ms)
	b.recv(successID("a2", sc.s2, sc.h2))
	f.advance(ms)
	b.send(messageReq("vc1", `{"request":"create","room":1234}`, "", sc.s2, sc.h2))
	f.advance(2 * ms)
	b.recv(pluginSuccess("vc1", sc.s2, sc.h2, videoroom, `{"videoroom":"event","error_code":427,"error":"Room 1234 already exists"}`))
	f.advance(ms)
	b.send(messageReq("j1", `{"request":"join","ptype":"publisher","room":1234,"display":"b"}`, "", sc.s2, sc.h2))
	f.advance(5 * ms)
	b.recv(pluginEvent("j1", sc.s2, sc.h2, videoroom, `{"videoroom":"joined","room":1234,"id":6713301572521604,"private_id":3060372547,"publishers":[]}`, ""))
	f.advance(ms)
	b.recv(ack("j1", sc.s2))
	f.advance(ms)
	b.send(messageReq("cf1", `{"request":"configure","audio":true,"video":true}`, "offer", sc.s2, sc.h2))
	f.advance(ms)
	b.recv(ack("cf1", sc.s2))
	f.advance(20 * ms)
	b.recv(pluginEvent("cf1", sc.s2, sc.h2, videoroom, `{"videoroom":"event","room":1234,"configured":"ok"}`, "answer"))
	f.advance(30 * ms)
	b.recv(handleEvent("webrtcup", sc.s2, sc.h2, ""))
	f.advance(ms)
	b.recv(handleEvent("media", sc.s2, sc.h2, `,"mid":"0","type":"audio","receiving":true`))
	f.advance(ms)
	b.send(messageReq("e1", `{}`, "", sc.s2, 123))
	f.advance(ms)
	b.recv(janusError("e1", sc.s2, 459, fmt.Sprintf("No such handle 123 in session %d", sc.s2)))

	// The admin API looks at the sessions: it links to them, makes none.
	ad := f.httpClient(schema.AdminHTTP)
	f.advance(ms)
	req = ad.post("/admin", `{"janus":"list_sessions","admin_secret":"REDACTED","transaction":"ad1"}`)
	f.advance(ms)
	ad.respond(req, 200, fmt.Sprintf(`{"janus":"success","transaction":"ad1","sessions":[%d,%d]}`, sc.s1, sc.s2))
	f.advance(ms)
	req = ad.post(fmt.Sprintf("/admin/%d/%d", sc.s2, sc.h2), `{"janus":"handle_info","admin_secret":"REDACTED","transaction":"ad2"}`)
	f.advance(ms)
	ad.respond(req, 200, fmt.Sprintf(`{"janus":"success","session_id":%d,"transaction":"ad2","handle_id":%d,"info":{"plugin":"%s"}}`, sc.s2, sc.h2, videoroom))
	f.advance(ms)
	req = ad.post("/admin", `{"janus":"list_handles","session_id":999,"admin_secret":"REDACTED","transaction":"ad3"}`)
	f.advance(ms)
	ad.respond(req, 200, `{"janus":"success","session_id":999,"transaction":"ad3","handles":[888]}`)

	f.advance(ms)
	b.send(`{"janus":"keepalive","transaction":"k1"` + ids(sc.s2, 0) + `}`)
	f.advance(ms)
	b.recv(ack("k1", sc.s2))
	f.advance(500 * ms)
	b.close(schema.ToGateway, 1000)
	b.close(schema.ToClient, 1000)

	// C: a WebSocket session that times out.
	c := f.wsClient(schema.WS)
	sc.s3 = f.newID()
	c.open()
	f.advance(ms)
	c.send(createReq("c3"))
	f.advance(ms)
	c.recv(successID("c3", 0, sc.s3))
	f.advance(ms)
	c.send(`{"janus":"keepalive","transaction":"k3"` + ids(sc.s3, 0) + `}`)
	f.advance(ms)
	c.recv(ack("k3", sc.s3))
	f.advance(62 * time.Second)
	c.recv(fmt.Sprintf(`{"janus":"timeout","session_id":%d}`, sc.s3))
	f.advance(ms)
	c.close(schema.ToGateway, 1000)
	c.close(schema.ToClient, 1000)

	// D: an HTTP session that timed out with no poll pending: the next
	// request gets 458.
	d := f.httpClient(schema.HTTP)
	sc.s4 = f.newID()
	req = d.post("/janus", createReq("c4"))
	f.advance(ms)
	d.respond(req, 200, successID("c4", 0, sc.s4))
	f.advance(70 * time.Second)
	req = d.post(fmt.Sprintf("/janus/%d", sc.s4), `{"janus":"keepalive","transaction":"k4"}`)
	f.advance(ms)
	d.respond(req, 200, janusError("k4", sc.s4, 458, fmt.Sprintf("No such session %d", sc.s4)))

	// E: a session whose creation the log does not hold.
	e := f.wsClient(schema.WS)
	sc.s5, sc.h5 = f.newID(), f.newID()
	f.advance(ms)
	e.recv(pluginEvent("", sc.s5, sc.h5, textroom, `{"textroom":"message","room":1234,"text":"hi"}`, ""))
	return sc
}

// items makes stream items of events, numbered from first.
func items(first uint64, events []*schema.Event) []Item {
	out := make([]Item, len(events))
	for i, ev := range events {
		raw, err := schema.Encode(ev)
		if err != nil {
			panic(err)
		}
		out[i] = Item{StreamSeq: first + uint64(i), Event: ev, Raw: raw}
	}
	return out
}
