package spool

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// DefaultSegmentSize is the segment size used when Spool.SegmentSize is 0.
	DefaultSegmentSize = 64 << 20
	// DefaultAckInterval is the ack interval used when Spool.AckInterval is 0.
	DefaultAckInterval = time.Second
	// MaxRecordSize is the largest record Append takes, in bytes.
	MaxRecordSize = 1 << 30

	ackedName = "acked"
	ackedTemp = "acked.tmp"
	lockName  = "lock"

	// keepBuf is the largest write buffer Append keeps between calls, in bytes.
	keepBuf = 1 << 20
	// maxBatchBytes bounds the frames one ReadBatch reads, in bytes; a batch
	// always holds at least one record, however long.
	maxBatchBytes = 4 << 20
)

// Attribute keys for the log.
const (
	keyDir     = "dir"
	keySegment = "segment"
	keySeq     = "seq"
	keyBytes   = "bytes"
	keyErr     = "err"
)

var (
	// ErrFull is returned by Append when the record would take the
	// unacknowledged data past Spool.MaxBytes. The record is not kept.
	ErrFull = errors.New("spool full")
	// ErrClosed is returned by every method of a closed Spool.
	ErrClosed = errors.New("spool closed")
	// ErrTooLarge is returned by Append for a record over MaxRecordSize.
	ErrTooLarge = errors.New("record too large")
	// ErrCorrupt is returned by ReadBatch and Next for a record whose frame no
	// longer matches its CRC. The reader can skip it by reading after its
	// sequence number, which the error message names.
	ErrCorrupt = errors.New("record corrupt")

	errNotOpen = errors.New("spool not open")
)

// SyncMode says when Append makes a record durable against a power cut.
type SyncMode int

const (
	// SyncNone returns from Append once the record is in the OS page cache:
	// it survives a crash of the process but not of the machine.
	SyncNone SyncMode = iota
	// SyncGroup returns from Append only after an fsync that covers the
	// record. Concurrent appenders share one fsync (group commit), and
	// readers see a record only once it is synced.
	SyncGroup
)

func (m SyncMode) String() string {
	switch m {
	case SyncNone:
		return "none"
	case SyncGroup:
		return "group"
	}
	return "SyncMode(" + strconv.Itoa(int(m)) + ")"
}

// Record is one record as read back, with its sequence number.
type Record struct {
	Seq  uint64
	Data []byte // owned by the caller
}

// Stats is a snapshot of a Spool's counters and state.
type Stats struct {
	Appended     uint64 // records appended since Open
	Dropped      uint64 // Appends refused with ErrFull since Open
	Acked        uint64 // sequence numbers newly acknowledged since Open
	Bytes        int64  // framed bytes of unacknowledged records, the amount held against MaxBytes
	Segments     int    // segment files in the directory
	FirstUnacked uint64 // the ack point plus one; LastSeq+1 when everything is acknowledged
	LastSeq      uint64 // the last sequence number handed out; 0 if none ever was
	Truncated    int64  // bytes of torn tail cut from the last segment by Open
	Corrupt      int    // segments in which Open found damage followed by data, and skipped the rest
}

