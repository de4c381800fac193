package tap

import (
	"encoding/binary"
	"testing"
)

// testFrame is one WebSocket frame as FuzzFrameScanner encodes it.
type testFrame struct {
	fin    bool
	opcode byte
	masked bool
	form   byte // payload length encoding: 0 in the first bytes, 1 in 16 bits, 2 in 64 bits
	n      int  // payload length
}

// encode appends f to b.
func (f testFrame) encode(b []byte) []byte {
	b0 := f.opcode
	if f.fin {
		b0 |= 0x80
	}
	var mask byte
	if f.masked {
		mask = 0x80
	}
	switch {
	case f.form == 0 && f.n < 126:
		b = append(b, b0, mask|byte(f.n))
	case f.form <= 1:
		b = append(b, b0, mask|126)
		b = binary.BigEndian.AppendUint16(b, uint16(f.n))
	default:
		b = append(b, b0, mask|127)
		b = binary.BigEndian.AppendUint64(b, uint64(f.n))
	}
	if f.masked {
		b = append(b, 1, 2, 3, 4)
	}
	for i := range f.n {
		b = append(b, byte(i))
	}
	return b
}

// FuzzFrameScanner encodes the frames the input describes, after an HTTP
// response head or not, feeds them to a frameScanner in the pieces the
// input says, and checks after each piece that the scanner counts the
// messages whose last frame has been seen whole, and knows whether the
// stream so far ends with one.
func FuzzFrameScanner(f *testing.F) {
	f.Add([]byte{0x81, 5, 0}, []byte{1}, false)                          // one text message
	f.Add([]byte{0x01, 3, 0, 0x89, 2, 0, 0x80, 200, 1}, []byte{3}, true) // fragments around a ping
	f.Add([]byte{0x82, 130, 2, 0x88, 2, 0, 0x81, 0, 0}, []byte{1, 7, 2, 200}, true)
	f.Add([]byte{0x81, 0x80 | 10, 0, 0x81, 0x80 | 20, 1}, []byte{}, false) // masked, as from a client
	f.Fuzz(func(t *testing.T, desc, cuts []byte, head bool) {
		var stream []byte
		s := frameScanner{atEnd: true}
		if head {
			stream = []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
			s = frameScanner{inHead: true}
		}
		start := len(stream)
		ends := map[int]bool{start: true} // where the stream ends with a whole message, or starts
		var endsAt []int
		for i := 0; i+2 < len(desc) && len(stream) < 1<<16; i += 3 {
			fr := testFrame{
				fin:    desc[i]&0x80 != 0,
				opcode: desc[i] & 0x0f,
				masked: desc[i+1]&0x80 != 0,
				form:   desc[i+1] & 0x7f % 3,
				n:      int(desc[i+2]) * (1 + int(desc[i+1]&0x7f)/3),
			}
			stream = fr.encode(stream)
			if fr.fin && fr.opcode < 8 {
				ends[len(stream)] = true
				endsAt = append(endsAt, len(stream))
			}
		}
		check := func(at int) {
			t.Helper()
			var want uint64
			for _, e := range endsAt {
				if e <= at {
					want++
				}
			}
			if s.messages != want {
				t.Fatalf("after %d bytes: scanner saw %d messages, want %d", at, s.messages, want)
			}
			if got, want := s.atEnd, ends[at]; got != want {
				t.Fatalf("after %d bytes: at the end of a message: %v, want %v", at, got, want)
			}
		}
		at := 0
		for _, c := range cuts {
			n := min(int(c), len(stream)-at)
			s.scan(stream[at : at+n])
			at += n
			if at >= start {
				check(at)
			}
		}
		s.scan(stream[at:])
		check(len(stream))
	})
}
