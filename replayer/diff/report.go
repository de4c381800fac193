package diff

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Change says how a message of one run differs from its counterpart.
type Change string

// The changes.
const (
	Changed Change = "changed" // both runs have the message; a value differs
	Missing Change = "missing" // only the captured run (A) has the message
	Extra   Change = "extra"   // only the new run (B) has the message
)

// Report is the result of Compare. Its JSON form (encoding/json) has stable,
// snake_case field names.
type Report struct {
	// Same is set when the runs have no Differences. NeedsMedia may still
	// list events.
	Same bool `json:"same"`
	// FirstDivergence is the first of Differences, nil when Same.
	FirstDivergence *Difference `json:"first_divergence,omitempty"`
	// Differences are in the order of run A: by message, then most telling
	// path first (janus, error codes, status). A message only in B comes
	// after the message of A that its predecessor matched.
	Differences []Difference `json:"differences"`
	// NeedsMedia notes the differences in messages that only come with real
	// media (webrtcup, media, slowlink, hangups on ICE or DTLS failure), which
	// a replay without a peer cannot reproduce. They are not Differences
	// unless Options.CompareMedia is set.
	NeedsMedia []Note `json:"needs_media"`
	// Racing notes the messages present in one run only that race the
	// destroy of their session (a detach's detached event, a teardown
	// event, without transaction, in a session the client destroys): Janus
	// sends or drops them depending on timing, so they are not differences.
	Racing []Note `json:"racing_destroy"`
	// RefusalRace notes Janus's refusals of an answer racing the hangup of
	// its handle's PeerConnection that differ only in which of the two
	// codes Janus gave: 465 "Error processing SDP" in one run, 469
	// "Unexpected ANSWER (did we offer?)" in the other. Which one depends
	// on how far the hangup had got when the answer came, so they are not
	// differences; each run must have the refusal and the hangup.
	RefusalRace []Note `json:"refusal_race,omitempty"`
	// Matched counts the messages paired across the runs; OnlyA and OnlyB
	// count those without counterpart, media-dependent ones included.
	Matched int `json:"matched"`
	OnlyA   int `json:"only_a"`
	OnlyB   int `json:"only_b"`
	// MessagesA and MessagesB count the messages compared in each run;
	// SkippedA and SkippedB count the events left out as transport noise
	// (long-poll GETs and their keepalives, CORS preflights, WebSocket opens
	// and closes, tap failures).
	MessagesA int `json:"messages_a"`
	MessagesB int `json:"messages_b"`
	SkippedA  int `json:"skipped_a"`
	SkippedB  int `json:"skipped_b"`
}

// Difference is one difference between the runs.
type Difference struct {
	// Index is the message's number in run A, counting events from 1 as
	// they were given to Compare; for an Extra message, its number in run B.
	Index int `json:"index"`
	// IndexB is the message's number in run B; 0 when Missing.
	IndexB int    `json:"index_b,omitempty"`
	Kind   Change `json:"kind"`
	// Path names the value that differs, as a JSON path into the normalised
	// message: plugindata.data.error_code, jsep.sdp.m[0].codecs.
	// http.status, http.method and http.path name the HTTP status of a
	// response and the method and path of a request. Empty for a Missing or
	// Extra message.
	Path string `json:"path,omitempty"`
	// A and B are the normalised values in the captured and the new run, as
	// compact JSON, except that placeholders are written bare ($S1 for an id
	// that was a number, "$S1" for one that was a string). Empty means
	// absent from that run. For a Missing message A is the whole message,
	// for an Extra one B is.
	A string `json:"a,omitempty"`
	B string `json:"b,omitempty"`
	// Transaction and Janus are the normalised transaction and the janus
	// type of the message in run A (in run B when only B has it).
	Transaction string `json:"transaction,omitempty"`
	Janus       string `json:"janus,omitempty"`
	// Timing is set when the difference involves a timer: a timeout event,
	// or a "no such session" error after one.
	Timing bool `json:"timing,omitempty"`
}

