package herokupartnertest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const accept3 = "application/vnd.heroku+json; version=3"

// world is a small seeded state: add-ons A and C on app1 in pipeline P1,
// add-on B on app2 in pipeline P2, add-on L on a lone app.
type world struct {
	s                  *herokupartnertest.Server
	app1, app2, lone   herokupartner.Ref
	p1, p2             *herokupartner.Pipeline
	a, b, c, l         *herokupartner.Addon
	tokA, tokB, tokL   string
	unknownID          string
	couplingsPath      func(app herokupartner.Ref) string
	addonPath, pipPath func(id uuid.UUID) string
}

func newWorld(t *testing.T, opts ...herokupartnertest.Option) *world {
	t.Helper()
	s := herokupartnertest.NewServer(opts...)
	t.Cleanup(s.Close)
	seeded := s.Seed(herokupartnertest.World{Apps: []herokupartnertest.WorldApp{
		{Name: "acme-web", Pipeline: "acme", Stage: herokupartner.StageProduction, Plans: []string{"basic", "basic"}},
		{Name: "globex-api", Pipeline: "globex", Stage: herokupartner.StageStaging, Plans: []string{"standard"}},
		{Name: "lonely-app", Plans: []string{"test"}},
	}})
	r := seeded.Resources
	require.Len(t, r, 4)
	w := &world{s: s, unknownID: uuid.NewString()}
	w.app1, w.app2, w.lone = r[0].App, r[2].App, r[3].App
	w.p1, w.p2 = seeded.Pipelines["acme"], seeded.Pipelines["globex"]
	w.a, w.c, w.b, w.l = r[0].Addon, r[1].Addon, r[2].Addon, r[3].Addon
	w.tokA, w.tokB, w.tokL = r[0].Token.Reveal(), r[2].Token.Reveal(), r[3].Token.Reveal()
	w.couplingsPath = func(app herokupartner.Ref) string { return "/apps/" + app.ID.String() + "/pipeline-couplings" }
	w.addonPath = func(id uuid.UUID) string { return "/addons/" + id.String() }
	w.pipPath = func(id uuid.UUID) string { return "/pipelines/" + id.String() }
	return w
}

// answer is a raw HTTP answer with its body decoded as generic JSON.
type answer struct {
	status int
	header http.Header
	raw    []byte
	body   any
}

func (a answer) object(t *testing.T) map[string]any {
	t.Helper()
	m, ok := a.body.(map[string]any)
	require.Truef(t, ok, "want a JSON object, got %s", a.raw)
	return m
}

// call sends one request the way a partner's client would, with the
// version-3 Accept header unless hdr overrides it.
func call(t *testing.T, s *herokupartnertest.Server, method, path, token string, body io.Reader, hdr ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, body)
	require.NoError(t, err)
	req.Header.Set("Accept", accept3)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := s.HTTPClient().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(raw, &a.body)
	}
	return a
}

// requireError checks a Heroku error answer: status, JSON content type and
// the id (and message, if given) of the body.
func requireError(t *testing.T, a answer, status int, id string, message ...string) {
	t.Helper()
	require.Equalf(t, status, a.status, "body %s", a.raw)
	assert.Equal(t, "application/json", a.header.Get("Content-Type"))
	m := a.object(t)
	assert.Equal(t, id, m["id"])
	msg, ok := m["message"].(string)
	assert.True(t, ok && msg != "", "error body needs a message")
	if len(message) > 0 {
		assert.Equal(t, message[0], msg)
	}
}

// Schema checking against the official schema fragments saved in the
// repository's testdata.

type schema struct {
	root       map[string]any
	referenced map[string]any
}

var (
	schemaOnce sync.Once
	schemaDoc  *schema
	schemaErr  error
)

func loadSchema(t *testing.T) *schema {
	t.Helper()
	schemaOnce.Do(func() {
		raw, err := os.ReadFile("../testdata/schema-fragments.json")
		if err != nil {
			schemaErr = err
			return
		}
		var doc struct {
			Definitions        map[string]any `json:"definitions"`
			RelatedDefinitions map[string]any `json:"related_definitions"`
			Referenced         map[string]any `json:"referenced"`
		}
		if schemaErr = json.Unmarshal(raw, &doc); schemaErr != nil {
			return
		}
		defs := map[string]any{}
		for k, v := range doc.Definitions {
			defs[k] = v
		}
		for k, v := range doc.RelatedDefinitions {
			defs[k] = v
		}
		schemaDoc = &schema{root: map[string]any{"definitions": defs}, referenced: doc.Referenced}
	})
	require.NoError(t, schemaErr)
	return schemaDoc
}

