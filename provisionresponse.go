package herokupartner

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
)

// ProvisionResponse is the JSON body of an answer to Heroku's provisioning
// request (POST {base_url}). An add-on provisioned in the background
// answers 202 with ID and Message and no Config, then sets its config
// through UpdateAddonConfig and calls MarkProvisioned; one that is ready at
// once answers 200 with its Config too; a refusal (422, or 503 to be asked
// again) carries only a Message, which Heroku shows to the customer.
// Printing or logging it, directly or in an exported field of yours, shows
// the config var names, never their values (often URLs with passwords);
// only its JSON, the answer itself, carries them.
type ProvisionResponse struct {
	// ID identifies the resource to Heroku for good; a plan change cannot
	// change it. The request's UUID is the natural choice. Required in a
	// 200 or 202, omitted from a refusal.
	ID string `json:"id,omitempty"`
	// Message, optional in a 200 or 202, is shown to the customer.
	Message string `json:"message,omitempty"`
	// Config holds the config vars to set on the app, by name; each name
	// must be in the add-on manifest's config_vars. Leave it nil in a 202.
	Config map[string]string `json:"config,omitempty"`
}

// String shows the id, the message and the config var names only.
func (r ProvisionResponse) String() string {
	return fmt.Sprintf("{ID:%q Message:%q Config:%v}", r.ID, r.Message, configNames(r.Config))
}

// Format prints String under every verb, so that %+v, %#v or %s of a
// response, or of a struct holding one, cannot show a config value.
func (r ProvisionResponse) Format(f fmt.State, verb rune) { formatAs(f, verb, r.String()) }

// LogValue logs the id, the message and the config var names only.
func (r ProvisionResponse) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", r.ID), slog.String("message", r.Message),
		slog.String("config", strings.Join(configNames(r.Config), ",")))
}

// configNames returns the names of config, sorted.
func configNames(config map[string]string) []string {
	return slices.Sorted(maps.Keys(config))
}

// NewConfigVars turns config vars given by name into the list
// UpdateAddonConfig sends, sorted by name so that the request is the same
// for the same map. Each value is set, an empty string included; remove a
// var with a ConfigVar whose Value is nil.
func NewConfigVars(config map[string]string) []ConfigVar {
	vars := make([]ConfigVar, 0, len(config))
	for _, name := range configNames(config) {
		v := config[name]
		vars = append(vars, ConfigVar{Name: name, Value: &v})
	}
	return vars
}
