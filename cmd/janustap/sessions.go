package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/schema"
)

// storeFlags are the flags of the commands that read the SQLite projection.
func storeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "db", Usage: "SQLite projection to read (default: <data>/janustap.db)", EnvVars: env("db")},
		&cli.StringFlag{Name: "data", Value: "janustap-data", Usage: "data directory of janustap serve, which holds the projection", EnvVars: env("data")},
	}
}

// timeFlags select a time range.
func timeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "since", Usage: "only the last `DURATION` (e.g. 1h, 15m)"},
		&cli.TimestampFlag{Name: "from", Layout: time.RFC3339, Usage: "only at or after this time (RFC 3339)"},
		&cli.TimestampFlag{Name: "to", Layout: time.RFC3339, Usage: "only before this time (RFC 3339)"},
	}
}

// timeRange reads the time flags; zero times are unbounded. --from wins
// over --since.
func timeRange(c *cli.Context) (from, to time.Time, err error) {
	if s := c.String("since"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return from, to, fmt.Errorf("--since: %w", err)
		}
		from = time.Now().Add(-d)
	}
	if t := c.Timestamp("from"); t != nil {
		from = *t
	}
	if t := c.Timestamp("to"); t != nil {
		to = *t
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return from, to, fmt.Errorf("empty time range: %s is not before %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return from, to, nil
}

// openStore opens the projection that --db names, or the one in --data. It
// refuses a file that does not exist rather than create an empty one.
func openStore(c *cli.Context) (*store.DB, error) {
	log, err := logger(c)
	if err != nil {
		return nil, err
	}
	path := dbPath(c)
	if _, err := os.Stat(path); err != nil {
		if c.String("db") != "" {
			return nil, fmt.Errorf("open --db: %w", err)
		}
		dir := c.String("data")
		return nil, fmt.Errorf("find the projection of %s (does `janustap serve --data %s` record there? else pass --db): %w", dir, dir, err)
	}
	db := store.NewDB(path)
	db.Logger = log
	if err := db.Open(c.Context); err != nil {
		return nil, err
	}
	return db, nil
}

// positional returns the arguments of a command after applying the flags
// given among them: urfave/cli stops reading flags at the first argument,
// and `janustap show 123 --full` should do what `janustap show --full 123`
// does. "--" ends the flags.
func positional(c *cli.Context) ([]string, error) {
	in := c.Args().Slice()
	var args []string
	for i := 0; i < len(in); i++ {
		a := in[i]
		if a == "--" {
			args = append(args, in[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			args = append(args, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		var f cli.Flag
		for _, cf := range c.Command.Flags {
			if slices.Contains(cf.Names(), name) {
				f = cf
				break
			}
		}
		if f == nil {
			return nil, fmt.Errorf("flag provided but not defined: %s", a)
		}
		if _, ok := f.(*cli.BoolFlag); ok && !hasValue {
			value, hasValue = "true", true
		}
		if !hasValue {
			if i+1 == len(in) {
				return nil, fmt.Errorf("flag needs an argument: %s", a)
			}
			i++
			value = in[i]
		}
		if err := c.Set(f.Names()[0], value); err != nil {
			return nil, fmt.Errorf("%s: %w", a, err)
		}
	}
	return args, nil
}

// parseID reads a Janus id given as an argument.
func parseID(what, s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("%s %q: not a Janus id", what, s)
	}
	return id, nil
}

// sessionGateway returns the gateway holding session id: gateway itself when
// set, else the only gateway whose sessions include it.
func sessionGateway(ctx context.Context, db *store.DB, gateway string, id uint64) (string, error) {
	if gateway != "" {
		return gateway, nil
	}
	all, err := db.Sessions(ctx, store.SessionFilter{})
	if err != nil {
		return "", err
	}
	var gws []string
	for _, s := range all {
		if s.ID == id && !slices.Contains(gws, s.Gateway) {
			gws = append(gws, s.Gateway)
		}
	}
	switch len(gws) {
	case 0:
		return "", fmt.Errorf("session %d: %w", id, store.ErrNotFound)
	case 1:
		return gws[0], nil
	}
	return "", fmt.Errorf("session %d exists in gateways %s: pass --gateway", id, strings.Join(gws, ", "))
}

// oneArg returns the one positional argument of c's command, what it takes.
func oneArg(c *cli.Context, what string) (string, error) {
	args, err := positional(c)
	if err != nil {
		return "", err
	}
	if len(args) != 1 {
		return "", fmt.Errorf("%s takes one %s, got %d arguments", c.Command.Name, what, len(args))
	}
	return args[0], nil
}

// openSession opens the store (openStore) and finds the session that c's one
// argument names: its gateway (sessionGateway, from --gateway) and id. The
// caller closes db.
func openSession(c *cli.Context) (db *store.DB, gw string, id uint64, err error) {
	arg, err := oneArg(c, "session id")
	if err != nil {
		return nil, "", 0, err
	}
	if id, err = parseID("session", arg); err != nil {
		return nil, "", 0, err
	}
	if db, err = openStore(c); err != nil {
		return nil, "", 0, err
	}
	if gw, err = sessionGateway(c.Context, db, c.String("gateway"), id); err != nil {
		db.Close()
		return nil, "", 0, notFound(err, fmt.Sprintf("session %d", id))
	}
	return db, gw, id, nil
}

// knownGateways returns the gateways that have sessions in the store.
func knownGateways(ctx context.Context, db *store.DB) ([]string, error) {
	all, err := db.Sessions(ctx, store.SessionFilter{})
	if err != nil {
		return nil, err
	}
	var gws []string
	for _, s := range all {
		if !slices.Contains(gws, s.Gateway) {
			gws = append(gws, s.Gateway)
		}
	}
	slices.Sort(gws)
	return gws, nil
}

func sessionsCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "gateway", Usage: "only this gateway's sessions"},
		&cli.StringFlag{Name: "plugin", Usage: "only sessions with a handle of this plugin (videoroom or janus.plugin.videoroom)"},
		&cli.StringFlag{Name: "opaque-id", Usage: "only sessions with a handle of this opaque_id"},
		&cli.StringFlag{Name: "room", Usage: "only sessions with a handle that joined this `ROOM` (videoroom, audiobridge: the id of its join request)"},
		&cli.StringFlag{Name: "display", Usage: "only sessions with a handle that joined with a display name starting with `NAME` (ASCII case-insensitive; with --room, the same handle)"},
		&cli.BoolFlag{Name: "with-errors", Aliases: []string{"errors"}, Usage: "only sessions with at least one error"},
		&cli.BoolFlag{Name: "timed-out", Aliases: []string{"timeout"}, Usage: "only sessions that Janus ended by timeout"},
		&cli.StringFlag{Name: "transport", Usage: "only sessions created over http or ws"},
		&cli.IntFlag{Name: "limit", Usage: "at most N sessions (0: all)"},
		&cli.BoolFlag{Name: "json", Usage: "print the rows as a JSON array (field names as in the SQLite tables)"},
		&cli.BoolFlag{Name: "ice-failed", Usage: "only sessions with a handle whose ICE failed (Janus's events)"},
		&cli.BoolFlag{Name: "no-webrtcup", Usage: "only sessions with a handle that negotiated a PeerConnection and never reached webrtcup (Janus's events)"},
		&cli.StringFlag{Name: "hangup", Usage: "only sessions with a handle hung up for this `REASON` (e.g. \"ICE failed\", \"DTLS alert\")"},
		&cli.BoolFlag{Name: "no-media", Usage: "only sessions with a handle that negotiated a PeerConnection and never received media (Janus's events)"},
	}
	flags = append(flags, timeFlags()...)
	return &cli.Command{
		Name:      "sessions",
		Usage:     "list the recorded sessions, oldest first",
		ArgsUsage: " ",
		Flags:     append(flags, storeFlags()...),
		Action: func(c *cli.Context) error {
			f := store.SessionFilter{Gateway: c.String("gateway"), Plugin: c.String("plugin"), OpaqueID: c.String("opaque-id"),
				Room: strings.TrimSpace(c.String("room")), Display: strings.TrimSpace(c.String("display")),
				WithErrors: c.Bool("with-errors"), TimedOut: c.Bool("timed-out"), Limit: c.Int("limit"),
				ICEFailed: c.Bool("ice-failed"), NoWebRTCUp: c.Bool("no-webrtcup"), Hangup: c.String("hangup"), NoMedia: c.Bool("no-media")}
			var err error
			if f.From, f.To, err = timeRange(c); err != nil {
				return err
			}
			switch tr := schema.Transport(c.String("transport")); tr {
			case "", schema.HTTP, schema.WS:
				f.Transport = tr
			default:
				return fmt.Errorf("--transport %q: want http or ws", tr)
			}
			db, err := openStore(c)
			if err != nil {
				return err
			}
			defer db.Close()
			rows, err := db.Sessions(c.Context, f)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				out := make([]sessionJSON, len(rows))
				for i := range rows {
					out[i] = sessionOf(&rows[i])
				}
				return writeJSON(c.App.Writer, out)
			}
			return store.WriteSessions(c.App.Writer, rows)
		},
	}
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// The JSON forms of the store's rows. Field names are those of the SQLite
// columns (recorder/store/doc.go), and every field is always present: a time
// the log does not show is null, a latency in microseconds null without the
// message it measures to.

// jsonTime is a time in RFC 3339 (UTC, to the microsecond), or null.
type jsonTime time.Time

func (t jsonTime) MarshalJSON() ([]byte, error) {
	if time.Time(t).IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + time.Time(t).UTC().Format("2006-01-02T15:04:05.000000Z07:00") + `"`), nil
}

