package store

import (
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/janustap/janustap/schema"
)

// Item is one message of the event stream.
type Item struct {
	// StreamSeq is the message's JetStream stream sequence, from 1.
	StreamSeq uint64
	// Event is the decoded event; nil means Apply decodes Raw.
	Event *schema.Event
	// Raw is the event as schema.Encode wrote it, stored as it is so that
	// an export reproduces the event byte for byte; nil means Apply encodes
	// Event.
	Raw []byte

	// What Prepare made: the arguments of the item's events row, or why
	// the item is not an event.
	row []driver.NamedValue
	err error
}

// Prepare does the part of Apply's work on the item that needs no
// database, so that a caller can do it on another goroutine than the one
// that applies: it decodes Raw (or encodes Event) and makes the arguments
// of the item's events row, except for the columns that correlation fills.
// The item must not change afterwards. Apply prepares the items that are
// not prepared.
func (it *Item) Prepare() {
	ev, raw, err := it.decode()
	if err != nil {
		it.row, it.err = nil, err
		return
	}
	it.Event, it.Raw, it.err = ev, raw, nil
	it.row = appendEventRow(it.row[:0], it.StreamSeq, ev, raw)
}

// prepared returns what Prepare makes of the item, with the row in a.row
// (a copy: the item's stays as Prepare made it), making it when the item is
// not prepared.
func (a *applier) prepared(it *Item) (*schema.Event, error) {
	switch {
	case it.err != nil:
		return nil, it.err
	case it.row != nil:
		a.row = append(a.row[:0], it.row...)
		return it.Event, nil
	}
	ev, raw, err := it.decode()
	if err != nil {
		return nil, err
	}
	a.row = appendEventRow(a.row[:0], it.StreamSeq, ev, raw)
	return ev, nil
}

// decode returns the item's event and encoding, making the missing one.
func (it *Item) decode() (*schema.Event, []byte, error) {
	ev, raw := it.Event, it.Raw
	switch {
	case ev == nil && raw == nil:
		return nil, nil, errors.New("item has neither event nor encoding")
	case ev == nil:
		var err error
		if ev, err = schema.Decode(raw); err != nil {
			return nil, nil, err
		}
	case raw == nil:
		if ev.V > schema.Version {
			return nil, nil, fmt.Errorf("event %s: version %d: %w", ev.ID, ev.V, schema.ErrUnknownVersion)
		}
		var err error
		if raw, err = schema.Encode(ev); err != nil {
			return nil, nil, err
		}
	}
	if ev.ID == "" {
		return nil, nil, errors.New("event has no id")
	}
	return ev, raw, nil
}
