package schema

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is a small JSON scanner over a []byte, without reflection, for
// the hot paths (Decode, ParseJanus, SplitObjects, SplitArray). It accepts
// exactly what encoding/json accepts and decodes strings exactly as it does
// (invalid UTF-8 and lone surrogates become U+FFFD); the reference
// implementations in reference_test.go and the differential fuzz targets hold
// it to that.

// maxDepth is the nesting limit of encoding/json's scanner: a value may hold
// at most this many levels of objects and arrays, itself included.
const maxDepth = 10000

// syntaxError is a JSON syntax error found by the scanner.
type syntaxError struct {
	msg string
	off int // offset of the byte the scanner stopped at
}

func (e *syntaxError) Error() string {
	return e.msg + " at byte " + strconv.Itoa(e.off)
}

// typeError is a JSON value of the wrong type for the field it is decoded
// into (what encoding/json reports as an UnmarshalTypeError).
type typeError struct {
	what  string // the JSON value, such as "string" or "number 1.5"
	field string
	off   int
}

func (e *typeError) Error() string {
	return "cannot decode " + e.what + " into field " + e.field + " at byte " + strconv.Itoa(e.off)
}

// scanner reads JSON from b, at i.
type scanner struct {
	b   []byte
	i   int
	buf []byte // scratch space for unescaped strings
}

func (s *scanner) fail(msg string) error {
	return &syntaxError{msg: msg, off: s.i}
}

// failChar reports an unexpected byte at s.i, or the end of the input.
func (s *scanner) failChar(context string) error {
	if s.i >= len(s.b) {
		return &syntaxError{msg: "unexpected end of JSON input", off: s.i}
	}
	return &syntaxError{msg: "invalid character " + strconv.QuoteRune(rune(s.b[s.i])) + " " + context, off: s.i}
}

func isSpace(c byte) bool {
	return c <= ' ' && (c == ' ' || c == '\t' || c == '\r' || c == '\n')
}

// ws skips white space.
func (s *scanner) ws() {
	for s.i < len(s.b) && isSpace(s.b[s.i]) {
		s.i++
	}
}

// atEnd reports whether only white space is left.
func (s *scanner) atEnd() bool {
	s.ws()
	return s.i == len(s.b)
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// plainRun returns the index of the first byte of b at or after i that is a
// quote, a backslash or a control character (or len(b)), and whether a byte
// ≥ 0x80 stands before it.
func plainRun(b []byte, i int) (int, bool) {
	var hi uint64
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ (lsb * '"')
		bs := x ^ (lsb * '\\')
		// The lowest set bit of m marks the first byte that is a zero of q
		// or bs, or below 0x20; bits above it may be false positives.
		m := ((q - lsb) &^ q) | ((bs - lsb) &^ bs) | ((x - lsb*0x20) &^ x)
		m &= msb
		if m != 0 {
			k := bits.TrailingZeros64(m) / 8
			hi |= x & (1<<(8*k) - 1)
			return i + k, hi&msb != 0
		}
		hi |= x
	}
	for ; i < len(b); i++ {
		c := b[i]
		if c == '"' || c == '\\' || c < 0x20 {
			break
		}
		hi |= uint64(c)
	}
	return i, hi&msb != 0
}

// escapeLen returns the length of the valid escape sequence at b[i] (a
// backslash), or 0 when it is not one.
func escapeLen(b []byte, i int) int {
	if i+1 >= len(b) {
		return 0
	}
	switch b[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if i+6 <= len(b) && hex4(b[i+2:i+6]) >= 0 {
			return 6
		}
	}
	return 0
}

