package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/janustap/janustap/recorder/bus"
	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/replayer"
	"github.com/janustap/janustap/replayer/diff"
	"github.com/janustap/janustap/replayer/drive"
	"github.com/janustap/janustap/replayer/media"
	"github.com/janustap/janustap/replayer/rewrite"
	"github.com/janustap/janustap/schema"
)

// flowFlags select a captured flow.
func flowFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "from-file", Usage: "read the capture from this JSON Lines file (janustap export) instead of the log"},
		&cli.StringFlag{Name: "from-db", Usage: "read the capture from this SQLite projection (e.g. janustap-data/janustap.db) instead of the log"},
		&cli.StringFlag{Name: "gateway", Usage: "only this gateway's events"},
		&cli.StringSliceFlag{Name: "session", Usage: "replay this session with its create (repeat for several)"},
		&cli.StringFlag{Name: "conn", Usage: "replay everything this client connection did"},
		&cli.StringFlag{Name: "since", Usage: "only events of the last DURATION (e.g. 1h)"},
		&cli.TimestampFlag{Name: "from", Layout: time.RFC3339, Usage: "only events at or after this time (RFC 3339)"},
		&cli.TimestampFlag{Name: "to", Layout: time.RFC3339, Usage: "only events before this time (RFC 3339)"},
	}
}

// selection reads the flow flags.
func selection(c *cli.Context) (replayer.Selection, error) {
	sel := replayer.Selection{Gateway: c.String("gateway"), Conn: c.String("conn")}
	for _, s := range c.StringSlice("session") {
		id, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return sel, fmt.Errorf("--session %q: not a Janus id", s)
		}
		sel.Sessions = append(sel.Sessions, id)
	}
	if s := c.String("since"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return sel, fmt.Errorf("--since: %w", err)
		}
		sel.From = time.Now().Add(-d)
	}
	if t := c.Timestamp("from"); t != nil {
		sel.From = *t
	}
	if t := c.Timestamp("to"); t != nil {
		sel.To = *t
	}
	return sel, nil
}

// loadFlow reads the captured events the flags select, from a file or from
// the log.
func loadFlow(c *cli.Context, file string, sel replayer.Selection) ([]*schema.Event, error) {
	evs, err := loadEvents(c, file, sel)
	if err != nil {
		return nil, err
	}
	evs = replayer.Select(evs, sel)
	if len(evs) == 0 {
		return nil, fmt.Errorf("no captured events match the selection")
	}
	return evs, nil
}

// loadEvents reads the captured events of a file or of the log, before
// the selection narrows them (the gateway and time range of the database
// excepted).
func loadEvents(c *cli.Context, file string, sel replayer.Selection) ([]*schema.Event, error) {
	var evs []*schema.Event
	if db := c.String("from-db"); db != "" && file == "" {
		var err error
		if evs, err = eventsFromDB(c, db, sel); err != nil {
			return nil, err
		}
	} else if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if evs, err = replayer.ReadJSONL(f); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	} else {
		l, err := openLog(c.Context, c)
		if err != nil {
			return nil, err
		}
		defer l.Close()
		r := &bus.Reader{JS: l.js, Stream: l.stream.Name, Prefix: l.stream.Prefix, UntilCaughtUp: true}
		if sel.Gateway != "" {
			r.Filter = bus.GatewayFilter(l.stream.Prefix, sel.Gateway)
		}
		for d, err := range r.Events(c.Context) {
			if err != nil {
				return nil, err
			}
			if d.Err == nil {
				evs = append(evs, d.Event)
			}
		}
	}
	return evs, nil
}

// rulesFlags choose the normalisation rules of replay and diff, or print
// the default ones.
func rulesFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "rules", Usage: "normalisation rules from `FILE` (JSON, as --print-rules prints them; \"extends\": \"default\" adds to the defaults)"},
		&cli.BoolFlag{Name: "print-rules", Usage: "print the default normalisation rules as JSON and exit"},
	}
}

// printRules writes the default rules when --print-rules asks for them,
// and says whether it did.
func printRules(c *cli.Context) (bool, error) {
	if !c.Bool("print-rules") {
		return false, nil
	}
	b, err := diff.DefaultRules().MarshalIndent()
	if err != nil {
		return true, err
	}
	_, err = c.App.Writer.Write(b)
	return true, err
}

func rulesOf(c *cli.Context) (*diff.Rules, error) {
	if p := c.String("rules"); p != "" {
		return diff.LoadRules(p)
	}
	return diff.DefaultRules(), nil
}

func replayCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "target", Usage: "Janus API over HTTP to replay against, e.g. http://127.0.0.1:8088/janus", EnvVars: env("target")},
		&cli.StringFlag{Name: "target-ws", Usage: "Janus API over WebSocket, e.g. ws://127.0.0.1:8188", EnvVars: env("target-ws")},
		&cli.StringFlag{Name: "target-admin", Usage: "admin API over HTTP", EnvVars: env("target-admin")},
		&cli.StringFlag{Name: "target-admin-ws", Usage: "admin API over WebSocket", EnvVars: env("target-admin-ws")},
		&cli.StringFlag{Name: "transport", Usage: "replay the Janus API over ws or http (default: as captured)"},
		&cli.Float64Flag{Name: "speed", Value: 0, Usage: "0: as fast as the gateway allows; 1: original timing; 2: twice as fast"},
		&cli.DurationFlag{Name: "wait", Value: 10 * time.Second, Usage: "how long a request waits for what preceded it in the capture"},
		&cli.IntFlag{Name: "repeat", Value: 1, Usage: "replay the flow N times (a load test)"},
		&cli.IntFlag{Name: "concurrency", Value: 1, Usage: "replays at once, with --repeat"},
		&cli.StringFlag{Name: "apisecret", Usage: "fill redacted apisecret values", EnvVars: env("apisecret")},
		&cli.StringFlag{Name: "token", Usage: "fill redacted token values", EnvVars: env("token")},
		&cli.StringFlag{Name: "admin-secret", Usage: "fill redacted admin_secret values", EnvVars: env("admin-secret")},
		&cli.BoolFlag{Name: "compare-media", Usage: "compare media-dependent events (webrtcup, media, hangup) like others"},
		&cli.StringFlag{Name: "media", Value: "auto", Usage: "a WebRTC peer for every handle that carries JSEP: auto (when the capture has webrtcup), on, off"},
		&cli.BoolFlag{Name: "drop-candidates", Usage: "give Janus none of the peer's ICE candidates (ICE fails)"},
		&cli.BoolFlag{Name: "no-media", Usage: "the peer connects but sends no media"},
		&cli.Float64Flag{Name: "loss", Usage: "drop this percentage of the RTP packets the peer sends (slowlink)"},
		&cli.BoolFlag{Name: "dtls-close", Usage: "close the peer's DTLS session once media flowed (hangup, DTLS alert)"},
		&cli.StringFlag{Name: "own-rooms", Value: "auto", Usage: "give each run copies of the configured videoroom and textroom rooms the flow joins: auto (with --concurrency above 1), on, off"},
		&cli.BoolFlag{Name: "json", Usage: "print the reports as JSON"},
		&cli.BoolFlag{Name: "record", Usage: "publish the new run's events to the log, labelled as a replay"},
	}
	flags = append(flags, flowFlags()...)
	flags = append(flags, rulesFlags()...)
	return &cli.Command{
		Name:      "replay",
		Usage:     "play a captured flow against a Janus and report where the new run differs (exit 0 same, 1 differs, 2 could not run)",
		ArgsUsage: " ",
		Flags:     append(flags, natsFlags()...),
		Action: func(c *cli.Context) error {
			if done, err := printRules(c); done {
				return err
			}
			log, err := logger(c)
			if err != nil {
				return err
			}
			sel, err := selection(c)
			if err != nil {
				return err
			}
			all, err := loadEvents(c, c.String("from-file"), sel)
			if err != nil {
				return err
			}
			evs := replayer.Select(all, sel)
			if len(evs) == 0 {
				return fmt.Errorf("no captured events match the selection")
			}
			rules, err := rulesOf(c)
			if err != nil {
				return err
			}
			var tr schema.Transport
			switch c.String("transport") {
			case "":
			case "ws":
				tr = schema.WS
			case "http":
				tr = schema.HTTP
			default:
				return fmt.Errorf("--transport %q: want ws or http", c.String("transport"))
			}
			target, err := targets(c)
			if err != nil {
				return err
			}
			opts := replayer.Options{
				Options: drive.Options{
					Target:    target,
					Transport: tr,
					Secrets:   rewrite.Secrets{APISecret: c.String("apisecret"), Token: c.String("token"), AdminSecret: c.String("admin-secret")},
					Speed:     c.Float64("speed"),
					Wait:      c.Duration("wait"),
					Labels:    map[string]string{"replay_of": describeSelection(c, sel)},
					Logger:    log,
				},
				Repeat:      c.Int("repeat"),
				Concurrency: c.Int("concurrency"),
				Rules:       rules,
				Diff:        diff.Options{CompareMedia: c.Bool("compare-media")},
			}
			switch c.String("own-rooms") {
			case "auto":
				opts.OwnRooms = c.Int("concurrency") > 1
			case "on":
				opts.OwnRooms = true
			case "off":
			default:
				return fmt.Errorf("--own-rooms %q: want auto, on or off", c.String("own-rooms"))
			}
			switch c.String("media") {
			case "off":
			case "on", "auto":
				if c.String("media") == "on" || replayer.HasMedia(evs) {
					opts.Media = &media.Options{DropCandidates: c.Bool("drop-candidates"), NoMedia: c.Bool("no-media"),
						LossPercent: c.Float64("loss"), DTLSClose: c.Bool("dtls-close")}
					// What Janus's events show the clients sent on their
					// data channels is sent again.
					opts.DataChannel = replayer.DataChannelEvents(all, evs)
				}
			default:
				return fmt.Errorf("--media %q: want auto, on or off", c.String("media"))
			}
			// A usage mistake is said before anything is sent, never
			// reported as a difference of Janus's.
			if err := replayer.Check(c.Context, evs, opts); err != nil {
				return err
			}
			if c.Bool("record") {
				l, err := openLog(c.Context, c)
				if err != nil {
					return err
				}
				defer l.Close()
				opts.Emit = publisher(c, l)
				opts.Gateway = "replay"
			}
			res, err := replayer.Replay(c.Context, evs, opts)
			if err != nil && (res == nil || errors.Is(err, media.ErrNotConnected)) {
				return err // one line; exit 2
			}
			if perr := printReplay(c.App.Writer, res, c.Bool("json")); perr != nil {
				return perr
			}
			if err != nil {
				return err
			}
			if !res.Same() {
				return errDiffers
			}
			return nil
		},
	}
}

