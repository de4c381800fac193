package tap

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// connPool carries requests to a plain-HTTP gateway over a pool of
// keep-alive connections, each exchange running on the calling goroutine.
//
// http.Transport hands every request to two goroutines of its connection (a
// writer and a reader that also watches idle connections); on this path,
// where the tap waits for the whole answer anyway, those hand-offs are a
// measurable part of what the tap adds to a round trip. An idle connection
// is instead checked when it is taken: one that Janus closed meanwhile (a
// restart) is dropped and a new one dialed, so a request is never sent on a
// connection known to be dead. A request whose connection fails while it
// is under way is not sent again: a Janus request is not idempotent.
type connPool struct {
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	maxIdle int // per host

	mu   sync.Mutex
	idle map[string][]*poolConn // by host:port, most recent last
}

type poolConn struct {
	c  net.Conn
	br *bufio.Reader
	bw *bufio.Writer
}

func newConnPool(maxIdle int) *connPool {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &connPool{dial: d.DialContext, maxIdle: maxIdle, idle: make(map[string][]*poolConn)}
}

// RoundTrip sends req and reads the whole answer, whose Body is then in
// memory. It implements http.RoundTripper for http:// URLs.
func (p *connPool) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" {
		return nil, fmt.Errorf("connection pool: scheme %q is not http", req.URL.Scheme)
	}
	return p.do(req.Context(), req.URL.Host, req, func(bw *bufio.Writer) error { return writeRequest(bw, req) })
}

// forward sends the client's request in to the gateway at host, as
// forward would with RoundTrip, without making a request of its own: the
// tap's hot path (see writeForwarded).
func (p *connPool) forward(ctx context.Context, host string, in *http.Request, body []byte) (*http.Response, error) {
	req := &http.Request{Method: in.Method, URL: in.URL} // for reading the answer, and errors
	return p.do(ctx, host, req, func(bw *bufio.Writer) error { return writeForwarded(bw, in, host, body) })
}

// do writes a request to host (host:port, or host for port 80) with write,
// and reads the answer to req.
func (p *connPool) do(ctx context.Context, host string, req *http.Request, write func(*bufio.Writer) error) (*http.Response, error) {
	addr := host
	if u := (url.URL{Host: host}); u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	pc, err := p.get(ctx, addr)
	if err != nil {
		return nil, err
	}
	resp, reusable, err := pc.exchange(ctx, req, write)
	if err != nil {
		pc.c.Close()
		return nil, err
	}
	if reusable {
		p.put(addr, pc)
	} else {
		pc.c.Close()
	}
	return resp, nil
}

// get returns an idle connection to addr that is still open, or dials one.
func (p *connPool) get(ctx context.Context, addr string) (*poolConn, error) {
	for {
		p.mu.Lock()
		l := p.idle[addr]
		if len(l) == 0 {
			p.mu.Unlock()
			break
		}
		pc := l[len(l)-1]
		p.idle[addr] = l[:len(l)-1]
		p.mu.Unlock()
		if open(pc.c) {
			return pc, nil
		}
		pc.c.Close()
	}
	c, err := p.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &poolConn{c: c, br: bufio.NewReader(c), bw: bufio.NewWriter(c)}, nil
}

// put keeps pc for the next request to addr, or closes it when the pool is
// full.
func (p *connPool) put(addr string, pc *poolConn) {
	p.mu.Lock()
	if len(p.idle[addr]) < p.maxIdle {
		p.idle[addr] = append(p.idle[addr], pc)
		pc = nil
	}
	p.mu.Unlock()
	if pc != nil {
		pc.c.Close()
	}
}

// CloseIdleConnections closes the connections idle now.
func (p *connPool) CloseIdleConnections() {
	p.mu.Lock()
	idle := p.idle
	p.idle = make(map[string][]*poolConn)
	p.mu.Unlock()
	for _, l := range idle {
		for _, pc := range l {
			pc.c.Close()
		}
	}
}

// exchange writes a request with write and reads the answer to req whole.
// The connection can be used again when reusable. When ctx ends first (the client went away, a
// long-poll is abandoned), the connection's deadline cuts the exchange
// short, and the gateway sees its connection closed, as with
// http.Transport.
func (pc *poolConn) exchange(ctx context.Context, req *http.Request, write func(*bufio.Writer) error) (resp *http.Response, reusable bool, err error) {
	stop := context.AfterFunc(ctx, func() { pc.c.SetDeadline(time.Unix(1, 0)) })
	werr := write(pc.bw)
	if werr == nil {
		werr = pc.bw.Flush()
	}
	if werr != nil {
		stop()
		// The gateway may have answered before it stopped reading (Janus
		// answers a head too large with 431 and closes): that answer, if
		// it came, is the gateway's word, as net/http's client also holds.
		if resp, ok := pc.answerAfterFailedWrite(req); ok {
			return resp, false, nil
		}
		return nil, false, fmt.Errorf("send %s %s: %w", req.Method, req.URL.Path, werr)
	}
	if _, err := pc.br.Peek(1); err != nil {
		stop()
		if errors.Is(err, io.EOF) {
			err = errNoAnswer
		}
		return nil, false, fmt.Errorf("read answer of %s %s: %w", req.Method, req.URL.Path, err)
	}
	for {
		resp, err = readAnswer(pc.br, req)
		if err != nil {
			stop()
			return nil, false, fmt.Errorf("read answer of %s %s: %w", req.Method, req.URL.Path, err)
		}
		if resp.StatusCode < 100 || resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		// An interim answer (1xx): the final one follows.
	}
	// stop reports false when the deadline was already set: then the
	// connection is not to be used again.
	reusable = stop() && !resp.Close && !req.Close && resp.StatusCode != http.StatusSwitchingProtocols
	return resp, reusable, nil
}

