package spool

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
)

// Next returns the first record with a sequence number above after, waiting
// for one to be appended if need be, until ctx is done or the Spool is closed.
// Sequence numbers can have gaps (see the package comment), so seq may be
// more than after+1.
func (s *Spool) Next(ctx context.Context, after uint64) (seq uint64, rec []byte, err error) {
	recs, err := s.ReadBatch(ctx, after, 1)
	if err != nil {
		return 0, nil, err
	}
	return recs[0].Seq, recs[0].Data, nil
}

// ReadBatch returns, in order, between 1 and limit records with sequence numbers
// above after, waiting for the first to be appended if need be, until ctx is
// done or the Spool is closed. A batch stops at the end of a segment and at
// about 4 MiB; limit below 1 means 1. Records below the ack point are returned
// while their segment is still on disk. The Data of the records share one
// buffer, which belongs to the caller.
//
// A record that fails its CRC ends the batch before it; if it is the first,
// ReadBatch returns a *CorruptError (which wraps ErrCorrupt) with its
// sequence number, and reading after that number skips it.
func (s *Spool) ReadBatch(ctx context.Context, after uint64, limit int) ([]Record, error) {
	limit = max(limit, 1)
	for {
		s.mu.Lock()
		if err := s.openErr(); err != nil {
			s.mu.Unlock()
			return nil, err
		}
		if s.visible > after {
			if recs, ok, err := s.read(after, limit); ok {
				return recs, err
			}
		}
		if s.wake == nil {
			s.wake = make(chan struct{})
		}
		wake := s.wake
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.done:
			return nil, ErrClosed
		case <-wake:
		}
	}
}

// read reads up to limit records after after, from one segment. It is called
// with s.mu held and returns with it released if ok; ok false means no
// visible record follows after, and s.mu is still held.
func (s *Spool) read(after uint64, limit int) (recs []Record, ok bool, err error) {
	g, i := s.locate(after + 1)
	if g == nil || g.first+uint64(i) > s.visible {
		return nil, false, nil
	}
	first := g.first + uint64(i)
	limit = min(limit, len(g.offsets)-i)
	if v := s.visible - first + 1; v < uint64(limit) {
		limit = int(v)
	}
	start := int64(g.offsets[i])
	n := 1
	for n < limit && g.frameEnd(i+n)-start <= maxBatchBytes {
		n++
	}
	end := g.frameEnd(i + n - 1)
	if g.f == nil {
		f, err := os.Open(g.path)
		if err != nil {
			s.mu.Unlock()
			return nil, true, fmt.Errorf("open segment: %w", err)
		}
		g.f = f
	}
	f := g.f
	g.refs++
	s.ops.Add(1)
	s.mu.Unlock()

	buf := make([]byte, end-start)
	_, rerr := f.ReadAt(buf, start)

	s.mu.Lock()
	s.unpin(g)
	s.mu.Unlock()
	s.ops.Done()
	if rerr != nil {
		return nil, true, fmt.Errorf("read records %d to %d from %s: %w", first, first+uint64(n)-1, g.path, rerr)
	}
	recs, err = parseFrames(buf, first, n)
	if err != nil && len(recs) == 0 {
		return nil, true, &CorruptError{Seq: first, Path: g.path}
	}
	return recs, true, nil
}

// CorruptError is a record that failed its check on disk. It wraps
// ErrCorrupt.
type CorruptError struct {
	Seq  uint64 // the record's sequence number
	Path string // its segment
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("read record %d from %s: %v", e.Seq, e.Path, ErrCorrupt)
}

func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// locate returns the segment and index of the first record whose sequence
// number is seq or above, or nil. s.mu is held.
func (s *Spool) locate(seq uint64) (*segment, int) {
	k := s.segIndex(seq)
	idx := 0
	if k < 0 {
		k = 0
	} else {
		idx = int(min(seq-s.segs[k].first, uint64(len(s.segs[k].offsets))))
	}
	for ; k < len(s.segs); k, idx = k+1, 0 {
		if idx < len(s.segs[k].offsets) {
			return s.segs[k], idx
		}
	}
	return nil, 0
}

// parseFrames splits buf into n checked frames, numbered from first. It
// returns the records before the first bad frame with an error.
func parseFrames(buf []byte, first uint64, n int) ([]Record, error) {
	recs := make([]Record, 0, n)
	for j := range n {
		if len(buf) < headerSize {
			return recs, ErrCorrupt
		}
		l := int(binary.LittleEndian.Uint32(buf))
		if len(buf)-headerSize < l {
			return recs, ErrCorrupt
		}
		data := buf[headerSize : headerSize+l : headerSize+l]
		if frameCRC(buf[:4], data) != binary.LittleEndian.Uint32(buf[4:]) {
			return recs, ErrCorrupt
		}
		recs = append(recs, Record{Seq: first + uint64(j), Data: data})
		buf = buf[headerSize+l:]
	}
	return recs, nil
}
