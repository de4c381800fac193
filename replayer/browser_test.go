package replayer_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/tap/taptest"
	"github.com/janustap/janustap/replayer"
	"github.com/janustap/janustap/replayer/diff"
	"github.com/janustap/janustap/replayer/drive"
	"github.com/janustap/janustap/replayer/janus/clienttest"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/replayer/media"
	"github.com/janustap/janustap/replayer/rewrite"
	"github.com/janustap/janustap/schema"
)

// TestReplayBrowserEchoTest captures janus.js's echotest in headless
// Chromium through the tap (the project's own browser client), over REST
// and WebSocket, and replays each session on a second Janus with the
// replay's peer, as captured and over the other transport.
func TestReplayBrowserEchoTest(t *testing.T) {
	clienttest.Require(t)
	a := janustest.Start(t, janustest.Options{})
	b := janustest.Start(t, janustest.Options{})
	tp := taptest.New(t, a, "browser")
	page := clienttest.ServePage(t)
	for _, from := range []string{"http", "ws"} {
		server := tp.HTTP()
		if from == "ws" {
			server = tp.WS()
		}
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
		before := len(tp.Mem.Events())
		res, err := clienttest.RunBrowser(ctx, clienttest.EchoTestURL(page, server))
		cancel()
		if err != nil {
			t.Fatalf("browser: %v\n%s", err, res.Stderr)
		}
		s, _ := res.Step("session")
		var d struct {
			ID uint64 `json:"id"`
		}
		json.Unmarshal(s.Detail, &d)
		evs := replayer.Select(tp.Mem.Events()[before:], replayer.Selection{Sessions: []uint64{d.ID}})
		if !replayer.HasMedia(evs) {
			t.Fatalf("the browser's capture has no webrtcup")
		}
		for _, to := range []schema.Transport{"", schema.HTTP, schema.WS} {
			t.Run(from+"_over_"+string(cmp.Or(to, "captured")), func(t *testing.T) {
				rr, err := replayer.Replay(t.Context(), evs, replayer.Options{
					Options: drive.Options{Target: drive.Target{HTTP: b.HTTP, WS: b.WS}, Transport: to, Wait: 5 * time.Second,
						Media: &media.Options{}},
				})
				run := rr.Runs[0]
				if err != nil {
					t.Fatalf("%v; waits %q errors %q", err, run.Waits, run.Errors)
				}
				var buf bytes.Buffer
				diff.WriteText(&buf, rr.Reports[0])
				if !rr.Same() {
					t.Fatalf("waits %q errors %q media %+v\n%s", run.Waits, run.Errors, run.Media, buf.String())
				}
				t.Logf("waits %q media %+v", run.Waits, run.Media)
			})
		}
		t.Run(from+"_repeat_5_concurrency_5", func(t *testing.T) {
			rr, err := replayer.Replay(t.Context(), evs, replayer.Options{
				Options: drive.Options{Target: drive.Target{HTTP: b.HTTP, WS: b.WS}, Wait: 5 * time.Second, Media: &media.Options{}},
				Repeat:  5, Concurrency: 5,
			})
			if err != nil {
				t.Fatal(err)
			}
			if s := rr.Summary(); s.Matched != 5 {
				for i, r := range rr.Reports {
					var buf bytes.Buffer
					diff.WriteText(&buf, r)
					t.Logf("run %d: waits %q errors %q\n%s", i+1, rr.Runs[i].Waits, rr.Runs[i].Errors, buf.String())
				}
				t.Fatalf("summary %+v, want 5 matched", s)
			}
		})
	}
}

// TestReplayJanode captures the janode scenario of testdata/clients (echotest,
// a videoroom publisher and a subscriber in another session, textroom, the
// admin API) through the tap and replays all of it on a second Janus: the
// ids janode's sessions are handed out are learned across sessions and the
// admin API, and the runs match.
func TestReplayJanode(t *testing.T) {
	clienttest.Require(t)
	a := janustest.Start(t, janustest.Options{})
	b := janustest.Start(t, janustest.Options{})
	tp := taptest.New(t, a, "janode")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	res, err := clienttest.RunJanode(ctx, clienttest.JanodeArgs{WS: tp.WS(), AdminWS: tp.WS(), AdminSecret: a.AdminSecret})
	cancel()
	if err != nil {
		t.Fatalf("janode: %v\n%s", err, res.Stderr)
	}
	evs := tp.Mem.Events()
	rr, err := replayer.Replay(t.Context(), evs, replayer.Options{
		Options: drive.Options{Target: drive.Target{HTTP: b.HTTP, WS: b.WS, AdminHTTP: b.AdminHTTP, AdminWS: b.AdminWS},
			Secrets: rewrite.Secrets{AdminSecret: b.AdminSecret}, Wait: 5 * time.Second},
	})
	run := rr.Runs[0]
	if err != nil {
		t.Fatalf("%v; waits %q errors %q", err, run.Waits, run.Errors)
	}
	var buf bytes.Buffer
	diff.WriteText(&buf, rr.Reports[0])
	if !rr.Same() {
		t.Fatalf("waits %q errors %q\n%s", run.Waits, run.Errors, buf.String())
	}
	t.Logf("waits %q\n%s", run.Waits, buf.String())
}
