package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// recSize is the payload length of the records most tests append; a frame
// is recSize+headerSize bytes.
const recSize = 100

const frameSize = recSize + headerSize

// payload is the record the tests append as number i: its decimal number,
// padded with dots to recSize bytes.
func payload(i uint64) []byte {
	b := fmt.Appendf(make([]byte, 0, recSize), "record-%d:", i)
	for len(b) < recSize {
		b = append(b, '.')
	}
	return b
}

// openTest opens a Spool on dir that logs to the test, after edit changes
// its settings, and closes it when the test ends.
func openTest(t testing.TB, dir string, edit func(*Spool)) *Spool {
	t.Helper()
	s := New(dir)
	s.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	if edit != nil {
		edit(s)
	}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close spool: %v", err)
		}
	})
	return s
}

func segmentSize(records int) func(*Spool) {
	return func(s *Spool) { s.SegmentSize = int64(records * frameSize) }
}

func appendN(t testing.TB, s *Spool, from, to uint64) {
	t.Helper()
	for i := from; i <= to; i++ {
		seq, err := s.Append(payload(i))
		if err != nil {
			t.Fatalf("append record %d: %v", i, err)
		}
		if seq != i {
			t.Fatalf("append record %d: got seq %d", i, seq)
		}
	}
}

// drain reads every record after after that is there now, without waiting.
func drain(t testing.TB, s *Spool, after uint64) []Record {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // ReadBatch returns what it has, and ctx.Err() only when it would wait
	var all []Record
	for {
		recs, err := s.ReadBatch(ctx, after, 7)
		if errors.Is(err, context.Canceled) {
			return all
		}
		if err != nil {
			t.Fatalf("read after %d: %v", after, err)
		}
		all = append(all, recs...)
		after = recs[len(recs)-1].Seq
	}
}

// checkRecords checks that recs are exactly the records numbered want, as
// appended by appendN.
func checkRecords(t testing.TB, recs []Record, want []uint64) {
	t.Helper()
	var got []uint64
	for _, r := range recs {
		got = append(got, r.Seq)
		if !bytes.Equal(r.Data, payload(r.Seq)) {
			t.Errorf("record %d holds %q, want %q", r.Seq, r.Data, payload(r.Seq))
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got records %v, want %v", got, want)
	}
}

func seqs(from, to uint64) []uint64 {
	var s []uint64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

func TestRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	s := openTest(t, dir, segmentSize(10))
	appendN(t, s, 1, 50)

	if got, want := s.Stats(), (Stats{Appended: 50, Bytes: 50 * frameSize, Segments: 5, FirstUnacked: 1, LastSeq: 50}); got != want {
		t.Errorf("after append: got stats %+v, want %+v", got, want)
	}
	recs, err := s.ReadBatch(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, recs, seqs(1, 10)) // a batch stops at the end of a segment
	checkRecords(t, drain(t, s, 0), seqs(1, 50))
	seq, rec, err := s.Next(t.Context(), 33)
	if err != nil || seq != 34 || !bytes.Equal(rec, payload(34)) {
		t.Errorf("Next after 33: got %d, %q, %v; want 34, %q", seq, rec, err, payload(34))
	}

	steps := []struct {
		ack          uint64
		wantSegments []string
		wantBytes    int64
	}{
		{ack: 9, wantSegments: []string{segName(1), segName(11), segName(21), segName(31), segName(41)}, wantBytes: 41 * frameSize},
		{ack: 25, wantSegments: []string{segName(21), segName(31), segName(41)}, wantBytes: 25 * frameSize},
		{ack: 25, wantSegments: []string{segName(21), segName(31), segName(41)}, wantBytes: 25 * frameSize},
		{ack: 50, wantSegments: []string{segName(41)}, wantBytes: 0}, // the active segment stays
	}
	for _, st := range steps {
		if err := s.Ack(st.ack); err != nil {
			t.Fatalf("ack %d: %v", st.ack, err)
		}
		if err := s.checkpoint(); err != nil {
			t.Fatalf("checkpoint after ack %d: %v", st.ack, err)
		}
		if got, want := fmt.Sprint(segFiles(t, dir)), fmt.Sprint(st.wantSegments); got != want {
			t.Errorf("after ack %d: got segments %s, want %s", st.ack, got, want)
		}
		b, err := os.ReadFile(filepath.Join(dir, ackedName))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(b), fmt.Sprintf("%d\n", st.ack); got != want {
			t.Errorf("after ack %d: acked file holds %q, want %q", st.ack, got, want)
		}
		st2 := s.Stats()
		if st2.Bytes != st.wantBytes || st2.FirstUnacked != st.ack+1 || st2.Acked != st.ack || st2.Segments != len(st.wantSegments) {
			t.Errorf("after ack %d: got stats %+v, want Bytes %d, FirstUnacked %d, Acked %d, Segments %d",
				st.ack, st2, st.wantBytes, st.ack+1, st.ack, len(st.wantSegments))
		}
	}
	// Reading from below the deleted segments starts at the first record kept.
	checkRecords(t, drain(t, s, 0), seqs(41, 50))
	if err := s.Ack(51); err == nil {
		t.Error("ack 51 of 50 records: got no error")
	}
	appendN(t, s, 51, 51)
}

func TestAckSavedInBackground(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "spool")
		s := openTest(t, dir, segmentSize(1))
		appendN(t, s, 1, 3)
		acked := func() string {
			b, err := os.ReadFile(filepath.Join(dir, ackedName))
			if errors.Is(err, os.ErrNotExist) {
				return "none"
			}
			if err != nil {
				t.Fatal(err)
			}
			return strings.TrimSpace(string(b))
		}
		steps := []struct {
			name         string
			do           func()
			wantAcked    string
			wantSegments int
		}{
			{"ack_saved_at_once", func() { s.Ack(1) }, "1", 2},
			{"next_ack_waits_for_interval", func() { s.Ack(2) }, "1", 2},
			{"saved_after_interval", func() { time.Sleep(s.AckInterval) }, "2", 1},
		}
		for _, st := range steps {
			st.do()
			synctest.Wait()
			if got := acked(); got != st.wantAcked {
				t.Errorf("%s: acked file holds %s, want %s", st.name, got, st.wantAcked)
			}
			if got := len(segFiles(t, dir)); got != st.wantSegments {
				t.Errorf("%s: got %d segment files, want %d", st.name, got, st.wantSegments)
			}
		}
	})
}

