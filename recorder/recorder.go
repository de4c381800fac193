// Package recorder is janustap's capture side, wired together: the tap in
// front of Janus, the local spool every event is written to before its
// message is forwarded, the shipper that publishes the spool to NATS
// JetStream (an embedded server by default), and the SQLite projection of
// the log.
//
// Its subpackages are the four stages a message passes through: tap (the
// proxy), spool (the local file), bus (JetStream) and store (SQLite); beside
// them evh (Janus's own events, spooled like the tap's), the wiring (health,
// metrics, lockfile), and what reads the projection (verdict, webui).
//
// It may import its subpackages but verdict and webui, schema and nats.go;
// never the replayer.
package recorder

import (
	"fmt"

	"github.com/janustap/janustap/recorder/metrics"
	"github.com/janustap/janustap/recorder/spool"
	"github.com/janustap/janustap/recorder/tap"
	"github.com/janustap/janustap/schema"
)

// SpoolEmitter writes every event the tap makes to the spool, encoded, before
// the tap forwards its message.
type SpoolEmitter struct {
	Spool *spool.Spool
}

var _ tap.Emitter = SpoolEmitter{}

// Emit encodes ev and appends it to the spool.
func (e SpoolEmitter) Emit(ev *schema.Event) error {
	b, err := schema.Encode(ev)
	if err != nil {
		return err
	}
	if _, err := e.Spool.Append(b); err != nil {
		return fmt.Errorf("spool event %s: %w", ev.ID, err)
	}
	return nil
}

// observingEmitter hands every event to next (the spool) and then counts it
// in the metrics, whether or not the spool took it.
type observingEmitter struct {
	next    tap.Emitter
	metrics *metrics.Metrics
}

func (e observingEmitter) Emit(ev *schema.Event) error {
	err := e.next.Emit(ev)
	e.metrics.Observe(ev)
	return err
}