// Spool is an append-only log of records in a directory, kept until they are
// acknowledged. Set the fields after New and before Open; a Spool is opened
// once. Append, ReadBatch, Next, Ack and Stats are safe for concurrent use.
type Spool struct {
	Dir string // directory of the segment files; Open creates it with mode 0700
	// SegmentSize is the size in bytes past which a new segment file starts.
	// A record longer than that gets a segment to itself. Zero means
	// DefaultSegmentSize (64 MiB); at most 4 GiB - 1.
	SegmentSize int64
	// MaxBytes caps the framed bytes (8 + record length each) of
	// unacknowledged records; Append returns ErrFull rather than go past it.
	// Acknowledged records still on disk do not count, so the directory can
	// hold up to about MaxBytes + SegmentSize. Zero means no cap.
	MaxBytes int64
	// Sync says when Append makes a record durable. The zero value is SyncNone.
	Sync SyncMode
	// AckInterval is the least time between two writes of the acked file and
	// the segment deletions that follow them. Zero means DefaultAckInterval
	// (1 s). Close always saves the last ack point.
	AckInterval time.Duration
	// Logger receives recovery warnings and background errors. Nil means
	// slog.Default().
	Logger *slog.Logger

	log  *slog.Logger
	lock *os.File

	mu           sync.Mutex
	opened       bool
	closed       bool
	broken       error      // sticky: a failed write that could not be undone, or a failed fsync
	rollFailures int        // Appends in a row that could not start a new segment; guarded by mu
	segs         []*segment // in sequence order; the last is the active one, never deleted
	last         uint64     // last sequence number handed out
	visible      uint64     // last sequence number readers may see: last, or in SyncGroup the last synced
	acked        uint64     // the ack point in memory
	unacked      int64      // framed bytes of records after acked
	wbuf         []byte     // frame buffer reused by Append
	wake         chan struct{}
	appended     uint64
	dropped      uint64
	ackedN       uint64
	trunc        int64
	corrupt      int

	done  chan struct{}  // closed by Close
	ops   sync.WaitGroup // reads and group-synced Appends in flight, which use files Close closes
	ackc  chan struct{}  // tells flushLoop that the ack point moved
	flush sync.WaitGroup // flushLoop

	ckMu     sync.Mutex // serialises checkpoint
	savedAck uint64     // the ack point in the acked file; guarded by ckMu

	syncMu   sync.Mutex
	syncCond *sync.Cond
	syncing  bool   // a goroutine is in fsync
	synced   uint64 // records up to this sequence number are on stable storage
	syncErr  error
	syncs    uint64 // fsyncs done by group commit, for tests
}

// New returns a Spool for dir with default settings.
func New(dir string) *Spool {
	return &Spool{Dir: dir, Logger: slog.Default()}
}

// Open checks the settings, creates or locks the directory, recovers the
// segments (see the package comment) and starts the goroutine that saves the
// ack point.
func (s *Spool) Open() error {
	switch {
	case s.opened:
		return errors.New("open spool: already opened")
	case s.Dir == "":
		return errors.New("open spool: no directory")
	case s.SegmentSize < 0 || s.SegmentSize > maxSegmentSize:
		return fmt.Errorf("open spool %s: segment size %d out of range [0, %d]", s.Dir, s.SegmentSize, int64(maxSegmentSize))
	case s.MaxBytes < 0:
		return fmt.Errorf("open spool %s: negative MaxBytes %d", s.Dir, s.MaxBytes)
	case s.AckInterval < 0:
		return fmt.Errorf("open spool %s: negative AckInterval %v", s.Dir, s.AckInterval)
	case s.Sync != SyncNone && s.Sync != SyncGroup:
		return fmt.Errorf("open spool %s: unknown sync mode %v", s.Dir, s.Sync)
	}
	if s.SegmentSize == 0 {
		s.SegmentSize = DefaultSegmentSize
	}
	if s.AckInterval == 0 {
		s.AckInterval = DefaultAckInterval
	}
	logger := s.Logger
	if logger == nil {
		logger = slog.Default()
	}
	s.log = logger.With(keyDir, s.Dir)

	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("open spool: %w", err)
	}
	lock, err := lockDir(filepath.Join(s.Dir, lockName))
	if err != nil {
		return fmt.Errorf("open spool %s: %w", s.Dir, err)
	}
	s.lock = lock
	if err := s.recover(); err != nil {
		s.closeFiles()
		unlockDir(s.lock)
		return fmt.Errorf("open spool %s: %w", s.Dir, err)
	}
	s.syncCond = sync.NewCond(&s.syncMu)
	s.synced = s.last
	s.done = make(chan struct{})
	s.ackc = make(chan struct{}, 1)
	s.opened = true
	s.flush.Go(s.flushLoop)
	return nil
}

