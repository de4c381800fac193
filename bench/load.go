package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/schema"
)

// Transports the workload runs over.
const (
	HTTP = "http" // REST requests, events by long-poll
	WS   = "ws"   // one WebSocket per client, janus-protocol
)

// eventTimeout bounds the wait for one reply or event.
const eventTimeout = 10 * time.Second

// Workload is what every client does, over and over until its time is up:
// create a session, attach the echotest plugin, send Messages messages
// (each answered by an ack and then an event), detach (waiting for the
// detached event) and destroy the session.
type Workload struct {
	// Clients is the number of concurrent clients.
	Clients int
	// Messages is the number of echotest messages per session.
	Messages int
	// Rate is the total of API requests per second the clients send,
	// spread evenly over them; 0 means each client sends its next request
	// as soon as it has what it waits for (a closed loop).
	Rate float64
}

// loadResult is what one run of the workload against one target measured.
type loadResult struct {
	Requests  int           // API requests answered as expected
	Errors    int           // requests or events that failed or timed out
	FirstErr  error         // the first of those
	Elapsed   time.Duration // from the first request to the last client's end
	Latencies Latencies     // request → reply (the ack, for a message)
	EventLat  Latencies     // message request → its event
}

func (r *loadResult) merge(o *loadResult) {
	r.Requests += o.Requests
	r.Errors += o.Errors
	if r.FirstErr == nil {
		r.FirstErr = o.FirstErr
	}
	r.Elapsed += o.Elapsed
	r.Latencies = append(r.Latencies, o.Latencies...)
	r.EventLat = append(r.EventLat, o.EventLat...)
}

// endpoint is where a workload sends its requests.
type endpoint struct {
	HTTP string // base URL of the Janus API over HTTP, .../janus
	WS   string // URL of the Janus WebSocket
}

// runLoad runs w over transport against ep for d: every client starts
// sessions until d has passed and finishes the one it is in.
func runLoad(ctx context.Context, w Workload, transport string, ep endpoint, d time.Duration) *loadResult {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]*loadResult, w.Clients)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i := range w.Clients {
		c := &client{w: w, transport: transport, ep: ep, res: &loadResult{}}
		if w.Rate > 0 {
			c.interval = time.Duration(float64(time.Second) * float64(w.Clients) / w.Rate)
			// Spread the clients' first requests over one interval.
			c.next = start.Add(time.Duration(rand.Int64N(int64(c.interval) + 1)))
		}
		results[i] = c.res
		wg.Go(func() { c.run(ctx, deadline) })
	}
	wg.Wait()
	total := &loadResult{}
	for _, r := range results {
		total.merge(r)
	}
	total.Elapsed = time.Since(start)
	return total
}

// client is one simulated application.
type client struct {
	w         Workload
	transport string
	ep        endpoint
	res       *loadResult
	interval  time.Duration // between requests when paced; 0: closed loop
	next      time.Time     // when the next paced request is due

	c      janus.Client      // the client's one HTTP client or WebSocket
	hc     *janus.HTTPClient // c over HTTP
	ws     *janus.WSClient   // c over WebSocket
	events <-chan []byte     // the current session's events
	evs    [][]byte          // events read while waiting for another
}

func (c *client) fail(err error) {
	c.res.Errors++
	if c.res.FirstErr == nil {
		c.res.FirstErr = err
	}
}

func (c *client) run(ctx context.Context, deadline time.Time) {
	switch c.transport {
	case HTTP:
		c.hc = janus.NewHTTP(c.ep.HTTP)
		c.hc.HTTP = &http.Client{Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConnsPerHost: 4,
			DisableCompression:  true,
		}}
		c.c = c.hc
		defer c.hc.HTTP.CloseIdleConnections()
		defer c.hc.Close()
	case WS:
		dctx, cancel := context.WithTimeout(ctx, eventTimeout)
		ws, err := janus.DialWS(dctx, c.ep.WS, janus.Protocol)
		cancel()
		if err != nil {
			c.fail(err)
			return
		}
		c.ws, c.c, c.events = ws, ws, ws.Events()
		defer ws.Close()
	default:
		c.fail(fmt.Errorf("unknown transport %q", c.transport))
		return
	}
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if err := c.session(ctx); err != nil {
			c.fail(err)
			if c.ws != nil && c.ws.Err() != nil {
				return // the WebSocket is gone: nothing more to measure
			}
		}
	}
}

// pace waits until the next request is due.
func (c *client) pace(ctx context.Context) error {
	if c.interval == 0 {
		return nil
	}
	now := time.Now()
	if wait := c.next.Sub(now); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	} else if -wait > c.interval {
		// Too far behind to catch up without a burst: start again from now.
		c.next = now
	}
	c.next = c.next.Add(c.interval)
	return nil
}

