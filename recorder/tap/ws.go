package tap

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/janustap/janustap/schema"
)

// The subprotocols of Janus's WebSocket transport.
const (
	JanusProtocol = "janus-protocol"
	AdminProtocol = "janus-admin-protocol"
)

// closeGrace is how long the tap waits for the second half of a close
// handshake, or for the other side to notice a dropped connection.
const closeGrace = 5 * time.Second

// CloseBadGateway is the close code the tap sends a WebSocket client whose
// gateway could not be reached or went away: 1011 (internal error), since
// the registry's 1014 (bad gateway) is refused by some clients, gorilla's
// among them. The close reason says what happened.
const CloseBadGateway = 1011

// wsIdleAfter is how long a relay waits for the next message on the
// goroutine that relayed the last one, before it waits on a new goroutine
// with the smallest stack (see wsRelay). Tap.wsIdleAfter is this, but in
// tests.
const wsIdleAfter = time.Second

// wsReadBuffer is the size of the read buffer of each side of a pair, in
// bytes. An idle pair holds two. A message is read in pieces this size,
// or straight into the message where it is longer and the buffer empty,
// so a larger buffer saves few reads; gorilla needs 125 (a control frame).
const wsReadBuffer = 128

// wsPair is a client WebSocket and its upstream twin, relayed one way by
// toGateway and the other by toClient. Whichever relay ends last closes
// both sides and lets go of the pair.
type wsPair struct {
	t        *Tap
	conn     *conn
	tr       schema.Transport
	client   *websocket.Conn
	upstream *websocket.Conn
	once     sync.Once // shutdown

	toGateway, toClient wsRelay

	first   atomic.Bool  // a relay has ended; the other is in its grace period
	running atomic.Int32 // relays not done yet
	grace   *time.Timer  // closes both sides closeGrace after the first end
}

// wsRelay is one direction of a pair. One goroutine at a time runs it: an
// idle relay waits for its next message in wait, on a goroutine that has
// done nothing else, so that its stack is still the smallest there is. The
// goroutine that relays messages keeps relaying while they come, and hands
// the wait to a new goroutine once none has come for wsIdleAfter.
type wsRelay struct {
	p        *wsPair
	src, dst *websocket.Conn
	rc       *relayConn // under src's read buffer; nil when src is read through TLS
	dir      schema.Direction
	read     uint64 // messages read from src
}

// serveWS connects a WebSocket client to the gateway: the upstream
// connection is made first, with the subprotocol the client asked for, so
// that a gateway that is down gets the client a close frame with a reason.
func (t *Tap) serveWS(w http.ResponseWriter, r *http.Request) {
	c := t.newConn()
	offered := websocket.Subprotocols(r)
	var tr schema.Transport
	var target, proto string
	switch {
	case slices.Contains(offered, JanusProtocol) && t.janusWS != "":
		tr, target, proto = schema.WS, t.janusWS, JanusProtocol
	case slices.Contains(offered, AdminProtocol) && t.adminWS != "":
		tr, target, proto = schema.AdminWS, t.adminWS, AdminProtocol
	}
	open := t.newEvent(c, tr, schema.ToGateway, schema.Open)
	t.setRequest(open, r)
	open.Subprotocol = proto
	if target == "" {
		// Janus closes the TCP connection without an answer when the
		// subprotocol is missing or unknown; so does the tap.
		open.Transport = schema.WS
		t.emit(open)
		t.fail(c, schema.WS, open, fmt.Sprintf("websocket upgrade without a subprotocol the gateway serves (offered %q)", offered))
		if hj, ok := w.(http.Hijacker); ok {
			if nc, _, err := hj.Hijack(); err == nil {
				nc.Close()
				return
			}
		}
		http.Error(w, "janustap: unknown websocket subprotocol", http.StatusBadRequest)
		return
	}

	hdr := http.Header{}
	for _, k := range []string{"Origin", "User-Agent", "Cookie", "Authorization"} {
		if v := r.Header.Values(k); len(v) > 0 {
			hdr[k] = v
		}
	}
	hdr.Set("Sec-WebSocket-Protocol", proto)
	dialer := t.dialer
	if strings.HasPrefix(target, "wss:") {
		dialer = t.tlsDialer
	}
	upstream, resp, dialErr := dialer.DialContext(r.Context(), target, hdr)

	respHdr := http.Header{}
	if resp != nil {
		if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
			respHdr.Set("Access-Control-Allow-Origin", v)
		}
	}
	up := t.upgrader
	up.Subprotocols = []string{proto}
	client, err := up.Upgrade(hijacker{w}, r, respHdr)
	if err != nil {
		// Upgrade has answered the client with an HTTP error already.
		t.emit(open)
		t.fail(c, tr, open, "websocket upgrade: "+err.Error())
		if upstream != nil {
			upstream.Close()
		}
		return
	}
	client.SetReadLimit(t.cfg.MaxBody)
	t.emit(open)
	if dialErr != nil {
		msg := fmt.Sprintf("gateway %s unreachable: %v", t.cfg.Gateway, dialErr)
		t.logger.Warn("upstream unreachable", "transport", tr, "err", dialErr)
		t.fail(c, tr, open, msg)
		t.closeEvent(c, tr, schema.ToClient, CloseBadGateway, truncateReason("janustap: "+msg), "")
		client.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(CloseBadGateway, truncateReason("janustap: "+msg)), time.Now().Add(time.Second))
		client.Close()
		return
	}

	p := &wsPair{t: t, conn: c, tr: tr, client: client, upstream: upstream}
	p.toGateway = wsRelay{p: p, src: client, dst: upstream, dir: schema.ToGateway}
	p.toClient = wsRelay{p: p, src: upstream, dst: client, dir: schema.ToClient}
	p.toGateway.rc, _ = client.NetConn().(*relayConn)
	p.toClient.rc, _ = upstream.NetConn().(*relayConn)
	if !t.track(p) {
		p.shutdown(websocket.CloseGoingAway, "janustap: shutting down")
		return
	}
	t.wsConns.Add(1)
	t.wsOpen.Add(1)
	// The relays run on goroutines of their own, and this one returns: an
	// idle pair then holds two small stacks, not this goroutine's stack,
	// grown by the handshake, nor the HTTP server's buffers and request.
	p.start()
}

