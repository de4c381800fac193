// Package evh receives the events Janus reports through its HTTP event
// handler (sampleevh: sessions, handles, JSEP, ICE, DTLS, media, plugins,
// transports) and turns each into a schema.JanusEvent, spooled before the
// POST is answered, like every message the tap forwards.
//
// sampleevh posts one event, or with grouping a JSON array of them,
// optionally gzip-compressed (Content-Encoding: gzip) and with HTTP basic
// authentication. It waits for each answer and retries a POST that failed
// with a backoff; an event's id is made from the event itself
// (schema.EvhID), so the events of a retried POST are stored once.
//
// It may import health and schema.
package evh

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/janustap/janustap/recorder/health"
	"github.com/janustap/janustap/schema"
)

// HealthPart is the name the receiver reports under to health.Status.
const HealthPart = "evh"

// Emitter takes the events the receiver makes (the spool, in serve).
type Emitter interface {
	Emit(ev *schema.Event) error
}

// Receiver answers sampleevh's POSTs. Set its fields, then serve it with
// Serve or use it as an http.Handler.
type Receiver struct {
	// Gateway names the Janus the events come from. Required.
	Gateway string
	// FromEmitter takes the gateway from each event's emitter (Janus's
	// server_name) when it has one, for a receiver that collects the
	// events of several Janus instances whose taps run with
	// --gateway set to their server_name. False: every event is Gateway's.
	FromEmitter bool
	// Tap identifies the tap process in the events (schema.Event.Tap).
	Tap string
	// Emitter receives each event before the POST is answered. Required.
	Emitter Emitter
	// User and Password, when User is set, are required as HTTP basic
	// authentication (sampleevh's backend_user and backend_pwd).
	User, Password string
	// MaxBody is the largest POST accepted, in bytes, compressed and
	// uncompressed alike; a larger one is answered 413. 0 means 16 MiB.
	MaxBody int64
	// EventBodyLimit is the number of bytes of one Janus event kept in its
	// event; a longer one is kept cut, with its size and SHA-256. 0 means
	// 1 MiB.
	EventBodyLimit int
	// Health receives the receiver's state: an error while events cannot
	// be spooled. Nil: nobody listens.
	Health *health.Status
	// Logger receives the receiver's logs; nil means slog.Default().
	Logger *slog.Logger
	// Now reads the clock; nil means time.Now.
	Now func() time.Time

	start atomic.Pointer[time.Time]
	conns atomic.Uint64 // connection ids handed out, one per POST
	stats counters
}

type counters struct {
	posts, events, rejected, emitErrors atomic.Uint64
}

// Stats counts what the receiver did.
type Stats struct {
	Posts      uint64 // POSTs answered 200
	Events     uint64 // Janus events spooled
	Rejected   uint64 // POSTs answered 4xx
	EmitErrors uint64 // events the spool refused (the POST was answered 503)
}

// Stats returns the receiver's counters.
func (r *Receiver) Stats() Stats {
	return Stats{Posts: r.stats.posts.Load(), Events: r.stats.events.Load(),
		Rejected: r.stats.rejected.Load(), EmitErrors: r.stats.emitErrors.Load()}
}

func (r *Receiver) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.Default()
	}
	return r.Logger
}

func (r *Receiver) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

// started returns when the receiver started, for events' Mono.
func (r *Receiver) started() time.Time {
	if s := r.start.Load(); s != nil {
		return *s
	}
	t := r.now()
	if r.start.CompareAndSwap(nil, &t) {
		return t
	}
	return *r.start.Load()
}

