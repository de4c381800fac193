package recorder_test

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/janustap/janustap/recorder"
	"github.com/janustap/janustap/recorder/health"
	"github.com/janustap/janustap/recorder/metrics"
	"github.com/janustap/janustap/recorder/tap"
	"github.com/janustap/janustap/replayer/janus/janustest"
)

// readyz answers GET /readyz of the serve whose data directory is dir.
func readyz(t *testing.T, dir string) (int, string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, recorder.AdminURLFile))
	if err != nil {
		t.Fatalf("admin url: %v", err)
	}
	resp, err := http.Get(strings.TrimSpace(string(b)) + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read /readyz: %v", err)
	}
	return resp.StatusCode, string(body)
}

// TestReadyz: ready while Janus answers, NATS is connected and the spool
// has room; not ready, naming Janus, once Janus is gone; not ready, naming
// the part, when a part reports an error.
func TestReadyz(t *testing.T) {
	t.Parallel()
	j := janustest.Start(t, janustest.Options{})
	st := &health.Status{}
	s := serveTB(t, j, func(c *recorder.Config) {
		c.AdminListen = "127.0.0.1:0"
		c.Health = st
	})
	if code, body := readyz(t, s.dir); code != http.StatusOK || body != "ok janus\nok nats\nok spool\n" {
		t.Fatalf("/readyz with everything up = %d %q", code, body)
	}
	st.Set("project", io.ErrUnexpectedEOF)
	if code, body := readyz(t, s.dir); code != http.StatusServiceUnavailable || !strings.Contains(body, "FAIL project: unexpected EOF") {
		t.Errorf("/readyz with a part failing = %d %q", code, body)
	}
	st.Set("project", nil)
	if err := j.Stop(); err != nil {
		t.Fatal(err)
	}
	if code, body := readyz(t, s.dir); code != http.StatusServiceUnavailable || !strings.Contains(body, "FAIL janus: janus http api:") || !strings.Contains(body, "ok nats") {
		t.Errorf("/readyz with Janus stopped = %d %q", code, body)
	}
}

// TestAdminListenTaken: serve's default admin address gives way to another
// process's (a free port is served and written to the data directory); an
// address the user chose does not.
func TestAdminListenTaken(t *testing.T) {
	t.Parallel()
	j := janustest.Start(t, janustest.Options{})
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	s := serveTB(t, j, func(c *recorder.Config) {
		c.AdminListen = taken.Addr().String()
		c.AdminListenDefault = true
	})
	b, err := os.ReadFile(filepath.Join(s.dir, recorder.AdminURLFile))
	if err != nil {
		t.Fatal(err)
	}
	if u := strings.TrimSpace(string(b)); u == "http://"+taken.Addr().String() || !strings.HasPrefix(u, "http://127.0.0.1:") {
		t.Errorf("admin url = %q, want a free loopback port other than %s", u, taken.Addr())
	}
	if code, _ := readyz(t, s.dir); code != http.StatusOK {
		t.Errorf("/readyz on the fallback port = %d", code)
	}

	err = recorder.Run(t.Context(), recorder.Config{
		Tap:         tap.Config{Gateway: "gw1", JanusHTTP: j.HTTP},
		Listen:      []string{"127.0.0.1:0"},
		DataDir:     t.TempDir(),
		AdminListen: taken.Addr().String(),
	})
	if err == nil || !strings.Contains(err.Error(), "admin listen on "+taken.Addr().String()) {
		t.Errorf("Run with a chosen admin address in use: %v, want an admin listen error", err)
	}
}

// TestMetricsScrape scrapes /metrics before and after flows through the tap
// and finds the message counters and the latency histograms moving.
func TestMetricsScrape(t *testing.T) {
	t.Parallel()
	j := janustest.Start(t, janustest.Options{})
	s := serveTB(t, j, func(c *recorder.Config) {
		c.AdminListen = "127.0.0.1:0"
		c.Metrics = metrics.New()
	})
	scrape := func() map[string]float64 {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(s.dir, recorder.AdminURLFile))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(strings.TrimSpace(string(b)) + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(resp.Body)
		if err != nil {
			t.Fatalf("parse /metrics: %v", err)
		}
		out := map[string]float64{}
		for name, f := range fams {
			for _, m := range f.GetMetric() {
				key := name
				for _, l := range m.GetLabel() {
					key += "," + l.GetName() + "=" + l.GetValue()
				}
				switch {
				case m.Counter != nil:
					out[key] = m.GetCounter().GetValue()
				case m.Gauge != nil:
					out[key] = m.GetGauge().GetValue()
				case m.Histogram != nil:
					out[key+",count"] = float64(m.GetHistogram().GetSampleCount())
				}
			}
		}
		return out
	}
	before := scrape()
	runFlows(t, s.http(), s.ws())
	after := scrape()
	for _, key := range []string{
		"janustap_messages_total,direction=c2g,kind=request,transport=http",
		"janustap_messages_total,direction=g2c,kind=response,transport=http",
		"janustap_messages_total,direction=g2c,kind=poll-event,transport=http",
		"janustap_messages_total,direction=c2g,kind=frame,transport=ws",
		"janustap_messages_total,direction=g2c,kind=frame,transport=ws",
		"janustap_transaction_reply_seconds,transport=http,count",
		"janustap_transaction_reply_seconds,transport=ws,count",
		"janustap_transaction_event_seconds,transport=http,count",
		"janustap_transaction_event_seconds,transport=ws,count",
	} {
		if after[key] <= before[key] {
			t.Errorf("%s: %v before the flows, %v after; want it to grow", key, before[key], after[key])
		}
	}
	for _, key := range []string{"janustap_sessions_active", "janustap_handles_active", "janustap_events_dropped_total", "janustap_publish_failing"} {
		if after[key] != 0 {
			t.Errorf("%s = %v after flows that destroyed their sessions, want 0", key, after[key])
		}
	}
	for _, key := range []string{"go_goroutines", "process_resident_memory_bytes", "janustap_spool_pending_events", "janustap_websockets_open", "janustap_jetstream_repairs_total",
		"janustap_body_timeouts_total", "janustap_bodies_too_large_total", "janustap_bodies_busy_total", "janustap_bodies_inflight_bytes", "janustap_conns_full_total"} {
		if _, ok := after[key]; !ok {
			t.Errorf("%s missing from /metrics", key)
		}
	}
}
