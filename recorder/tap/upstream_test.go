package tap

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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
