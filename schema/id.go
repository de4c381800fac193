package schema

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"
)

// crockford is the alphabet of ids: Crockford's base32, which sorts like the
// numbers it encodes.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// IDGen makes event ids: 26 characters, 48 bits of Unix milliseconds followed
// by 80 bits that are random for the first id of a millisecond and counted up
// from there, so that ids from one IDGen sort in the order they were made
// (the layout of a ULID). The zero value is ready to use.
type IDGen struct {
	mu     sync.Mutex
	lastMs uint64
	hi     uint16 // upper 16 of the 80 low bits
	lo     uint64 // lower 64
}

// New returns a new id for time t.
func (g *IDGen) New(t time.Time) string {
	ms := uint64(t.UnixMilli())
	g.mu.Lock()
	if ms <= g.lastMs {
		ms = g.lastMs // never go back, even when the clock does
		g.lo++
		if g.lo == 0 {
			g.hi++
		}
	} else {
		var r [10]byte
		_, _ = rand.Read(r[:]) // crypto/rand.Read never fails
		g.lastMs = ms
		g.hi = binary.BigEndian.Uint16(r[:2]) & 0x7fff // leave room to count up
		g.lo = binary.BigEndian.Uint64(r[2:])
	}
	hi, lo := g.hi, g.lo
	g.mu.Unlock()

	var b [16]byte
	binary.BigEndian.PutUint64(b[0:8], ms<<16|uint64(hi))
	binary.BigEndian.PutUint64(b[8:16], lo)
	return encode128(b)
}

// encode128 writes 128 bits as 26 base32 characters, big-endian, the first
// character holding the top 3 bits.
func encode128(b [16]byte) string {
	hi := binary.BigEndian.Uint64(b[0:8])
	lo := binary.BigEndian.Uint64(b[8:16])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// IDTime returns the millisecond time encoded in an id made by IDGen, and
// false when id is not such an id.
func IDTime(id string) (time.Time, bool) {
	if len(id) != 26 || id[0] > '7' { // the first character holds 3 bits
		return time.Time{}, false
	}
	var ms uint64
	for i := 0; i < len(id); i++ {
		v := indexCrockford(id[i])
		if v < 0 {
			return time.Time{}, false
		}
		if i < 10 {
			ms = ms<<5 | uint64(v)
		}
	}
	return time.UnixMilli(int64(ms)), true // 10 chars = 50 bits: 2 bits of padding, then the 48 of the time
}

func indexCrockford(c byte) int {
	for i := 0; i < len(crockford); i++ {
		if crockford[i] == c {
			return i
		}
	}
	return -1
}
