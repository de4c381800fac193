package webui

import (
	"fmt"
	"strings"

	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/recorder/verdict"
	"github.com/janustap/janustap/schema"
)

// lane is a column of the ladder.
type lane struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	Kind  string `json:"kind"` // "client", "tap", "janus", "plugin"
}

// row is one message of the ladder, with short keys: a session of 10 000
// messages is sent whole.
type row struct {
	N     int    `json:"n"`               // number in the timeline, from 1 (as `janustap show` and why count)
	Seq   uint64 `json:"seq"`             // stream sequence, for the detail pane
	ID    string `json:"id"`              // event id
	T     int64  `json:"t"`               // time, Unix µs
	Dir   string `json:"dir"`             // c2g or g2c
	Tr    string `json:"tr"`              // transport
	Kind  string `json:"kind"`            // event kind
	From  int    `json:"from"`            // lane index of the sender
	To    int    `json:"to"`              // lane index of the receiver
	Label string `json:"label"`           // what the arrow says
	Tx    string `json:"tx,omitempty"`    // Janus transaction
	RQ    uint64 `json:"rq,omitempty"`    // stream sequence of the request of its transaction (its own for a request)
	Since int64  `json:"since,omitempty"` // µs since that request
	H     uint64 `json:"h,omitempty"`     // handle
	Note  string `json:"note,omitempty"`  // error, status, close code
	Err   bool   `json:"err,omitempty"`   // an error of any kind
	Fold  string `json:"fold,omitempty"`  // "keepalive" or "poll": folded into counts
}

// ladder is what the session page draws.
type ladder struct {
	Gateway string           `json:"gateway"`
	Session uint64           `json:"session"`
	Lanes   []lane           `json:"lanes"`
	Rows    []row            `json:"rows"`
	Verdict *verdict.Verdict `json:"verdict"`
	LastSeq uint64           `json:"last_seq"`
}

