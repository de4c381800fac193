//go:build linux

package faults_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/janustap/janustap/replayer/janus/janustest"
)

// TestConcurrentOversizedBodies (issue 14, finding 4): eight clients send a
// 100 MiB body at once, with its Content-Length or chunked; the tap
// (--max-body 64 MiB, --max-inflight 256 MiB by default) refuses each, the
// first kind before reading it (413), the second once it is over a limit
// (413, or 503 past --max-inflight), and its resident memory stays under
// 300 MB. It used to read 64 MiB of each before answering, and reach
// 1.16 GB.
func TestConcurrentOversizedBodies(t *testing.T) {
	j := janustest.Start(t, janustest.Options{})
	tp := startTap(t, t.TempDir(), append(tapArgs(j), "--no-record", "--nats-port", strconv.Itoa(freePorts(t, 1)[0]))...)
	defer tp.stop()
	const clients, size = 8, 100 << 20
	before := tp.rss()
	for _, chunked := range []bool{false, true} {
		var wg sync.WaitGroup
		statuses := make([]int, clients)
		errs := make([]error, clients)
		for i := range clients {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
				defer cancel()
				var body io.Reader = io.LimitReader(zeros{}, size)
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, tp.httpURL(), body)
				if err != nil {
					errs[i] = err
					return
				}
				if !chunked {
					req.ContentLength = size
				}
				resp, err := http.DefaultTransport.RoundTrip(req)
				if err != nil {
					errs[i] = err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				statuses[i] = resp.StatusCode
			})
		}
		wg.Wait()
		for i := range clients {
			ok := statuses[i] == http.StatusRequestEntityTooLarge || chunked && statuses[i] == http.StatusServiceUnavailable
			// A client still writing when the tap answers and closes may
			// see its write fail instead of the answer: that is refused too.
			if !ok && (errs[i] == nil || !chunked && !strings.Contains(errs[i].Error(), "connection reset")) {
				t.Errorf("chunked %v, client %d: status %d, %v; want 413 (or 503)", chunked, i, statuses[i], errs[i])
			}
		}
		t.Logf("chunked %v: statuses %v", chunked, statuses)
	}
	peak := tp.peakRSS()
	t.Logf("tap resident memory %d MiB before, peak %d MiB over %d concurrent 100 MiB bodies with a length and %d chunked", before>>20, peak>>20, clients, clients)
	if peak > 300<<20 {
		t.Errorf("peak resident memory %d MiB, want under 300 MB", peak>>20)
	}
}

// zeros reads as an endless run of '0' bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}
