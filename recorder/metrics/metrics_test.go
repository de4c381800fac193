package metrics_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/janustap/janustap/recorder/metrics"
	"github.com/janustap/janustap/schema"
)

// msg makes an event of conn over transport.
func msg(transport schema.Transport, conn string, dir schema.Direction, kind schema.Kind, mono int64, j *schema.Janus) *schema.Event {
	return &schema.Event{Gateway: "gw", Conn: conn, Transport: transport, Direction: dir, Kind: kind, Mono: mono, Janus: j}
}

func req(conn string, mono int64, verb, tx string, session, handle uint64) *schema.Event {
	return msg(schema.WS, conn, schema.ToGateway, schema.Frame, mono, &schema.Janus{Janus: verb, Transaction: tx, SessionID: session, HandleID: handle})
}

func reply(conn string, mono int64, typ, tx string, session, dataID uint64) *schema.Event {
	return msg(schema.WS, conn, schema.ToClient, schema.Frame, mono, &schema.Janus{Janus: typ, Transaction: tx, SessionID: session, DataID: dataID})
}

// TestLive follows sessions and handles through the ways they begin and end.
func TestLive(t *testing.T) {
	tests := []struct {
		name             string
		events           []*schema.Event
		sessions, handle int
	}{
		{"created", []*schema.Event{req("c1", 0, "create", "t1", 0, 0), reply("c1", 10, "success", "t1", 0, 100)}, 1, 0},
		{"a create that failed", []*schema.Event{req("c1", 0, "create", "t1", 0, 0), reply("c1", 10, "error", "t1", 0, 0)}, 0, 0},
		{"attached", []*schema.Event{
			req("c1", 0, "create", "t1", 0, 0), reply("c1", 10, "success", "t1", 0, 100),
			req("c1", 20, "attach", "t2", 100, 0), reply("c1", 30, "success", "t2", 100, 200),
		}, 1, 1},
		{"detached", []*schema.Event{
			req("c1", 0, "create", "t1", 0, 0), reply("c1", 10, "success", "t1", 0, 100),
			req("c1", 20, "attach", "t2", 100, 0), reply("c1", 30, "success", "t2", 100, 200),
			req("c1", 40, "detach", "t3", 100, 200), reply("c1", 50, "success", "t3", 100, 0),
		}, 1, 0},
		{"handle gone by Janus's detached event", []*schema.Event{
			req("c1", 0, "create", "t1", 0, 0), reply("c1", 10, "success", "t1", 0, 100),
			req("c1", 20, "attach", "t2", 100, 0), reply("c1", 30, "success", "t2", 100, 200),
			msg(schema.WS, "c1", schema.ToClient, schema.Frame, 40, &schema.Janus{Janus: "detached", SessionID: 100, Sender: 200}),
		}, 1, 0},
		{"destroyed, with its handles", []*schema.Event{
			req("c1", 0, "create", "t1", 0, 0), reply("c1", 10, "success", "t1", 0, 100),
			req("c1", 20, "attach", "t2", 100, 0), reply("c1", 30, "success", "t2", 100, 200),
			req("c1", 40, "destroy", "t3", 100, 0), reply("c1", 50, "success", "t3", 100, 0),
		}, 0, 0},
		{"timed out", []*schema.Event{
			req("c1", 0, "create", "t1", 0, 0), reply("c1", 10, "success", "t1", 0, 100),
			msg(schema.WS, "c1", schema.ToClient, schema.Frame, 40, &schema.Janus{Janus: "timeout", SessionID: 100}),
		}, 0, 0},
		{"its WebSocket closed", []*schema.Event{
			req("c1", 0, "create", "t1", 0, 0), reply("c1", 10, "success", "t1", 0, 100),
			req("c2", 0, "create", "t1", 0, 0), reply("c2", 10, "success", "t1", 0, 101),
			msg(schema.WS, "c1", schema.ToClient, schema.Close, 40, nil),
		}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := metrics.New()
			for _, ev := range tt.events {
				m.Observe(ev)
			}
			if got := metric(t, m, "janustap_sessions_active").GetGauge().GetValue(); int(got) != tt.sessions {
				t.Errorf("sessions_active = %v, want %d", got, tt.sessions)
			}
			if got := metric(t, m, "janustap_handles_active").GetGauge().GetValue(); int(got) != tt.handle {
				t.Errorf("handles_active = %v, want %d", got, tt.handle)
			}
		})
	}
}

