package webui

import (
	"net/http"
	"time"

	"github.com/janustap/janustap/recorder/store"
)

// janusView is Janus's own account of a session's handles, from its event
// handler: what the session page draws under the ladder, per handle.
type janusView struct {
	Handles    []janusHandle            `json:"handles"`
	Candidates []store.JanusCandidate   `json:"candidates"`
	Stats      []store.JanusStatsSample `json:"stats"`
}

type janusHandle struct {
	ID           uint64     `json:"id"`
	Plugin       string     `json:"plugin,omitempty"`
	ICEStates    []string   `json:"ice_states"`
	ICEState     string     `json:"ice_state,omitempty"`
	SelectedPair string     `json:"selected_pair,omitempty"`
	LocalType    string     `json:"local_type,omitempty"`
	RemoteType   string     `json:"remote_type,omitempty"`
	LocalCands   int        `json:"local_candidates"`
	RemoteCands  int        `json:"remote_candidates"`
	DTLSStates   []string   `json:"dtls_states"`
	WebRTCUp     *time.Time `json:"webrtcup,omitempty"`
	Hangup       *time.Time `json:"hangup,omitempty"`
	HangupReason string     `json:"hangup_reason,omitempty"`
	Receiving    []string   `json:"receiving"`
	Slowlinks    int        `json:"slowlinks"`
	StatsEvents  int        `json:"stats_events"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// janusData answers GET /api/s/{gateway}/{id}/janus.
func (s *Server) janusData(w http.ResponseWriter, r *http.Request) {
	gw, id, db, ok := s.session(w, r)
	if !ok {
		return
	}
	hs, err := db.JanusHandles(r.Context(), gw, id)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	v := janusView{Handles: []janusHandle{}}
	for _, h := range hs {
		v.Handles = append(v.Handles, janusHandle{
			ID: h.ID, Plugin: h.Plugin, ICEStates: orEmpty(h.ICEStates), ICEState: h.ICEState,
			SelectedPair: h.SelectedPair, LocalType: h.LocalType, RemoteType: h.RemoteType,
			LocalCands: h.LocalCandidates, RemoteCands: h.RemoteCandidates, DTLSStates: orEmpty(h.DTLSStates),
			WebRTCUp: timePtr(h.WebRTCUpAt), Hangup: timePtr(h.HangupAt), HangupReason: h.HangupReason,
			Receiving: orEmpty(h.Receiving), Slowlinks: h.Slowlinks, StatsEvents: h.Stats,
		})
	}
	if v.Candidates, err = db.JanusCandidates(r.Context(), gw, id); err == nil {
		v.Stats, err = db.JanusStatsSeries(r.Context(), gw, id)
	}
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	// Empty lists, not null, for the page's script.
	if v.Candidates == nil {
		v.Candidates = []store.JanusCandidate{}
	}
	if v.Stats == nil {
		v.Stats = []store.JanusStatsSample{}
	}
	writeJSON(w, v)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
