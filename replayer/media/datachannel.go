package media

import (
	"errors"
	"fmt"
	"sync"

	"github.com/pion/webrtc/v4"
)

// ErrNoDataChannel says the peer has no data channel to send on: its
// template had no m=application.
var ErrNoDataChannel = errors.New("the peer has no data channel")

// dataChannel is what the peer sent and received on the data channel of
// its template's m=application.
type dataChannel struct {
	mu       sync.Mutex
	ch       *webrtc.DataChannel
	sent     int
	received [][]byte
	arrived  chan struct{} // closed and replaced at each message received
}

// attach keeps ch and records every message Janus sends on it.
func (d *dataChannel) attach(ch *webrtc.DataChannel) {
	d.mu.Lock()
	d.ch = ch
	d.mu.Unlock()
	ch.OnMessage(func(m webrtc.DataChannelMessage) {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.received = append(d.received, m.Data)
		if d.arrived != nil {
			close(d.arrived)
			d.arrived = nil
		}
	})
}

// SendData sends b as a text message on the peer's data channel, which
// must be open (DataChannelOpen).
func (p *Peer) SendData(b []byte) error {
	d := &p.data
	d.mu.Lock()
	ch := d.ch
	d.mu.Unlock()
	if ch == nil {
		return ErrNoDataChannel
	}
	if err := ch.SendText(string(b)); err != nil {
		return fmt.Errorf("media peer: send on the data channel: %w", err)
	}
	d.mu.Lock()
	d.sent++
	d.mu.Unlock()
	return nil
}

// DataReceived returns the messages received on the data channel from the
// from-th on (0 for all), and a channel closed when the next one arrives.
func (p *Peer) DataReceived(from int) ([][]byte, <-chan struct{}) {
	d := &p.data
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.arrived == nil {
		d.arrived = make(chan struct{})
	}
	var out [][]byte
	if from < len(d.received) {
		out = d.received[from:len(d.received):len(d.received)]
	}
	return out, d.arrived
}

// DataCounts returns how many messages the peer sent and received on its
// data channel.
func (p *Peer) DataCounts() (sent, received int) {
	d := &p.data
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sent, len(d.received)
}