func (t *jsonTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*t = jsonTime{}
		return nil
	}
	var tm time.Time
	if err := tm.UnmarshalJSON(b); err != nil {
		return err
	}
	*t = jsonTime(tm)
	return nil
}

// micros returns d in microseconds, or nil when ok is false.
func micros(d time.Duration, ok bool) *int64 {
	if !ok {
		return nil
	}
	us := d.Microseconds()
	return &us
}

type sessionJSON struct {
	Gateway     string   `json:"gateway"`
	SessionID   uint64   `json:"session_id"`
	Transport   string   `json:"transport"`
	Conn        string   `json:"conn"`
	SourceConn  string   `json:"source_conn"`
	CreatedAt   jsonTime `json:"created_at"`
	DestroyedAt jsonTime `json:"destroyed_at"`
	TimedOutAt  jsonTime `json:"timed_out_at"`
	EndedAt     jsonTime `json:"ended_at"`
	Ended       string   `json:"ended"`
	FirstSeen   jsonTime `json:"first_seen"`
	LastSeen    jsonTime `json:"last_seen"`
	DurationUS  int64    `json:"duration_us"`
	Events      int      `json:"events"`
	Errors      int      `json:"errors"`
	Handles     int      `json:"handles"`
	Plugins     []string `json:"plugins"`
}

