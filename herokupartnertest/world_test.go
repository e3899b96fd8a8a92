package herokupartnertest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSeedBuildsTheWorld(t *testing.T) {
	s := herokupartnertest.NewServer()
	defer s.Close()
	seeded := s.Seed(herokupartnertest.World{Apps: []herokupartnertest.WorldApp{
		{Customer: "acme", Name: "acme-shop", Pipeline: "acme-shop", Stage: herokupartner.StageProduction, Plans: []string{"premium", "basic"}},
		{Customer: "acme", Name: "acme-shop-staging", Pipeline: "acme-shop", Stage: herokupartner.StageStaging},
		{Customer: "initech", Name: "initech-scratch"},
		{Customer: "umbrella", Name: "umbrella-legacy", Pipeline: "umbrella", Stage: herokupartner.StageProduction, Revoked: true},
		{Name: "nobody's"},
	}})
	assert.Equal(t, 3, seeded.Customers, "distinct non-empty customer names")
	require.Len(t, seeded.Pipelines, 2, "one pipeline per name, created on first mention")
	require.Len(t, seeded.Resources, 6)
	var plans []string
	for _, r := range seeded.Resources {
		plans = append(plans, r.Addon.Plan.Name)
	}
	assert.Equal(t, []string{"acme-metrics:premium", "acme-metrics:basic", "acme-metrics:basic", "acme-metrics:basic", "acme-metrics:basic", "acme-metrics:basic"}, plans,
		"add-ons in order, nil Plans meaning one basic")

	ctx := context.Background()
	want := []struct {
		app, pipeline string
		stage         herokupartner.Stage
	}{
		{"acme-shop", "acme-shop", herokupartner.StageProduction},
		{"acme-shop", "acme-shop", herokupartner.StageProduction},
		{"acme-shop-staging", "acme-shop", herokupartner.StageStaging},
		{"initech-scratch", "", ""},
	}
	for i, w := range want {
		r := seeded.Resources[i]
		res, err := s.Client(r.Token.Reveal()).ResolvePipeline(ctx, r.Addon.ID.String())
		require.NoError(t, err, "resource %d", i)
		assert.Equal(t, w.app, res.App.Name)
		assert.Equal(t, w.app, r.App.Name)
		assert.Equal(t, w.stage, res.Stage)
		assert.Equal(t, w.stage, r.Stage)
		if w.pipeline == "" {
			assert.False(t, res.InPipeline())
			assert.Nil(t, r.Pipeline)
		} else {
			assert.Equal(t, w.pipeline, res.Pipeline.Name)
			assert.Equal(t, r.Pipeline.ID, res.Pipeline.ID)
		}
	}
	revoked := seeded.Resources[4]
	assert.False(t, revoked.Token.IsZero())
	_, err := s.Client(revoked.Token.Reveal()).GetAddon(ctx, revoked.Addon.ID.String())
	assert.ErrorIs(t, err, herokupartner.ErrUnauthorized, "a revoked customer's token is refused")

	// The tokens stay out of printed forms of the result.
	printed := fmt.Sprintf("%+v %#v %v", seeded, seeded.Resources, *seeded)
	for i, r := range seeded.Resources {
		assert.Falsef(t, strings.Contains(printed, r.Token.Reveal()), "token %d printed", i)
	}
}

func TestSeedRefusesAStageWithoutPipeline(t *testing.T) {
	s := herokupartnertest.NewServer()
	defer s.Close()
	assert.PanicsWithValue(t, `herokupartnertest: Seed: app "lost" has stage "staging" but no pipeline`, func() {
		s.Seed(herokupartnertest.World{Apps: []herokupartnertest.WorldApp{{Name: "lost", Stage: herokupartner.StageStaging}}})
	})
}
