package tap

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// The tap's HTTP/1.1 server.
//
// net/http's server is not used on the tap's listeners (Handler still
// works in one): for every request it starts a background read of the
// connection, to notice a client that goes away, and stops it again once the
// handler returns by setting a deadline in the past and waiting for the
// reader to wake. On this path that is a goroutine, two wake-ups and a
// dozen futex and epoll calls per request, 20-35 µs of a tapped round trip
// that the tap adds over Janus alone (measured with a loop over
// http.ReadRequest in place of the server, same proxy code, alternating).
//
// This server parses requests with http.ReadRequest and answers through
// an http.ResponseWriter, so the handler is the same; what it does
// differently:
//   - a GET without a body, which can be a long-poll that Janus holds for
//     30 s, is watched for its client going away from the start (its
//     context is then cancelled, and with it the request to Janus). Any
//     other request is watched only once its body is read and it has
//     waited lateWatch for its answer: Janus answers a POST as soon as it
//     has handled it, and a client gone by then changes nothing;
//   - a request body has a deadline (bodyTimeout, bodyMinRate): past it
//     reading the body fails with errBodyTimeout;
//   - an answer is written in one piece when the handler returns, with a
//     Content-Length (or chunked as one chunk, when the handler asked for
//     chunked framing), and a Date unless it has one. The Content-Type is
//     never sniffed: an answer carries the headers its handler gave it;
//   - requests on one connection are served one after the other, so a
//     client that pipelines gets its answers in order.
//
// Its limits are net/http's defaults where the tap used them: 1 MiB of
// request headers (431 over it), 10 s to send them once a request has
// started, 120 s for an idle keep-alive connection. A malformed request is
// answered 400, an Expect other than 100-continue 417, and the connection
// is closed.

const (
	readHeaderTimeout  = 10 * time.Second
	idleTimeout        = 120 * time.Second
	maxHeaderBytes     = 1<<20 + 4096 // http.DefaultMaxHeaderBytes, and net/http's slack
	maxPostHandlerRead = 256 << 10    // body left unread that is still drained to keep the connection
)

// server serves HTTP/1.1 connections with handler.
type server struct {
	handler http.Handler
	logger  *slog.Logger
	newConn func() *conn

	idleTimeout, headerTimeout time.Duration // tests shorten them
	onPipelined                func()        // tests: a watched client sent its next request

	// bodyTimeout and bodyMinRate bound the time a request body takes to
	// arrive: bodyTimeout, plus a second for every bodyMinRate bytes read
	// (0: no rate). Past it, a read of the body fails with errBodyTimeout.
	// Zero bodyTimeout: no limit.
	bodyTimeout time.Duration
	bodyMinRate int64
	// lateWatch is how long a request waits for its answer before its
	// client is watched for going away (as a long-poll GET is from the
	// start), which cancels the request. Zero: never.
	lateWatch time.Duration
	// slots caps the client connections open at once: accept waits for a
	// free slot, and a connection gives its slot back when closed
	// (hijacked ones too). Nil: no cap.
	slots chan struct{}
	// onFull, when set, hears that accepting waits for a free slot.
	onFull func()

	// refused, when set, hears of every request the server answered
	// itself because it could not serve it: status 400 (malformed), 431
	// (head too large) or 417 (unknown expectation).
	refused func(c *conn, status int, reason string)

	readers sync.Pool // *bufio.Reader of 4 KiB, of closed connections
	writers sync.Pool // *bufio.Writer of 4 KiB

	mu      sync.Mutex
	conns   map[*serverConn]struct{}
	closing atomic.Bool    // set under mu
	wg      sync.WaitGroup // one per connection being served
}

func newServer(h http.Handler, logger *slog.Logger, newConn func() *conn) *server {
	return &server{handler: h, logger: logger, newConn: newConn, conns: make(map[*serverConn]struct{}),
		idleTimeout: idleTimeout, headerTimeout: readHeaderTimeout}
}

