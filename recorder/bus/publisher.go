package bus

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/janustap/janustap/recorder/health"
	"github.com/janustap/janustap/recorder/spool"
	"github.com/janustap/janustap/schema"
)

// Defaults of a Publisher.
const (
	// DefaultWindow is how many publishes may wait for their ack at once.
	DefaultWindow = 256
	// DefaultAckTimeout is how long a publish waits for its ack before it
	// is sent again.
	DefaultAckTimeout = 10 * time.Second
	// DefaultMinBackoff and DefaultMaxBackoff bound the pause before
	// failed publishes are sent again; it doubles while they keep failing.
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 5 * time.Second

	// InvalidToken follows the prefix in the subject of spool records that
	// are not events: Prefix.invalid. See Publisher.
	InvalidToken = "invalid"
	// RecordSizeHeader is set on a record published on Prefix.invalid that
	// was cut to the max payload: the size of the whole record.
	RecordSizeHeader = "Janustap-Record-Size"
)

// DefaultLinger is Publisher.Linger's default: it adds at most this much
// to the time an event takes to reach JetStream.
const DefaultLinger = 5 * time.Millisecond

// Source is what a Publisher needs of the spool.
type Source interface {
	// ReadBatch returns up to max records with sequences above after, in
	// order, waiting until there is at least one or ctx is done.
	ReadBatch(ctx context.Context, after uint64, max int) ([]spool.Record, error)
	// Ack tells the spool that every record up to seq is in JetStream.
	Ack(seq uint64) error
}

var _ Source = (*spool.Spool)(nil)

// Publisher ships the spool to JetStream. Each record is an event encoded by
// schema.Encode; it is published on its subject (schema.Event.Subject under
// Prefix) with its id as the Nats-Msg-Id, and acknowledged to the spool once
// it and every record before it are acknowledged by JetStream. Set the
// fields before Run.
//
// A publish that fails or is not acknowledged within AckTimeout is sent
// again, with the same msg id, after a backoff, for as long as Run runs:
// while NATS is unreachable or the stream is full, the spool grows. To keep
// the stream in spool order, no new record is published while failed ones
// wait to be sent again, nor while the connection is down. A connection
// with a reconnect buffer can still put a publish made as it drops into
// that buffer, to be stored after reconnecting ahead of the older ones sent
// again; give the Publisher a connection without one
// (ConnectOptions.ReconnectBufSize -1) for the spool's order to hold across
// disconnections. Each event is stored once either way.
//
// An event larger than the server's max payload is published with its body
// cut to fit (Truncated set; BodySHA256 and BodySize describe the whole
// body), so that it cannot hold up the log. A record that is not an event
// is published as it is on Prefix.invalid, with the msg id
// "invalid-<sha256 of the record>", so that it is kept and does not hold up
// the log either.
type Publisher struct {
	// JS is the JetStream to publish to. Required.
	JS jetstream.JetStream
	// Spool is where the records come from. Required.
	Spool Source
	// Prefix is the subject prefix of the stream; "" means DefaultPrefix.
	Prefix string
	// After is the spool sequence to start after: the records up to it
	// were shipped before. 0 starts at the first record the spool holds.
	// A Run after another starts after the last record it acknowledged.
	After uint64
	// Window is how many publishes may wait for their ack at once; 0 means
	// DefaultWindow.
	Window int
	// AckTimeout is how long a publish waits for its ack before it counts
	// as failed; 0 means DefaultAckTimeout.
	AckTimeout time.Duration
	// MinBackoff and MaxBackoff bound the pause before failed publishes are
	// sent again; 0 means DefaultMinBackoff and DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// Linger is how long the publisher lets new records gather once it has
	// caught up with the spool, so that the messages of a busy moment go to
	// NATS together (one write, one wake-up of each of the server's
	// goroutines) rather than one by one in the middle of the traffic the
	// tap forwards. 0 means DefaultLinger; negative, none.
	Linger time.Duration
	// Logger receives failures and recoveries, never a line per event. Nil
	// means slog.Default().
	Logger *slog.Logger
	// Health hears, as part "publish", of the first failure of a run of
	// them and of the first ack after; nil: nobody listens.
	Health *health.Status
	// Repair, when set, is called when JetStream answers that it could not
	// store a message (JSStreamStoreFailedError: a file store that failed
	// to write stays failed, as after running out of descriptors), or does
	// not answer a publish within AckTimeout while the connection is up, at
	// most once every RepairEvery while that goes on. Set it only for a
	// server whose silence means its JetStream is broken: the embedded one. The embedded server
	// restarts its JetStream (Server.RestartJetStream); the failed
	// publishes are then sent again, as after any failure.
	Repair func(ctx context.Context) error
	// RepairEvery is the least time between two Repairs; 0 means 10 s.
	RepairEvery time.Duration

	running atomic.Bool
	failing atomic.Bool
	stats   struct {
		published, duplicates, retries, errors, truncated, invalid, corrupt, lastAcked, repairs atomic.Uint64
		inFlight                                                                                atomic.Int64
	}
}

