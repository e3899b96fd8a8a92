package herokupartner

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func decodeFixture[T any](t *testing.T, name string) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(readFixture(t, name), &v), name)
	return v
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

var (
	fixtureAddonID    = uuid.MustParse("01234567-89ab-cdef-0123-456789abcdef")
	fixtureAppID      = uuid.MustParse("a9a9a9a9-0000-4000-8000-000000000004")
	fixturePipelineID = uuid.MustParse("7e7e7e7e-0000-4000-8000-000000000007")
)

func TestDecodeAddonSchemaExample(t *testing.T) {
	a := decodeFixture[Addon](t, "addon.json")
	want := Addon{
		Actions: AddonActions{{
			ID:            uuid.MustParse("a1a1a1a1-0000-4000-8000-000000000001"),
			Label:         "Example",
			Action:        "example",
			URL:           "http://example.com?resource_id=:resource_id",
			RequiresOwner: true,
		}},
		AddonService:     Ref{ID: uuid.MustParse("5e5e5e5e-0000-4000-8000-000000000002"), Name: "heroku-postgresql"},
		App:              Ref{ID: fixtureAppID, Name: "example"},
		BilledPrice:      &BilledPrice{Cents: 0, Contract: false, Unit: "month"},
		BillingEntity:    BillingEntity{ID: uuid.MustParse("b1b1b1b1-0000-4000-8000-000000000003"), Name: "example", Type: BillingEntityApp},
		ConfigVars:       []string{"FOO", "BAZ"},
		CreatedAt:        ts("2012-01-01T12:00:00Z"),
		ID:               fixtureAddonID,
		Name:             "acme-inc-primary-database",
		Plan:             Ref{ID: uuid.MustParse("9e9e9e9e-0000-4000-8000-000000000005"), Name: "heroku-postgresql:dev"},
		ProviderID:       "abcd1234",
		ProvisionMessage: "ready soon",
		State:            AddonStateProvisioned,
		UpdatedAt:        ts("2012-01-02T13:30:00Z"),
		WebURL:           "https://postgres.heroku.com/databases/01234567-89ab-cdef-0123-456789abcdef",
	}
	assert.Equal(t, want, a)
}

// The partner article shows actions as an object, older answers omit
// billing_entity, and null appears for billed_price and web_url.
func TestDecodeAddonArticleShape(t *testing.T) {
	a := decodeFixture[Addon](t, "addon_article.json")
	assert.Equal(t, AddonActions{}, a.Actions)
	assert.Nil(t, a.BilledPrice)
	assert.Empty(t, a.WebURL)
	assert.Equal(t, BillingEntity{}, a.BillingEntity)
	assert.Equal(t, AddonState("deprovisioning"), a.State)
	assert.Equal(t, AddonStateDeprovisioning, a.State)
	assert.Equal(t, fixtureAppID, a.App.ID)
	assert.Equal(t, "pbj-app", a.App.Name)
	assert.Equal(t, "sandwich:pbj", a.Plan.Name)
	assert.Equal(t, []string{}, a.ConfigVars)
	assert.Equal(t, ts("2018-03-01T10:00:05Z"), a.UpdatedAt)
}

func TestAddonActionsShapes(t *testing.T) {
	one := `{"id":"a1a1a1a1-0000-4000-8000-000000000001","label":"Open","action":"open","url":"https://x.test","requires_owner":false}`
	cases := map[string]struct {
		in   string
		want AddonActions
	}{
		"array":        {`[` + one + `,` + one + `]`, AddonActions{{}, {}}},
		"single":       {one, AddonActions{{}}},
		"empty object": {`{}`, AddonActions{}},
		"empty array":  {`[]`, AddonActions{}},
		"null":         {`null`, nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var a struct {
				Actions AddonActions `json:"actions"`
			}
			require.NoError(t, json.Unmarshal([]byte(`{"actions":`+tc.in+`}`), &a))
			require.Len(t, a.Actions, len(tc.want))
			if tc.want == nil {
				assert.Nil(t, a.Actions)
			}
			for _, act := range a.Actions {
				assert.Equal(t, "Open", act.Label)
				assert.Equal(t, "open", act.Action)
				assert.Equal(t, "https://x.test", act.URL)
			}
		})
	}
	var a AddonActions
	assert.Error(t, json.Unmarshal([]byte(`"nope"`), &a))
	assert.Error(t, json.Unmarshal([]byte(`{"id":"not-a-uuid"}`), &a))
}