// Serve answers POSTs on ln until ctx is done, then shuts the server down,
// letting the POSTs being answered finish.
func (r *Receiver) Serve(ctx context.Context, ln net.Listener) error {
	if r.Gateway == "" || r.Emitter == nil {
		return errors.New("evh receiver: no gateway or no emitter")
	}
	r.started()
	r.Health.Set(HealthPart, nil)
	srv := &http.Server{
		Handler:           r,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(r.logger().Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	<-done
	return err
}

// ServeHTTP answers one POST of sampleevh: 200 once its events are spooled;
// 400 for a body that is not Janus events (nothing of it is kept), 401
// without the configured credentials, 405 for another method, 413 for a
// body over MaxBody, 415 for an encoding other than gzip, 503 when the
// spool refused an event (Janus retries; the events spooled before it are
// stored once all the same).
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	at := r.now()
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		r.reject(w, req, http.StatusMethodNotAllowed, "only POST carries Janus events")
		return
	}
	if r.User != "" {
		u, p, ok := req.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(r.User)) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), []byte(r.Password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="janustap evh"`)
			r.reject(w, req, http.StatusUnauthorized, "wrong or missing credentials")
			return
		}
	}
	body, status, err := r.readBody(w, req)
	if err != nil {
		r.reject(w, req, status, err.Error())
		return
	}
	elems, err := schema.SplitEvh(body)
	if err != nil {
		r.reject(w, req, http.StatusBadRequest, err.Error())
		return
	}
	envs := make([]schema.EvhEnvelope, len(elems))
	for i, b := range elems {
		if envs[i], err = schema.ParseEvhEnvelope(b); err != nil {
			r.reject(w, req, http.StatusBadRequest, fmt.Sprintf("element %d: %v", i, err))
			return
		}
	}

	conn := r.Tap + "-e" + strconv.FormatUint(r.conns.Add(1), 10)
	mono := int64(at.Sub(r.started()))
	grouped := len(body) > 0 && bytes.TrimSpace(body)[0] == '['
	limit := r.EventBodyLimit
	if limit == 0 {
		limit = 1 << 20
	}
	for i, b := range elems {
		ev := &schema.Event{Tap: r.Tap, Conn: conn, Seq: uint64(i + 1), Time: at, Mono: mono,
			Method: req.Method, Path: req.URL.Path}
		if grouped {
			ev.Part, ev.Parts, ev.Batch = i, len(elems), true
		}
		gw := r.Gateway
		if r.FromEmitter && envs[i].Emitter != "" {
			gw = envs[i].Emitter
		}
		schema.EvhEvent(ev, gw, envs[i], b)
		if len(b) > limit {
			ev.Body, ev.Truncated, ev.BodySHA256 = b[:limit], true, schema.SHA256(b)
		}
		if err := r.Emitter.Emit(ev); err != nil {
			r.stats.emitErrors.Add(1)
			r.Health.Set(HealthPart, fmt.Errorf("spool janus events: %w", err))
			r.logger().Error("janus event not spooled; answering 503 for sampleevh to retry", "event_id", ev.ID, "err", err)
			http.Error(w, "janus event not stored: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		r.stats.events.Add(1)
	}
	r.Health.Set(HealthPart, nil)
	r.stats.posts.Add(1)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, "{\"stored\":%d}\n", len(elems))
}

// readBody reads the POST's body, gunzipped when it is gzip, within
// MaxBody. On error it returns the status to answer.
func (r *Receiver) readBody(w http.ResponseWriter, req *http.Request) ([]byte, int, error) {
	max := r.MaxBody
	if max == 0 {
		max = 16 << 20
	}
	if req.ContentLength > max {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body of %d bytes is over the limit of %d", req.ContentLength, max)
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, req.Body, max))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body over the limit of %d bytes", max)
		}
		return nil, http.StatusBadRequest, fmt.Errorf("read body: %w", err)
	}
	enc := req.Header.Get("Content-Encoding")
	switch {
	case enc == "gzip" || enc == "x-gzip" || enc == "" && len(raw) >= 2 && raw[0] == 0x1f && raw[1] == 0x8b:
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("gunzip body: %w", err)
		}
		out, err := io.ReadAll(io.LimitReader(zr, max+1))
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("gunzip body: %w", err)
		}
		if int64(len(out)) > max {
			return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("uncompressed body over the limit of %d bytes", max)
		}
		return out, 0, nil
	case enc == "" || enc == "identity":
		return raw, 0, nil
	}
	return nil, http.StatusUnsupportedMediaType, fmt.Errorf("content encoding %q: only gzip is understood", enc)
}

// reject answers a POST that carries no events the receiver can keep.
func (r *Receiver) reject(w http.ResponseWriter, req *http.Request, status int, reason string) {
	r.stats.rejected.Add(1)
	r.logger().Warn("janus event handler post refused", "status", status, "remote", req.RemoteAddr, "reason", reason)
	http.Error(w, reason, status)
}

// Listen listens on addr for the receiver. When addr is taken and
// isDefault says it was not asked for explicitly, it listens on a free
// loopback port instead and logs a warning: a second serve on one machine
// starts without flags, its Janus told the URL it got (see URL).
func Listen(addr string, isDefault bool, log *slog.Logger) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	if !isDefault || !errors.Is(err, errAddrInUse) {
		return nil, fmt.Errorf("listen for janus events on %s: %w", addr, err)
	}
	ln, err2 := net.Listen("tcp", "127.0.0.1:0")
	if err2 != nil {
		return nil, fmt.Errorf("listen for janus events on %s: %w; on a free port: %w", addr, err, err2)
	}
	if log == nil {
		log = slog.Default()
	}
	log.Warn("janus event handler address taken; listening on a free port instead (point sampleevh's backend at it)",
		"wanted", addr, "url", URL(ln.Addr()))
	return ln, nil
}

// URL is the backend URL of a receiver listening on addr, for sampleevh.
func URL(addr net.Addr) string { return "http://" + addr.String() + "/" }
