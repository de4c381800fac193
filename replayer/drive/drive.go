// Package drive plays a replay plan against a Janus, over the transport the
// capture used or the other one, with causal pacing: a request is sent only
// after what preceded it in the capture has arrived in the new run (or a
// wait has run out, which the run reports). What the run sent and received
// becomes events, tagged as a replay, for comparing with the capture.
//
// It may import janus (the client), media, plan, rewrite and schema.
package drive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/media"
	"github.com/janustap/janustap/replayer/plan"
	"github.com/janustap/janustap/replayer/rewrite"
	"github.com/janustap/janustap/schema"
)

// Target is the gateway to replay against.
type Target struct {
	HTTP      string // Janus API base URL, such as http://127.0.0.1:8088/janus
	WS        string // Janus WebSocket URL
	AdminHTTP string // admin API base URL
	AdminWS   string // admin WebSocket URL
}

// Options control one replay.
type Options struct {
	Target Target
	// Transport forces the Janus API transport (schema.HTTP or schema.WS);
	// "" replays each client over the transport it was captured on.
	Transport schema.Transport
	// Secrets fill redacted secrets back in.
	Secrets rewrite.Secrets
	// Speed paces requests by the capture's clock divided by Speed: 1 is the
	// original timing, 2 twice as fast. 0 sends each request as soon as
	// what preceded it has arrived.
	Speed float64
	// Wait is how long a step waits for the messages that preceded it in
	// the capture; 0 means 10 s. A wait that runs out is reported, and the
	// replay goes on.
	Wait time.Duration
	// Gateway names the target in the new run's events.
	Gateway string
	// Labels are added to every event of the new run (such as the flow it
	// replays).
	Labels map[string]string
	// Run distinguishes concurrent replays of one plan: it makes the
	// transactions unique. "" keeps the captured transactions.
	Run string
	// Emit receives each event of the new run as it happens; nil keeps
	// them only in the Result.
	Emit func(*schema.Event)
	// Logger receives warnings; nil means slog.Default().
	Logger *slog.Logger
	// HTTPTransport carries the REST requests and long-polls; concurrent
	// replays share one so that their connections are reused. nil gives
	// each replay a transport of its own, closed when it ends.
	HTTPTransport http.RoundTripper
	// Media, when set, makes the replay a WebRTC endpoint for every handle
	// that carries JSEP (package media): its own offers and answers after
	// the captured SDP, its own candidates, generated media. Media events
	// (webrtcup, media, hangup...) are then waited for like the others.
	Media *media.Options
	// OwnRooms gives the run rooms of its own: each videoroom or textroom
	// room of the gateway's configuration that the flow joins without
	// creating it is copied on the target, with the settings the plugin
	// lists for it, under a new number the run uses instead; Result.Rooms
	// says which. Runs of a load replay then do not meet in one room.
	OwnRooms bool
	// DataChannel are Janus's own events (schema.JanusEvent) of the
	// captured flow's handles, with Time on the tap's clock
	// (replayer.DataChannelEvents): the textroom joins and leaves among
	// them show what clients sent over their data channels, and the
	// PeerConnection hangups tell the plugin's own leaves from theirs.
	// With Media, the peer of each such event's handle sends the request
	// again on its data channel, once it is open, before the first step
	// captured after the event, and waits for the textroom's answer; a
	// refusal is among Errors. nil sends nothing on data channels.
	DataChannel []*schema.Event
}

// Result is what one replay did.
type Result struct {
	// Events is the new run, in the order it happened.
	Events []*schema.Event
	// Waits lists the steps whose expected messages did not all arrive in
	// time.
	Waits []string
	// Errors lists requests that could not be sent or answered.
	Errors   []string
	Duration time.Duration
	// Latencies are the round trips of the requests that got a reply,
	// from sending the request to receiving its reply (over WebSocket, the
	// frame with its transaction).
	Latencies []time.Duration
	// Cancelled is set when the context ended the replay before it had sent
	// everything: the run is not complete and is not compared as one.
	Cancelled bool
	// Media says, per handle with a WebRTC peer, whether it connected and
	// the packets it sent and received by mid.
	Media []MediaStats
	// Rooms are the rooms the run had of its own (Options.OwnRooms), new
	// number → captured one.
	Rooms map[uint64]uint64
}

