package store

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/janustap/janustap/schema"
)

// timeLayout is how the text output writes times: UTC, to the millisecond.
const timeLayout = "2006-01-02 15:04:05.000"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(timeLayout)
}

// fmtMs writes d in milliseconds with three decimals: "12.345ms".
func fmtMs(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64) + "ms"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WriteSessions writes sessions as a table for a person, one line each.
func WriteSessions(w io.Writer, sessions []SessionRow) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "GATEWAY\tSESSION\tTRANSPORT\tSTARTED\tDURATION\tENDED\tHANDLES\tPLUGINS\tEVENTS\tERRORS")
	for _, s := range sessions {
		plugins := make([]string, len(s.Plugins))
		for i, p := range s.Plugins {
			plugins[i] = strings.TrimPrefix(p, "janus.plugin.")
		}
		ended := string(s.Ended)
		if ended == "" {
			ended = "open"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%d\t%s\t%d\t%d\n", orDash(s.Gateway), s.ID, s.Transport,
			fmtTime(s.Start()), s.Duration().Round(time.Millisecond), ended, s.Handles,
			orDash(strings.Join(plugins, ",")), s.Events, s.Errors)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write sessions: %w", err)
	}
	return nil
}

// timelineCells returns the columns of one timeline line, offset first.
func timelineCells(e *TimelineEntry, start time.Time) []string {
	what := e.Janus
	if what == "" && e.Method != "" && e.Kind == "request" {
		what = e.Method
	}
	var notes []string
	if e.SinceRequest != 0 {
		notes = append(notes, "after="+fmtMs(e.SinceRequest))
	}
	if e.Status != 0 && e.Status != 200 {
		notes = append(notes, "status="+strconv.Itoa(e.Status))
	}
	if e.ErrorCode != 0 {
		notes = append(notes, fmt.Sprintf("error=%d %q", e.ErrorCode, e.ErrorReason))
	}
	if e.PluginError != 0 {
		notes = append(notes, "plugin_error="+strconv.Itoa(e.PluginError))
	}
	if e.CloseCode != 0 {
		notes = append(notes, "close="+strconv.Itoa(e.CloseCode))
	}
	if e.Error != "" {
		notes = append(notes, "failure="+strconv.Quote(e.Error))
	}
	if e.Truncated {
		notes = append(notes, "truncated")
	}
	kind := string(e.Kind)
	if e.Transport == schema.EVH {
		// Janus's own event: its type in place of a direction, what it
		// says, and its time on Janus's clock.
		kind = "janus"
		if e.Detail != "" {
			notes = append([]string{e.Detail}, notes...)
		}
		if !e.JanusTime.IsZero() {
			notes = append(notes, "janus_clock="+e.JanusTime.UTC().Format("15:04:05.000000"))
		}
	}
	cells := []string{"+" + fmtMs(e.Time.Sub(start)), string(e.Direction), string(e.Transport), kind, what, "", "", e.PluginShort(), "", strings.Join(notes, "  ")}
	if e.HandleID != 0 {
		cells[5] = "h=" + strconv.FormatUint(e.HandleID, 10)
	}
	if e.Transaction != "" {
		cells[6] = "tx=" + e.Transaction
	}
	switch {
	case e.JSEP != "":
		cells[8] = "jsep=" + e.JSEP
	case e.HasJSEP:
		cells[8] = "jsep"
	}
	return cells
}

// WriteTimeline writes a timeline for a person: one aligned line per event,
// with its offset from the first, direction, transport, kind, Janus type,
// handle, transaction, plugin data in short form, jsep type and notes (the
// time since the request of its transaction, errors, HTTP status). With full,
// the body of each event follows its line, indented.
func WriteTimeline(w io.Writer, entries []TimelineEntry, full bool) error {
	bw := bufio.NewWriter(w)
	writeEntries(bw, entries, full, "")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write timeline: %w", err)
	}
	return nil
}