// hijacker hands gorilla's Upgrade the client's connection as a relayConn.
type hijacker struct{ http.ResponseWriter }

// Hijack takes the connection over from the HTTP server.
func (h hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	return &relayConn{Conn: nc, frames: frameScanner{atEnd: true}}, brw, nil
}

// dialRelayConn connects to the gateway for a websocket.Dialer and returns
// the connection as a relayConn, which skips the HTTP answer to the
// handshake before it follows the frames.
func dialRelayConn(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &relayConn{Conn: c, frames: frameScanner{inHead: true}}, nil
}

// truncateReason keeps a close reason within the 123 bytes a close frame
// allows.
func truncateReason(s string) string {
	if len(s) > 123 {
		return s[:123]
	}
	return s
}

// track registers p as open and counts its two relays, unless the tap is
// shutting down.
func (t *Tap) track(p *wsPair) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.live[p] = struct{}{}
	t.relays.Add(2)
	return true
}

func (t *Tap) untrack(p *wsPair) {
	t.mu.Lock()
	delete(t.live, p)
	t.mu.Unlock()
}

// closeWebSockets closes every open WebSocket pair, and refuses new ones.
func (t *Tap) closeWebSockets() {
	t.mu.Lock()
	t.closed = true
	pairs := make([]*wsPair, 0, len(t.live))
	for p := range t.live {
		pairs = append(pairs, p)
	}
	t.mu.Unlock()
	for _, p := range pairs {
		p.shutdown(websocket.CloseGoingAway, "janustap: shutting down")
	}
}

