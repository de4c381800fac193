package replayer_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/tap/taptest"
	"github.com/janustap/janustap/replayer"
	"github.com/janustap/janustap/replayer/diff"
	"github.com/janustap/janustap/replayer/drive"
	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/replayer/media"
	"github.com/janustap/janustap/schema"
)

var capture = flag.Bool("capture", false, "capture the flows of testdata/flows again from a real Janus")

// twoPublishers is the janode case of issue 18 without media: one session,
// two videoroom handles join a room with notify_joining as publishers, list
// the participants, and one leaves: the other gets "leaving" with its id.
func twoPublishers(ctx context.Context, s *janus.Session) error {
	room := 100000 + rand.IntN(1<<30)
	var hs [2]uint64
	for i := range hs {
		h, err := s.Attach(ctx, janus.VideoRoom, nil)
		if err != nil {
			return err
		}
		hs[i] = h
	}
	if j, r, err := s.Message(ctx, hs[0], map[string]any{"request": "create", "room": room, "notify_joining": true, "publishers": 6}, nil); err != nil || j == nil || j.PluginValue != "created" {
		return fmt.Errorf("create room: %v %s", err, r.Body)
	}
	for i, name := range []string{"alice", "bob"} {
		j, _, err := s.Message(ctx, hs[i], map[string]any{"request": "join", "ptype": "publisher", "room": room, "display": name}, nil)
		if err != nil {
			return err
		}
		if _, _, err := s.WaitEvent(ctx, janus.ForTx(j.Transaction)); err != nil {
			return err
		}
	}
	// alice hears of bob joining.
	if _, _, err := s.WaitEvent(ctx, func(j *schema.Janus) bool { return j.Sender == hs[0] && j.Transaction == "" }); err != nil {
		return err
	}
	if _, r, err := s.Message(ctx, hs[0], map[string]any{"request": "listparticipants", "room": room}, nil); err != nil || !bytes.Contains(r.Body, []byte("bob")) {
		return fmt.Errorf("listparticipants: %v %s", err, r.Body)
	}
	j, _, err := s.Message(ctx, hs[1], map[string]any{"request": "leave"}, nil)
	if err != nil {
		return err
	}
	if _, _, err := s.WaitEvent(ctx, janus.ForTx(j.Transaction)); err != nil {
		return err
	}
	if _, _, err := s.WaitEvent(ctx, func(j *schema.Janus) bool { return j.Sender == hs[0] && j.Transaction == "" }); err != nil {
		return fmt.Errorf("leaving: %w", err)
	}
	if _, _, err := s.Message(ctx, hs[0], map[string]any{"request": "destroy", "room": room}, nil); err != nil {
		return err
	}
	for _, h := range hs {
		if _, _, err := s.Request(ctx, "detach", h, nil); err != nil {
			return err
		}
	}
	return nil
}

// capturedFlows are the flows kept in testdata/flows, each made by a
// scripted client through the tap in front of a real Janus.
var capturedFlows = []struct {
	file      string
	transport string
	run       taptest.Flow
}{
	{"videoroom_two_publishers_http.jsonl", "http", twoPublishers},
	{"videoroom_two_publishers_ws.jsonl", "ws", twoPublishers},
	{"echotest_media_ws.jsonl", "ws", echoWithMedia},
	{"videoroom_media_http.jsonl", "http", videoRoomWithMedia},
}

// TestCaptureFlows writes testdata/flows again with -capture.
func TestCaptureFlows(t *testing.T) {
	if !*capture {
		t.Skip("run with -capture to capture testdata/flows again")
	}
	j := janustest.Start(t, janustest.Options{})
	tp := taptest.New(t, j, "capture")
	for _, f := range capturedFlows {
		_, evs := taptest.Run(t, tp, f.transport, f.run)
		var buf bytes.Buffer
		for _, ev := range evs {
			b, err := schema.Encode(ev)
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(b)
			buf.WriteByte('\n')
		}
		if err := os.WriteFile(filepath.Join("testdata", "flows", f.file), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readFlow(t *testing.T, file string) []*schema.Event {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "flows", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	evs, err := replayer.ReadJSONL(f)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestReplayCapturedFlows replays the flows of testdata/flows on a new
// Janus, as captured and over each transport: no difference. The ids Janus
// hands out (publisher ids in joined, joining, leaving, participants) are
// learned and rewritten, and the participants list compares as a set.
func TestReplayCapturedFlows(t *testing.T) {
	b := janustest.Start(t, janustest.Options{})
	for _, f := range capturedFlows {
		evs := readFlow(t, f.file)
		for _, to := range []schema.Transport{"", schema.HTTP, schema.WS} {
			t.Run(f.file+"_over_"+string(cmp.Or(to, "captured")), func(t *testing.T) {
				opts := replayer.Options{
					Options: drive.Options{Target: drive.Target{HTTP: b.HTTP, WS: b.WS}, Transport: to, Wait: 3 * time.Second},
				}
				if replayer.HasMedia(evs) {
					opts.Media = &media.Options{}
				}
				res, err := replayer.Replay(t.Context(), evs, opts)
				if err != nil {
					t.Fatal(err)
				}
				run := res.Runs[0]
				if !res.Same() || len(run.Waits) > 0 {
					var buf bytes.Buffer
					diff.WriteText(&buf, res.Reports[0])
					t.Fatalf("waits %q errors %q\n%s", run.Waits, run.Errors, buf.String())
				}
			})
		}
	}
}

// idKeys are where the captured flows hold ids Janus minted.
var idKeys = map[string]bool{"session_id": true, "handle_id": true, "sender": true, "id": true, "private_id": true,
	"feed": true, "feed_id": true, "leaving": true, "unpublished": true, "publisher_id": true}

// collectIDs adds the ids minted by Janus in v to ids.
func collectIDs(key string, v any, ids map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			collectIDs(k, x, ids)
		}
	case []any:
		for _, x := range v {
			collectIDs(key, x, ids)
		}
	case json.Number:
		if idKeys[key] && len(v) >= 4 {
			ids[string(v)] = true
		}
	}
}

// reverseLists reverses the arrays at the given keys.
func reverseLists(key string, v any, keys map[string]bool) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = reverseLists(k, x, keys)
		}
	case []any:
		for i, x := range v {
			v[i] = reverseLists(key, x, keys)
		}
		if keys[key] {
			slices.Reverse(v)
		}
	}
	return v
}