func TestConcurrentAppendersAndReaders(t *testing.T) {
	const writers, perWriter = 4, 300
	const total = writers * perWriter
	tests := []struct {
		name    string
		sync    SyncMode
		readers int
		ack     bool // the reader acknowledges what it read, so segments go while others are written
	}{
		{name: "none_two_readers", sync: SyncNone, readers: 2},
		{name: "none_acking_reader", sync: SyncNone, readers: 1, ack: true},
		{name: "group_two_readers", sync: SyncGroup, readers: 2},
		{name: "group_acking_reader", sync: SyncGroup, readers: 1, ack: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, filepath.Join(t.TempDir(), "spool"), func(s *Spool) {
				s.Sync = tt.sync
				s.SegmentSize = 4 << 10
				s.AckInterval = time.Millisecond
			})
			var wg sync.WaitGroup
			for r := range tt.readers {
				wg.Go(func() {
					seen := make(map[string]bool)
					lastOf := make(map[int]int) // writer -> last index seen
					var after uint64
					for after < total {
						recs, err := s.ReadBatch(t.Context(), after, 50)
						if err != nil {
							t.Errorf("reader %d: read after %d: %v", r, after, err)
							return
						}
						for _, rec := range recs {
							if rec.Seq != after+1 {
								t.Errorf("reader %d: got seq %d after %d", r, rec.Seq, after)
							}
							after = rec.Seq
							var w, i int
							if _, err := fmt.Sscanf(string(rec.Data), "w%d-%d", &w, &i); err != nil {
								t.Errorf("reader %d: record %d holds %q", r, rec.Seq, rec.Data)
								continue
							}
							if seen[string(rec.Data)] {
								t.Errorf("reader %d: record %q seen twice", r, rec.Data)
							}
							seen[string(rec.Data)] = true
							if prev, ok := lastOf[w]; ok && i != prev+1 {
								t.Errorf("reader %d: writer %d record %d follows %d", r, w, i, prev)
							}
							lastOf[w] = i
						}
						if tt.ack {
							if err := s.Ack(after); err != nil {
								t.Errorf("reader %d: ack %d: %v", r, after, err)
							}
						}
					}
					if len(seen) != total {
						t.Errorf("reader %d: saw %d distinct records, want %d", r, len(seen), total)
					}
				})
			}
			for w := range writers {
				wg.Go(func() {
					for i := range perWriter {
						if _, err := s.Append(fmt.Appendf(nil, "w%d-%d-%s", w, i, bytes.Repeat([]byte("x"), 200))); err != nil {
							t.Errorf("writer %d: append %d: %v", w, i, err)
							return
						}
					}
				})
			}
			wg.Wait()
			if got := s.Stats(); got.Appended != total || got.LastSeq != total {
				t.Errorf("got stats %+v, want Appended and LastSeq %d", got, total)
			}
		})
	}
}

