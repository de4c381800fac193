package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/janustap/janustap/schema"
)

// manySessions applies n short WebSocket sessions through Apply, as a tap
// records them: create, attach (videoroom or echotest, opaque_id
// "user-<i>"), a join of room 1000+i%1000 as "User <i>" (every 50th
// refused with a plugin error), destroy.
// It returns the session ids in creation order.
func manySessions(t testing.TB, db *DB, n int) []uint64 {
	t.Helper()
	var batch []*schema.Event
	var seq uint64
	flush := func() {
		if len(batch) == 0 {
			return
		}
		its := items(seq+1, batch)
		seq += uint64(len(batch))
		if err := db.Apply(context.Background(), its); err != nil {
			t.Fatal(err)
		}
		batch = batch[:0]
	}
	f := &flow{gw: "gw1", tap: "tap1", clock: &clock{now: t0, step: 50 * time.Microsecond, seqs: map[string]uint64{}},
		emit: func(ev *schema.Event) { batch = append(batch, ev) }}
	ids := make([]uint64, 0, n)
	for i := range n {
		c := f.wsClient(schema.WS)
		s, h := f.newID(), f.newID()
		ids = append(ids, s)
		plugin := videoroom
		if i%2 == 1 {
			plugin = echotest
		}
		c.open()
		tx := f.newTx()
		c.send(createReq(tx))
		c.recv(successID(tx, 0, s))
		tx = f.newTx()
		c.send(attachReq(tx, plugin, fmt.Sprintf("user-%d", i), s))
		c.recv(successID(tx, s, h))
		tx = f.newTx()
		c.send(messageReq(tx, fmt.Sprintf(`{"request":"join","room":%d,"display":"User %d"}`, 1000+i%1000, i), "", s, h))
		if i%50 == 0 {
			c.recv(pluginSuccess(tx, s, h, plugin, `{"videoroom":"event","error_code":426,"error":"No such room (1234)"}`))
		} else {
			c.recv(pluginSuccess(tx, s, h, plugin, `{"videoroom":"joined","room":1234}`))
		}
		tx = f.newTx()
		c.send(fmt.Sprintf(`{"janus":"destroy","transaction":"%s","session_id":%d}`, tx, s))
		c.recv(success(tx, s))
		c.close(schema.ToGateway, 1000)
		f.advance(time.Second)
		if len(batch) >= 1000 {
			flush()
		}
	}
	flush()
	return ids
}

func TestSessionPage(t *testing.T) {
	db := openDB(t)
	ids := manySessions(t, db, 230)
	tests := []struct {
		name string
		q    PageQuery
		want []uint64 // newest first
	}{
		{"all", PageQuery{}, reversed(ids)},
		{"opaque_id", PageQuery{SessionFilter: SessionFilter{OpaqueID: "user-17"}}, []uint64{ids[17]}},
		{"errors", PageQuery{SessionFilter: SessionFilter{WithErrors: true}}, []uint64{ids[200], ids[150], ids[100], ids[50], ids[0]}},
		{"plugin", PageQuery{SessionFilter: SessionFilter{Plugin: "echotest", To: t0.Add(6 * time.Second)}}, []uint64{ids[5], ids[3], ids[1]}},
		{"search_id", PageQuery{Search: fmt.Sprint(ids[42])}, []uint64{ids[42]}},
		{"search_opaque_prefix", PageQuery{Search: "user-22"}, []uint64{ids[229], ids[228], ids[227], ids[226], ids[225], ids[224], ids[223], ids[222], ids[221], ids[220], ids[22]}},
		{"search_none", PageQuery{Search: "nobody"}, nil},
		{"room", PageQuery{SessionFilter: SessionFilter{Room: "1017"}}, []uint64{ids[17]}},
		{"display_prefix", PageQuery{SessionFilter: SessionFilter{Display: "user 22"}}, []uint64{ids[229], ids[228], ids[227], ids[226], ids[225], ids[224], ids[223], ids[222], ids[221], ids[220], ids[22]}},
		{"room_display", PageQuery{SessionFilter: SessionFilter{Room: "1022", Display: "User 2"}}, []uint64{ids[22]}},
		{"display_all", PageQuery{SessionFilter: SessionFilter{Display: "USER"}}, reversed(ids)},
		{"display_none", PageQuery{SessionFilter: SessionFilter{Display: "nobody"}}, nil},
		{"ice_failed_none", PageQuery{ICEFailed: true}, nil},
		{"no_webrtcup_none", PageQuery{NoWebRTCUp: true}, nil},
	}
	// The room and display filters start from the handles when they match
	// few (joinFew), else from the sessions: both ways give the same pages.
	for _, few := range []int{0, 5} {
		db.joinFew = few
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/join_few_%d", tt.name, few), func(t *testing.T) {
				testPages(t, db, tt.q, tt.want)
			})
		}
	}
}

