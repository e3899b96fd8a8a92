package herokupartner

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// decodeBothWays decodes data with decodeKnown and with encoding/json (as
// decodeBody's fallback does: the first value, through a Decoder) into a
// fresh T, and fails if the direct decoder answered something encoding/json
// would not. It returns whether the direct decoder answered.
func decodeBothWays[T any](t testing.TB, data []byte) bool {
	t.Helper()
	var fast T
	if !decodeKnown(data, &fast) {
		return false
	}
	var slow T
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&slow); err != nil {
		t.Fatalf("direct decoder accepted %q, encoding/json refuses it: %v", data, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("decoders disagree on %q:\ndirect:        %+v\nencoding/json: %+v", data, fast, slow)
	}
	return true
}

func checkAllKinds(t testing.TB, data []byte) {
	t.Helper()
	decodeBothWays[Addon](t, data)
	decodeBothWays[Pipeline](t, data)
	decodeBothWays[couplingsBody](t, data)
}

// peerAddon is the Heroku schema's example add-on, as Heroku answers it
// (no blanks, empty actions).
const peerAddon = `{"actions":[],"addon_service":{"id":"01234567-89ab-cdef-0123-456789abcdef","name":"heroku-postgresql"},` +
	`"billing_entity":{"id":"01234567-89ab-cdef-0123-456789abcdef","name":"example","type":"app"},` +
	`"app":{"id":"01234567-89ab-cdef-0123-456789abcdef","name":"example"},"billed_price":{"cents":0,"contract":false,"unit":"month"},` +
	`"config_vars":["FOO","BAZ"],"created_at":"2012-01-01T12:00:00Z","id":"01234567-89ab-cdef-0123-456789abcdef",` +
	`"name":"acme-inc-primary-database","plan":{"id":"01234567-89ab-cdef-0123-456789abcdef","name":"heroku-postgresql:dev"},` +
	`"provider_id":"abcd1234","state":"provisioned","updated_at":"2012-01-01T12:00:00Z",` +
	`"web_url":"https://postgres.heroku.com/databases/01234567-89ab-cdef-0123-456789abcdef"}`

func TestKnownDecodersAgreeWithEncodingJSON(t *testing.T) {
	// The usual answers must take the direct path, or it saves nothing.
	direct := map[string]func([]byte) bool{
		"peer add-on":          func(b []byte) bool { return decodeBothWays[Addon](t, b) },
		"addon.json":           func(b []byte) bool { return decodeBothWays[Addon](t, b) },
		"addon_article.json":   func(b []byte) bool { return decodeBothWays[Addon](t, b) },
		"pipeline.json":        func(b []byte) bool { return decodeBothWays[Pipeline](t, b) },
		"pipeline_no_owner":    func(b []byte) bool { return decodeBothWays[Pipeline](t, b) },
		"coupling_object.json": func(b []byte) bool { return decodeBothWays[couplingsBody](t, b) },
		"coupling_array.json":  func(b []byte) bool { return decodeBothWays[couplingsBody](t, b) },
		"coupling_empty.json":  func(b []byte) bool { return decodeBothWays[couplingsBody](t, b) },
	}
	inputs := map[string][]byte{
		"peer add-on":          []byte(peerAddon),
		"addon.json":           readFixture(t, "addon.json"),
		"addon_article.json":   readFixture(t, "addon_article.json"),
		"pipeline.json":        readFixture(t, "pipeline.json"),
		"pipeline_no_owner":    readFixture(t, "pipeline_no_owner.json"),
		"coupling_object.json": readFixture(t, "coupling_object.json"),
		"coupling_array.json":  readFixture(t, "coupling_array.json"),
		"coupling_empty.json":  readFixture(t, "coupling_empty.json"),
	}
	for name, dec := range direct {
		if !dec(inputs[name]) {
			t.Errorf("%s: the direct decoder gave up on a usual answer", name)
		}
	}

	// Whatever it answers, encoding/json answers the same; what it gives up
	// on, encoding/json decides.
	variants := []string{
		peerAddon,
		strings.Replace(peerAddon, `"billed_price":{"cents":0,"contract":false,"unit":"month"}`, `"billed_price":null`, 1),
		strings.Replace(peerAddon, `"web_url":"https`, `"web_url":null,"x":"https`, 1),
		strings.Replace(peerAddon, `"web_url":`, `"web_url":null,"web_url":`, 1), // repeated key
		strings.Replace(peerAddon, `"id":"01234567`, `"ID":"01234567`, 1),        // other case
		strings.Replace(peerAddon, `"name":"example"`, `"name":"ex\u00e9mple"`, 1),
		strings.Replace(peerAddon, `"name":"example"`, `"name":"ex\\"ample"`, 1),
		strings.Replace(peerAddon, `"name":"example"`, "\"name\":\"exé\"", 1),
		strings.Replace(peerAddon, `"cents":0`, `"cents":1.0`, 1),
		strings.Replace(peerAddon, `"cents":0`, `"cents":1e3`, 1),
		strings.Replace(peerAddon, `"cents":0`, `"cents":-12`, 1),
		strings.Replace(peerAddon, `"cents":0`, `"cents":012`, 1),
		strings.Replace(peerAddon, `"cents":0`, `"cents":99999999999999999999`, 1),
		strings.Replace(peerAddon, `"contract":false`, `"contract":null`, 1),
		strings.Replace(peerAddon, `"config_vars":["FOO","BAZ"]`, `"config_vars":[]`, 1),
		strings.Replace(peerAddon, `"config_vars":["FOO","BAZ"]`, `"config_vars":null`, 1),
		strings.Replace(peerAddon, `"config_vars":["FOO","BAZ"]`, `"config_vars":["FOO",null]`, 1),
		strings.Replace(peerAddon, `"actions":[]`, `"actions":null`, 1),
		strings.Replace(peerAddon, `"actions":[]`, `"actions":{}`, 1),
		strings.Replace(peerAddon, `"actions":[]`, `"actions":[{"label":"Open"}]`, 1),
		strings.Replace(peerAddon, `"actions":[]`, `"actions":{"label":"Open","requires_owner":true}`, 1),
		strings.Replace(peerAddon, `"actions":[]`, `"actions":{"other":1}`, 1),
		strings.Replace(peerAddon, `"actions":[]`, `"actions":[{},{"id":"01234567-89ab-cdef-0123-456789abcdef"}]`, 1),
		strings.Replace(peerAddon, `"actions":[]`, `"actions":"nope"`, 1),
		strings.Replace(peerAddon, `"actions":[]`, `"actions":[null]`, 1),
		strings.Replace(peerAddon, `"created_at":"2012-01-01T12:00:00Z"`, `"created_at":"2012-01-01 12:00:00"`, 1),
		strings.Replace(peerAddon, `"created_at":"2012-01-01T12:00:00Z"`, `"created_at":null`, 1),
		strings.Replace(peerAddon, `"id":"01234567-89ab-cdef-0123-456789abcdef","name":"acme`, `"id":"not-a-uuid","name":"acme`, 1),
		strings.Replace(peerAddon, `"id":"01234567-89ab-cdef-0123-456789abcdef","name":"acme`, `"id":"{01234567-89ab-cdef-0123-456789abcdef}","name":"acme`, 1),
		strings.Replace(peerAddon, `"state":"provisioned"`, `"state":7`, 1),
		strings.Replace(peerAddon, `,"web_url"`, `,,"web_url"`, 1),
		strings.ReplaceAll(peerAddon, `,`, " ,\n\t"),
		peerAddon + ` trailing`,
		"  \n" + peerAddon,
		peerAddon[:len(peerAddon)-1],
		peerAddon[:len(peerAddon)/2],
		`{}`, `[]`, `null`, ``, `[{}]`, `[{},]`, `{"stage":"production"}`,
		`[{"app":{"id":"01234567-89ab-cdef-0123-456789abcdef"},"pipeline":{"id":"01234567-89ab-cdef-0123-456789abcdef","name":"p"},"stage":"review"}]`,
		`{"owner":null,"generation":{"id":"01234567-89ab-cdef-0123-456789abcdef","name":"fir"},"name":"p"}`,
		`{"owner":{"id":"01234567-89ab-cdef-0123-456789abcdef","type":"team","extra":1}}`,
		strings.Replace(peerAddon, `"web_url":`, `"new_field":{"a":[1,-2.5e+3,true,false,null,"s\n\u00e9"],"b":{}},"web_url":`, 1),
		strings.Replace(peerAddon, `"web_url":`, `"new_field":[01],"web_url":`, 1),
		strings.Replace(peerAddon, `"web_url":`, `"new_field":1.,"web_url":`, 1),
		strings.Replace(peerAddon, `"web_url":`, `"New_Field":1,"web_url":`, 1),
		strings.Replace(peerAddon, `"web_url":`, `"Web_URL":"x","web_url":`, 1),
		strings.Replace(peerAddon, `"web_url":`, `"deep":`+strings.Repeat("[", 40)+strings.Repeat("]", 40)+`,"web_url":`, 1),
		strings.Replace(peerAddon, `"web_url":`, `"bad":tru,"web_url":`, 1),
	}
	for _, v := range variants {
		checkAllKinds(t, []byte(v))
	}
}