// JSStreamStoreFailed is the JetStream error code of a message the stream
// could not store.
const JSStreamStoreFailed = 10077

// PublisherStats are the counters of a Publisher since it was created.
type PublisherStats struct {
	Published  uint64 // records acknowledged by JetStream, Duplicates included
	Duplicates uint64 // of those, records JetStream already had (msg id seen)
	Retries    uint64 // publishes sent again after a failure or timeout
	Errors     uint64 // publishes that failed or timed out
	Truncated  uint64 // events published with their body cut to the max payload
	Invalid    uint64 // records that were not events, published on Prefix.invalid
	Corrupt    uint64 // records that went bad in the spool, skipped
	LastAcked  uint64 // spool sequence up to which every record is shipped and acknowledged to the spool
	InFlight   int    // records read from the spool and not yet acknowledged
	Repairs    uint64 // times Repair was called
	Failing    bool   // publishes fail now: the last answer was a failure
}

// Stats returns the counters. It is safe to call while Run runs.
func (p *Publisher) Stats() PublisherStats {
	return PublisherStats{
		Published:  p.stats.published.Load(),
		Duplicates: p.stats.duplicates.Load(),
		Retries:    p.stats.retries.Load(),
		Errors:     p.stats.errors.Load(),
		Truncated:  p.stats.truncated.Load(),
		Invalid:    p.stats.invalid.Load(),
		Corrupt:    p.stats.corrupt.Load(),
		LastAcked:  p.stats.lastAcked.Load(),
		InFlight:   int(p.stats.inFlight.Load()),
		Repairs:    p.stats.repairs.Load(),
		Failing:    p.failing.Load(),
	}
}

