package bench

import (
	"slices"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(n int) []time.Duration {
		s := make([]time.Duration, n)
		for i := range s {
			s[i] = time.Duration(i+1) * time.Millisecond
		}
		return s
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", []time.Duration{7}, 99.9, 7},
		{"two_median", []time.Duration{1, 2}, 50, 1},
		{"thousand_p50", ms(1000), 50, 500 * time.Millisecond},
		{"thousand_p99", ms(1000), 99, 990 * time.Millisecond},
		{"thousand_p999", ms(1000), 99.9, 999 * time.Millisecond},
		{"thousand_p100", ms(1000), 100, 1000 * time.Millisecond},
		{"hundred_p999", ms(100), 99.9, 100 * time.Millisecond},
		{"ten_p0", ms(10), 0, time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("Percentile(%d values, %v) = %v, want %v", len(tt.sorted), tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarizeLeavesItsInputAlone(t *testing.T) {
	l := Latencies{5, 3, 9, 1}
	orig := slices.Clone(l)
	s := l.Summarize()
	if !slices.Equal(l, orig) {
		t.Errorf("Summarize reordered its input: %v, was %v", l, orig)
	}
	if got, want := s, (Summary{N: 4, P50: 3, P99: 9, P999: 9, Max: 9}); got != want {
		t.Errorf("Summarize = %+v, want %+v", got, want)
	}
	if got := (Latencies{}).Summarize(); got != (Summary{}) {
		t.Errorf("Summarize of nothing = %+v, want the zero Summary", got)
	}
}

func TestRatio(t *testing.T) {
	if got, ok := ratio(300, 200); !ok || got != 1.5 {
		t.Errorf("ratio(300, 200) = %v, %v; want 1.5, true", got, ok)
	}
	for _, b := range []time.Duration{0, -5} {
		if _, ok := ratio(100, b); ok {
			t.Errorf("ratio(100, %v) is defined; want undefined for nginx adding nothing", b)
		}
	}
}

func TestFormatDurations(t *testing.T) {
	tests := []struct {
		d          time.Duration
		plain, add string
	}{
		{0, "-", "0µs"},
		{420 * time.Microsecond, "420µs", "+420µs"},
		{-35 * time.Microsecond, "-35µs", "-35µs"},
		{2345 * time.Microsecond, "2.35ms", "+2.35ms"},
		{-2345 * time.Microsecond, "-2.35ms", "-2.35ms"},
		{40 * time.Millisecond, "40.0ms", "+40.0ms"},
	}
	for _, tt := range tests {
		if got := fmtDur(tt.d); got != tt.plain {
			t.Errorf("fmtDur(%v) = %q, want %q", tt.d, got, tt.plain)
		}
		if got := fmtSigned(tt.d); got != tt.add {
			t.Errorf("fmtSigned(%v) = %q, want %q", tt.d, got, tt.add)
		}
	}
}
