//go:build unix

package recorder

import (
	"syscall"
	"testing"
)

func TestMaxConnsFor(t *testing.T) {
	for _, tc := range []struct {
		limit uint64
		want  int
	}{
		{0, 0},        // unknown: no cap
		{300, 118},    // prlimit --nofile=300: 64 kept
		{1024, 480},   // 64 kept
		{20000, 9872}, // 256 kept
		{1 << 20, 524160},
		{50, 16},
	} {
		if got := MaxConnsFor(tc.limit); got != tc.want {
			t.Errorf("MaxConnsFor(%d) = %d, want %d", tc.limit, got, tc.want)
		}
	}
}

// TestRaiseFileLimit lowers the soft limit of open descriptors and checks
// that raiseFileLimit brings it back to the hard limit.
func TestRaiseFileLimit(t *testing.T) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	low := rl
	low.Cur = min(rl.Max, 1024)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	if got := raiseFileLimit(); got != uint64(rl.Max) {
		t.Errorf("raiseFileLimit() = %d, want the hard limit %d", got, rl.Max)
	}
}
