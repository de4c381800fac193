// Package metrics exports what a running tap sees to Prometheus: messages by
// transport, direction and kind, transaction latencies, Janus's error codes,
// live sessions, handles and WebSockets, and the state of the spool, the
// publisher and the projection.
//
// Metrics watches the events the tap emits (Observe, on the request path:
// a few map operations under one mutex, no allocation for most events) and
// reads the other parts' counters when it is scraped. Labels never carry
// session, handle or transaction ids, so their number stays bounded.
//
// It imports the schema and client_golang, and nothing else of janustap.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/janustap/janustap/schema"
)

// Idle is how long a session may go without a message before the live
// counts stop counting it. Janus times a session out after 60 s without a
// keepalive by default, and tells only its owner, which may not be polling.
const Idle = 5 * time.Minute

// pendingTTL is how long a request waits for its reply or event before it
// is forgotten (a trickle or keepalive is only ever acked).
const pendingTTL = 2 * time.Minute

// Metrics is the tap's Prometheus registry. Create it with New.
type Metrics struct {
	reg *prometheus.Registry

	messages     *prometheus.CounterVec
	replyLatency *prometheus.HistogramVec
	eventLatency *prometheus.HistogramVec
	janusErrors  *prometheus.CounterVec
	pluginErrors *prometheus.CounterVec

	mu       sync.Mutex
	counters map[msgKey]prometheus.Counter
	pending  map[txKey]pending
	sessions map[sessKey]*session
	handles  map[sessKey]uint64 // handle → its session
	inserts  int
	now      func() time.Time
}

type msgKey struct {
	transport schema.Transport
	dir       schema.Direction
	kind      schema.Kind
}

// txKey names a request in flight: Janus echoes the transaction and the
// session (none for a create), on whichever connection the answer comes.
type txKey struct {
	gateway string
	session uint64
	tx      string
}

type pending struct {
	mono      int64
	transport schema.Transport
	verb      string // the request's janus: create, attach, destroy...
	handle    uint64 // the handle it was sent to
	replied   bool
	at        time.Time
}

type sessKey struct {
	gateway string
	id      uint64
}

type session struct {
	conn    string // the WebSocket that created it, "" over REST
	handles int
	seen    time.Time
}

// New makes the metrics and registers them, with Go's runtime and process
// collectors, in a registry of their own.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "janustap_messages_total",
			Help: "Messages the tap forwarded and recorded, by transport, direction (c2g, g2c) and kind (request, response, poll-event, frame, open, close, failure).",
		}, []string{"transport", "direction", "kind"}),
		replyLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "janustap_transaction_reply_seconds",
			Help:    "Time from a Janus API request to its first answer (ack, success, error), on the tap's monotonic clock.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 12),
		}, []string{"transport"}),
		eventLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "janustap_transaction_event_seconds",
			Help:    "Time from a Janus API request to the asynchronous event that carries its transaction.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}, []string{"transport"}),
		janusErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "janustap_janus_errors_total",
			Help: "Janus core errors (janus: error) by error code.",
		}, []string{"code"}),
		pluginErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "janustap_plugin_errors_total",
			Help: "Plugin errors (error_code in the plugin data) by plugin and code.",
		}, []string{"plugin", "code"}),
		counters: make(map[msgKey]prometheus.Counter),
		pending:  make(map[txKey]pending),
		sessions: make(map[sessKey]*session),
		handles:  make(map[sessKey]uint64),
		now:      time.Now,
	}
	m.reg.MustRegister(m.messages, m.replyLatency, m.eventLatency, m.janusErrors, m.pluginErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "janustap_sessions_active",
		Help: "Janus sessions created through the tap and not yet destroyed, timed out, closed with their WebSocket, or idle for 5 minutes.",
	}, func() float64 { n, _ := m.live(); return float64(n) }))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "janustap_handles_active",
		Help: "Handles attached in the live sessions and not yet detached.",
	}, func() float64 { _, n := m.live(); return float64(n) }))
	return m
}