func TestDecodePipeline(t *testing.T) {
	p := decodeFixture[Pipeline](t, "pipeline.json")
	assert.Equal(t, Pipeline{
		CreatedAt:  ts("2012-01-01T12:00:00Z"),
		ID:         fixturePipelineID,
		Name:       "example",
		Owner:      &PipelineOwner{ID: uuid.MustParse("0e0e0e0e-0000-4000-8000-000000000008"), Type: "team"},
		UpdatedAt:  ts("2012-01-02T13:30:00Z"),
		Generation: Ref{ID: uuid.MustParse("6e6e6e6e-0000-4000-8000-000000000009"), Name: "cedar"},
	}, p)

	p = decodeFixture[Pipeline](t, "pipeline_no_owner.json")
	assert.Nil(t, p.Owner)
	assert.Equal(t, Ref{}, p.Generation)
	assert.Equal(t, "example", p.Name)
}

func TestDecodeCouplingShapes(t *testing.T) {
	want := PipelineCoupling{
		App:       Ref{ID: fixtureAppID},
		CreatedAt: ts("2012-01-01T12:00:00Z"),
		ID:        uuid.MustParse("c0c0c0c0-0000-4000-8000-000000000006"),
		Pipeline:  Ref{ID: fixturePipelineID},
		Stage:     StageProduction,
		UpdatedAt: ts("2012-01-02T13:30:00Z"),
	}
	obj := decodeFixture[couplingsBody](t, "coupling_object.json")
	assert.Equal(t, []PipelineCoupling{want}, obj.list)

	arr := decodeFixture[couplingsBody](t, "coupling_array.json")
	want.Stage = StageStaging
	want.Pipeline.Name = "example" // the CLI reads the name here; keep it
	assert.Equal(t, []PipelineCoupling{want}, arr.list)

	empty := decodeFixture[couplingsBody](t, "coupling_empty.json")
	assert.NotNil(t, empty.list)
	assert.Empty(t, empty.list)

	var unknown couplingsBody
	require.NoError(t, json.Unmarshal([]byte(`{"stage":"canary"}`), &unknown))
	assert.Equal(t, Stage("canary"), unknown.list[0].Stage, "unknown stages are kept as they are")
	assert.Error(t, json.Unmarshal([]byte(`"production"`), &unknown))
}

// TestTypesCoverSchema checks that every property the official schema
// declares for the three resources has a field, so a schema update that
// adds one fails here rather than being silently dropped.
func TestTypesCoverSchema(t *testing.T) {
	var schema struct {
		Definitions map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"definitions"`
	}
	require.NoError(t, json.Unmarshal(readFixture(t, "schema-fragments.json"), &schema))
	for def, typ := range map[string]reflect.Type{
		"add-on":            reflect.TypeFor[Addon](),
		"pipeline-coupling": reflect.TypeFor[PipelineCoupling](),
		"pipeline":          reflect.TypeFor[Pipeline](),
	} {
		props := schema.Definitions[def].Properties
		require.NotEmpty(t, props, def)
		tags := map[string]bool{}
		for i := range typ.NumField() {
			tags[strings.Split(typ.Field(i).Tag.Get("json"), ",")[0]] = true
		}
		var missing []string
		for p := range props {
			if !tags[p] {
				missing = append(missing, p)
			}
		}
		sort.Strings(missing)
		assert.Empty(t, missing, "%s properties without a field in %s", def, typ)
	}
}