// Run ships records until ctx is done, then returns nil. It returns an error
// when the spool fails. Publishes still waiting for their ack when it
// returns are sent again by the next Run, which JetStream deduplicates.
func (p *Publisher) Run(ctx context.Context) error {
	if p.JS == nil || p.Spool == nil {
		return errors.New("run publisher: JS and Spool are required")
	}
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("run publisher: already running")
	}
	defer p.running.Store(false)
	defer p.stats.inFlight.Store(0)

	prefix := orDefault(p.Prefix, DefaultPrefix)
	if err := checkPrefix(prefix); err != nil {
		return fmt.Errorf("run publisher: %w", err)
	}
	logger := p.Logger
	if logger == nil {
		logger = slog.Default()
	}
	window := p.Window
	if window <= 0 {
		window = DefaultWindow
	}
	minBackoff, maxBackoff := p.MinBackoff, p.MaxBackoff
	if minBackoff <= 0 {
		minBackoff = DefaultMinBackoff
	}
	if maxBackoff <= 0 {
		maxBackoff = DefaultMaxBackoff
	}
	ackTimeout := p.AckTimeout
	if ackTimeout <= 0 {
		ackTimeout = DefaultAckTimeout
	}
	start := max(p.After, p.stats.lastAcked.Load())
	log := logger.With("part", "publisher")

	nc := p.JS.Conn()
	connected := nc.StatusChanged(nats.CONNECTED)
	defer nc.RemoveStatusListener(connected)

	// JetStream answers each publish on its reply subject: an inbox of the
	// Run's own, the flight's spool sequence as its last token. The
	// answers come straight from the connection's reader into the channel,
	// which holds more than can be waiting (one answer per publish, at most
	// window publishes out, and some late ones), so none is dropped.
	inbox := nc.NewInbox() + "."
	answers := make(chan *nats.Msg, 4*window+64)
	sub, err := nc.ChanSubscribe(inbox+"*", answers)
	if err != nil {
		return fmt.Errorf("run publisher: subscribe to acks: %w", err)
	}
	defer sub.Unsubscribe()

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	reqs := make(chan int)
	batches := make(chan readResult)
	wg.Go(func() { p.readSpool(ctx, log, start, reqs, batches) })

	s := &shipment{
		p:          p,
		nc:         nc,
		log:        log,
		prefix:     prefix,
		window:     window,
		ackTimeout: ackTimeout,
		minBackoff: minBackoff,
		maxBackoff: maxBackoff,
		backoff:    minBackoff,
		inbox:      inbox,
		ctx:        ctx,
		timer:      time.NewTimer(time.Hour),
	}
	s.timer.Stop()
	defer s.timer.Stop()
	return s.loop(ctx, reqs, batches, answers, connected)
}

// readResult is the answer to one read request.
type readResult struct {
	recs []spool.Record
	err  error
}

