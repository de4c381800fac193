package store

import (
	"fmt"
	"slices"

	"github.com/janustap/janustap/schema"
)

// candidatesKept is how many of the latest requests with one transaction
// string are candidates for a reply or event carrying it. Clients make
// transactions unique (janus.js: 12 random letters) but Janus does not
// check, so a reused string must not make the search unbounded. The same
// bound applies whether the requests are in the batch or in the database,
// so that how the stream is cut into batches never changes a result.
const candidatesKept = 32

// newTx records a request.
func (a *applier) newTx(seq int64, ev *schema.Event, j *schema.Janus, h *handleRow) {
	t := &txRow{txRequest: txRequest{seq: seq, id: ev.ID, gateway: ev.Gateway, tx: j.Transaction,
		transport: ev.Transport, conn: ev.Conn, janus: j.Janus, plugin: j.Plugin, opaqueID: j.OpaqueID, jsep: j.JSEP,
		requestAt: ev.Time.UnixMicro(), requestTap: ev.Tap, requestMono: ev.Mono},
		txAnswer: txAnswer{session: j.SessionID, handle: j.HandleID}, isNew: true}
	if t.plugin == "" && h != nil {
		t.plugin = h.plugin
	}
	if j.PluginKey == "request" {
		t.request = j.PluginValue
	}
	a.txs[seq] = a.useTx(t)
	a.txIDs[ev.ID] = seq
	if t.tx != "" {
		l := a.txKeys[txKey{ev.Gateway, t.tx}]
		if l == nil {
			l = &txList{}
			a.txKeys[txKey{ev.Gateway, t.tx}] = l
		}
		l.rows = append(l.rows, t)
		if n := len(l.rows); n > 2*candidatesKept {
			// Only the latest are candidates; older ones, if ever
			// needed, come back from the database when the list loads.
			l.rows = append(l.rows[:0], l.rows[n-candidatesKept:]...)
		}
	}
}

// txBySeq returns the transaction of the request with stream seq seq, or nil.
func (a *applier) txBySeq(seq int64) (*txRow, error) {
	if t, ok := a.txs[seq]; ok {
		return a.useTx(t), nil
	}
	t := &txRow{}
	found, err := a.getTx.queryRow(a.ctx, []any{seq}, func(r scanner) error { return scanTx(r, t) })
	if err != nil {
		return nil, fmt.Errorf("read transaction of request %d: %w", seq, err)
	}
	if found {
		t.orig = t.txAnswer
	} else {
		t = nil
	}
	a.txs[seq] = t
	return a.useTx(t), nil
}

// txByID returns the transaction whose request is the event id, or nil: the
// HTTP request an HTTP response or failure answers.
func (a *applier) txByID(id string) (*txRow, error) {
	seq, ok := a.txIDs[id]
	if !ok {
		_, err := a.getEventID.queryRow(a.ctx, []any{id}, func(r scanner) error { return r.Scan(nInt(&seq)) })
		if err != nil {
			return nil, fmt.Errorf("find request %s: %w", id, err)
		}
		a.txIDs[id] = seq
	}
	if seq == 0 {
		return nil, nil
	}
	return a.txBySeq(seq)
}

// candidates returns the latest requests that carried transaction tx, in
// stream order.
func (a *applier) candidates(gw, tx string) ([]*txRow, error) {
	k := txKey{gw, tx}
	l := a.txKeys[k]
	if l == nil {
		l = &txList{}
		a.txKeys[k] = l
	}
	if !l.loaded {
		var seqs []int64
		err := a.getTxByKey.run(a.ctx, []any{gw, tx}, func(r valueRow) error {
			var seq int64
			if err := r.Scan(nInt(&seq)); err != nil {
				return err
			}
			seqs = append(seqs, seq)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("find requests of transaction %q: %w", tx, err)
		}
		// The events table has the requests of the batch too: they are in
		// l.rows already.
		seqs = slices.DeleteFunc(seqs, func(seq int64) bool {
			return slices.ContainsFunc(l.rows, func(t *txRow) bool { return t.seq == seq })
		})
		slices.Sort(seqs)
		if len(seqs) > candidatesKept {
			seqs = seqs[len(seqs)-candidatesKept:]
		}
		old := make([]*txRow, 0, len(seqs)+len(l.rows))
		for _, seq := range seqs {
			t, err := a.txBySeq(seq) // the row in memory when the batch has read it
			if err != nil {
				return nil, err
			}
			if t != nil {
				old = append(old, t)
			}
		}
		// The rows of the batch are all newer than those before it.
		l.rows = append(old, l.rows...)
		l.loaded = true
	}
	if n := len(l.rows); n > candidatesKept {
		return l.rows[n-candidatesKept:], nil
	}
	return l.rows, nil
}

// batchCandidates returns the candidates for transaction tx among the
// requests of the batch, before the database is read: the latest of them,
// all newer than those in the database.
func (a *applier) batchCandidates(gw, tx string) []*txRow {
	l := a.txKeys[txKey{gw, tx}]
	if l == nil || l.loaded {
		return nil // when loaded, candidates has them all
	}
	if n := len(l.rows); n > candidatesKept {
		return l.rows[n-candidatesKept:]
	}
	return l.rows
}

// wsReplyTo returns the request a WebSocket reply answers: the latest
// request on the same connection with its transaction that has no reply
// yet, else the latest one.
func (a *applier) wsReplyTo(ev *schema.Event, j *schema.Janus) (*txRow, error) {
	// The requests of the batch are newer than those in the database: when
	// one of them is the answer, the database need not be read.
	for _, c := range slices.Backward(a.batchCandidates(ev.Gateway, j.Transaction)) {
		if c.conn == ev.Conn && c.replySeq == 0 {
			return c, nil
		}
	}
	cands, err := a.candidates(ev.Gateway, j.Transaction)
	if err != nil {
		return nil, err
	}
	var latest *txRow
	for i := len(cands) - 1; i >= 0; i-- {
		c := cands[i]
		if c.conn != ev.Conn {
			continue
		}
		if c.replySeq == 0 {
			return c, nil
		}
		if latest == nil {
			latest = c
		}
	}
	return latest, nil
}

// eventOf returns the request an asynchronous event carrying a transaction
// belongs to: the latest request of the same API with that transaction, on
// the event's session and handle. The event may come on another connection
// (an HTTP long poll, a WebSocket that claimed the session) and before the
// request's ack.
func (a *applier) eventOf(ev *schema.Event, j *schema.Janus) (*txRow, error) {
	admin := ev.Transport.IsAdmin()
	match := func(c *txRow) bool {
		return c.transport.IsAdmin() == admin &&
			(j.SessionID == 0 || c.session == j.SessionID) &&
			(j.Sender == 0 || c.handle == 0 || c.handle == j.Sender)
	}
	for _, c := range slices.Backward(a.batchCandidates(ev.Gateway, j.Transaction)) {
		if match(c) {
			return c, nil // newer than any in the database
		}
	}
	cands, err := a.candidates(ev.Gateway, j.Transaction)
	if err != nil {
		return nil, err
	}
	for _, c := range slices.Backward(cands) {
		if match(c) {
			return c, nil
		}
	}
	return nil, nil
}
