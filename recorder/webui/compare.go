package webui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/recorder/verdict"
	"github.com/janustap/janustap/schema"
)

// Comparison is what Server.Compare says of a replay beside its capture.
type Comparison struct {
	Same bool
	// Summary is one line: "runs match: ..." or "runs differ: first
	// divergence at ..."; Text the whole report, as `janustap diff` prints it.
	Summary, Text string
	Differences   []Difference // in the order of the capture
}

// Difference is one difference between the capture and the replay.
type Difference struct {
	// A and B are the message's numbers in the capture's and the replay's
	// ladders (the events as given to Compare, from 1); 0 when absent.
	A, B         int
	Kind         string // changed, missing (only in the capture), extra (only in the replay)
	Path         string // JSON path of the value that differs
	ValueA       string
	ValueB       string
	Janus, Notes string
}

// compareView is what the compare template shows.
type compareView struct {
	CaptureGW, ReplayGW string
	Capture, Replay     uint64
	Cmp                 *Comparison
	MarksA, MarksB      string // message numbers to mark in each ladder
	FirstA, FirstB      int
}

// sessionEvents returns a session's events in the order of its ladder.
func sessionEvents(ctx context.Context, db *store.DB, gw string, id uint64) ([]*schema.Event, error) {
	f, err := verdict.Load(ctx, db, gw, id)
	if err != nil {
		return nil, err
	}
	raw, err := sessionRaw(ctx, db, gw, id)
	if err != nil {
		return nil, err
	}
	bySeq := make(map[uint64][]byte, len(raw))
	for _, e := range raw {
		bySeq[e.StreamSeq] = e.Raw
	}
	out := make([]*schema.Event, 0, len(f.Timeline))
	for _, e := range f.Timeline {
		ev, err := schema.Decode(bySeq[e.StreamSeq])
		if err != nil {
			return nil, fmt.Errorf("event %s: %w", e.ID, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// replayOf finds the captured session a replayed one was made from: the
// "session:ID" (and "gateway:G") of its events' replay_of label, in a
// gateway other than the replay's.
func replayOf(ctx context.Context, db *store.DB, evs []*schema.Event, replayGW string) (string, uint64, error) {
	var label string
	for _, ev := range evs {
		if l := ev.Labels["replay_of"]; l != "" {
			label = l
			break
		}
	}
	if label == "" {
		return "", 0, errors.New("the session is not a replay recorded with replay --record (no replay_of label); name its capture with ?capture=GATEWAY/SESSION")
	}
	var gw string
	var id uint64
	for _, f := range strings.Fields(label) {
		switch k, v, _ := strings.Cut(f, ":"); k {
		case "gateway":
			gw = v
		case "session":
			if id == 0 {
				id, _ = strconv.ParseUint(v, 10, 64)
			}
		}
	}
	if id == 0 {
		return "", 0, fmt.Errorf("replay_of %q names no session; name the capture with ?capture=GATEWAY/SESSION", label)
	}
	if gw != "" {
		return gw, id, nil
	}
	rows, _, err := db.SessionPage(ctx, store.PageQuery{Search: strconv.FormatUint(id, 10), Limit: 10})
	if err != nil {
		return "", 0, err
	}
	for _, r := range rows {
		if r.ID == id && r.Gateway != replayGW {
			return r.Gateway, id, nil
		}
	}
	return "", 0, fmt.Errorf("the captured session %d of replay_of %q: %w", id, label, store.ErrNotFound)
}

func (s *Server) comparePage(w http.ResponseWriter, r *http.Request) {
	if s.Compare == nil {
		s.fail(w, r, http.StatusNotFound, errors.New("this web view cannot compare runs"))
		return
	}
	gw, id, db, ok := s.session(w, r)
	if !ok {
		return
	}
	replay, err := sessionEvents(r.Context(), db, gw, id)
	if err != nil {
		s.failLookup(w, r, err)
		return
	}
	var cgw string
	var cid uint64
	if c := r.URL.Query().Get("capture"); c != "" {
		g, sid, ok := strings.Cut(c, "/")
		if cid, err = strconv.ParseUint(sid, 10, 64); !ok || err != nil {
			s.fail(w, r, http.StatusBadRequest, fmt.Errorf("capture %q: want GATEWAY/SESSION", c))
			return
		}
		cgw = g
	} else if cgw, cid, err = replayOf(r.Context(), db, replay, gw); err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, store.ErrNotFound) {
			code = http.StatusNotFound
		}
		s.fail(w, r, code, err)
		return
	}
	capture, err := sessionEvents(r.Context(), db, cgw, cid)
	if err != nil {
		s.failLookup(w, r, err)
		return
	}
	// Janus's own events are no part of a run's signaling (a replay has
	// none): they are left out of the comparison, and its message numbers
	// mapped back to the ladders'.
	ca, na := signaling(capture)
	cb, nb := signaling(replay)
	cmp := s.Compare(ca, cb)
	for i := range cmp.Differences {
		d := &cmp.Differences[i]
		d.A, d.B = ladderN(na, d.A), ladderN(nb, d.B)
	}
	v := compareView{CaptureGW: cgw, Capture: cid, ReplayGW: gw, Replay: id, Cmp: cmp}
	var ma, mb []string
	for _, d := range cmp.Differences {
		if d.A != 0 && len(ma) < 200 {
			ma = append(ma, strconv.Itoa(d.A))
		}
		if d.B != 0 && len(mb) < 200 {
			mb = append(mb, strconv.Itoa(d.B))
		}
	}
	v.MarksA, v.MarksB = strings.Join(ma, ","), strings.Join(mb, ",")
	if len(cmp.Differences) > 0 {
		v.FirstA, v.FirstB = cmp.Differences[0].A, cmp.Differences[0].B
	}
	s.render(w, r, "compare.html", v)
}

// signaling returns the events of a run that are not Janus's own (transport
// evh), and for each its number in the run's ladder.
func signaling(evs []*schema.Event) ([]*schema.Event, []int) {
	out := make([]*schema.Event, 0, len(evs))
	var n []int
	for i, ev := range evs {
		if ev.Transport != schema.EVH {
			out = append(out, ev)
			n = append(n, i+1)
		}
	}
	return out, n
}

// ladderN maps a message number of the comparison (from 1; 0 for none) to
// the ladder's.
func ladderN(n []int, i int) int {
	if i <= 0 || i > len(n) {
		return 0
	}
	return n[i-1]
}
