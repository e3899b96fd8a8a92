package herokupartner_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	hp "github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

func TestResolvePipelineFailuresAreResolveErrors(t *testing.T) {
	srv := herokupartnertest.NewServer()
	defer srv.Close()
	app := srv.AddApp("acme-web")
	a := srv.AddAddon(app.ID, "basic")
	cl := srv.Client(srv.IssueToken(a.ID))
	ctx := context.Background()

	// An id with spaces and upper case resolves under its canonical form.
	raw := "  " + strings.ToUpper(a.ID.String()) + " "
	res, err := cl.ResolvePipeline(ctx, raw)
	require.NoError(t, err)
	assert.Equal(t, a.ID, res.Addon.ID)

	srv.Fail(herokupartnertest.RouteAddon, herokupartnertest.Fault{Status: 404, Times: 1})
	_, err = cl.ResolvePipeline(ctx, raw)
	var re *hp.ResolveError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, hp.StepAddon, re.Step)
	assert.Equal(t, a.ID.String(), re.ResourceID, "the canonical id, not the caller's string")
	assert.ErrorIs(t, err, hp.ErrNotFound)
	msg := err.Error()
	assert.True(t, strings.HasPrefix(msg, "herokupartner: resolving add-on "+a.ID.String()+": add-on step: GET /addons/"+a.ID.String()+": 404 Not Found"), msg)
	assert.Equal(t, 1, strings.Count(msg, "herokupartner: "), "one prefix for the whole chain: %s", msg)

	const pasted = "HRKU-looks-like-a-token"
	_, err = cl.ResolvePipeline(ctx, pasted)
	require.ErrorAs(t, err, &re)
	assert.ErrorIs(t, err, hp.ErrInvalidID)
	assert.Equal(t, hp.StepAddon, re.Step)
	assert.Empty(t, re.ResourceID)
	assert.NotContains(t, err.Error(), pasted)
	assert.Equal(t, 1, strings.Count(err.Error(), "herokupartner: "), err.Error())

	_, err = srv.Client("").ResolvePipeline(ctx, uuid.NewString())
	require.ErrorAs(t, err, &re)
	assert.ErrorIs(t, err, hp.ErrNoToken)
	var nilClient *hp.Client
	_, err = nilClient.ResolvePipeline(ctx, uuid.NewString())
	require.ErrorAs(t, err, &re)
	assert.ErrorIs(t, err, hp.ErrNoToken)
}

func TestBatchResultsCarryCanonicalIDs(t *testing.T) {
	srv := herokupartnertest.NewServer()
	defer srv.Close()
	id := uuid.New()
	results := srv.Client("").ResolvePipelines(context.Background(),
		[]hp.BatchItem{{ResourceUUID: strings.ToUpper(id.String())}})
	var re *hp.ResolveError
	require.ErrorAs(t, results[0].Err, &re)
	assert.Equal(t, id.String(), re.ResourceID)
	assert.ErrorIs(t, results[0].Err, hp.ErrNoToken)
}