// do sends one API request and checks the type of its reply.
func (c *client) do(ctx context.Context, body []byte, session, handle uint64, want string) (*schema.Janus, time.Time, error) {
	if err := c.pace(ctx); err != nil {
		return nil, time.Time{}, err
	}
	rctx, cancel := context.WithTimeout(ctx, eventTimeout)
	defer cancel()
	sent := time.Now()
	r, err := c.c.Do(rctx, body, session, handle)
	rtt := time.Since(sent)
	if err != nil {
		return nil, sent, err
	}
	if r.Status != 0 && r.Status != http.StatusOK {
		return nil, sent, fmt.Errorf("HTTP %d: %.200s", r.Status, r.Body)
	}
	j, err := schema.ParseJanus(r.Body)
	if err != nil {
		return nil, sent, fmt.Errorf("reply: %w", err)
	}
	if j.Janus != want {
		return nil, sent, fmt.Errorf("want %s, got %.200s", want, r.Body)
	}
	c.res.Requests++
	c.res.Latencies = append(c.res.Latencies, rtt)
	return j, sent, nil
}

// waitEvent returns the first event for which match is true, keeping the
// others for later waits of the same session.
func (c *client) waitEvent(ctx context.Context, match func(*schema.Janus) bool) error {
	for i, b := range c.evs {
		if j, err := schema.ParseJanus(b); err == nil && match(j) {
			c.evs = append(c.evs[:i], c.evs[i+1:]...)
			return nil
		}
	}
	t := time.NewTimer(eventTimeout)
	defer t.Stop()
	for {
		select {
		case b, ok := <-c.events:
			if !ok {
				return fmt.Errorf("wait for event: %w", janus.ErrClosed)
			}
			if j, err := schema.ParseJanus(b); err == nil && match(j) {
				return nil
			}
			c.evs = append(c.evs, b)
		case <-t.C:
			return errors.New("wait for event: timed out")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// session runs one session from create to destroy.
func (c *client) session(ctx context.Context) (err error) {
	c.evs = c.evs[:0]
	ws := c.transport == WS
	tx := func() string { return janus.NewTx() }

	j, _, err := c.do(ctx, fmt.Appendf(nil, `{"janus":"create","transaction":"%s"}`, tx()), 0, 0, "success")
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	sid := j.DataID
	if !ws {
		pctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		events := make(chan []byte, 64)
		c.events = events
		go func() {
			defer close(done)
			c.longPoll(pctx, sid, events)
		}()
		defer func() { cancel(); <-done }()
	}
	ids := func(h uint64) string {
		if !ws {
			return ""
		}
		s := `,"session_id":` + strconv.FormatUint(sid, 10)
		if h != 0 {
			s += `,"handle_id":` + strconv.FormatUint(h, 10)
		}
		return s
	}
	destroy := func() error {
		_, _, err := c.do(ctx, fmt.Appendf(nil, `{"janus":"destroy","transaction":"%s"%s}`, tx(), ids(0)), sid, 0, "success")
		if err != nil {
			return fmt.Errorf("destroy: %w", err)
		}
		return nil
	}

	j, _, err = c.do(ctx, fmt.Appendf(nil, `{"janus":"attach","plugin":"%s","transaction":"%s"%s}`, janus.EchoTest, tx(), ids(0)), sid, 0, "success")
	if err != nil {
		return errors.Join(fmt.Errorf("attach: %w", err), destroy())
	}
	hid := j.DataID
	for i := range c.w.Messages {
		t := tx()
		body := fmt.Appendf(nil, `{"janus":"message","body":{"audio":true,"video":true},"transaction":"%s"%s}`, t, ids(hid))
		_, sent, err := c.do(ctx, body, sid, hid, "ack")
		if err != nil {
			return errors.Join(fmt.Errorf("message %d: %w", i, err), destroy())
		}
		if err := c.waitEvent(ctx, func(j *schema.Janus) bool { return j.Janus == "event" && j.Transaction == t }); err != nil {
			return errors.Join(fmt.Errorf("event of message %d: %w", i, err), destroy())
		}
		c.res.EventLat = append(c.res.EventLat, time.Since(sent))
	}
	if _, _, err := c.do(ctx, fmt.Appendf(nil, `{"janus":"detach","transaction":"%s"%s}`, tx(), ids(hid)), sid, hid, "success"); err != nil {
		return errors.Join(fmt.Errorf("detach: %w", err), destroy())
	}
	if err := c.waitEvent(ctx, func(j *schema.Janus) bool { return j.Janus == "detached" && j.Sender == hid }); err != nil {
		return errors.Join(fmt.Errorf("detached: %w", err), destroy())
	}
	return destroy()
}

// longPoll delivers the events of session sid, as janus.js's long-poll
// loop does, until the detached event or ctx is done: Janus holds a poll
// for 30 s after its session is gone, connection and all, so a client
// that polls on after detached leaves one behind for each session. (On
// an error the pending poll is cancelled, which closes its connection.)
func (c *client) longPoll(ctx context.Context, sid uint64, events chan<- []byte) {
	defer close(events)
	path := "/" + strconv.FormatUint(sid, 10) + "?maxev=10"
	for {
		r, err := c.hc.Get(ctx, path)
		if err != nil || r.Status != http.StatusOK {
			return
		}
		elems, _, err := schema.SplitArray(r.Body)
		if err != nil {
			continue
		}
		for _, e := range elems {
			j, err := schema.ParseJanus(e)
			if err == nil && j.Janus == "keepalive" {
				continue
			}
			select {
			case events <- e:
			case <-ctx.Done():
				return
			}
			if err == nil && j.Janus == "detached" {
				return
			}
		}
	}
}