// buildLadder lays the facts of a session out as a ladder: a lane per
// client connection, then janustap, Janus, and a lane per handle (its
// plugin).
func buildLadder(f *verdict.Facts) *ladder {
	l := &ladder{Gateway: f.Gateway, Session: f.SessionID, Rows: make([]row, 0, len(f.Timeline)), Verdict: verdict.Judge(f)}
	var clients []string
	var handles []uint64
	plugins := map[uint64]string{}
	if f.Session != nil {
		for _, h := range f.Session.Handles {
			handles = append(handles, h.ID)
			plugins[h.ID] = h.Plugin
		}
	}
	seenClient := map[string]bool{}
	seenHandle := map[uint64]bool{}
	for _, h := range handles {
		seenHandle[h] = true
	}
	for i := range f.Timeline {
		e := &f.Timeline[i]
		if !seenClient[e.Conn] && e.Transport != schema.EVH { // Janus's events come over POSTs of its own
			seenClient[e.Conn] = true
			clients = append(clients, e.Conn)
		}
		if e.HandleID != 0 && !seenHandle[e.HandleID] {
			seenHandle[e.HandleID] = true
			handles = append(handles, e.HandleID)
		}
		if e.HandleID != 0 && plugins[e.HandleID] == "" && e.Plugin != "" {
			plugins[e.HandleID] = e.Plugin
		}
	}
	laneOf := map[string]int{}
	for _, c := range clients {
		laneOf["c:"+c] = len(l.Lanes)
		l.Lanes = append(l.Lanes, lane{ID: "c:" + c, Label: "client " + c, Kind: "client"})
	}
	tapLane, janusLane := len(l.Lanes), len(l.Lanes)+1
	l.Lanes = append(l.Lanes, lane{ID: "tap", Label: "janustap", Kind: "tap"}, lane{ID: "janus", Label: "Janus", Kind: "janus"})
	for _, h := range handles {
		laneOf[fmt.Sprint("h:", h)] = len(l.Lanes)
		p := strings.TrimPrefix(plugins[h], "janus.plugin.")
		if p == "" {
			p = "handle"
		}
		l.Lanes = append(l.Lanes, lane{ID: fmt.Sprint("h:", h), Label: fmt.Sprintf("%s %d", p, h), Kind: "plugin"})
	}
	// Requests of keepalives, to fold their acks with them.
	keepalive := map[uint64]bool{}
	for i := range f.Timeline {
		e := &f.Timeline[i]
		client := laneOf["c:"+e.Conn]
		gw := janusLane
		if h, ok := laneOf[fmt.Sprint("h:", e.HandleID)]; ok && e.HandleID != 0 {
			gw = h
		}
		r := row{N: i + 1, Seq: e.StreamSeq, ID: e.ID, T: e.Time.UnixMicro(), Dir: string(e.Direction), Tr: string(e.Transport),
			Kind: string(e.Kind), Tx: e.Transaction, RQ: e.RequestSeq, H: e.HandleID, Since: e.SinceRequest.Microseconds()}
		switch {
		case e.Transport == schema.EVH:
			// Janus's own account, from its event handler: from the handle
			// (or Janus) to janustap.
			r.From, r.To = gw, tapLane
		case e.Kind == schema.Failure:
			r.From, r.To = tapLane, client
		case e.Direction == schema.ToGateway:
			r.From, r.To = client, gw
			if e.Kind == schema.Close || e.Kind == schema.Open {
				r.To = tapLane
			}
		default:
			r.From, r.To = gw, client
			if e.Kind == schema.Close {
				r.From = tapLane
			}
		}
		r.Label = label(e)
		var notes []string
		if e.Status != 0 && e.Status != 200 {
			notes = append(notes, fmt.Sprint("HTTP ", e.Status))
		}
		if e.ErrorCode != 0 {
			notes = append(notes, fmt.Sprintf("error %d %s", e.ErrorCode, e.ErrorReason))
			r.Err = true
		}
		if e.PluginError != 0 {
			notes = append(notes, fmt.Sprintf("plugin error %d", e.PluginError))
			r.Err = true
		}
		if e.CloseCode != 0 {
			notes = append(notes, fmt.Sprint("close ", e.CloseCode))
		}
		if e.Error != "" {
			notes = append(notes, e.Error)
			r.Err = r.Err || e.Kind == schema.Failure
		}
		if e.Status >= 400 {
			r.Err = true
		}
		r.Note = strings.Join(notes, "; ")
		switch {
		case e.Direction == schema.ToGateway && e.Janus == "keepalive":
			r.Fold = "keepalive"
			keepalive[e.StreamSeq] = true
		case e.Direction == schema.ToClient && e.Janus == "ack" && keepalive[e.RequestSeq]:
			r.Fold = "keepalive"
		case e.Kind == schema.Request && e.Method == "GET" && e.Janus == "":
			r.Fold = "poll"
		case e.Kind == schema.PollEvent && e.Janus == "keepalive":
			r.Fold = "poll"
		case e.Transport == schema.EVH && e.Janus == "stats":
			r.Fold = "stats"
		}
		l.Rows = append(l.Rows, r)
		l.LastSeq = max(l.LastSeq, e.StreamSeq)
	}
	return l
}

// label is what an arrow says: the Janus type, the plugin data in short
// form, the jsep.
func label(e *store.TimelineEntry) string {
	if e.Transport == schema.EVH {
		return strings.TrimSpace("Janus: " + e.Janus + " " + e.Detail)
	}
	parts := []string{}
	switch {
	case e.Janus != "":
		parts = append(parts, e.Janus)
	case e.Kind == schema.Request:
		parts = append(parts, e.Method+" "+e.Path)
	default:
		parts = append(parts, string(e.Kind))
	}
	if p := e.PluginShort(); p != "" {
		parts = append(parts, p)
	}
	if e.HasJSEP {
		parts = append(parts, "jsep "+e.JSEP)
	}
	return strings.Join(parts, " · ")
}