// serve accepts connections on ln until it fails or is closed, or stop is
// closed. A temporary error (out of file descriptors) is waited out, as
// net/http does. With every connection slot taken, it waits for one before
// it accepts: the connections wait in the kernel's backlog, holding no
// descriptor of the process.
func (s *server) serve(ln net.Listener, stop <-chan struct{}) error {
	var delay time.Duration
	for {
		if s.slots != nil {
			select {
			case s.slots <- struct{}{}:
			default:
				if s.onFull != nil {
					s.onFull()
				}
				select {
				case s.slots <- struct{}{}:
				case <-stop:
					return nil
				}
			}
		}
		nc, err := ln.Accept()
		if err != nil {
			if s.slots != nil {
				<-s.slots
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.logger.Warn("accept failed; retrying", "err", err, "in", delay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		delay = 0
		if s.slots != nil {
			nc = &slotConn{Conn: nc, slots: s.slots}
		}
		sc := &serverConn{s: s, rwc: nc}
		sc.ctx, sc.cancel = context.WithCancel(context.WithValue(context.Background(), connKey{}, s.newConn()))
		if !s.track(sc) {
			sc.cancel()
			nc.Close()
			continue
		}
		go sc.serve()
	}
}

// slotConn is a client connection that gives its slot back when closed.
type slotConn struct {
	net.Conn
	slots chan struct{}
	once  sync.Once
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { <-c.slots })
	return err
}

// CloseWrite shuts the write side, when the connection has one (see
// lingerClose).
func (c *slotConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// isTemporary reports errors that an accept loop should wait out.
func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

func (s *server) track(sc *serverConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.conns[sc] = struct{}{}
	s.wg.Add(1)
	return true
}

// untrack forgets sc: it is closed, or hijacked.
func (s *server) untrack(sc *serverConn) {
	s.mu.Lock()
	_, ok := s.conns[sc]
	delete(s.conns, sc)
	s.mu.Unlock()
	if ok {
		s.wg.Done()
	}
}

// shutdown closes the idle connections and waits for the requests under
// way to be answered, their connections then being closed; when ctx ends
// first, it closes those too and cancels their requests, and waits for
// their handlers to return. The listeners must be closed already.
func (s *server) shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	for sc := range s.conns {
		if sc.state == connIdle {
			sc.rwc.Close()
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	n := len(s.conns)
	for sc := range s.conns {
		sc.rwc.Close()
		sc.cancel()
	}
	s.mu.Unlock()
	<-done
	return fmt.Errorf("%d connections still busy: %w", n, ctx.Err())
}

type connState int

const (
	connIdle   connState = iota // waiting for a request
	connActive                  // reading, serving or answering one
)

// serverConn is one client connection.
type serverConn struct {
	s      *server
	rwc    net.Conn
	lr     limitedReader
	br     *bufio.Reader
	bw     *bufio.Writer
	ctx    context.Context // the connection's; its requests' derive from it
	cancel context.CancelFunc
	state  connState // guarded by s.mu

	hijacked bool
	answered bool // the server closes after answering: see lingerClose
}

// lingerDelay is how long a connection closed after an answer is read
// from (and what comes discarded) before it is closed.
const lingerDelay = 500 * time.Millisecond

// lingerClose ends a connection that the server closes after answering,
// possibly with some of the client's request still unread (a body over
// the limit, a request head too large): closing at once would make the
// kernel reset the connection, and the client could lose the answer before
// reading it. The write side is shut first, then what the client still
// sends is read and discarded until it closes too, for up to lingerDelay,
// as net/http does.
func (sc *serverConn) lingerClose() {
	if cw, ok := sc.rwc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	sc.rwc.SetReadDeadline(time.Now().Add(lingerDelay))
	io.Copy(io.Discard, sc.rwc)
}

// limitedReader bounds how much of the connection a request's head may
// read; n is reset for every request.
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

func (sc *serverConn) serve() {
	sc.lr = limitedReader{r: sc.rwc, n: maxHeaderBytes}
	if br, ok := sc.s.readers.Get().(*bufio.Reader); ok {
		br.Reset(&sc.lr)
		sc.br = br
	} else {
		sc.br = bufio.NewReaderSize(&sc.lr, 4096)
	}
	if bw, ok := sc.s.writers.Get().(*bufio.Writer); ok {
		bw.Reset(sc.rwc)
		sc.bw = bw
	} else {
		sc.bw = bufio.NewWriterSize(sc.rwc, 4096)
	}
	defer func() {
		sc.cancel()
		if sc.hijacked {
			return // the connection and its buffers are the hijacker's
		}
		if sc.answered {
			sc.lingerClose()
		}
		sc.rwc.Close()
		sc.s.untrack(sc)
		sc.br.Reset(nil)
		sc.bw.Reset(nil)
		sc.s.readers.Put(sc.br)
		sc.s.writers.Put(sc.bw)
	}()
	// A new connection has headerTimeout to send its first request head;
	// between requests, a kept-alive one may wait idleTimeout.
	wait := sc.s.headerTimeout
	for ; ; wait = sc.s.idleTimeout {
		sc.rwc.SetReadDeadline(time.Now().Add(wait))
		sc.lr.n = maxHeaderBytes // what this request's head may read
		if _, err := sc.br.Peek(1); err != nil {
			return
		}
		if !sc.setState(connActive) {
			return
		}
		sc.rwc.SetReadDeadline(time.Now().Add(sc.s.headerTimeout))
		req, err := http.ReadRequest(sc.br)
		if err != nil {
			sc.answered = sc.refuse(err)
			return
		}
		sc.lr.n = math.MaxInt64
		sc.rwc.SetReadDeadline(time.Time{})
		if !sc.serveRequest(req) || !sc.setState(connIdle) {
			return
		}
	}
}

// setState moves sc to state, unless the server is shutting down and
// sc is to be closed instead.
func (sc *serverConn) setState(state connState) bool {
	sc.s.mu.Lock()
	defer sc.s.mu.Unlock()
	if sc.s.closing.Load() {
		return false
	}
	sc.state = state
	return true
}

// refuse answers a request that could not be read, as net/http does: 431
// for a head over the limit, 400 for one that is malformed, nothing for a
// connection that failed or timed out.
func (sc *serverConn) refuse(err error) (answered bool) {
	var ne net.Error
	switch {
	case sc.lr.n <= 0:
		sc.report(http.StatusRequestHeaderFieldsTooLarge, fmt.Sprintf("request head over %d bytes", maxHeaderBytes))
		io.WriteString(sc.rwc, "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large")
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne) || errors.Is(err, net.ErrClosed):
		return false
	default:
		reason := strings.NewReplacer("\r", " ", "\n", " ").Replace(err.Error())
		sc.report(http.StatusBadRequest, reason)
		io.WriteString(sc.rwc, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request: "+reason)
	}
	return true
}

// report tells the server's refused of a request it is about to answer
// itself (first, so that the record exists before the answer does).
func (sc *serverConn) report(status int, reason string) {
	if sc.s.refused == nil {
		return
	}
	c, _ := sc.ctx.Value(connKey{}).(*conn)
	sc.s.refused(c, status, reason)
}

// serveRequest runs the handler for req and answers it. It reports whether
// the connection can carry another request.
func (sc *serverConn) serveRequest(req *http.Request) (keepAlive bool) {
	req.RemoteAddr = sc.rwc.RemoteAddr().String()
	w := &response{sc: sc, req: req}
	if expect := req.Header["Expect"]; len(expect) > 0 {
		if !req.ProtoAtLeast(1, 1) || len(expect) != 1 || !strings.EqualFold(expect[0], "100-continue") {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Connection", "close")
			sc.report(http.StatusExpectationFailed, fmt.Sprintf("unsupported Expect %q on %s %s", expect, req.Method, req.URL.Path))
			w.WriteHeader(http.StatusExpectationFailed)
			w.finish()
			sc.answered = true
			return false
		}
	}
	hasBody := req.Body != http.NoBody && req.Body != nil
	if hasBody && sc.s.bodyTimeout > 0 {
		req.Body = &bodyDeadline{ReadCloser: req.Body, w: w}
	}
	if expect := req.Header["Expect"]; len(expect) > 0 && req.ContentLength != 0 {
		req.Body = &expectContinue{ReadCloser: req.Body, w: sc.bw}
	}

	ctx := sc.ctx
	upgrade := websocket.IsWebSocketUpgrade(req)
	switch {
	case req.Method == http.MethodGet && !hasBody && !upgrade:
		w.watch = sc.watch(nil)
		ctx = w.watch.ctx
		defer w.watch.cancel() // when the handler is done, as net/http does
	case !upgrade && !hasBody:
		w.watchLater()
	}
	req = req.WithContext(ctx)
	w.req = req

	aborted := sc.runHandler(w, req)
	w.stopWatch()
	if w.hijacked || aborted {
		return false
	}
	if err := w.finish(); err != nil {
		return false
	}
	if w.closeAfter {
		sc.answered = true
		return false
	}
	return true
}

// runHandler calls the handler, and reports whether it panicked: then the
// connection is closed without an answer, as net/http does (and logs the
// panic unless it is http.ErrAbortHandler).
func (sc *serverConn) runHandler(w *response, req *http.Request) (aborted bool) {
	defer func() {
		if v := recover(); v != nil {
			aborted = true
			if v != http.ErrAbortHandler {
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, false)]
				sc.s.logger.Error("panic serving request", "remote", req.RemoteAddr, "method", req.Method, "path", req.URL.Path, "panic", v, "stack", string(buf))
			}
		}
	}()
	sc.s.handler.ServeHTTP(w, req)
	return false
}

// clientWatch waits for a client to close its connection while its request
// is being served.
type clientWatch struct {
	sc       *serverConn
	ctx      context.Context
	cancel   context.CancelFunc
	done     chan struct{}
	stopping atomic.Bool
}

// watch starts watching sc's client. With cancel nil the watch has a
// context of its own, cancelled when the client goes; otherwise the client
// going calls cancel.
func (sc *serverConn) watch(cancel context.CancelFunc) *clientWatch {
	cw := &clientWatch{sc: sc, done: make(chan struct{})}
	if cancel == nil {
		cw.ctx, cw.cancel = context.WithCancel(sc.ctx)
	} else {
		cw.ctx, cw.cancel = sc.ctx, cancel
	}
	go func() {
		defer close(cw.done)
		// A byte that arrives is the next request, pipelined: it stays in
		// the buffer. An error is the client gone, unless it is the
		// deadline that stop sets.
		_, err := sc.br.Peek(1)
		switch {
		case err == nil:
			if sc.s.onPipelined != nil {
				sc.s.onPipelined()
			}
		case !cw.stopping.Load():
			cw.cancel()
		}
	}()
	return cw
}

// stop ends the watch, before anything else reads the connection. The
// request's context stays as it is.
func (cw *clientWatch) stop() {
	cw.stopping.Store(true)
	cw.sc.rwc.SetReadDeadline(time.Unix(1, 0))
	<-cw.done
	cw.sc.rwc.SetReadDeadline(time.Time{})
}

// watchLater arranges for the client of a request whose body has been read
// to be watched once the request has waited lateWatch for its answer: a
// client that goes away then cancels its connection's context, and with it
// the request to the gateway, whatever the method. Most requests are
// answered well before, and cost a timer, not a watch.
func (w *response) watchLater() {
	d := w.sc.s.lateWatch
	if d <= 0 {
		return
	}
	w.lateMu.Lock()
	defer w.lateMu.Unlock()
	if w.lateStopped || w.lateTimer != nil {
		return
	}
	w.lateTimer = time.AfterFunc(d, func() {
		w.lateMu.Lock()
		defer w.lateMu.Unlock()
		if !w.lateStopped {
			w.watch = w.sc.watch(w.sc.cancel)
		}
	})
}

// errBodyTimeout is what reading a request body returns once the body has
// taken longer than the server allows (see server.bodyTimeout).
var errBodyTimeout = errors.New("request body not received in time")

// bodyDeadline keeps a request body to its deadline: bodyTimeout from the
// first read, plus a second for every bodyMinRate bytes read. At the end of
// the body it clears the deadline and has the client watched (watchLater).
type bodyDeadline struct {
	io.ReadCloser
	w     *response
	start time.Time
	n     int64
	done  bool
}

func (b *bodyDeadline) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	s := b.w.sc.s
	if b.start.IsZero() {
		b.start = time.Now()
	}
	d := s.bodyTimeout
	if s.bodyMinRate > 0 {
		d += time.Duration(b.n * int64(time.Second) / s.bodyMinRate)
	}
	rwc := b.w.sc.rwc
	rwc.SetReadDeadline(b.start.Add(d))
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	var ne net.Error
	switch {
	case err == io.EOF:
		b.done = true
		rwc.SetReadDeadline(time.Time{})
		b.w.watchLater()
	case errors.As(err, &ne) && ne.Timeout():
		err = fmt.Errorf("%w: %d bytes in %v", errBodyTimeout, b.n, time.Since(b.start).Round(time.Millisecond))
	}
	return n, err
}

// expectContinue sends "100 Continue" when the handler first reads the
// body of a request that expects it.
type expectContinue struct {
	io.ReadCloser
	w    *bufio.Writer
	sent bool
}

func (e *expectContinue) Read(p []byte) (int, error) {
	if !e.sent {
		e.sent = true
		e.w.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		if err := e.w.Flush(); err != nil {
			return 0, fmt.Errorf("send 100 Continue: %w", err)
		}
	}
	return e.ReadCloser.Read(p)
}

// response is the http.ResponseWriter of one request.
type response struct {
	sc     *serverConn
	req    *http.Request
	header http.Header
	status int // 0 until WriteHeader

	// framing, decided by WriteHeader: with a Content-Length, the head is
	// written at once and the body follows it; chunked, the head is
	// written at once and every Write is a chunk; otherwise the body is
	// kept in buf and written with its length by finish.
	headWritten bool
	chunked     bool
	noBody      bool  // HEAD, 1xx, 204, 304
	declared    int64 // Content-Length, -1 when none
	written     int64
	buf         []byte

	closeAfter bool
	hijacked   bool

	lateMu      sync.Mutex
	watch       *clientWatch // of a GET, or started by lateTimer; until the handler returns or hijacks
	lateTimer   *time.Timer  // see watchLater
	lateStopped bool         // no watch is to start any more
}

// stopWatch ends the watch for the client going away, if there is one, and
// keeps a late one from starting.
func (w *response) stopWatch() {
	w.lateMu.Lock()
	w.lateStopped = true
	if w.lateTimer != nil {
		w.lateTimer.Stop()
	}
	cw := w.watch
	w.watch = nil
	w.lateMu.Unlock()
	if cw != nil {
		cw.stop()
	}
}

func (w *response) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header)
	}
	return w.header
}

