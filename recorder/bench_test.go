package recorder_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/janus/janustest"
)

// BenchmarkRoundTrip measures a request/response round trip (a keepalive on
// a live session) against Janus directly and through `serve` (tap, spool,
// embedded JetStream), alternating the two in one run so that both see the
// same machine load. It reports both p50 and p99, the latency the tap adds
// at p50, and the p99 ratio (goal: at most 150 µs added at p50, p99 at most
// 1.25× direct).
func BenchmarkRoundTrip(b *testing.B) {
	j := janustest.Start(b, janustest.Options{})
	s := serveB(b, j)
	for _, transport := range []string{"http", "ws"} {
		b.Run(transport, func(b *testing.B) {
			ctx := context.Background()
			direct := newKeepalive(b, ctx, transport, j.HTTP, j.WS)
			tapped := newKeepalive(b, ctx, transport, s.http(), s.ws())
			var dl, tl []time.Duration
			for b.Loop() {
				dl = append(dl, direct(ctx))
				tl = append(tl, tapped(ctx))
			}
			p := func(l []time.Duration, q float64) time.Duration {
				slices.Sort(l)
				return l[min(len(l)-1, int(q*float64(len(l))))]
			}
			d50, d99, t50, t99 := p(dl, .5), p(dl, .99), p(tl, .5), p(tl, .99)
			b.ReportMetric(float64(d50.Microseconds()), "direct-p50-µs")
			b.ReportMetric(float64(d99.Microseconds()), "direct-p99-µs")
			b.ReportMetric(float64(t50.Microseconds()), "tap-p50-µs")
			b.ReportMetric(float64(t99.Microseconds()), "tap-p99-µs")
			b.ReportMetric(float64((t50 - d50).Microseconds()), "added-p50-µs")
			b.ReportMetric(float64(t99)/float64(d99), "p99-ratio")
		})
	}
}

// newKeepalive returns a function that sends one keepalive on a new session
// and returns its round trip.
func newKeepalive(b *testing.B, ctx context.Context, transport, httpURL, wsURL string) func(context.Context) time.Duration {
	var c janus.Client
	if transport == "http" {
		hc := janus.NewHTTP(httpURL)
		hc.HTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
		b.Cleanup(func() { hc.Close() })
		c = hc
	} else {
		wc, err := janus.DialWS(ctx, wsURL, janus.Protocol)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { wc.Close() })
		c = wc
	}
	s := &janus.Session{C: c, WS: transport == "ws"}
	if err := s.Create(ctx); err != nil {
		b.Fatal(err)
	}
	if hc, ok := c.(*janus.HTTPClient); ok {
		hc.StopPoll(s.ID) // only request/response round trips here
	}
	n := 0
	return func(ctx context.Context) time.Duration {
		n++
		body := []byte(`{"janus":"keepalive","transaction":"k` + strconv.Itoa(n) + `"` + sessionField(transport, s.ID) + `}`)
		t0 := time.Now()
		r, err := c.Do(ctx, body, s.ID, 0)
		d := time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Body) == 0 {
			b.Fatal("empty keepalive answer")
		}
		return d
	}
}

func sessionField(transport string, id uint64) string {
	if transport != "ws" {
		return ""
	}
	return fmt.Sprintf(`,"session_id":%d`, id)
}
