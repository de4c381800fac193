package verdict

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/schema"
)

// NoProblem is the summary of a verdict without findings.
const NoProblem = "no problem found"

// Severity says how bad a finding is.
type Severity string

// The severities.
const (
	Error   Severity = "error"   // the call failed, or part of it
	Warning Severity = "warning" // something went wrong that may explain a complaint
)

// Evidence is one message that shows a finding.
type Evidence struct {
	N       int       `json:"n"` // number of the message in the session's timeline, from 1
	EventID string    `json:"event_id"`
	Seq     uint64    `json:"stream_seq"`
	Time    time.Time `json:"time"`
	What    string    `json:"what"` // the message in one line
}

// Finding is what one rule found.
type Finding struct {
	Rule     string     `json:"rule"`
	Severity Severity   `json:"severity"`
	Cause    string     `json:"cause"`
	Detail   string     `json:"detail,omitempty"`
	HandleID uint64     `json:"handle_id,omitempty"`
	Evidence []Evidence `json:"evidence"`
}

// Verdict is what the rules found about one session.
type Verdict struct {
	Gateway   string `json:"gateway"`
	SessionID uint64 `json:"session_id"`
	// Summary is the cause of the first finding, or NoProblem.
	Summary  string    `json:"summary"`
	Findings []Finding `json:"findings"`
}

// Facts are what the rules look at: one session as the store holds it.
type Facts struct {
	Gateway   string
	SessionID uint64
	// Session is nil when only admin traffic named the session; it holds
	// the handles, not the transactions (the timeline has them).
	Session  *store.SessionDetail
	Timeline []store.TimelineEntry
	// Closes are the close events of the WebSocket whose closing ended the
	// session; empty otherwise.
	Closes []store.TimelineEntry
	// Janus is Janus's own account of the session's handles, from its
	// event handler (ICE, DTLS, media); empty when Janus posted none.
	Janus []store.JanusHandleRow

	bySeq map[uint64]int // timeline index by stream sequence
}