// testPages reads every page that q selects and compares the sessions
// with want.
func testPages(t *testing.T, db *DB, q PageQuery, want []uint64) {
	t.Helper()
	ctx := t.Context()
	var got []uint64
	q.Limit = 50
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("more than 10 pages")
		}
		rows, next, err := db.SessionPage(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) > q.Limit {
			t.Fatalf("page of %d rows, limit %d", len(rows), q.Limit)
		}
		for _, r := range rows {
			got = append(got, r.ID)
		}
		if next.IsZero() {
			break
		}
		c, err := ParseCursor(next.String())
		if err != nil || c != next {
			t.Fatalf("cursor %q parses as %+v, %v; want %+v", next.String(), c, err, next)
		}
		q.After = c
	}
	if !slices.Equal(got, want) {
		t.Errorf("sessions = %v, want %v", got, want)
	}
}

func reversed(s []uint64) []uint64 {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

// BenchmarkSessionPage answers the sessions page's filters over 100 000
// sessions applied through Apply: the first page of each.
func BenchmarkSessionPage(b *testing.B) {
	db := openDB(b)
	ids := manySessions(b, db, 100_000)
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		q    PageQuery
	}{
		{"first_page", PageQuery{}},
		{"opaque_id", PageQuery{SessionFilter: SessionFilter{OpaqueID: "user-31337"}}},
		{"errors", PageQuery{SessionFilter: SessionFilter{WithErrors: true}}},
		{"plugin_time_range", PageQuery{SessionFilter: SessionFilter{Plugin: "echotest", From: t0.Add(10 * time.Hour), To: t0.Add(11 * time.Hour)}}},
		{"search_id", PageQuery{Search: fmt.Sprint(ids[4242])}},
		{"search_opaque_prefix", PageQuery{Search: "user-9999"}},
		{"ice_failed_none", PageQuery{ICEFailed: true}},
		{"room", PageQuery{SessionFilter: SessionFilter{Room: "1042"}}},                       // 100 sessions
		{"display_prefix", PageQuery{SessionFilter: SessionFilter{Display: "user 4242"}}},     // 11 sessions
		{"room_display", PageQuery{SessionFilter: SessionFilter{Room: "1042", Display: "u"}}}, // 100 sessions
		{"display_prefix_all", PageQuery{SessionFilter: SessionFilter{Display: "user"}}},      // every session
		{"display_prefix_old", PageQuery{SessionFilter: SessionFilter{Display: "user 1"}}},    // 11 111 sessions, the newest 80 000 sessions back: the worst case
		{"page_40", PageQuery{After: Cursor{FirstSeen: t0.Add(60_000 * time.Second), Gateway: "gw1", ID: ids[60_000]}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				rows, _, err := db.SessionPage(ctx, bc.q)
				if err != nil {
					b.Fatal(err)
				}
				if len(rows) == 0 && !bc.q.ICEFailed {
					b.Fatal("no rows")
				}
			}
		})
	}
}
