package clients_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder"
	"github.com/janustap/janustap/recorder/evh"
	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/replayer/janus/clienttest"
	"github.com/janustap/janustap/replayer/janus/janustest"
)

// TestBrowserJanusEvents runs janus.js's echotest with media in Chromium
// through serve, over REST and over WebSocket, with Janus posting its own
// events (sampleevh, stats every second) to serve's receiver. The
// projection holds Janus's account of each call, joined to the session and
// handle the signaling made: ICE connected with a selected pair, DTLS
// connected, webrtcup, media received, statistics, the hangup and detach,
// the session created and destroyed.
func TestBrowserJanusEvents(t *testing.T) {
	clienttest.Require(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	j := janustest.Start(t, janustest.Options{Events: &janustest.EventHandler{URL: evh.URL(ln.Addr()), StatsPeriod: 1}})
	s := serve(t, j, func(c *recorder.Config) { c.EVHListener = ln })
	page := clienttest.ServePage(t)

	for _, c := range []struct{ name, server string }{{"http", s.http()}, {"ws", s.ws()}} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
			defer cancel()
			res, err := clienttest.RunBrowser(ctx, clienttest.EchoTestURL(page, c.server))
			if err != nil {
				t.Logf("browser output:\n%s", res.Stderr)
				t.Fatal(err)
			}
			id := sessionOf(t, res)
			var handle uint64
			if st, ok := res.Step("attach"); ok {
				var a struct {
					ID uint64 `json:"id"`
				}
				if err := json.Unmarshal(st.Detail, &a); err != nil {
					t.Fatal(err)
				}
				handle = a.ID
			}
			if handle == 0 {
				t.Fatal("the page reported no handle")
			}

			var d *store.SessionDetail
			var jh store.JanusHandleRow
			var js *store.JanusSessionRow
			janustest.WaitFor(t, 30*time.Second, func() (err error) {
				if d, err = s.sessionDone(ctx, id, 1); err != nil {
					return err
				}
				if js, err = s.db.JanusSession(ctx, gateway, id); err != nil {
					return err
				}
				if js == nil || js.CreatedAt.IsZero() || js.DestroyedAt.IsZero() {
					return fmt.Errorf("janus session %d: %+v, want created and destroyed", id, js)
				}
				hs, err := s.db.JanusHandles(ctx, gateway, id)
				if err != nil {
					return err
				}
				if len(hs) != 1 || hs[0].DetachedAt.IsZero() {
					return fmt.Errorf("janus handles of session %d: %+v, want one, detached", id, hs)
				}
				jh = hs[0]
				return nil
			})
			if got, want := jh.ID, handle; got != want || d.Handles[0].ID != want {
				t.Errorf("janus handle %d, signaling's %d, the page's %d", got, d.Handles[0].ID, want)
			}
			if jh.Plugin != "janus.plugin.echotest" || jh.OpaqueID != d.Handles[0].OpaqueID {
				t.Errorf("janus handle plugin %q opaque_id %q, signaling's opaque_id %q", jh.Plugin, jh.OpaqueID, d.Handles[0].OpaqueID)
			}
			for _, check := range []struct {
				what string
				ok   bool
			}{
				{"ICE connected", !jh.ICEConnectedAt.IsZero() && jh.ICEFailedAt.IsZero()},
				{"a selected pair with candidate types", jh.SelectedPair != "" && jh.LocalType != "" && jh.RemoteType != ""},
				{"local and remote candidates", jh.LocalCandidates > 0 && jh.RemoteCandidates > 0},
				{"DTLS connected", !jh.DTLSConnectedAt.IsZero()},
				{"webrtcup", !jh.WebRTCUpAt.IsZero()},
				{"media received", !jh.ReceivingAt.IsZero() && jh.MediaEvents > 0},
				{"a statistics sample", jh.Stats >= 1},
				{"a hangup", !jh.HangupAt.IsZero()},
				{"Janus's SDPs", jh.LocalSDP != "" && jh.RemoteSDP != ""},
			} {
				if !check.ok {
					t.Errorf("janus handle lacks %s: %+v", check.what, jh)
				}
			}
			stats, err := s.db.JanusStats(ctx, gateway, id)
			if err != nil {
				t.Fatal(err)
			}
			if len(stats) == 0 || stats[0].HandleID != handle || stats[0].PacketsReceived == 0 {
				t.Errorf("janus stats: %+v", stats)
			}
			// Janus's webrtcup, on the tap's clock, is close to the one
			// the signaling carried to the client.
			off, n, err := s.db.JanusClock(ctx, gateway)
			if err != nil || n == 0 {
				t.Fatalf("clock offset: %v, %d samples, %v", off, n, err)
			}
			if gap := d.Handles[0].WebRTCUpAt.Sub(jh.WebRTCUpAt); gap < -2*time.Second || gap > 2*time.Second {
				t.Errorf("webrtcup: signaling's at %v, Janus's at %v (clock offset %v)", d.Handles[0].WebRTCUpAt, jh.WebRTCUpAt, off)
			}
			t.Logf("%s: ICE %v, pair %s (%s/%s), DTLS %v, %d stats, receiving %v, hangup %q; clock offset %v from %d samples",
				c.name, jh.ICEStates, jh.SelectedPair, jh.LocalType, jh.RemoteType, jh.DTLSStates, jh.Stats, jh.Receiving, jh.HangupReason, off, n)

			sessions, err := s.db.Sessions(ctx, store.SessionFilter{NoWebRTCUp: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, ss := range sessions {
				if ss.ID == id {
					t.Errorf("session %d reached webrtcup but sessions --no-webrtcup lists it", id)
				}
			}
		})
	}
}
