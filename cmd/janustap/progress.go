package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progressEvery is how often a progress line is redrawn at most.
const progressEvery = 200 * time.Millisecond

// progress reports how far a long-running command (export, import, rebuild)
// has gone. On a terminal it redraws one line in place with the count, the
// rate and, when the total is known, the percentage and ETA; elsewhere it
// draws nothing. Done returns the summary line, for the caller to print to
// stderr whatever the writer is. Add may be called from any goroutine.
type progress struct {
	w     io.Writer
	what  string // the command, first on the line
	total int64  // 0 or less: unknown
	tty   bool
	now   func() time.Time
	start time.Time

	mu    sync.Mutex
	n     int64
	drawn time.Time // when the line was last drawn; zero before
	width int       // length of the line last drawn
}

// newProgress returns a progress reporter writing to w, which is drawn on
// only when it is a terminal. total is the number of events expected; 0
// when unknown.
func newProgress(w io.Writer, what string, total int64) *progress {
	p := &progress{w: w, what: what, total: total, tty: isTerminal(w), now: time.Now}
	p.start = p.now()
	return p
}

// isTerminal reports whether w is a character device, as a terminal is.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Add counts n more events, and redraws the line when it is time.
func (p *progress) Add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n += n
	if !p.tty {
		return
	}
	now := p.now()
	// Nothing for the first moments: a short run shows only its summary.
	if now.Sub(p.start) < progressEvery || !p.drawn.IsZero() && now.Sub(p.drawn) < progressEvery {
		return
	}
	p.drawn = now
	line := p.line(now)
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", max(0, p.width-len(line))))
	p.width = len(line)
}

// line is the progress line at now.
func (p *progress) line(now time.Time) string {
	rate := float64(p.n) / max(now.Sub(p.start).Seconds(), 1e-9)
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d", p.what, p.n)
	if p.total > 0 {
		fmt.Fprintf(&b, " of %d events (%d%%)", p.total, min(100, p.n*100/p.total))
	} else {
		b.WriteString(" events")
	}
	fmt.Fprintf(&b, ", %.0f/s", rate)
	if p.total > 0 && p.n < p.total && rate > 0 {
		eta := time.Duration(float64(p.total-p.n) / rate * float64(time.Second))
		fmt.Fprintf(&b, ", ETA %s", eta.Round(time.Second))
	}
	return b.String()
}

// Done clears the progress line, if one was drawn, and returns the summary:
// how many events in how long, and the rate.
func (p *progress) Done() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && !p.drawn.IsZero() {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
		p.drawn = time.Time{}
	}
	elapsed := p.now().Sub(p.start)
	rate := float64(p.n) / max(elapsed.Seconds(), 1e-9)
	return fmt.Sprintf("%s: %d events in %s (%.0f/s)", p.what, p.n, elapsed.Round(time.Millisecond), rate)
}