func FuzzKnownDecoders(f *testing.F) {
	f.Add([]byte(peerAddon))
	for _, name := range []string{"addon.json", "addon_article.json", "pipeline.json", "pipeline_no_owner.json",
		"coupling_object.json", "coupling_array.json", "coupling_empty.json"} {
		f.Add(readFixture(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAllKinds(t, data)
	})
}

// TestKnownDecodersKnowEveryField fills every field of the decoded types,
// encodes them with encoding/json and decodes them directly: a field added
// to a type but not to decode_known.go would be skipped there as unknown,
// and this test would fail.
func TestKnownDecodersKnowEveryField(t *testing.T) {
	var a Addon
	fill(reflect.ValueOf(&a).Elem())
	var p Pipeline
	fill(reflect.ValueOf(&p).Elem())
	var c PipelineCoupling
	fill(reflect.ValueOf(&c).Elem())

	check := func(name string, in, out any, want any) {
		data, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		if !decodeKnown(data, out) {
			t.Fatalf("%s: the direct decoder gave up on %s", name, data)
		}
		if got := reflect.ValueOf(out).Elem().Interface(); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: decoded %+v, want %+v (a field decode_known.go does not know?)", name, got, want)
		}
	}
	check("add-on", a, new(Addon), a)
	check("pipeline", p, new(Pipeline), p)
	check("coupling", []PipelineCoupling{c}, new(couplingsBody), couplingsBody{list: []PipelineCoupling{c}})
}

// fill sets every field reachable from v to a value that is not zero.
func fill(v reflect.Value) {
	switch v.Interface().(type) {
	case time.Time:
		v.Set(reflect.ValueOf(time.Date(2012, 1, 1, 12, 0, 0, 0, time.UTC)))
		return
	case uuid.UUID:
		v.Set(reflect.ValueOf(uuid.MustParse("01234567-89ab-4def-8123-456789abcdef")))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i))
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.String:
		v.SetString("x")
	case reflect.Int:
		v.SetInt(7)
	case reflect.Bool:
		v.SetBool(true)
	default:
		panic("fill: no value for " + v.Type().String())
	}
}