// runner is one replay in progress.
type runner struct {
	opts  Options
	ids   *rewrite.Map
	log   *slog.Logger
	start time.Time
	idgen schema.IDGen
	conns atomic.Uint64

	gate  gate
	peers *peers // nil without Options.Media
	ups   ups    // the captured webrtcup events the new run has seen

	dc *dataChannels // nil without Options.DataChannel (datachannel.go)

	mu  sync.Mutex // guards res
	res Result
}

// gate orders the steps of all clients as the capture did: a step is sent
// once every step captured before it has been answered. Steps are answered
// out of order; frontier is the first order not yet answered, and each
// waiter has its own channel, closed when the frontier passes it.
type gate struct {
	mu       sync.Mutex
	answered map[int]bool // orders at or after frontier that are answered
	frontier int
	waiters  map[int][]chan struct{}
}

// done records that step o is answered, and releases the waiters the
// frontier now passes.
func (g *gate) done(o int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if o < g.frontier {
		return
	}
	g.answered[o] = true
	old := g.frontier
	for g.answered[g.frontier] {
		delete(g.answered, g.frontier)
		g.frontier++
	}
	for k := old + 1; k <= g.frontier; k++ {
		for _, ch := range g.waiters[k] {
			close(ch)
		}
		delete(g.waiters, k)
	}
}

// wait waits until every step before o is answered. When that takes longer
// than timeout it gives up on the step holding the frontier (so that one
// lost answer does not hold every later step for as long) and returns false.
func (g *gate) wait(ctx context.Context, o int, timeout time.Duration) bool {
	g.mu.Lock()
	if g.frontier >= o {
		g.mu.Unlock()
		return true
	}
	ch := make(chan struct{})
	g.waiters[o] = append(g.waiters[o], ch)
	g.mu.Unlock()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	case <-timer.C:
		g.mu.Lock()
		f := g.frontier
		g.mu.Unlock()
		if f < o {
			g.done(f)
		}
		return false
	}
}

// ups are the captured webrtcup events whose counterpart came in the new
// run, for the steps that wait for them (plan.Step.After).
type ups struct {
	mu      sync.Mutex
	seen    map[string]bool // captured event ids
	changed chan struct{}   // closed and replaced at each arrival
}

// arrived records that the captured webrtcup ev came in the new run.
func (u *ups) arrived(ev *schema.Event) {
	if ev.Janus == nil || ev.Janus.Janus != "webrtcup" {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.seen == nil {
		u.seen = map[string]bool{}
	}
	u.seen[ev.ID] = true
	if u.changed != nil {
		close(u.changed)
		u.changed = nil
	}
}

// wait waits until every event of evs arrived, and returns those that did
// not within timeout.
func (u *ups) wait(ctx context.Context, evs []*schema.Event, timeout time.Duration) []string {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		u.mu.Lock()
		var missing []string
		for _, ev := range evs {
			if !u.seen[ev.ID] {
				missing = append(missing, schema.Summary(ev))
			}
		}
		if u.changed == nil {
			u.changed = make(chan struct{})
		}
		ch := u.changed
		u.mu.Unlock()
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-timer.C:
			return missing
		case <-ctx.Done():
			return missing
		}
	}
}

