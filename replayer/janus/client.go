// Package janus is a small client of the Janus API and admin API, over
// HTTP (with the long-poll loop) and over WebSocket, with scripted flows
// (echotest, videoroom, admin). It sends bodies exactly as given and hands
// back what Janus answered byte for byte, so tests, the replayer and the
// load generator all see the wire as it is.
//
// It lives under replayer because playing a flow against a gateway is what
// speaks to Janus as a client in janustap; the recorder's tap is a proxy and
// never does. The bench's load generator and the tests (through
// recorder/tap/taptest) drive Janus with it too.
//
// It may import schema, gorilla/websocket and the standard library.
package janus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gorilla/websocket"
	"github.com/janustap/janustap/schema"
)

// Subprotocols of Janus's WebSocket transport.
const (
	Protocol      = "janus-protocol"
	AdminProtocol = "janus-admin-protocol"
)

// Reply is one answer of the gateway.
type Reply struct {
	Status int    // HTTP status; 0 over WebSocket
	Body   []byte // as received
}

// Client talks to one Janus over one transport. Replies to requests come
// back from Do; everything else the gateway sends (plugin events, webrtcup,
// detached, timeouts...) arrives on Events, whether by long-poll or
// WebSocket.
type Client interface {
	// Do sends one request body and waits for its reply. Over HTTP, session
	// and handle (when not 0) go into the path, as REST clients do; over
	// WebSocket the body must name them itself.
	Do(ctx context.Context, body []byte, session, handle uint64) (Reply, error)
	// Events delivers what the gateway sent on its own.
	Events() <-chan []byte
	// Close ends the client and its connection or long-polls.
	Close() error
}

// HTTPClient is a Client over Janus's HTTP transport.
type HTTPClient struct {
	Base   string       // base URL, such as http://127.0.0.1:8088/janus
	HTTP   *http.Client // nil means a client with its own transport
	MaxEv  int          // maxev of long-polls; 0 means 10, as janus.js
	Secret string       // apisecret for long-poll URLs, if any

	events chan []byte
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	polls  map[uint64]bool
}

// NewHTTP returns an HTTP client of the Janus API at base.
func NewHTTP(base string) *HTTPClient {
	ctx, cancel := context.WithCancel(context.Background())
	return &HTTPClient{
		Base:   strings.TrimSuffix(base, "/"),
		HTTP:   &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}},
		events: make(chan []byte, 256),
		ctx:    ctx,
		cancel: cancel,
		polls:  make(map[uint64]bool),
	}
}

// URL returns the request URL for a session and handle.
func (c *HTTPClient) URL(session, handle uint64) string {
	u := c.Base
	if session != 0 {
		u += "/" + strconv.FormatUint(session, 10)
		if handle != 0 {
			u += "/" + strconv.FormatUint(handle, 10)
		}
	}
	return u
}

// Do posts body and returns the answer.
func (c *HTTPClient) Do(ctx context.Context, body []byte, session, handle uint64) (Reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL(session, handle), bytes.NewReader(body))
	if err != nil {
		return Reply{}, fmt.Errorf("post to janus: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	return c.roundTrip(req)
}

// Get sends a GET, such as GET /janus/info, and returns the answer.
func (c *HTTPClient) Get(ctx context.Context, path string) (Reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+path, nil)
	if err != nil {
		return Reply{}, fmt.Errorf("get from janus: %w", err)
	}
	return c.roundTrip(req)
}

func (c *HTTPClient) roundTrip(req *http.Request) (Reply, error) {
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return Reply{}, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Reply{}, fmt.Errorf("read answer to %s %s: %w", req.Method, req.URL.Path, err)
	}
	return Reply{Status: resp.StatusCode, Body: b}, nil
}

// Poll starts the long-poll loop of a session, as janus.js does: one GET
// at a time, each answer's messages delivered on Events. It stops when the
// session is gone (HTTP 404), on StopPoll, or on Close.
func (c *HTTPClient) Poll(session uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.polls[session] {
		return
	}
	c.polls[session] = true
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.pollLoop(session)
	}()
}

// StopPoll ends the long-poll loop of a session after its current GET.
func (c *HTTPClient) StopPoll(session uint64) {
	c.mu.Lock()
	delete(c.polls, session)
	c.mu.Unlock()
}

func (c *HTTPClient) polling(session uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.polls[session]
}

