package tap

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testServer serves h on a loopback port with the tap's server until the
// test ends.
type testServer struct {
	*server
	addr string
	logs *lockedWriter
}

func startServer(t *testing.T, h http.Handler, tune func(*server)) *testServer {
	t.Helper()
	logs := &lockedWriter{w: &bytes.Buffer{}}
	s := newServer(h, slog.New(slog.NewTextHandler(logs, nil)), func() *conn { return &conn{id: "test"} })
	if tune != nil {
		tune(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.serve(ln, nil) }()
	t.Cleanup(func() {
		ln.Close()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &testServer{server: s, addr: ln.Addr().String(), logs: logs}
}

// lockedWriter serialises writes of several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.(*bytes.Buffer).String()
}

// hold lets a test hold a request in its handler: started gets a value when
// the handler is entered, which then waits for release or for its context,
// and sends held the context's error (nil when released).
type hold struct {
	started chan struct{}
	release chan struct{}
	held    chan error
}

func newHold() *hold {
	return &hold{started: make(chan struct{}, 4), release: make(chan struct{}), held: make(chan error, 4)}
}

// testHandler answers the paths the server tests use; /hold only with a
// hold.
func testHandler(hd *hold) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("got:"))
		w.Write(b)
	})
	mux.HandleFunc("/len", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		io.WriteString(w, "hello")
	})
	mux.HandleFunc("/short", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "abc")
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Transfer-Encoding", "chunked")
		w.Header().Set("Trailer", "X-T")
		io.WriteString(w, "ab")
		io.WriteString(w, "cd")
		w.Header().Set("X-T", "v")
	})
	mux.HandleFunc("/nocontent", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	})
	mux.HandleFunc("/ignore", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "body ignored")
	})
	mux.HandleFunc("/hijack", func(w http.ResponseWriter, r *http.Request) {
		// A GET is watched for its client leaving; a hijack ends the watch,
		// and what the client sends next is the hijacker's.
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer c.Close()
		line, _ := brw.ReadString('\n')
		line = strings.TrimSpace(line)
		fmt.Fprintf(brw, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(line), line)
		brw.Flush()
	})
	mux.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "half")
		panic("test panic")
	})
	mux.HandleFunc("/abort", func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	})
	if hd == nil {
		return mux
	}
	mux.HandleFunc("/hold", func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // as the tap reads every body before it forwards
		hd.started <- struct{}{}
		select {
		case <-r.Context().Done():
			hd.held <- r.Context().Err()
		case <-hd.release:
			hd.held <- nil
			io.WriteString(w, "released")
		}
	})
	return mux
}

// rawExchange writes raw to a new connection to addr and reads the answers
// to n requests. closed reports whether the server then closed the
// connection.
func rawExchange(t *testing.T, addr, raw string, n int) (answers []*http.Response, bodies []string, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second)) // a safety net: nothing here should wait
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for range n {
		req, _ := http.ReadRequest(bufio.NewReader(strings.NewReader(raw))) // for HEAD: no body
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			break
		}
		b, err := io.ReadAll(resp.Body)
		answers = append(answers, resp)
		if err != nil {
			bodies = append(bodies, "error: "+err.Error())
			break
		}
		bodies = append(bodies, string(b))
	}
	_, err = br.Peek(1)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		t.Fatalf("after the answers: %v", err)
	}
	return answers, bodies, err != nil
}

func isReset(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && !ne.Timeout()
}

