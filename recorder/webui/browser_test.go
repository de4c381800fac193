package webui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/webui"
	"github.com/janustap/janustap/replayer/janus/clienttest"
	"github.com/janustap/janustap/schema"
)

// ladderRows returns the rows of a session's ladder as /api/s serves them.
func ladderRows(t *testing.T, base string, session uint64) []struct {
	N     int
	Label string
	Fold  string
} {
	t.Helper()
	code, body := get(t, fmt.Sprintf("%s/api/s/janus/%d", base, session))
	if code != 200 {
		t.Fatalf("ladder of %d: %d %s", session, code, body)
	}
	var l struct {
		Rows []struct {
			N     int
			Label string
			Fold  string
		}
	}
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		t.Fatal(err)
	}
	return l.Rows
}

func runSteps(t *testing.T, steps []clienttest.BrowserStep) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	res, err := clienttest.RunSteps(ctx, 1400, 900, steps)
	if err != nil {
		t.Fatalf("browser: %v\nconsole: %v\nstderr:\n%s", err, res.Console, res.Stderr)
	}
	if len(res.Console) > 0 {
		t.Errorf("console errors: %q", res.Console)
	}
	out := map[string]string{}
	for k, v := range res.Values {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
		} else {
			out[k] = string(v)
		}
	}
	return out
}

func shot(t *testing.T, name string) clienttest.BrowserStep {
	path := filepath.Join(t.ArtifactDir(), name)
	t.Logf("screenshot %s", path)
	return clienttest.BrowserStep{Do: "screenshot", Path: path}
}