// recover reads the ack point and the segments, trims, truncates torn tails
// and leaves an active segment ready for Append.
func (s *Spool) recover() error {
	acked, err := s.readAcked()
	if err != nil {
		return err
	}
	s.acked, s.savedAck = acked, acked

	ents, err := os.ReadDir(s.Dir)
	if err != nil {
		return fmt.Errorf("list segments: %w", err)
	}
	var segs []*segment
	for _, e := range ents {
		if first, ok := parseSegName(e.Name()); ok && e.Type().IsRegular() {
			segs = append(segs, newSegment(s.Dir, first))
		}
	}
	slices.SortFunc(segs, func(a, b *segment) int { return cmp.Compare(a.first, b.first) })
	// Whole segments at or below the ack point: the last acked file write
	// came before the crash, the deletions did not.
	for len(segs) > 1 && segs[1].first-1 <= acked {
		if err := os.Remove(segs[0].path); err != nil {
			return fmt.Errorf("trim acknowledged segment: %w", err)
		}
		segs = segs[1:]
	}
	s.segs = segs

	next := acked + 1 // the least sequence number the next record may take
	for i, g := range segs {
		isLast := i == len(segs)-1
		skip, err := s.load(g, isLast)
		if err != nil {
			return err
		}
		if !isLast && g.end() > segs[i+1].first {
			s.log.Error("segment overlaps the next one; ignoring its records past the next one's start",
				keySegment, g.path, keySeq, segs[i+1].first)
			keep := int(segs[i+1].first - g.first)
			g.size = int64(g.offsets[keep])
			g.offsets = g.offsets[:keep]
		}
		if isLast {
			next = max(next, g.end()+skip)
		}
	}
	for _, g := range s.segs {
		lo := max(acked+1, g.first)
		s.unacked += g.span(lo, g.end()-1)
	}
	s.last = next - 1
	s.visible = s.last
	if n := len(s.segs); n == 0 || s.segs[n-1].end() != next {
		// Start a fresh segment numbered past everything seen, so that its
		// name keeps the sequence even if nothing is appended before a crash.
		g, err := s.createSegment(next)
		if err != nil {
			return err
		}
		s.segs = append(s.segs, g)
	}
	return nil
}

// load opens and scans the file of g. For the last segment it truncates a torn
// tail; anywhere else, damage is logged and the rest of the file skipped. skip
// is how many sequence numbers past g.end() the skipped bytes could have held;
// it matters only for the last segment, as the next one's name bounds the others.
func (s *Spool) load(g *segment, isLast bool) (skip uint64, err error) {
	flag := os.O_RDONLY
	if isLast {
		flag = os.O_RDWR | os.O_APPEND
	}
	f, err := os.OpenFile(g.path, flag, 0o600)
	if err != nil {
		return 0, fmt.Errorf("open segment: %w", err)
	}
	g.f = f
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat segment: %w", err)
	}
	fileSize := fi.Size()
	res, err := scanFrames(f, fileSize)
	if err != nil {
		return 0, fmt.Errorf("scan segment %s: %w", g.path, err)
	}
	g.offsets, g.size = res.offsets, res.valid
	if res.err != nil {
		torn := res.badEnd >= fileSize
		if !torn {
			if torn, err = zerosFrom(f, res.valid, fileSize); err != nil {
				return 0, fmt.Errorf("read segment %s: %w", g.path, err)
			}
		}
		switch {
		case isLast && torn:
			s.log.Warn("truncating torn tail of last segment",
				keySegment, g.path, keySeq, g.end(), keyBytes, fileSize-res.valid, keyErr, res.err)
			if err := f.Truncate(res.valid); err != nil {
				return 0, fmt.Errorf("truncate torn tail: %w", err)
			}
			s.trunc += fileSize - res.valid
		default:
			// Every frame takes at least headerSize bytes.
			skip = uint64((fileSize - res.valid) / headerSize)
			s.log.Error("segment damaged; skipping the rest of it",
				keySegment, g.path, keySeq, g.end(), keyBytes, fileSize-res.valid, keyErr, res.err)
			s.corrupt++
		}
	}
	if s.Sync == SyncGroup {
		// Records a SyncNone run left in the page cache become durable now.
		if err := f.Sync(); err != nil {
			return 0, fmt.Errorf("fsync segment %s: %w", g.path, err)
		}
	}
	return skip, nil
}

