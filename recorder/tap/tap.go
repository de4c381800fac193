package tap

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/janustap/janustap/schema"
)

// Emitter receives every event the tap makes, before the message it records
// is forwarded. Emit must not block on anything slow (the network, a
// database); an error means the event is lost, and the tap counts it.
type Emitter interface {
	Emit(ev *schema.Event) error
}

// EmitterFunc adapts a function to Emitter.
type EmitterFunc func(ev *schema.Event) error

// Emit calls f(ev).
func (f EmitterFunc) Emit(ev *schema.Event) error { return f(ev) }

// Config says where the tap forwards to and how it records.
type Config struct {
	// Gateway names the Janus behind the tap in every event. Required.
	Gateway string
	// JanusHTTP is the base URL of the Janus API over HTTP, such as
	// http://127.0.0.1:8088/janus. Empty disables the HTTP API.
	JanusHTTP string
	// JanusWS is the URL of the Janus WebSocket transport, such as
	// ws://127.0.0.1:8188. Empty disables it.
	JanusWS string
	// AdminHTTP is the base URL of the admin API over HTTP, such as
	// http://127.0.0.1:7088/admin. Its path is the prefix the tap routes to
	// it. Empty disables it.
	AdminHTTP string
	// AdminWS is the URL of the admin WebSocket transport. Empty disables it.
	AdminWS string

	// Emitter receives the events. Required.
	Emitter Emitter
	// KeepSecrets keeps API secrets, tokens, admin secrets and authorization
	// headers in events. By default they are replaced by
	// schema.RedactedMarker.
	KeepSecrets bool
	// MaxBody is the largest request body or inbound WebSocket message the
	// tap accepts, in bytes. A larger HTTP body is answered 413 and a larger
	// WebSocket message closes the connection with 1009, as a failure event
	// records. Zero means 64 MiB.
	MaxBody int64
	// EventBodyLimit is how many bytes of a body an event keeps; a longer
	// body is truncated in the event (Truncated, BodySize and BodySHA256
	// say so) but forwarded whole. Zero means 1 MiB; negative means no limit.
	EventBodyLimit int
	// MaxIdleConns is the number of idle upstream HTTP connections kept for
	// reuse. Every held long-poll needs its own connection, so this should
	// exceed the number of concurrent clients. Zero means 1024.
	MaxIdleConns int
	// BodyTimeout is how long a request body may take to arrive, from its
	// first byte asked for, plus a second for every BodyMinRate bytes. A
	// body still incomplete then is answered 408 and recorded as a failure
	// event. Zero means 10 s; negative means no limit.
	BodyTimeout time.Duration
	// BodyMinRate is the rate, in bytes a second, that a long body must
	// keep up on average past BodyTimeout. Zero means 64 KiB/s; negative
	// means none (BodyTimeout alone).
	BodyMinRate int64
	// MaxInflight caps the memory request bodies take at once, all
	// connections together: a request whose body would take it past the
	// cap is answered 503 without its body being read (or, for a body of
	// unknown length, once it would). A body with a Content-Length takes
	// its length; one without takes the buffers it grows through, up to
	// twice its size. Zero means 128 MiB; negative means no cap.
	MaxInflight int64
	// MaxConns caps the client connections (HTTP and WebSocket) open at
	// once; past it the tap stops accepting until one closes, so that
	// descriptors stay free for the spool, NATS and SQLite. Zero means no
	// cap (serve derives one from the descriptor limit).
	MaxConns int
	// Transport carries HTTP requests to Janus. Nil means the tap's own
	// pool of keep-alive connections for http:// (see connPool) and an
	// http.Transport for https://, both sized by MaxIdleConns.
	Transport http.RoundTripper
	// Logger receives warnings; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Stats counts what the tap has done since it started.
type Stats struct {
	Events       uint64 // events emitted
	EmitErrors   uint64 // events the Emitter refused (lost)
	HTTPRequests uint64 // HTTP requests received
	WSConns      uint64 // WebSocket connections accepted
	WSOpen       int64  // WebSocket connections open now
	Failures     uint64 // failure events: gateway down, bodies too large...
	BodyTimeouts uint64 // request bodies that did not arrive in time (408)
	TooLarge     uint64 // request bodies refused over MaxBody (413)
	Busy         uint64 // requests refused over MaxInflight (503)
	ConnsFull    uint64 // times accepting waited for a connection slot (MaxConns)
	Inflight     int64  // request body bytes held now
}

// Tap is the proxy. Create it with New; it is safe for concurrent use.
type Tap struct {
	cfg    Config
	id     string // this tap process, in every event and connection id
	start  time.Time
	ids    schema.IDGen
	logger *slog.Logger

	janusHTTP, adminHTTP *url.URL
	janusWS, adminWS     string
	adminPrefix          string
	transport            http.RoundTripper
	dialer               *websocket.Dialer // for ws: URLs
	tlsDialer            *websocket.Dialer // for wss: URLs
	upgrader             websocket.Upgrader

	conns      atomic.Uint64 // connection ids handed out
	events     atomic.Uint64
	emitErrors atomic.Uint64
	httpReqs   atomic.Uint64
	wsConns    atomic.Uint64
	wsOpen     atomic.Int64
	failures   atomic.Uint64
	bodyTOs    atomic.Uint64
	tooLarge   atomic.Uint64
	busy       atomic.Uint64
	connsFull  atomic.Uint64
	inflight   atomic.Int64  // request body bytes held (see reserve)
	connSlots  chan struct{} // of MaxConns, shared by every listener; nil: no cap

	mu     sync.Mutex
	live   map[*wsPair]struct{} // open WebSocket pairs, closed by Shutdown
	closed bool
	relays sync.WaitGroup // goroutines relaying the pairs in live, two a pair

	wsIdleAfter time.Duration // wsIdleAfter; tests shorten it
}

// New validates cfg and returns a tap.
func New(cfg Config) (*Tap, error) {
	if err := schema.ValidGateway(cfg.Gateway); err != nil {
		return nil, fmt.Errorf("new tap: %w", err)
	}
	if cfg.Emitter == nil {
		return nil, errors.New("new tap: no emitter")
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 64 << 20
	}
	if cfg.EventBodyLimit == 0 {
		cfg.EventBodyLimit = 1 << 20
	}
	if cfg.MaxIdleConns == 0 {
		cfg.MaxIdleConns = 1024
	}
	if cfg.BodyTimeout == 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	if cfg.BodyMinRate == 0 {
		cfg.BodyMinRate = DefaultBodyMinRate
	}
	if cfg.MaxInflight == 0 {
		cfg.MaxInflight = DefaultMaxInflight
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	t := &Tap{
		cfg:    cfg,
		id:     newTapID(),
		start:  cfg.Now(),
		logger: cfg.Logger.With("part", "tap", "gateway", cfg.Gateway),
		live:   make(map[*wsPair]struct{}),

		wsIdleAfter: wsIdleAfter,
	}
	if cfg.MaxConns > 0 {
		t.connSlots = make(chan struct{}, cfg.MaxConns)
	}
	var err error
	if t.janusHTTP, err = parseUpstream(cfg.JanusHTTP, "http", "https"); err != nil {
		return nil, fmt.Errorf("new tap: janus http: %w", err)
	}
	if t.adminHTTP, err = parseUpstream(cfg.AdminHTTP, "http", "https"); err != nil {
		return nil, fmt.Errorf("new tap: admin http: %w", err)
	}
	if t.adminHTTP != nil {
		t.adminPrefix = strings.TrimSuffix(t.adminHTTP.Path, "/")
		if t.adminPrefix == "" {
			return nil, errors.New("new tap: admin http URL needs a base path, such as /admin")
		}
	}
	if u, err := parseUpstream(cfg.JanusWS, "ws", "wss"); err != nil {
		return nil, fmt.Errorf("new tap: janus ws: %w", err)
	} else if u != nil {
		t.janusWS = u.String()
	}
	if u, err := parseUpstream(cfg.AdminWS, "ws", "wss"); err != nil {
		return nil, fmt.Errorf("new tap: admin ws: %w", err)
	} else if u != nil {
		t.adminWS = u.String()
	}
	if t.janusHTTP == nil && t.adminHTTP == nil && t.janusWS == "" && t.adminWS == "" {
		return nil, errors.New("new tap: no upstream: set at least one Janus URL")
	}
	transport := cfg.Transport
	if transport == nil {
		transport = &upstreamTransport{
			plain: newConnPool(cfg.MaxIdleConns),
			tls: &http.Transport{
				Proxy:               nil, // the gateway is reached directly, never via HTTP_PROXY
				DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
				MaxIdleConns:        cfg.MaxIdleConns,
				MaxIdleConnsPerHost: cfg.MaxIdleConns,
				IdleConnTimeout:     90 * time.Second,
				DisableCompression:  true, // forward bodies as Janus wrote them
			},
		}
	}
	t.transport = transport
	// Idle WebSockets should cost little: write buffers come from pools and
	// are held only while a message is written, and each side reads through
	// a small buffer of its own (a longer message is read in several
	// chunks). The client side does not keep the 4 KiB buffer the HTTP
	// server read the request with. Both sides are read through a
	// relayConn (see wsRelay), except an upstream reached through TLS.
	t.tlsDialer = &websocket.Dialer{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   wsReadBuffer,
		WriteBufferSize:  4096,
		WriteBufferPool:  &sync.Pool{},
	}
	plain := *t.tlsDialer
	plain.NetDialContext = dialRelayConn
	t.dialer = &plain
	t.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   wsReadBuffer,
		WriteBufferSize:  4096,
		WriteBufferPool:  &sync.Pool{},
		CheckOrigin:      func(*http.Request) bool { return true }, // Janus checks nothing either
	}
	return t, nil
}

func parseUpstream(raw string, schemes ...string) (*url.URL, error) {
	if raw == "" {
		return nil, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	for _, s := range schemes {
		if u.Scheme == s {
			if u.Host == "" {
				return nil, fmt.Errorf("%q has no host", raw)
			}
			return u, nil
		}
	}
	return nil, fmt.Errorf("%q: scheme must be one of %v", raw, schemes)
}

func newTapID() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	v := uint64(b[0])<<32 | uint64(b[1])<<24 | uint64(b[2])<<16 | uint64(b[3])<<8 | uint64(b[4])
	out := make([]byte, 8)
	for i := range out {
		out[7-i] = alphabet[v&31]
		v >>= 5
	}
	return string(out)
}

// ID returns the id of this tap process, as events carry it.
func (t *Tap) ID() string { return t.id }

// Stats returns the tap's counters.
func (t *Tap) Stats() Stats {
	return Stats{
		Events:       t.events.Load(),
		EmitErrors:   t.emitErrors.Load(),
		HTTPRequests: t.httpReqs.Load(),
		WSConns:      t.wsConns.Load(),
		WSOpen:       t.wsOpen.Load(),
		Failures:     t.failures.Load(),
		BodyTimeouts: t.bodyTOs.Load(),
		TooLarge:     t.tooLarge.Load(),
		Busy:         t.busy.Load(),
		ConnsFull:    t.connsFull.Load(),
		Inflight:     t.inflight.Load(),
	}
}

// The defaults of the tap's limits (see Config).
const (
	DefaultBodyTimeout = 10 * time.Second
	DefaultBodyMinRate = 64 << 10
	DefaultMaxInflight = 128 << 20
)

// lateWatch: see server.lateWatch. Janus answers every request but a
// long-poll at once; one still unanswered after a second is watched.
const lateWatch = time.Second

// conn is one client connection: a TCP connection that carries HTTP
// requests, or a WebSocket. Its events are numbered in order.
type conn struct {
	id  string
	seq atomic.Uint64
}

type connKey struct{}

func (t *Tap) newConn() *conn {
	return &conn{id: t.id + "-" + strconv.FormatUint(t.conns.Add(1), 10)}
}

// ConnContext gives every TCP connection its own connection id. Set it as
// the http.Server's ConnContext when Handler is served by net/http; Serve's
// own server gives the ids itself.
func (t *Tap) ConnContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, t.newConn())
}

