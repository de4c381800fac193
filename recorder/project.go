package recorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/janustap/janustap/recorder/bus"
	"github.com/janustap/janustap/recorder/health"
	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/schema"
)

// DBFile is the SQLite projection's file name in the data directory.
const DBFile = "janustap.db"

// Projector consumes the event log into a store.DB. The database itself is
// the cursor: it keeps the stream sequence of the last applied event in the
// same transaction as the events, so a projector killed at any point resumes
// at the next event, and no event is applied twice or skipped.
type Projector struct {
	// JS is the JetStream to read. Required.
	JS jetstream.JetStream
	// Stream is the event stream.
	Stream bus.StreamConfig
	// DB is the open database. Required.
	DB *store.DB
	// Filter selects subjects, such as bus.GatewayFilter; "" reads all.
	Filter string
	// Batch is how many events one transaction applies at most; 0 means
	// 1000.
	Batch int
	// Linger is how long a batch waits to fill once it has an event; 0
	// means 20 ms. It bounds the lag the batching adds.
	Linger time.Duration
	// From and To, when not 0, bound the stream sequences applied (for a
	// rebuild of a range). With To set, Run returns once it has applied To
	// or caught up with the stream.
	From, To uint64
	// UntilCaughtUp makes Run return once it has applied what the stream
	// held when it started.
	UntilCaughtUp bool
	// Progress, when set, is called after each batch with its size.
	Progress func(n int)
	// Logger receives errors; nil means slog.Default().
	Logger *slog.Logger
	// Health hears, as part "project", of RunForever's failures and of the
	// first batch applied after one; nil: nobody listens.
	Health *health.Status

	applied  atomic.Uint64
	lastSeq  atomic.Uint64 // stream sequence of the last applied event
	lag      atomic.Int64  // nanoseconds from that event's time to its commit
	failing  atomic.Bool   // the last Run of RunForever failed, and nothing was applied since
	failures atomic.Uint64 // Runs of RunForever that failed
}

// ProjectorStats are the counters of a Projector.
type ProjectorStats struct {
	Applied  uint64 // events applied
	Failures uint64 // times RunForever's Run failed and was started again
	Failing  bool   // the last failure has not been followed by a batch applied
}

// Stats returns the counters. It is safe to call while Run runs.
func (p *Projector) Stats() ProjectorStats {
	return ProjectorStats{Applied: p.applied.Load(), Failures: p.failures.Load(), Failing: p.failing.Load()}
}

func (p *Projector) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.Default()
	}
	return p.Logger
}

// Applied returns how many events this Projector has applied.
func (p *Projector) Applied() uint64 { return p.applied.Load() }

// LastSeq returns the stream sequence of the last event this Projector
// applied (0 before its first batch).
func (p *Projector) LastSeq() uint64 { return p.lastSeq.Load() }

// Lag returns how long the last applied event took from the tap's clock to
// the database, as of its batch's commit.
func (p *Projector) Lag() time.Duration { return time.Duration(p.lag.Load()) }

