package tap

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
)

// TestConnPool checks the pool against a Go server standing in for Janus,
// since only a server whose connections the test controls can show reuse
// and closes: one connection for several requests, a new one after the
// gateway closed its idle connections (as a restarted Janus has), a
// connection not reused after "Connection: close", and an interim 100
// answer skipped.
func TestConnPool(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Query().Get("close") != "" {
			w.Header().Set("Connection", "close")
		}
		io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" "+string(b))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	p := newConnPool(4)
	defer p.CloseIdleConnections()

	do := func(method, path, body string) string {
		t.Helper()
		req, err := http.NewRequestWithContext(context.Background(), method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := p.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	steps := []struct {
		name, method, path, body string
		conns                    int64 // connections made so far, after the step
		before                   func()
	}{
		{"first", "POST", "/janus", `{"janus":"create"}`, 1, nil},
		{"reused", "POST", "/janus/1?x=y", `{"janus":"keepalive"}`, 1, nil},
		{"get reused", "GET", "/janus/1?maxev=1", "", 1, nil},
		{"after the gateway closed it", "POST", "/janus", `{}`, 2, srv.CloseClientConnections},
		{"answered with close", "GET", "/janus/info?close=1", "", 2, nil},
		{"new after close", "GET", "/janus/info", "", 3, nil},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		if got, want := do(s.method, s.path, s.body), s.method+" "+s.path+" "+s.body; got != want {
			t.Errorf("%s: answer %q, want %q", s.name, got, want)
		}
		if got := conns.Load(); got != s.conns {
			t.Errorf("%s: %d connections made, want %d", s.name, got, s.conns)
		}
	}
}

// TestConnPoolCancel checks that a request whose context ends while the
// gateway holds it (an abandoned long-poll) returns at once, and that its
// connection is not reused.
func TestConnPoolCancel(t *testing.T) {
	release := make(chan struct{})
	held := make(chan struct{}, 1)
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			held <- struct{}{}
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	defer close(release)
	p := newConnPool(4)
	defer p.CloseIdleConnections()

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/hold", nil)
	errc := make(chan error, 1)
	go func() {
		_, err := p.RoundTrip(req)
		errc <- err
	}()
	<-held
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("a cancelled exchange returned no error")
	}
	req, _ = http.NewRequest("GET", srv.URL+"/next", nil)
	resp, err := p.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "ok" {
		t.Fatalf("next answer %q", b)
	}
	if got := conns.Load(); got != 2 {
		t.Errorf("%d connections made, want 2 (the cancelled one is not reused)", got)
	}
}

