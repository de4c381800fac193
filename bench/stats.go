package bench

import (
	"math"
	"slices"
	"time"
)

// Latencies are round-trip times, in the order they were measured.
type Latencies []time.Duration

// Summary is the distribution of a set of latencies.
type Summary struct {
	N    int           // how many
	P50  time.Duration // median
	P99  time.Duration
	P999 time.Duration // 99.9th percentile
	Max  time.Duration
}

// Summarize sorts a copy of l and returns its percentiles. The zero Summary
// means no measurements.
func (l Latencies) Summarize() Summary {
	if len(l) == 0 {
		return Summary{}
	}
	s := slices.Clone(l)
	slices.Sort(s)
	return Summary{
		N:    len(s),
		P50:  Percentile(s, 50),
		P99:  Percentile(s, 99),
		P999: Percentile(s, 99.9),
		Max:  s[len(s)-1],
	}
}

// Percentile returns the p-th percentile (0 < p ≤ 100) of sorted by the
// nearest-rank method: the smallest value with at least p percent of the
// values at or below it. It returns 0 for an empty slice.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// The small epsilon keeps 99.9% of 1000 at rank 999 despite float error.
	rank := int(math.Ceil(p/100*float64(n) - 1e-9))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// ratio returns a/b, and false when b is not positive: an added latency of
// zero or less (noise) cannot be divided by.
func ratio(a, b time.Duration) (float64, bool) {
	if b <= 0 {
		return 0, false
	}
	return float64(a) / float64(b), true
}
