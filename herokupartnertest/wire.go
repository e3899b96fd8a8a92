package herokupartnertest

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// roundTrip turns a wire body into the SDK's type exactly as a client
// would decode it, so seeding methods return what a GET would.
func roundTrip[T any](wire any) *T {
	var out T
	b, err := json.Marshal(wire)
	if err == nil {
		err = json.Unmarshal(b, &out)
	}
	if err != nil {
		panic("herokupartnertest: encoding a record: " + err.Error()) // unreachable: fixed types
	}
	return &out
}

// Wire forms, kept apart from the SDK's types so that the fake checks the
// SDK's decoding instead of mirroring it.

type wireRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type wireIDRef struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

type wireAction struct {
	ID            string `json:"id"`
	Label         string `json:"label"`
	Action        string `json:"action"`
	URL           string `json:"url"`
	RequiresOwner bool   `json:"requires_owner"`
}

type wirePrice struct {
	Cents    int    `json:"cents"`
	Contract bool   `json:"contract"`
	Unit     string `json:"unit"`
}

type wireBillingEntity struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

type wireAddon struct {
	Actions       []wireAction      `json:"actions"`
	AddonService  wireRef           `json:"addon_service"`
	App           wireRef           `json:"app"`
	BilledPrice   *wirePrice        `json:"billed_price"`
	BillingEntity wireBillingEntity `json:"billing_entity"`
	ConfigVars    []string          `json:"config_vars"`
	CreatedAt     string            `json:"created_at"`
	ID            string            `json:"id"`
	Name          string            `json:"name"`
	Plan          wireRef           `json:"plan"`
	ProviderID    string            `json:"provider_id"`
	State         string            `json:"state"`
	UpdatedAt     string            `json:"updated_at"`
	WebURL        *string           `json:"web_url"`
}

type wireCoupling struct {
	App       wireIDRef `json:"app"`
	CreatedAt string    `json:"created_at"`
	ID        string    `json:"id"`
	Pipeline  wireIDRef `json:"pipeline"`
	Stage     string    `json:"stage"`
	UpdatedAt string    `json:"updated_at"`
}

type wireOwner struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

type wirePipeline struct {
	CreatedAt  string     `json:"created_at"`
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Owner      *wireOwner `json:"owner"`
	UpdatedAt  string     `json:"updated_at"`
	Generation wireRef    `json:"generation"`
}

type wireConfigVar struct {
	Name  string  `json:"name"`
	Value *string `json:"value"`
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// addonJSON renders a; the caller holds s.mu.
func (s *Server) addonJSON(a *addon) wireAddon {
	ap := s.apps[a.appID]
	web := fmt.Sprintf("https://%s.example.com/dashboard/%s", s.cfg.service, a.id)
	vars := make([]string, 0, len(a.config))
	for k := range a.config {
		vars = append(vars, k)
	}
	sort.Strings(vars)
	return wireAddon{
		Actions: []wireAction{{
			ID:            a.actionID.String(),
			Label:         "Rotate credentials",
			Action:        "rotate-credentials",
			URL:           fmt.Sprintf("https://%s.example.com/heroku/actions/rotate?resource_id=:resource_id", s.cfg.service),
			RequiresOwner: true,
		}},
		AddonService:  wireRef{ID: s.serviceID.String(), Name: s.cfg.service},
		App:           wireRef{ID: ap.id.String(), Name: ap.name},
		BilledPrice:   &wirePrice{Cents: a.cents, Contract: false, Unit: "month"},
		BillingEntity: wireBillingEntity{ID: ap.id.String(), Name: ap.name, Type: "app"},
		ConfigVars:    vars,
		CreatedAt:     stamp(a.created),
		ID:            a.id.String(),
		Name:          a.name,
		Plan:          wireRef{ID: a.planID.String(), Name: a.plan},
		ProviderID:    a.providerID,
		State:         string(a.state),
		UpdatedAt:     stamp(a.updated),
		WebURL:        &web,
	}
}

// couplingJSON renders c; the caller holds s.mu.
func (s *Server) couplingJSON(c *coupling) wireCoupling {
	p := wireIDRef{ID: c.pipelineID.String()}
	if s.cfg.pipelineName {
		p.Name = s.pipelines[c.pipelineID].name
	}
	return wireCoupling{
		App:       wireIDRef{ID: c.appID.String()},
		CreatedAt: stamp(c.created),
		ID:        c.id.String(),
		Pipeline:  p,
		Stage:     string(c.stage),
		UpdatedAt: stamp(c.updated),
	}
}

// pipelineJSON renders p; the caller holds s.mu.
func (s *Server) pipelineJSON(p *pipeline) wirePipeline {
	return wirePipeline{
		CreatedAt:  stamp(p.created),
		ID:         p.id.String(),
		Name:       p.name,
		Owner:      &wireOwner{ID: p.ownerID.String(), Type: "team"},
		UpdatedAt:  stamp(p.updated),
		Generation: wireRef{ID: s.cedarID.String(), Name: "cedar"},
	}
}

// configJSON renders a's config sorted by name; the caller holds s.mu.
func configJSON(a *addon) []wireConfigVar {
	out := make([]wireConfigVar, 0, len(a.config))
	for k, v := range a.config {
		out = append(out, wireConfigVar{Name: k, Value: &v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