func (w *response) WriteHeader(code int) {
	if w.hijacked || w.status != 0 {
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	h := w.Header()
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		// An interim answer goes out now; the final one follows.
		writeHead(w.sc.bw, code, h, false)
		w.sc.bw.WriteString("\r\n")
		w.sc.bw.Flush()
		return
	}
	w.status = code
	w.declared = -1
	w.noBody = w.req.Method == http.MethodHead || code < 200 || code == http.StatusNoContent || code == http.StatusNotModified
	if v := h["Connection"]; slices.ContainsFunc(v, func(s string) bool { return strings.EqualFold(strings.TrimSpace(s), "close") }) {
		w.closeAfter = true
	}
	if w.req.Close || !w.req.ProtoAtLeast(1, 1) && !keepAliveAsked(w.req) || w.sc.s.closing.Load() || !w.drainBody() {
		w.closeAfter = true
	}
	if cl := h.Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || n < 0 {
			delete(h, "Content-Length")
		} else {
			w.declared = n
			delete(h, "Transfer-Encoding")
			w.writeHead()
			return
		}
	}
	if te := h.Get("Transfer-Encoding"); strings.EqualFold(te, "chunked") && w.req.ProtoAtLeast(1, 1) && !w.noBody {
		w.chunked = true
		w.writeHead()
		return
	}
	delete(h, "Transfer-Encoding")
}