// TestLatencyAndErrors: an ack then an event give one reply and one event
// latency; a Janus error and a plugin error are counted by code.
func TestLatencyAndErrors(t *testing.T) {
	m := metrics.New()
	m.Observe(req("c1", 1_000_000, "message", "m1", 100, 200))
	m.Observe(reply("c1", 3_000_000, "ack", "m1", 100, 0))
	m.Observe(msg(schema.WS, "c1", schema.ToClient, schema.Frame, 51_000_000, &schema.Janus{Janus: "event", Transaction: "m1", SessionID: 100, Plugin: "janus.plugin.videoroom", PluginError: 428}))
	m.Observe(req("c1", 60_000_000, "attach", "a1", 999, 0))
	m.Observe(msg(schema.WS, "c1", schema.ToClient, schema.Frame, 61_000_000, &schema.Janus{Janus: "error", Transaction: "a1", SessionID: 999, ErrorCode: 458}))
	m.Observe(msg(schema.WS, "c1", schema.ToClient, schema.Frame, 62_000_000, &schema.Janus{Janus: "error", ErrorCode: 458}))

	if n := testutil.CollectAndCount(m.Registry(), "janustap_transaction_reply_seconds"); n != 1 {
		t.Errorf("reply histograms: %d series, want 1 (ws)", n)
	}
	err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(`
# HELP janustap_janus_errors_total Janus core errors (janus: error) by error code.
# TYPE janustap_janus_errors_total counter
janustap_janus_errors_total{code="458"} 2
# HELP janustap_plugin_errors_total Plugin errors (error_code in the plugin data) by plugin and code.
# TYPE janustap_plugin_errors_total counter
janustap_plugin_errors_total{code="428",plugin="janus.plugin.videoroom"} 1
# HELP janustap_messages_total Messages the tap forwarded and recorded, by transport, direction (c2g, g2c) and kind (request, response, poll-event, frame, open, close, failure).
# TYPE janustap_messages_total counter
janustap_messages_total{direction="c2g",kind="frame",transport="ws"} 2
janustap_messages_total{direction="g2c",kind="frame",transport="ws"} 4
`), "janustap_janus_errors_total", "janustap_plugin_errors_total", "janustap_messages_total")
	if err != nil {
		t.Error(err)
	}
	h := metric(t, m, "janustap_transaction_reply_seconds").GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() < 0.0029 || h.GetSampleSum() > 0.0031 {
		t.Errorf("reply latency: %d samples summing %v s, want 2 summing 3 ms (2 ms ack, 1 ms error)", h.GetSampleCount(), h.GetSampleSum())
	}
	h = metric(t, m, "janustap_transaction_event_seconds").GetHistogram()
	if h.GetSampleCount() != 1 || h.GetSampleSum() < 0.0499 || h.GetSampleSum() > 0.0501 {
		t.Errorf("event latency: %d samples summing %v s, want 1 of 50 ms", h.GetSampleCount(), h.GetSampleSum())
	}
}

// metric returns the one series of the metric called name.
func metric(t *testing.T, m *metrics.Metrics, name string) *dto.Metric {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			if len(f.GetMetric()) != 1 {
				t.Fatalf("%s has %d series, want 1", name, len(f.GetMetric()))
			}
			return f.GetMetric()[0]
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}

// BenchmarkObserve is the cost Observe adds to every message on the tap's
// request path: a request and its answer per iteration.
func BenchmarkObserve(b *testing.B) {
	m := metrics.New()
	q := req("c1", 0, "message", "m1", 100, 200)
	a := reply("c1", 10, "success", "m1", 100, 0)
	b.ReportAllocs()
	for b.Loop() {
		m.Observe(q)
		m.Observe(a)
	}
}