func sessionOf(s *store.SessionRow) sessionJSON {
	plugins := s.Plugins
	if plugins == nil {
		plugins = []string{}
	}
	return sessionJSON{Gateway: s.Gateway, SessionID: s.ID, Transport: string(s.Transport), Conn: s.Conn,
		SourceConn: s.SourceConn, CreatedAt: jsonTime(s.CreatedAt), DestroyedAt: jsonTime(s.DestroyedAt),
		TimedOutAt: jsonTime(s.TimedOutAt), EndedAt: jsonTime(s.EndedAt), Ended: string(s.Ended),
		FirstSeen: jsonTime(s.FirstSeen), LastSeen: jsonTime(s.LastSeen), DurationUS: s.Duration().Microseconds(),
		Events: s.Events, Errors: s.Errors, Handles: s.Handles, Plugins: plugins}
}

type handleJSON struct {
	Gateway      string   `json:"gateway"`
	HandleID     uint64   `json:"handle_id"`
	SessionID    uint64   `json:"session_id"`
	Plugin       string   `json:"plugin"`
	OpaqueID     string   `json:"opaque_id"`
	AttachedAt   jsonTime `json:"attached_at"`
	DetachedAt   jsonTime `json:"detached_at"`
	WebRTCUpAt   jsonTime `json:"webrtcup_at"`
	HangupAt     jsonTime `json:"hangup_at"`
	HangupReason string   `json:"hangup_reason"`
	Media        int      `json:"media"`
	Slowlinks    int      `json:"slowlinks"`
	FirstSeen    jsonTime `json:"first_seen"`
	LastSeen     jsonTime `json:"last_seen"`
	Events       int      `json:"events"`
	Errors       int      `json:"errors"`
}