// waitWebSockets waits, until ctx is done, for the relays of the pairs
// closeWebSockets closed to finish.
func (t *Tap) waitWebSockets(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		t.relays.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// closeEvent records a close frame, or the end of a connection without one.
func (t *Tap) closeEvent(c *conn, tr schema.Transport, dir schema.Direction, code int, text, errMsg string) {
	ev := t.newEvent(c, tr, dir, schema.Close)
	ev.CloseCode, ev.CloseText, ev.Error = code, text, errMsg
	t.emit(ev)
}

// start relays messages both ways until the connection ends, on two
// goroutines it starts and returns. Close frames are relayed too, so that
// the close handshake runs end to end: each side gets the other's close
// code and reason.
func (p *wsPair) start() {
	for _, r := range []*wsRelay{&p.toGateway, &p.toClient} {
		r.src.SetCloseHandler(r.relayClose)
		r.src.SetPingHandler(r.relayPing)
		r.src.SetPongHandler(r.relayPong)
	}
	p.running.Store(2)
	go p.toGateway.wait()
	go p.toClient.wait()
}

// relayClose records a close frame from src and sends it on to dst.
func (r *wsRelay) relayClose(code int, text string) error {
	r.p.t.closeEvent(r.p.conn, r.p.tr, r.dir, code, text, "")
	msg := websocket.FormatCloseMessage(code, text)
	if code == websocket.CloseNoStatusReceived {
		msg = []byte{}
	}
	r.dst.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	return nil
}

func (r *wsRelay) relayPing(data string) error { return r.relayControl(websocket.PingMessage, data) }
func (r *wsRelay) relayPong(data string) error { return r.relayControl(websocket.PongMessage, data) }

// relayControl sends a ping or pong from src on to dst. Only an error that
// ends dst ends the relay.
func (r *wsRelay) relayControl(typ int, data string) error {
	err := r.dst.WriteControl(typ, []byte(data), time.Now().Add(time.Second))
	if errors.Is(err, websocket.ErrCloseSent) {
		return nil
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	return err
}

// wait starts every goroutine of r: it waits, with nothing else on its
// stack, until src has bytes to read, then relays them.
func (r *wsRelay) wait() {
	if r.rc != nil && r.rc.drained(r.read) {
		r.rc.readAhead()
	}
	r.pump()
}

// pump reads messages from src and writes them to dst, recording each
// before it is written, until the relay ends. Reading and recording a
// message grows a goroutine's stack, which keeps its size after; waiting
// needs the smallest. So when everything src has received is read and
// nothing more comes within wsIdleAfter, pump starts a new goroutine to wait
// and returns. A busy relay stays on one goroutine: growing a new one's
// stack for every message costs more than the message.
func (r *wsRelay) pump() {
	for {
		typ, data, err := r.src.ReadMessage()
		if err != nil {
			r.p.ended(r.src, err)
			return
		}
		r.read++
		r.p.record(data, typ == websocket.BinaryMessage, r.dir)
		if err := r.dst.WriteMessage(typ, data); err != nil {
			r.p.ended(r.dst, fmt.Errorf("relay %s message: %w", r.dir, err))
			return
		}
		if r.rc != nil && r.rc.drained(r.read) && !r.rc.readAheadWithin(r.p.t.wsIdleAfter) {
			go r.wait()
			return
		}
	}
}

// ended is called by each relay once, when it ends because reading from or
// writing to failed went wrong with err. The first of the two to end tells
// the other side why, when it was not a close handshake, and gives it
// closeGrace to finish; the last one closes both sides and lets go of the
// pair.
func (p *wsPair) ended(failed *websocket.Conn, err error) {
	defer p.t.relays.Done()
	if p.first.CompareAndSwap(false, true) {
		p.firstEnd(failed, err)
		// Give the other side a moment to finish its half of the handshake.
		p.grace = time.AfterFunc(closeGrace, func() { p.client.Close(); p.upstream.Close() })
	}
	if p.running.Add(-1) > 0 {
		return
	}
	p.grace.Stop()
	p.client.Close()
	p.upstream.Close()
	p.t.untrack(p)
	p.t.wsOpen.Add(-1)
}

// firstEnd handles the end of the first relay to end, which failed reading
// from or writing to failed with err.
func (p *wsPair) firstEnd(failed *websocket.Conn, err error) {
	// gorilla reports a connection that ended without a close frame as
	// close code 1006 (abnormal closure): that is a drop, not a close.
	var ce *websocket.CloseError
	if errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure {
		return
	}
	// One side dropped without a close frame (or broke a limit): record it
	// and tell the other side with a close frame that says why.
	from, other := schema.ToGateway, p.upstream
	code, text := websocket.CloseGoingAway, "janustap: client connection lost"
	if failed == p.upstream {
		from, other = schema.ToClient, p.client
		code, text = CloseBadGateway, truncateReason("janustap: gateway connection lost: "+err.Error())
	}
	if errors.Is(err, websocket.ErrReadLimit) {
		text := fmt.Sprintf("janustap: message over %d bytes", p.t.cfg.MaxBody)
		p.t.fail(p.conn, p.tr, nil, text)
		p.t.closeEvent(p.conn, p.tr, schema.ToClient, websocket.CloseMessageTooBig, text, "")
		p.client.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseMessageTooBig, text), time.Now().Add(time.Second))
	} else {
		p.t.closeEvent(p.conn, p.tr, from, websocket.CloseAbnormalClosure, "", err.Error())
	}
	other.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
	failed.Close()
}

// record emits the events of one message: one per JSON value it holds.
func (p *wsPair) record(data []byte, binary bool, dir schema.Direction) {
	parts, _ := schema.SplitObjects(data)
	var first *schema.Event
	for i, part := range parts {
		ev := p.t.newEvent(p.conn, p.tr, dir, schema.Frame)
		ev.Binary = binary
		if len(parts) > 1 {
			ev.Part, ev.Parts = i, len(parts)
			if first != nil {
				ev.Parent = first.ID
			}
		}
		p.t.setBody(ev, part)
		if first == nil {
			first = ev
		}
		p.t.emit(ev)
	}
}

