package herokupartnertest_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRequestLogKeepsTheLatestAndCountsAll(t *testing.T) {
	s := herokupartnertest.NewServer(herokupartnertest.WithRequestLogCapacity(3))
	defer s.Close()
	a := s.AddAddon(s.AddApp("acme").ID, "basic")
	tok := s.IssueToken(a.ID)
	for i := range 7 {
		// Distinct paths tell the entries apart: /nowhere/0 … /nowhere/6.
		resp := call(t, s, http.MethodGet, "/nowhere/"+string(rune('0'+i)), tok, nil)
		require.Equal(t, http.StatusNotFound, resp.status)
	}
	got := s.Requests()
	require.Len(t, got, 3, "the log keeps its capacity")
	assert.Equal(t, []string{"/nowhere/4", "/nowhere/5", "/nowhere/6"}, []string{got[0].Path, got[1].Path, got[2].Path}, "oldest first, oldest dropped")
	assert.Equal(t, 7, s.RequestCount(), "the count includes dropped entries")

	// Entries are copies: changing one does not change the log.
	got[0].Header.Set("Authorization", "changed")
	assert.NotEqual(t, "changed", s.Requests()[0].Header.Get("Authorization"))

	s.ResetRequests()
	assert.Empty(t, s.Requests())
	assert.Equal(t, 0, s.RequestCount())
	_, err := s.Client(tok).GetAddon(context.Background(), a.ID.String())
	require.NoError(t, err)
	assert.Len(t, s.Requests(), 1)
	assert.Equal(t, 1, s.RequestCount())
}

func TestRequestLogCapacityZeroOnlyCounts(t *testing.T) {
	s := herokupartnertest.NewServer(herokupartnertest.WithRequestLogCapacity(0))
	defer s.Close()
	a := s.AddAddon(s.AddApp("acme").ID, "basic")
	_, err := s.Client(s.IssueToken(a.ID)).GetAddon(context.Background(), a.ID.String())
	require.NoError(t, err)
	assert.Empty(t, s.Requests())
	assert.Equal(t, 1, s.RequestCount())
}

func TestRequestLogDefaultCapacity(t *testing.T) {
	s := herokupartnertest.NewServer()
	defer s.Close()
	for range 5 {
		call(t, s, http.MethodGet, "/nowhere", "", nil)
	}
	assert.Len(t, s.Requests(), 5, "well under DefaultRequestLogCapacity, everything is kept")
	assert.Equal(t, 100_000, herokupartnertest.DefaultRequestLogCapacity)
}