// connOf returns the connection of a request, or a new one when the server
// was not set up with ConnContext.
func (t *Tap) connOf(ctx context.Context) *conn {
	if c, ok := ctx.Value(connKey{}).(*conn); ok {
		return c
	}
	return t.newConn()
}

// Handler returns the handler that serves every API the tap forwards.
func (t *Tap) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if websocket.IsWebSocketUpgrade(r) {
			t.serveWS(w, r)
			return
		}
		t.httpReqs.Add(1)
		tr, up := schema.HTTP, t.janusHTTP
		if t.adminHTTP != nil && (r.URL.Path == t.adminPrefix || strings.HasPrefix(r.URL.Path, t.adminPrefix+"/")) {
			tr, up = schema.AdminHTTP, t.adminHTTP
		}
		if up == nil {
			http.Error(w, fmt.Sprintf("janustap: no %s upstream configured for gateway %s", tr, t.cfg.Gateway), http.StatusBadGateway)
			return
		}
		t.serveHTTP(w, r, tr, up)
	})
}

// Serve accepts connections on ln until ctx is done, then shuts down: it
// stops accepting, closes open WebSockets with 1001 (going away) and waits up
// to 5 seconds for HTTP requests in flight, then closes their connections
// too. It serves HTTP/1.1 with the tap's own server (see server.go), not
// net/http's.
func (t *Tap) Serve(ctx context.Context, ln net.Listener) error {
	srv := newServer(t.Handler(), t.logger, t.newConn)
	srv.refused = t.refused
	if t.cfg.BodyTimeout > 0 {
		srv.bodyTimeout, srv.bodyMinRate = t.cfg.BodyTimeout, max(t.cfg.BodyMinRate, 0)
	}
	srv.lateWatch = lateWatch
	srv.slots = t.connSlots
	srv.onFull = func() {
		if n := t.connsFull.Add(1); n&(n-1) == 0 {
			t.logger.Warn("connection limit reached; new connections wait", "max_conns", t.cfg.MaxConns, "times", n)
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.serve(ln, ctx.Done()) }()
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
		ln.Close()
		serveErr = <-errc
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	t.closeWebSockets()
	err := srv.shutdown(sctx)
	if ci, ok := t.transport.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
	t.waitWebSockets(sctx)
	if serveErr != nil {
		return fmt.Errorf("serve tap on %s: %w", ln.Addr(), serveErr)
	}
	if err != nil {
		return fmt.Errorf("shut down tap on %s: %w", ln.Addr(), err)
	}
	return nil
}

// refused records a request that the tap's server answered itself,
// unread or unforwarded (malformed, a head too large): a Failure event of
// the connection, with the status the client got and why.
func (t *Tap) refused(c *conn, status int, reason string) {
	if c == nil {
		c = t.newConn()
	}
	ev := t.newEvent(c, schema.HTTP, schema.ToClient, schema.Failure)
	ev.Status = status
	ev.Error = "request refused by the tap: " + reason
	t.emit(ev)
}

// newEvent starts an event of conn c.
func (t *Tap) newEvent(c *conn, tr schema.Transport, dir schema.Direction, kind schema.Kind) *schema.Event {
	now := t.cfg.Now()
	return &schema.Event{
		V:         schema.VersionOf(kind),
		ID:        t.ids.New(now),
		Gateway:   t.cfg.Gateway,
		Tap:       t.id,
		Conn:      c.id,
		Seq:       c.seq.Add(1),
		Time:      now,
		Mono:      int64(now.Sub(t.start)),
		Transport: tr,
		Direction: dir,
		Kind:      kind,
	}
}

// setBody puts body into ev: the Janus fields parsed from it, then the body
// with secrets redacted and cut to the event body limit.
func (t *Tap) setBody(ev *schema.Event, body []byte) {
	if len(body) == 0 {
		return
	}
	ev.BodySize = len(body)
	if j, err := schema.ParseJanus(body); err == nil {
		ev.Janus = j
	} else {
		ev.ParseError = err.Error()
	}
	ev.Body = body
	if lim := t.cfg.EventBodyLimit; lim > 0 && len(body) > lim {
		ev.BodySHA256 = schema.SHA256(body)
		ev.Body = body[:lim]
		ev.Truncated = true
	}
	if !t.cfg.KeepSecrets {
		schema.RedactEvent(ev)
	}
}

// setRequest copies what an event keeps of an HTTP request.
func (t *Tap) setRequest(ev *schema.Event, r *http.Request) {
	ev.Method = r.Method
	ev.Path = r.URL.Path
	ev.Query = r.URL.RawQuery
	ev.Header = schema.KeepHeaders(r.Header)
	if !t.cfg.KeepSecrets {
		schema.RedactEvent(ev)
	}
}

// emit hands ev to the Emitter. It never fails the caller: a lost event is
// counted and logged (the first, then every power of two).
func (t *Tap) emit(ev *schema.Event) {
	if err := t.cfg.Emitter.Emit(ev); err != nil {
		n := t.emitErrors.Add(1)
		if n&(n-1) == 0 {
			t.logger.Error("event lost", "event_id", ev.ID, "lost", n, "err", err)
		}
		return
	}
	t.events.Add(1)
	if ev.Kind == schema.Failure {
		t.failures.Add(1)
	}
}

// fail emits a Failure event of conn c linked to parent.
func (t *Tap) fail(c *conn, tr schema.Transport, parent *schema.Event, msg string) *schema.Event {
	return t.failStatus(c, tr, parent, 0, msg)
}

// failStatus emits a Failure event of conn c linked to parent, for a request
// the tap answered itself with status.
func (t *Tap) failStatus(c *conn, tr schema.Transport, parent *schema.Event, status int, msg string) *schema.Event {
	ev := t.newEvent(c, tr, schema.ToClient, schema.Failure)
	ev.Status = status
	if parent != nil {
		ev.Parent = parent.ID
		ev.Method, ev.Path, ev.Query = parent.Method, parent.Path, parent.Query
		if parent.Janus != nil {
			ev.Janus = &schema.Janus{SessionID: parent.Janus.SessionID, HandleID: parent.Janus.HandleID, Transaction: parent.Janus.Transaction}
		}
	}
	ev.Error = msg
	t.emit(ev)
	return ev
}
