package tap

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
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
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	ctx := req.Context()
	pc, err := p.get(ctx, addr)
	if err != nil {
		return nil, err
	}
	resp, reusable, err := pc.exchange(ctx, req)
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

// exchange writes req and reads its answer whole. The connection can be
// used again when reusable. When ctx ends first (the client went away, a
// long-poll is abandoned), the connection's deadline cuts the exchange
// short, and the gateway sees its connection closed, as with
// http.Transport.
func (pc *poolConn) exchange(ctx context.Context, req *http.Request) (resp *http.Response, reusable bool, err error) {
	stop := context.AfterFunc(ctx, func() { pc.c.SetDeadline(time.Unix(1, 0)) })
	// The whole body is in hand: never wait for a 100 Continue.
	req.Header.Del("Expect")
	if err := req.Write(pc.bw); err != nil {
		stop()
		return nil, false, fmt.Errorf("send %s %s: %w", req.Method, req.URL.Path, err)
	}
	if err := pc.bw.Flush(); err != nil {
		stop()
		return nil, false, fmt.Errorf("send %s %s: %w", req.Method, req.URL.Path, err)
	}
	for {
		resp, err = http.ReadResponse(pc.br, req)
		if err != nil {
			stop()
			return nil, false, fmt.Errorf("read answer of %s %s: %w", req.Method, req.URL.Path, err)
		}
		if resp.StatusCode < 100 || resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		// An interim answer (1xx): the final one follows.
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		stop()
		return nil, false, fmt.Errorf("read answer of %s %s: %w", req.Method, req.URL.Path, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	// stop reports false when the deadline was already set: then the
	// connection is not to be used again.
	reusable = stop() && !resp.Close && !req.Close && resp.StatusCode != http.StatusSwitchingProtocols
	return resp, reusable, nil
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