// shutdown closes both sides with code and reason.
func (p *wsPair) shutdown(code int, reason string) {
	p.once.Do(func() {
		msg := websocket.FormatCloseMessage(code, reason)
		deadline := time.Now().Add(time.Second)
		p.client.WriteControl(websocket.CloseMessage, msg, deadline)
		p.upstream.WriteControl(websocket.CloseMessage, msg, deadline)
		p.t.closeEvent(p.conn, p.tr, schema.ToClient, code, reason, "")
		p.client.Close()
		p.upstream.Close()
	})
}

// relayConn is one side of a pair, under gorilla's read buffer. It follows
// the frames it hands that buffer, so that a relay can tell when every
// message received has been read, and it reads a byte ahead when asked, so
// that a relay can wait for the next message with little on its stack:
// waiting in gorilla's ReadMessage takes just over the 2 KiB a goroutine
// starts with, and an idle relay then holds 4 KiB.
type relayConn struct {
	net.Conn
	frames   frameScanner
	ahead    [1]byte
	held     bool  // ahead holds a byte read but not handed on yet
	aheadErr error // what the read ahead failed with, handed on after the byte
}

// Read hands on the byte read ahead, then the error of the read ahead, and
// reads from the connection once both are handed on.
func (c *relayConn) Read(p []byte) (n int, err error) {
	switch {
	case c.held && len(p) > 0:
		p[0], c.held = c.ahead[0], false
		n = 1
	case c.aheadErr != nil:
		err, c.aheadErr = c.aheadErr, nil
	default:
		n, err = c.Conn.Read(p)
	}
	c.frames.scan(p[:n])
	return n, err
}

// readAhead waits until the connection has a byte to read, or fails, and
// keeps what it got for Read.
func (c *relayConn) readAhead() {
	n, err := c.Conn.Read(c.ahead[:])
	c.held, c.aheadErr = n > 0, err
}

// readAheadWithin is readAhead for at most d. It reports whether the
// connection had a byte or failed within d.
func (c *relayConn) readAheadWithin(d time.Duration) bool {
	c.Conn.SetReadDeadline(time.Now().Add(d))
	n, err := c.Conn.Read(c.ahead[:])
	c.Conn.SetReadDeadline(time.Time{})
	if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	c.held, c.aheadErr = n > 0, err
	return true
}

// drained reports whether everything read from the connection has been
// read out of the buffer above it, by a reader that has read n messages.
func (c *relayConn) drained(n uint64) bool {
	return !c.held && c.aheadErr == nil && c.frames.atEnd && c.frames.messages == n
}

// frameScanner follows the WebSocket frames in a stream of bytes (RFC 6455,
// section 5.2): it counts the data messages whose last frame it has seen
// whole, and knows whether the stream so far ends with one. It can first
// skip the HTTP response head that opened the stream.
type frameScanner struct {
	left     uint64 // payload bytes of the current frame to come; in its header, the length so far
	messages uint64 // data messages seen whole
	pos      uint8  // bytes of the current frame's header seen; 0 between frames
	size     uint8  // length of the current frame's header, once its second byte is seen
	ext      uint8  // bytes of extended payload length in that header: 0, 2 or 8
	last     bool   // the current frame ends a data message: FIN set, opcode below 8
	atEnd    bool   // the stream so far ends with a whole data message, or at the first frame
	inHead   bool   // in the HTTP response head
	blank    bool   // in the head, at the start of a line (CR aside)
}

// scan follows the frames through the next bytes of the stream.
func (s *frameScanner) scan(b []byte) {
	for len(b) > 0 {
		if s.inHead {
			switch b[0] {
			case '\n':
				if s.blank {
					s.inHead, s.atEnd = false, true
				}
				s.blank = true
			case '\r':
			default:
				s.blank = false
			}
			b = b[1:]
			continue
		}
		if s.pos > 0 && s.pos == s.size { // in the payload
			n := min(uint64(len(b)), s.left)
			s.left -= n
			b = b[n:]
			if s.left == 0 {
				s.endFrame()
			}
			continue
		}
		c := b[0]
		b = b[1:]
		s.atEnd = false
		switch s.pos {
		case 0:
			s.last = c&0x80 != 0 && c&0x0f < 8
		case 1:
			s.size, s.ext, s.left = 2, 0, uint64(c&0x7f)
			switch s.left {
			case 126:
				s.ext, s.left = 2, 0
			case 127:
				s.ext, s.left = 8, 0
			}
			s.size += s.ext
			if c&0x80 != 0 {
				s.size += 4 // masking key
			}
		default:
			if s.pos-2 < s.ext {
				s.left = s.left<<8 | uint64(c)
			}
		}
		s.pos++
		if s.pos == s.size && s.left == 0 {
			s.endFrame()
		}
	}
}

func (s *frameScanner) endFrame() {
	if s.last {
		s.messages++
		s.atEnd = true
	}
	s.pos, s.size = 0, 0
}