// drainBody reads what the handler left of the request body, up to a
// limit, so that the connection can carry the next request; it reports
// whether it could. A body that was never asked for (Expect: 100-continue
// without a read) cannot be told from the next request: the connection is
// closed instead, as net/http does.
func (w *response) drainBody() bool {
	body := w.req.Body
	if body == http.NoBody || body == nil {
		return true
	}
	if ec, ok := body.(*expectContinue); ok && !ec.sent {
		return false
	}
	if w.req.ContentLength > maxPostHandlerRead {
		return false // refused unread (too large): not worth reading to keep the connection
	}
	n, err := io.CopyN(io.Discard, body, maxPostHandlerRead+1)
	return n <= maxPostHandlerRead && err == io.EOF
}

// writeHead writes the status line and the headers, framing included.
func (w *response) writeHead() {
	w.headWritten = true
	bw := w.sc.bw
	h := w.header
	writeHead(bw, w.status, h, w.chunked)
	if w.chunked {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	} else if w.declared >= 0 && !(w.noBody && w.req.Method != http.MethodHead) {
		bw.WriteString("Content-Length: ")
		bw.WriteString(strconv.FormatInt(w.declared, 10))
		bw.WriteString("\r\n")
	}
	if _, ok := h["Date"]; !ok {
		var b [len(http.TimeFormat) + 8]byte
		bw.WriteString("Date: ")
		bw.Write(time.Now().UTC().AppendFormat(b[:0], http.TimeFormat))
		bw.WriteString("\r\n")
	}
	switch {
	case w.closeAfter:
		bw.WriteString("Connection: close\r\n")
	case !w.req.ProtoAtLeast(1, 1):
		bw.WriteString("Connection: keep-alive\r\n")
	}
	bw.WriteString("\r\n")
}