// Replay plays p against opts.Target and returns the new run.
func Replay(ctx context.Context, p *plan.Plan, opts Options) (*Result, error) {
	if opts.Wait == 0 {
		opts.Wait = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Gateway == "" {
		opts.Gateway = "replay"
	}
	if opts.HTTPTransport == nil {
		tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
		defer tr.CloseIdleConnections()
		opts.HTTPTransport = tr
	}
	// A peer that cannot connect ends the run at once (cause: why).
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ids := rewrite.New()
	ids.Secrets = opts.Secrets
	if opts.Run != "" {
		ids.TxSuffix = "~" + opts.Run
	}
	r := &runner{opts: opts, ids: ids, log: opts.Logger.With("part", "replay"), start: time.Now(),
		gate: gate{answered: map[int]bool{}, waiters: map[int][]chan struct{}{}}}
	if opts.Media != nil {
		r.peers = &peers{opts: opts.Media, fail: cancel, byH: map[uint64]*media.Peer{}, offers: map[uint64]string{}, cands: map[uint64]int{}, awaited: map[*media.Peer]bool{}, awaitedDC: map[*media.Peer]bool{}}
		r.peers.simulcast, r.peers.layered = simulcastPlans(p.Events), layeredAnswers(p.Events)
		r.peers.later = laterSDPs(p.Events)
	}

	if reqs := dataChannelRequests(p, opts.DataChannel); len(reqs) > 0 {
		r.dc = &dataChannels{reqs: reqs, errs: map[uint64][]string{}}
	}
	if opts.OwnRooms {
		cleanup, err := r.ownRooms(ctx, p)
		if err != nil {
			return &r.res, fmt.Errorf("replay: %w", err)
		}
		defer cleanup()
	}
	var wg sync.WaitGroup
	for _, c := range p.Clients {
		wg.Go(func() {
			if err := r.client(ctx, p, c); err != nil {
				r.addError(fmt.Sprintf("%s: %v", c.Key, err))
			}
		})
	}
	wg.Wait()
	perr := r.closePeers(context.WithoutCancel(ctx))
	r.res.Duration = time.Since(r.start)
	if cause := context.Cause(ctx); errors.Is(cause, media.ErrNotConnected) {
		return &r.res, fmt.Errorf("replay: %w", cause)
	}
	for _, c := range ids.Conflicts() {
		r.addError(c)
	}
	if err := ctx.Err(); err != nil {
		r.res.Cancelled = true
		return &r.res, fmt.Errorf("replay: %w", err)
	}
	if perr != nil {
		return &r.res, fmt.Errorf("replay: %w", perr)
	}
	return &r.res, nil
}

func (r *runner) addError(s string) {
	r.mu.Lock()
	r.res.Errors = append(r.res.Errors, s)
	r.mu.Unlock()
}

// markAnswered records that the step of order o has its answer, releasing
// the steps of other clients that wait for it.
func (r *runner) markAnswered(o int) { r.gate.done(o) }

// conn is one client connection of the new run.
type conn struct {
	r    *runner
	id   string
	seq  atomic.Uint64
	tr   schema.Transport
	ws   *janus.WSClient
	http *janus.HTTPClient

	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever pending shrinks
	pending []*schema.Event
	early   []*schema.Event   // received before any pending message matched them
	matched map[string]bool   // captured event ids that have their counterpart
	txWait  map[string]txWait // new transaction → the step waiting for its reply (WebSocket)

	// REST: the session being long-polled (0 when none) and the poller's
	// wake-up, nudged when something is expected.
	session  uint64
	pollWake chan struct{}
}

// txWait is a WebSocket request waiting for its reply.
type txWait struct {
	order int       // the step's order
	sent  time.Time // when it was sent, for its round trip
}

func (r *runner) newEvent(c *conn, dir schema.Direction, kind schema.Kind, body []byte) *schema.Event {
	now := time.Now()
	ev := &schema.Event{
		V: schema.VersionOf(kind), ID: r.idgen.New(now), Gateway: r.opts.Gateway, Tap: "replay",
		Conn: c.id, Seq: c.seq.Add(1), Time: now, Mono: int64(now.Sub(r.start)),
		Transport: c.tr, Direction: dir, Kind: kind, Labels: r.opts.Labels,
	}
	if len(body) > 0 {
		if red, ok := schema.Redact(body, schema.SecretKeys); ok {
			body, ev.Redacted = red, true
		}
		ev.Body = body
		ev.BodySize = len(body)
		if j, err := schema.ParseJanus(body); err == nil {
			ev.Janus = j
		} else {
			ev.ParseError = err.Error()
		}
	}
	return ev
}

func (r *runner) record(ev *schema.Event) {
	r.mu.Lock()
	r.res.Events = append(r.res.Events, ev)
	r.mu.Unlock()
	if r.opts.Emit != nil {
		r.opts.Emit(ev)
	}
}

// client replays one client's steps.
func (r *runner) client(ctx context.Context, p *plan.Plan, c *plan.Client) error {
	// However this client ends, its steps no longer hold the others.
	defer func() {
		for _, s := range c.Steps {
			r.markAnswered(s.Order)
		}
	}()
	tr := c.Transport
	if r.opts.Transport != "" && !tr.IsAdmin() {
		tr = r.opts.Transport
	}
	cn := &conn{r: r, id: fmt.Sprintf("replay-%s-%d", r.opts.Run, r.conns.Add(1)), tr: tr, changed: make(chan struct{}), txWait: map[string]txWait{}, matched: map[string]bool{}}
	// Connect when the capture did, once the client's first request is due,
	// rather than all clients at once: a capture of a thousand sessions in a
	// row never had a thousand connections open.
	r.gate.wait(ctx, c.Steps[0].Order, r.opts.Wait)
	switch tr {
	case schema.WS, schema.AdminWS:
		url, proto := r.opts.Target.WS, janus.Protocol
		if tr == schema.AdminWS {
			url, proto = r.opts.Target.AdminWS, janus.AdminProtocol
		}
		if url == "" {
			return fmt.Errorf("no %s target", tr)
		}
		ws, err := janus.DialWS(ctx, url, proto)
		if err != nil {
			return err
		}
		cn.ws = ws
		r.record(cn.openEvent(url))
		// The receiver ends when the connection does; the client returns
		// only after both, so nothing of the run outlives it.
		done := make(chan struct{})
		go func() {
			defer close(done)
			cn.receive(ws.Events())
		}()
		defer func() {
			ws.Close()
			<-done
		}()
	default:
		url := r.opts.Target.HTTP
		if tr == schema.AdminHTTP {
			url = r.opts.Target.AdminHTTP
		}
		if url == "" {
			return fmt.Errorf("no %s target", tr)
		}
		cn.http = janus.NewHTTP(url)
		// The long-polls have a transport of their own, closed with the
		// client: a long-poll is cancelled when its client ends, and a
		// cancelled request must not take down a connection or a dial
		// that a request of another run waits for.
		polls := &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}
		defer polls.CloseIdleConnections()
		cn.http.HTTP = &http.Client{Transport: authQuery{rt: r.opts.HTTPTransport, polls: polls, secrets: r.opts.Secrets}}
		cn.pollWake = make(chan struct{}, 1)
		pctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			cn.poll(pctx)
		}()
		// The poller ends before the client returns: nothing of the run
		// outlives it.
		defer func() {
			stop()
			<-done
		}()
	}

	teardownAt := map[*plan.Step]*plan.Refusal{} // steps a refused request's teardown goes before
	for _, s := range c.Steps {
		if s.Refused != nil && s.Refused.Before != nil {
			teardownAt[s.Refused.Before] = s.Refused
		}
	}
	for i, s := range c.Steps {
		if i > 0 {
			if missing := cn.waitPending(ctx, r.opts.Wait); len(missing) > 0 {
				r.mu.Lock()
				r.res.Waits = append(r.res.Waits, fmt.Sprintf("%s: before request %d (%s): %d expected messages did not arrive within %s: %s",
					c.Key, i+1, describe(s.Request), len(missing), r.opts.Wait, strings.Join(missing, ", ")))
				r.mu.Unlock()
			}
		}
		if !r.gate.wait(ctx, s.Order, r.opts.Wait) && ctx.Err() == nil {
			r.mu.Lock()
			r.res.Waits = append(r.res.Waits, fmt.Sprintf("%s: request %d (%s) sent before other clients' earlier requests were answered", c.Key, i+1, describe(s.Request)))
			r.mu.Unlock()
		}
		if r.peers != nil && len(s.After) > 0 {
			if missing := r.ups.wait(ctx, s.After, r.opts.Wait); len(missing) > 0 && ctx.Err() == nil {
				r.mu.Lock()
				r.res.Waits = append(r.res.Waits, fmt.Sprintf("%s: before request %d (%s): other clients' PeerConnections did not come up within %s: %s",
					c.Key, i+1, describe(s.Request), r.opts.Wait, strings.Join(missing, ", ")))
				r.mu.Unlock()
			}
		}
		missing := cn.closePeersFirst(ctx, p, s)
		if m := cn.teardownFirst(ctx, p, teardownAt[s]); m != "" {
			missing = append(missing, m)
		}
		for _, m := range missing {
			r.mu.Lock()
			r.res.Waits = append(r.res.Waits, fmt.Sprintf("%s: before request %d (%s): %s", c.Key, i+1, describe(s.Request), m))
			r.mu.Unlock()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if r.opts.Speed > 0 {
			at := r.start.Add(time.Duration(float64(s.At) / r.opts.Speed))
			if d := time.Until(at); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		r.sendData(ctx, s.Order)
		cn.addPending(p, s.Expect)
		if cn.ws != nil && s.Reply != nil {
			cn.addPending(p, []*schema.Event{s.Reply}) // a REST reply comes as a frame
		}
		if err := cn.send(ctx, s); err != nil {
			r.addError(fmt.Sprintf("%s: request %d (%s): %v", c.Key, i+1, describe(s.Request), err))
			r.markAnswered(s.Order)
		}
	}
	r.sendDataLeft(ctx, c.Key)
	if missing := cn.waitPending(ctx, r.opts.Wait); len(missing) > 0 {
		r.mu.Lock()
		r.res.Waits = append(r.res.Waits, fmt.Sprintf("%s: at the end: %d expected messages did not arrive within %s: %s", c.Key, len(missing), r.opts.Wait, strings.Join(missing, ", ")))
		r.mu.Unlock()
	}
	return nil
}

func describe(ev *schema.Event) string {
	if ev.Janus != nil && ev.Janus.Janus != "" {
		s := ev.Janus.Janus
		if ev.Janus.PluginValue != "" {
			s += " " + ev.Janus.PluginValue
		}
		return s
	}
	return fmt.Sprintf("%d bytes", len(ev.Body))
}

func (c *conn) openEvent(url string) *schema.Event {
	ev := c.r.newEvent(c, schema.ToGateway, schema.Open, nil)
	ev.Path = url
	return ev
}

// addPending adds captured messages the new run must see before the next
// step. Media-dependent events and keepalives are not waited for.
func (c *conn) addPending(p *plan.Plan, evs []*schema.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range evs {
		if ev.Janus == nil || ev.Janus.Janus == "keepalive" || p.Teardown(ev) || plan.NeedsMedia(ev) && !c.r.reproduces(ev) ||
			c.matched[ev.ID] || slices.Contains(c.pending, ev) {
			continue
		}
		if i := slices.IndexFunc(c.early, func(got *schema.Event) bool { return c.same(ev, got) }); i >= 0 {
			c.r.ids.Learn(ev.Body, c.early[i].Body)
			c.r.ups.arrived(ev)
			c.early = slices.Delete(c.early, i, i+1)
			c.matched[ev.ID] = true
			continue
		}
		c.pending = append(c.pending, ev)
	}
	c.nudge()
}

// poll long-polls the REST session while the capture shows messages to
// come from the gateway, as its client did, and stops when nothing more is
// expected. Janus 1.1.2 answers a long-poll still out when its session is
// destroyed only at its 30 s timeout, and holds the connection until then
// even when the client has closed it; past about a thousand such
// connections it takes no new ones. A replay that always kept a long-poll
// out, as a browser does, would stall a load replay of a few thousand
// sessions.
func (c *conn) poll(ctx context.Context) {
	maxev := 10
	for rid := 1; ctx.Err() == nil; rid++ {
		c.mu.Lock()
		session, want := c.session, c.wantPoll()
		c.mu.Unlock()
		if session == 0 || !want {
			select {
			case <-c.pollWake:
				continue
			case <-ctx.Done():
				return
			}
		}
		r, err := c.http.Get(ctx, "/"+strconv.FormatUint(session, 10)+"?rid="+strconv.Itoa(rid)+"&maxev="+strconv.Itoa(maxev))
		if err != nil || r.Status != http.StatusOK {
			return
		}
		elems, _, err := schema.SplitArray(r.Body)
		if err != nil {
			// Not an array: Janus answers a long-poll of a session it does
			// not know with one error object.
			c.mu.Lock()
			if c.session == session {
				c.session = 0
			}
			c.mu.Unlock()
			continue
		}
		for _, e := range elems {
			if j, err := schema.ParseJanus(e); err == nil && j.Janus == "keepalive" {
				continue
			}
			ev := c.r.newEvent(c, schema.ToClient, schema.PollEvent, e)
			c.r.record(ev)
			c.match(ev)
		}
	}
}

// replyTypes are the messages that answer a request rather than come on
// their own.
var replyTypes = map[string]bool{"success": true, "error": true, "ack": true, "server_info": true, "pong": true}

// wantPoll reports whether a pending message is one a long-poll brings.
// c.mu is held.
func (c *conn) wantPoll() bool {
	for _, ev := range c.pending {
		if !replyTypes[ev.Janus.Janus] {
			return true
		}
	}
	return false
}

// nudge wakes the poller.
func (c *conn) nudge() {
	if c.pollWake == nil {
		return
	}
	select {
	case c.pollWake <- struct{}{}:
	default:
	}
}

// reproduces reports whether the replay makes a media-dependent event
// happen, so that it is waited for: with a peer, webrtcup, media and
// slowlink, and a hangup that is not the teardown of a hangup or detach
// (DTLS alert, ICE failed).
func (r *runner) reproduces(ev *schema.Event) bool {
	if r.peers == nil {
		return false
	}
	if ev.Janus.Janus == "hangup" {
		return ev.Janus.Reason != "Detach" && ev.Janus.Reason != "Close PC"
	}
	return true
}

// waitPending waits until every pending captured message has its
// counterpart in the new run, and returns those still missing.
func (c *conn) waitPending(ctx context.Context, wait time.Duration) []string {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		c.mu.Lock()
		n, ch := len(c.pending), c.changed
		var missing []string
		alerts := n > 0
		if n > 0 {
			for _, ev := range c.pending {
				missing = append(missing, schema.Summary(ev))
				alerts = alerts && ev.Janus.Janus == "hangup" && ev.Janus.Reason == "DTLS alert"
			}
		}
		pending := slices.Clone(c.pending)
		c.mu.Unlock()
		if n == 0 {
			return nil
		}
		if alerts {
			// All that is left is Janus hanging up because the client
			// closed its PeerConnection: the peer does the same.
			c.r.closedByClient(pending)
		}
		select {
		case <-ch:
		case <-timer.C:
			return missing
		case <-ctx.Done():
			return missing
		}
	}
}

