package store

import (
	"bufio"
	"os"
	"slices"
	"testing"

	"github.com/janustap/janustap/schema"
)

// applyFlowFiles applies captured flows (JSONL event logs) in order, as
// one stream.
func applyFlowFiles(t *testing.T, db *DB, paths ...string) {
	t.Helper()
	var its []Item
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			its = append(its, Item{StreamSeq: uint64(len(its) + 1), Raw: slices.Clone(sc.Bytes())})
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
	}
	if err := db.Apply(t.Context(), its); err != nil {
		t.Fatal(err)
	}
}

// TestJoinRoomDisplay applies two captured videoroom flows (a publisher
// "alice" and a subscriber in room 1234, each in its own session; "alice"
// and "bob" publishing in room 71287544 from one session) and finds their
// sessions by room and display name, through Sessions and SessionPage.
func TestJoinRoomDisplay(t *testing.T) {
	db := openDB(t)
	applyFlowFiles(t, db, "testdata/flows/videoroom-pub-sub.jsonl", "testdata/flows/videoroom_two_publishers_ws.jsonl")
	const (
		pub1234  = 871619599006089  // alice publishing in 1234
		sub1234  = 2173869303125995 // subscribing in 1234: no display
		both7128 = 5974212333833145 // alice and bob in 71287544
	)

	t.Run("handles", func(t *testing.T) {
		rows, err := db.r.QueryContext(t.Context(), "SELECT handle_id, coalesce(room, '-'), coalesce(display, '-') FROM handles WHERE room IS NOT NULL OR display IS NOT NULL ORDER BY handle_id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var id uint64
			var room, display string
			if err := rows.Scan(&id, &room, &display); err != nil {
				t.Fatal(err)
			}
			got = append(got, room+"/"+display)
		}
		// By handle id: 1299857905939594 alice, 4069500099698535 the
		// subscriber, 5207475617827327 alice, 6109724626031862 bob.
		want := []string{"71287544/alice", "1234/-", "1234/alice", "71287544/bob"}
		if !slices.Equal(got, want) {
			t.Errorf("handles' room/display = %v, want %v", got, want)
		}
	})

	tests := []struct {
		name          string
		room, display string
		want          []uint64 // in the order Sessions lists them (oldest first)
	}{
		{"room", "1234", "", []uint64{pub1234, sub1234}},
		{"room_other", "71287544", "", []uint64{both7128}},
		{"room_none", "999", "", nil},
		{"display_exact", "", "bob", []uint64{both7128}},
		{"display_prefix_case", "", "AL", []uint64{pub1234, both7128}},
		{"display_none", "", "carol", nil},
		{"room_and_display", "1234", "alice", []uint64{pub1234}},
		{"room_and_display_other_room", "1234", "bob", nil},
		{"display_longer_than_name", "", "alicea", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := SessionFilter{Room: tt.room, Display: tt.display}
			rows, err := db.Sessions(t.Context(), f)
			if err != nil {
				t.Fatal(err)
			}
			var got []uint64
			for _, r := range rows {
				got = append(got, r.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Sessions = %v, want %v", got, tt.want)
			}
			page, _, err := db.SessionPage(t.Context(), PageQuery{SessionFilter: f})
			if err != nil {
				t.Fatal(err)
			}
			got = got[:0]
			for _, r := range page {
				got = append(got, r.ID)
			}
			slices.Reverse(got) // the page lists newest first
			if !slices.Equal(got, tt.want) {
				t.Errorf("SessionPage = %v, want (reversed) %v", got, tt.want)
			}
		})
	}
}

// TestJoinOf reads the room and display of join requests as clients write
// them.
func TestJoinOf(t *testing.T) {
	tests := []struct {
		name, body    string
		room, display string
		ok            bool
	}{
		{"videoroom_publisher", `{"janus":"message","body":{"request":"join","ptype":"publisher","room":1234,"display":"alice"},"transaction":"a"}`, "1234", "alice", true},
		{"string_room", `{"janus":"message","body":{"request":"join","room":"lobby","display":" Bob "},"transaction":"a"}`, "lobby", "Bob", true},
		{"audiobridge_big_id", `{"janus":"message","body":{"request":"join","room":9007199254740993},"transaction":"a"}`, "9007199254740993", "", true},
		{"joinandconfigure", `{"janus":"message","body":{"request":"joinandconfigure","room":7,"display":"c"},"transaction":"a"}`, "7", "c", true},
		{"room_object", `{"janus":"message","body":{"request":"join","room":{"x":1},"display":true},"transaction":"a"}`, "", "", true},
		{"not_a_join", `{"janus":"message","body":{"request":"configure","room":1234},"transaction":"a"}`, "", "", false},
		{"truncated", `{"janus":"message","body":{"request":"join","room":12`, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := &schema.Event{Body: []byte(tt.body)}
			j, err := schema.ParseJanus(ev.Body)
			if err != nil {
				// A truncated body does not parse: what the tap records
				// then is its verb only.
				j = &schema.Janus{Janus: "message", PluginKey: "request", PluginValue: "join"}
			}
			room, display, ok := joinOf(ev, j)
			if room != tt.room || display != tt.display || ok != tt.ok {
				t.Errorf("joinOf = %q, %q, %v; want %q, %q, %v", room, display, ok, tt.room, tt.display, tt.ok)
			}
		})
	}
}
