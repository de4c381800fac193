package bus

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/janustap/janustap/schema"
)

// Start says where a Reader starts in the stream.
type Start int

// Where a Reader starts.
const (
	StartAll Start = iota // at the first event of the stream
	StartNew              // at the first event stored after the Reader starts
	StartSeq              // at the stream sequence Reader.StartSeq
)

// Reader reads events from the stream, in stream order. Without Durable it
// uses an ordered consumer, which the client recreates as needed and which
// the server forgets when the Reader stops; with Durable, a durable consumer
// that keeps its position on the server between runs. Each Delivery of a
// durable consumer is to be acknowledged with Ack; one that is not comes
// again after AckWait, after newer ones. Set the fields before Events or
// Consume.
type Reader struct {
	// JS is the JetStream to read from. Required.
	JS jetstream.JetStream
	// Stream is the stream's name; "" means DefaultStream.
	Stream string
	// Prefix is the stream's subject prefix; "" means DefaultPrefix.
	Prefix string
	// Filter selects the subjects to read, such as GatewayFilter(prefix,
	// gateway); "" means every event, Prefix.>.
	Filter string
	// Durable names a durable consumer, created with Filter and Start the
	// first time and resumed afterwards (where Start no longer matters). ""
	// means an ordered ephemeral consumer.
	Durable string
	// Start is where to start reading: StartAll (the zero value), StartNew
	// or StartSeq.
	Start Start
	// StartSeq is the stream sequence to start at, with StartSeq.
	StartSeq uint64
	// UntilCaughtUp makes reading stop once the last event that the stream
	// held for Filter when reading began has been delivered, as
	// `janustap tail --no-follow` wants. Otherwise reading follows the
	// stream until ctx is done. It needs an ordered consumer: a durable
	// one's redeliveries can come after that last event.
	UntilCaughtUp bool
	// AckWait is how long a durable consumer waits for an Ack before it
	// delivers the event again; 0 means 30 seconds.
	AckWait time.Duration
	// IdleAfter, when set, makes reading yield a Delivery with Idle set
	// once no message has come for that long since the last one (once per
	// quiet spell, so that a quiet stream costs no wake-ups): for a reader
	// that batches what it reads and must hand a batch on when the stream
	// goes quiet, without relying on Pending (the server's count at the
	// time it delivered).
	IdleAfter time.Duration
}

// Delivery is one message read from the stream.
type Delivery struct {
	// Event is the decoded event; nil when Err is set.
	Event *schema.Event
	// Err says why Data is not an event (such as a record the publisher put
	// on Prefix.invalid, or an event from a newer janustap).
	Err error
	// Data is the message as stored.
	Data []byte
	// Subject is the message's subject.
	Subject string
	// StreamSeq is the message's sequence in the stream.
	StreamSeq uint64
	// Time is when the stream stored the message.
	Time time.Time
	// Pending is how many messages matching the filter follow this one in
	// the stream, as the server counted when it delivered it.
	Pending uint64
	// Idle marks a Delivery that carries no message: nothing came for
	// Reader.IdleAfter.
	Idle bool

	msg     jetstream.Msg
	durable bool
}

// Ack acknowledges the delivery to a durable consumer, which then never
// delivers it again. It does nothing for an ordered consumer.
func (d Delivery) Ack() error {
	if !d.durable || d.msg == nil {
		return nil
	}
	if err := d.msg.Ack(); err != nil {
		return fmt.Errorf("ack stream message %d: %w", d.StreamSeq, err)
	}
	return nil
}

// GatewayFilter returns the filter selecting the events of one gateway.
func GatewayFilter(prefix, gateway string) string {
	return orDefault(prefix, DefaultPrefix) + "." + schema.SubjectToken(gateway) + ".>"
}

// Events returns the deliveries in stream order (see Reader for a durable
// consumer's redeliveries). The sequence ends when ctx
// is done, when the Reader has caught up (UntilCaughtUp), or with an error,
// yielded last with an empty Delivery. A message that is not an event is a
// Delivery with Err set, not an error of the sequence.
func (r *Reader) Events(ctx context.Context) iter.Seq2[Delivery, error] {
	return func(yield func(Delivery, error) bool) {
		if err := r.each(ctx, func(d Delivery) bool { return yield(d, nil) }); err != nil {
			yield(Delivery{}, err)
		}
	}
}

// Consume calls fn for each delivery, in the order of Events, and returns
// the first error of fn, or the reading's. It returns nil when ctx is done or the
// Reader has caught up (UntilCaughtUp).
func (r *Reader) Consume(ctx context.Context, fn func(Delivery) error) error {
	var fnErr error
	err := r.each(ctx, func(d Delivery) bool {
		fnErr = fn(d)
		return fnErr == nil
	})
	if fnErr != nil {
		return fnErr
	}
	return err
}

