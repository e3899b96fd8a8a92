package herokupartner

import (
	"time"

	"github.com/google/uuid"
)

// scan reads, from b at i, the strict subset of JSON decodeKnown accepts;
// bad records that it gave up on the input.
type scan struct {
	b   []byte
	i   int
	bad bool
}

func (d *scan) ok() bool { return !d.bad }

// peek skips blanks and returns the next byte, 0 at the end.
func (d *scan) peek() byte {
	for d.i < len(d.b) {
		switch c := d.b[d.i]; c {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return c
		}
	}
	return 0
}

func (d *scan) eat(c byte) bool {
	if !d.bad && d.peek() == c {
		d.i++
		return true
	}
	return false
}

func (d *scan) literal(word string) bool {
	if d.bad || d.peek() != word[0] {
		return false
	}
	if len(d.b)-d.i < len(word) || string(d.b[d.i:d.i+len(word)]) != word {
		d.bad = true
		return false
	}
	d.i += len(word)
	return true
}

func (d *scan) null() bool { return d.literal("null") }

// quoted returns a string token with its quotes, giving up on escapes,
// control characters and non-ASCII bytes (encoding/json would replace
// invalid UTF-8, which this decoder does not try to match).
func (d *scan) quoted() []byte {
	if !d.eat('"') {
		d.bad = true
		return nil
	}
	start := d.i - 1
	for ; d.i < len(d.b); d.i++ {
		switch c := d.b[d.i]; {
		case c == '"':
			d.i++
			return d.b[start:d.i]
		case c == '\\' || c < 0x20 || c >= 0x80:
			d.bad = true
			return nil
		}
	}
	d.bad = true
	return nil
}

// object calls field with each key; field reads the value and returns the
// key's bit, which catches repeats, or 0 without reading it for a key it
// does not know. depth is the object's nesting inside a skipped value.
func (d *scan) object(depth int, field func(key []byte) uint32) {
	if !d.eat('{') {
		d.bad = true
		return
	}
	if d.eat('}') {
		return
	}
	var seen uint32
	for !d.bad {
		k := d.quoted()
		if d.bad || !d.eat(':') {
			d.bad = true
			return
		}
		bit := field(k[1 : len(k)-1])
		switch {
		case bit == 0 && lowerKey(k):
			// A field Heroku added since: skipped, as encoding/json
			// skips it. (Every known key is lower case, so only an
			// unknown key with capitals could match one, ignoring case,
			// as encoding/json matches.)
			d.skip(depth + 1)
		case bit == 0 || seen&bit != 0:
			d.bad = true
			return
		}
		seen |= bit
		if d.eat(',') {
			continue
		}
		if !d.eat('}') {
			d.bad = true
		}
		return
	}
}

func lowerKey(k []byte) bool {
	for _, c := range k {
		if 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
}

// maxSkipDepth bounds the nesting of a skipped value; deeper ones are left
// to encoding/json.
const maxSkipDepth = 32

// skip reads over any JSON value, checking it as encoding/json's scanner
// would, and gives up on what it is unsure of.
func (d *scan) skip(depth int) {
	if depth > maxSkipDepth {
		d.bad = true
		return
	}
	switch c := d.peek(); {
	case c == '{':
		d.object(depth, func([]byte) uint32 { return 0 })
	case c == '[':
		d.array(func() { d.skip(depth + 1) })
	case c == '"':
		d.quoted()
	case c == 't':
		d.literal("true")
	case c == 'f':
		d.literal("false")
	case c == 'n':
		d.literal("null")
	case c == '-' || ('0' <= c && c <= '9'):
		d.number()
	default:
		d.bad = true
	}
}

// number reads a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *scan) number() {
	d.eat('-')
	digits := func() int {
		n := 0
		for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	start := d.i
	if n := digits(); n == 0 || (n > 1 && d.b[start] == '0') {
		d.bad = true
		return
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if digits() == 0 {
			d.bad = true
			return
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			d.bad = true
		}
	}
}

// array calls elem for each element; elem reads it.
func (d *scan) array(elem func()) {
	if !d.eat('[') {
		d.bad = true
		return
	}
	if d.eat(']') {
		return
	}
	for !d.bad {
		elem()
		if d.eat(',') {
			continue
		}
		if !d.eat(']') {
			d.bad = true
		}
		return
	}
}

// str reads a string; null leaves dst as it is, as encoding/json does.
func (d *scan) str(dst *string) {
	if d.null() {
		return
	}
	if q := d.quoted(); !d.bad {
		*dst = string(q[1 : len(q)-1])
	}
}

func (d *scan) id(dst *uuid.UUID) {
	if d.null() {
		return
	}
	if q := d.quoted(); !d.bad && dst.UnmarshalText(q[1:len(q)-1]) != nil {
		d.bad = true
	}
}

func (d *scan) time(dst *time.Time) {
	if d.null() {
		return
	}
	if q := d.quoted(); !d.bad && dst.UnmarshalJSON(q) != nil {
		d.bad = true
	}
}

// int reads an integer of at most 18 digits (no overflow to check).
func (d *scan) int(dst *int) {
	if d.null() {
		return
	}
	neg := d.eat('-')
	start, n := d.i, 0
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		n = n*10 + int(d.b[d.i]-'0')
		d.i++
	}
	digits := d.i - start
	if digits == 0 || digits > 18 || (digits > 1 && d.b[start] == '0') {
		d.bad = true
		return
	}
	if d.i < len(d.b) {
		if c := d.b[d.i]; c == '.' || c == 'e' || c == 'E' {
			d.bad = true // a fraction or exponent: encoding/json decides
			return
		}
	}
	if neg {
		n = -n
	}
	*dst = n
}

func (d *scan) bool(dst *bool) {
	switch {
	case d.null():
	case d.literal("true"):
		*dst = true
	case d.literal("false"):
		*dst = false
	default:
		d.bad = true
	}
}

func (d *scan) strings(dst *[]string) {
	if d.null() {
		*dst = nil
		return
	}
	list := []string{}
	d.array(func() {
		var s string
		if d.peek() == 'n' {
			d.bad = true // a null element: encoding/json decides
			return
		}
		d.str(&s)
		list = append(list, s)
	})
	*dst = list
}