// receive records what the gateway sends on its own over WebSocket and
// matches it with the capture, until msgs is closed.
func (c *conn) receive(msgs <-chan []byte) {
	for b := range msgs {
		ev := c.r.newEvent(c, schema.ToClient, schema.Frame, b)
		c.r.record(ev)
		c.match(ev)
	}
}

// match finds the pending captured message ev answers, learns the ids that
// differ, and wakes the waiters.
func (c *conn) match(ev *schema.Event) {
	if ev.Janus == nil {
		return
	}
	c.r.incoming(ev)
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, want := range c.pending {
		if !c.same(want, ev) {
			continue
		}
		c.r.ids.Learn(want.Body, ev.Body)
		c.r.ups.arrived(want)
		c.matched[want.ID] = true
		c.pending = append(c.pending[:i], c.pending[i+1:]...)
		close(c.changed)
		c.changed = make(chan struct{})
		c.answered(ev)
		return
	}
	c.early = append(c.early, ev)
	// Not expected: still, a reply to a request answers it.
	c.answered(ev)
}

// answered releases the WebSocket request ev replies to, if any, and
// records its round trip. c.mu is held.
func (c *conn) answered(ev *schema.Event) {
	w, ok := c.txWait[ev.Janus.Transaction]
	if !ok || ev.Janus.Janus == "event" {
		return
	}
	delete(c.txWait, ev.Janus.Transaction)
	c.r.mu.Lock()
	c.r.res.Latencies = append(c.r.res.Latencies, ev.Time.Sub(w.sent))
	c.r.mu.Unlock()
	c.r.markAnswered(w.order)
}