// writeHead writes the status line of code and the headers of h, sorted,
// except those about framing and the connection, which the caller writes.
func writeHead(bw *bufio.Writer, code int, h http.Header, chunked bool) {
	bw.WriteString("HTTP/1.1 ")
	bw.WriteString(strconv.Itoa(code))
	bw.WriteByte(' ')
	if text := http.StatusText(code); text != "" {
		bw.WriteString(text)
	} else {
		bw.WriteString("status code ")
		bw.WriteString(strconv.Itoa(code))
	}
	bw.WriteString("\r\n")
	var keysArr [16]string
	keys := keysArr[:0]
	for k := range h {
		switch k {
		case "Content-Length", "Transfer-Encoding", "Connection", "Trailer":
			if k != "Trailer" || !chunked {
				continue
			}
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !validFieldName(k) {
			continue
		}
		for _, v := range h[k] {
			bw.WriteString(k)
			bw.WriteString(": ")
			writeFieldValue(bw, v)
			bw.WriteString("\r\n")
		}
	}
}

// validFieldName reports a header name that can be written as it is.
func validFieldName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

// writeFieldValue writes v with any CR or LF in it as a space, and without
// the spaces around it, as net/http does.
func writeFieldValue(bw *bufio.Writer, v string) {
	v = strings.TrimSpace(v)
	if !strings.ContainsAny(v, "\r\n") {
		bw.WriteString(v)
		return
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		bw.WriteByte(c)
	}
}

// keepAliveAsked reports an HTTP/1.0 request that asks to keep the
// connection.
func keepAliveAsked(req *http.Request) bool {
	for _, v := range req.Header["Connection"] {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "keep-alive") {
				return true
			}
		}
	}
	return false
}