// readAcked returns the ack point saved in DIR/acked, or 0 if there is none.
func (s *Spool) readAcked() (uint64, error) {
	path := filepath.Join(s.Dir, ackedName)
	if err := os.Remove(filepath.Join(s.Dir, ackedTemp)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("remove stale ack file: %w", err)
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read ack point: %w", err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		// Re-delivering acknowledged records is safe; losing others is not.
		s.log.Warn("ignoring unreadable ack point; unacknowledged records may be re-delivered", keyErr, err)
		return 0, nil
	}
	return n, nil
}

// createSegment creates the empty segment file that starts at first.
func (s *Spool) createSegment(first uint64) (*segment, error) {
	g := newSegment(s.Dir, first)
	f, err := os.OpenFile(g.path, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create segment: %w", err)
	}
	g.f = f
	if s.Sync == SyncGroup {
		if err := syncDir(s.Dir); err != nil {
			f.Close()
			return nil, err
		}
	}
	return g, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// Append adds rec to the spool and returns its sequence number; seq is 0 when
// err is not nil. Once Append returns, the record is in the OS page cache and
// visible to readers (with SyncGroup: on stable storage, then visible). It
// returns ErrFull, and counts a drop, when rec would take the unacknowledged
// data past MaxBytes. rec is copied; the caller may reuse it.
func (s *Spool) Append(rec []byte) (seq uint64, err error) {
	if len(rec) > MaxRecordSize {
		return 0, fmt.Errorf("append %d bytes: %w", len(rec), ErrTooLarge)
	}
	frame := int64(headerSize + len(rec))
	s.mu.Lock()
	if err := s.usable(); err != nil {
		s.mu.Unlock()
		return 0, err
	}
	if s.MaxBytes > 0 && s.unacked+frame > s.MaxBytes {
		s.dropped++
		s.mu.Unlock()
		return 0, ErrFull
	}
	g := s.segs[len(s.segs)-1]
	if g.size > 0 && g.size+frame > s.SegmentSize {
		ng, err := s.roll()
		switch {
		case err == nil:
			if s.rollFailures > 0 {
				s.log.Info("new spool segment started again", "failures", s.rollFailures, "path", ng.path)
				s.rollFailures = 0
			}
			g = ng
		case s.broken == nil && g.size+frame <= maxSegmentSize:
			// No new file now (out of descriptors, say): the record goes
			// to the current segment, past its size, rather than being
			// lost. A later Append starts the next segment.
			if s.rollFailures++; s.rollFailures == 1 {
				s.log.Error("cannot start a new spool segment; appending to the current one past its size", "path", g.path, keyErr, err)
			}
		default:
			s.mu.Unlock()
			return 0, err
		}
	}
	b := appendFrame(s.wbuf[:0], rec)
	if n, err := g.f.Write(b); err != nil {
		if n > 0 {
			if terr := g.f.Truncate(g.size); terr != nil {
				s.broken = fmt.Errorf("undo partial write to %s: %w", g.path, terr)
			}
		}
		s.mu.Unlock()
		return 0, fmt.Errorf("append to %s: %w", g.path, err)
	}
	if cap(b) <= keepBuf {
		s.wbuf = b
	} else {
		s.wbuf = nil
	}
	g.offsets = append(g.offsets, uint32(g.size))
	g.size += frame
	s.last++
	seq = s.last
	s.unacked += frame
	s.appended++
	if s.Sync == SyncNone {
		s.visible = seq
		s.wakeReaders()
		s.mu.Unlock()
		return seq, nil
	}
	s.ops.Add(1)
	s.mu.Unlock()
	defer s.ops.Done()
	if err := s.waitSynced(seq); err != nil {
		return 0, err
	}
	return seq, nil
}

// usable says why the spool cannot take records, or nil. s.mu is held.
func (s *Spool) usable() error {
	if err := s.openErr(); err != nil {
		return err
	}
	return s.broken
}

// openErr says why the spool cannot be used at all, or nil. s.mu is held.
func (s *Spool) openErr() error {
	switch {
	case s.closed:
		return ErrClosed
	case !s.opened:
		return errNotOpen
	}
	return nil
}

// roll starts a new active segment. s.mu is held.
func (s *Spool) roll() (*segment, error) {
	old := s.segs[len(s.segs)-1]
	if s.Sync == SyncGroup {
		// The group syncer syncs only the active segment; records in the
		// old one must be on disk before it stops being active.
		if err := old.f.Sync(); err != nil {
			s.broken = fmt.Errorf("fsync segment %s: %w", old.path, err)
			return nil, s.broken
		}
	}
	g, err := s.createSegment(s.last + 1)
	if err != nil {
		return nil, err
	}
	s.segs = append(s.segs, g)
	return g, nil
}

// wakeReaders releases readers waiting for a record. s.mu is held.
func (s *Spool) wakeReaders() {
	if s.wake != nil {
		close(s.wake)
		s.wake = nil
	}
}

// waitSynced returns once seq is on stable storage. One caller at a time runs
// fsync for everyone; the others wait for it and are all released by it.
func (s *Spool) waitSynced(seq uint64) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	for s.synced < seq {
		if s.syncErr != nil {
			return s.syncErr
		}
		if s.syncing {
			s.syncCond.Wait()
			continue
		}
		s.syncing = true
		s.syncMu.Unlock()
		target, err := s.syncActive()
		s.syncMu.Lock()
		s.syncing = false
		s.syncs++
		if err != nil {
			s.syncErr = err
		} else {
			s.synced = max(s.synced, target)
		}
		s.syncCond.Broadcast()
	}
	return nil
}

