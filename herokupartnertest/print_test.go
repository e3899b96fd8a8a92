package herokupartnertest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Printing a Server, or a struct that holds one, in a test failure or a
// log line shows its URL and never its client secret or live tokens.
func TestPrintedServerHoldsNoSecrets(t *testing.T) {
	w := newWorld(t)
	code, _ := w.s.IssueGrant(w.a.ID)
	a := postForm(t, w.s, tokenForm("authorization_code", "code", code, "client_secret", w.s.ClientSecret()))
	require.Equal(t, 200, a.status)
	refresh := a.object(t)["refresh_token"].(string)
	secrets := []string{w.s.ClientSecret(), w.tokA, w.tokB, w.tokL, code, refresh, a.object(t)["access_token"].(string)}

	type holder struct {
		Fake    *herokupartnertest.Server
		private *herokupartnertest.Server
	}
	h := holder{Fake: w.s, private: w.s}
	var out []string
	for _, v := range []any{w.s, h, &h, *w.s} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
			out = append(out, fmt.Sprintf(verb, v))
		}
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("fake", "server", w.s, "holder", h)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("fake", "server", w.s, "holder", h)
	out = append(out, logged.String())
	j, err := json.Marshal(h)
	require.NoError(t, err)
	out = append(out, string(j))

	// Checked without printing what was searched: a failure message
	// must not carry the secrets either.
	for i, sec := range secrets {
		require.NotEmpty(t, sec)
		for j, o := range out {
			assert.Falsef(t, strings.Contains(o, sec), "secret %d appears in printed form %d", i, j)
		}
	}
	assert.Equal(t, "herokupartnertest.Server{URL:"+w.s.URL+"}", fmt.Sprintf("%+v", w.s))
	assert.Contains(t, fmt.Sprintf("%+v", h), "Fake:herokupartnertest.Server{URL:"+w.s.URL+"}")
	assert.Contains(t, logged.String(), `"server":{"url":"`+w.s.URL+`"}`)
}
