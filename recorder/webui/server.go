// Package webui serves janustap's web view of the store: a sessions page
// with the filters of `janustap sessions`, per session a ladder of every
// message with its verdict (package verdict), and a replay beside its
// capture when the server is given a way to compare runs (Compare).
// Templates and assets are embedded: it works offline, with nothing fetched
// from elsewhere. New events are pushed to open pages with server-sent
// events, from the event log when the server is given a way to follow it
// (Follow).
//
//	s := &webui.Server{DB: db, Follow: follow, Compare: compare}
//	err := s.Serve(ctx, ln)
//
// Routes: / (sessions; ?partial=1 for its rows alone), /s/GW/ID (a
// session), /s/GW/ID/export.jsonl and .har, /compare/GW/ID (a replay),
// /api/s/GW/ID (ladder and verdict as JSON), /api/event/SEQ (one event,
// its body and SDP), /live (server-sent events), /static/.
//
// It shows what the SQLite projection holds, and so sits in the recorder
// beside it: it may import store, verdict, schema and schema/har.
package webui

import (
	"bytes"
	"cmp"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/recorder/verdict"
	"github.com/janustap/janustap/schema"
	"github.com/janustap/janustap/schema/har"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Server serves the web view. Set fields before Handler or Serve.
type Server struct {
	// DB is the store to read. When nil, DBPath is opened on the first
	// request that needs it (serve starts its recorder, which creates the
	// file, beside the view).
	DB     *store.DB
	DBPath string
	// Follow, when set, follows the event log from now on and calls yield
	// with each new event until ctx is done; Serve runs it and pushes what
	// it yields to open pages. Nil means no live updates.
	Follow func(ctx context.Context, yield func(*schema.Event)) error
	Logger *slog.Logger // nil means slog.Default()
	// Compare, when set, compares a capture with a replay of it (both in
	// the order of their ladders) for the compare page, /compare/GW/ID of
	// a replayed session. Nil turns the page off. (The comparison lives in
	// the replayer, which the recorder's packages do not import.)
	Compare func(capture, replay []*schema.Event) *Comparison

	once     sync.Once
	tmpl     *template.Template
	dbMu     sync.Mutex
	hub      hub
	handler  http.Handler
	ownsDB   bool
	pageSize int
}

func (s *Server) init() {
	s.once.Do(func() {
		if s.Logger == nil {
			s.Logger = slog.Default()
		}
		if s.pageSize == 0 {
			s.pageSize = 50
		}
		s.tmpl = template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html"))
		static, _ := fs.Sub(staticFS, "static")
		mux := http.NewServeMux()
		mux.HandleFunc("GET /{$}", s.sessionsPage)
		mux.HandleFunc("GET /s/{gateway}/{id}", s.sessionPage)
		mux.HandleFunc("GET /s/{gateway}/{id}/export.jsonl", s.exportJSONL)
		mux.HandleFunc("GET /s/{gateway}/{id}/export.har", s.exportHAR)
		mux.HandleFunc("GET /s/{gateway}/{id}/ladder.svg", s.ladderSVG)
		mux.HandleFunc("GET /api/s/{gateway}/{id}", s.sessionData)
		mux.HandleFunc("GET /api/s/{gateway}/{id}/janus", s.janusData)
		mux.HandleFunc("GET /api/event/{seq}", s.eventData)
		mux.HandleFunc("GET /live", s.live)
		mux.HandleFunc("GET /compare/{gateway}/{id}", s.comparePage)
		mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
		s.handler = securityHeaders(mux)
	})
}

// securityHeaders keeps pages to their own origin: no script, style or
// connection elsewhere.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Inline styles place the ladder's arrows (style="left:..").
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// Handler returns the web view's handler.
func (s *Server) Handler() http.Handler {
	s.init()
	return s.handler
}

// Serve serves the view on ln until ctx is done, and follows the log for
// live updates when Follow is set.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.init()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	var wg sync.WaitGroup
	if s.Follow != nil {
		wg.Go(func() {
			// Retried with a backoff to 30 s; the same error is logged once.
			wait, last := time.Second, ""
			for ctx.Err() == nil {
				err := s.Follow(ctx, s.hub.publish)
				if ctx.Err() != nil {
					return
				}
				if msg := fmt.Sprint(err); msg != last {
					s.Logger.Warn("following the log for live updates (pages work without)", "err", err)
					last = msg
				}
				select {
				case <-ctx.Done():
				case <-time.After(wait):
				}
				wait = min(2*wait, 30*time.Second)
			}
		})
	}
	wg.Go(func() {
		<-ctx.Done()
		sctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
		defer stop()
		srv.Shutdown(sctx)
	})
	err := srv.Serve(ln)
	cancel()
	wg.Wait()
	if s.ownsDB && s.DB != nil {
		s.DB.Close()
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("serve web view on %s: %w", ln.Addr(), err)
}

// db returns the store, opening DBPath the first time.
func (s *Server) db(ctx context.Context) (*store.DB, error) {
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	if s.DB != nil {
		return s.DB, nil
	}
	if s.DBPath == "" {
		return nil, errors.New("no database")
	}
	db := store.NewDB(s.DBPath)
	db.Logger = s.Logger
	if err := db.Open(ctx); err != nil {
		return nil, err
	}
	s.DB, s.ownsDB = db, true
	return db, nil
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, code int, err error) {
	if code >= 500 {
		s.Logger.Warn("web view", "path", r.URL.Path, "err", err)
	}
	http.Error(w, err.Error(), code)
}

// sessionKey reads the gateway and session id of a session URL.
func sessionKey(r *http.Request) (string, uint64, error) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("session id %q: not a Janus id", r.PathValue("id"))
	}
	return r.PathValue("gateway"), id, nil
}

