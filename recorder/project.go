package recorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/janustap/janustap/recorder/bus"
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

	applied atomic.Uint64
}

// Applied returns how many events this Projector has applied.
func (p *Projector) Applied() uint64 { return p.applied.Load() }

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
		Start: bus.StartSeq, StartSeq: start, UntilCaughtUp: p.UntilCaughtUp || p.To != 0}
	if start <= 1 {
		r.Start = bus.StartAll
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type got struct {
		d   bus.Delivery
		err error
	}
	in := make(chan got, batch)
	go func() {
		defer close(in)
		for d, err := range r.Events(ctx) {
			select {
			case in <- got{d, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()

	items := make([]store.Item, 0, batch)
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
		if p.Progress != nil {
			p.Progress(len(items))
		}
		items = items[:0]
		return nil
	}
	var timer *time.Timer
	var timeout <-chan time.Time
	for {
		select {
		case g, ok := <-in:
			if !ok {
				return flush() // caught up, or ctx done
			}
			if g.err != nil {
				if ctx.Err() != nil || errors.Is(g.err, context.Canceled) {
					return flush()
				}
				if err := flush(); err != nil {
					return err
				}
				return fmt.Errorf("recorder: %w", g.err)
			}
			if p.To != 0 && g.d.StreamSeq > p.To {
				return flush()
			}
			it := store.Item{StreamSeq: g.d.StreamSeq, Raw: g.d.Data}
			if g.d.Err == nil {
				it.Event = g.d.Event
			} else if errors.Is(g.d.Err, schema.ErrUnknownVersion) {
				if err := flush(); err != nil {
					return err
				}
				return fmt.Errorf("recorder: stream sequence %d: %w (upgrade janustap)", g.d.StreamSeq, g.d.Err)
			}
			items = append(items, it)
			if len(items) >= batch {
				if err := flush(); err != nil {
					return err
				}
			} else if timeout == nil {
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
		log.Warn("recorder stopped; starting again", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
