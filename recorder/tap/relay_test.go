package tap_test

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/janustap/janustap/recorder/tap"
	"github.com/janustap/janustap/recorder/tap/taptest"
	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/schema"
)

// Opcodes of RFC 6455, section 5.2.
const (
	opContinuation = 0x0
	opText         = 0x1
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

// rawFrame encodes one frame; a client masks its frames.
func rawFrame(op byte, fin, masked bool, payload string) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	var mask byte
	if masked {
		mask = 0x80
	}
	b := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		b = append(b, mask|byte(n))
	case n < 1<<16:
		b = binary.BigEndian.AppendUint16(append(b, mask|126), uint16(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, mask|127), uint64(n))
	}
	if !masked {
		return append(b, payload...)
	}
	key := []byte{0x12, 0x34, 0x56, 0x78}
	b = append(b, key...)
	for i := range len(payload) {
		b = append(b, payload[i]^key[i%4])
	}
	return b
}

// readRawFrame reads one frame, unmasking its payload.
func readRawFrame(r *bufio.Reader) (op byte, fin bool, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, false, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		_, err = io.ReadFull(r, l[:])
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		_, err = io.ReadFull(r, l[:])
		n = binary.BigEndian.Uint64(l[:])
	}
	var key [4]byte
	if err == nil && h[1]&0x80 != 0 {
		_, err = io.ReadFull(r, key[:])
	}
	if err != nil {
		return 0, false, nil, err
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, false, nil, err
	}
	if h[1]&0x80 != 0 {
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return h[0] & 0x0f, h[0]&0x80 != 0, payload, nil
}

// dialRaw opens a janus-protocol WebSocket to addr by hand and returns the
// connection and a reader of what follows the 101 answer.
func dialRaw(addr string) (net.Conn, *bufio.Reader, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"+
		"Sec-WebSocket-Protocol: janus-protocol\r\n\r\n", addr)
	r := bufio.NewReaderSize(c, 256)
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, nil, fmt.Errorf("websocket handshake: %v %v", resp, err)
	}
	return c, r, nil
}

// relayModes are the two ways a relay waits for its next message: on the
// goroutine that relayed the last one, for a second, and then on a new
// goroutine; "handoff" takes the second way after every message.
var relayModes = []struct {
	name      string
	idleAfter time.Duration // 0: the tap's own
}{
	{"busy", 0},
	{"handoff", time.Nanosecond},
}

// TestClientMessagesInOneWrite: messages that reach the tap together, in
// one TCP segment with a fragmented one and a ping among them, all go on
// to Janus, in order, and every answer comes back.
func TestClientMessagesInOneWrite(t *testing.T) {
	for _, m := range relayModes {
		t.Run(m.name, func(t *testing.T) { testClientMessagesInOneWrite(t, m.idleAfter) })
	}
}

func testClientMessagesInOneWrite(t *testing.T, idleAfter time.Duration) {
	r := newRig(t, janustest.Options{})
	if idleAfter > 0 {
		tap.SetWSIdleAfter(r.tap, idleAfter)
	}
	c, br, err := dialRaw(strings.TrimPrefix(r.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second)) // a relay stuck on a buffered message fails, not hangs
	ping := func(tx string) string { return fmt.Sprintf(`{"janus":"ping","transaction":%q}`, tx) }
	var burst []byte
	for _, tx := range []string{"t1", "t2", "t3"} {
		burst = append(burst, rawFrame(opText, true, true, ping(tx))...)
	}
	t4 := ping("t4")
	burst = append(burst, rawFrame(opText, false, true, t4[:10])...)
	burst = append(burst, rawFrame(opPing, true, true, "are you there")...)
	burst = append(burst, rawFrame(opContinuation, true, true, t4[10:])...)
	burst = append(burst, rawFrame(opText, true, true, ping("t5"))...)
	if _, err := c.Write(burst); err != nil {
		t.Fatal(err)
	}
	var answers []string
	pong := false
	for len(answers) < 5 || !pong {
		op, _, payload, err := readRawFrame(br)
		if err != nil {
			t.Fatalf("after answers %v (pong %v): %v", answers, pong, err)
		}
		switch {
		case op == opPong && string(payload) == "are you there":
			pong = true
		case op == opText:
			j, err := schema.ParseJanus(payload)
			if err != nil || j.Janus != "pong" {
				t.Fatalf("answer %s: %v", payload, err)
			}
			answers = append(answers, j.Transaction)
		}
	}
	if want := []string{"t1", "t2", "t3", "t4", "t5"}; !slices.Equal(answers, want) {
		t.Errorf("answers to %v, want %v", answers, want)
	}
	var sent []string
	for _, ev := range r.eventsWhere(func(ev *schema.Event) bool { return ev.Kind == schema.Frame && ev.Direction == schema.ToGateway }) {
		sent = append(sent, string(ev.Body))
	}
	if want := []string{ping("t1"), ping("t2"), ping("t3"), t4, ping("t5")}; !slices.Equal(sent, want) {
		t.Errorf("recorded client messages\n%q\nwant\n%q", sent, want)
	}
}

// TestGatewayMessagesInOneWrite: a gateway that sends its 101 answer and
// several messages in one TCP segment, a fragmented one with a ping among
// them, has them all relayed in order; a pair that waits for more after
// that relays the next message either way.
func TestGatewayMessagesInOneWrite(t *testing.T) {
	for _, m := range relayModes {
		t.Run(m.name, func(t *testing.T) { testGatewayMessagesInOneWrite(t, m.idleAfter) })
	}
}