func writeEntries(w *bufio.Writer, entries []TimelineEntry, full bool, indent string) {
	if len(entries) == 0 {
		return
	}
	start := entries[0].Time
	rows := make([][]string, len(entries))
	var widths []int
	for i := range entries {
		rows[i] = timelineCells(&entries[i], start)
		if widths == nil {
			widths = make([]int, len(rows[i]))
		}
		for c, cell := range rows[i] {
			widths[c] = max(widths[c], len(cell))
		}
	}
	for i, cells := range rows {
		var line strings.Builder
		line.WriteString(indent)
		for c, cell := range cells {
			if widths[c] == 0 {
				continue // a column no entry uses
			}
			if c > 0 {
				line.WriteString("  ")
			}
			if c == 0 { // offsets align on the right
				line.WriteString(strings.Repeat(" ", widths[c]-len(cell)))
				line.WriteString(cell)
			} else {
				line.WriteString(cell)
				line.WriteString(strings.Repeat(" ", widths[c]-len(cell)))
			}
		}
		w.WriteString(strings.TrimRight(line.String(), " "))
		w.WriteByte('\n')
		if full {
			writeBody(w, entries[i].Body, indent+"    ")
		}
	}
}

// writeBody writes a body below its line, indented: as text when it is
// UTF-8, quoted otherwise.
func writeBody(w *bufio.Writer, body []byte, indent string) {
	if len(body) == 0 {
		return
	}
	text := string(bytes.TrimRight(body, "\r\n"))
	if !utf8.ValidString(text) {
		text = strconv.Quote(text)
	}
	for line := range strings.Lines(text) {
		w.WriteString(indent)
		w.WriteString(strings.TrimRight(line, "\r\n"))
		w.WriteByte('\n')
	}
}

// WriteTransaction writes transactions for a person: for each request, what
// it was and how it was answered, then its events as a timeline (with full,
// with bodies).
func WriteTransaction(w io.Writer, txs []TransactionDetail, full bool) error {
	bw := bufio.NewWriter(w)
	for i := range txs {
		d := &txs[i]
		t := &d.Transaction
		if i > 0 {
			bw.WriteByte('\n')
		}
		fmt.Fprintf(bw, "transaction %s  gateway %s  %s over %s  conn %s\n", strconv.Quote(t.Transaction), t.Gateway, orDash(t.Janus), t.Transport, t.Conn)
		kv := func(k, v string) {
			if v != "" {
				fmt.Fprintf(bw, "  %-9s %s\n", k, v)
			}
		}
		ids := func(id uint64) string {
			if id == 0 {
				return ""
			}
			return strconv.FormatUint(id, 10)
		}
		kv("session", ids(t.SessionID))
		kv("handle", ids(t.HandleID))
		kv("plugin", t.Plugin)
		kv("request", t.PluginRequest)
		kv("opaque_id", t.OpaqueID)
		kv("jsep", t.JSEP)
		kv("sent", fmtTime(t.RequestAt))
		if t.Reply != "" || !t.ReplyAt.IsZero() {
			reply := orDash(t.Reply) + " after " + fmtMs(t.ReplyLatency)
			if t.Status != 0 {
				reply += fmt.Sprintf(" (HTTP %d)", t.Status)
			}
			kv("reply", reply)
		}
		if !t.AckAt.IsZero() {
			kv("ack", fmtTime(t.AckAt))
		}
		if t.Events > 0 {
			kv("events", fmt.Sprintf("%d, first after %s", t.Events, fmtMs(t.EventLatency)))
		}
		result := t.Result
		if result == "" {
			result = "none"
		} else {
			result += " at " + fmtTime(t.ResultAt)
		}
		kv("result", result)
		switch {
		case t.ErrorCode != 0:
			kv("error", fmt.Sprintf("%d %q", t.ErrorCode, t.ErrorReason))
		case t.ErrorReason != "":
			kv("error", strconv.Quote(t.ErrorReason))
		}
		if t.PluginError != 0 {
			kv("plugin_error", strconv.Itoa(t.PluginError))
		}
		entries := make([]TimelineEntry, 0, 1+len(d.Replies)+len(d.Events))
		if d.Request.StreamSeq != 0 {
			entries = append(entries, d.Request)
		}
		entries = append(entries, d.Replies...)
		entries = append(entries, d.Events...)
		sortEntries(entries)
		writeEntries(bw, entries, full, "  ")
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write transaction: %w", err)
	}
	return nil
}

// sortEntries orders entries as a timeline does: by time, then stream
// sequence.
func sortEntries(es []TimelineEntry) {
	slices.SortFunc(es, func(a, b TimelineEntry) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.StreamSeq, b.StreamSeq)
	})
}
