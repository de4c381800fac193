package main

import (
	"bufio"
	"os"
	"path/filepath"
	"testing"

	"github.com/janustap/janustap/schema"
	"github.com/janustap/janustap/schema/golden"
)

// roomFlows are captured videoroom flows (recorder/store's testdata): a
// publisher "alice" and a subscriber in room 1234, each in its own
// session, then "alice" and "bob" publishing in room 71287544 from one
// session.
var roomFlows = []string{
	"../../recorder/store/testdata/flows/videoroom-pub-sub.jsonl",
	"../../recorder/store/testdata/flows/videoroom_two_publishers_ws.jsonl",
}

func readFlows(t *testing.T, paths ...string) []*schema.Event {
	t.Helper()
	var evs []*schema.Event
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			ev, err := schema.Decode(sc.Bytes())
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			evs = append(evs, ev)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return evs
}

// TestSessionsRoomDisplay runs `sessions --room` and `--display` on the
// captured videoroom flows; the golden files hold the answers.
func TestSessionsRoomDisplay(t *testing.T) {
	db := projectEvents(t, readFlows(t, roomFlows...))
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"room", []string{"--room", "1234"}},
		{"room-json", []string{"--room", "71287544", "--json"}},
		{"display-prefix", []string{"--display", "AL"}},
		{"room-display", []string{"--room", "1234", "--display", "alice"}},
		{"room-display-none", []string{"--room", "1234", "--display", "bob"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := mustRun(t, append([]string{"sessions", "--db", db}, tc.args...)...)
			golden.Check(t, filepath.Join("sessions-room", tc.name+".golden"), []byte(out))
		})
	}
}