func TestBrowser(t *testing.T) {
	clienttest.Require(t)
	f := newFixture(t, nil)
	offer := 0
	for _, r := range ladderRows(t, f.base, f.publisher) {
		if strings.Contains(r.Label, "configure") && strings.Contains(r.Label, "jsep offer") {
			offer = r.N
		}
	}
	if offer == 0 {
		t.Fatal("no configure with an offer in the publisher's ladder")
	}
	ready := clienttest.BrowserStep{Do: "wait", Selector: "#ladder[data-ready]"}
	eval := func(name, js string) clienttest.BrowserStep {
		return clienttest.BrowserStep{Do: "eval", Name: name, JS: js}
	}
	press := func(key string) clienttest.BrowserStep { return clienttest.BrowserStep{Do: "press", Key: key} }

	t.Run("sessions_opaque_id", func(t *testing.T) {
		got := runSteps(t, []clienttest.BrowserStep{
			{Do: "goto", URL: f.base + "/?opaque_id=videoroom-subscriber"},
			{Do: "wait", Selector: "#rows tr"},
			eval("rows", "document.querySelectorAll('#rows tr').length"),
			eval("text", "document.getElementById('rows').textContent"),
			shot(t, "sessions-opaque-id.png"),
		})
		if got["rows"] != "1" || !strings.Contains(got["text"], fmt.Sprint(f.subscriber)) {
			t.Errorf("filtered to opaque_id videoroom-subscriber: %s rows: %q", got["rows"], got["text"])
		}
	})
	t.Run("videoroom", func(t *testing.T) {
		got := runSteps(t, []clienttest.BrowserStep{
			{Do: "goto", URL: fmt.Sprintf("%s/s/janus/%d", f.base, f.publisher)},
			ready,
			eval("lanes", "document.querySelectorAll('.hdr .lanes span').length"),
			eval("rows", "document.querySelectorAll('.lrow[id^=m]').length"),
			eval("folds", "document.querySelectorAll('.lrow.fold').length"),
			{Do: "click", Selector: fmt.Sprintf("#m%d", offer)},
			{Do: "waitFn", JS: "document.querySelectorAll('#detail .sdp').length >= 3"},
			eval("selected", "document.querySelector('.lrow.sel').id"),
			eval("intx", "Array.from(document.querySelectorAll('.lrow.intx')).map(e => e.querySelector('.lbl').textContent).join(' | ')"),
			eval("sdp", "Array.from(document.querySelectorAll('#detail .sdp summary')).map(e => e.textContent).join(' | ')"),
			eval("hash", "location.hash"),
			shot(t, "session-videoroom.png"),
			// Keyboard: Home, two down, time mode.
			press("Home"),
			eval("home", "location.hash"),
			press("ArrowDown"), press("j"),
			eval("down2", "location.hash"),
			press("t"),
			eval("timemode", "document.querySelector('[data-time][aria-pressed=true]').dataset.time"),
			press("End"),
			eval("end", "document.querySelector('.lrow.sel').dataset.i == String(Number(document.getElementById('ladder').dataset.visible) - 1)"),
		})
		if got["lanes"] != "5" {
			t.Errorf("lanes = %s, want 5 (two connections, janustap, Janus, the handle)", got["lanes"])
		}
		if got["folds"] == "0" || got["rows"] == "0" {
			t.Errorf("rows %s, folds %s", got["rows"], got["folds"])
		}
		if got["selected"] != fmt.Sprintf("m%d", offer) || got["hash"] != fmt.Sprintf("#m%d", offer) {
			t.Errorf("selected %s, hash %s, want message %d", got["selected"], got["hash"], offer)
		}
		if !strings.Contains(got["intx"], "ack") || !strings.Contains(got["intx"], "jsep answer") {
			t.Errorf("the transaction highlighted is %q, want its ack and its event with the answer", got["intx"])
		}
		if !strings.Contains(got["sdp"], "m=audio") || !strings.Contains(got["sdp"], "m=video") {
			t.Errorf("SDP sections %q", got["sdp"])
		}
		if got["home"] != "#m1" || got["down2"] != "#m3" || got["timemode"] != "delta" || got["end"] != "true" {
			t.Errorf("keyboard: Home %s, down twice %s, t %s, End on last %s", got["home"], got["down2"], got["timemode"], got["end"])
		}
	})
	t.Run("verdict_evidence", func(t *testing.T) {
		got := runSteps(t, []clienttest.BrowserStep{
			{Do: "goto", URL: fmt.Sprintf("%s/s/janus/%d", f.base, f.ice)},
			ready,
			eval("verdict", "document.getElementById('verdict').textContent"),
			{Do: "click", Selector: `#verdict a[data-n="15"]`},
			eval("selected", "document.querySelector('.lrow.sel').id"),
			{Do: "waitFn", JS: "document.querySelector('#detail pre.json') !== null"},
			eval("body", "document.querySelector('#detail pre.json').textContent"),
			shot(t, "session-ice-failed.png"),
		})
		if !strings.Contains(got["verdict"], "ICE failed") || got["selected"] != "m15" || !strings.Contains(got["body"], `"reason": "ICE failed"`) {
			t.Errorf("verdict %q, selected %s, body %q", got["verdict"], got["selected"], got["body"])
		}
	})
	t.Run("ice_failed", func(t *testing.T) {
		// ICE made to fail (one candidate nobody answers), with Janus's own
		// events: the ICE verdict, and its evidence linked to them.
		got := runSteps(t, []clienttest.BrowserStep{
			{Do: "goto", URL: fmt.Sprintf("%s/s/janus/%d", f.base, f.iceEVH)},
			ready,
			eval("rule", "document.querySelector('#verdict .finding .rule').textContent"),
			eval("cause", "document.querySelector('#verdict .finding .cause').textContent"),
			eval("link", "document.querySelector('#verdict .finding .evidence a:last-child').dataset.n"),
			{Do: "click", Selector: "#verdict .finding .evidence a:last-child"},
			eval("selected", "document.querySelector('.lrow.sel').id"),
			eval("label", "document.querySelector('.lrow.sel .lbl').textContent"),
			{Do: "wait", Selector: "#janusview[data-ready]"},
			eval("ice", "document.querySelector('#janusview .jh dd').textContent"),
			eval("pair", "document.querySelectorAll('#janusview .jh dd')[1].textContent"),
			eval("cands", "String(document.querySelectorAll('#janusview table.cands tbody tr').length)"),
			shot(t, "session-ice-failed-evh.png"),
			eval("scrolled", "document.getElementById('janusview').scrollIntoView(), 'yes'"),
			shot(t, "session-ice-failed-janus-view.png"),
			{Do: "click", Selector: "#pngexport"},
			{Do: "wait", Selector: "#pngexport[data-png]"},
			eval("png", "document.getElementById('pngexport').dataset.png"),
			// The offer (message 7 of this capture): the client's SDP beside
			// Janus's own view of it.
			{Do: "click", Selector: "#m7"},
			{Do: "wait", Selector: "#detail .sdppair details.janus"},
			eval("sdppairs", "String(document.querySelectorAll('#detail .sdppair details.janus').length)"),
			shot(t, "session-sdp-beside-janus.png"),
		})
		if got["rule"] != "ice-failed" || !strings.Contains(got["cause"], "no pair was selected") {
			t.Errorf("verdict %s: %s", got["rule"], got["cause"])
		}
		if n, _ := strconv.Atoi(got["sdppairs"]); n < 2 {
			t.Errorf("offer's detail: %q sections of Janus's view beside the wire's, want one per section (session + media)", got["sdppairs"])
		}
		// The PNG export rasterised the server's SVG of the ladder.
		if n, _ := strconv.Atoi(got["png"]); n < 1000 {
			t.Errorf("PNG export: %q bytes", got["png"])
		}
		// Janus's view under the ladder: ICE states ending in failed, no
		// pair, the candidates in a table.
		if !strings.HasSuffix(got["ice"], "failed") || got["pair"] != "no pair selected" || got["cands"] == "0" || got["cands"] == "" {
			t.Errorf("Janus's view: ICE %q, pair %q, %s candidate rows", got["ice"], got["pair"], got["cands"])
		}
		if got["selected"] != "m"+got["link"] || got["label"] != "Janus: failed" {
			t.Errorf("evidence link #%s selected %s (%q), want Janus's ICE failed event", got["link"], got["selected"], got["label"])
		}
	})
	t.Run("sessions", func(t *testing.T) {
		got := runSteps(t, []clienttest.BrowserStep{
			{Do: "goto", URL: f.base + "/"},
			{Do: "wait", Selector: "#rows tr"},
			press("/"),
			eval("focus", "document.activeElement.id"),
			shot(t, "sessions.png"),
		})
		if got["focus"] != "search" {
			t.Errorf("/ focuses %q, want the search box", got["focus"])
		}
	})
}

