package replayer_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/evh"
	"github.com/janustap/janustap/recorder/tap/taptest"
	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/replayer/media"
	"github.com/janustap/janustap/schema"
)

// The -capture-verdict flag rewrites the flows of recorder/verdict whose
// failure needs a real WebRTC peer (recorder may not import the replayer's
// pion peer). Regenerate them with
//
//	go test ./replayer -run TestCaptureVerdictFlows -count=1 -args -capture-verdict
//
// then run `go test ./recorder/verdict -update` and review the goldens.
var captureVerdict = flag.Bool("capture-verdict", false, "capture recorder/verdict/testdata/flows/{dtls-alert,no-media,slowlink}.jsonl from a real Janus and peer")

// TestCaptureVerdictFlows runs echotest calls whose peer fails on purpose
// through a tap in front of a Janus that posts its events (sampleevh) to an
// evh.Receiver, as serve --evh-listen does, and writes the tap's and
// Janus's events, in time order, as the verdict rules' test flows.
func TestCaptureVerdictFlows(t *testing.T) {
	if !*captureVerdict {
		t.Skip("run with -capture-verdict to capture recorder/verdict/testdata/flows again")
	}
	cases := []struct {
		name string
		opts media.Options
		// until is what the client waits for, count times, before it
		// detaches; evhDone what the capture waits for among Janus's events.
		until   string
		count   int
		evhDone string
	}{
		{"dtls-alert", media.Options{DTLSClose: true}, "hangup", 1, `"hangup"`},
		{"no-media", media.Options{NoMedia: true}, "webrtcup", 1, `"detached"`},
		{"slowlink", media.Options{LossPercent: 30}, "slowlink", 4, `"detached"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			janusEvents := &taptest.Memory{}
			srv := httptest.NewServer(&evh.Receiver{Gateway: "janus", Tap: "evh", Emitter: janusEvents})
			defer srv.Close()
			j := slowlinkJanus(t, janustest.Options{Events: &janustest.EventHandler{URL: srv.URL + "/", StatsPeriod: 1}})
			tp := taptest.New(t, j, "janus")
			taptest.Run(t, tp, "ws", verdictCall(tc.opts, tc.until, tc.count, janusEvents))
			janustest.WaitFor(t, 20*time.Second, func() error {
				if slices.ContainsFunc(janusEvents.Events(), func(ev *schema.Event) bool { return bytes.Contains(ev.Body, []byte(tc.evhDone)) }) {
					return nil
				}
				return fmt.Errorf("Janus has not posted %s yet", tc.evhDone)
			})
			evs := append(tp.Mem.Events(), janusEvents.Events()...)
			slices.SortStableFunc(evs, func(a, b *schema.Event) int { return a.Time.Compare(b.Time) })
			var out bytes.Buffer
			for _, ev := range evs {
				b, err := schema.Encode(ev)
				if err != nil {
					t.Fatal(err)
				}
				out.Write(b)
				out.WriteByte('\n')
			}
			path := filepath.Join("..", "recorder", "verdict", "testdata", "flows", tc.name+".jsonl")
			if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// verdictCall is failingCall waiting for count events of type until; for
// no media it then waits until Janus has posted two media statistics
// events after webrtcup, so the capture shows a PeerConnection up for a
// while with nothing received.
func verdictCall(opts media.Options, until string, count int, janusEvents *taptest.Memory) taptest.Flow {
	return func(ctx context.Context, s *janus.Session) error {
		h, p, err := echoPeer(ctx, s, opts, map[string]any{"opaque_id": "verdict-" + until})
		if err != nil {
			return err
		}
		defer p.Close()
		for i := range count {
			if _, _, err := s.WaitEvent(ctx, janus.ForType(until)); err != nil {
				return fmt.Errorf("%s %d: %w", until, i+1, err)
			}
		}
		if opts.NoMedia {
			// Janus posts statistics every second (StatsPeriod 1); the
			// client keeps its session alive, one keepalive a tick, until
			// two of them came after webrtcup.
			tick := time.NewTicker(500 * time.Millisecond)
			defer tick.Stop()
			for n := 0; n < 4; {
				select {
				case <-ctx.Done():
					return fmt.Errorf("waiting for Janus's statistics (%d so far): %w", n, ctx.Err())
				case <-tick.C:
				}
				if _, _, err := s.Request(ctx, "keepalive", 0, nil); err != nil {
					return err
				}
				n = 0
				for _, ev := range janusEvents.Events() {
					if ev.Transport == schema.EVH && ev.Direction == "media-stats" {
						n++
					}
				}
			}
		}
		if _, _, err := s.Request(ctx, "detach", h, nil); err != nil {
			return err
		}
		_, _, err = s.WaitEvent(ctx, janus.ForType("detached"))
		return err
	}
}