// syncActive fsyncs the active segment and returns the last sequence number
// the fsync covers; roll has synced every older segment.
func (s *Spool) syncActive() (uint64, error) {
	s.mu.Lock()
	g := s.segs[len(s.segs)-1]
	target, f := s.last, g.f
	g.refs++
	s.mu.Unlock()

	err := f.Sync()

	s.mu.Lock()
	defer s.mu.Unlock()
	s.unpin(g)
	if err != nil {
		// After a failed fsync the kernel may have dropped the dirty pages:
		// nothing written since can be trusted until Open reads it back.
		s.broken = fmt.Errorf("fsync segment %s: %w", g.path, err)
		return 0, s.broken
	}
	if target > s.visible {
		s.visible = target
		s.wakeReaders()
	}
	return target, nil
}

// unpin drops a reference taken with g.refs++, closing the file of a trimmed
// segment when it was the last. s.mu is held.
func (s *Spool) unpin(g *segment) {
	g.refs--
	if g.dead && g.refs == 0 && g.f != nil {
		g.f.Close()
		g.f = nil
	}
}

// Ack acknowledges every record up to and including seq. The ack point is
// saved, and segments wholly at or below it deleted, within AckInterval.
// Acknowledging at or below the ack point does nothing.
func (s *Spool) Ack(seq uint64) error {
	s.mu.Lock()
	if err := s.openErr(); err != nil {
		s.mu.Unlock()
		return err
	}
	switch {
	case seq > s.last:
		last := s.last
		s.mu.Unlock()
		return fmt.Errorf("ack %d: beyond the last record %d", seq, last)
	case seq <= s.acked:
		s.mu.Unlock()
		return nil
	}
	i := s.segIndex(s.acked + 1)
	for _, g := range s.segs[max(i, 0):] {
		if g.first > seq {
			break
		}
		s.unacked -= g.span(s.acked+1, seq)
	}
	s.ackedN += seq - s.acked
	s.acked = seq
	s.mu.Unlock()
	select {
	case s.ackc <- struct{}{}:
	default:
	}
	return nil
}

