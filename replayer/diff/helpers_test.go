package diff_test

import (
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/schema"
)

// script builds the events of one run from a script, one message a line:
//
//	> {json}                   client → gateway, a WebSocket frame
//	< {json}                   gateway → client, a WebSocket frame
//	< @file.json               gateway → client, a frame read from testdata/janus
//	> POST /janus/{S} {json}   an HTTP request with a body
//	> GET /janus/info          an HTTP request without body
//	> GET /janus/{S}?maxev=1   a long poll
//	< 200 {json}               the answer to the last HTTP request that is not a long poll
//	< poll {json}              a message answering the last long poll
//
// A message may end with " | old => new" replacements. {NAME} is replaced by
// vars[NAME] everywhere, in files too, before the script is split in lines
// (so a variable can hold several messages); lines starting with # are
// comments.
func script(t testing.TB, text string, vars map[string]string) []*schema.Event {
	t.Helper()
	var pairs []string
	for k, v := range vars {
		pairs = append(pairs, "{"+k+"}", v)
	}
	subst := strings.NewReplacer(pairs...)
	// Again, for variables whose values name variables.
	for range 4 {
		text = subst.Replace(text)
	}
	base := time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC)
	var evs []*schema.Event
	var lastReq, lastPoll *schema.Event
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		dir, rest, _ := strings.Cut(line, " ")
		ev := &schema.Event{
			V: schema.Version, ID: "e" + strconv.Itoa(len(evs)+1), Gateway: "local", Conn: "ws-1",
			Seq: uint64(len(evs) + 1), Time: base.Add(time.Duration(len(evs)) * 10 * time.Millisecond),
			Mono: int64(len(evs)) * 10_000_000, Transport: schema.WS, Kind: schema.Frame,
		}
		switch dir {
		case ">":
			ev.Direction = schema.ToGateway
		case "<":
			ev.Direction = schema.ToClient
		default:
			t.Fatalf("script line %d: %q: want > or <", n+1, line)
		}
		switch word, after, _ := strings.Cut(rest, " "); {
		case word == "POST" || word == "GET":
			path, body, _ := strings.Cut(after, " ")
			path, query, _ := strings.Cut(path, "?")
			ev.Transport, ev.Kind, ev.Method, ev.Path, ev.Query = schema.HTTP, schema.Request, word, path, query
			ev.Conn = "h-" + strconv.Itoa(len(evs)+1)
			rest = body
			if _, s, _ := schema.ParsePath(path); word == "GET" && s != 0 {
				lastPoll = ev
			} else {
				lastReq = ev
			}
		case word == "poll" || isStatus(word):
			parent := lastReq
			ev.Kind = schema.Response
			if word == "poll" {
				parent, ev.Kind, word = lastPoll, schema.PollEvent, "200"
			}
			if parent == nil {
				t.Fatalf("script line %d: %q answers no request", n+1, line)
			}
			ev.Transport, ev.Conn, ev.Parent = schema.HTTP, parent.Conn, parent.ID
			ev.Method, ev.Path, ev.Query = parent.Method, parent.Path, parent.Query
			ev.Status, _ = strconv.Atoi(word)
			rest = after
		}
		body, edits, _ := strings.Cut(rest, " | ")
		if file, ok := strings.CutPrefix(body, "@"); ok {
			b, err := os.ReadFile(filepath.Join("testdata", "janus", file))
			if err != nil {
				t.Fatal(err)
			}
			body = subst.Replace(string(b))
		}
		if edits != "" {
			for e := range strings.SplitSeq(edits, " | ") {
				old, new, ok := strings.Cut(e, " =>")
				new = strings.TrimPrefix(new, " ")
				if !ok || !strings.Contains(body, old) {
					t.Fatalf("script line %d: edit %q does not apply", n+1, e)
				}
				body = strings.Replace(body, old, new, 1)
			}
		}
		if body != "" {
			ev.Body, ev.BodySize = []byte(body), len(body)
			if j, err := schema.ParseJanus(ev.Body); err == nil {
				ev.Janus = j
			} else {
				ev.ParseError = err.Error()
			}
		}
		evs = append(evs, ev)
	}
	return evs
}

func isStatus(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 100 && n < 600
}

// with returns vars with some values replaced.
func with(vars map[string]string, kv ...string) map[string]string {
	out := maps.Clone(vars)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}