// TestServerAnswers checks the tap's server against what net/http's does
// for the same requests.
func TestServerAnswers(t *testing.T) {
	s := startServer(t, testHandler(newHold()), nil)
	big := strings.Repeat("x", 300<<10)
	tests := []struct {
		name   string
		raw    string
		n      int // answers expected
		status []int
		bodies []string
		closed bool
		check  func(t *testing.T, answers []*http.Response)
	}{
		{name: "get_then_close", raw: "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", n: 1,
			status: []int{200}, bodies: []string{"got:"}, closed: true,
			check: func(t *testing.T, a []*http.Response) {
				if a[0].ContentLength != 4 || a[0].Header.Get("Date") == "" || a[0].Header.Get("Content-Type") != "text/plain" || !a[0].Close {
					t.Errorf("headers: length %d, %v", a[0].ContentLength, a[0].Header)
				}
			}},
		{name: "post_body", raw: "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc", n: 1,
			status: []int{200}, bodies: []string{"got:abc"}, closed: true},
		{name: "pipelined_kept_alive", raw: "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\naGET /len HTTP/1.1\r\nHost: x\r\n\r\nGET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", n: 3,
			status: []int{200, 200, 200}, bodies: []string{"got:a", "hello", "got:"}, closed: true,
			check: func(t *testing.T, a []*http.Response) {
				if a[0].Close || a[1].Close {
					t.Error("connection closed after a keep-alive request")
				}
			}},
		{name: "http10", raw: "GET /len HTTP/1.0\r\n\r\n", n: 1, status: []int{200}, bodies: []string{"hello"}, closed: true},
		{name: "http10_keep_alive", raw: "GET /len HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /len HTTP/1.0\r\n\r\n", n: 2,
			status: []int{200, 200}, bodies: []string{"hello", "hello"}, closed: true,
			check: func(t *testing.T, a []*http.Response) {
				if a[0].Header.Get("Connection") != "keep-alive" {
					t.Errorf("HTTP/1.0 keep-alive answered %v", a[0].Header)
				}
			}},
		{name: "head", raw: "HEAD /len HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", n: 1, status: []int{200}, bodies: []string{""}, closed: true,
			check: func(t *testing.T, a []*http.Response) {
				if a[0].ContentLength != 5 {
					t.Errorf("HEAD Content-Length %d, want 5", a[0].ContentLength)
				}
			}},
		{name: "chunked_with_trailer", raw: "GET /chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", n: 1, status: []int{200}, bodies: []string{"abcd"}, closed: true,
			check: func(t *testing.T, a []*http.Response) {
				if len(a[0].TransferEncoding) != 1 || a[0].Trailer.Get("X-T") != "v" {
					t.Errorf("chunked %v, trailer %v", a[0].TransferEncoding, a[0].Trailer)
				}
			}},
		{name: "no_content", raw: "GET /nocontent HTTP/1.1\r\nHost: x\r\n\r\nGET /len HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", n: 2,
			status: []int{204, 200}, bodies: []string{"", "hello"}, closed: true,
			check: func(t *testing.T, a []*http.Response) {
				if _, ok := a[0].Header["Content-Length"]; ok {
					t.Errorf("204 with a Content-Length: %v", a[0].Header)
				}
			}},
		{name: "handler_closes", raw: "GET /close HTTP/1.1\r\nHost: x\r\n\r\n", n: 1, status: []int{200}, bodies: []string{"bye"}, closed: true},
		{name: "short_body_closes", raw: "GET /short HTTP/1.1\r\nHost: x\r\n\r\n", n: 1, status: []int{200}, bodies: []string{"error: unexpected EOF"}, closed: true},
		{name: "unread_body_drained", raw: "POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nxxxxxGET /len HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", n: 2,
			status: []int{200, 200}, bodies: []string{"body ignored", "hello"}, closed: true},
		{name: "unread_big_body_closes", raw: "POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: " + strconv.Itoa(len(big)) + "\r\n\r\n" + big, n: 1,
			status: []int{200}, bodies: []string{"body ignored"}, closed: true},
		{name: "malformed", raw: "BLAH\r\n\r\n", n: 1, status: []int{400}, closed: true},
		{name: "bad_header", raw: "GET /len HTTP/1.1\r\nHost: x\r\nNo colon\r\n\r\n", n: 1, status: []int{400}, closed: true},
		{name: "head_too_large", raw: "GET /len HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 1<<20+5000) + "\r\n\r\n", n: 1, status: []int{431}, closed: true},
		{name: "expect_never_read", raw: "POST /ignore HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", n: 1,
			status: []int{200}, bodies: []string{"body ignored"}, closed: true},
		{name: "expect_unknown", raw: "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: something\r\nContent-Length: 1\r\n\r\na", n: 1, status: []int{417}, closed: true},
		{name: "hijack_ends_watch", raw: "GET /hijack HTTP/1.1\r\nHost: x\r\n\r\nPING\r\n", n: 1, status: []int{200}, bodies: []string{"PING"}, closed: true},
		{name: "panic", raw: "GET /panic HTTP/1.1\r\nHost: x\r\n\r\n", n: 0, closed: true},
		{name: "abort", raw: "GET /abort HTTP/1.1\r\nHost: x\r\n\r\n", n: 0, closed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answers, bodies, closed := rawExchange(t, s.addr, tt.raw, max(tt.n, 1))
			if len(answers) != tt.n {
				t.Fatalf("%d answers, want %d (%q)", len(answers), tt.n, bodies)
			}
			for i, a := range answers {
				if a.StatusCode != tt.status[i] {
					t.Errorf("answer %d: status %d, want %d", i, a.StatusCode, tt.status[i])
				}
				if i < len(tt.bodies) && bodies[i] != tt.bodies[i] {
					t.Errorf("answer %d: body %q, want %q", i, bodies[i], tt.bodies[i])
				}
			}
			if closed != tt.closed {
				t.Errorf("connection closed: %v, want %v", closed, tt.closed)
			}
			if tt.check != nil && len(answers) == tt.n {
				tt.check(t, answers)
			}
		})
	}
	if !strings.Contains(s.logs.String(), "test panic") {
		t.Errorf("the panic was not logged: %s", s.logs)
	}
	if strings.Contains(s.logs.String(), "abort") {
		t.Errorf("http.ErrAbortHandler was logged: %s", s.logs)
	}
}

