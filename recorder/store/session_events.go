package store

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/janustap/janustap/schema"
)

// wsLookaround is how far before the first event of a session and after its
// last DB.SessionEvents looks for the opening and closing of the WebSockets
// that carried it. A WebSocket opened earlier comes without its Open event.
const wsLookaround = time.Hour

// SessionEvents returns the events of evs, in their order, that belong to
// the sessions ids: the events naming a session (the answer that created
// it and the create request it answers too, admin API and Janus's own
// events naming it) or one of its handles, and the Open and Close events of
// the WebSockets that carried them. evs should be one gateway's: ids are
// the gateway's. DB.SessionEvents applies the same rule to the store.
func SessionEvents(evs []*schema.Event, ids ...uint64) []*schema.Event {
	m := newSessionMatch(ids)
	for _, ev := range evs {
		m.learn(ev)
	}
	var out []*schema.Event
	for _, ev := range evs {
		if m.match(ev) {
			out = append(out, ev)
		}
	}
	return out
}

// sessionMatch is the rule of SessionEvents: it learns the handles, creates
// and WebSockets of the sessions from their events, then matches events.
type sessionMatch struct {
	sessions  map[uint64]bool
	handles   map[uint64]bool
	createReq map[string]bool    // ids of the create requests (HTTP)
	createTx  map[string]bool    // tap, conn and transaction of the create requests (WebSocket)
	conns     map[string]*wsSpan // the WebSockets that carried the sessions, by tap and conn
}

// wsSpan is when a WebSocket carried a session's events.
type wsSpan struct {
	tr          schema.Transport
	first, last time.Time
}

func newSessionMatch(ids []uint64) *sessionMatch {
	m := &sessionMatch{sessions: map[uint64]bool{}, handles: map[uint64]bool{}, createReq: map[string]bool{},
		createTx: map[string]bool{}, conns: map[string]*wsSpan{}}
	for _, id := range ids {
		if id != 0 {
			m.sessions[id] = true
		}
	}
	return m
}

func connKey(ev *schema.Event) string { return ev.Tap + "\x00" + ev.Conn }

// learn notes what ev says of the sessions: the answer to their create, and
// their handles and WebSockets.
func (m *sessionMatch) learn(ev *schema.Event) {
	j := ev.Janus
	if j == nil {
		return
	}
	created := j.Janus == "success" && j.DataID != 0 && m.sessions[j.DataID]
	if created {
		if ev.Parent != "" {
			m.createReq[ev.Parent] = true
		}
		m.createTx[connKey(ev)+"\x00"+j.Transaction] = true
	}
	if !created && !m.sessions[j.SessionID] {
		return
	}
	if h := ev.HandleID(); h != 0 {
		m.handles[h] = true
	}
	if !created && j.Janus == "success" && j.DataID != 0 {
		m.handles[j.DataID] = true // an attach answer names the new handle
	}
	if ev.Transport.IsWS() {
		if s := m.conns[connKey(ev)]; s == nil {
			m.conns[connKey(ev)] = &wsSpan{ev.Transport, ev.Time, ev.Time}
		} else {
			s.first, s.last = minTime(s.first, ev.Time), maxTime(s.last, ev.Time)
		}
	}
}

// match reports whether ev belongs to the sessions, given what was learnt.
func (m *sessionMatch) match(ev *schema.Event) bool {
	if ev.Kind == schema.Open || ev.Kind == schema.Close {
		return m.conns[connKey(ev)] != nil
	}
	if m.createReq[ev.ID] {
		return true
	}
	j := ev.Janus
	if j == nil {
		return false
	}
	return m.sessions[j.SessionID] ||
		j.DataID != 0 && m.sessions[j.DataID] ||
		j.Janus == "create" && m.createTx[connKey(ev)+"\x00"+j.Transaction] ||
		m.handles[ev.HandleID()]
}

// SessionEvents returns the events of session id of gateway gw, in stream
// order, by the rule of the function SessionEvents: it reads the events the
// store linked to the session and its handles, and the Open and Close events
// within wsLookaround of them, and keeps those the rule selects. The error
// wraps ErrNotFound when there are none.
func (db *DB) SessionEvents(ctx context.Context, gw string, id uint64) ([]RawEvent, error) {
	filters := []EventFilter{{Gateway: gw, SessionID: id}}
	d, err := db.SessionHandles(ctx, gw, id)
	switch {
	case err == nil:
		for _, h := range d.Handles {
			filters = append(filters, EventFilter{Gateway: gw, HandleID: h.ID})
		}
	case !errors.Is(err, ErrNotFound):
		return nil, err
	}
	type candidate struct {
		raw RawEvent
		ev  *schema.Event
	}
	var cands []candidate
	seen := map[uint64]bool{}
	read := func(f EventFilter, want func(RawEvent) bool) error {
		for e, err := range db.Events(ctx, f) {
			if err != nil {
				return err
			}
			if seen[e.StreamSeq] || !want(e) {
				continue
			}
			ev, err := schema.Decode(e.Raw)
			if err != nil {
				return fmt.Errorf("read event %s: %w", e.ID, err)
			}
			seen[e.StreamSeq] = true
			cands = append(cands, candidate{e, ev})
		}
		return nil
	}
	all := func(RawEvent) bool { return true }
	for _, f := range filters {
		if err := read(f, all); err != nil {
			return nil, err
		}
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("session %d of %s: %w", id, gw, ErrNotFound)
	}
	m := newSessionMatch([]uint64{id})
	for _, c := range cands {
		m.learn(c.ev)
	}
	// The Open and Close events name no session: look for them around the
	// session's events on each WebSocket.
	openClose := func(e RawEvent) bool {
		return bytes.Contains(e.Raw, []byte(`"open"`)) || bytes.Contains(e.Raw, []byte(`"close"`))
	}
	for _, s := range m.conns {
		for _, f := range []EventFilter{
			{Gateway: gw, Transport: s.tr, From: s.first.Add(-wsLookaround), To: s.first.Add(time.Microsecond)},
			{Gateway: gw, Transport: s.tr, From: s.last, To: s.last.Add(wsLookaround)},
		} {
			if err := read(f, openClose); err != nil {
				return nil, err
			}
		}
	}
	var out []RawEvent
	for _, c := range cands {
		if m.match(c.ev) {
			out = append(out, c.raw)
		}
	}
	slices.SortFunc(out, func(a, b RawEvent) int { return cmp.Compare(a.StreamSeq, b.StreamSeq) })
	return out, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
