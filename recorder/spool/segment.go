package spool

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

const (
	// headerSize is the frame header: u32 length, u32 CRC-32C.
	headerSize = 8
	segSuffix  = ".seg"
	// segNameDigits is the width of the sequence number in a segment name.
	segNameDigits = 20
	// maxSegmentSize keeps every frame's start offset within a uint32.
	maxSegmentSize = math.MaxUint32
)

// castagnoli is the CRC-32C table; read-only after package initialisation.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frameCRC is the CRC-32C of a frame's four length bytes followed by its payload.
func frameCRC(lenField, payload []byte) uint32 {
	return crc32.Update(crc32.Update(0, castagnoli, lenField), castagnoli, payload)
}

// appendFrame appends the frame for rec to b.
func appendFrame(b, rec []byte) []byte {
	start := len(b)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(rec)))
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = append(b, rec...)
	hdr := b[start : start+headerSize]
	binary.LittleEndian.PutUint32(hdr[4:], frameCRC(hdr[:4], rec))
	return b
}

// segment is one segment file. Its fields are guarded by Spool.mu.
type segment struct {
	first   uint64   // sequence number of the first record, and the file name
	path    string   // DIR/<first>.seg
	f       *os.File // open for reading (and appending, if active); nil once closed
	offsets []uint32 // offsets[i] is the file offset of the frame of record first+i
	size    int64    // bytes of whole, checked frames; the file is no longer (except a skipped damaged tail)
	refs    int      // users between pin and unpin; f stays open while refs > 0
	dead    bool     // trimmed: removed from Spool.segs, the last unpin closes f
}

func segName(first uint64) string {
	return fmt.Sprintf("%0*d%s", segNameDigits, first, segSuffix)
}

// parseSegName returns the first sequence number of a segment file name.
func parseSegName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(digits) != segNameDigits {
		return 0, false
	}
	first, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || first == 0 {
		return 0, false
	}
	return first, true
}

func newSegment(dir string, first uint64) *segment {
	return &segment{first: first, path: filepath.Join(dir, segName(first))}
}

// end is the sequence number after the last record.
func (g *segment) end() uint64 { return g.first + uint64(len(g.offsets)) }

// frameEnd is the offset just past the frame of record index i.
func (g *segment) frameEnd(i int) int64 {
	if i+1 < len(g.offsets) {
		return int64(g.offsets[i+1])
	}
	return g.size
}

// span is the number of bytes the frames of records lo..hi (sequence numbers,
// inclusive) take, counting only records the segment holds.
func (g *segment) span(lo, hi uint64) int64 {
	lo = max(lo, g.first)
	hi = min(hi, g.end()-1)
	if g.end() == g.first || lo > hi {
		return 0
	}
	return g.frameEnd(int(hi-g.first)) - int64(g.offsets[lo-g.first])
}

// errTorn and errBadCRC say why a scan stopped before the end of a file.
var (
	errTorn   = errors.New("frame cut short")
	errBadCRC = errors.New("crc mismatch")
	errTooBig = errors.New("frame longer than any record")
)

// scanResult is what scanFrames found in a segment file.
type scanResult struct {
	offsets []uint32 // start offset of each whole, checked frame
	valid   int64    // bytes those frames take from the start of the file
	err     error    // why the scan stopped before fileSize, or nil
	badEnd  int64    // where the first bad frame claims to end; > fileSize if cut short
}

// scanFrames reads frames from r (a file of fileSize bytes) from its start,
// checking each length and CRC, and stops at the first bad one.
func scanFrames(r io.Reader, fileSize int64) (scanResult, error) {
	var res scanResult
	br := bufio.NewReaderSize(r, 1<<20)
	var hdr [headerSize]byte
	chunk := make([]byte, 64<<10)
	for res.valid < fileSize {
		if res.valid > maxSegmentSize {
			res.err, res.badEnd = errTooBig, fileSize+1
			return res, nil
		}
		if fileSize-res.valid < headerSize {
			res.err, res.badEnd = errTorn, fileSize+1
			return res, nil
		}
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return res, fmt.Errorf("read frame header at offset %d: %w", res.valid, err)
		}
		n := int64(binary.LittleEndian.Uint32(hdr[:4]))
		want := binary.LittleEndian.Uint32(hdr[4:])
		res.badEnd = res.valid + headerSize + n
		switch {
		case n > MaxRecordSize:
			res.err, res.badEnd = errTooBig, fileSize+1
			return res, nil
		case res.badEnd > fileSize:
			res.err = errTorn
			return res, nil
		}
		crc := crc32.Update(0, castagnoli, hdr[:4])
		for left := n; left > 0; {
			p := chunk[:min(left, int64(len(chunk)))]
			if _, err := io.ReadFull(br, p); err != nil {
				return res, fmt.Errorf("read frame at offset %d: %w", res.valid, err)
			}
			crc = crc32.Update(crc, castagnoli, p)
			left -= int64(len(p))
		}
		if crc != want {
			res.err = errBadCRC
			return res, nil
		}
		res.offsets = append(res.offsets, uint32(res.valid))
		res.valid = res.badEnd
	}
	res.badEnd = 0
	return res, nil
}

// zerosFrom reports whether f holds only zero bytes from off to fileSize, as
// after a power cut when the file grew but its last blocks were never written.
func zerosFrom(f *os.File, off, fileSize int64) (bool, error) {
	buf := make([]byte, 64<<10)
	for off < fileSize {
		p := buf[:min(int64(len(buf)), fileSize-off)]
		if _, err := f.ReadAt(p, off); err != nil {
			return false, err
		}
		for _, c := range p {
			if c != 0 {
				return false, nil
			}
		}
		off += int64(len(p))
	}
	return true, nil
}