// helloWriter tells when the live stream has written its first bytes: it
// has subscribed by then.
type helloWriter struct {
	http.ResponseWriter
	once  *sync.Once
	hello chan struct{}
}

func (w helloWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.once.Do(func() { close(w.hello) })
	return n, err
}

func (w helloWriter) Flush() { w.ResponseWriter.(http.Flusher).Flush() }

// TestBrowserLive opens a session page and sends two new events of the
// session through the log: the ladder grows by two rows.
func TestBrowserLive(t *testing.T) {
	clienttest.Require(t)
	a := newStore(t)
	evs := flowEvents(t, "session-timeout")
	a.apply(t, evs[:len(evs)-4])
	session := sessionsOf(evs)[0]
	hello := make(chan struct{})
	s := &webui.Server{DB: a.db, Follow: func(ctx context.Context, yield func(*schema.Event)) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-hello:
		}
		rest := evs[len(evs)-4:]
		a.apply(t, rest)
		for _, ev := range rest {
			yield(ev)
		}
		<-ctx.Done()
		return ctx.Err()
	}}
	startUI(t, s) // runs Follow
	var once sync.Once
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/live" && r.URL.Query().Get("session") != "" {
			w = helloWriter{ResponseWriter: w, once: &once, hello: hello}
		}
		s.Handler().ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	base := "http://" + ln.Addr().String()
	// The ladder grows by the new events that name the session (the
	// WebSocket's close names none).
	want := len(ladderRows(t, base, session))
	for _, ev := range evs[len(evs)-4:] {
		if ev.SessionID() == session {
			want++
		}
	}
	got := runSteps(t, []clienttest.BrowserStep{
		{Do: "goto", URL: fmt.Sprintf("%s/s/janus/%d", base, session)},
		{Do: "wait", Selector: "#ladder[data-ready]"},
		{Do: "waitFn", JS: fmt.Sprintf("document.getElementById('ladder').dataset.rendered === '%d'", want)},
		{Do: "eval", Name: "live", JS: "document.getElementById('live').textContent"},
		{Do: "eval", Name: "last", JS: "document.querySelector('.lrow:last-child .lbl').textContent"},
	})
	if !strings.Contains(got["live"], "live") {
		t.Errorf("live indicator %q", got["live"])
	}
	if got["last"] != "timeout" {
		t.Errorf("last row drawn %q, want the timeout that came live", got["last"])
	}
}