// Load reads the facts of a session from db. It returns an error wrapping
// store.ErrNotFound when the store has no event of the session.
func Load(ctx context.Context, db *store.DB, gateway string, session uint64) (*Facts, error) {
	f := &Facts{Gateway: gateway, SessionID: session}
	d, err := db.SessionHandles(ctx, gateway, session)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	f.Session = d
	if f.Timeline, err = db.Timeline(ctx, gateway, session); err != nil {
		return nil, err
	}
	if f.Janus, err = db.JanusHandles(ctx, gateway, session); err != nil {
		return nil, err
	}
	if d != nil && d.Ended == store.EndWSClosed && d.SourceConn != "" {
		if f.Closes, err = db.ConnClose(ctx, gateway, d.SourceConn, d.EndedAt); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// Why loads the facts of a session and judges them.
func Why(ctx context.Context, db *store.DB, gateway string, session uint64) (*Verdict, error) {
	f, err := Load(ctx, db, gateway, session)
	if err != nil {
		return nil, err
	}
	return Judge(f), nil
}

// Judge runs every rule over f, in the order of Rules.
func Judge(f *Facts) *Verdict {
	v := &Verdict{Gateway: f.Gateway, SessionID: f.SessionID, Findings: []Finding{}}
	for _, r := range Rules() {
		for _, fd := range r.Check(f) {
			fd.Rule = r.Name
			v.Findings = append(v.Findings, fd)
		}
	}
	v.Summary = NoProblem
	if len(v.Findings) > 0 {
		v.Summary = v.Findings[0].Cause
	}
	return v
}

// Rule is one check of a session.
type Rule struct {
	Name string // short and stable: "plugin-error"
	// Doc says what the rule looks for, for the README and `why --rules`.
	Doc   string
	Check func(*Facts) []Finding
}

// index returns the timeline index of the event of stream sequence seq,
// or -1.
func (f *Facts) index(seq uint64) int {
	if f.bySeq == nil {
		f.bySeq = make(map[uint64]int, len(f.Timeline))
		for i := range f.Timeline {
			f.bySeq[f.Timeline[i].StreamSeq] = i
		}
	}
	if i, ok := f.bySeq[seq]; ok {
		return i
	}
	return -1
}

// at returns the evidence of timeline entry i.
func (f *Facts) at(i int) Evidence {
	e := &f.Timeline[i]
	return Evidence{N: i + 1, EventID: e.ID, Seq: e.StreamSeq, Time: e.Time, What: Describe(e)}
}

// request returns the evidence of the request of the transaction entry i
// belongs to, when the timeline holds it.
func (f *Facts) request(i int) (Evidence, bool) {
	e := &f.Timeline[i]
	if e.RequestSeq == 0 || e.RequestSeq == e.StreamSeq {
		return Evidence{}, false
	}
	j := f.index(e.RequestSeq)
	if j < 0 {
		return Evidence{}, false
	}
	return f.at(j), true
}

// outside returns the evidence of an event that is not in the timeline
// (a close of the connection).
func outside(e *store.TimelineEntry) Evidence {
	return Evidence{EventID: e.ID, Seq: e.StreamSeq, Time: e.Time, What: Describe(e)}
}

// Describe writes an event in one line: direction, transport, kind, Janus
// type and what matters of it.
func Describe(e *store.TimelineEntry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", e.Direction, e.Transport, e.Kind)
	if e.Janus != "" {
		b.WriteString(" " + e.Janus)
	} else if e.Kind == schema.Request {
		b.WriteString(" " + e.Method)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, " status=%d", e.Status)
	}
	if e.HandleID != 0 {
		fmt.Fprintf(&b, " h=%d", e.HandleID)
	}
	if e.Transaction != "" {
		b.WriteString(" tx=" + e.Transaction)
	}
	if p := e.PluginShort(); p != "" {
		b.WriteString(" " + p)
	}
	if e.HasJSEP {
		b.WriteString(" jsep=" + e.JSEP)
	}
	if e.ErrorCode != 0 {
		fmt.Fprintf(&b, " error=%d %q", e.ErrorCode, e.ErrorReason)
	}
	if e.PluginError != 0 {
		fmt.Fprintf(&b, " plugin_error=%d", e.PluginError)
	}
	if e.CloseCode != 0 {
		fmt.Fprintf(&b, " close=%d", e.CloseCode)
	}
	if e.Error != "" {
		fmt.Fprintf(&b, " %q", e.Error)
	}
	if e.Transport == schema.EVH && e.Detail != "" {
		b.WriteString(" " + e.Detail)
	}
	if e.Direction == schema.ToClient {
		switch e.Janus {
		case "media", "slowlink", "hangup":
			b.WriteString(mediaWhat(e.Body))
		}
	}
	return b.String()
}

// mediaWhat writes what a media, slowlink or hangup event of Janus says:
// the mid, receiving, uplink, lost, reason.
func mediaWhat(body []byte) string {
	var m struct {
		mediaEvent
		Reason string `json:"reason"`
	}
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	var b strings.Builder
	if m.Mid != "" {
		fmt.Fprintf(&b, " mid=%s", m.Mid)
	}
	if media := cmpOr(m.Media, m.Type); media != "" {
		b.WriteString(" " + media)
	}
	if m.Receiving != nil {
		fmt.Fprintf(&b, " receiving=%t", *m.Receiving)
	}
	if m.Uplink != nil {
		fmt.Fprintf(&b, " uplink=%t lost=%d", *m.Uplink, m.Lost)
	}
	if m.Reason != "" {
		fmt.Fprintf(&b, " reason=%q", m.Reason)
	}
	return b.String()
}

// pluginErrorText returns the "error" of a plugin's data in a body.
func pluginErrorText(body []byte) string {
	var m struct {
		PluginData struct {
			Data struct {
				Error string `json:"error"`
			} `json:"data"`
		} `json:"plugindata"`
	}
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	return m.PluginData.Data.Error
}

// hangupReason returns the reason of a hangup event's body.
func hangupReason(body []byte) string {
	var m struct {
		Reason string `json:"reason"`
	}
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	return m.Reason
}

// WriteText writes v for a person: the summary, then each finding with
// its evidence.
func WriteText(w io.Writer, v *Verdict) error {
	var b strings.Builder
	fmt.Fprintf(&b, "session %d of %s: %s\n", v.SessionID, v.Gateway, v.Summary)
	for _, fd := range v.Findings {
		fmt.Fprintf(&b, "\n%s %s: %s\n", fd.Severity, fd.Rule, fd.Cause)
		if fd.Detail != "" {
			fmt.Fprintf(&b, "  %s\n", fd.Detail)
		}
		for _, e := range fd.Evidence {
			n := "  -"
			if e.N != 0 {
				n = fmt.Sprintf("#%d", e.N)
			}
			fmt.Fprintf(&b, "  %5s %s %s %s\n", n, e.Time.UTC().Format("15:04:05.000"), e.EventID, e.What)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