func testGatewayMessagesInOneWrite(t *testing.T, idleAfter time.Duration) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	gateway := make(chan error, 1)
	go func() { gateway <- serveScriptedGateway(ln) }()

	mem := &memory{}
	tp, err := tap.New(tap.Config{Gateway: "scripted", JanusWS: "ws://" + ln.Addr().String(), Emitter: mem})
	if err != nil {
		t.Fatal(err)
	}
	if idleAfter > 0 {
		tap.SetWSIdleAfter(tp, idleAfter)
	}
	srvURL := taptest.Serve(t, tp)
	conn, _, err := (&websocket.Dialer{Subprotocols: []string{janus.Protocol}}).Dial("ws"+strings.TrimPrefix(srvURL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	read := func() string {
		t.Helper()
		_, m, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("read through the tap: %v (gateway: %v)", err, drain(gateway))
		}
		return string(m)
	}
	var got []string
	for range 4 {
		got = append(got, read())
	}
	if want := []string{"a", "b", "c1c2", "d"}; !slices.Equal(got, want) {
		t.Fatalf("messages %q, want %q", got, want)
	}
	// Now both relays wait. The gateway answers "x" with "e".
	if err := conn.WriteMessage(websocket.TextMessage, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if m := read(); m != "e" {
		t.Fatalf("answer to x: %q, want e", m)
	}
	conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	if err := <-gateway; err != nil {
		t.Fatalf("gateway: %v", err)
	}
	var relayed []string
	for _, ev := range mem.Events() {
		if ev.Kind == schema.Frame {
			relayed = append(relayed, string(ev.Direction)+":"+string(ev.Body))
		}
	}
	want := []string{string(schema.ToClient) + ":a", string(schema.ToClient) + ":b", string(schema.ToClient) + ":c1c2",
		string(schema.ToClient) + ":d", string(schema.ToGateway) + ":x", string(schema.ToClient) + ":e"}
	if !slices.Equal(relayed, want) {
		t.Errorf("recorded frames %q, want %q", relayed, want)
	}
}

// drain returns the gateway's error if it has ended, or nil.
func drain(c chan error) error {
	select {
	case err := <-c:
		return err
	default:
		return nil
	}
}

// serveScriptedGateway accepts one WebSocket on ln and plays a script: it
// writes its 101 answer and five frames in one piece, waits for the pong to
// its ping and for the message "x", answers "e", and returns.
func serveScriptedGateway(ln net.Listener) error {
	c, err := ln.Accept()
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return fmt.Errorf("read handshake: %w", err)
	}
	sum := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	out := []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(sum[:]) + "\r\n" +
		"Sec-WebSocket-Protocol: janus-protocol\r\n\r\n")
	out = append(out, rawFrame(opText, true, false, "a")...)
	out = append(out, rawFrame(opText, true, false, "b")...)
	out = append(out, rawFrame(opText, false, false, "c1")...)
	out = append(out, rawFrame(opPing, true, false, "p")...)
	out = append(out, rawFrame(opContinuation, true, false, "c2")...)
	out = append(out, rawFrame(opText, true, false, "d")...)
	if _, err := c.Write(out); err != nil {
		return err
	}
	var pong, x bool
	for !pong || !x {
		op, _, payload, err := readRawFrame(br)
		if err != nil {
			return fmt.Errorf("read from the tap (pong %v, x %v): %w", pong, x, err)
		}
		switch {
		case op == opPong && bytes.Equal(payload, []byte("p")):
			pong = true
		case op == opText && bytes.Equal(payload, []byte("x")):
			x = true
		default:
			return fmt.Errorf("unexpected frame %x %q", op, payload)
		}
	}
	if _, err := c.Write(rawFrame(opText, true, false, "e")); err != nil {
		return err
	}
	// The client closes when it has "e"; the tap relays the close.
	if op, _, _, err := readRawFrame(br); err != nil || op != opClose {
		return fmt.Errorf("after e: frame %x, %v; want a close", op, err)
	}
	return nil
}

// BenchmarkWebSocketRoundTrip sends a message of the size of a Janus
// event through a tap to a gateway that echoes it, and waits for the echo.
func BenchmarkWebSocketRoundTrip(b *testing.B) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{Subprotocols: []string{janus.Protocol}}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			typ, m, err := c.ReadMessage()
			if err != nil || c.WriteMessage(typ, m) != nil {
				return
			}
		}
	}))
	defer echo.Close()
	tp, err := tap.New(tap.Config{Gateway: "echo", JanusWS: "ws" + strings.TrimPrefix(echo.URL, "http"),
		Emitter: tap.EmitterFunc(func(*schema.Event) error { return nil })})
	if err != nil {
		b.Fatal(err)
	}
	srvURL := taptest.Serve(b, tp)
	conn, _, err := (&websocket.Dialer{Subprotocols: []string{janus.Protocol}}).Dial("ws"+strings.TrimPrefix(srvURL, "http"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	msg := []byte(`{"janus":"event","session_id":1234567890,"sender":987654321,"transaction":"t1","plugindata":{"plugin":"janus.plugin.echotest","data":{"echotest":"event","result":"ok"}}}`)
	msg = bytes.Repeat(msg, 4) // about 700 bytes: not one JSON value, which the tap does not mind
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if err := conn.WriteMessage(websocket.TextMessage, msg); err != nil {
			b.Fatal(err)
		}
		if _, m, err := conn.ReadMessage(); err != nil || len(m) != len(msg) {
			b.Fatalf("echo of %d bytes: %d bytes, %v", len(msg), len(m), err)
		}
	}
}