// readSpool reads the spool for the shipment: for each number of records
// asked on reqs, one ReadBatch, answered on results. It skips a record that
// went bad on disk (a *spool.CorruptError), which it logs and counts. It runs
// until ctx is done or the spool fails.
func (p *Publisher) readSpool(ctx context.Context, log *slog.Logger, after uint64, reqs <-chan int, results chan<- readResult) {
	linger := p.Linger
	if linger == 0 {
		linger = DefaultLinger
	}
	// A ReadBatch on a context that is already done returns what the
	// spool has at once, and an error when it has nothing.
	doneCtx, cancel := context.WithCancel(context.Background())
	cancel()
	for {
		var n int
		select {
		case n = <-reqs:
		case <-ctx.Done():
			return
		}
		recs, err := p.Spool.ReadBatch(ctx, after, n)
		if err == nil && len(recs) > 0 && len(recs) < n && linger > 0 {
			// Caught up: let the records of this moment gather, then take
			// them along without waiting for more.
			if !sleep(ctx, linger) {
				return
			}
			more, merr := p.Spool.ReadBatch(doneCtx, recs[len(recs)-1].Seq, n-len(recs))
			if merr == nil {
				recs = append(recs, more...)
			}
		}
		for {
			var ce *spool.CorruptError
			if !errors.As(err, &ce) || ce.Seq <= after {
				break
			}
			seq := ce.Seq
			p.stats.corrupt.Add(1)
			log.Error("spool record corrupt, skipping it: it will not reach JetStream", "seq", seq, "err", err)
			after = seq
			recs, err = p.Spool.ReadBatch(ctx, after, n)
		}
		select {
		case results <- readResult{recs, err}:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
		if len(recs) > 0 {
			after = recs[len(recs)-1].Seq
		}
	}
}

// sleep waits d, or until ctx is done (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// flight is one record on its way to JetStream.
type flight struct {
	seq      uint64
	data     []byte    // the record, kept to cut it again if the max payload shrinks
	msg      *nats.Msg // with its Nats-Msg-Id header and reply subject
	id       string
	sent     bool      // published, waiting for its answer; false while it waits to be sent (again)
	deadline time.Time // when a sent flight without an answer counts as failed
	acked    bool
}

// shipment is the state of one Run.
type shipment struct {
	p          *Publisher
	nc         *nats.Conn
	log        *slog.Logger
	prefix     string
	window     int
	ackTimeout time.Duration
	minBackoff time.Duration
	maxBackoff time.Duration

	flights    []*flight // in spool order; flights[0] is the oldest not acknowledged to the spool
	reading    bool      // a read request is out
	recovering bool      // some flights failed: send nothing new until they are sent again
	backoff    time.Duration
	failures   uint64 // failures since the last ack, for the log
	inbox      string // the reply subjects' prefix, up to the flight's token

	ctx          context.Context
	lastRepair   time.Time
	repairFailed bool // the last Repair failed: any failure calls it again

	timer      *time.Timer // the deadline of timerFor, or the end of a backoff
	timerFor   *flight
	retryArmed bool
}

func (s *shipment) loop(ctx context.Context, reqs chan<- int, batches <-chan readResult, answers <-chan *nats.Msg, connected <-chan nats.Status) error {
	for {
		if err := s.ackSpool(); err != nil {
			return err
		}
		if !s.recovering && !s.reading && len(s.flights) < s.window && s.nc.IsConnected() {
			select {
			case reqs <- s.window - len(s.flights):
				s.reading = true
			case <-ctx.Done():
				return nil
			}
		}

		var (
			timec <-chan time.Time
			readc <-chan readResult
			retry bool
		)
		f := s.awaited()
		switch {
		case f != nil:
			if s.timerFor != f {
				s.retryArmed = false
				s.timerFor = f
				s.timer.Reset(time.Until(f.deadline))
			}
			timec = s.timer.C
		case s.recovering:
			s.timerFor = nil
			if !s.retryArmed {
				s.retryArmed = true
				s.timer.Reset(s.backoff)
			}
			timec, retry = s.timer.C, true
		}
		if s.reading {
			readc = batches
		}

		select {
		case res := <-readc:
			s.reading = false
			if res.err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("read spool: %w", res.err)
			}
			s.add(res.recs)
		case m := <-answers:
			// Take every answer already there: one wake-up for the acks
			// of a group of publishes.
			for more := true; more; {
				s.answer(m)
				select {
				case m = <-answers:
				default:
					more = false
				}
			}
		case <-timec:
			s.retryArmed = false
			s.timerFor = nil
			if retry {
				s.resend()
			} else {
				s.failed(f, jetstream.ErrAsyncPublishTimeout)
			}
		case <-connected:
			if s.recovering && s.awaited() == nil {
				// Back from a disconnection: do not sit out the backoff.
				s.backoff = s.minBackoff
				s.resend()
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// awaited returns the flight whose answer is due first: the oldest one sent
// and not yet acknowledged. Its deadline is the loop's.
func (s *shipment) awaited() *flight {
	for _, f := range s.flights { // ackSpool removed the acked ones at the front
		if !f.acked && f.sent {
			return f
		}
	}
	return nil
}

// answer handles JetStream's answer to a publish: the flight named by the
// reply subject's last token is acknowledged or has failed. An answer to a
// flight that no longer waits for one (acknowledged, or failed and not yet
// sent again) is late and changes nothing.
func (s *shipment) answer(m *nats.Msg) {
	seq, err := strconv.ParseUint(strings.TrimPrefix(m.Subject, s.inbox), 10, 64)
	if err != nil {
		return
	}
	i, found := slices.BinarySearchFunc(s.flights, seq, func(f *flight, seq uint64) int { return cmp.Compare(f.seq, seq) })
	if !found {
		return
	}
	f := s.flights[i]
	if f.acked || !f.sent {
		return
	}
	if dup, err := parseAck(m); err != nil {
		s.failed(f, err)
	} else {
		s.acked(f, dup)
	}
}

// startsWithDigit says whether b starts with an ASCII digit.
func startsWithDigit(b []byte) bool { return len(b) > 0 && b[0] >= '0' && b[0] <= '9' }

// noResponders is the status of the answer the server sends to a publish
// that no stream took.
const noResponders = "503"

// parseAck reads JetStream's answer to a publish: whether the message was a
// duplicate, or the error. A plain ack ({"stream":"S","seq":N}, maybe with a
// "domain") is read without encoding/json; anything else (a duplicate, an
// error) goes through it.
func parseAck(m *nats.Msg) (duplicate bool, err error) {
	if len(m.Data) == 0 && m.Header.Get("Status") == noResponders {
		return false, jetstream.ErrNoStreamResponse
	}
	d := m.Data
	if bytes.HasPrefix(d, []byte(`{"stream":"`)) && !bytes.Contains(d, []byte(`"error"`)) && !bytes.Contains(d, []byte(`"duplicate"`)) {
		if i := bytes.Index(d, []byte(`,"seq":`)); i > 0 && startsWithDigit(bytes.TrimLeft(d[i+len(`,"seq":`):], " ")) {
			return false, nil
		}
	}
	var ack struct {
		Error     *jetstream.APIError `json:"error"`
		Stream    string              `json:"stream"`
		Duplicate bool                `json:"duplicate"`
	}
	if err := json.Unmarshal(d, &ack); err != nil {
		return false, fmt.Errorf("read jetstream ack %q: %w", d, err)
	}
	if ack.Error != nil {
		return false, ack.Error
	}
	if ack.Stream == "" {
		return false, fmt.Errorf("jetstream ack %q names no stream", d)
	}
	return ack.Duplicate, nil
}

// ackSpool drops the acknowledged flights at the front and tells the spool.
func (s *shipment) ackSpool() error {
	n := 0
	for n < len(s.flights) && s.flights[n].acked {
		n++
	}
	if n == 0 {
		return nil
	}
	seq := s.flights[n-1].seq
	clear(s.flights[:n])
	s.flights = s.flights[n:]
	s.p.stats.inFlight.Store(int64(len(s.flights)))
	if err := s.p.Spool.Ack(seq); err != nil {
		return fmt.Errorf("ack spool record %d: %w", seq, err)
	}
	s.p.stats.lastAcked.Store(seq)
	return nil
}

// add turns records into flights and sends them, unless recovering.
func (s *shipment) add(recs []spool.Record) {
	for _, rec := range recs {
		f := s.prepare(rec)
		s.flights = append(s.flights, f)
		if !s.recovering {
			s.send(f)
		}
	}
	s.p.stats.inFlight.Store(int64(len(s.flights)))
}

// prepare makes the message of a record.
func (s *shipment) prepare(rec spool.Record) *flight {
	f := &flight{seq: rec.Seq, data: rec.Data}
	subject, id, err := route(s.prefix, rec.Data)
	if err != nil {
		sum := sha256.Sum256(rec.Data)
		subject, id = s.prefix+"."+InvalidToken, "invalid-"+hex.EncodeToString(sum[:])
		s.p.stats.invalid.Add(1)
		s.log.Error("spool record is not an event, publishing it as it is", "seq", rec.Seq, "subject", subject, "err", err)
	}
	f.id = id
	f.msg = &nats.Msg{Subject: subject, Reply: s.inbox + strconv.FormatUint(rec.Seq, 10), Data: rec.Data,
		Header: nats.Header{jetstream.MsgIDHeader: []string{id}}}
	return f
}

// send publishes f. A failure to send makes the shipment recover. It sends
// nothing while the connection is down, lest the publish wait in the
// reconnect buffer and reach the stream before older ones sent again.
func (s *shipment) send(f *flight) bool {
	if !s.nc.IsConnected() {
		s.failed(f, nats.ErrDisconnected)
		return false
	}
	if limit := s.nc.MaxPayload(); limit > 0 && int64(msgSize(f.msg, f.id)) > limit {
		s.shrink(f, int(limit))
	}
	// A plain publish with a reply subject, as nats.go's PublishMsgAsync
	// makes, without its future, its channels and its ack decoding per
	// message. The shipment retries, in order.
	if err := s.nc.PublishMsg(f.msg); err != nil {
		s.failed(f, err)
		return false
	}
	f.sent, f.deadline = true, time.Now().Add(s.ackTimeout)
	return true
}

// shrink cuts the message of f to fit in the server's max payload: the body
// of an event, the end of a record that is not one (its msg id keeps the
// SHA-256 of the whole, its header the size).
func (s *shipment) shrink(f *flight, limit int) {
	if strings.HasPrefix(f.id, "invalid-") {
		f.msg.Header.Set(RecordSizeHeader, strconv.Itoa(len(f.data)))
		f.msg.Data = f.data[:max(0, limit-headerSize(f.msg.Header, f.id))]
		s.p.stats.truncated.Add(1)
		s.log.Warn("record larger than the nats max payload, publishing its beginning", "seq", f.seq, "size", len(f.data), "max_payload", limit)
		return
	}
	data, err := fit(f.data, limit-headerSize(f.msg.Header, f.id))
	if err != nil {
		s.log.Error("event does not fit in the nats max payload even without its body", "seq", f.seq, "event_id", f.id, "max_payload", limit, "err", err)
		return
	}
	f.msg.Data = data
	s.p.stats.truncated.Add(1)
	s.log.Warn("event larger than the nats max payload, publishing it with its body cut", "seq", f.seq, "event_id", f.id, "size", len(f.data), "max_payload", limit)
}

// acked records the ack of f.
func (s *shipment) acked(f *flight, duplicate bool) {
	f.acked, f.sent = true, false
	s.p.stats.published.Add(1)
	if duplicate {
		s.p.stats.duplicates.Add(1)
	}
	if s.failures > 0 {
		s.log.Info("publishing again", "failures", s.failures, "seq", f.seq)
		s.failures = 0
		s.p.failing.Store(false)
		s.p.Health.Set("publish", nil)
	}
	s.backoff = s.minBackoff
}

// failed records that f was not published; it is sent again after a
// backoff, once every flight sent before has an answer.
func (s *shipment) failed(f *flight, err error) {
	f.sent = false
	s.recovering = true
	s.p.stats.errors.Add(1)
	s.failures++
	if s.failures == 1 {
		s.log.Warn("publish failed, will retry", "seq", f.seq, "event_id", f.id, "subject", f.msg.Subject, "err", err)
		s.p.failing.Store(true)
		s.p.Health.Set("publish", fmt.Errorf("publish event %s: %w", f.id, err))
	} else {
		s.log.Debug("publish failed, will retry", "seq", f.seq, "event_id", f.id, "err", err)
	}
	var api *jetstream.APIError
	if s.repairFailed || errors.As(err, &api) && api.ErrorCode == JSStreamStoreFailed ||
		errors.Is(err, jetstream.ErrAsyncPublishTimeout) && s.nc.IsConnected() {
		s.repair(err)
	}
}

// repair calls the Publisher's Repair, unless it was called less than
// RepairEvery ago. It runs on the shipment's goroutine: nothing is
// published while it runs.
func (s *shipment) repair(cause error) {
	every := s.p.RepairEvery
	if every <= 0 {
		every = 10 * time.Second
	}
	if s.p.Repair == nil || time.Since(s.lastRepair) < every {
		return
	}
	s.lastRepair = time.Now()
	n := s.p.stats.repairs.Add(1)
	s.log.Error("jetstream cannot store events; repairing it", "err", cause, "repairs", n)
	if err := s.p.Repair(s.ctx); err != nil {
		// Tried again on the next failure, RepairEvery from now: a
		// JetStream the repair could not start again answers nothing.
		s.repairFailed = true
		s.log.Error("jetstream repair failed; events wait in the spool", "err", err)
		return
	}
	s.repairFailed = false
	s.log.Info("jetstream repaired; sending the failed events again")
}

// resend sends the flights that failed, in order. If one cannot be sent, the
// ones after it wait for the next backoff.
func (s *shipment) resend() {
	if !s.nc.IsConnected() {
		s.backoff = min(2*s.backoff, s.maxBackoff)
		return
	}
	for _, f := range s.flights {
		if f.acked || f.sent {
			continue
		}
		if !s.send(f) {
			s.backoff = min(2*s.backoff, s.maxBackoff)
			return
		}
		s.p.stats.retries.Add(1)
	}
	s.recovering = false
	s.backoff = min(2*s.backoff, s.maxBackoff)
}

// route returns the subject and msg id of an encoded event, reading no more
// of it than needed (see schema.DecodeRoute).
func route(prefix string, data []byte) (subject, id string, err error) {
	ev, err := schema.DecodeRoute(data)
	if err != nil {
		return "", "", err
	}
	if !validToken(string(ev.Transport)) || !validToken(string(ev.Direction)) {
		return "", "", fmt.Errorf("event %s has transport %q and direction %q, which cannot be subject tokens", ev.ID, ev.Transport, ev.Direction)
	}
	return ev.Subject(prefix), ev.ID, nil
}

// msgSize is the size of m, published with the msg id id, as the server
// counts it against its max payload.
func msgSize(m *nats.Msg, id string) int {
	return len(m.Data) + headerSize(m.Header, id)
}

// headerSize is the size of h encoded, with a Nats-Msg-Id of id added when
// id is not empty: "NATS/1.0\r\n", "Key: Value\r\n" per value, "\r\n".
func headerSize(h nats.Header, id string) int {
	n := len("NATS/1.0\r\n\r\n")
	for k, vs := range h {
		if k == jetstream.MsgIDHeader && id != "" {
			continue
		}
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	if id != "" {
		n += len(jetstream.MsgIDHeader) + len(id) + 4
	}
	return n
}

// fit returns the encoded event in data with its body cut so that the
// encoding is at most limit bytes. The event records the whole body's size
// and SHA-256 (unless it was already cut by the tap, whose are kept).
func fit(data []byte, limit int) ([]byte, error) {
	ev, err := schema.Decode(data)
	if err != nil {
		return nil, err
	}
	full := ev.Body
	if !ev.Truncated {
		sum := sha256.Sum256(full)
		ev.Truncated, ev.BodySHA256 = true, hex.EncodeToString(sum[:])
		if ev.BodySize == 0 {
			ev.BodySize = len(full)
		}
	}
	ev.Body = nil
	empty, err := schema.Encode(ev)
	if err != nil {
		return nil, err
	}
	if len(empty) > limit {
		return nil, fmt.Errorf("event without body is %d bytes, limit %d", len(empty), limit)
	}
	// Guess the cut from the body's average cost in encoded bytes (1 or a
	// little more for text, which stays a JSON string, 4/3 for base64),
	// then shrink by what is still over.
	text := utf8.Valid(full)
	cost := float64(len(data)-len(empty)) / float64(max(len(full), 1))
	shrink := func(over int) int { return max(1, int(math.Ceil(float64(over)/cost))) }
	cut := min(len(full), int(float64(limit-len(empty))/cost))
	for {
		cut = max(cut, 0)
		for text && cut > 0 && !utf8.RuneStart(full[cut]) {
			cut-- // keep text text, so it stays a JSON string
		}
		ev.Body = full[:cut]
		b, err := schema.Encode(ev)
		if err != nil {
			return nil, err
		}
		if len(b) <= limit {
			return b, nil
		}
		cut -= shrink(len(b) - limit)
	}
}
