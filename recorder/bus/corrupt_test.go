package bus_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/janustap/janustap/recorder/bus"
	"github.com/janustap/janustap/recorder/bus/bustest"
	"github.com/janustap/janustap/schema"
)

// TestPublisherSkipsCorruptRecord: a record that went bad in the middle of
// a spool segment is skipped, counted and logged, and the records after it
// are published. (The publisher used to find the record's number in the
// error's text, which did not match what the spool wrote, and stopped.)
func TestPublisherSkipsCorruptRecord(t *testing.T) {
	_, js := connect(t, bustest.Start(t).ClientURL(), bus.ConnectOptions{})
	stream := ensureStream(t, js)
	sp := openSpool(t)
	var gen schema.IDGen
	evs := events(10, &gen)
	seqs := appendEvents(t, sp, evs)

	// Flip a byte of the fourth record (in its id), on disk.
	segs, err := filepath.Glob(filepath.Join(sp.Dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	bad := []byte(evs[3].ID)
	var hit bool
	for _, path := range segs {
		b, err := os.ReadFile(path)
		if err != nil || !bytes.Contains(b, bad) {
			continue
		}
		i := bytes.Index(b, bad)
		b[i+3] ^= 0x20
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		hit = true
	}
	if !hit {
		t.Fatalf("record 4 not found in %v", segs)
	}

	p := &bus.Publisher{JS: js, Spool: sp, Logger: testLogger(t)}
	runPublisher(t, p)
	waitShipped(t, p, seqs[len(seqs)-1])
	want := slices.Delete(slices.Clone(evs), 3, 4)
	checkStream(t, stream, want, true)
	if st := p.Stats(); st.Corrupt != 1 || st.Published != uint64(len(want)) {
		t.Errorf("stats %+v, want 1 corrupt and %d published", st, len(want))
	}
}