// bigSession returns the events of one WebSocket session of n messages: a
// videoroom publisher that sends messages, trickles and keepalives, each
// answered, as a tap records them.
func bigSession(n int) ([]*schema.Event, uint64) {
	const session, handle = 4242424242424242, 1717171717171717
	start := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	var evs []*schema.Event
	add := func(dir schema.Direction, body string) {
		i := len(evs)
		ev := &schema.Event{V: schema.Version, ID: fmt.Sprintf("01BIG%021d", i), Gateway: "janus", Tap: "tap1", Conn: "tap1-1",
			Seq: uint64(i + 1), Time: start.Add(time.Duration(i) * time.Millisecond), Mono: int64(i+1) * int64(time.Millisecond),
			Transport: schema.WS, Direction: dir, Kind: schema.Frame, Body: []byte(body), BodySize: len(body)}
		j, err := schema.ParseJanus(ev.Body)
		if err != nil {
			panic(err)
		}
		ev.Janus = j
		evs = append(evs, ev)
	}
	ids := fmt.Sprintf(`"session_id":%d,"handle_id":%d`, session, handle)
	add(schema.ToGateway, `{"janus":"create","transaction":"c"}`)
	add(schema.ToClient, fmt.Sprintf(`{"janus":"success","transaction":"c","data":{"id":%d}}`, session))
	add(schema.ToGateway, fmt.Sprintf(`{"janus":"attach","plugin":"janus.plugin.videoroom","opaque_id":"big","transaction":"a","session_id":%d}`, session))
	add(schema.ToClient, fmt.Sprintf(`{"janus":"success","session_id":%d,"transaction":"a","data":{"id":%d}}`, session, handle))
	for i := 0; len(evs) < n; i++ {
		tx := fmt.Sprintf("t%d", i)
		switch i % 3 {
		case 0:
			add(schema.ToGateway, fmt.Sprintf(`{"janus":"message","body":{"request":"configure","bitrate":%d},"transaction":"%s",%s}`, 1000*i, tx, ids))
			add(schema.ToClient, fmt.Sprintf(`{"janus":"ack","session_id":%d,"transaction":"%s"}`, session, tx))
			add(schema.ToClient, fmt.Sprintf(`{"janus":"event","session_id":%d,"transaction":"%s","sender":%d,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","configured":"ok"}}}`, session, tx, handle))
		case 1:
			add(schema.ToGateway, fmt.Sprintf(`{"janus":"trickle","candidate":{"candidate":"candidate:%d 1 udp 2122260223 192.0.2.1 %d typ host","sdpMid":"0","sdpMLineIndex":0},"transaction":"%s",%s}`, i, 50000+i%10000, tx, ids))
			add(schema.ToClient, fmt.Sprintf(`{"janus":"ack","session_id":%d,"transaction":"%s"}`, session, tx))
		case 2:
			add(schema.ToGateway, fmt.Sprintf(`{"janus":"keepalive","session_id":%d,"transaction":"%s"}`, session, tx))
			add(schema.ToClient, fmt.Sprintf(`{"janus":"ack","session_id":%d,"transaction":"%s"}`, session, tx))
		}
	}
	return evs[:n], session
}

// BenchmarkSessionPageBrowser opens the session page of a session of
// 10 000 messages in Chromium, once to warm the server and the browser, then
// again, and reports for the second: ms/ready, from navigation to the ladder
// and verdict drawn; ms/server, from the request for the ladder (/api/s) to
// its first byte (reading the session, its verdict and its ladder);
// ms/browser, the rest: the page, the ladder's download, parse and drawing.
func BenchmarkSessionPageBrowser(b *testing.B) {
	clienttest.Require(b)
	a := newStore(b)
	evs, session := bigSession(10_000)
	a.apply(b, evs)
	base := startUI(b, &webui.Server{DB: a.db})
	url := fmt.Sprintf("%s/s/janus/%d", base, session)
	var ready, server, browser float64
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		res, err := clienttest.RunSteps(ctx, 1400, 900, []clienttest.BrowserStep{
			{Do: "goto", URL: url},
			{Do: "wait", Selector: "#ladder[data-ready]"},
			{Do: "goto", URL: url + "?again"},
			{Do: "wait", Selector: "#ladder[data-ready]"},
			{Do: "eval", Name: "rows", JS: "Number(document.getElementById('ladder').dataset.rendered)"},
			{Do: "eval", Name: "nav", JS: "(() => { const n = performance.getEntriesByType('navigation')[0]; const a = performance.getEntriesByType('resource').find(e => e.name.includes('/api/s/')); " +
				"return {page: n.responseStart, interactive: n.domInteractive, api: a.requestStart, apiFirst: a.responseStart, apiLast: a.responseEnd, ready: Number(document.getElementById('ladder').dataset.readyAt)}; })()"},
			{Do: "eval", Name: "t", JS: "(() => { const a = performance.getEntriesByType('resource').find(e => e.name.includes('/api/s/')); const r = Number(document.getElementById('ladder').dataset.readyAt); " +
				"const srv = a.responseStart - a.requestStart; return [r, srv, r - srv]; })()"},
		})
		cancel()
		if err != nil {
			b.Fatalf("browser: %v\n%s", err, res.Stderr)
		}
		var n float64
		var t [3]float64
		json.Unmarshal(res.Values["rows"], &n)
		json.Unmarshal(res.Values["t"], &t)
		if n != 10_000 {
			b.Fatalf("the ladder has %v rows, want 10000", n)
		}
		if testing.Verbose() {
			b.Logf("navigation: %s", res.Values["nav"])
		}
		ready += t[0]
		server += t[1]
		browser += t[2]
	}
	b.ReportMetric(ready/float64(b.N), "ms/ready")
	b.ReportMetric(server/float64(b.N), "ms/server")
	b.ReportMetric(browser/float64(b.N), "ms/browser")
}
