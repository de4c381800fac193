package webui_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/recorder/webui"
	"github.com/janustap/janustap/schema"
	"github.com/janustap/janustap/schema/golden"
)

// flowEvents reads a capture of recorder/verdict/testdata/flows: real
// traffic through the tap in front of a real Janus.
func flowEvents(t testing.TB, name string) []*schema.Event {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "verdict", "testdata", "flows", name+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []*schema.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		ev, err := schema.Decode(sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// sessionsOf returns the ids of the sessions evs create, in order.
func sessionsOf(evs []*schema.Event) []uint64 {
	var out []uint64
	for _, ev := range evs {
		if j := ev.Janus; j != nil && j.Janus == "success" && j.DataID != 0 && j.SessionID == 0 {
			out = append(out, j.DataID)
		}
	}
	return out
}

// applier applies events to a store in stream order.
type applier struct {
	db  *store.DB
	seq uint64
}

func (a *applier) apply(t testing.TB, evs []*schema.Event) {
	t.Helper()
	items := make([]store.Item, len(evs))
	for i, ev := range evs {
		raw, err := schema.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		a.seq++
		items[i] = store.Item{StreamSeq: a.seq, Event: ev, Raw: raw}
	}
	if err := a.db.Apply(context.Background(), items); err != nil {
		t.Fatal(err)
	}
}

func newStore(t testing.TB) *applier {
	t.Helper()
	db := store.NewDB(filepath.Join(t.TempDir(), "janustap.db"))
	if err := db.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &applier{db: db}
}

// startUI serves the web view of db until the test ends and returns its
// base URL.
func startUI(t testing.TB, s *webui.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("web view: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// fixture is a store holding real captures, served.
type fixture struct {
	base                       string
	publisher, subscriber, ice uint64
	iceEVH                     uint64 // the ICE failure with Janus's own events
	a                          *applier
}

func newFixture(t *testing.T, follow func(context.Context, func(*schema.Event)) error) *fixture {
	t.Helper()
	a := newStore(t)
	vr := flowEvents(t, "videoroom-pub-sub")
	ice := flowEvents(t, "hangup-ice-failed")
	a.apply(t, vr)
	a.apply(t, ice)
	a.apply(t, flowEvents(t, "plugin-error-428"))
	a.apply(t, flowEvents(t, "normal"))
	iceEVH := flowEvents(t, "ice-failed-evh")
	a.apply(t, iceEVH)
	ids := sessionsOf(vr)
	f := &fixture{a: a, publisher: ids[0], subscriber: ids[1], ice: sessionsOf(ice)[0], iceEVH: sessionsOf(iceEVH)[0]}
	f.base = startUI(t, &webui.Server{DB: a.db, Follow: follow})
	return f
}

func TestPages(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		name   string
		path   string
		status int
		want   []string
		not    []string
	}{
		{"sessions", "/", 200, []string{fmt.Sprint(f.publisher), fmt.Sprint(f.subscriber), "videoroom"}, nil},
		{"opaque_id", "/?opaque_id=videoroom-subscriber", 200, []string{fmt.Sprint(f.subscriber)}, []string{fmt.Sprint(f.publisher)}},
		{"room", "/?room=1234", 200, []string{fmt.Sprint(f.publisher), fmt.Sprint(f.subscriber), `name="room" value="1234"`}, []string{fmt.Sprint(f.ice)}},
		{"room_none", "/?room=4321", 200, []string{"0 sessions"}, []string{fmt.Sprint(f.publisher), fmt.Sprint(f.subscriber)}},
		{"display", "/?display=ALI", 200, []string{fmt.Sprint(f.publisher)}, []string{fmt.Sprint(f.subscriber)}},
		{"room_display", "/?room=1234&display=alice", 200, []string{fmt.Sprint(f.publisher)}, []string{fmt.Sprint(f.subscriber)}},
		{"search", "/?q=videoroom-pub", 200, []string{fmt.Sprint(f.publisher)}, []string{fmt.Sprint(f.subscriber)}},
		{"errors", "/?errors=1", 200, []string{fmt.Sprint(f.subscriber)}, []string{fmt.Sprint(sessionsOf(flowEvents(t, "normal"))[0])}},
		{"ice_failed", "/?ice_failed=1", 200, []string{fmt.Sprint(f.iceEVH)}, []string{fmt.Sprint(f.ice), fmt.Sprint(f.publisher)}},
		{"no_webrtcup", "/?no_webrtcup=1", 200, []string{fmt.Sprint(f.iceEVH)}, []string{fmt.Sprint(f.publisher)}},
		{"bad_since", "/?since=yesterday", 200, []string{"since &#34;yesterday&#34;: a duration"}, nil},
		{"session", fmt.Sprintf("/s/janus/%d", f.ice), 200, []string{fmt.Sprint(f.ice), "export.har", "/static/session.js"}, nil},
		{"session_verdict", fmt.Sprintf("/api/s/janus/%d", f.ice), 200, []string{`"summary":"Janus hung up handle`, "ICE failed", `"n":15`}, nil},
		{"session_ok", fmt.Sprintf("/api/s/janus/%d", sessionsOf(flowEvents(t, "normal"))[0]), 200, []string{`"summary":"no problem found"`}, nil},
		{"unknown_session", "/s/janus/12345", 404, nil, nil},
		{"bad_id", "/s/janus/abc", 400, nil, nil},
		{"static", "/static/session.js", 200, []string{"EventSource"}, nil},
		{"partial", "/?partial=1&opaque_id=videoroom-subscriber", 200, []string{`<tbody id="rows">`, fmt.Sprint(f.subscriber)}, []string{"<html"}},
		{"compare_off", fmt.Sprintf("/compare/janus/%d", f.publisher), 404, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := get(t, f.base+tt.path)
			if code != tt.status {
				t.Fatalf("status %d, want %d: %s", code, tt.status, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(body, w) {
					t.Errorf("page has %q", w)
				}
			}
		})
	}
	t.Run("ladder", func(t *testing.T) {
		code, body := get(t, fmt.Sprintf("%s/api/s/janus/%d", f.base, f.publisher))
		if code != 200 {
			t.Fatal(body)
		}
		var l struct {
			Lanes []struct{ Kind, Label string }
			Rows  []struct {
				N, From, To int
				Seq, RQ     uint64
				Label, Fold string
			}
		}
		if err := json.Unmarshal([]byte(body), &l); err != nil {
			t.Fatal(err)
		}
		kinds := map[string]int{}
		for _, ln := range l.Lanes {
			kinds[ln.Kind]++
		}
		if kinds["client"] < 2 || kinds["tap"] != 1 || kinds["janus"] != 1 || kinds["plugin"] != 1 {
			t.Errorf("lanes %+v: want 2 HTTP connections (requests, long-polls), janustap, Janus and the videoroom handle", l.Lanes)
		}
		var offer uint64
		folded := 0
		for _, r := range l.Rows {
			if strings.Contains(r.Label, "jsep offer") {
				offer = r.Seq
			}
			if r.Fold != "" {
				folded++
			}
		}
		if offer == 0 || folded == 0 {
			t.Fatalf("no offer (%d) or nothing folded (%d) in %d rows", offer, folded, len(l.Rows))
		}
		code, body = get(t, fmt.Sprintf("%s/api/event/%d", f.base, offer))
		var ev struct {
			SDP      []struct{ Title string }
			JSEPType string `json:"jsep_type"`
		}
		if err := json.Unmarshal([]byte(body), &ev); err != nil || code != 200 {
			t.Fatalf("event %d: %d %s", offer, code, body)
		}
		if len(ev.SDP) != 3 || ev.JSEPType != "offer" || !strings.HasPrefix(ev.SDP[1].Title, "m=audio") {
			t.Errorf("SDP sections %+v of a %q, want session, audio, video of an offer", ev.SDP, ev.JSEPType)
		}
	})
	t.Run("janus_events", func(t *testing.T) {
		code, body := get(t, fmt.Sprintf("%s/api/s/janus/%d", f.base, f.iceEVH))
		if code != 200 {
			t.Fatal(body)
		}
		var l struct {
			Lanes []struct{ Kind, Label string }
			Rows  []struct {
				From, To  int
				Tr, Label string
			}
			Verdict struct{ Findings []struct{ Rule string } }
		}
		if err := json.Unmarshal([]byte(body), &l); err != nil {
			t.Fatal(err)
		}
		clients, tap := 0, -1
		for i, ln := range l.Lanes {
			if ln.Kind == "client" {
				clients++
			}
			if ln.Kind == "tap" {
				tap = i
			}
		}
		if clients != 1 {
			t.Errorf("%d client lanes, want the one WebSocket (Janus's POSTs are no client)", clients)
		}
		evh := 0
		for _, r := range l.Rows {
			if r.Tr == "evh" {
				evh++
				if r.To != tap || !strings.HasPrefix(r.Label, "Janus: ") {
					t.Errorf("Janus event row %+v: want an arrow to janustap labelled Janus: ...", r)
				}
			}
		}
		if evh == 0 || len(l.Verdict.Findings) == 0 || l.Verdict.Findings[0].Rule != "ice-failed" {
			t.Errorf("%d Janus event rows, findings %+v: want ice-failed first", evh, l.Verdict.Findings)
		}
	})
	t.Run("export", func(t *testing.T) {
		_, ladder := get(t, fmt.Sprintf("%s/api/s/janus/%d", f.base, f.ice))
		rows := strings.Count(ladder, `"seq":`)
		code, body := get(t, fmt.Sprintf("%s/s/janus/%d/export.jsonl", f.base, f.ice))
		if code != 200 || strings.Count(body, "\n") != rows {
			t.Errorf("export.jsonl: %d, %d lines for a ladder of %d messages", code, strings.Count(body, "\n"), rows)
		}
		code, body = get(t, fmt.Sprintf("%s/s/janus/%d/export.har", f.base, f.publisher))
		var h struct{ Log struct{ Entries []any } }
		if err := json.Unmarshal([]byte(body), &h); code != 200 || err != nil || len(h.Log.Entries) == 0 {
			t.Errorf("export.har: %d %v, %d entries", code, err, len(h.Log.Entries))
		}
	})
}

// TestOffline checks that no page or asset loads anything from another
// origin.
func TestOffline(t *testing.T) {
	err := fs.WalkDir(os.DirFS("."), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasPrefix(path, "static/") || strings.HasPrefix(path, "templates/")) {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, bad := range []string{"http://", "https://", "//cdn", "@import"} {
			if i := bytes.Index(b, []byte(bad)); i >= 0 && !bytes.Contains(b[i:min(len(b), i+40)], []byte("www.w3.org/2000/svg")) {
				t.Errorf("%s refers to another origin: %q", path, b[i:min(len(b), i+40)])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLive(t *testing.T) {
	events := make(chan *schema.Event)
	f := newFixture(t, func(ctx context.Context, yield func(*schema.Event)) error {
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case ev := <-events:
				yield(ev)
			}
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/live?gateway=janus&session=%d", f.base, f.publisher), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	r := bufio.NewReader(resp.Body)
	next := func() (event, data string) {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("read event stream: %v", err)
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "event: "):
				event = line[7:]
			case strings.HasPrefix(line, "data: "):
				data = line[6:]
			case line == "" && event != "":
				return event, data
			}
		}
	}
	if ev, data := next(); ev != "hello" || data != `{"live":true}` {
		t.Fatalf("first event %s %s, want hello live", ev, data)
	}
	// The stream was subscribed before hello was written: an event of
	// another session is not sent, one of this session is.
	events <- &schema.Event{ID: "01OTHER", Gateway: "janus", Janus: &schema.Janus{Janus: "keepalive", SessionID: f.subscriber}}
	events <- &schema.Event{ID: "01MINE", Gateway: "janus", Janus: &schema.Janus{Janus: "keepalive", SessionID: f.publisher}}
	ev, data := next()
	if ev != "event" || !strings.Contains(data, `"id":"01MINE"`) {
		t.Errorf("got %s %s, want the publisher's keepalive", ev, data)
	}
}

// TestJanusView: the session page's Janus panel reads Janus's own account
// of a session whose ICE failed (captured with sampleevh posting beside
// the tap): the handle's ICE states end in failed, no pair was selected,
// the candidates are listed; a session without Janus's events has none.
func TestJanusView(t *testing.T) {
	f := newFixture(t, nil)
	read := func(id uint64) (v struct {
		Handles []struct {
			ID           uint64   `json:"id"`
			ICEStates    []string `json:"ice_states"`
			SelectedPair string   `json:"selected_pair"`
			LocalCands   int      `json:"local_candidates"`
			RemoteCands  int      `json:"remote_candidates"`
		} `json:"handles"`
		Candidates []struct {
			HandleID uint64 `json:"handle_id"`
			Side     string `json:"side"`
			Address  string `json:"address"`
		} `json:"candidates"`
		Stats []json.RawMessage `json:"stats"`
	}) {
		t.Helper()
		code, body := get(t, fmt.Sprintf("%s/api/s/janus/%d/janus", f.base, id))
		if code != http.StatusOK {
			t.Fatalf("janus view of %d: %d %s", id, code, body)
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("janus view of %d: %v in %s", id, err, body)
		}
		return v
	}
	v := read(f.iceEVH)
	if len(v.Handles) != 1 {
		t.Fatalf("%d handles in Janus's view, want 1: %+v", len(v.Handles), v)
	}
	h := v.Handles[0]
	if len(h.ICEStates) == 0 || h.ICEStates[len(h.ICEStates)-1] != "failed" || h.SelectedPair != "" {
		t.Errorf("handle %d: ICE %v, pair %q; want ICE ending in failed and no pair", h.ID, h.ICEStates, h.SelectedPair)
	}
	if len(v.Candidates) != h.LocalCands+h.RemoteCands || len(v.Candidates) == 0 {
		t.Errorf("%d candidates listed, the handle counts %d local and %d remote", len(v.Candidates), h.LocalCands, h.RemoteCands)
	}
	for _, c := range v.Candidates {
		if c.HandleID != h.ID || (c.Side != "local" && c.Side != "remote") || c.Address == "" {
			t.Errorf("candidate %+v", c)
		}
	}
	if v := read(f.publisher); len(v.Handles) != 0 || len(v.Candidates) != 0 || len(v.Stats) != 0 {
		t.Errorf("a session without Janus's events has a Janus view: %+v", v)
	}
}

// TestLadderSVG draws captured sessions as SVG: a well-formed document
// with a lane head per lane and an arrow per message not folded, the same
// bytes as the golden file (go test -run TestLadderSVG -update writes it).
func TestLadderSVG(t *testing.T) {
	f := newFixture(t, nil)
	for _, tt := range []struct {
		name string
		id   uint64
	}{{"videoroom-publisher", f.publisher}, {"ice-failed-evh", f.iceEVH}} {
		t.Run(tt.name, func(t *testing.T) {
			code, body := get(t, fmt.Sprintf("%s/s/janus/%d/ladder.svg", f.base, tt.id))
			if code != http.StatusOK {
				t.Fatalf("ladder.svg: %d %s", code, body)
			}
			d := xml.NewDecoder(strings.NewReader(body))
			lines, markers := 0, 0
			for {
				tok, err := d.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("ladder.svg is not well-formed XML: %v", err)
				}
				if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "line" {
					lines++
					for _, a := range se.Attr {
						if a.Name.Local == "marker-end" {
							markers++
						}
					}
				}
			}
			rows := ladderRows(t, f.base, tt.id)
			want := 0
			for _, r := range rows {
				if r.Fold == "" {
					want++
				}
			}
			if markers != want || markers == 0 {
				t.Errorf("%d arrows drawn, want %d (the messages not folded)", markers, want)
			}
			golden.Check(t, "ladder-"+tt.name+".svg", []byte(body))
		})
	}
}

// TestJanusSDPBeside: the detail of a message carrying an SDP has Janus's
// own view of it beside, when Janus's event handler reported it: what it
// received for the client's offer, what it sent for its answer.
func TestJanusSDPBeside(t *testing.T) {
	f := newFixture(t, nil)
	type detail struct {
		dir, label, owner   string
		wire, janusSections int
	}
	jsepDetails := func(id uint64) []detail {
		t.Helper()
		code, body := get(t, fmt.Sprintf("%s/api/s/janus/%d", f.base, id))
		if code != http.StatusOK {
			t.Fatalf("ladder: %d %s", code, body)
		}
		var l struct {
			Rows []struct {
				Seq   uint64 `json:"seq"`
				Dir   string `json:"dir"`
				Label string `json:"label"`
			} `json:"rows"`
		}
		if err := json.Unmarshal([]byte(body), &l); err != nil {
			t.Fatal(err)
		}
		var out []detail
		for _, r := range l.Rows {
			if !strings.Contains(r.Label, "jsep") {
				continue
			}
			code, body := get(t, fmt.Sprintf("%s/api/event/%d", f.base, r.Seq))
			if code != http.StatusOK {
				t.Fatalf("event %d: %d %s", r.Seq, code, body)
			}
			var ev struct {
				SDP      []json.RawMessage `json:"sdp"`
				JanusSDP []json.RawMessage `json:"janus_sdp"`
				Owner    string            `json:"janus_sdp_owner"`
			}
			if err := json.Unmarshal([]byte(body), &ev); err != nil {
				t.Fatal(err)
			}
			out = append(out, detail{r.Dir, r.Label, ev.Owner, len(ev.SDP), len(ev.JanusSDP)})
		}
		return out
	}
	seen := map[string]bool{}
	for _, d := range jsepDetails(f.iceEVH) {
		want := map[string]string{"c2g": "remote", "g2c": "local"}[d.dir]
		if d.wire == 0 || d.janusSections == 0 || d.owner != want {
			t.Errorf("%s (%s): %d sections on the wire, %d of Janus's %q SDP; want both, Janus's %s", d.label, d.dir, d.wire, d.janusSections, d.owner, want)
		}
		seen[d.dir] = true
	}
	if !seen["c2g"] || !seen["g2c"] {
		t.Errorf("jsep messages seen by direction: %v; want an offer and an answer", seen)
	}
	// Without Janus's events (the videoroom capture had none), the SDP
	// alone.
	ds := jsepDetails(f.publisher)
	if len(ds) == 0 {
		t.Fatal("no jsep message in the videoroom publisher's session")
	}
	for _, d := range ds {
		if d.wire == 0 || d.janusSections != 0 || d.owner != "" {
			t.Errorf("%s: %d sections, Janus's %q with %d; want the wire's alone", d.label, d.wire, d.owner, d.janusSections)
		}
	}
}