// otherRun makes, from a captured flow, the flow another Janus would have
// answered: every id Janus minted replaced by another, and, with lists,
// the arrays at those keys reversed; edit then changes a body.
func otherRun(t *testing.T, evs []*schema.Event, lists []string, edit func([]byte) []byte) []*schema.Event {
	t.Helper()
	ids := map[string]bool{}
	for _, ev := range evs {
		if v, err := decodeNumbers(ev.Body); err == nil {
			collectIDs("", v, ids)
		}
	}
	var pairs []string
	for id := range ids {
		n, _ := strconv.ParseUint(id, 10, 64)
		pairs = append(pairs, id, strconv.FormatUint(n/2+7, 10))
	}
	// Longest first, so that no id is replaced inside a longer one.
	slices.SortFunc(pairs, func(a, b string) int { return len(b) - len(a) })
	re := regexp.MustCompile(`\d{4,}`)
	swap := func(s string) string {
		return re.ReplaceAllStringFunc(s, func(d string) string {
			if ids[d] {
				n, _ := strconv.ParseUint(d, 10, 64)
				return strconv.FormatUint(n/2+7, 10)
			}
			return d
		})
	}
	keys := map[string]bool{}
	for _, k := range lists {
		keys[k] = true
	}
	out := make([]*schema.Event, len(evs))
	for i, ev := range evs {
		c := *ev
		c.Path = swap(ev.Path)
		body := []byte(swap(string(ev.Body)))
		if len(lists) > 0 && len(body) > 0 {
			if v, err := decodeNumbers(body); err == nil {
				if b, err := json.Marshal(reverseLists("", v, keys)); err == nil {
					body = b
				}
			}
		}
		if edit != nil {
			body = edit(body)
		}
		c.Body = body
		if len(body) > 0 {
			c.Janus, _ = schema.ParseJanus(body)
		}
		out[i] = &c
	}
	return out
}

func decodeNumbers(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// TestCompareUnorderedLists compares each captured flow of testdata/flows
// with the same flow as another Janus would answer it: other ids, and the
// lists Janus builds from hash tables in another order. Only a real change
// in such a list is a difference.
func TestCompareUnorderedLists(t *testing.T) {
	rename := func(b []byte) []byte { return bytes.Replace(b, []byte(`"bob"`), []byte(`"robert"`), 1) }
	cases := []struct {
		name     string
		lists    []string
		edit     func([]byte) []byte
		wantPath string // "" when the runs must match
	}{
		{"same ids and order", nil, nil, ""},
		{"other ids", nil, nil, ""},
		{"other ids, lists reversed", []string{"participants", "publishers"}, nil, ""},
		{"a participant renamed", []string{"participants"}, func(b []byte) []byte {
			if bytes.Contains(b, []byte(`"participants"`)) {
				return rename(b)
			}
			return b
		}, "participants"},
	}
	for _, f := range capturedFlows {
		evs := readFlow(t, f.file)
		for _, tc := range cases {
			t.Run(f.file+"/"+tc.name, func(t *testing.T) {
				if tc.wantPath != "" && !slices.ContainsFunc(evs, func(ev *schema.Event) bool { return bytes.Contains(ev.Body, []byte(`"`+tc.wantPath+`"`)) }) {
					t.Skipf("no %s in this flow", tc.wantPath)
				}
				other := evs
				if tc.name != "same ids and order" {
					other = otherRun(t, evs, tc.lists, tc.edit)
				}
				rep := diff.Compare(evs, other, nil, diff.Options{})
				var buf bytes.Buffer
				diff.WriteText(&buf, rep)
				if tc.wantPath == "" {
					if !rep.Same {
						t.Fatalf("differ:\n%s", buf.String())
					}
					return
				}
				if rep.Same || rep.FirstDivergence == nil || !strings.Contains(rep.FirstDivergence.Path, tc.wantPath) {
					t.Fatalf("want a difference in %s:\n%s", tc.wantPath, buf.String())
				}
			})
		}
	}
}