// Run applies the log to the database until ctx is done (or, with
// UntilCaughtUp or To, until caught up).
func (p *Projector) Run(ctx context.Context) error {
	log := p.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("part", "recorder")
	batch, linger := p.Batch, p.Linger
	if batch == 0 {
		batch = 1000
	}
	if linger == 0 {
		linger = 20 * time.Millisecond
	}
	last, err := p.DB.LastSeq(ctx)
	if err != nil {
		return fmt.Errorf("recorder: %w", err)
	}
	start := max(last+1, p.From)
	r := &bus.Reader{JS: p.JS, Stream: p.Stream.Name, Prefix: p.Stream.Prefix, Filter: p.Filter,
		Start: bus.StartSeq, StartSeq: start, UntilCaughtUp: p.UntilCaughtUp || p.To != 0,
		IdleAfter: linger}
	if start <= 1 {
		r.Start = bus.StartAll
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The reader may be two batches ahead: the next batch is ready when
	// Apply returns, and the reader goes on while Apply runs.
	size := min(batch, maxChunk)
	ahead := 2*((batch+size-1)/size) + 1
	chunks := make(chan chunk, ahead)
	free := make(chan []store.Item, ahead+2)
	go p.read(ctx, r, size, chunks, free)

	items := make([]store.Item, 0, batch)
	var read [][]store.Item // chunks all of whose items are in items or applied
	flush := func() error {
		if len(items) == 0 {
			return nil
		}
		// A batch read is applied even as ctx ends: it is small, and
		// the next run would apply it anyway.
		if err := p.DB.Apply(context.WithoutCancel(ctx), items); err != nil {
			return fmt.Errorf("recorder: apply %d events up to stream sequence %d: %w", len(items), items[len(items)-1].StreamSeq, err)
		}
		p.applied.Add(uint64(len(items)))
		last := items[len(items)-1]
		p.lastSeq.Store(last.StreamSeq)
		if last.Event != nil {
			p.lag.Store(int64(time.Since(last.Event.Time)))
		}
		if p.failing.CompareAndSwap(true, false) {
			p.Health.Set("project", nil)
			p.logger().Info("recorder applying events again", "failures", p.failures.Load())
		}
		if p.Progress != nil {
			p.Progress(len(items))
		}
		clear(items) // let the events go
		items = items[:0]
		for _, c := range read { // their items are applied: the reader may reuse them
			select {
			case free <- c[:0]:
			default:
			}
		}
		clear(read)
		read = read[:0]
		return nil
	}
	var timer *time.Timer
	var timeout <-chan time.Time
	for {
		select {
		case c, ok := <-chunks:
			if !ok {
				return flush() // caught up, or ctx done
			}
			for _, it := range c.items {
				items = append(items, it)
				if len(items) >= batch {
					if err := flush(); err != nil {
						return err
					}
				}
			}
			read = append(read, c.items)
			if c.err != nil {
				if err := flush(); err != nil {
					return err
				}
				return c.err
			}
			if len(items) > 0 && timeout == nil {
				timer = time.NewTimer(linger)
				timeout = timer.C
			}
		case <-timeout:
			timeout = nil
			if err := flush(); err != nil {
				return err
			}
		}
		if len(items) == 0 && timer != nil {
			timer.Stop()
			timeout = nil
		}
	}
}

// maxChunk is how many items the reading goroutine of Run hands over at
// most at a time.
const maxChunk = 256

// chunk is what the reading goroutine of Run hands over: items in stream
// order, then, last, the error that ended the reading.
type chunk struct {
	items []store.Item
	err   error
}

// read reads the stream into chunks of prepared items (store.Item.Prepare:
// decoded, their rows made, which is work the goroutine writing to SQLite
// then does not do), until ctx is done, the reading ends or p.To is
// passed; it closes chunks when it returns. It hands the items over in
// chunks rather than one by one, so that the two goroutines do not wake
// each other for every event when the writer is behind: a chunk goes when
// it is full, when the stream has nothing more to deliver at once (the
// delivery's Pending is 0), when the writer has no chunk waiting, and when
// nothing has come for the linger (an idle delivery: Pending is the
// server's count when it delivered, and a chunk must not wait for a next
// event that may not come). It fills the chunks the writer gave
// back on free (once it applied their items, reusing what their rows took)
// before it makes new ones.
func (p *Projector) read(ctx context.Context, r *bus.Reader, size int, chunks chan<- chunk, free <-chan []store.Item) {
	defer close(chunks)
	var c chunk
	send := func() bool {
		select {
		case chunks <- c:
			c = chunk{}
			return true
		case <-ctx.Done():
			return false
		}
	}
	for d, err := range r.Events(ctx) {
		if d.Idle {
			// Nothing came for a while: whatever is read goes to the
			// writer now, whatever the last delivery's Pending said.
			if len(c.items) > 0 && !send() {
				return
			}
			continue
		}
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				c.err = fmt.Errorf("recorder: %w", err)
			}
			break
		}
		if p.To != 0 && d.StreamSeq > p.To {
			break
		}
		if errors.Is(d.Err, schema.ErrUnknownVersion) {
			c.err = fmt.Errorf("recorder: stream sequence %d: %w (upgrade janustap)", d.StreamSeq, d.Err)
			break
		}
		if c.items == nil {
			select {
			case c.items = <-free:
			default:
				// Small at first: at a few events a second each chunk
				// holds one or two, and a full one (20 KiB) for each
				// was most of what serve allocated.
				c.items = make([]store.Item, 0, min(size, 8))
			}
		}
		if len(c.items) == cap(c.items) {
			c.items = slices.Grow(c.items, max(1, min(len(c.items), size-len(c.items))))
		}
		// A given-back item keeps what its row took for Prepare to reuse.
		c.items = c.items[:len(c.items)+1]
		it := &c.items[len(c.items)-1]
		it.StreamSeq, it.Event, it.Raw = d.StreamSeq, d.Event, d.Data
		it.Prepare()
		if len(c.items) >= size || d.Pending == 0 {
			if !send() {
				return
			}
			continue
		}
		if len(chunks) == 0 { // the writer may be waiting
			select {
			case chunks <- c:
				c = chunk{}
			default:
			}
		}
	}
	if len(c.items) > 0 || c.err != nil {
		send()
	}
}

// RunForever runs the projector until ctx is done, starting it again after
// an error (NATS unreachable, stream not there yet) with a backoff.
func (p *Projector) RunForever(ctx context.Context) {
	log := p.Logger
	if log == nil {
		log = slog.Default()
	}
	for wait := 100 * time.Millisecond; ctx.Err() == nil; wait = min(2*wait, 5*time.Second) {
		err := p.Run(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			wait = 100 * time.Millisecond
			continue
		}
		p.failures.Add(1)
		p.failing.Store(true)
		p.Health.Set("project", err)
		log.Warn("recorder stopped; starting again", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
