package herokupartner_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/addonkit/herokupartner"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ExampleProvisionResponse() {
	// An add-on provisioned in the background answers 202 without config.
	async, _ := json.Marshal(herokupartner.ProvisionResponse{
		ID:      "01234567-89ab-cdef-0123-456789abcdef",
		Message: "Provisioning; it will be ready in a few moments.",
	})
	fmt.Println(string(async))
	// One ready at once answers 200 with its config.
	sync, _ := json.Marshal(herokupartner.ProvisionResponse{
		ID:     "01234567-89ab-cdef-0123-456789abcdef",
		Config: map[string]string{"ACME_URL": "https://acme.example/t/42"},
	})
	fmt.Println(string(sync))
	// A refusal carries only a message; Heroku shows it to the customer.
	refusal, _ := json.Marshal(herokupartner.ProvisionResponse{Message: "Please try again in a minute."})
	fmt.Println(string(refusal))
	// Output:
	// {"id":"01234567-89ab-cdef-0123-456789abcdef","message":"Provisioning; it will be ready in a few moments."}
	// {"id":"01234567-89ab-cdef-0123-456789abcdef","config":{"ACME_URL":"https://acme.example/t/42"}}
	// {"message":"Please try again in a minute."}
}

func ExampleNewConfigVars() {
	vars := herokupartner.NewConfigVars(map[string]string{"ACME_URL": "https://acme.example/t/42", "ACME_PLAN": "basic"})
	for _, v := range vars {
		fmt.Println(v.Name, *v.Value)
	}
	// Output:
	// ACME_PLAN basic
	// ACME_URL https://acme.example/t/42
}

func TestNewConfigVarsGivesEachVarItsOwnValue(t *testing.T) {
	vars := herokupartner.NewConfigVars(map[string]string{"B": "2", "A": "1", "EMPTY": ""})
	require.Len(t, vars, 3)
	got := map[string]string{}
	for i, v := range vars {
		require.NotNil(t, v.Value, "var %d", i)
		got[v.Name] = *v.Value
	}
	assert.Equal(t, map[string]string{"A": "1", "B": "2", "EMPTY": ""}, got)
	assert.Equal(t, []string{"A", "B", "EMPTY"}, []string{vars[0].Name, vars[1].Name, vars[2].Name})
	*vars[0].Value = "changed"
	assert.Equal(t, "2", *vars[1].Value, "values must not share one variable")
	assert.Empty(t, herokupartner.NewConfigVars(nil))
}

func TestProvisionResponsePrintsNoConfigValue(t *testing.T) {
	const value = "postgres://u:CONFIG-SECRET-42@db.example/x"
	r := herokupartner.ProvisionResponse{ID: "id-1", Message: "ok", Config: map[string]string{"ACME_URL": value}}
	// In exported fields only: fmt cannot call Format on an unexported
	// field, as the type's doc comment says.
	holder := struct {
		Exported herokupartner.ProvisionResponse
		Pointer  *herokupartner.ProvisionResponse
	}{r, &r}
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		out = append(out, fmt.Sprintf(verb, r), fmt.Sprintf(verb, &r), fmt.Sprintf(verb, holder))
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("answer", "response", r)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("answer", "response", r)
	out = append(out, logged.String())
	for i, s := range out {
		// Report the position only: printing s would print the value.
		assert.False(t, strings.Contains(s, "CONFIG-SECRET"), "printed form %d shows a config value", i)
		assert.True(t, strings.Contains(s, "ACME_URL"), "printed form %d lacks the config var name", i)
	}

	body, err := json.Marshal(r)
	require.NoError(t, err)
	var back map[string]any
	require.NoError(t, json.Unmarshal(body, &back))
	assert.Equal(t, map[string]any{"id": "id-1", "message": "ok", "config": map[string]any{"ACME_URL": value}}, back,
		"the JSON answer must carry the config")
}