// targets reads the target flags. A ws:// or wss:// URL given to --target
// (or --target-admin) means the WebSocket API, an http:// or https:// one
// given to --target-ws (or --target-admin-ws) the HTTP API.
func targets(c *cli.Context) (drive.Target, error) {
	var t drive.Target
	pairs := []struct {
		httpFlag, wsFlag string
		http, ws         *string
	}{
		{"target", "target-ws", &t.HTTP, &t.WS},
		{"target-admin", "target-admin-ws", &t.AdminHTTP, &t.AdminWS},
	}
	isWS := func(u string) bool { return strings.HasPrefix(u, "ws://") || strings.HasPrefix(u, "wss://") }
	isHTTP := func(u string) bool { return strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") }
	for _, p := range pairs {
		for _, f := range []string{p.httpFlag, p.wsFlag} {
			u := c.String(f)
			if u == "" {
				continue
			}
			var dst *string
			switch {
			case isWS(u):
				dst = p.ws
			case isHTTP(u):
				dst = p.http
			default:
				return t, fmt.Errorf("--%s %q: want an http://, https://, ws:// or wss:// URL", f, u)
			}
			if *dst != "" && *dst != u {
				return t, fmt.Errorf("--%s %s and --%s %s both name the %s: pass one", p.httpFlag, c.String(p.httpFlag), p.wsFlag, c.String(p.wsFlag), map[bool]string{true: "WebSocket API", false: "HTTP API"}[isWS(u)])
			}
			*dst = u
		}
	}
	if t == (drive.Target{}) {
		return t, fmt.Errorf("no target: pass --target http://HOST:8088/janus or --target ws://HOST:8188 (Janus's HTTP or WebSocket API)")
	}
	return t, nil
}

func describeSelection(c *cli.Context, sel replayer.Selection) string {
	var parts []string
	if f := c.String("from-file"); f != "" {
		parts = append(parts, "file:"+f)
	}
	if sel.Gateway != "" {
		parts = append(parts, "gateway:"+sel.Gateway)
	}
	for _, s := range sel.Sessions {
		parts = append(parts, "session:"+strconv.FormatUint(s, 10))
	}
	if sel.Conn != "" {
		parts = append(parts, "conn:"+sel.Conn)
	}
	if !sel.From.IsZero() || !sel.To.IsZero() {
		parts = append(parts, "time:"+sel.From.Format(time.RFC3339)+"/"+sel.To.Format(time.RFC3339))
	}
	return strings.Join(parts, " ")
}

// publisher returns an Emit function that publishes replay events to the
// log, each with its id as msg id.
func publisher(c *cli.Context, l *eventLog) func(*schema.Event) {
	prefix := l.stream.Prefix
	if prefix == "" {
		prefix = bus.DefaultPrefix
	}
	return func(ev *schema.Event) {
		b, err := schema.Encode(ev)
		if err != nil {
			return
		}
		l.js.PublishAsync(ev.Subject(prefix), b, jetstreamMsgID(ev.ID))
	}
}

// printReplay prints the reports: all of them as JSON, or the first
// differing one (or the first) as text with a summary of the runs.
func printReplay(w io.Writer, res *replayer.Result, asJSON bool) error {
	if asJSON {
		type run struct {
			Report   *diff.Report       `json:"report"`
			Waits    []string           `json:"waits,omitempty"`
			Errors   []string           `json:"errors,omitempty"`
			Media    []drive.MediaStats `json:"media,omitempty"`
			Duration string             `json:"duration"`
		}
		out := struct {
			Same bool  `json:"same"`
			Runs []run `json:"runs"`
		}{Same: res.Same()}
		for i, r := range res.Runs {
			if r == nil {
				continue
			}
			out.Runs = append(out.Runs, run{res.Reports[i], r.Waits, r.Errors, r.Media, r.Duration.String()})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	show := -1
	differing := 0
	for i, rep := range res.Reports {
		if rep != nil && show < 0 {
			show = i
		}
		if rep != nil && !res.Runs[i].Cancelled && (!rep.Same || len(res.Runs[i].Waits)+len(res.Runs[i].Errors) > 0) {
			if differing == 0 {
				show = i
			}
			differing++
		}
	}
	if show < 0 {
		_, err := fmt.Fprintln(w, "no run started")
		return err
	}
	if len(res.Runs) > 1 {
		fmt.Fprintf(w, "run %d of %d:\n", show+1, len(res.Runs))
	}
	if err := diff.WriteText(w, res.Reports[show]); err != nil {
		return err
	}
	for _, s := range res.Runs[show].Waits {
		fmt.Fprintln(w, "  timing:", s)
	}
	for _, s := range res.Runs[show].Errors {
		fmt.Fprintln(w, "  error:", s)
	}
	for _, m := range res.Runs[show].Media {
		state := "connected"
		if !m.Connected {
			state = "not connected"
		}
		fmt.Fprintf(w, "  media: handle %d %s; packets sent %s, received %s (by mid)\n", m.Handle, state, byMid(m.Sent), byMid(m.Received))
		if m.DataChannel {
			fmt.Fprintf(w, "  data channel: handle %d open; messages sent %d (what Janus's events in the capture show the client sent: textroom join, leave), received %d; what else the client sent on it (chat messages) is not in the capture and was not sent\n", m.Handle, m.DataSent, m.DataReceived)
		}
	}
	if len(res.Runs) > 1 {
		lat := res.Latencies()
		q := func(p float64) time.Duration {
			if len(lat) == 0 {
				return 0
			}
			return lat[min(len(lat)-1, int(p*float64(len(lat))))]
		}
		sum := res.Summary()
		fmt.Fprintf(w, "%d runs in %s: %d matched, %d differed", sum.Runs, res.Duration.Round(time.Millisecond), sum.Matched, sum.Differed)
		if sum.Cancelled+sum.NotStarted > 0 {
			fmt.Fprintf(w, ", %d cancelled, %d not started", sum.Cancelled, sum.NotStarted)
		}
		fmt.Fprintf(w, "; %d requests answered, round trip (request to reply) p50 %s p99 %s\n", len(lat), q(.5), q(.99))
	}
	return nil
}

// byMid writes packet counts by mid: "0:250 1:100", or "none".
func byMid(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, mid := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s:%d", mid, m[mid]))
	}
	return strings.Join(parts, " ")
}

// eventsFromDB reads the events of the selection's gateway and time range
// from a SQLite projection, in stream order; Select then narrows them.
func eventsFromDB(c *cli.Context, path string, sel replayer.Selection) ([]*schema.Event, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open the recorder database: %w", err)
	}
	db := store.NewDB(path)
	if err := db.Open(c.Context); err != nil {
		return nil, err
	}
	defer db.Close()
	var evs []*schema.Event
	for raw, err := range db.Events(c.Context, store.EventFilter{Gateway: sel.Gateway, From: sel.From, To: sel.To}) {
		if err != nil {
			return nil, err
		}
		ev, err := schema.Decode(raw.Raw)
		if err != nil {
			return nil, fmt.Errorf("event %d in %s: %w", raw.StreamSeq, path, err)
		}
		evs = append(evs, ev)
	}
	return evs, nil
}
