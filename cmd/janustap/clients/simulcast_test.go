package clients_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/replayer"
	"github.com/janustap/janustap/replayer/drive"
	"github.com/janustap/janustap/replayer/janus/clienttest"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/replayer/media"
	"github.com/janustap/janustap/schema"
)

// simulcastSteps are the videoroom demo's two participants with
// ?simulcast=true: alice and bob publish with simulcast (janus.js offers
// rids h, m and l) and each subscribes to the other.
func simulcastSteps(base string) []clienttest.BrowserStep {
	join := func(page int, name string) []clienttest.BrowserStep {
		return concat(start(page, base+"/videoroomtest.html?simulcast=true"), []clienttest.BrowserStep{
			{Do: "wait", Page: page, Selector: "#username"},
			{Do: "fill", Page: page, Selector: "#username", Text: name},
			{Do: "click", Page: page, Selector: "#register"},
			waitJS(page, playing("myvideo")),
		})
	}
	return concat(
		join(0, "alice"),
		join(1, "bob"),
		[]clienttest.BrowserStep{
			waitJS(0, playing("remotevideo")),
			waitJS(1, playing("remotevideo")),
			sessionID(0, "alice"),
			sessionID(1, "bob"),
		},
		stop(1),
		[]clienttest.BrowserStep{waitJS(0, "feeds.filter(f => f).length === 0")},
		stop(0))
}

// capturedLayers returns, for each publisher handle of evs whose media
// Janus reported by substream, how many substreams it received (sorted),
// and those reports ("1 on", "1 off"), sorted.
func capturedLayers(evs []*schema.Event) (layers []int, reports []string) {
	subs := map[uint64]map[int]bool{}
	for _, ev := range evs {
		if ev.Direction != schema.ToClient || ev.Janus == nil || ev.Janus.Janus != "media" {
			continue
		}
		var m struct {
			Substream *int `json:"substream"`
			Receiving bool `json:"receiving"`
		}
		if json.Unmarshal(ev.Body, &m) != nil || m.Substream == nil {
			continue
		}
		if m.Receiving {
			if subs[ev.Janus.Sender] == nil {
				subs[ev.Janus.Sender] = map[int]bool{}
			}
			subs[ev.Janus.Sender][*m.Substream] = true
		}
		state := "off"
		if m.Receiving {
			state = "on"
		}
		reports = append(reports, fmt.Sprintf("%d %s", *m.Substream, state))
	}
	slices.Sort(reports)
	for _, s := range subs {
		layers = append(layers, len(s))
	}
	slices.Sort(layers)
	return layers, reports
}

// toldLayers returns the substream and temporal layers Janus told the
// subscribers of evs, sorted ("substream 0", "temporal 2").
func toldLayers(evs []*schema.Event) []string {
	var out []string
	for _, ev := range evs {
		if ev.Direction != schema.ToClient || ev.Janus == nil || ev.Janus.PluginValue != "event" {
			continue
		}
		var m struct {
			Plugindata struct {
				Data struct{ Substream, Temporal *int }
			}
		}
		if json.Unmarshal(ev.Body, &m) != nil {
			continue
		}
		if d := m.Plugindata.Data; d.Substream != nil {
			out = append(out, fmt.Sprint("substream ", *d.Substream))
		} else if d.Temporal != nil {
			out = append(out, fmt.Sprint("temporal ", *d.Temporal))
		}
	}
	slices.Sort(out)
	return out
}