// same reports whether the new message got is the counterpart of the
// captured message want: same type, same (mapped) transaction, and the same
// (mapped) sender when both are known.
func (c *conn) same(want, got *schema.Event) bool {
	w, g := want.Janus, got.Janus
	if w.Janus != g.Janus {
		return false
	}
	if w.Transaction != "" || g.Transaction != "" {
		if c.r.ids.Tx(w.Transaction) != g.Transaction {
			return false
		}
	}
	if w.Sender != 0 {
		if n, ok := c.r.ids.ID(w.Sender); ok && n != g.Sender {
			return false
		}
	}
	return true
}

// send sends one step's request, rewritten, and handles its reply.
func (c *conn) send(ctx context.Context, s *plan.Step) error {
	body := s.Request.Body
	for _, p := range s.Parts {
		body = append(append([]byte{}, body...), p.Body...)
	}
	_, capSession, capHandle := schema.ParsePath(s.Request.Path)
	if c.ws != nil && !s.Request.Transport.IsWS() && capSession != 0 {
		body = addIDs(body, capSession, capHandle) // REST capture over WebSocket: ids go into the body
	}
	body, _ = c.r.ids.Rewrite(body)
	if c.r.peers != nil {
		handle := capHandle
		if n, ok := c.r.ids.ID(handle); ok {
			handle = n
		}
		if j, err := schema.ParseJanus(body); err == nil && j.HandleID != 0 {
			handle = j.HandleID
		}
		if !c.r.refusedWithoutPeer(s, handle) {
			var err error
			if body, err = c.transplant(ctx, body, handle); err != nil {
				return err
			}
		}
	}
	req := c.r.newEvent(c, schema.ToGateway, schema.Frame, body)
	if c.http != nil {
		req.Kind = schema.Request
		req.Method = s.Request.Method
		if req.Method == "" {
			req.Method = http.MethodPost
		}
	}
	if c.ws != nil {
		c.r.record(req)
		tx := ""
		if req.Janus != nil {
			tx = req.Janus.Transaction
		}
		expectsReply := false
		expect := s.Expect
		if s.Reply != nil {
			expect = append(expect[:len(expect):len(expect)], s.Reply)
		}
		for _, e := range expect {
			if e.Janus != nil && e.Janus.Janus != "event" && c.r.ids.Tx(e.Janus.Transaction) == tx {
				expectsReply = true
			}
		}
		if expectsReply {
			c.mu.Lock()
			c.txWait[tx] = txWait{order: s.Order, sent: time.Now()}
			c.mu.Unlock()
		} else {
			defer c.r.markAnswered(s.Order)
		}
		return c.ws.Send(body)
	}

	// HTTP: the path names the rewritten session and handle.
	defer c.r.markAnswered(s.Order)
	session, handle := capSession, capHandle
	if s.Request.Transport.IsWS() && req.Janus != nil { // WebSocket capture over REST
		session, handle = 0, 0
	}
	if n, ok := c.r.ids.ID(session); ok {
		session = n
	}
	if n, ok := c.r.ids.ID(handle); ok {
		handle = n
	}
	req.Path = pathOf(s.Request.Path, session, handle)
	if req.Path == "" {
		req.Path = "/janus"
	}
	idsFromPath(req)
	c.r.record(req)
	t0 := time.Now()
	var reply janus.Reply
	var err error
	if req.Method == http.MethodGet {
		reply, err = c.http.Get(ctx, strings.TrimPrefix(req.Path, basePath(c.http.Base)))
	} else {
		reply, err = c.http.Do(ctx, body, session, handle)
	}
	lat := time.Since(t0)
	if err != nil {
		return err
	}
	c.r.mu.Lock()
	c.r.res.Latencies = append(c.r.res.Latencies, lat)
	c.r.mu.Unlock()
	resp := c.r.newEvent(c, schema.ToClient, schema.Response, reply.Body)
	resp.Status = reply.Status
	resp.Parent = req.ID
	resp.Method, resp.Path = req.Method, req.Path
	idsFromPath(resp)
	c.r.record(resp)
	if s.Reply != nil {
		c.r.ids.Learn(s.Reply.Body, reply.Body)
	}
	c.match(resp) // a WebSocket capture expects its reply among the frames
	// A new session polls for its events, as a REST client does.
	if resp.Janus != nil && req.Janus != nil && req.Janus.Janus == "create" && resp.Janus.DataID != 0 && c.tr == schema.HTTP {
		c.mu.Lock()
		c.session = resp.Janus.DataID
		c.mu.Unlock()
		c.nudge()
	}
	if req.Janus != nil && req.Janus.Janus == "destroy" && session != 0 {
		c.mu.Lock()
		if c.session == session {
			c.session = 0
		}
		c.mu.Unlock()
	}
	// Over WebSocket the reply would have been pending: count it matched.
	return nil
}