func (s *schema) resolve(t *testing.T, node map[string]any) map[string]any {
	t.Helper()
	for i := 0; i < 20; i++ {
		ref, ok := node["$ref"].(string)
		if !ok {
			return node
		}
		if v, ok := s.referenced[ref].(map[string]any); ok {
			node = v
			continue
		}
		var cur any = s.root
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			m, ok := cur.(map[string]any)
			require.Truef(t, ok, "schema ref %s does not resolve", ref)
			cur = m[part]
		}
		next, ok := cur.(map[string]any)
		require.Truef(t, ok, "schema ref %s does not resolve", ref)
		node = next
	}
	t.Fatalf("schema ref loop")
	return nil
}

// definition returns a top-level definition such as "add-on".
func (s *schema) definition(t *testing.T, name string) map[string]any {
	t.Helper()
	d, ok := s.root["definitions"].(map[string]any)[name].(map[string]any)
	require.Truef(t, ok, "no schema definition %s", name)
	return d
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		if x == float64(int64(x)) {
			return "integer"
		}
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

// check asserts that v has every property the schema node declares (except
// those in optional), each with a type, format and pattern the schema
// allows, recursively.
func (s *schema) check(t *testing.T, where string, node map[string]any, v any, optional ...string) {
	t.Helper()
	node = s.resolve(t, node)
	if types, ok := node["type"].([]any); ok {
		got := jsonType(v)
		okType := false
		for _, ty := range types {
			if ty == got || (ty == "number" && got == "integer") {
				okType = true
			}
		}
		assert.Truef(t, okType, "%s: JSON type %s, schema allows %v", where, got, types)
	}
	if str, ok := v.(string); ok {
		switch node["format"] {
		case "uuid":
			_, err := uuid.Parse(str)
			assert.NoErrorf(t, err, "%s: not a uuid", where)
		case "date-time":
			_, err := time.Parse(time.RFC3339, str)
			assert.NoErrorf(t, err, "%s: not a date-time", where)
		}
		if p, ok := node["pattern"].(string); ok {
			// Some schema patterns use look-ahead, which Go's regexp lacks.
			if re, err := regexp.Compile(p); err == nil {
				assert.Truef(t, re.MatchString(str), "%s: %q does not match %s", where, str, p)
			}
		}
	}
	switch x := v.(type) {
	case map[string]any:
		props, _ := node["properties"].(map[string]any)
		for name, sub := range props {
			pv, present := x[name]
			if !present {
				assert.Containsf(t, optional, name, "%s: property %s missing", where, name)
				continue
			}
			s.check(t, where+"."+name, sub.(map[string]any), pv)
		}
		if node["additionalProperties"] == false || node["strictProperties"] == true {
			for name := range x {
				_, declared := props[name]
				assert.Truef(t, declared, "%s: property %s is not in the schema", where, name)
			}
		}
	case []any:
		for _, item := range x {
			if items, ok := node["items"].(map[string]any); ok {
				s.check(t, where+"[]", items, item)
			}
			// The add-on's actions declare their item fields on the
			// array node itself; check items against those too.
			if props, ok := node["properties"].(map[string]any); ok {
				s.check(t, where+"[]", map[string]any{"type": []any{"object"}, "properties": props}, item)
			}
		}
	}
}

// requireHerokuHeaders checks the headers every API answer carries.
func requireHerokuHeaders(t *testing.T, a answer) {
	t.Helper()
	assert.Equal(t, "application/json", a.header.Get("Content-Type"))
	_, err := uuid.Parse(a.header.Get("Request-Id"))
	assert.NoError(t, err, "Request-Id must be a uuid")
	_, err = strconv.Atoi(a.header.Get("RateLimit-Remaining"))
	assert.NoError(t, err, "RateLimit-Remaining must be an integer")
}