// TestServerExpectContinue sends a body only after the server said 100
// Continue, as curl does for larger bodies.
func TestServerExpectContinue(t *testing.T) {
	s := startServer(t, testHandler(newHold()), nil)
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("first line %q, %v; want 100 Continue", line, err)
	}
	if blank, _ := br.ReadString('\n'); blank != "\r\n" {
		t.Fatalf("after 100 Continue: %q", blank)
	}
	io.WriteString(c, "body")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "got:body" {
		t.Fatalf("answer %d %q", resp.StatusCode, b)
	}
}

// TestServerClientGone checks that a GET's context ends when its client
// closes the connection, and not when the client pipelines another request.
func TestServerClientGone(t *testing.T) {
	hd := newHold()
	pipelined := make(chan struct{}, 1)
	s := startServer(t, testHandler(hd), func(s *server) {
		s.onPipelined = func() { pipelined <- struct{}{} }
	})

	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
	<-hd.started
	c.Close()
	if err := <-hd.held; !errors.Is(err, context.Canceled) {
		t.Fatalf("held request ended with %v, want its context cancelled", err)
	}

	// A pipelined request is not a client gone: the first is answered
	// when released, then the second.
	c, err = net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second)) // a safety net
	io.WriteString(c, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
	<-hd.started
	io.WriteString(c, "GET /len HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	<-pipelined
	close(hd.release)
	if err := <-hd.held; err != nil {
		t.Fatalf("pipelined GET ended with %v", err)
	}
	br := bufio.NewReader(c)
	for _, want := range []string{"released", "hello"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != want {
			t.Fatalf("answer %q, want %q", b, want)
		}
	}
}

// TestServerTimeouts checks that a new connection that sends nothing, or
// does not finish its request head, is closed after the header timeout, and
// a kept-alive connection after the idle timeout. Each kind is given an hour
// for the other timeout, so that only the one under test can close it.
func TestServerTimeouts(t *testing.T) {
	const short, long = 50 * time.Millisecond, time.Hour
	header := startServer(t, testHandler(newHold()), func(s *server) { s.idleTimeout, s.headerTimeout = long, short })
	for _, raw := range []string{"", "GET /len HTTP/1.1\r\nHost: x\r\n"} {
		answers, _, closed := rawExchange(t, header.addr, raw, 1)
		if len(answers) != 0 || !closed {
			t.Errorf("after %q: %d answers, closed %v; want none, closed", raw, len(answers), closed)
		}
	}
	idle := startServer(t, testHandler(newHold()), func(s *server) { s.idleTimeout, s.headerTimeout = short, long })
	answers, _, closed := rawExchange(t, idle.addr, "GET /len HTTP/1.1\r\nHost: x\r\n\r\n", 1)
	if len(answers) != 1 || answers[0].Close || !closed {
		t.Errorf("kept-alive connection: %d answers, closed %v; want one answer, then closed", len(answers), closed)
	}
}

// TestServerShutdown checks that shutting down closes idle connections at
// once, lets a request under way finish within the grace period, and
// cancels one that outlasts it.
func TestServerShutdown(t *testing.T) {
	hd := newHold()
	start := func() (*server, net.Listener, chan error) {
		s := newServer(testHandler(hd), slog.New(slog.DiscardHandler), func() *conn { return &conn{id: "test"} })
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- s.serve(ln, nil) }()
		return s, ln, done
	}
	dial := func(ln net.Listener, raw string) *bufio.Reader {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second)) // a safety net
		io.WriteString(c, raw)
		return bufio.NewReader(c)
	}
	stopAccepting := func(ln net.Listener, done chan error) {
		ln.Close()
		if err := <-done; err != nil {
			t.Fatalf("serve: %v", err)
		}
	}

	s, ln, done := start()
	// An idle keep-alive connection: one answered request.
	idle := dial(ln, "GET /len HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(idle, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("first request: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	// A request under way.
	busy := dial(ln, "POST /hold HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
	<-hd.started

	stopAccepting(ln, done)
	shut := make(chan error, 1)
	go func() { shut <- s.shutdown(context.Background()) }()
	if _, err := idle.Peek(1); err == nil {
		t.Fatal("idle connection still open after shutdown began")
	}
	close(hd.release)
	resp, err = http.ReadResponse(busy, nil)
	if err != nil {
		t.Fatalf("request under way: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "released" || !resp.Close {
		t.Fatalf("request under way answered %q, close %v", b, resp.Close)
	}
	if err := <-hd.held; err != nil {
		t.Fatalf("released request: %v", err)
	}
	if err := <-shut; err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	// Past the grace period, a held request is cancelled and its
	// connection closed.
	hd.release = make(chan struct{})
	s, ln, done = start()
	busy = dial(ln, "POST /hold HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
	<-hd.started
	stopAccepting(ln, done)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no grace at all
	if err := s.shutdown(ctx); err == nil {
		t.Fatal("shutdown past its grace period reported no busy connection")
	}
	if err := <-hd.held; !errors.Is(err, context.Canceled) {
		t.Fatalf("held request ended with %v, want cancelled", err)
	}
	if _, err := busy.Peek(1); err == nil {
		t.Fatal("busy connection still open after a forced shutdown")
	}
}

// FuzzServer sends arbitrary bytes as the whole of a client's side of a
// connection. The server must neither crash nor hang: whatever it writes
// back reads as a sequence of HTTP answers, and it closes the connection
// once the client has.
func FuzzServer(f *testing.F) {
	for _, seed := range []string{
		"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /len HTTP/1.0\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nab",
		"HEAD /len HTTP/1.1\r\nHost: x\r\n\r\nGET /chunked HTTP/1.1\r\n\r\n",
		"GET /panic HTTP/1.1\r\n\r\n",
		"BLAH\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	logs := &lockedWriter{w: &bytes.Buffer{}}
	s := newServer(testHandler(nil), slog.New(slog.NewTextHandler(logs, nil)), func() *conn { return &conn{id: "fuzz"} })
	// A Unix socket, not TCP: tens of thousands of inputs a minute would
	// run out of loopback ports, their connections waiting in TIME_WAIT.
	ln, err := net.Listen("unix", filepath.Join(f.TempDir(), "tap.sock"))
	if err != nil {
		f.Fatal(err)
	}
	go s.serve(ln, nil)
	f.Cleanup(func() {
		ln.Close()
		s.shutdown(context.Background())
	})
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := net.DialTimeout("unix", ln.Addr().String(), 10*time.Second)
		if err != nil {
			t.Fatalf("%v; server log: %.2000s", err, logs)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second)) // a hang fails the test
		go func() {
			c.Write(in)
			c.(*net.UnixConn).CloseWrite()
		}()
		out, err := io.ReadAll(c)
		if err != nil && !isReset(err) {
			t.Fatalf("reading the answers: %v (got %q)", err, out)
		}
		// The requests as net/http reads them, to read each answer as the
		// answer to its request (one to a HEAD has no body).
		var reqs []*http.Request
		for rr := bufio.NewReader(bytes.NewReader(in)); ; {
			req, err := http.ReadRequest(rr)
			if err != nil {
				break
			}
			reqs = append(reqs, req)
			if _, err := io.Copy(io.Discard, req.Body); err != nil {
				break
			}
		}
		br := bufio.NewReader(bytes.NewReader(out))
		for {
			if _, err := br.Peek(1); err != nil {
				break
			}
			var req *http.Request
			if len(reqs) > 0 {
				req = reqs[0]
			}
			resp, err := http.ReadResponse(br, req)
			if err == nil && resp.StatusCode >= 200 && len(reqs) > 0 {
				reqs = reqs[1:]
			}
			if err != nil {
				t.Fatalf("answer does not parse: %v\ninput %q\noutput %q", err, in, out)
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("answer body: %v\ninput %q\noutput %q", err, in, out)
			}
		}
	})
}

// TestServerClientGoneAnyMethod: a request of any method still waiting for
// its answer after lateWatch is cancelled when its client goes away (issue
// 14, finding 3: an upstream request outlived its client).
func TestServerClientGoneAnyMethod(t *testing.T) {
	for _, raw := range []string{
		"POST /hold HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
		"POST /hold HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
		"DELETE /hold HTTP/1.1\r\nHost: x\r\n\r\n",
		"OPTIONS /hold HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		hd := newHold()
		s := startServer(t, testHandler(hd), func(s *server) {
			s.lateWatch = 10 * time.Millisecond
			s.bodyTimeout = time.Hour
		})
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, raw)
		<-hd.started
		c.Close()
		select {
		case err := <-hd.held:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%.20q: held request ended with %v, want its context cancelled", raw, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%.20q: request still held 10 s after its client went away", raw)
		}
	}
}

// TestServerMaxConns: with every connection slot taken, the next
// connection is not served until one closes.
func TestServerMaxConns(t *testing.T) {
	full := make(chan struct{}, 10)
	s := startServer(t, testHandler(newHold()), func(s *server) {
		s.slots = make(chan struct{}, 2)
		s.onFull = func() { full <- struct{}{} }
	})
	dial := func() net.Conn {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second)) // a safety net
		return c
	}
	get := func(c net.Conn, br *bufio.Reader) string {
		io.WriteString(c, "GET /len HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	a, b := dial(), dial()
	for _, c := range []net.Conn{a, b} {
		if got := get(c, bufio.NewReader(c)); got != "hello" {
			t.Fatalf("kept-alive connection: %q", got)
		}
	}
	<-full // the accept loop waits for a slot
	c := dial()
	io.WriteString(c, "GET /len HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := c.Read(make([]byte, 1)); n != 0 || !isTimeout(err) {
		t.Fatalf("third connection served with two slots taken: %d bytes, %v", n, err)
	}
	a.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("third connection once a slot was free: %v %v", resp, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