// pathOf rebuilds a REST path with new ids: /janus, /janus/S or /janus/S/H.
func pathOf(captured string, session, handle uint64) string {
	base, _, _ := schema.ParsePath(captured)
	if base == "" {
		base = "janus"
	}
	p := "/" + base
	if session != 0 {
		p += "/" + strconv.FormatUint(session, 10)
		if handle != 0 {
			p += "/" + strconv.FormatUint(handle, 10)
		}
	} else if strings.HasSuffix(captured, "/info") {
		p += "/info"
	}
	return p
}

func basePath(base string) string {
	if i := strings.Index(base, "://"); i >= 0 {
		if j := strings.IndexByte(base[i+3:], '/'); j >= 0 {
			return base[i+3+j:]
		}
	}
	return ""
}

// addIDs puts session_id (and handle_id) into a REST body, for sending it
// over WebSocket, unless the body has them already.
func addIDs(body []byte, session, handle uint64) []byte {
	t := bytes.TrimLeft(body, " \t\r\n")
	if len(t) == 0 || t[0] != '{' {
		return body
	}
	lead := len(body) - len(t)
	var add string
	if !bytes.Contains(body, []byte(`"session_id"`)) {
		add += `"session_id":` + strconv.FormatUint(session, 10) + ","
	}
	if handle != 0 && !bytes.Contains(body, []byte(`"handle_id"`)) {
		add += `"handle_id":` + strconv.FormatUint(handle, 10) + ","
	}
	if add == "" {
		return body
	}
	if rest := bytes.TrimLeft(t[1:], " \t\r\n"); len(rest) > 0 && rest[0] == '}' {
		add = strings.TrimSuffix(add, ",")
	}
	out := make([]byte, 0, len(body)+len(add))
	out = append(out, body[:lead+1]...)
	out = append(out, add...)
	out = append(out, body[lead+1:]...)
	return out
}