// sessionsView is what the sessions template shows.
type sessionsView struct {
	Query    map[string]string
	Gateways []string
	Rows     []store.SessionRow
	Next     string // URL of the next page, "" on the last
	First    bool   // the first page: new sessions may be shown live
	Elapsed  time.Duration
	Error    string
}

// pageQuery reads the filters of the sessions page.
func pageQuery(r *http.Request, now time.Time) (store.PageQuery, map[string]string, error) {
	v := r.URL.Query()
	form := map[string]string{}
	for _, k := range []string{"gateway", "since", "from", "to", "plugin", "opaque_id", "room", "display", "transport", "q", "errors", "timed_out", "ice_failed", "no_webrtcup", "after"} {
		form[k] = strings.TrimSpace(v.Get(k))
	}
	q := store.PageQuery{Search: form["q"]}
	q.Gateway, q.Plugin, q.OpaqueID = form["gateway"], form["plugin"], form["opaque_id"]
	q.Room, q.Display = form["room"], form["display"]
	q.Transport = schema.Transport(form["transport"])
	q.WithErrors, q.TimedOut = form["errors"] != "", form["timed_out"] != ""
	q.ICEFailed, q.NoWebRTCUp = form["ice_failed"] != "", form["no_webrtcup"] != ""
	if s := form["since"]; s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return q, form, fmt.Errorf("since %q: a duration such as 1h or 30m", s)
		}
		q.From = now.Add(-d)
	}
	for _, k := range []string{"from", "to"} {
		if form[k] == "" {
			continue
		}
		t, err := parseTime(form[k])
		if err != nil {
			return q, form, fmt.Errorf("%s: %w", k, err)
		}
		if k == "from" {
			q.From = t
		} else {
			q.To = t
		}
	}
	var err error
	if q.After, err = store.ParseCursor(form["after"]); err != nil {
		return q, form, err
	}
	return q, form, nil
}

// parseTime reads a time as a person types it: RFC 3339, or the
// datetime-local form of a browser (taken as UTC).
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: want 2006-01-02T15:04:05 (UTC) or RFC 3339", s)
}

func (s *Server) sessionsPage(w http.ResponseWriter, r *http.Request) {
	view := sessionsView{}
	q, form, err := pageQuery(r, time.Now())
	view.Query = form
	view.First = q.After.IsZero()
	db, derr := s.db(r.Context())
	switch {
	case derr != nil:
		view.Error = "the store is not open yet: " + derr.Error()
	case err != nil:
		view.Error = err.Error()
	default:
		q.Limit = s.pageSize
		start := time.Now()
		var next store.Cursor
		view.Rows, next, err = db.SessionPage(r.Context(), q)
		view.Elapsed = time.Since(start)
		if err != nil {
			s.fail(w, r, http.StatusInternalServerError, err)
			return
		}
		if !next.IsZero() {
			nv := r.URL.Query()
			nv.Set("after", next.String())
			view.Next = "/?" + nv.Encode()
		}
		view.Gateways, _ = db.Gateways(r.Context())
	}
	name := "sessions.html"
	if r.URL.Query().Get("partial") != "" {
		name = "sessions-rows"
	}
	s.render(w, r, name, view)
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, data any) {
	var b bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}

// sessionView is what the session template shows; the ladder itself is
// drawn by session.js from sessionData.
// The verdict and the ladder come from /api/s: the page is a shell that
// answers at once, and a session of 10 000 messages is read once, as JSON
// (which a browser parses much faster than the same bytes inside HTML).
type sessionView struct {
	Gateway string
	ID      uint64
	Session *store.SessionDetail // nil when only admin traffic named it
}