func TestGroupSyncSharesFsyncs(t *testing.T) {
	const writers, perWriter = 8, 100
	s := openTest(t, filepath.Join(t.TempDir(), "spool"), func(s *Spool) { s.Sync = SyncGroup })
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				seq, err := s.Append(payload(uint64(w*perWriter + i)))
				if err != nil {
					t.Errorf("writer %d: append: %v", w, err)
					return
				}
				// Append returns only once an fsync has covered the record.
				s.syncMu.Lock()
				synced := s.synced
				s.syncMu.Unlock()
				if synced < seq {
					t.Errorf("writer %d: Append returned %d before it was synced (synced up to %d)", w, seq, synced)
				}
			}
		})
	}
	wg.Wait()
	s.syncMu.Lock()
	syncs := s.syncs
	s.syncMu.Unlock()
	t.Logf("%d appends, %d fsyncs", writers*perWriter, syncs)
	if syncs == 0 || syncs > writers*perWriter {
		t.Errorf("got %d fsyncs for %d appends", syncs, writers*perWriter)
	}
	if got := len(drain(t, s, 0)); got != writers*perWriter {
		t.Errorf("read %d records, want %d", got, writers*perWriter)
	}
}

func TestReopen(t *testing.T) {
	tests := []struct {
		name      string
		appended  uint64
		acked     uint64
		perSeg    int
		wantFirst uint64 // first record a reader resuming from the ack point gets
	}{
		{name: "nothing_acked", appended: 30, acked: 0, perSeg: 8, wantFirst: 1},
		{name: "some_acked", appended: 30, acked: 10, perSeg: 8, wantFirst: 11},
		{name: "ack_on_segment_edge", appended: 30, acked: 16, perSeg: 8, wantFirst: 17},
		{name: "all_acked", appended: 30, acked: 30, perSeg: 8},
		{name: "all_acked_one_per_segment", appended: 5, acked: 5, perSeg: 1},
		{name: "empty", perSeg: 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "spool")
			s := openTest(t, dir, segmentSize(tt.perSeg))
			appendN(t, s, 1, tt.appended)
			if tt.acked > 0 {
				if err := s.Ack(tt.acked); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			s = openTest(t, dir, segmentSize(tt.perSeg))
			st := s.Stats()
			if st.LastSeq != tt.appended || st.FirstUnacked != tt.acked+1 || st.Bytes != int64(tt.appended-tt.acked)*frameSize {
				t.Errorf("after reopen: got stats %+v, want LastSeq %d, FirstUnacked %d, Bytes %d",
					st, tt.appended, tt.acked+1, (tt.appended-tt.acked)*frameSize)
			}
			var want []uint64
			if tt.wantFirst > 0 {
				want = seqs(tt.wantFirst, tt.appended)
			}
			checkRecords(t, drain(t, s, st.FirstUnacked-1), want)
			appendN(t, s, tt.appended+1, tt.appended+3) // the sequence goes on, never back
			checkRecords(t, drain(t, s, tt.appended), seqs(tt.appended+1, tt.appended+3))
		})
	}
}

func TestFull(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "spool"), func(s *Spool) { s.MaxBytes = 3 * frameSize })
	appendN(t, s, 1, 3)
	for range 2 {
		if seq, err := s.Append(payload(4)); !errors.Is(err, ErrFull) || seq != 0 {
			t.Fatalf("append past MaxBytes: got %d, %v; want 0, ErrFull", seq, err)
		}
	}
	if got, want := s.Stats(), (Stats{Appended: 3, Dropped: 2, Bytes: 3 * frameSize, Segments: 1, FirstUnacked: 1, LastSeq: 3}); got != want {
		t.Errorf("got stats %+v, want %+v", got, want)
	}
	if err := s.Ack(1); err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 4, 4) // acknowledging made room at once
	if _, err := s.Append(payload(5)); !errors.Is(err, ErrFull) {
		t.Fatalf("append past MaxBytes after ack: got %v, want ErrFull", err)
	}
	if got := s.Stats().Dropped; got != 3 {
		t.Errorf("got %d dropped, want 3", got)
	}
}

