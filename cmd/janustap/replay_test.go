package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/janustap/janustap/recorder/bus/bustest"
	"github.com/janustap/janustap/replayer"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/schema"
)

// TestTail imports a real capture into a log and follows it as a person
// would: every event once as a line or as its JSON, and filtered.
func TestTail(t *testing.T) {
	c := captureEcho(t)
	srv := bustest.Start(t)
	capFile := filepath.Join(t.TempDir(), "capture.jsonl")
	if err := os.WriteFile(capFile, encodeAll(t, c.events), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "import", "--nats", srv.ClientURL(), capFile)

	out := mustRun(t, "tail", "--nats", srv.ClientURL(), "--from-start", "--no-follow", "--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(c.events) {
		t.Fatalf("tail --json printed %d lines, the log holds %d events", len(lines), len(c.events))
	}
	for i, line := range lines {
		ev, err := schema.Decode([]byte(line))
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if ev.ID != c.events[i].ID {
			t.Fatalf("line %d is event %s, want %s (log order)", i+1, ev.ID, c.events[i].ID)
		}
	}

	out = mustRun(t, "tail", "--nats", srv.ClientURL(), "--from-start", "--no-follow", "--session", strconv.FormatUint(c.wsSession, 10))
	n := 0
	for _, ev := range c.events {
		if ev.SessionID() == c.wsSession {
			n++
		}
	}
	got := strings.Split(strings.TrimSpace(out), "\n")
	if len(got) != n || n == 0 {
		t.Fatalf("tail --session printed %d lines, the session has %d events:\n%s", len(got), n, out)
	}
	for _, line := range got {
		if !strings.Contains(line, "s="+strconv.FormatUint(c.wsSession, 10)) || !strings.Contains(line, " gw ws ") {
			t.Errorf("line of another session or transport: %s", line)
		}
	}
	if out := mustRun(t, "tail", "--nats", srv.ClientURL(), "--no-follow"); out != "" {
		t.Errorf("tail --no-follow without --from-start printed old events:\n%s", out)
	}
}