// session reads the gateway and session id of a /s/{gateway}/{id} route
// and opens the database; on failure it answers (400 or 503) and ok is
// false.
func (s *Server) session(w http.ResponseWriter, r *http.Request) (gw string, id uint64, db *store.DB, ok bool) {
	gw, id, err := sessionKey(r)
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, err)
		return "", 0, nil, false
	}
	if db, err = s.db(r.Context()); err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, err)
		return "", 0, nil, false
	}
	return gw, id, db, true
}

// failLookup answers a failed read: 404 for what is not there, else 500.
func (s *Server) failLookup(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusInternalServerError
	if errors.Is(err, store.ErrNotFound) {
		code = http.StatusNotFound
	}
	s.fail(w, r, code, err)
}

func (s *Server) sessionPage(w http.ResponseWriter, r *http.Request) {
	gw, id, db, ok := s.session(w, r)
	if !ok {
		return
	}
	d, err := db.SessionHandles(r.Context(), gw, id)
	if errors.Is(err, store.ErrNotFound) {
		// Admin traffic names sessions without making their rows.
		n, cerr := db.CountEvents(r.Context(), store.EventFilter{Gateway: gw, SessionID: id, Limit: 1})
		if cerr != nil {
			s.fail(w, r, http.StatusInternalServerError, cerr)
			return
		}
		if n == 0 {
			s.fail(w, r, http.StatusNotFound, err)
			return
		}
		d, err = nil, nil
	}
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	s.render(w, r, "session.html", sessionView{Gateway: gw, ID: id, Session: d})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.Encode(v)
}

func (s *Server) sessionData(w http.ResponseWriter, r *http.Request) {
	if _, _, l, ok := s.sessionLadder(w, r); ok {
		writeJSON(w, l)
	}
}

// sessionLadder builds the ladder of the session the request names, or
// answers the request with why it cannot (ok false).
func (s *Server) sessionLadder(w http.ResponseWriter, r *http.Request) (gw string, id uint64, l *ladder, ok bool) {
	gw, id, db, ok := s.session(w, r)
	if !ok {
		return "", 0, nil, false
	}
	f, err := verdict.Load(r.Context(), db, gw, id)
	if err != nil {
		s.failLookup(w, r, err)
		return "", 0, nil, false
	}
	return gw, id, buildLadder(f), true
}

// eventView is one event in full, for the detail pane.
type eventView struct {
	Seq   uint64          `json:"seq"`
	ID    string          `json:"id"`
	Event json.RawMessage `json:"event"`          // the event as encoded, without its body
	Body  string          `json:"body,omitempty"` // the body as it went over the wire
	// JSON is the body parsed, when it is JSON.
	JSON json.RawMessage `json:"json,omitempty"`
	// SDP is the sdp of a jsep the body carries, cut into its session part
	// and one part per media section.
	SDP      []sdpSection `json:"sdp,omitempty"`
	JSEPType string       `json:"jsep_type,omitempty"`
	// JanusSDP is Janus's own view of the same description, from its
	// event handler's JSEP events: the SDP it received ("remote", for what
	// the client sent) or the one it sent ("local", for what it answered or
	// offered), cut the same way; JanusSDPOwner says which.
	JanusSDP      []sdpSection `json:"janus_sdp,omitempty"`
	JanusSDPOwner string       `json:"janus_sdp_owner,omitempty"`
}

type sdpSection struct {
	Title string `json:"title"`
	Lines string `json:"lines"`
}

func (s *Server) eventData(w http.ResponseWriter, r *http.Request) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil || seq == 0 {
		s.fail(w, r, http.StatusBadRequest, fmt.Errorf("stream sequence %q: not a number", r.PathValue("seq")))
		return
	}
	db, err := s.db(r.Context())
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	var found *store.RawEvent
	for e, err := range db.Events(r.Context(), store.EventFilter{AfterSeq: seq - 1, Limit: 1}) {
		if err != nil {
			s.fail(w, r, http.StatusInternalServerError, err)
			return
		}
		if e.StreamSeq == seq {
			found = &e
		}
	}
	if found == nil {
		s.fail(w, r, http.StatusNotFound, fmt.Errorf("no event at stream sequence %d", seq))
		return
	}
	ev, err := schema.Decode(found.Raw)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	v := eventView{Seq: seq, ID: ev.ID, Body: string(ev.Body)}
	body := ev.Body
	ev.Body = nil
	if b, err := schema.Encode(ev); err == nil {
		v.Event = b
	}
	if json.Valid(body) {
		v.JSON = body
		var m struct {
			JSEP struct {
				Type string `json:"type"`
				SDP  string `json:"sdp"`
			} `json:"jsep"`
		}
		if json.Unmarshal(body, &m) == nil && m.JSEP.SDP != "" {
			v.JSEPType, v.SDP = m.JSEP.Type, splitSDP(m.JSEP.SDP)
			if err := janusSDP(r.Context(), db, ev, &v); err != nil {
				s.Logger.Warn("janus's view of an sdp", "seq", seq, "err", err)
			}
		}
	}
	writeJSON(w, v)
}

