package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/replayer"
	"github.com/janustap/janustap/schema"
	"github.com/janustap/janustap/schema/golden"
	"github.com/janustap/janustap/schema/har"
)

// encodeAll returns the JSON Lines of evs.
func encodeAll(t *testing.T, evs []*schema.Event) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, ev := range evs {
		b, err := schema.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func ids(evs []*schema.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

func TestExportCapture(t *testing.T) {
	c := captureEcho(t)
	db := c.db

	t.Run("jsonl-all", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "all.jsonl")
		_, errw, err := runCmd(t, "export", "--db", db, "--keep-host-details", "-o", file)
		if err != nil {
			t.Fatal(err)
		}
		if want := "export: " + strconv.Itoa(len(c.events)) + " events in "; !strings.HasPrefix(errw, want) {
			t.Errorf("stderr = %q, want the summary %q...", errw, want)
		}
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if want := encodeAll(t, c.events); !bytes.Equal(got, want) {
			t.Errorf("export is not the captured events, byte for byte:\n%s", golden.Diff(want, got))
		}
		evs, err := replayer.ReadJSONL(bytes.NewReader(got))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(evs), ids(c.events)) {
			t.Errorf("replayer reads %d events back, want the %d captured", len(evs), len(c.events))
		}
		if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("export file mode = %v (%v), want 0600", fi.Mode(), err)
		}
	})

	t.Run("jsonl-redacted", func(t *testing.T) {
		out, _, err := runCmd(t, "export", "--db", db)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := replayer.ReadJSONL(strings.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != len(c.events) {
			t.Fatalf("%d events exported, want %d", len(evs), len(c.events))
		}
		var infos int
		for i, ev := range evs {
			if ev.Janus != nil && ev.Janus.Janus == "server_info" {
				infos++
				body := string(ev.Body)
				if strings.Contains(body, c.janus.Dir) || !strings.Contains(body, `"log-path": "REDACTED"`) ||
					!strings.Contains(body, `"local-ip": "REDACTED"`) || !ev.Redacted || ev.Labels["redacted"] != "host-details" {
					t.Errorf("server_info keeps host details or is not marked:\n%s\nlabels %v", body, ev.Labels)
				}
				if len(ev.Body) == len(c.events[i].Body) {
					t.Errorf("server_info body unchanged in length")
				}
				continue
			}
			want, _ := schema.Encode(c.events[i])
			if got, _ := schema.Encode(ev); !bytes.Equal(got, want) {
				t.Errorf("event %s changed:\n got %s\nwant %s", ev.ID, got, want)
			}
		}
		if infos != 1 {
			t.Errorf("%d server_info answers exported, want 1", infos)
		}
	})

	for name, id := range map[string]uint64{"http": c.httpSession, "ws": c.wsSession} {
		t.Run("session-"+name, func(t *testing.T) {
			out := mustRun(t, "export", "--db", db, "--session", strconv.FormatUint(id, 10))
			evs, err := replayer.ReadJSONL(strings.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			// What the replayer picks for the session from the whole
			// capture: its events, its create, its WebSocket's open and close.
			want := replayer.Select(c.events, replayer.Selection{Sessions: []uint64{id}})
			if got := ids(evs); !slices.Equal(got, ids(want)) {
				t.Errorf("export --session %d: %d events\n%v\nwant %d\n%v", id, len(got), got, len(want), ids(want))
			}
		})
	}

	t.Run("time-range", func(t *testing.T) {
		after := c.events[len(c.events)-1].Time.Add(time.Second).Format(time.RFC3339)
		out := mustRun(t, "export", "--db", db, "--keep-host-details", "--from", after)
		if out != "" {
			t.Errorf("export --from after the capture: %d bytes, want none", len(out))
		}
		out = mustRun(t, "export", "--db", db, "--keep-host-details", "--gateway", "gw", "--to", after)
		if want := encodeAll(t, c.events); out != string(want) {
			t.Errorf("export --to after the capture is not everything")
		}
	})

	t.Run("har", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "capture.har")
		mustRun(t, "export", "--db", db, "--format", "har", "-o", file)
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var doc har.HAR
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("HAR is not JSON: %v", err)
		}
		if doc.Log.Version != "1.2" || doc.Log.Creator.Name != "janustap" {
			t.Errorf("log = %+v", doc.Log)
		}
		// One entry per HTTP request, one per WebSocket with its messages.
		requests := map[string]bool{}
		messages := map[string]int{}
		for _, ev := range c.events {
			switch {
			case ev.Kind == schema.Request:
				requests[ev.ID] = true
			case ev.Kind == schema.Open:
				messages[ev.Conn] += 0
			case ev.Kind == schema.Frame && ev.Part == 0:
				messages[ev.Conn]++
			}
		}
		var http, ws int
		for _, e := range doc.Log.Entries {
			if _, err := time.Parse(time.RFC3339, e.StartedDateTime); err != nil {
				t.Errorf("startedDateTime: %v", err)
			}
			switch e.ResourceType {
			case "xhr":
				http++
				if !requests[e.Janustap.Events[0]] {
					t.Errorf("HTTP entry from %s, not from a request", e.Janustap.Events[0])
				}
				if e.Response.Status == 0 && e.Response.Error == "" {
					t.Errorf("HTTP entry %s %s has no response and no error", e.Request.Method, e.Request.URL)
				}
			case "websocket":
				ws++
				if got, want := len(e.WebSocketMessages), messages[e.Connection]; got != want {
					t.Errorf("WebSocket %s: %d messages, want %d", e.Connection, got, want)
				}
				if e.Response.Status != 101 {
					t.Errorf("WebSocket %s: status %d, want 101", e.Connection, e.Response.Status)
				}
			default:
				t.Errorf("entry of type %q", e.ResourceType)
			}
			if strings.Contains(e.Response.Content.Text, c.janus.Dir) {
				t.Errorf("HAR keeps the log path in %s", e.Request.URL)
			}
		}
		if http != len(requests) || ws != len(messages) {
			t.Errorf("%d HTTP and %d WebSocket entries, want %d and %d", http, ws, len(requests), len(messages))
		}
	})

	t.Run("unknown-session", func(t *testing.T) {
		if _, _, err := runCmd(t, "export", "--db", db, "--session", "42"); err == nil || !strings.Contains(err.Error(), "session 42") {
			t.Errorf("export --session 42: %v", err)
		}
	})
}

