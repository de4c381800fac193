package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// mapped skips the test where Append cannot map segments.
func mapped(t *testing.T) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "probe")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := mapFile(f, 4096)
	if err != nil {
		t.Skipf("no shared mappings here: %v", err)
	}
	unmapFile(m)
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// writeAt writes b at off in the file at path, as a store through the
// mapping of a process that then died would have.
func writeAt(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRecoverPreallocated is TestRecover for files written through the
// mapping: the last segment goes on after its frames with zeros allocated
// ahead, and a process killed in Append leaves a frame half copied.
func TestRecoverPreallocated(t *testing.T) {
	mapped(t)
	const dataEnd = (recoverRecords - 16) * frameSize // of the last segment, 17-20
	last := func(dir string) string { return segPath(dir, 17) }
	tests := []struct {
		name          string
		damage        func(t *testing.T, dir string)
		want          []uint64
		wantNext      uint64
		wantTruncated int64
		wantCorrupt   int
		wantLog       string // in the log of Open; without it, Open logs nothing at all
	}{
		{
			name:     "zero_tail",
			damage:   func(t *testing.T, dir string) {},
			want:     seqs(1, 20),
			wantNext: 21,
		},
		{
			// Killed after the length and part of the payload of record 21.
			name: "unfinished_append",
			damage: func(t *testing.T, dir string) {
				f := appendFrame(nil, payload(21))
				writeAt(t, last(dir), dataEnd, f[:4])
				writeAt(t, last(dir), dataEnd+headerSize, f[headerSize:headerSize+40])
			},
			want: seqs(1, 20), wantNext: 21, wantLog: "did not finish",
		},
		{
			// Killed after the payload, before the CRC that commits it.
			name: "unfinished_before_crc",
			damage: func(t *testing.T, dir string) {
				f := appendFrame(nil, payload(21))
				binary.LittleEndian.PutUint32(f[4:], 0)
				writeAt(t, last(dir), dataEnd, f)
			},
			want: seqs(1, 20), wantNext: 21, wantLog: "did not finish",
		},
		{
			// Record 20 with its CRC but the end of its payload lost, as a
			// power cut can leave it.
			name: "torn_frame",
			damage: func(t *testing.T, dir string) {
				writeAt(t, last(dir), dataEnd-30, make([]byte, 30))
			},
			want: seqs(1, 19), wantNext: 20, wantTruncated: frameSize, wantLog: "torn tail",
		},
		{
			name: "damage_inside",
			damage: func(t *testing.T, dir string) {
				flipByte(t, dir, 17, 1)
			},
			// 18 and the 2 frames after it are skipped, and a frame may run
			// into the zeros after them.
			want: seqs(1, 17), wantNext: 18 + (3*frameSize+headerSize-1)/headerSize, wantCorrupt: 1, wantLog: "damaged",
		},
		{
			// Data after zeros is not a tail Append could leave.
			name: "data_after_zeros",
			damage: func(t *testing.T, dir string) {
				writeAt(t, last(dir), fileSize(t, last(dir))-16, []byte("garbage!garbage!"))
			},
			want: seqs(1, 20), wantNext: 21 + (recoverPerSeg*frameSize-dataEnd)/headerSize, wantCorrupt: 1, wantLog: "damaged",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "spool")
			s := openTest(t, dir, segmentSize(recoverPerSeg))
			appendN(t, s, 1, recoverRecords)
			if got := fileSize(t, last(dir)); got <= dataEnd {
				t.Fatalf("last segment is %d bytes, want more than its %d bytes of frames", got, dataEnd)
			}
			if err := unlockDir(s.lock); err != nil { // killed, as in TestRecover
				t.Fatal(err)
			}
			s.lock = nil
			tt.damage(t, dir)

			var log bytes.Buffer
			r := openTest(t, dir, func(r *Spool) {
				segmentSize(recoverPerSeg)(r)
				r.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(&log, t.Output()), nil))
			})
			checkRecords(t, drain(t, r, 0), tt.want)
			st := r.Stats()
			if st.Truncated != tt.wantTruncated || st.Corrupt != tt.wantCorrupt {
				t.Errorf("got Truncated %d, Corrupt %d; want %d, %d", st.Truncated, st.Corrupt, tt.wantTruncated, tt.wantCorrupt)
			}
			if tt.wantLog == "" && log.Len() > 0 || !strings.Contains(log.String(), tt.wantLog) {
				t.Errorf("log of Open:\n%s\nwant it to hold %q", log.String(), tt.wantLog)
			}
			appendN(t, r, tt.wantNext, tt.wantNext+1)
			checkRecords(t, drain(t, r, tt.wantNext-1), seqs(tt.wantNext, tt.wantNext+1))
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			// Close cut the file that was active to its frames.
			g := r.segs[len(r.segs)-1]
			if got := fileSize(t, g.path); got != g.size {
				t.Errorf("after Close, %s is %d bytes, want %d", filepath.Base(g.path), got, g.size)
			}
		})
	}
}