// TestWriteRequest holds writeRequest to net/http's own Request.Write: the
// two serialisations, read back by http.ReadRequest, are the same request
// (method, target, host, headers, body and its length).
func TestWriteRequest(t *testing.T) {
	for _, tc := range []struct {
		name, method, target, body string
		header                     http.Header
	}{
		{name: "post", method: "POST", target: "http://127.0.0.1:8088/janus/1/2", body: `{"janus":"message","transaction":"t"}`,
			header: http.Header{"Content-Type": {"application/json"}, "Origin": {"https://example.com"}, "Accept": {"*/*", "text/plain"}}},
		{name: "post without body", method: "POST", target: "http://127.0.0.1:8088/janus"},
		{name: "long-poll", method: "GET", target: "http://127.0.0.1:8088/janus/123?rid=1700000000&maxev=10&_=1",
			header: http.Header{"Accept": {"application/json"}}},
		{name: "escaped path", method: "GET", target: "http://127.0.0.1:8088/janus/a%2Fb%20c"},
		{name: "preflight", method: "OPTIONS", target: "http://127.0.0.1:8088/janus",
			header: http.Header{"Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"content-type"}}},
		{name: "no user agent", method: "POST", target: "http://127.0.0.1:7088/admin", body: "{}",
			header: http.Header{"User-Agent": {""}, "Expect": {"100-continue"}}},
		{name: "user agent kept", method: "GET", target: "http://127.0.0.1:8088/janus/info", header: http.Header{"User-Agent": {"janus.js"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			build := func() *http.Request {
				r, err := http.NewRequest(tc.method, tc.target, nil)
				if err != nil {
					t.Fatal(err)
				}
				r.Header = tc.header.Clone()
				if r.Header == nil {
					r.Header = http.Header{}
				}
				if _, ok := r.Header["User-Agent"]; !ok {
					r.Header["User-Agent"] = []string{""} // as forward does
				}
				if tc.body != "" {
					r.Body = io.NopCloser(strings.NewReader(tc.body))
					r.ContentLength = int64(len(tc.body))
				}
				return r
			}
			var ours, theirs strings.Builder
			bw := bufio.NewWriter(&ours)
			if err := writeRequest(bw, build()); err != nil {
				t.Fatal(err)
			}
			bw.Flush()
			ref := build()
			ref.Header.Del("Expect")
			if err := ref.Write(&theirs); err != nil {
				t.Fatal(err)
			}
			got, gotBody := readBack(t, ours.String())
			want, wantBody := readBack(t, theirs.String())
			if got.Method != want.Method || got.RequestURI != want.RequestURI || got.Host != want.Host ||
				got.ContentLength != want.ContentLength || gotBody != wantBody || gotBody != tc.body {
				t.Errorf("wrote %q\nnet/http writes %q", ours.String(), theirs.String())
			}
			if !reflect.DeepEqual(got.Header, want.Header) {
				t.Errorf("headers %v, net/http sends %v", got.Header, want.Header)
			}
			if _, ok := got.Header["Expect"]; ok {
				t.Errorf("Expect sent: %q", ours.String())
			}
		})
	}
}

// TestWriteForwarded holds the hot path's writeForwarded to what the tap
// sends through any other Transport (outRequest, then writeRequest): for
// requests as clients send them, hop-by-hop headers and all, the two read
// back as the same request.
func TestWriteForwarded(t *testing.T) {
	up, _ := url.Parse("http://127.0.0.1:8088/janus")
	for _, tc := range []struct{ name, raw string }{
		{"post", "POST /janus/1/2 HTTP/1.1\r\nHost: tap:8080\r\nContent-Type: application/json\r\nOrigin: https://example.com\r\nAccept: */*\r\nAccept: text/plain\r\nContent-Length: 9\r\n\r\n{\"a\":\"b\"}"},
		{"post without body", "POST /janus HTTP/1.1\r\nHost: tap\r\nContent-Length: 0\r\n\r\n"},
		{"long-poll", "GET /janus/123?rid=1700000000&maxev=10&_=1 HTTP/1.1\r\nHost: tap\r\nUser-Agent: Mozilla/5.0\r\nAccept: application/json\r\n\r\n"},
		{"escaped path", "GET /janus/a%2Fb%20c HTTP/1.1\r\nHost: tap\r\n\r\n"},
		{"absolute form", "GET http://tap/janus/info?x=1 HTTP/1.1\r\nHost: tap\r\n\r\n"},
		{"preflight", "OPTIONS /janus HTTP/1.1\r\nHost: tap\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\nOrigin: https://a.test\r\n\r\n"},
		{"hop-by-hop", "POST /admin HTTP/1.1\r\nHost: tap\r\nConnection: keep-alive, X-Hop, x-other\r\nX-Hop: 1\r\nX-Other: 2\r\nX-Kept: 3\r\nKeep-Alive: timeout=5\r\nProxy-Authorization: Basic eA==\r\nProxy-Connection: keep-alive\r\nTe: trailers\r\nUpgrade: h2c\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}"},
		{"chunked body", "POST /janus HTTP/1.1\r\nHost: tap\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n2\r\n{}\r\n0\r\nX-T: v\r\n\r\n"},
		{"http/1.0", "POST /janus HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}"},
		{"empty user agent", "GET /janus/info HTTP/1.1\r\nHost: tap\r\nUser-Agent: \r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := http.ReadRequest(bufio.NewReader(strings.NewReader(tc.raw)))
			if err != nil {
				t.Fatal(err)
			}
			tp := &Tap{cfg: Config{MaxBody: 1 << 20, MaxInflight: -1}}
			var held int64
			body, err := tp.readBody(in.Body, in.ContentLength, &held)
			if err != nil {
				t.Fatal(err)
			}
			var ours, ref strings.Builder
			bw := bufio.NewWriter(&ours)
			if err := writeForwarded(bw, in, up.Host, body); err != nil {
				t.Fatal(err)
			}
			bw.Flush()
			bw = bufio.NewWriter(&ref)
			if err := writeRequest(bw, outRequest(in, up, body)); err != nil {
				t.Fatal(err)
			}
			bw.Flush()
			got, gotBody := readBack(t, ours.String())
			want, wantBody := readBack(t, ref.String())
			if got.Method != want.Method || got.RequestURI != want.RequestURI || got.Host != want.Host ||
				got.ContentLength != want.ContentLength || gotBody != wantBody || gotBody != string(body) {
				t.Errorf("wrote %q\nthe other path writes %q", ours.String(), ref.String())
			}
			if !reflect.DeepEqual(got.Header, want.Header) {
				t.Errorf("headers %v, the other path sends %v", got.Header, want.Header)
			}
			for _, k := range []string{"X-Hop", "X-Other", "Keep-Alive", "Proxy-Authorization", "Proxy-Connection", "Te", "Upgrade", "Expect", "Connection", "Trailer"} {
				if _, ok := got.Header[k]; ok {
					t.Errorf("hop-by-hop %s forwarded: %q", k, ours.String())
				}
			}
		})
	}
}

// readBack reads a request written by the code under test, with its body.
func readBack(t *testing.T, s string) (*http.Request, string) {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(s)))
	if err != nil {
		t.Fatalf("read back %q: %v", s, err)
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return r, string(b)
}