// authQuery adds the replay's apisecret and token to the query of the
// requests that carry no body (the long-polls, GET /info), as a REST client
// does: without them a Janus that requires a secret or a token answers no
// long-poll with events.
//
// It also sends long-polls (GETs with a rid) over polls, the rest over rt.
type authQuery struct {
	rt, polls http.RoundTripper
	secrets   rewrite.Secrets
}

func (a authQuery) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet && req.URL.Query().Has("rid") {
		a.rt = a.polls // a is a copy
	}
	if req.Method != http.MethodGet || a.secrets.APISecret == "" && a.secrets.Token == "" {
		return a.rt.RoundTrip(req)
	}
	q := req.URL.Query()
	changed := false
	for _, p := range []struct{ k, v string }{{"apisecret", a.secrets.APISecret}, {"token", a.secrets.Token}} {
		if p.v != "" && (q.Get(p.k) == "" || q.Get(p.k) == schema.RedactedMarker) {
			q.Set(p.k, p.v)
			changed = true
		}
	}
	if !changed {
		return a.rt.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	r.URL.RawQuery = q.Encode()
	return a.rt.RoundTrip(r)
}

// idsFromPath does what the tap does with a REST message: the session id
// of its path (and for a request the handle id) when the body has none, so
// that a recorded run's requests are linked to their sessions as a
// capture's are.
func idsFromPath(ev *schema.Event) {
	_, session, handle := schema.ParsePath(ev.Path)
	if session == 0 {
		return
	}
	if ev.Janus == nil {
		ev.Janus = &schema.Janus{}
	}
	if ev.Janus.SessionID == 0 {
		ev.Janus.SessionID = session
	}
	if ev.Janus.HandleID == 0 && ev.Direction == schema.ToGateway {
		ev.Janus.HandleID = handle
	}
}