func (w *response) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.noBody {
		if w.req.Method == http.MethodHead {
			return len(p), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	switch {
	case w.chunked:
		if len(p) == 0 {
			return 0, nil
		}
		bw := w.sc.bw
		bw.WriteString(strconv.FormatInt(int64(len(p)), 16))
		bw.WriteString("\r\n")
		bw.Write(p)
		_, err := bw.WriteString("\r\n")
		if err != nil {
			return 0, err
		}
		return len(p), nil
	case w.headWritten:
		if w.written+int64(len(p)) > w.declared {
			return 0, http.ErrContentLength
		}
		n, err := w.sc.bw.Write(p)
		w.written += int64(n)
		return n, err
	default:
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
}

// finish completes the answer and sends it.
func (w *response) finish() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	bw := w.sc.bw
	switch {
	case w.chunked:
		bw.WriteString("0\r\n")
		for _, name := range w.header["Trailer"] {
			for _, k := range strings.Split(name, ",") {
				k = http.CanonicalHeaderKey(strings.TrimSpace(k))
				if !validFieldName(k) {
					continue
				}
				for _, v := range w.header[k] {
					bw.WriteString(k)
					bw.WriteString(": ")
					writeFieldValue(bw, v)
					bw.WriteString("\r\n")
				}
			}
		}
		bw.WriteString("\r\n")
	case w.headWritten:
		if w.written < w.declared && !w.noBody {
			// The client would wait for the rest: close instead.
			w.closeAfter = true
		}
	default:
		if !w.noBody {
			w.declared = int64(len(w.buf))
		}
		w.writeHead()
		bw.Write(w.buf)
	}
	return bw.Flush()
}

// Hijack hands the connection over to the caller (a WebSocket upgrade);
// the server forgets it.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if w.status != 0 {
		return nil, nil, errors.New("hijack after the answer has started")
	}
	sc := w.sc
	w.stopWatch() // the connection is the hijacker's to read
	if err := sc.bw.Flush(); err != nil {
		return nil, nil, err
	}
	w.hijacked = true
	sc.hijacked = true
	sc.rwc.SetDeadline(time.Time{})
	sc.lr.n = math.MaxInt64
	sc.s.untrack(sc)
	return sc.rwc, bufio.NewReadWriter(sc.br, sc.bw), nil
}
