// Package contract plays Heroku toward a partner's add-on backend and checks
// its answers against the Add-on Partner API's contract.
//
// Check sends what Heroku sends (a provisioning request carrying a fresh
// OAuth grant from a herokupartnertest fake, a plan change and a
// deprovisioning, each with the manifest's Basic credentials) and reports,
// check by check, whether the backend answered as Heroku expects: the
// status codes, the id, message and config fields, the 30 second limit,
// 401 for wrong or missing credentials, the same answer to a redelivered
// request and, after a 202, the config PATCH and the provision action
// arriving at the fake within a wait budget. The backend must be configured
// to call the fake (its URL, token URL and client secret) for the
// asynchronous checks to pass.
//
// Details in a report name fields and status codes; they never carry the
// password, the grant code or a config value.
package contract

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/google/uuid"
)

// Defaults for Config's zero values.
const (
	// DefaultLimit is how long Heroku waits for a provisioning answer.
	DefaultLimit = 30 * time.Second
	// DefaultAsyncWait is how long Check waits, after a 202, for the
	// backend to set config and mark the add-on provisioned. Heroku allows
	// 12 hours; a check run wants an answer sooner.
	DefaultAsyncWait = 2 * time.Minute
	// DefaultPlan is the plan slug of the provisioning request.
	DefaultPlan = "test"
	// DefaultNewPlan is the plan slug of the plan change.
	DefaultNewPlan = "premium"
	// DefaultRegion is the region of the provisioning request.
	DefaultRegion = "amazon-web-services::us-east-1"
)

// Config says which backend Check drives and how.
type Config struct {
	// BaseURL is the manifest's base_url, such as
	// "https://acme.example.com/heroku/resources". Required.
	BaseURL string
	// AddonID is the manifest's id, the Basic auth user. Required.
	AddonID string
	// Password is the manifest's api.password. Required.
	Password herokupartner.Secret
	// Fake is the fake Heroku the backend calls back. Required.
	Fake *herokupartnertest.Server
	// APIURL is the fake's address as the backend reaches it, for the
	// request's callback_url; empty means Fake.URL.
	APIURL string
	// AppID is the app the add-on is attached to; zero means a new app
	// coupled to a new pipeline at the staging stage.
	AppID uuid.UUID
	// Plan, NewPlan and Region default to DefaultPlan, DefaultNewPlan and
	// DefaultRegion.
	Plan, NewPlan, Region string
	// Limit bounds each answer; zero means DefaultLimit.
	Limit time.Duration
	// AsyncWait bounds the wait for the callbacks after a 202; zero means
	// DefaultAsyncWait.
	AsyncWait time.Duration
	// HTTPClient sends the requests; nil means a plain client. Limit
	// applies whatever its own timeout.
	HTTPClient *http.Client
}

// Result is the outcome of one check.
type Result struct {
	// Name says what was checked, such as "provision: answers 200 or 202".
	Name string
	// Passed is true when the backend met the contract.
	Passed bool
	// Detail says what was seen; it carries no secret.
	Detail string
}

// Report is the outcome of a run, check by check, in the order made.
type Report struct {
	// AddonID is the uuid of the add-on the run provisioned.
	AddonID uuid.UUID
	// Results holds one entry per check.
	Results []Result
}

// Passed reports whether every check passed.
func (r *Report) Passed() bool {
	for _, res := range r.Results {
		if !res.Passed {
			return false
		}
	}
	return len(r.Results) > 0
}

// WriteTo writes the report as one line per check and a summary line.
func (r *Report) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	failed := 0
	for _, res := range r.Results {
		mark := "PASS"
		if !res.Passed {
			mark = "FAIL"
			failed++
		}
		fmt.Fprintf(&b, "%s  %s", mark, res.Name)
		if res.Detail != "" {
			fmt.Fprintf(&b, ": %s", res.Detail)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "%d checks, %d failed\n", len(r.Results), failed)
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func (r *Report) add(name string, passed bool, format string, args ...any) {
	r.Results = append(r.Results, Result{Name: name, Passed: passed, Detail: fmt.Sprintf(format, args...)})
}

// validate fills in defaults and rejects a config no run could use, before
// anything is sent. Errors name the field, never its value.
func (c *Config) validate() error {
	if c.Fake == nil {
		return errors.New("contract: Config.Fake is required")
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return errors.New("contract: Config.BaseURL must be an http or https URL without credentials")
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	c.APIURL = strings.TrimRight(orDefault(c.APIURL, c.Fake.URL), "/")
	if strings.TrimSpace(c.AddonID) == "" || strings.Contains(c.AddonID, ":") {
		return errors.New("contract: Config.AddonID must be the manifest id (non-empty, no colon)")
	}
	if c.Password.IsZero() {
		return errors.New("contract: Config.Password is required")
	}
	if c.Limit < 0 || c.AsyncWait < 0 {
		return errors.New("contract: Config.Limit and Config.AsyncWait must not be negative")
	}
	c.Plan = orDefault(c.Plan, DefaultPlan)
	c.NewPlan = orDefault(c.NewPlan, DefaultNewPlan)
	c.Region = orDefault(c.Region, DefaultRegion)
	if c.Limit == 0 {
		c.Limit = DefaultLimit
	}
	if c.AsyncWait == 0 {
		c.AsyncWait = DefaultAsyncWait
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	return nil
}

func orDefault(s, d string) string {
	if strings.TrimSpace(s) == "" {
		return d
	}
	return s
}

// Check drives the backend through provisioning, a redelivery, a plan
// change and deprovisioning, and reports each check. It returns an error,
// before sending anything, only when cfg is unusable; a backend that breaks
// the contract gives a Report that has not Passed.
func Check(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	appID := cfg.AppID
	if appID == uuid.Nil {
		app := cfg.Fake.AddApp("contract-check")
		p := cfg.Fake.AddPipeline("contract-check")
		cfg.Fake.Couple(app.ID, p.ID, herokupartner.StageStaging)
		appID = app.ID
	}
	addon := cfg.Fake.AddAddon(appID, cfg.Plan)
	if addon == nil {
		return nil, errors.New("contract: Config.AppID is no app of the fake")
	}
	r := &Report{AddonID: addon.ID}
	run := &run{cfg: cfg, report: r, addon: addon}
	run.provision(ctx)
	run.planChange(ctx)
	run.deprovision(ctx)
	return r, nil
}

// run is one pass of Check over one add-on.
type run struct {
	cfg    Config
	report *Report
	addon  *herokupartner.Addon
	id     string // the backend's id for the resource, once known
}
