package store

import (
	"context"
	"testing"

	"github.com/janustap/janustap/schema"
)

// FuzzApply applies the test scenario with events dropped, repeated and
// swapped as the fuzzer decides (a lossy capture, a stream that stored a
// retried publish after later ones, an event stored twice), in batches of a
// size it picks. Apply must take any of them, and give the same projection
// however the stream is cut.
func FuzzApply(f *testing.F) {
	f.Add([]byte{0}, byte(1))
	f.Add([]byte{1, 0, 0, 2, 0, 3}, byte(7))  // drop, swap, repeat
	f.Add([]byte{2, 2, 2, 2, 2, 2}, byte(3))  // replies before requests
	f.Add([]byte{3, 0, 3, 0, 3, 1}, byte(13)) // events stored twice
	sc := newScenario()
	f.Fuzz(func(t *testing.T, ops []byte, size byte) {
		events := make([]*schema.Event, 0, len(sc.events))
		for i := 0; i < len(sc.events); i++ {
			op := byte(0)
			if len(ops) > 0 {
				op = ops[i%len(ops)] % 4
			}
			switch {
			case op == 1: // lost
			case op == 2 && i+1 < len(sc.events): // stored after the next one
				events = append(events, sc.events[i+1], sc.events[i])
				i++
			case op == 3: // stored twice
				events = append(events, sc.events[i], sc.events[i])
			default:
				events = append(events, sc.events[i])
			}
		}
		all := items(1, events)
		whole, split := openDB(t), openDB(t)
		apply(t, whole, all)
		n := max(int(size), 1)
		for start := 0; start < len(all); start += n {
			apply(t, split, all[start:min(start+n, len(all))])
			checkCache(t, split)
		}
		if err := Equal(context.Background(), whole, split); err != nil {
			t.Fatalf("batches of %d: %v", n, err)
		}
		checkCounts(t, whole)
	})
}
