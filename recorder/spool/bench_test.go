package spool

import (
	"bytes"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
)

// benchRecord is the size of a typical encoded signaling event, in bytes.
const benchRecord = 1 << 10

func openBench(b *testing.B, edit func(*Spool)) *Spool {
	b.Helper()
	s := New(filepath.Join(b.TempDir(), "spool"))
	s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if edit != nil {
		edit(s)
	}
	if err := s.Open(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := s.Close(); err != nil {
			b.Error(err)
		}
	})
	return s
}

func BenchmarkAppend(b *testing.B) {
	s := openBench(b, nil)
	rec := bytes.Repeat([]byte("x"), benchRecord)
	b.SetBytes(benchRecord)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Append(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendParallel appends from GOMAXPROCS goroutines. b.Loop cannot
// drive b.RunParallel, so this one counts with pb.Next.
func BenchmarkAppendParallel(b *testing.B) {
	s := openBench(b, nil)
	rec := bytes.Repeat([]byte("x"), benchRecord)
	b.SetBytes(benchRecord)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Append(rec); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAppendGroupSync measures SyncGroup alone (one fsync per record)
// and with 16 appenders per CPU sharing fsyncs.
func BenchmarkAppendGroupSync(b *testing.B) {
	rec := bytes.Repeat([]byte("x"), benchRecord)
	b.Run("serial", func(b *testing.B) {
		s := openBench(b, func(s *Spool) { s.Sync = SyncGroup })
		b.SetBytes(benchRecord)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Append(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel16", func(b *testing.B) {
		s := openBench(b, func(s *Spool) { s.Sync = SyncGroup })
		b.SetBytes(benchRecord)
		b.ReportAllocs()
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Append(rec); err != nil {
					b.Error(err)
					return
				}
			}
		})
		s.syncMu.Lock()
		syncs := s.syncs
		s.syncMu.Unlock()
		b.ReportMetric(float64(s.Stats().Appended)/float64(max(syncs, 1)), "appends/fsync")
	})
}

// BenchmarkReadBatch reads batches of 100 records of 1 KiB from a spool of
// 10000, starting over at the end.
func BenchmarkReadBatch(b *testing.B) {
	const records, batch = 10_000, 100
	s := openBench(b, nil)
	rec := bytes.Repeat([]byte("x"), benchRecord)
	for range records {
		if _, err := s.Append(rec); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(batch * benchRecord)
	b.ReportAllocs()
	var after uint64
	for b.Loop() {
		recs, err := s.ReadBatch(b.Context(), after, batch)
		if err != nil {
			b.Fatal(err)
		}
		if after = recs[len(recs)-1].Seq; after == records {
			after = 0
		}
	}
}
