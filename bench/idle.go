package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/janustap/janustap/replayer/janus"
)

// IdleResult is the memory a process holds for idle WebSocket clients.
type IdleResult struct {
	Target    string
	Wanted    int   // clients the bench tried to open
	Held      int   // clients open at the measurement
	Before    int64 // resident set before the clients, bytes
	After     int64 // resident set with the clients open, bytes
	FirstErr  error // why a client could not open, if one could not
	Processes int   // processes measured (nginx: master and workers)
}

// PerClient returns the resident bytes per idle client, and false when no
// client was held.
func (r IdleResult) PerClient() (float64, bool) {
	if r.Held == 0 {
		return 0, false
	}
	return float64(r.After-r.Before) / float64(r.Held), true
}

const (
	idleDialers   = 64                     // WebSocket handshakes in flight at once
	idleMaxFailed = 200                    // give up opening after this many failures
	idleSample    = 200 * time.Millisecond // between resident set samples
	idleFileSpare = 32                     // descriptors left to a process for its own use
)

// measureIdle opens n idle janus-protocol WebSockets to url, waits for the
// resident set of pids() to stop moving, and closes them again. When one
// process holds them all and its open file limit leaves room for fewer, it
// opens as many as fit, and FirstErr says why.
func measureIdle(ctx context.Context, target, url string, pids func() []int, n int) IdleResult {
	res := IdleResult{Target: target, Wanted: n}
	ps := pids()
	res.Processes = len(ps)
	if len(ps) == 1 {
		per := descriptorsPerClient(target)
		if room, limit, err := roomForClients(ps[0], per); err == nil && room < n {
			n = max(room, 0)
			res.FirstErr = fmt.Errorf("its open file limit, %d, leaves room for %d clients at %d descriptors each", limit, n, per)
		}
	}
	before, err := stableRSS(ctx, pids)
	if err != nil {
		res.FirstErr = err
		return res
	}
	res.Before = before

	d := websocket.Dialer{
		Subprotocols:     []string{janus.Protocol},
		ReadBufferSize:   512,
		WriteBufferSize:  512,
		HandshakeTimeout: 10 * time.Second,
		NetDialContext:   (&net.Dialer{}).DialContext,
	}
	conns := make([]*websocket.Conn, 0, n)
	var mu sync.Mutex
	var failed int
	next := make(chan struct{})
	var wg sync.WaitGroup
	for range idleDialers {
		wg.Go(func() {
			for range next {
				c, _, err := d.DialContext(ctx, url, nil)
				mu.Lock()
				if err != nil {
					failed++
					if res.FirstErr == nil {
						res.FirstErr = fmt.Errorf("open: %w", err)
					}
				} else {
					conns = append(conns, c)
				}
				mu.Unlock()
			}
		})
	}
	for range n {
		mu.Lock()
		stop := failed >= idleMaxFailed
		mu.Unlock()
		if stop || ctx.Err() != nil {
			break
		}
		next <- struct{}{}
	}
	close(next)
	wg.Wait()
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	after, err := stableRSS(ctx, pids)
	if err != nil && res.FirstErr == nil {
		res.FirstErr = err
	}
	res.After = after
	// A connection the other side has closed meanwhile is not held.
	var closed error
	res.Held, closed = countOpen(conns)
	if res.FirstErr == nil {
		res.FirstErr = closed
	}
	return res
}

// descriptorsPerClient is how many file descriptors target holds for an
// idle client: Janus its connection, a proxy that one and its own to Janus.
func descriptorsPerClient(target string) int {
	if target == Direct {
		return 1
	}
	return 2
}

// roomForClients returns how many more clients of per descriptors each the
// process pid can hold within its open file limit (the soft limit, which
// it may raise no further than the hard one; the bench has raised both as
// far as it may, and its children inherit them), keeping idleFileSpare for
// the process's own use.
func roomForClients(pid, per int) (room int, limit uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			soft, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
			limit, err = strconv.ParseUint(soft, 10, 64)
			break
		}
	}
	if limit == 0 || err != nil {
		return 0, 0, fmt.Errorf("open file limit of process %d: %q in /proc/%d/limits (%v)", pid, "Max open files", pid, err)
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, 0, err
	}
	return (int(min(limit, 1<<30)) - len(fds) - idleFileSpare) / per, limit, nil
}

// countOpen returns how many of conns are still open, and why the first
// closed one was closed. Reading with a deadline a moment away times out
// on an open connection and returns the close frame, or another error, on
// one the peer has closed. The connections cannot be read again after.
func countOpen(conns []*websocket.Conn) (int, error) {
	open := 0
	var first error
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(time.Millisecond))
		_, _, err := c.NextReader()
		var ne net.Error
		if err == nil || errors.As(err, &ne) && ne.Timeout() {
			open++ // a message or a timeout: still open
		} else if first == nil {
			first = fmt.Errorf("closed by the server: %w", err)
		}
	}
	return open, first
}

// stableRSS samples the resident set of pids() until two samples in a row
// differ by less than 1%, for at most five seconds, and returns the last.
func stableRSS(ctx context.Context, pids func() []int) (int64, error) {
	var prev int64 = -1
	deadline := time.Now().Add(5 * time.Second)
	for {
		u, err := usage(pids())
		if err != nil {
			return 0, fmt.Errorf("resident set: %w", err)
		}
		if prev >= 0 && absInt64(u.RSS-prev)*100 < max(prev, 1) || time.Now().After(deadline) {
			return u.RSS, nil
		}
		prev = u.RSS
		select {
		case <-ctx.Done():
			return u.RSS, ctx.Err()
		case <-time.After(idleSample):
		}
	}
}

func absInt64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