func handleOf(h *store.HandleRow) handleJSON {
	return handleJSON{Gateway: h.Gateway, HandleID: h.ID, SessionID: h.SessionID, Plugin: h.Plugin, OpaqueID: h.OpaqueID,
		AttachedAt: jsonTime(h.AttachedAt), DetachedAt: jsonTime(h.DetachedAt), WebRTCUpAt: jsonTime(h.WebRTCUpAt),
		HangupAt: jsonTime(h.HangupAt), HangupReason: h.HangupReason, Media: h.Media, Slowlinks: h.Slowlinks,
		FirstSeen: jsonTime(h.FirstSeen), LastSeen: jsonTime(h.LastSeen), Events: h.Events, Errors: h.Errors}
}

type txJSON struct {
	Gateway     string   `json:"gateway"`
	Tx          string   `json:"tx"`
	RequestSeq  uint64   `json:"request_seq"`
	RequestID   string   `json:"request_id"`
	Transport   string   `json:"transport"`
	Conn        string   `json:"conn"`
	SessionID   uint64   `json:"session_id"`
	HandleID    uint64   `json:"handle_id"`
	Janus       string   `json:"janus"`
	Plugin      string   `json:"plugin"`
	Request     string   `json:"request"`
	OpaqueID    string   `json:"opaque_id"`
	JSEP        string   `json:"jsep"`
	RequestAt   jsonTime `json:"request_at"`
	ReplySeq    uint64   `json:"reply_seq"`
	Reply       string   `json:"reply"`
	ReplyAt     jsonTime `json:"reply_at"`
	ReplyUS     *int64   `json:"reply_us"`
	Status      int      `json:"status"`
	AckAt       jsonTime `json:"ack_at"`
	Result      string   `json:"result"`
	ResultAt    jsonTime `json:"result_at"`
	ErrorCode   int      `json:"error_code"`
	ErrorReason string   `json:"error_reason"`
	PluginError int      `json:"plugin_error"`
	Events      int      `json:"events"`
	EventAt     jsonTime `json:"event_at"`
	EventUS     *int64   `json:"event_us"`
}

func txOf(t *store.TransactionRow) txJSON {
	return txJSON{Gateway: t.Gateway, Tx: t.Transaction, RequestSeq: t.RequestSeq, RequestID: t.RequestID,
		Transport: string(t.Transport), Conn: t.Conn, SessionID: t.SessionID, HandleID: t.HandleID, Janus: t.Janus,
		Plugin: t.Plugin, Request: t.PluginRequest, OpaqueID: t.OpaqueID, JSEP: t.JSEP, RequestAt: jsonTime(t.RequestAt),
		ReplySeq: t.ReplySeq, Reply: t.Reply, ReplyAt: jsonTime(t.ReplyAt), ReplyUS: micros(t.ReplyLatency, t.ReplySeq != 0),
		Status: t.Status, AckAt: jsonTime(t.AckAt), Result: t.Result, ResultAt: jsonTime(t.ResultAt),
		ErrorCode: t.ErrorCode, ErrorReason: t.ErrorReason, PluginError: t.PluginError, Events: t.Events,
		EventAt: jsonTime(t.EventAt), EventUS: micros(t.EventLatency, t.Events != 0)}
}