func (c *HTTPClient) pollLoop(session uint64) {
	maxev := c.MaxEv
	if maxev == 0 {
		maxev = 10
	}
	var rid int
	for c.polling(session) && c.ctx.Err() == nil {
		rid++
		u := fmt.Sprintf("%s?rid=%d&maxev=%d", c.URL(session, 0), rid, maxev)
		if c.Secret != "" {
			u += "&apisecret=" + c.Secret
		}
		req, err := http.NewRequestWithContext(c.ctx, http.MethodGet, u, nil)
		if err != nil {
			return
		}
		r, err := c.roundTrip(req)
		if err != nil || r.Status != http.StatusOK {
			c.StopPoll(session)
			return
		}
		elems, _, err := schema.SplitArray(r.Body)
		if err != nil {
			continue
		}
		for _, e := range elems {
			if j, err := schema.ParseJanus(e); err == nil && j.Janus == "keepalive" {
				continue
			}
			select {
			case c.events <- e:
			case <-c.ctx.Done():
				return
			}
		}
	}
}

// Events delivers long-poll messages other than keepalives.
func (c *HTTPClient) Events() <-chan []byte { return c.events }

// Close stops every long-poll loop and waits for them.
func (c *HTTPClient) Close() error {
	c.cancel()
	c.wg.Wait()
	return nil
}

// WSClient is a Client over Janus's WebSocket transport.
type WSClient struct {
	conn   *websocket.Conn
	events chan []byte
	wmu    sync.Mutex // one writer at a time

	mu      sync.Mutex
	pending map[string]chan []byte // by transaction; "" for a request that has none
	err     error                  // why the connection ended
	done    chan struct{}
}

// DialWS connects to a Janus WebSocket with the given subprotocol (Protocol
// or AdminProtocol).
func DialWS(ctx context.Context, url, subprotocol string) (*WSClient, error) {
	d := websocket.Dialer{Subprotocols: []string{subprotocol}}
	conn, resp, err := d.DialContext(ctx, url, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s: %w (HTTP %d)", url, err, resp.StatusCode)
		}
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	c := &WSClient{
		conn:    conn,
		events:  make(chan []byte, 256),
		pending: make(map[string]chan []byte),
		done:    make(chan struct{}),
	}
	go c.read()
	return c, nil
}

// Conn returns the underlying WebSocket, for tests that need frames.
func (c *WSClient) Conn() *websocket.Conn { return c.conn }

// Done is closed when the connection has ended; Err then says why.
func (c *WSClient) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, or nil while it is open.
func (c *WSClient) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *WSClient) read() {
	defer close(c.done)
	defer close(c.events)
	for {
		_, msg, err := c.conn.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		j, err := schema.ParseJanus(msg)
		if err == nil && j.Janus != "event" {
			c.mu.Lock()
			ch, ok := c.pending[j.Transaction]
			if ok {
				delete(c.pending, j.Transaction)
			}
			c.mu.Unlock()
			if ok {
				ch <- msg
				continue
			}
		}
		c.events <- msg
	}
}

// ErrClosed is returned by Do when the connection ends before the reply.
var ErrClosed = errors.New("connection closed")

// Do sends body as one text frame and waits for the reply with the same
// transaction (for a body with no transaction, the next message that has
// none). session and handle are not used: a WebSocket body names them.
func (c *WSClient) Do(ctx context.Context, body []byte, _, _ uint64) (Reply, error) {
	tx := ""
	if j, err := schema.ParseJanus(body); err == nil {
		tx = j.Transaction
	}
	ch := make(chan []byte, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return Reply{}, fmt.Errorf("send on websocket: %w: %v", ErrClosed, c.err)
	}
	c.pending[tx] = ch
	c.mu.Unlock()
	if err := c.Send(body); err != nil {
		return Reply{}, err
	}
	select {
	case b := <-ch:
		return Reply{Body: b}, nil
	case <-c.done:
		return Reply{}, fmt.Errorf("wait for reply to %q: %w: %v", tx, ErrClosed, c.Err())
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, tx)
		c.mu.Unlock()
		return Reply{}, fmt.Errorf("wait for reply to %q: %w", tx, ctx.Err())
	}
}

// Send writes body as one text frame without waiting for anything.
func (c *WSClient) Send(body []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.conn.WriteMessage(websocket.TextMessage, body); err != nil {
		return fmt.Errorf("send on websocket: %w", err)
	}
	return nil
}

// Events delivers messages that answer no pending request.
func (c *WSClient) Events() <-chan []byte { return c.events }

// Close sends a normal close frame and closes the connection.
func (c *WSClient) Close() error {
	c.wmu.Lock()
	c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	c.wmu.Unlock()
	return c.conn.Close()
}
