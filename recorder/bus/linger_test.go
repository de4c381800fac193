package bus

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/spool"
)

// scriptedSource answers ReadBatch from a script: each call takes the next
// batch, and says whether its context was already done (a read that does
// not wait).
type scriptedSource struct {
	batches [][]spool.Record
	calls   []bool // per call: ctx was done
}

func (s *scriptedSource) ReadBatch(ctx context.Context, after uint64, max int) ([]spool.Record, error) {
	s.calls = append(s.calls, ctx.Err() != nil)
	if len(s.batches) == 0 {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	b := s.batches[0]
	s.batches = s.batches[1:]
	return b[:min(len(b), max)], nil
}

func (s *scriptedSource) Ack(uint64) error { return nil }

func recs(seqs ...uint64) []spool.Record {
	var out []spool.Record
	for _, q := range seqs {
		out = append(out, spool.Record{Seq: q})
	}
	return out
}

func seqsOf(rs []spool.Record) []uint64 {
	var out []uint64
	for _, r := range rs {
		out = append(out, r.Seq)
	}
	return out
}

// TestReadSpoolLingers checks that once it has caught up, the reader takes
// along what arrived during the linger, without waiting for more; that a
// full batch goes at once; and that Linger < 0 turns lingering off.
func TestReadSpoolLingers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		linger  time.Duration
		ask     int
		batches [][]spool.Record
		want    []uint64
		calls   []bool
	}{
		{"gathers", time.Microsecond, 10, [][]spool.Record{recs(1), recs(2, 3)}, []uint64{1, 2, 3}, []bool{false, true}},
		{"nothing more", time.Microsecond, 10, [][]spool.Record{recs(1)}, []uint64{1}, []bool{false, true}},
		{"full batch goes at once", time.Hour, 2, [][]spool.Record{recs(1, 2)}, []uint64{1, 2}, []bool{false}},
		{"off", -1, 10, [][]spool.Record{recs(1), recs(2, 3)}, []uint64{1}, []bool{false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &scriptedSource{batches: tc.batches}
			p := &Publisher{Spool: src, Linger: tc.linger}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			reqs, results := make(chan int), make(chan readResult)
			done := make(chan struct{})
			go func() {
				defer close(done)
				p.readSpool(ctx, slog.New(slog.DiscardHandler), 0, reqs, results)
			}()
			reqs <- tc.ask
			res := <-results
			cancel()
			<-done
			if res.err != nil {
				t.Fatal(res.err)
			}
			if got := seqsOf(res.recs); !slices.Equal(got, tc.want) {
				t.Errorf("batch %v, want %v", got, tc.want)
			}
			if !slices.Equal(src.calls, tc.calls) {
				t.Errorf("reads (ctx done?) %v, want %v", src.calls, tc.calls)
			}
		})
	}
}
