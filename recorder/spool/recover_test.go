package spool

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The recovery tests write 20 records of frameSize bytes in segments of 8:
// 1-8, 9-16 and 17-20, the last one being written to.
const (
	recoverRecords = 20
	recoverPerSeg  = 8
)

func segPath(dir string, first uint64) string { return filepath.Join(dir, segName(first)) }

func truncateBy(t *testing.T, path string, n int64) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()-n); err != nil {
		t.Fatal(err)
	}
}

func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// flipByte inverts one byte in the payload of record index i (from 0) of the
// segment that starts at first.
func flipByte(t *testing.T, dir string, first uint64, i int) {
	t.Helper()
	path := segPath(dir, first)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[i*frameSize+headerSize+3] ^= 0xff
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// copyDir copies the regular files of src to a new directory, as a backup
// taken while the spool is open would, and returns it.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	if err := os.Mkdir(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestRecover(t *testing.T) {
	last := segPath // the last segment starts at 17
	tests := []struct {
		name string
		// damage changes the files of the spool in dir, which is still open
		// (as after kill -9), and returns the directory to reopen.
		damage        func(t *testing.T, dir string) string
		want          []uint64 // records read back
		wantNext      uint64   // least sequence number of the next record
		wantTruncated int64
		wantCorrupt   int
		wantLog       string // in the log of Open
	}{
		{
			name:     "intact",
			damage:   func(t *testing.T, dir string) string { return dir },
			want:     seqs(1, 20),
			wantNext: 21,
		},
		{
			name:     "copied_while_open",
			damage:   func(t *testing.T, dir string) string { return copyDir(t, dir) },
			want:     seqs(1, 20),
			wantNext: 21,
		},
		{
			name: "torn_header",
			damage: func(t *testing.T, dir string) string {
				truncateBy(t, last(dir, 17), frameSize-5)
				return dir
			},
			want: seqs(1, 19), wantNext: 20, wantTruncated: 5, wantLog: "torn tail",
		},
		{
			name: "torn_payload",
			damage: func(t *testing.T, dir string) string {
				truncateBy(t, last(dir, 17), 10)
				return dir
			},
			want: seqs(1, 19), wantNext: 20, wantTruncated: frameSize - 10, wantLog: "torn tail",
		},
		{
			name: "crc_mismatch_in_last_record",
			damage: func(t *testing.T, dir string) string {
				flipByte(t, dir, 17, 3)
				return dir
			},
			want: seqs(1, 19), wantNext: 20, wantTruncated: frameSize, wantLog: "torn tail",
		},
		{
			name: "garbage_appended",
			damage: func(t *testing.T, dir string) string {
				appendBytes(t, last(dir, 17), []byte("garbage!garbage!"))
				return dir
			},
			want: seqs(1, 20), wantNext: 21, wantTruncated: 16, wantLog: "torn tail",
		},
		{
			name: "zeros_appended",
			damage: func(t *testing.T, dir string) string {
				appendBytes(t, last(dir, 17), make([]byte, 4096))
				return dir
			},
			want: seqs(1, 20), wantNext: 21, wantTruncated: 4096, wantLog: "torn tail",
		},
		{
			name: "crash_after_creating_next_segment",
			damage: func(t *testing.T, dir string) string {
				if err := os.WriteFile(segPath(dir, 21), nil, 0o600); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			want: seqs(1, 20), wantNext: 21,
		},
		{
			name: "damage_inside_last_segment",
			damage: func(t *testing.T, dir string) string {
				flipByte(t, dir, 17, 1)
				return dir
			},
			// 18 and the 2 frames after it are skipped; the next record
			// goes past every number their 3*frameSize bytes could hold.
			want: seqs(1, 17), wantNext: 18 + 3*frameSize/headerSize, wantCorrupt: 1, wantLog: "damaged",
		},
		{
			name: "damage_inside_older_segment",
			damage: func(t *testing.T, dir string) string {
				flipByte(t, dir, 1, 2)
				return dir
			},
			want:     append(seqs(1, 2), seqs(9, 20)...),
			wantNext: 21, wantCorrupt: 1, wantLog: "damaged",
		},
		{
			name: "ack_point_past_last_record",
			damage: func(t *testing.T, dir string) string {
				if err := os.WriteFile(filepath.Join(dir, ackedName), []byte("25\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			want: seqs(17, 20), wantNext: 26, // the other segments are wholly acknowledged
		},
		{
			name: "unreadable_ack_point",
			damage: func(t *testing.T, dir string) string {
				if err := os.WriteFile(filepath.Join(dir, ackedName), []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			want: seqs(1, 20), wantNext: 21, wantLog: "unreadable ack point",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "spool")
			s := openTest(t, dir, segmentSize(recoverPerSeg))
			appendN(t, s, 1, recoverRecords)
			// The spool stays open while its files are damaged, as if its
			// process had been killed; the lock is the only thing in the
			// way, and a new process would not see it.
			if err := unlockDir(s.lock); err != nil {
				t.Fatal(err)
			}
			s.lock = nil
			dir = tt.damage(t, dir)

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
			if !strings.Contains(log.String(), tt.wantLog) {
				t.Errorf("log of Open lacks %q:\n%s", tt.wantLog, log.String())
			}
			seq, err := r.Append(payload(tt.wantNext))
			if err != nil {
				t.Fatal(err)
			}
			if seq != tt.wantNext {
				t.Errorf("next record got seq %d, want %d", seq, tt.wantNext)
			}
			checkRecords(t, drain(t, r, seq-1), []uint64{seq})
		})
	}
}

// killEnv names the directory the child of TestKill9 appends to.
const killEnv = "SPOOL_KILL9_DIR"

// TestKill9 runs a child process that appends records and reports how many
// on stdout, kills it with SIGKILL, and checks that every reported record is
// in the spool.
func TestKill9(t *testing.T) {
	if os.Getenv(killEnv) != "" {
		t.Skip("in the child")
	}
	dir := filepath.Join(t.TempDir(), "spool")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9Child$", "-test.count=1")
	cmd.Env = append(os.Environ(), killEnv+"="+dir)
	cmd.Stderr = t.Output()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var reported uint64
	sc := bufio.NewScanner(stdout)
	for reports := 0; reports < 5 && sc.Scan(); {
		n, ok := strings.CutPrefix(sc.Text(), "appended ")
		if !ok {
			continue
		}
		if reported, err = strconv.ParseUint(n, 10, 64); err != nil {
			t.Fatalf("child reported %q", sc.Text())
		}
		reports++
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, stdout)
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, not by SIGKILL", err)
	}
	if reported == 0 {
		t.Fatal("child reported no records")
	}

	s := openTest(t, dir, segmentSize(64))
	st := s.Stats()
	t.Logf("child reported %d records; the spool holds %d in %d segments", reported, st.LastSeq, st.Segments)
	if st.LastSeq < reported || st.Truncated != 0 || st.Corrupt != 0 {
		t.Fatalf("got stats %+v, want LastSeq at least %d and no damage", st, reported)
	}
	checkRecords(t, drain(t, s, 0), seqs(1, st.LastSeq))
}

// TestKill9Child is the child of TestKill9: it appends records until killed,
// writing "appended N" to stdout after every 500.
func TestKill9Child(t *testing.T) {
	dir := os.Getenv(killEnv)
	if dir == "" {
		t.Skip("run by TestKill9")
	}
	s := New(dir)
	s.SegmentSize = 64 * frameSize
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	// The parent kills this process; the bound only keeps an orphan from
	// filling the disk.
	for i := uint64(1); i <= 10_000_000; i++ {
		if _, err := s.Append(payload(i)); err != nil {
			t.Fatal(err)
		}
		if i%500 == 0 {
			if _, err := os.Stdout.WriteString("appended " + strconv.FormatUint(i, 10) + "\n"); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Fatal("not killed")
}

func TestReadReportsCorruptRecord(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	s := openTest(t, dir, nil)
	appendN(t, s, 1, 5)
	flipByte(t, dir, 1, 2) // record 3, damaged on disk after it was written

	tests := []struct {
		name    string
		after   uint64
		want    []uint64
		wantErr error
	}{
		{name: "batch_stops_before_it", after: 0, want: seqs(1, 2)},
		{name: "first_in_batch", after: 2, wantErr: ErrCorrupt},
		{name: "skipped", after: 3, want: seqs(4, 5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := s.ReadBatch(t.Context(), tt.after, 10)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("read after %d: got error %v, want %v", tt.after, err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "record 3") {
				t.Errorf("error %q does not name record 3", err)
			}
			checkRecords(t, recs, tt.want)
		})
	}
}