// Gauge registers a gauge read from f at each scrape.
func (m *Metrics) Gauge(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// Counter registers a counter read from f at each scrape; f must never go
// down.
func (m *Metrics) Counter(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
}

// Handler serves the metrics in Prometheus's text format (or OpenMetrics,
// when the scraper asks for it).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// Registry is the registry, for tests and for anyone adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Observe counts one event the tap emitted. A nil *Metrics does nothing.
func (m *Metrics) Observe(ev *schema.Event) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := msgKey{ev.Transport, ev.Direction, ev.Kind}
	c, ok := m.counters[k]
	if !ok {
		c = m.messages.WithLabelValues(string(ev.Transport), string(ev.Direction), string(ev.Kind))
		m.counters[k] = c
	}
	c.Inc()

	if ev.Kind == schema.Close && ev.Transport == schema.WS {
		// Janus destroys the sessions of a WebSocket that goes.
		for k, s := range m.sessions {
			if s.conn == ev.Conn {
				m.endSession(k)
			}
		}
		return
	}
	j := ev.Janus
	if j == nil || ev.Transport == schema.AdminHTTP || ev.Transport == schema.AdminWS {
		return
	}
	now := m.now()
	if j.SessionID != 0 {
		if s := m.sessions[sessKey{ev.Gateway, j.SessionID}]; s != nil {
			s.seen = now
		}
	}
	if ev.Direction == schema.ToGateway {
		if j.Transaction != "" {
			m.pending[txKey{ev.Gateway, j.SessionID, j.Transaction}] = pending{
				mono: ev.Mono, transport: ev.Transport, verb: j.Janus, handle: j.HandleID, at: now}
			if m.inserts++; m.inserts%1024 == 0 {
				m.sweep(now)
			}
		}
		return
	}
	m.answer(ev, j, now)
}

// answer handles a message from Janus.
func (m *Metrics) answer(ev *schema.Event, j *schema.Janus, now time.Time) {
	switch j.Janus {
	case "error":
		m.janusErrors.WithLabelValues(strconv.Itoa(j.ErrorCode)).Inc()
	case "timeout":
		m.endSession(sessKey{ev.Gateway, j.SessionID})
	case "detached":
		m.endHandle(sessKey{ev.Gateway, j.Sender})
	}
	if j.PluginError != 0 {
		m.pluginErrors.WithLabelValues(j.Plugin, strconv.Itoa(j.PluginError)).Inc()
	}
	if j.Transaction == "" {
		return
	}
	k := txKey{ev.Gateway, j.SessionID, j.Transaction}
	p, ok := m.pending[k]
	if !ok {
		return
	}
	d := time.Duration(ev.Mono - p.mono).Seconds()
	switch j.Janus {
	case "event":
		m.eventLatency.WithLabelValues(string(p.transport)).Observe(d)
		delete(m.pending, k)
		return
	case "ack":
		// An event may follow.
		if !p.replied {
			m.replyLatency.WithLabelValues(string(p.transport)).Observe(d)
			p.replied = true
			m.pending[k] = p
		}
		return
	}
	if !p.replied {
		m.replyLatency.WithLabelValues(string(p.transport)).Observe(d)
	}
	delete(m.pending, k)
	if j.Janus != "success" {
		return
	}
	switch p.verb {
	case "create":
		s := &session{seen: now}
		if ev.Transport == schema.WS {
			s.conn = ev.Conn
		}
		m.sessions[sessKey{ev.Gateway, j.DataID}] = s
	case "attach":
		if s := m.sessions[sessKey{ev.Gateway, j.SessionID}]; s != nil {
			if _, dup := m.handles[sessKey{ev.Gateway, j.DataID}]; !dup {
				m.handles[sessKey{ev.Gateway, j.DataID}] = j.SessionID
				s.handles++
			}
		}
	case "detach":
		m.endHandle(sessKey{ev.Gateway, p.handle})
	case "destroy":
		m.endSession(sessKey{ev.Gateway, k.session})
	}
}

// endSession forgets a session and its handles.
func (m *Metrics) endSession(k sessKey) {
	if _, ok := m.sessions[k]; !ok {
		return
	}
	for h, sid := range m.handles {
		if h.gateway == k.gateway && sid == k.id {
			delete(m.handles, h)
		}
	}
	delete(m.sessions, k)
}

// endHandle forgets a handle.
func (m *Metrics) endHandle(k sessKey) {
	sid, ok := m.handles[k]
	if !ok {
		return
	}
	delete(m.handles, k)
	if s := m.sessions[sessKey{k.gateway, sid}]; s != nil {
		s.handles--
	}
}

// sweep forgets requests that waited too long for an answer and sessions
// idle for longer than Idle.
func (m *Metrics) sweep(now time.Time) {
	for k, p := range m.pending {
		if now.Sub(p.at) > pendingTTL {
			delete(m.pending, k)
		}
	}
	for k, s := range m.sessions {
		if now.Sub(s.seen) > Idle {
			m.endSession(k)
		}
	}
}

// live counts the live sessions and their handles.
func (m *Metrics) live() (sessions, handles int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(m.now())
	return len(m.sessions), len(m.handles)
}
