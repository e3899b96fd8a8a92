package herokupartner

import (
	"time"

	"github.com/google/uuid"
)

// A direct decoder for the three answers every resolution reads (add-on,
// coupling, pipeline). Decoding them by reflection was half of a lookup's
// time on the client side. It reads only a strict subset of JSON (strings
// without escapes and of printable ASCII, integers, known keys each at
// most once) and gives up on anything else, so that encoding/json then
// decodes the same bytes: it either yields exactly what encoding/json
// would, or nothing. Ids and times go through uuid's and time's own
// parsers, as encoding/json does. TestKnownDecodersAgreeWithEncodingJSON
// and FuzzKnownDecoders hold it to that.

// decodeKnown decodes data into out when out is one of the known answers
// and data lies in the subset; ok is false otherwise, with out untouched
// or partly written (the caller then decodes into a fresh value).
func decodeKnown(data []byte, out any) (ok bool) {
	d := &scan{b: data}
	switch v := out.(type) {
	case *Addon:
		var a Addon
		d.addon(&a)
		if d.ok() {
			*v = a
		}
	case *Pipeline:
		var p Pipeline
		d.pipeline(&p)
		if d.ok() {
			*v = p
		}
	case *couplingsBody:
		var list []PipelineCoupling
		if d.peek() == '[' {
			list = []PipelineCoupling{}
			d.array(func() {
				list = append(list, PipelineCoupling{})
				d.coupling(&list[len(list)-1])
			})
		} else {
			list = make([]PipelineCoupling, 1)
			d.coupling(&list[0])
		}
		if d.ok() {
			v.list = list
		}
	default:
		return false
	}
	return d.ok()
}

// scan reads JSON from b at i; bad records that it gave up.
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

func (d *scan) ref(dst *Ref) {
	if d.null() {
		return
	}
	d.object(0, func(k []byte) uint32 {
		switch string(k) {
		case "id":
			d.id(&dst.ID)
			return 1
		case "name":
			d.str(&dst.Name)
			return 2
		}
		return 0
	})
}

// actions reads either shape AddonActions.UnmarshalJSON accepts: a list
// of actions, or a single object (an empty one meaning none).
func (d *scan) actions(dst *AddonActions) {
	switch d.peek() {
	case 'n':
		if d.null() {
			*dst = nil
		}
	case '[':
		list := AddonActions{}
		d.array(func() {
			list = append(list, AddonAction{})
			d.action(&list[len(list)-1])
		})
		*dst = list
	default:
		var one AddonAction
		if d.action(&one) == 0 {
			*dst = AddonActions{}
			return
		}
		*dst = AddonActions{one}
	}
}

// action reads one action and returns how many keys its object had.
func (d *scan) action(a *AddonAction) (keys int) {
	d.object(0, func(k []byte) uint32 {
		keys++
		switch string(k) {
		case "id":
			d.id(&a.ID)
			return 1
		case "label":
			d.str(&a.Label)
			return 2
		case "action":
			d.str(&a.Action)
			return 4
		case "url":
			d.str(&a.URL)
			return 8
		case "requires_owner":
			d.bool(&a.RequiresOwner)
			return 16
		}
		return 0
	})
	return keys
}

func (d *scan) addon(a *Addon) {
	d.object(0, func(k []byte) uint32 {
		switch string(k) {
		case "actions":
			d.actions(&a.Actions)
			return 1 << 0
		case "addon_service":
			d.ref(&a.AddonService)
			return 1 << 1
		case "app":
			d.ref(&a.App)
			return 1 << 2
		case "billed_price":
			d.billedPrice(&a.BilledPrice)
			return 1 << 3
		case "billing_entity":
			d.billingEntity(&a.BillingEntity)
			return 1 << 4
		case "config_vars":
			d.strings(&a.ConfigVars)
			return 1 << 5
		case "created_at":
			d.time(&a.CreatedAt)
			return 1 << 6
		case "id":
			d.id(&a.ID)
			return 1 << 7
		case "name":
			d.str(&a.Name)
			return 1 << 8
		case "plan":
			d.ref(&a.Plan)
			return 1 << 9
		case "provider_id":
			d.str(&a.ProviderID)
			return 1 << 10
		case "provision_message":
			d.str(&a.ProvisionMessage)
			return 1 << 11
		case "state":
			d.str((*string)(&a.State))
			return 1 << 12
		case "updated_at":
			d.time(&a.UpdatedAt)
			return 1 << 13
		case "web_url":
			d.str(&a.WebURL)
			return 1 << 14
		}
		return 0
	})
}

func (d *scan) billedPrice(dst **BilledPrice) {
	if d.null() {
		*dst = nil
		return
	}
	p := &BilledPrice{}
	d.object(0, func(k []byte) uint32 {
		switch string(k) {
		case "cents":
			d.int(&p.Cents)
			return 1
		case "contract":
			d.bool(&p.Contract)
			return 2
		case "unit":
			d.str(&p.Unit)
			return 4
		}
		return 0
	})
	*dst = p
}

func (d *scan) billingEntity(dst *BillingEntity) {
	if d.null() {
		return
	}
	d.object(0, func(k []byte) uint32 {
		switch string(k) {
		case "id":
			d.id(&dst.ID)
			return 1
		case "name":
			d.str(&dst.Name)
			return 2
		case "type":
			d.str((*string)(&dst.Type))
			return 4
		}
		return 0
	})
}

func (d *scan) coupling(c *PipelineCoupling) {
	d.object(0, func(k []byte) uint32 {
		switch string(k) {
		case "app":
			d.ref(&c.App)
			return 1 << 0
		case "created_at":
			d.time(&c.CreatedAt)
			return 1 << 1
		case "id":
			d.id(&c.ID)
			return 1 << 2
		case "pipeline":
			d.ref(&c.Pipeline)
			return 1 << 3
		case "stage":
			d.str((*string)(&c.Stage))
			return 1 << 4
		case "updated_at":
			d.time(&c.UpdatedAt)
			return 1 << 5
		}
		return 0
	})
}

func (d *scan) pipeline(p *Pipeline) {
	d.object(0, func(k []byte) uint32 {
		switch string(k) {
		case "created_at":
			d.time(&p.CreatedAt)
			return 1 << 0
		case "id":
			d.id(&p.ID)
			return 1 << 1
		case "name":
			d.str(&p.Name)
			return 1 << 2
		case "owner":
			d.owner(&p.Owner)
			return 1 << 3
		case "updated_at":
			d.time(&p.UpdatedAt)
			return 1 << 4
		case "generation":
			d.ref(&p.Generation)
			return 1 << 5
		}
		return 0
	})
}

func (d *scan) owner(dst **PipelineOwner) {
	if d.null() {
		*dst = nil
		return
	}
	o := &PipelineOwner{}
	d.object(0, func(k []byte) uint32 {
		switch string(k) {
		case "id":
			d.id(&o.ID)
			return 1
		case "type":
			d.str(&o.Type)
			return 2
		}
		return 0
	})
	*dst = o
}