// TestDemoSimulcastReplay captures the videoroom demo with simulcast on
// (?simulcast=true), two participants in headless Chromium with the fake
// camera, through serve over REST and over WebSocket, and replays each
// capture on a second Janus with the replay's peers, as captured, over the
// other transport, and five times five at once: no difference. Chromium
// offers three rids and, at the fake camera's 640×480, sends two of them,
// and pauses the middle one once its bandwidth estimate says so; Janus
// tells each subscriber the substream it relays. The replay's publishers
// send the layers the capture shows (as many as Janus reported media of,
// stopping where it reported one no longer received), and the
// subscribers' peers receive. A capture whose answer raced its
// subscriber's teardown must get Janus's refusal again, as in
// TestDemoPagesReplay.
func TestDemoSimulcastReplay(t *testing.T) {
	clienttest.RequireDemos(t)
	j := janustest.Start(t, janustest.Options{})
	j2 := janustest.Start(t, janustest.Options{})
	s := serve(t, j)
	base := clienttest.ServeDemos(t, map[string]string{"http": s.http(), "ws": s.ws()})
	for _, from := range []string{"http", "ws"} {
		t.Run(from, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			bctx, bcancel := context.WithTimeout(ctx, 90*time.Second)
			res, err := clienttest.RunSteps(bctx, 0, 0, simulcastSteps(base+"/"+from))
			bcancel()
			if err != nil {
				t.Logf("browser output:\n%s", res.Stderr)
				t.Fatalf("%v (console %q)", err, res.Console)
			}
			var ids []uint64
			for _, name := range []string{"alice", "bob"} {
				var id uint64
				if err := json.Unmarshal(res.Values[name], &id); err != nil || id == 0 {
					t.Fatalf("session of %s: %s (%v)", name, res.Values[name], err)
				}
				ids = append(ids, id)
			}
			var all []*schema.Event
			janustest.WaitFor(t, 30*time.Second, func() (err error) {
				for _, id := range ids {
					if err := s.destroyed(ctx, id, 2); err != nil {
						return err
					}
				}
				all, err = dbEvents(ctx, s.db, store.EventFilter{Gateway: gateway})
				return err
			})
			evs := replayer.Select(all, replayer.Selection{Gateway: gateway, Sessions: ids})
			if dir := os.Getenv("JANUSTAP_DEMO_CAPTURES"); dir != "" {
				saveCapture(t, filepath.Join(dir, "videoroom-simulcast-"+from+".jsonl"), evs)
			}
			offers := 0
			for _, ev := range evs {
				if ev.Direction == schema.ToGateway && ev.Janus != nil && ev.Janus.JSEP == "offer" && strings.Contains(string(ev.Body), `a=simulcast:send h;m;l`) {
					offers++
				}
			}
			layers, reports := capturedLayers(evs)
			if offers != 2 || len(layers) != 2 {
				t.Fatalf("the capture has %d simulcast offers and media by substream of %d publishers (%v), want 2 and 2", offers, len(layers), reports)
			}
			told := toldLayers(evs)
			t.Logf("captured sessions %v over %s: %d events; layers per publisher %v; media by substream %v; subscribers told %v", ids, from, len(evs), layers, reports, told)
			race := answerRace(evs)
			if race != nil {
				// As in TestDemoPagesReplay: the replays must get the
				// refusal again.
				t.Logf("the capture caught the demo page's answer racing its subscriber's teardown (Janus said %d %q): the replays must get the same refusal", race.Janus.ErrorCode, race.Janus.ErrorReason)
			}
			other := schema.WS
			if from == "ws" {
				other = schema.HTTP
			}
			for _, to := range []schema.Transport{"", other} {
				t.Run("over_"+string(cmp.Or(to, "captured")), func(t *testing.T) {
					rres, _ := replaySessions(t, all, ids, drive.Options{
						Target: drive.Target{HTTP: j2.HTTP, WS: j2.WS}, Transport: to, Media: &media.Options{},
					})
					checkReplay(t, rres)
					run := rres.Runs[0]
					var sent []int
					received := 0
					for _, m := range run.Media {
						if !m.Connected {
							t.Errorf("peer of handle %d did not connect: %+v", m.Handle, m)
						}
						if len(m.Layers) > 0 {
							sent = append(sent, len(m.Layers))
						}
						if len(m.Received) > 0 {
							received++
						}
					}
					slices.Sort(sent)
					if !slices.Equal(sent, layers) {
						t.Errorf("the replay's publishers sent %v layers, the captured ones %v: %+v", sent, layers, run.Media)
					}
					if newLayers, newReports := capturedLayers(run.Events); !slices.Equal(newLayers, layers) || !slices.Equal(newReports, reports) {
						t.Errorf("Janus received layers %v (media by substream %v), in the capture %v (%v)", newLayers, newReports, layers, reports)
					}
					if race != nil {
						switch got := answerRace(run.Events); {
						case got == nil:
							t.Errorf("the new run has no refusal, the capture %d", race.Janus.ErrorCode)
						case got.Janus.ErrorCode != race.Janus.ErrorCode && len(rres.Reports[0].RefusalRace) != 1:
							t.Errorf("the new run's refusal is %d, the capture's %d, and the report notes no refusal race", got.Janus.ErrorCode, race.Janus.ErrorCode)
						}
					}
					// Compared by the diff too, unless they raced a destroy.
					if got := toldLayers(run.Events); !slices.Equal(got, told) {
						t.Errorf("Janus told the subscribers %v, in the capture %v", got, told)
					}
					if received < 2 {
						t.Errorf("%d peers received packets from Janus, want the 2 subscribers: %+v", received, run.Media)
					}
					t.Logf("peers: %+v", run.Media)
				})
			}
			t.Run("repeat_5_concurrency_5", func(t *testing.T) {
				rres, err := replayer.Replay(ctx, evs, replayer.Options{
					Options: drive.Options{Target: drive.Target{HTTP: j2.HTTP, WS: j2.WS}, Wait: 10 * time.Second,
						Media: &media.Options{}, OwnRooms: true},
					Repeat: 5, Concurrency: 5,
				})
				if err != nil {
					t.Fatal(err)
				}
				if s := rres.Summary(); s.Matched != 5 {
					for i, r := range rres.Reports {
						if r != nil && !r.Same {
							t.Logf("run %d: waits %q errors %q\n%s", i+1, rres.Runs[i].Waits, rres.Runs[i].Errors, reportText(r))
						}
					}
					t.Fatalf("summary %+v, want 5 matched", s)
				}
				for i, r := range rres.Runs {
					var sent []int
					for _, m := range r.Media {
						if len(m.Layers) > 0 {
							sent = append(sent, len(m.Layers))
						}
					}
					slices.Sort(sent)
					if !slices.Equal(sent, layers) {
						t.Errorf("run %d: the replay's publishers sent %v layers, the captured ones %v", i+1, sent, layers)
					}
				}
			})
		})
	}
}