// hex4 returns the value of 4 hex digits, or -1.
func hex4(h []byte) rune {
	var r rune
	for _, c := range h[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// getu4 decodes \uXXXX at the start of b, or returns -1, as encoding/json's.
func getu4(b []byte) rune {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return -1
	}
	return hex4(b[2:6])
}

// skipString validates the string whose opening quote is at s.i and moves
// past its closing quote.
func (s *scanner) skipString() error {
	b := s.b
	i := s.i + 1
	for {
		j, _ := plainRun(b, i)
		if j >= len(b) {
			s.i = j
			return s.fail("unexpected end of JSON input in string")
		}
		switch c := b[j]; {
		case c == '"':
			s.i = j + 1
			return nil
		case c != '\\':
			s.i = j
			return s.fail("invalid control character in string")
		}
		n := escapeLen(b, j)
		if n == 0 {
			s.i = j
			if j+1 >= len(b) {
				return s.fail("unexpected end of JSON input in string escape")
			}
			return s.fail("invalid escape in string")
		}
		i = j + n
	}
}

// readString reads the string whose opening quote is at s.i and returns its
// decoding, which is valid until the next call (it is either in the input or
// in s.buf).
func (s *scanner) readString() ([]byte, error) {
	i := s.i + 1
	j, hi := plainRun(s.b, i)
	if j < len(s.b) && s.b[j] == '"' && !hi {
		s.i = j + 1
		return s.b[i:j], nil
	}
	v, err := s.unquote(s.buf[:0], i)
	if err != nil {
		return nil, err
	}
	s.buf = v
	return v, nil
}

// readStringCopy is readString returning a new slice, never nil, that does
// not share memory with the input.
func (s *scanner) readStringCopy() ([]byte, error) {
	i := s.i + 1
	j, hi := plainRun(s.b, i)
	if j < len(s.b) && s.b[j] == '"' && !hi {
		s.i = j + 1
		return append(make([]byte, 0, j-i), s.b[i:j]...), nil
	}
	// The decoding is no longer than the rest of the input, unless it
	// holds invalid UTF-8; Encode writes the body last, so that is a
	// close fit. When it is not, copy rather than keep the slack alive.
	v, err := s.unquote(make([]byte, 0, len(s.b)-i), i)
	if err != nil {
		return nil, err
	}
	if cap(v)-len(v) > len(v)+64 {
		v = append(make([]byte, 0, len(v)), v...)
	}
	return v, nil
}

// unquote appends to dst the decoding of the string whose content starts at
// s.b[i], exactly as encoding/json decodes it into a string, and moves past
// the string's closing quote.
func (s *scanner) unquote(dst []byte, i int) ([]byte, error) {
	b := s.b
	for {
		j, hi := plainRun(b, i)
		if hi && !utf8.Valid(b[i:j]) {
			// A run ends at an ASCII byte, which no multi-byte
			// sequence holds: fixing runs one by one fixes the whole.
			dst = appendValidUTF8(dst, b[i:j])
		} else {
			dst = append(dst, b[i:j]...)
		}
		s.i = j
		if j >= len(b) {
			return nil, s.fail("unexpected end of JSON input in string")
		}
		switch c := b[j]; {
		case c == '"':
			s.i = j + 1
			return dst, nil
		case c != '\\':
			return nil, s.fail("invalid control character in string")
		}
		if j+1 >= len(b) {
			return nil, s.fail("unexpected end of JSON input in string escape")
		}
		i = j + 2
		switch e := b[j+1]; e {
		case '"', '\\', '/':
			dst = append(dst, e)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			rr := rune(-1)
			if j+6 <= len(b) {
				rr = hex4(b[j+2 : j+6])
			}
			if rr < 0 {
				return nil, s.fail("invalid \\u escape in string")
			}
			i = j + 6
			if utf16.IsSurrogate(rr) {
				// As encoding/json: a valid pair makes one rune,
				// anything else U+FFFD. (The next escape cannot run
				// past the closing quote, which is no hex digit.)
				if dec := utf16.DecodeRune(rr, getu4(b[i:])); dec != utf8.RuneError {
					dst = utf8.AppendRune(dst, dec)
					i += 6
					continue
				}
				rr = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, rr)
		default:
			return nil, s.fail("invalid escape in string")
		}
	}
}

// appendValidUTF8 appends s with each byte that is not part of valid UTF-8
// replaced by U+FFFD.
func appendValidUTF8(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return dst
}

// skipNumber validates the number at s.i and moves past it. Like
// encoding/json's scanner it takes the longest prefix that can be a number
// and fails only when that prefix is not one.
func (s *scanner) skipNumber() error {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		s.i = i
		return s.failChar("in numeric literal")
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i++
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		s.i = i
		return s.failChar("in numeric literal")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			s.i = i
			return s.failChar("after decimal point in numeric literal")
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			s.i = i
			return s.failChar("in exponent of numeric literal")
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	s.i = i
	return nil
}

// readNumber is skipNumber returning the literal.
func (s *scanner) readNumber() ([]byte, error) {
	start := s.i
	if err := s.skipNumber(); err != nil {
		return nil, err
	}
	return s.b[start:s.i], nil
}

// skipLiteral validates the literal lit (true, false or null) at s.i and
// moves past it.
func (s *scanner) skipLiteral(lit string) error {
	b := s.b
	for k := 0; k < len(lit); k++ {
		if s.i >= len(b) || b[s.i] != lit[k] {
			return s.failChar("in literal " + lit)
		}
		s.i++
	}
	return nil
}

// skipValue validates the value at s.i (white space is not skipped) and
// moves past it. depth is the nesting depth of the value's container: 0 for
// a value on its own.
func (s *scanner) skipValue(depth int) error {
	if s.i >= len(s.b) {
		return s.failChar("looking for beginning of value")
	}
	switch c := s.b[s.i]; c {
	case '"':
		return s.skipString()
	case '{':
		return s.skipObject(depth + 1)
	case '[':
		return s.skipArray(depth + 1)
	case 't':
		return s.skipLiteral("true")
	case 'f':
		return s.skipLiteral("false")
	case 'n':
		return s.skipLiteral("null")
	default:
		if c == '-' || '0' <= c && c <= '9' {
			return s.skipNumber()
		}
		return s.failChar("looking for beginning of value")
	}
}

// skipObject validates the object at s.i, at nesting depth depth (1 for an
// object on its own), and moves past it.
func (s *scanner) skipObject(depth int) error {
	if depth > maxDepth {
		return s.fail("exceeded max depth")
	}
	for first := true; ; first = false {
		ok, err := s.nextMember(first)
		if err != nil || !ok {
			return err
		}
		if err := s.skipValue(depth); err != nil {
			return err
		}
	}
}

// skipArray validates the array at s.i, at nesting depth depth, and moves
// past it.
func (s *scanner) skipArray(depth int) error {
	if depth > maxDepth {
		return s.fail("exceeded max depth")
	}
	for first := true; ; first = false {
		ok, err := s.nextElem(first)
		if err != nil || !ok {
			return err
		}
		if err := s.skipValue(depth); err != nil {
			return err
		}
	}
}

// nextElem moves to the next element of the array at s.i: past its '['
// when first, else past the comma after the previous element, and past
// white space. It returns false when it has moved past the closing ']'
// instead. When it returns true, s.i is inside the input.
func (s *scanner) nextElem(first bool) (bool, error) {
	if first {
		s.i++ // '['
	}
	s.ws()
	if s.i >= len(s.b) {
		return false, s.failChar("")
	}
	switch c := s.b[s.i]; {
	case c == ']':
		s.i++
		return false, nil
	case !first:
		if c != ',' {
			return false, s.failChar("after array element")
		}
		s.i++
		s.ws()
		if s.i >= len(s.b) {
			return false, s.failChar("")
		}
	}
	return true, nil
}

// nextMember moves to the value of the next member of the object at s.i:
// past its '{' when first, else past the comma after the previous value,
// then past the key, the colon and white space. It returns false when it
// has moved past the closing '}' instead. When it returns true, s.i is
// inside the input.
func (s *scanner) nextMember(first bool) (bool, error) {
	_, ok, err := s.member(first, false)
	return ok, err
}

// member is nextMember that also returns the decoded key when wantKey is
// set. The key is valid until the next string is read.
func (s *scanner) member(first, wantKey bool) (key []byte, ok bool, err error) {
	if first {
		s.i++ // '{'
	}
	s.ws()
	if s.i >= len(s.b) {
		return nil, false, s.failChar("")
	}
	switch c := s.b[s.i]; {
	case c == '}':
		s.i++
		return nil, false, nil
	case !first:
		if c != ',' {
			return nil, false, s.failChar("after object key:value pair")
		}
		s.i++
		s.ws()
	}
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false, s.failChar("looking for beginning of object key string")
	}
	if wantKey {
		key, err = s.readString()
	} else {
		err = s.skipString()
	}
	if err != nil {
		return nil, false, err
	}
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != ':' {
		return nil, false, s.failChar("after object key")
	}
	s.i++
	s.ws()
	if s.i >= len(s.b) {
		return nil, false, s.failChar("")
	}
	return key, true, nil
}

// parseUint is strconv.ParseUint(string(lit), 10, 64) for a JSON number
// literal, without the error.
func parseUint(lit []byte) (uint64, bool) {
	if len(lit) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range lit {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<64-1)/10 {
			return 0, false
		}
		n1 := n*10 + uint64(c-'0')
		if n1 < n*10 {
			return 0, false
		}
		n = n1
	}
	return n, true
}

// parseInt is strconv.ParseInt(string(lit), 10, 64) for a JSON number
// literal, without the error.
func parseInt(lit []byte) (int64, bool) {
	neg := len(lit) > 0 && lit[0] == '-'
	if neg {
		lit = lit[1:]
	}
	u, ok := parseUint(lit)
	switch {
	case !ok:
		return 0, false
	case neg && u > 1<<63:
		return 0, false
	case neg:
		return -int64(u), true
	case u >= 1<<63:
		return 0, false
	}
	return int64(u), true
}
