package tap_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/tap"
	"github.com/janustap/janustap/recorder/tap/taptest"
	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/schema"
)

// BenchmarkServer compares, in one run, a keepalive's round trip to Janus
// directly, through a tap served by net/http's server (Handler), and
// through the same tap served by its own server (Serve), taking turns. It
// reports each one's p50 and what each server adds to Janus alone: the
// reason the tap has a server of its own.
func BenchmarkServer(b *testing.B) {
	j := janustest.Start(b, janustest.Options{DisablePlugins: []string{
		"libjanus_videoroom.so", "libjanus_textroom.so", "libjanus_streaming.so",
	}})
	tp, err := tap.New(tap.Config{Gateway: "bench", JanusHTTP: j.HTTP,
		Emitter: tap.EmitterFunc(func(*schema.Event) error { return nil })})
	if err != nil {
		b.Fatal(err)
	}
	nethttp := httptest.NewUnstartedServer(tp.Handler())
	nethttp.Config.ConnContext = tp.ConnContext
	nethttp.Start()
	b.Cleanup(nethttp.Close)
	own := taptest.Serve(b, tp)

	ctx := context.Background()
	targets := []struct {
		name string
		base string
	}{{"direct", j.HTTP}, {"nethttp", nethttp.URL + "/janus"}, {"own", own + "/janus"}}
	keepalives := make([]func() time.Duration, len(targets))
	for i, tg := range targets {
		hc := janus.NewHTTP(tg.base)
		hc.HTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
		b.Cleanup(func() { hc.Close() })
		s := &janus.Session{C: hc}
		if err := s.Create(ctx); err != nil {
			b.Fatal(err)
		}
		hc.StopPoll(s.ID)
		n := 0
		keepalives[i] = func() time.Duration {
			n++
			body := []byte(`{"janus":"keepalive","transaction":"k` + strconv.Itoa(n) + `"}`)
			t0 := time.Now()
			if _, err := hc.Do(ctx, body, s.ID, 0); err != nil {
				b.Fatal(err)
			}
			return time.Since(t0)
		}
	}
	took := make([][]time.Duration, len(targets))
	for b.Loop() {
		for i, k := range keepalives {
			took[i] = append(took[i], k())
		}
	}
	p50 := make([]time.Duration, len(targets))
	for i, l := range took {
		slices.Sort(l)
		p50[i] = l[len(l)/2]
		b.ReportMetric(float64(p50[i].Microseconds()), targets[i].name+"-p50-µs")
	}
	b.ReportMetric(float64((p50[1] - p50[0]).Microseconds()), "nethttp-added-µs")
	b.ReportMetric(float64((p50[2] - p50[0]).Microseconds()), "own-added-µs")
}