func TestNextWaitsForAppend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openTest(t, filepath.Join(t.TempDir(), "spool"), nil)
		type result struct {
			seq uint64
			rec []byte
			err error
		}
		next := func(ctx context.Context, after uint64) chan result {
			c := make(chan result, 1)
			go func() {
				seq, rec, err := s.Next(ctx, after)
				c <- result{seq, rec, err}
			}()
			synctest.Wait() // Next is blocked, or has returned
			select {
			case r := <-c:
				t.Fatalf("Next after %d returned %d, %q, %v with nothing to read", after, r.seq, r.rec, r.err)
			default:
			}
			return c
		}

		c := next(t.Context(), 0)
		if _, err := s.Append([]byte("first")); err != nil {
			t.Fatal(err)
		}
		if r := <-c; r.err != nil || r.seq != 1 || string(r.rec) != "first" {
			t.Errorf("Next after 0: got %d, %q, %v; want 1, first", r.seq, r.rec, r.err)
		}

		ctx, cancel := context.WithCancel(t.Context())
		c = next(ctx, 1)
		cancel()
		if r := <-c; !errors.Is(r.err, context.Canceled) {
			t.Errorf("Next with cancelled context: got %v, want context.Canceled", r.err)
		}

		c = next(t.Context(), 1)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if r := <-c; !errors.Is(r.err, ErrClosed) {
			t.Errorf("Next during Close: got %v, want ErrClosed", r.err)
		}
	})
}

func TestClosed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	s := openTest(t, dir, nil)
	appendN(t, s, 1, 1)

	second := New(dir)
	if err := second.Open(); err == nil {
		second.Close()
		t.Fatal("second Open of an open spool directory: got no error")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
	}{
		{"append", func() error { _, err := s.Append([]byte("x")); return err }},
		{"ack", func() error { return s.Ack(1) }},
		{"read_batch", func() error { _, err := s.ReadBatch(t.Context(), 0, 1); return err }},
		{"next", func() error { _, _, err := s.Next(t.Context(), 0); return err }},
	}
	for _, tt := range tests {
		if err := tt.call(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: got %v, want ErrClosed", tt.name, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestOpenRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Spool)
	}{
		{"no_dir", func(s *Spool) { s.Dir = "" }},
		{"negative_segment_size", func(s *Spool) { s.SegmentSize = -1 }},
		{"huge_segment_size", func(s *Spool) { s.SegmentSize = 1 << 32 }},
		{"negative_max_bytes", func(s *Spool) { s.MaxBytes = -1 }},
		{"negative_ack_interval", func(s *Spool) { s.AckInterval = -time.Second }},
		{"unknown_sync_mode", func(s *Spool) { s.Sync = 7 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(filepath.Join(t.TempDir(), "spool"))
			tt.edit(s)
			if err := s.Open(); err == nil {
				s.Close()
				t.Errorf("Open: got no error")
			}
		})
	}
}

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	s := openTest(t, dir, segmentSize(2))
	appendN(t, s, 1, 5)
	if err := s.Ack(1); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("directory mode %v, want 0700", got)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s mode %v, want 0600", e.Name(), got)
		}
	}
}

// TestOutOfDescriptors: with no descriptor free, a segment that is full
// cannot be followed by a new one; the records go to it past its size
// instead of being lost, and once descriptors are back a new segment
// starts (issue 14, finding 2).
func TestOutOfDescriptors(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("fills the descriptor table; tried on Linux only")
	}
	s := openTest(t, t.TempDir(), func(s *Spool) { s.SegmentSize = 4 << 10 })
	rec := bytes.Repeat([]byte("r"), 1000)
	var seqs []uint64
	appendN := func(n int) {
		t.Helper()
		for range n {
			seq, err := s.Append(rec)
			if err != nil {
				t.Fatalf("append %d: %v", len(seqs)+1, err)
			}
			seqs = append(seqs, seq)
		}
	}
	appendN(3)

	var held []*os.File
	release := func() {
		for _, f := range held {
			f.Close()
		}
		held = nil
	}
	defer release()
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				t.Fatalf("fill the descriptor table: %v", err)
			}
			break
		}
		held = append(held, f)
	}
	appendN(10) // three segments' worth, into the full one
	release()
	appendN(10)

	var got []Record
	for after := uint64(0); len(got) < len(seqs); {
		recs, err := s.ReadBatch(t.Context(), after, 100)
		if err != nil {
			t.Fatalf("read back after %d of %d records: %v", len(got), len(seqs), err)
		}
		got = append(got, recs...)
		after = recs[len(recs)-1].Seq
	}
	for i, r := range got {
		if r.Seq != seqs[i] || !bytes.Equal(r.Data, rec) {
			t.Fatalf("record %d: seq %d, want %d", i, r.Seq, seqs[i])
		}
	}
	segs, _ := filepath.Glob(filepath.Join(s.Dir, "*.seg"))
	if len(segs) < 3 {
		t.Errorf("%d segments after descriptors came back, want new ones again", len(segs))
	}
}
