package webui_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/janustap/janustap/recorder/webui"
)

// BenchmarkSessionPageServer serves the session page of a session of
// 10 000 messages: reading the session, its verdict and its ladder, and
// writing the page.
func BenchmarkSessionPageServer(b *testing.B) {
	a := newStore(b)
	evs, session := bigSession(10_000)
	a.apply(b, evs)
	srv := httptest.NewServer((&webui.Server{DB: a.db}).Handler())
	defer srv.Close()
	url := fmt.Sprintf("%s/s/janus/%d", srv.URL, session)
	for b.Loop() {
		resp, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
		b.SetBytes(n)
	}
}