// segIndex returns the index of the last segment whose first record is at or
// before seq, or -1. s.mu is held.
func (s *Spool) segIndex(seq uint64) int {
	return sort.Search(len(s.segs), func(k int) bool { return s.segs[k].first > seq }) - 1
}

// Stats returns a snapshot of the counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		Appended:     s.appended,
		Dropped:      s.dropped,
		Acked:        s.ackedN,
		Bytes:        s.unacked,
		Segments:     len(s.segs),
		FirstUnacked: s.acked + 1,
		LastSeq:      s.last,
		Truncated:    s.trunc,
		Corrupt:      s.corrupt,
	}
}

// flushLoop saves the ack point when it moves, at most once per AckInterval,
// until Close.
func (s *Spool) flushLoop() {
	var failures int
	for {
		select {
		case <-s.done:
			return
		case <-s.ackc:
		}
		// A failure is logged when it starts, then every 100th time, and
		// the recovery once.
		if err := s.checkpoint(); err != nil {
			if failures++; failures%100 == 1 {
				s.log.Error("save ack point", keyErr, err, "failures", failures)
			}
		} else if failures > 0 {
			s.log.Info("ack point saved again", "failures", failures)
			failures = 0
		}
		t := time.NewTimer(s.AckInterval)
		select {
		case <-s.done:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// checkpoint writes the ack point to DIR/acked, if it moved, then deletes the
// segments wholly at or below the saved ack point.
func (s *Spool) checkpoint() error {
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	s.mu.Lock()
	acked := s.acked
	s.mu.Unlock()
	if acked != s.savedAck {
		if err := s.writeAcked(acked); err != nil {
			return err
		}
		s.savedAck = acked
	}
	return s.trim(s.savedAck)
}

// writeAcked replaces DIR/acked atomically with n.
func (s *Spool) writeAcked(n uint64) error {
	tmp := filepath.Join(s.Dir, ackedTemp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("save ack point: %w", err)
	}
	_, err = f.WriteString(strconv.FormatUint(n, 10) + "\n")
	if err == nil && s.Sync == SyncGroup {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(s.Dir, ackedName))
	}
	if err != nil {
		return fmt.Errorf("save ack point %d: %w", n, err)
	}
	return nil
}

// trim deletes the segments, other than the active one, whose records are
// all at or below upto.
func (s *Spool) trim(upto uint64) error {
	s.mu.Lock()
	k := 0
	for k < len(s.segs)-1 && s.segs[k+1].first-1 <= upto {
		k++
	}
	dead := slices.Clone(s.segs[:k])
	s.segs = slices.Delete(s.segs, 0, k)
	for _, g := range dead {
		g.dead = true
		g.refs++
		s.unpin(g)
	}
	s.mu.Unlock()
	var errs []error
	for _, g := range dead {
		if err := os.Remove(g.path); err != nil {
			errs = append(errs, fmt.Errorf("delete acknowledged segment: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Close saves the ack point, closes the files and releases the directory.
// Appends and reads in progress finish first; blocked readers return
// ErrClosed. Closing a closed Spool does nothing.
func (s *Spool) Close() error {
	s.mu.Lock()
	if !s.opened || s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	s.ops.Wait()
	s.flush.Wait()

	errs := []error{s.checkpoint()}
	if s.Sync == SyncGroup {
		s.mu.Lock()
		g := s.segs[len(s.segs)-1]
		if err := g.f.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("fsync segment %s: %w", g.path, err))
		}
		s.mu.Unlock()
	}
	errs = append(errs, s.closeFiles(), unlockDir(s.lock))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close spool %s: %w", s.Dir, err)
	}
	return nil
}

// closeFiles closes every segment file.
func (s *Spool) closeFiles() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, g := range s.segs {
		if g.f != nil {
			if err := g.f.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close segment: %w", err))
			}
			g.f = nil
		}
	}
	return errors.Join(errs...)
}
