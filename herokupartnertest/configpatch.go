package herokupartnertest

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

type configPatch struct {
	Config []struct {
		Name  string  `json:"name"`
		Value *string `json:"value"`
	} `json:"config"`
}

// readConfigPatch reads and checks a PATCH /addons/{id}/config body before
// any lock is taken.
func readConfigPatch(r *http.Request) (*configPatch, int, any) {
	raw, code, body := readBody(r)
	if code != 0 {
		return nil, code, body
	}
	var p struct {
		Config *json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		code, body := badRequest("The request body is not valid JSON.")
		return nil, code, body
	}
	invalid := func(msg string) (*configPatch, int, any) {
		code, body := invalidParams(msg)
		return nil, code, body
	}
	if p.Config == nil {
		return invalid("Missing required param: config.")
	}
	var out configPatch
	if err := json.Unmarshal(raw, &out); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return invalid("config must be an array of {name, value} with string or null values.")
		}
		return invalid("config is invalid.")
	}
	for _, v := range out.Config {
		if strings.TrimSpace(v.Name) == "" {
			return invalid("Every config var needs a name.")
		}
	}
	return &out, 0, nil
}