// TestReplayAndDiffCommands replays a session from the SQLite projection on
// a second Janus (exit 0), on one without echotest (exit 1, errDiffers, and a
// JSON report naming the divergence), and compares two exported flows.
func TestReplayAndDiffCommands(t *testing.T) {
	c := captureEcho(t)
	other := janustest.Start(t, janustest.Options{})
	session := strconv.FormatUint(c.wsSession, 10)
	out := mustRun(t, "replay", "--from-db", c.db, "--session", session, "--target-ws", other.WS, "--target", other.HTTP)
	if !strings.HasPrefix(out, "runs match") {
		t.Fatalf("replay on another Janus:\n%s", out)
	}

	noEcho := janustest.Start(t, janustest.Options{DisablePlugins: []string{"libjanus_echotest.so"}})
	out, _, err := runCmd(t, "replay", "--from-db", c.db, "--session", session, "--target-ws", noEcho.WS, "--json", "--wait", "500ms")
	if !errors.Is(err, errDiffers) {
		t.Fatalf("replay on a Janus without echotest: err %v, want errDiffers\n%s", err, out)
	}
	var rep struct {
		Same bool `json:"same"`
		Runs []struct {
			Report struct {
				FirstDivergence struct {
					Janus string `json:"janus"`
					Path  string `json:"path"`
				} `json:"first_divergence"`
			} `json:"report"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("replay --json: %v\n%s", err, out)
	}
	if rep.Same || len(rep.Runs) != 1 || rep.Runs[0].Report.FirstDivergence.Janus != "success" {
		t.Fatalf("report %+v: want the attach's success to diverge", rep)
	}

	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	mustRun(t, "export", "--db", c.db, "--session", session, "-o", a)
	mustRun(t, "export", "--db", c.db, "--session", strconv.FormatUint(c.httpSession, 10), "-o", b)
	if out := mustRun(t, "diff", a, a); !strings.HasPrefix(out, "runs match") {
		t.Fatalf("diff of a flow with itself:\n%s", out)
	}
	// The same flow over WebSocket and over REST: only transport details
	// may differ, and the long-poll is not compared.
	out, _, err = runCmd(t, "diff", a, b)
	if err != nil && !errors.Is(err, errDiffers) {
		t.Fatalf("diff: %v", err)
	}
	if !strings.Contains(out, "matched") && !strings.HasPrefix(out, "runs match") {
		t.Fatalf("diff output:\n%s", out)
	}
}

// adminSessions lists the sessions a Janus holds, through its admin API.
func adminSessions(t *testing.T, j *janustest.Janus) []any {
	t.Helper()
	body := `{"janus":"list_sessions","transaction":"ls","admin_secret":"` + j.AdminSecret + `"}`
	resp, err := http.Post(j.AdminHTTP, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Janus    string `json:"janus"`
		Sessions []any  `json:"sessions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Janus != "success" {
		t.Fatalf("list_sessions: %v %+v", err, out)
	}
	return out.Sessions
}

// TestReplayTargets replays with target flags right and wrong: a ws:// URL
// given to --target means the WebSocket API, and a transport with no target
// or a target Janus does not answer on is refused before anything is sent
// (a usage error, exit 2, one line naming the flag), never reported as a
// difference.
func TestReplayTargets(t *testing.T) {
	c := captureEcho(t)
	other := janustest.Start(t, janustest.Options{})
	ws, rest := strconv.FormatUint(c.wsSession, 10), strconv.FormatUint(c.httpSession, 10)
	port, err := janustest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	closed := "127.0.0.1:" + strconv.Itoa(port)
	httpHost := strings.TrimPrefix(strings.TrimSuffix(other.HTTP, "/janus"), "http://")
	cases := []struct {
		name string
		args []string
		flag string // "" when the replay must run and match
	}{
		{"ws_url_as_target", []string{"--session", ws, "--target", other.WS}, ""},
		{"ws_url_as_target_rest_capture", []string{"--session", rest, "--target", other.WS, "--transport", "ws"}, ""},
		{"http_url_as_target_ws", []string{"--session", ws, "--target-ws", other.HTTP, "--transport", "http"}, ""},
		{"no_ws_target", []string{"--session", ws, "--target", other.HTTP}, "--target-ws"},
		{"no_ws_target_forced", []string{"--session", rest, "--target", other.HTTP, "--transport", "ws"}, "--target-ws"},
		{"no_http_target", []string{"--session", rest, "--target", other.WS}, "--target"},
		{"http_target_down", []string{"--session", rest, "--target", "http://" + closed + "/janus"}, "--target"},
		{"ws_target_down", []string{"--session", ws, "--target", "ws://" + closed}, "--target-ws"},
		{"ws_target_not_janus_ws", []string{"--session", ws, "--target", "ws://" + httpHost}, "--target-ws"},
		{"http_target_not_janus", []string{"--session", rest, "--target", "http://" + httpHost + "/nothing-here"}, "--target"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"replay", "--from-db", c.db, "--wait", "2s"}, tc.args...)
			out, errOut, err := runCmd(t, args...)
			if tc.flag == "" {
				if err != nil || !strings.HasPrefix(out, "runs match") {
					t.Fatalf("replay: %v\n%s%s", err, out, errOut)
				}
				return
			}
			var ue *replayer.UsageError
			if !errors.As(err, &ue) || errors.Is(err, errDiffers) {
				t.Fatalf("err %v (%T), want a usage error\n%s", err, err, out)
			}
			if ue.Flag != tc.flag || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "pass "+tc.flag) {
				t.Errorf("usage error %q for flag %q, want one line saying to pass %s", err, ue.Flag, tc.flag)
			}
			if out != "" {
				t.Errorf("a refused replay printed a report:\n%s", out)
			}
			if s := adminSessions(t, other); len(s) != 0 {
				t.Errorf("a refused replay left sessions %v on the target", s)
			}
		})
	}
}
