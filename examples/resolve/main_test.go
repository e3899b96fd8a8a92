package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

const wantDemo = `PIPELINE         STAGE        APP                 ADD-ON                      PLAN
acme-shop        development  acme-shop-dev       acme-metrics-ivory-77563    acme-metrics:hobby
                 review       acme-shop-pr-1423   acme-metrics-fluffy-53806   acme-metrics:hobby
                 staging      acme-shop-staging   acme-metrics-dapper-37968   acme-metrics:basic
                 production   acme-shop           acme-metrics-amber-14211    acme-metrics:premium
                 production   acme-shop           acme-metrics-brisk-22130    acme-metrics:basic
globex-api       test         globex-api-ci       acme-metrics-glacial-61725  acme-metrics:test
                 staging      globex-api-staging  acme-metrics-jagged-85482   acme-metrics:basic
                 production   globex-api          acme-metrics-cobalt-30049   acme-metrics:standard
initech-reports  production   initech-reports     acme-metrics-humble-69644   acme-metrics:standard
(no pipeline)    -            umbrella-legacy     acme-metrics-ember-45887    acme-metrics:basic

10 add-ons resolved with 29 API requests against the in-process fake.
`

func TestDemoAgainstFake(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, nil, env()))
	// 9 coupled add-ons take 3 requests each, the uncoupled one 2.
	assert.Equal(t, wantDemo, out.String())
}

// TestAgainstAnAPI runs the real-API mode, pointed at a fake by
// HEROKU_API_URL, exactly as it would run against Heroku.
func TestAgainstAnAPI(t *testing.T) {
	fake := herokupartnertest.NewServer()
	defer fake.Close()
	seeded := fake.Seed(herokupartnertest.World{Apps: []herokupartnertest.WorldApp{
		{Name: "hooli-web", Pipeline: "hooli", Stage: herokupartner.StageStaging},
		{Name: "pied-piper"},
	}})
	addon, other := seeded.Resources[0].Addon, seeded.Resources[1].Addon
	token := seeded.Resources[0].Token.Reveal()

	var out bytes.Buffer
	err := run(context.Background(), &out, []string{addon.ID.String()},
		env("HEROKU_PARTNER_TOKEN", token, "HEROKU_API_URL", fake.URL))
	require.NoError(t, err)
	assert.Equal(t, "PIPELINE  STAGE    APP        ADD-ON                    PLAN\n"+
		"hooli     staging  hooli-web  acme-metrics-amber-14211  acme-metrics:basic\n", out.String())

	// A resource the token does not reach is reported, after the table,
	// and fails the run; the token never appears in the output.
	out.Reset()
	err = run(context.Background(), &out, []string{addon.ID.String(), other.ID.String()},
		env("HEROKU_PARTNER_TOKEN", token, "HEROKU_API_URL", fake.URL))
	require.Error(t, err)
	assert.Contains(t, out.String(), "1 of 2 resources failed")
	assert.Contains(t, out.String(), other.ID.String()+": ")
	assert.Contains(t, out.String(), "403")
	assert.False(t, strings.Contains(out.String(), token), "the token must not be printed")
}

func TestArgumentErrors(t *testing.T) {
	fake := herokupartnertest.NewServer()
	defer fake.Close()
	var out bytes.Buffer
	ctx := context.Background()

	err := run(ctx, &out, []string{"01234567-89ab-cdef-0123-456789abcdef"}, env())
	assert.ErrorContains(t, err, "HEROKU_PARTNER_TOKEN is not set")
	err = run(ctx, &out, nil, env("HEROKU_PARTNER_TOKEN", "tok"))
	assert.ErrorContains(t, err, "give the add-on resource uuids")

	err = run(ctx, &out, []string{"01234567-89ab-cdef-0123-456789abcdef", "not-a-uuid"},
		env("HEROKU_PARTNER_TOKEN", "tok", "HEROKU_API_URL", fake.URL))
	assert.ErrorContains(t, err, "argument 2 is not a resource uuid")
	assert.Empty(t, fake.Requests(), "bad arguments are caught before any request")

	err = run(ctx, &out, []string{"01234567-89ab-cdef-0123-456789abcdef"},
		env("HEROKU_PARTNER_TOKEN", "tok", "HEROKU_API_URL", "http://example.com"))
	assert.ErrorContains(t, err, "loopback", "plain http only on loopback: the token would travel in clear")
	assert.Empty(t, out.String())
}
