package store

import (
	"errors"
	"slices"
	"testing"

	"github.com/janustap/janustap/schema"
)

// TestSessionEvents checks the rule of a session's events on the scenario,
// over events in memory and over the store, against what each client of the
// scenario did.
func TestSessionEvents(t *testing.T) {
	sc := newScenario()
	db := openDB(t)
	apply(t, db, items(1, sc.events))
	// The clients' connections, in the order newScenario opens them.
	conn := func(conns ...string) func(*schema.Event) bool {
		return func(ev *schema.Event) bool { return slices.Contains(conns, ev.Conn) }
	}
	for _, tc := range []struct {
		name string
		ids  []uint64
		want func(*schema.Event) bool
	}{
		{"http", []uint64{sc.s1}, conn("tap1-1", "tap1-2")},
		{"ws-with-admin", []uint64{sc.s2}, func(ev *schema.Event) bool {
			return ev.Conn == "tap1-3" || ev.Transport == schema.AdminHTTP && ev.Transaction() == "ad2"
		}},
		{"ws-timed-out", []uint64{sc.s3}, conn("tap1-6")},
		{"http-gone", []uint64{sc.s4}, conn("tap1-7")},
		{"no-create", []uint64{sc.s5}, conn("tap1-9")},
		{"two", []uint64{sc.s1, sc.s3}, conn("tap1-1", "tap1-2", "tap1-6")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []string
			for _, ev := range sc.events {
				if tc.want(ev) {
					want = append(want, ev.ID)
				}
			}
			var got []string
			for _, ev := range SessionEvents(sc.events, tc.ids...) {
				got = append(got, ev.ID)
			}
			if !slices.Equal(got, want) {
				t.Errorf("SessionEvents:\n%v\nwant\n%v", got, want)
			}
			if len(tc.ids) > 1 {
				return
			}
			raws, err := db.SessionEvents(t.Context(), "gw1", tc.ids[0])
			if err != nil {
				t.Fatal(err)
			}
			got = got[:0]
			for _, e := range raws {
				got = append(got, e.ID)
			}
			if !slices.Equal(got, want) {
				t.Errorf("DB.SessionEvents:\n%v\nwant\n%v", got, want)
			}
		})
	}
	if _, err := db.SessionEvents(t.Context(), "gw1", 12345); !errors.Is(err, ErrNotFound) {
		t.Errorf("events of a session never seen: %v, want ErrNotFound", err)
	}
}