// entryJSON is one event of a timeline. Body and BodyBase64 are set with
// --full only.
type entryJSON struct {
	StreamSeq      uint64   `json:"stream_seq"`
	ID             string   `json:"id"`
	Time           jsonTime `json:"time"`
	Transport      string   `json:"transport"`
	Dir            string   `json:"dir"`
	Kind           string   `json:"kind"`
	Conn           string   `json:"conn"`
	Method         string   `json:"method"`
	Path           string   `json:"path"`
	Status         int      `json:"status"`
	Janus          string   `json:"janus"`
	SessionID      uint64   `json:"session_id"`
	HandleID       uint64   `json:"handle_id"`
	Tx             string   `json:"tx"`
	RequestSeq     uint64   `json:"request_seq"`
	SinceRequestUS *int64   `json:"since_request_us"`
	Plugin         string   `json:"plugin"`
	PluginKey      string   `json:"plugin_key"`
	PluginValue    string   `json:"plugin_value"`
	PluginShort    string   `json:"plugin_short"`
	PluginError    int      `json:"plugin_error"`
	ErrorCode      int      `json:"error_code"`
	ErrorReason    string   `json:"error_reason"`
	JSEP           string   `json:"jsep"`
	HasJSEP        bool     `json:"has_jsep"`
	CloseCode      int      `json:"close_code"`
	Error          string   `json:"error"`
	Truncated      bool     `json:"truncated"`
	Redacted       bool     `json:"redacted"`
	// JanusTime and Detail are set on Janus's own events (transport evh):
	// the event's time on Janus's clock (time is it corrected to the
	// tap's) and what it says beyond janus (a candidate, a pair, a reason).
	JanusTime  *jsonTime `json:"janus_time,omitempty"`
	Detail     string    `json:"detail,omitempty"`
	Body       *string   `json:"body,omitempty"`
	BodyBase64 []byte    `json:"body_base64,omitempty"`
}

func entryOf(e *store.TimelineEntry, full bool) entryJSON {
	out := entryJSON{StreamSeq: e.StreamSeq, ID: e.ID, Time: jsonTime(e.Time), Transport: string(e.Transport),
		Dir: string(e.Direction), Kind: string(e.Kind), Conn: e.Conn, Method: e.Method, Path: e.Path, Status: e.Status,
		Janus: e.Janus, SessionID: e.SessionID, HandleID: e.HandleID, Tx: e.Transaction, RequestSeq: e.RequestSeq,
		Plugin: e.Plugin, PluginKey: e.PluginKey, PluginValue: e.PluginValue, PluginShort: e.PluginShort(),
		PluginError: e.PluginError, ErrorCode: e.ErrorCode, ErrorReason: e.ErrorReason, JSEP: e.JSEP, HasJSEP: e.HasJSEP,
		CloseCode: e.CloseCode, Error: e.Error, Truncated: e.Truncated, Redacted: e.Redacted}
	out.SinceRequestUS = micros(e.SinceRequest, e.RequestSeq != 0 && e.RequestSeq != e.StreamSeq)
	if !e.JanusTime.IsZero() {
		jt := jsonTime(e.JanusTime)
		out.JanusTime, out.Detail = &jt, e.Detail
	}
	if full && len(e.Body) > 0 {
		if utf8.Valid(e.Body) {
			s := string(e.Body)
			out.Body = &s
		} else {
			out.BodyBase64 = e.Body
		}
	}
	return out
}

func entriesOf(es []store.TimelineEntry, full bool) []entryJSON {
	out := make([]entryJSON, len(es))
	for i := range es {
		out[i] = entryOf(&es[i], full)
	}
	return out
}

// notFound rewrites a store's not-found error for a person.
func notFound(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%s: not in the store (is the recorder behind, or is it in another --db?): %w", what, err)
	}
	return err
}