// each reads until ctx is done, yield returns false, the Reader has caught
// up, or an error.
func (r *Reader) each(ctx context.Context, yield func(Delivery) bool) error {
	if r.JS == nil {
		return errors.New("read events: JS is required")
	}
	stream := orDefault(r.Stream, DefaultStream)
	prefix := orDefault(r.Prefix, DefaultPrefix)
	filter := orDefault(r.Filter, prefix+".>")

	var last uint64
	if r.UntilCaughtUp {
		if r.Durable != "" {
			return errors.New("read events: UntilCaughtUp needs an ordered consumer, not the durable " + r.Durable)
		}
		var err error
		if last, err = r.lastSeq(ctx, stream, prefix, filter); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if last == 0 || r.Start == StartNew || (r.Start == StartSeq && r.StartSeq > last) {
			return nil // nothing to catch up with
		}
	}

	cons, err := r.consumer(ctx, stream, filter)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("read events from %s: %w", stream, err)
	}
	msgs, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("read events from %s: %w", stream, err)
	}
	defer msgs.Stop()
	// A Next with a timeout cannot also watch ctx: its end stops the
	// iterator instead.
	defer context.AfterFunc(ctx, msgs.Stop)()
	idle := false // said since the last message
	for {
		var m jetstream.Msg
		if r.IdleAfter > 0 && !idle {
			m, err = msgs.Next(jetstream.NextMaxWait(r.IdleAfter))
			if errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
				idle = true
				if !yield(Delivery{Idle: true}) {
					return nil
				}
				continue
			}
		} else {
			m, err = msgs.Next(jetstream.NextContext(ctx))
		}
		idle = false
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read events from %s: %w", stream, err)
		}
		d, err := r.delivery(m)
		if err != nil {
			return fmt.Errorf("read events from %s: %w", stream, err)
		}
		if !yield(d) {
			return nil
		}
		if r.UntilCaughtUp && (d.StreamSeq >= last || d.Pending == 0) {
			return nil
		}
	}
}

// lastSeq returns the sequence of the last message for filter in the
// stream, or 0 when there is none.
func (r *Reader) lastSeq(ctx context.Context, stream, prefix, filter string) (uint64, error) {
	s, err := r.JS.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("read events: stream %s: %w", stream, err)
	}
	info := s.CachedInfo()
	if filter == prefix+".>" || info.State.Msgs == 0 {
		return info.State.LastSeq, nil
	}
	m, err := s.GetLastMsgForSubject(ctx, filter)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	} else if err != nil {
		return 0, fmt.Errorf("read events: last message of %s for %s: %w", stream, filter, err)
	}
	return m.Sequence, nil
}

// consumer creates or resumes the consumer.
func (r *Reader) consumer(ctx context.Context, stream, filter string) (jetstream.Consumer, error) {
	var policy jetstream.DeliverPolicy
	var startSeq uint64
	switch r.Start {
	case StartAll:
		policy = jetstream.DeliverAllPolicy
	case StartNew:
		policy = jetstream.DeliverNewPolicy
	case StartSeq:
		if r.StartSeq == 0 {
			return nil, errors.New("start at sequence 0: stream sequences start at 1")
		}
		policy, startSeq = jetstream.DeliverByStartSequencePolicy, r.StartSeq
	default:
		return nil, fmt.Errorf("unknown start %d", r.Start)
	}

	if r.Durable == "" {
		cons, err := r.JS.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{filter},
			DeliverPolicy:  policy,
			OptStartSeq:    startSeq,
		})
		if err != nil {
			return nil, fmt.Errorf("create ordered consumer on %s: %w", filter, err)
		}
		return cons, nil
	}

	cons, err := r.JS.Consumer(ctx, stream, r.Durable)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		cons, err = r.JS.CreateConsumer(ctx, stream, jetstream.ConsumerConfig{
			Durable:       r.Durable,
			Description:   "janustap reader",
			FilterSubject: filter,
			DeliverPolicy: policy,
			OptStartSeq:   startSeq,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       r.AckWait,
		})
		if err != nil {
			return nil, fmt.Errorf("create durable consumer %s on %s: %w", r.Durable, filter, err)
		}
	case err != nil:
		return nil, fmt.Errorf("durable consumer %s: %w", r.Durable, err)
	}
	if got := consumerFilter(cons.CachedInfo().Config); got != filter {
		return nil, fmt.Errorf("durable consumer %s reads %s, not %s", r.Durable, got, filter)
	}
	return cons, nil
}

// consumerFilter returns the one filter subject of a consumer.
func consumerFilter(c jetstream.ConsumerConfig) string {
	if len(c.FilterSubjects) == 1 {
		return c.FilterSubjects[0]
	}
	return c.FilterSubject
}

// delivery turns a message into a Delivery.
func (r *Reader) delivery(m jetstream.Msg) (Delivery, error) {
	md, err := m.Metadata()
	if err != nil {
		return Delivery{}, fmt.Errorf("message on %s: %w", m.Subject(), err)
	}
	d := Delivery{
		Data:      m.Data(),
		Subject:   m.Subject(),
		StreamSeq: md.Sequence.Stream,
		Time:      md.Timestamp,
		Pending:   md.NumPending,
		msg:       m,
		durable:   r.Durable != "",
	}
	d.Event, d.Err = schema.Decode(d.Data)
	if d.Err != nil {
		d.Err = fmt.Errorf("stream message %d on %s: %w", d.StreamSeq, d.Subject, d.Err)
		d.Event = nil
	}
	return d, nil
}