// TestExportSessions checks a session's export on the synthetic capture,
// whose WebSocket session has an open and a close.
func TestExportSessions(t *testing.T) {
	evs := synthEvents()
	db := projectEvents(t, evs)
	out, _, err := runCmd(t, "export", "--db", db, "--session", strconv.Itoa(synthWS), "--session", strconv.Itoa(synthHTTP))
	if err == nil || !strings.Contains(err.Error(), "pass --gateway") {
		t.Errorf("export of a session id two gateways hold: %v", err)
	}
	out = mustRun(t, "export", "--db", db, "--gateway", "gw-a", "--session", strconv.Itoa(synthWS), "--session", strconv.Itoa(synthHTTP))
	got, err := replayer.ReadJSONL(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	want := replayer.Select(evs, replayer.Selection{Gateway: "gw-a", Sessions: []uint64{synthWS, synthHTTP}})
	if !slices.Equal(ids(got), ids(want)) {
		t.Errorf("export of both sessions:\n%v\nwant\n%v", ids(got), ids(want))
	}
	if got[len(got)-1].Kind != schema.Close {
		t.Errorf("the WebSocket's close is not exported")
	}
}

func TestProgress(t *testing.T) {
	t.Run("not-a-terminal", func(t *testing.T) {
		var buf bytes.Buffer
		p := newProgress(&buf, "export", 10)
		now := p.start
		p.now = func() time.Time { return now }
		for range 10 {
			now = now.Add(100 * time.Millisecond)
			p.Add(1)
		}
		if buf.Len() != 0 {
			t.Errorf("drew %q on a writer that is no terminal", buf.String())
		}
		if got, want := p.Done(), "export: 10 events in 1s (10/s)"; got != want {
			t.Errorf("summary = %q, want %q", got, want)
		}
	})
	t.Run("terminal", func(t *testing.T) {
		var buf bytes.Buffer
		now := synthStart
		p := &progress{w: &buf, what: "import", total: 100, tty: true, now: func() time.Time { return now }, start: now}
		step := func(d time.Duration, n int64) { now = now.Add(d); p.Add(n) }
		step(100*time.Millisecond, 10) // too soon after the start
		step(100*time.Millisecond, 10) // drawn
		step(100*time.Millisecond, 10) // too soon after the last line
		step(200*time.Millisecond, 20) // drawn
		want := "\rimport: 20 of 100 events (20%), 100/s, ETA 1s" +
			"\rimport: 50 of 100 events (50%), 100/s, ETA 1s"
		if got := buf.String(); got != want {
			t.Errorf("drew %q, want %q", got, want)
		}
		buf.Reset()
		if got, want := p.Done(), "import: 50 events in 500ms (100/s)"; got != want {
			t.Errorf("summary = %q, want %q", got, want)
		}
		if got, want := buf.String(), "\r"+strings.Repeat(" ", len("import: 50 of 100 events (50%), 100/s, ETA 1s"))+"\r"; got != want {
			t.Errorf("Done wrote %q, want the line cleared", got)
		}
	})
	t.Run("unknown-total", func(t *testing.T) {
		var buf bytes.Buffer
		now := synthStart
		p := &progress{w: &buf, what: "import", tty: true, now: func() time.Time { return now }, start: now}
		now = now.Add(time.Second)
		p.Add(7)
		if got, want := buf.String(), "\rimport: 7 events, 7/s"; got != want {
			t.Errorf("drew %q, want %q", got, want)
		}
	})
}