// TestRoll appends through the mapping across segments of 3 records, and a
// record longer than a segment, which Append writes with write(2).
func TestRoll(t *testing.T) {
	mapped(t)
	dir := filepath.Join(t.TempDir(), "spool")
	s := openTest(t, dir, segmentSize(3))
	appendN(t, s, 1, 10)
	big := bytes.Repeat([]byte("b"), 5*frameSize)
	if seq, err := s.Append(big); err != nil || seq != 11 {
		t.Fatalf("append a record longer than a segment: got %d, %v; want 11", seq, err)
	}
	appendN(t, s, 12, 13)

	s.mu.Lock()
	for i, g := range s.segs {
		active := i == len(s.segs)-1
		if got := g.m != nil; got != active {
			t.Errorf("segment %d: mapped %v, want %v", g.first, got, active)
		}
		size := fileSize(t, g.path)
		switch {
		case !active && size != g.size:
			t.Errorf("segment %d: %d bytes, want its %d bytes of frames", g.first, size, g.size)
		case active && size < g.size:
			t.Errorf("active segment %d: %d bytes, shorter than its %d bytes of frames", g.first, size, g.size)
		}
	}
	s.mu.Unlock()
	if got, want := fmt.Sprint(segFiles(t, dir)), fmt.Sprint([]string{segName(1), segName(4), segName(7), segName(10), segName(11), segName(12)}); got != want {
		t.Errorf("got segments %s, want %s", got, want)
	}
	recs := drain(t, s, 0)
	if len(recs) != 13 || !bytes.Equal(recs[10].Data, big) {
		t.Fatalf("read %d records, want 13 with record 11 the long one", len(recs))
	}
	checkRecords(t, append(recs[:10:10], recs[11:]...), append(seqs(1, 10), 12, 13))
}

// TestAllocateFails fills the disk under a mapped segment: Append fails as a
// failed write(2) does, keeps nothing, and goes on once there is room.
func TestAllocateFails(t *testing.T) {
	mapped(t)
	var room int64 = 1 << 30 // bytes fallocate may still give
	var calls []int64
	s := openTest(t, filepath.Join(t.TempDir(), "spool"), func(s *Spool) {
		s.allocate = func(f *os.File, off, n int64) error {
			calls = append(calls, n)
			if n > room {
				return syscall.ENOSPC
			}
			room -= n
			return fallocate(f, off, n)
		}
	})
	appendN(t, s, 1, 2)
	if got, want := fmt.Sprint(calls), fmt.Sprint([]int64{allocChunk}); got != want {
		t.Errorf("fallocate calls for 2 records: got sizes %s, want %s", got, want)
	}
	// Less room than a chunk: Append allocates just its frame.
	s.segs[0].alloc = 2 * frameSize // as if the chunk had been used up
	calls, room = nil, frameSize
	appendN(t, s, 3, 3)
	if got, want := fmt.Sprint(calls), fmt.Sprint([]int64{allocChunk - 2*frameSize, frameSize}); got != want {
		t.Errorf("fallocate calls with room for one frame: got sizes %s, want %s", got, want)
	}
	// No room at all.
	for range 2 {
		seq, err := s.Append(payload(4))
		if !errors.Is(err, syscall.ENOSPC) || seq != 0 || !strings.Contains(err.Error(), "no space left on device") {
			t.Fatalf("append on a full disk: got %d, %v; want 0 and ENOSPC", seq, err)
		}
	}
	if st := s.Stats(); st.Appended != 3 || st.LastSeq != 3 || st.Dropped != 0 {
		t.Errorf("after failed appends: got stats %+v, want Appended 3, LastSeq 3", st)
	}
	room = 1 << 30
	appendN(t, s, 4, 5) // the sequence goes on without a gap
	checkRecords(t, drain(t, s, 0), seqs(1, 5))
}

// TestFallback appends with write(2) where segments cannot be mapped or
// allocated ahead, quietly.
func TestFallback(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Spool)
	}{
		{"no_mmap", func(s *Spool) { s.noMap = true }},
		{"no_fallocate", func(s *Spool) {
			s.allocate = func(*os.File, int64, int64) error { return syscall.EOPNOTSUPP }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "spool")
			var log bytes.Buffer
			edit := func(s *Spool) {
				segmentSize(4)(s)
				s.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(&log, t.Output()), &slog.HandlerOptions{Level: slog.LevelInfo}))
				tt.edit(s)
			}
			s := openTest(t, dir, edit)
			appendN(t, s, 1, 10)
			s.mu.Lock()
			for _, g := range s.segs {
				if g.m != nil {
					t.Errorf("segment %d is mapped", g.first)
				}
				if got := fileSize(t, g.path); got != g.size {
					t.Errorf("segment %d: %d bytes, want its %d bytes of frames", g.first, got, g.size)
				}
			}
			s.mu.Unlock()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openTest(t, dir, edit)
			appendN(t, s, 11, 12)
			checkRecords(t, drain(t, s, 0), seqs(1, 12))
			if log.Len() > 0 {
				t.Errorf("the fallback logged:\n%s", log.String())
			}
		})
	}
}
