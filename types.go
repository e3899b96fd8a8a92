package herokupartner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Stage is the stage of a pipeline that an app is coupled to. The set is
// open: a value Heroku adds later decodes and is kept as it is.
type Stage string

// The stages the Platform API documents.
const (
	StageTest        Stage = "test"
	StageReview      Stage = "review"
	StageDevelopment Stage = "development"
	StageStaging     Stage = "staging"
	StageProduction  Stage = "production"
)

// AddonState is the provisioning state of an add-on. The set is open:
// Heroku's own CLI already meets "deprovisioning", which the schema omits.
type AddonState string

// The add-on states the Platform API and Heroku's CLI know.
const (
	AddonStateProvisioning   AddonState = "provisioning"
	AddonStateProvisioned    AddonState = "provisioned"
	AddonStateDeprovisioning AddonState = "deprovisioning"
	AddonStateDeprovisioned  AddonState = "deprovisioned"
)

// BillingEntityType says what pays for an add-on. The schema warns that new
// types may appear at any time, so unknown values are kept as they are.
type BillingEntityType string

// The billing entity types the schema documents.
const (
	BillingEntityApp  BillingEntityType = "app"
	BillingEntityTeam BillingEntityType = "team"
)

// Ref is a reference to another resource by id and, where the API sends it,
// name: an add-on's app, plan and service, a coupling's pipeline.
type Ref struct {
	ID   uuid.UUID `json:"id"`
	Name string    `json:"name,omitempty"`
}

// Addon is an add-on resource as GET /addons/{id} describes it.
type Addon struct {
	Actions       AddonActions  `json:"actions"`
	AddonService  Ref           `json:"addon_service"`
	App           Ref           `json:"app"` // the billing app
	BilledPrice   *BilledPrice  `json:"billed_price"`
	BillingEntity BillingEntity `json:"billing_entity"`
	ConfigVars    []string      `json:"config_vars"`
	CreatedAt     time.Time     `json:"created_at"`
	ID            uuid.UUID     `json:"id"`
	Name          string        `json:"name"`
	Plan          Ref           `json:"plan"`
	ProviderID    string        `json:"provider_id"`
	// ProvisionMessage is empty unless the partner set one while provisioning.
	ProvisionMessage string     `json:"provision_message,omitempty"`
	State            AddonState `json:"state"`
	UpdatedAt        time.Time  `json:"updated_at"`
	// WebURL is empty when the API sends null.
	WebURL string `json:"web_url"`
}

// AddonAction is a provider action offered on an add-on's dashboard.
type AddonAction struct {
	ID            uuid.UUID `json:"id"`
	Label         string    `json:"label"`
	Action        string    `json:"action"`
	URL           string    `json:"url"`
	RequiresOwner bool      `json:"requires_owner"`
}

// AddonActions is the list of an add-on's provider actions. It decodes from
// the array the official schema declares and also from the single object
// (possibly empty) that the partner pipelines article shows.
type AddonActions []AddonAction

// UnmarshalJSON accepts an array of actions, a single action object, an
// empty object or null.
func (a *AddonActions) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0 || bytes.Equal(data, []byte("null")):
		*a = nil
		return nil
	case isEmptyComposite(data):
		// Most add-ons offer no action; answering "[]" or "{}" here spares
		// a second decoding pass, which cost a tenth of a whole lookup.
		*a = AddonActions{}
		return nil
	case data[0] == '[':
		var list []AddonAction
		if err := json.Unmarshal(data, &list); err != nil {
			return err
		}
		*a = list
		return nil
	case data[0] == '{':
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(data, &fields); err != nil {
			return err
		}
		if len(fields) == 0 {
			*a = AddonActions{}
			return nil
		}
		var one AddonAction
		if err := json.Unmarshal(data, &one); err != nil {
			return err
		}
		*a = AddonActions{one}
		return nil
	default:
		return fmt.Errorf("add-on actions: want an array or an object, got %.20q", data)
	}
}

// isEmptyComposite reports whether data is "[]" or "{}", blanks inside
// allowed.
func isEmptyComposite(data []byte) bool {
	if len(data) < 2 {
		return false
	}
	first, last := data[0], data[len(data)-1]
	if (first != '[' || last != ']') && (first != '{' || last != '}') {
		return false
	}
	for _, b := range data[1 : len(data)-1] {
		if b != ' ' && b != '\t' && b != '\n' && b != '\r' { // JSON's blanks only
			return false
		}
	}
	return true
}

// BilledPrice is what an add-on costs; it is nil when the API sends null.
type BilledPrice struct {
	Cents    int    `json:"cents"`
	Contract bool   `json:"contract"`
	Unit     string `json:"unit"`
}

// BillingEntity is the app or team that pays for an add-on.
type BillingEntity struct {
	ID   uuid.UUID         `json:"id"`
	Name string            `json:"name"`
	Type BillingEntityType `json:"type"`
}

// PipelineCoupling ties an app to a pipeline at one stage. Pipeline.Name is
// filled only when the API includes it, as Heroku's CLI fixtures show.
type PipelineCoupling struct {
	App       Ref       `json:"app"`
	CreatedAt time.Time `json:"created_at"`
	ID        uuid.UUID `json:"id"`
	Pipeline  Ref       `json:"pipeline"`
	Stage     Stage     `json:"stage"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Pipeline is a pipeline as GET /pipelines/{id} describes it.
type Pipeline struct {
	CreatedAt time.Time `json:"created_at"`
	ID        uuid.UUID `json:"id"`
	Name      string    `json:"name"`
	// Owner is nil when the API sends null.
	Owner     *PipelineOwner `json:"owner"`
	UpdatedAt time.Time      `json:"updated_at"`
	// Generation is the platform generation ("cedar", "fir"); it is zero
	// when an older API answer omits it.
	Generation Ref `json:"generation"`
}

// PipelineOwner is the user or team that owns a pipeline.
type PipelineOwner struct {
	ID   uuid.UUID `json:"id"`
	Type string    `json:"type"` // "team" or "user"
}

// ConfigVar is one config var an add-on sets on its app; a nil Value removes it.
type ConfigVar struct {
	Name  string  `json:"name"`
	Value *string `json:"value"`
}