// answerAfterFailedWrite reads an answer the gateway sent before the write
// of req failed, if one is already there (within a short deadline).
func (pc *poolConn) answerAfterFailedWrite(req *http.Request) (*http.Response, bool) {
	pc.c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := pc.br.Peek(1); err != nil {
		return nil, false
	}
	resp, err := readAnswer(pc.br, req)
	if err != nil || resp.StatusCode < 200 {
		return nil, false
	}
	return resp, true
}

// errNoAnswer is the gateway closing the connection before it answered a
// byte.
var errNoAnswer = errors.New("connection closed without an answer")

// writeRequest writes req to w in HTTP/1.1, as req.Write would for the
// requests the tap forwards, at a fraction of its cost: the body is whole
// in memory, so it always goes with a Content-Length and never waits for a
// 100 Continue (Expect is dropped); a POST, PUT or PATCH without a body
// says Content-Length: 0. Header values come from a request net/http has
// parsed (no CR or LF in them); an empty User-Agent is not sent, and no
// other is added. Header order is the map's: HTTP gives it no meaning
// across field names, and the values of one name keep theirs.
func writeRequest(w *bufio.Writer, req *http.Request) error {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	hasBody := req.Body != nil && req.Body != http.NoBody
	if hasBody && req.ContentLength < 0 {
		return errors.New("request body of unknown length")
	}
	length := int64(-1)
	if hasBody || req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch {
		length = max(req.ContentLength, 0)
	}
	writeRequestHead(w, req.Method, req.URL.RequestURI(), host, req.Header, nil, length)
	if !hasBody {
		return nil
	}
	n, err := io.Copy(w, req.Body)
	if err == nil && n != req.ContentLength {
		err = fmt.Errorf("request body of %d bytes, not the %d of its Content-Length", n, req.ContentLength)
	}
	return err
}

// writeRequestHead writes a request line, Host, the headers of h but those
// that framing or the connection concern and those skip names, and a
// Content-Length unless length is negative, then the blank line. An empty
// User-Agent is not written.
func writeRequestHead(w *bufio.Writer, method, uri, host string, h http.Header, skip func(name string) bool, length int64) {
	w.WriteString(method)
	w.WriteByte(' ')
	w.WriteString(uri)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(host)
	w.WriteString("\r\n")
	for k, vs := range h {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Expect", "Trailer", "Connection":
			continue
		}
		if skip != nil && skip(k) {
			continue
		}
		for _, v := range vs {
			if v == "" && k == "User-Agent" {
				continue
			}
			w.WriteString(k)
			w.WriteString(": ")
			w.WriteString(textproto.TrimString(v))
			w.WriteString("\r\n")
		}
	}
	if length >= 0 {
		w.WriteString("Content-Length: ")
		w.WriteString(strconv.FormatInt(length, 10))
		w.WriteString("\r\n")
	}
	w.WriteString("\r\n")
}

// writeForwarded writes to w, in HTTP/1.1, the client's request in as the
// tap forwards it to the gateway at host, with body: the same bytes as
// writeRequest writes for a copy of in without its hop-by-hop headers (RFC
// 9110, section 7.6.1: those of hopHeaders, and those that its Connection
// header names), without a User-Agent when the client sent none, and with
// body and its length. Making that copy took the tap more time than
// writing the request (TestWriteForwarded holds the two to the same output).
func writeForwarded(w *bufio.Writer, in *http.Request, host string, body []byte) error {
	var named []string // what the Connection header names, canonical
	for _, f := range in.Header["Connection"] {
		for name := range strings.SplitSeq(f, ",") {
			if name = textproto.TrimString(name); name != "" {
				named = append(named, http.CanonicalHeaderKey(name))
			}
		}
	}
	skip := func(k string) bool { return slices.Contains(hopHeaders, k) || slices.Contains(named, k) }
	length := int64(-1)
	if len(body) > 0 || in.ContentLength > 0 || in.Method == http.MethodPost || in.Method == http.MethodPut || in.Method == http.MethodPatch {
		length = int64(len(body))
	}
	u := url.URL{Path: in.URL.Path, RawPath: in.URL.RawPath, RawQuery: in.URL.RawQuery}
	writeRequestHead(w, in.Method, u.RequestURI(), host, in.Header, skip, length)
	_, err := w.Write(body)
	return err
}

// upstreamTransport sends http:// requests through the tap's pool and
// https:// ones through an http.Transport, which does TLS.
type upstreamTransport struct {
	plain *connPool
	tls   *http.Transport
}

func (u *upstreamTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" {
		return u.plain.RoundTrip(req)
	}
	return u.tls.RoundTrip(req)
}

// CloseIdleConnections closes both kinds' idle connections.
func (u *upstreamTransport) CloseIdleConnections() {
	u.plain.CloseIdleConnections()
	u.tls.CloseIdleConnections()
}