// Note is a difference in a message that needs media, reported apart.
type Note struct {
	Index  int    `json:"index,omitempty"`   // in run A; 0 when only in B
	IndexB int    `json:"index_b,omitempty"` // in run B; 0 when only in A
	Kind   Change `json:"kind"`
	Janus  string `json:"janus"`
	// Sender is the normalised handle the event came from.
	Sender string `json:"sender,omitempty"`
	// Reason is the reason of a hangup.
	Reason string `json:"reason,omitempty"`
	// Path, A and B are the first value that differs, when Changed.
	Path string `json:"path,omitempty"`
	A    string `json:"a,omitempty"`
	B    string `json:"b,omitempty"`
}

// maxTextValue is the length in runes beyond which WriteText cuts a value.
const maxTextValue = 120

// WriteText writes r for a terminal: a header line ("runs match", or "runs
// differ: first divergence at message N ..."), one line per difference, a
// count, and a line for the events that need media.
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	switch {
	case r.Same:
		fmt.Fprintf(&b, "runs match: %d messages matched\n", r.Matched)
	case r.FirstDivergence != nil:
		b.WriteString("runs differ: first divergence at " + describe(*r.FirstDivergence) + "\n")
	default:
		b.WriteString("runs differ\n")
	}
	for _, d := range r.Differences {
		b.WriteString("  " + describe(d) + "\n")
	}
	if !r.Same {
		fmt.Fprintf(&b, "%s; %d matched, %d only in captured run, %d only in new run\n",
			plural(len(r.Differences), "difference"), r.Matched, r.OnlyA, r.OnlyB)
	}
	if len(r.NeedsMedia) > 0 {
		var types []string
		for _, n := range r.NeedsMedia {
			if !slices.Contains(types, n.Janus) {
				types = append(types, n.Janus)
			}
		}
		fmt.Fprintf(&b, "needs media: %s (%s), not compared\n", plural(len(r.NeedsMedia), "event"), strings.Join(types, ", "))
	}
	if len(r.Racing) > 0 {
		var types []string
		for _, n := range r.Racing {
			if !slices.Contains(types, n.Janus) {
				types = append(types, n.Janus)
			}
		}
		fmt.Fprintf(&b, "racing destroy: %s (%s) in one run only, racing their session's destroy; not compared\n", plural(len(r.Racing), "event"), strings.Join(types, ", "))
	}
	if len(r.RefusalRace) > 0 {
		fmt.Fprintf(&b, "refusal race: %s of an answer racing its handle's hangup, with 465 in one run and 469 in the other (which one depends on how far Janus's hangup had got); not compared\n", plural(len(r.RefusalRace), "refusal"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// describe writes one difference on one line.
func describe(d Difference) string {
	var b strings.Builder
	if d.Kind == Extra {
		b.WriteString("new ")
	}
	b.WriteString("message " + strconv.Itoa(d.Index))
	var tags []string
	if d.Janus != "" {
		tags = append(tags, "janus="+d.Janus)
	}
	if d.Transaction != "" {
		tags = append(tags, "tx="+d.Transaction)
	}
	if d.Kind == Changed && d.IndexB != d.Index {
		tags = append(tags, "new="+strconv.Itoa(d.IndexB))
	}
	if len(tags) > 0 {
		b.WriteString(" (" + strings.Join(tags, " ") + ")")
	}
	switch d.Kind {
	case Missing:
		b.WriteString(": missing from new run: " + cut(d.A))
	case Extra:
		b.WriteString(": not in captured run: " + cut(d.B))
	default:
		path := d.Path
		if path == "" {
			path = "body"
		}
		b.WriteString(": " + path + ": captured " + textValue(d.A) + " → new " + textValue(d.B))
	}
	if d.Timing {
		b.WriteString(" [timing]")
	}
	return b.String()
}

func textValue(v string) string {
	if v == "" {
		return "(absent)"
	}
	return cut(v)
}

// cut shortens v to maxTextValue runes.
func cut(v string) string {
	if utf8.RuneCountInString(v) <= maxTextValue {
		return v
	}
	r := []rune(v)
	return string(r[:maxTextValue-1]) + "…"
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