// splitSDP cuts an SDP into its session part and its media sections.
func splitSDP(sdp string) []sdpSection {
	var out []sdpSection
	cur := sdpSection{Title: "session"}
	var lines []string
	flush := func() {
		cur.Lines = strings.Join(lines, "\n")
		out = append(out, cur)
		lines = nil
	}
	for line := range strings.Lines(sdp) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "m=") {
			flush()
			cur = sdpSection{Title: line}
		}
		if strings.HasPrefix(line, "a=mid:") && cur.Title != "session" {
			cur.Title += " (mid " + strings.TrimPrefix(line, "a=mid:") + ")"
		}
		lines = append(lines, line)
	}
	flush()
	return out
}

// sessionRaw returns the events of a session and of its handles, in
// stream order.
func sessionRaw(ctx context.Context, db *store.DB, gw string, id uint64) ([]store.RawEvent, error) {
	filters := []store.EventFilter{{Gateway: gw, SessionID: id}}
	if d, err := db.SessionHandles(ctx, gw, id); err == nil {
		for _, h := range d.Handles {
			filters = append(filters, store.EventFilter{Gateway: gw, HandleID: h.ID})
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	seen := map[uint64]bool{}
	var out []store.RawEvent
	for _, f := range filters {
		for e, err := range db.Events(ctx, f) {
			if err != nil {
				return nil, err
			}
			if !seen[e.StreamSeq] {
				seen[e.StreamSeq] = true
				out = append(out, e)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("events of session %d of %s: %w", id, gw, store.ErrNotFound)
	}
	slices.SortFunc(out, func(a, b store.RawEvent) int { return cmp.Compare(a.StreamSeq, b.StreamSeq) })
	return out, nil
}

func (s *Server) export(w http.ResponseWriter, r *http.Request, write func([]store.RawEvent) error, ext, ctype string) {
	gw, id, db, ok := s.session(w, r)
	if !ok {
		return
	}
	evs, err := sessionRaw(r.Context(), db, gw, id)
	if err != nil {
		s.failLookup(w, r, err)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="janustap-%s-%d.%s"`, gw, id, ext))
	if err := write(evs); err != nil {
		s.Logger.Warn("export", "session", id, "err", err)
	}
}

func (s *Server) exportJSONL(w http.ResponseWriter, r *http.Request) {
	s.export(w, r, func(evs []store.RawEvent) error {
		for _, e := range evs {
			if _, err := w.Write(append(e.Raw, '\n')); err != nil {
				return err
			}
		}
		return nil
	}, "jsonl", "application/jsonl")
}

func (s *Server) exportHAR(w http.ResponseWriter, r *http.Request) {
	s.export(w, r, func(raw []store.RawEvent) error {
		evs := make([]*schema.Event, 0, len(raw))
		for _, e := range raw {
			ev, err := schema.Decode(e.Raw)
			if err != nil {
				return err
			}
			evs = append(evs, ev)
		}
		return har.Build(evs, har.Options{}).Write(w)
	}, "har", "application/json")
}

// fmtDur prints a duration for a person, to the second past a minute, to
// the millisecond past a second, else to the microsecond.
func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Microsecond).String()
}

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04:05.000")
	},
	"dur":   fmtDur,
	"short": func(p string) string { return strings.TrimPrefix(p, "janus.plugin.") },
	"join":  strings.Join,
	"plugins": func(ps []string) string {
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = strings.TrimPrefix(p, "janus.plugin.")
		}
		return strings.Join(out, ", ")
	},
}

// janusSDP fills v's JanusSDP from Janus's account of ev's handle: what it
// received for an SDP the client sent, what it sent for one it answered or
// offered. It leaves v alone when Janus reported nothing.
func janusSDP(ctx context.Context, db *store.DB, ev *schema.Event, v *eventView) error {
	if ev.Janus == nil {
		return nil
	}
	handle := ev.Janus.HandleID
	if ev.Direction == schema.ToClient && ev.Janus.Sender != 0 {
		handle = ev.Janus.Sender
	}
	if handle == 0 || ev.Janus.SessionID == 0 {
		return nil
	}
	hs, err := db.JanusHandles(ctx, ev.Gateway, ev.Janus.SessionID)
	if err != nil {
		return err
	}
	for _, h := range hs {
		if h.ID != handle {
			continue
		}
		owner, sdp := "remote", h.RemoteSDP
		if ev.Direction == schema.ToClient {
			owner, sdp = "local", h.LocalSDP
		}
		if sdp != "" {
			v.JanusSDPOwner, v.JanusSDP = owner, splitSDP(sdp)
		}
	}
	return nil
}
