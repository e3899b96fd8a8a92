// Package herokupartnertest is an in-process fake of the parts of the Heroku
// Platform API that an add-on partner uses, and of the OAuth token endpoint
// of id.heroku.com, for tests and demos that must not touch Heroku.
//
// A Server answers like Heroku does: the same paths, status codes, error
// bodies and headers (Request-Id, RateLimit-Remaining), per-resource token
// scoping, the version-3 Accept check and a token-bucket rate limit. State
// is built in Go (AddApp, AddPipeline, Couple, AddAddon), tokens are issued
// in Go (IssueToken) or through the OAuth flow (IssueGrant, then POST
// /oauth/token), and faults are scripted per route (Fail).
//
// Where the public sources leave Heroku's behaviour open (the couplings
// answer's shape, a pipeline name inside the coupling, refresh-token
// rotation), an Option selects it, so code can be tested against every
// plausible answer.
package herokupartnertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/google/uuid"
)

// CouplingsShape selects how GET /apps/{id}/pipeline-couplings answers.
type CouplingsShape int

const (
	// CouplingsObject answers a single coupling object, and 404 not_found
	// when the app is in no pipeline, as the official schema and Heroku's
	// CLI expect. It is the default.
	CouplingsObject CouplingsShape = iota
	// CouplingsArray answers an array of zero or one coupling, as the
	// partner pipelines article shows.
	CouplingsArray
)

type config struct {
	shape           CouplingsShape
	pipelineName    bool
	latency         time.Duration
	rateCapacity    int
	ratePerMinute   float64
	accessLifetime  time.Duration
	rotateRefresh   bool
	now             func() time.Time
	service         string
	requestLogLimit int
}

// Option configures a Server built by NewServer.
type Option func(*config)

// WithCouplingsShape selects the couplings answer's shape; the default is
// CouplingsObject.
func WithCouplingsShape(s CouplingsShape) Option {
	return func(c *config) { c.shape = s }
}

// WithPipelineNameInCoupling makes a coupling's pipeline carry its name
// besides its id, as Heroku's CLI fixtures show; the schema declares only
// the id, so the default is off.
func WithPipelineNameInCoupling(on bool) Option {
	return func(c *config) { c.pipelineName = on }
}

// WithLatency delays every answer by d, to make benchmarks and timeouts
// meet a realistic round trip. The wait ends early if the client goes away.
func WithLatency(d time.Duration) Option {
	return func(c *config) { c.latency = max(d, 0) }
}

// WithRateLimit sets the token bucket that every API request draws on: it
// holds capacity requests and refills refillPerMinute a minute. Heroku's is
// 4500 and 75 a minute, the default. A capacity below 1 turns the limit off,
// and answers then carry no RateLimit-Remaining header.
func WithRateLimit(capacity int, refillPerMinute float64) Option {
	return func(c *config) {
		c.rateCapacity = capacity
		c.ratePerMinute = max(refillPerMinute, 0)
	}
}

// WithAccessTokenLifetime sets how long access tokens from IssueToken and
// the OAuth endpoint stay valid; Heroku's last 8 hours, the default.
func WithAccessTokenLifetime(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.accessLifetime = d
		}
	}
}

// WithRefreshTokenRotation makes every refresh answer a new refresh token
// and invalidate the one that was used. Heroku does not document rotation
// and its 2014 example returned the same refresh token, so the default is
// off: the refresh token stays valid and is sent back unchanged.
func WithRefreshTokenRotation(on bool) Option {
	return func(c *config) { c.rotateRefresh = on }
}

// WithClock makes the server read the time from now: token and grant
// expiry, rate-limit refill and timestamps then follow a clock the test
// controls. now must be safe for concurrent use.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// WithAddonService names the add-on service the server's add-ons belong
// to: your add-on's slug. The default is "acme-metrics".
func WithAddonService(name string) Option {
	return func(c *config) {
		if name = strings.TrimSpace(name); name != "" {
			c.service = name
		}
	}
}

// defaultRequestLogLimit bounds the request log so that a long benchmark
// cannot exhaust memory; the oldest entries go first.
const defaultRequestLogLimit = 100_000

// Server is a running fake of the Platform API and of Heroku's OAuth token
// endpoint. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL of the server, for herokupartner.WithBaseURL.
	URL string

	ts      *httptest.Server
	cfg     config
	closing chan struct{}
	closeMu sync.Once
	rate    *bucket
	secret  string

	mu         sync.Mutex
	serviceID  uuid.UUID
	cedarID    uuid.UUID
	plans      map[string]uuid.UUID
	apps       map[uuid.UUID]*app
	pipelines  map[uuid.UUID]*pipeline
	couplings  map[uuid.UUID]*coupling // by app id
	addons     map[uuid.UUID]*addon
	addonCount int
	access     map[string]*accessToken
	refresh    map[string]*refreshToken
	grants     map[string]*grant
	faults     map[Route][]Fault
	logMu      sync.Mutex
	requestLog []Request
}

type app struct {
	id      uuid.UUID
	name    string
	created time.Time
}

type pipeline struct {
	id, ownerID      uuid.UUID
	name             string
	created, updated time.Time
}

type coupling struct {
	id, appID, pipelineID uuid.UUID
	stage                 herokupartner.Stage
	created, updated      time.Time
}

type addon struct {
	id, appID, planID uuid.UUID
	actionID, userID  uuid.UUID
	name, plan        string
	providerID        string
	state             herokupartner.AddonState
	cents             int
	config            map[string]string
	created, updated  time.Time
}

// NewServer starts a fake on a loopback port. Close it when done.
func NewServer(opts ...Option) *Server {
	cfg := config{
		rateCapacity:    4500,
		ratePerMinute:   75,
		accessLifetime:  8 * time.Hour,
		now:             time.Now,
		service:         "acme-metrics",
		requestLogLimit: defaultRequestLogLimit,
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	s := &Server{
		cfg:       cfg,
		closing:   make(chan struct{}),
		secret:    randomToken("", 32),
		serviceID: uuid.New(),
		cedarID:   uuid.New(),
		plans:     map[string]uuid.UUID{},
		apps:      map[uuid.UUID]*app{},
		pipelines: map[uuid.UUID]*pipeline{},
		couplings: map[uuid.UUID]*coupling{},
		addons:    map[uuid.UUID]*addon{},
		access:    map[string]*accessToken{},
		refresh:   map[string]*refreshToken{},
		grants:    map[string]*grant{},
		faults:    map[Route][]Fault{},
	}
	if cfg.rateCapacity >= 1 {
		s.rate = newBucket(cfg.rateCapacity, cfg.ratePerMinute, cfg.now())
	}
	s.ts = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.ts.URL
	return s
}

// Close stops the server, ending any request that is waiting out a
// latency, and waits for the others to finish.
func (s *Server) Close() {
	s.closeMu.Do(func() { close(s.closing) })
	s.ts.Close()
}

// HTTPClient returns an http.Client configured for the server, for code
// that takes one (a TokenManager, say).
func (s *Server) HTTPClient() *http.Client { return s.ts.Client() }

// testRetry keeps retries real but fast, so tests of retry behaviour do
// not wait out production backoffs.
var testRetry = herokupartner.RetryPolicy{MaxRetries: 3, BaseDelay: time.Millisecond, MaxDelay: 50 * time.Millisecond}

// Client returns a client pointed at the server that sends token, retries
// with millisecond delays and uses the server's own http.Client. An empty
// token gives a client whose requests fail with herokupartner.ErrNoToken.
func (s *Server) Client(token string) *herokupartner.Client {
	c, err := herokupartner.NewClient(
		herokupartner.WithBaseURL(s.URL),
		herokupartner.WithHTTPClient(s.ts.Client()),
		herokupartner.WithRetry(testRetry),
		herokupartner.WithUserAgent("herokupartnertest"),
	)
	if err != nil {
		// Unreachable: every option above is valid by construction.
		panic("herokupartnertest: building the client: " + err.Error())
	}
	return c.WithToken(token)
}

// now returns the server's time at Heroku's precision, whole seconds in UTC.
func (s *Server) now() time.Time { return s.cfg.now().UTC().Truncate(time.Second) }

// AddApp creates an app and returns its id and name. Names are not
// checked; give each app a distinct one if paths will use names.
func (s *Server) AddApp(name string) herokupartner.Ref {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := &app{id: uuid.New(), name: name, created: s.now()}
	s.apps[a.id] = a
	return herokupartner.Ref{ID: a.id, Name: a.name}
}

// AddPipeline creates a pipeline owned by a team, on the cedar generation.
func (s *Server) AddPipeline(name string) *herokupartner.Pipeline {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	p := &pipeline{id: uuid.New(), ownerID: uuid.New(), name: name, created: now, updated: now}
	s.pipelines[p.id] = p
	var out herokupartner.Pipeline
	roundTrip(s.pipelineJSON(p), &out)
	return &out
}

// Couple puts the app in the pipeline at stage, replacing any coupling the
// app had (an app is in at most one pipeline). It returns the coupling as
// the couplings endpoint shows it, or nil if either id is unknown.
func (s *Server) Couple(appID, pipelineID uuid.UUID, stage herokupartner.Stage) *herokupartner.PipelineCoupling {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apps[appID] == nil || s.pipelines[pipelineID] == nil {
		return nil
	}
	now := s.now()
	c := &coupling{id: uuid.New(), appID: appID, pipelineID: pipelineID, stage: stage, created: now, updated: now}
	s.couplings[appID] = c
	var out herokupartner.PipelineCoupling
	roundTrip(s.couplingJSON(c), &out)
	return &out
}

// Uncouple takes the app out of its pipeline, if it is in one.
func (s *Server) Uncouple(appID uuid.UUID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.couplings, appID)
}

// planCents gives common plan slugs a plausible monthly price.
var planCents = map[string]int{
	"test": 0, "free": 0, "dev": 0, "hobby": 0, "mini": 500, "basic": 900,
	"standard": 5000, "premium": 20000, "private": 40000, "shield": 60000,
}

var nameWords = []string{
	"amber", "brisk", "cobalt", "dapper", "ember", "fluffy", "glacial", "humble",
	"ivory", "jagged", "keen", "lively", "mellow", "nimble", "opaque", "polished",
}

// AddAddon provisions an add-on of the server's service on the app, in
// state "provisioning" with no config vars, as Heroku creates it before
// the partner reports back. plan is a plan slug ("basic") or a full plan
// name ("acme-metrics:basic"). It returns nil if appID is unknown.
func (s *Server) AddAddon(appID uuid.UUID, plan string) *herokupartner.Addon {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apps[appID] == nil {
		return nil
	}
	slug := plan
	if i := strings.LastIndexByte(plan, ':'); i >= 0 {
		slug = plan[i+1:]
	} else {
		plan = s.cfg.service + ":" + plan
	}
	planID, ok := s.plans[plan]
	if !ok {
		planID = uuid.New()
		s.plans[plan] = planID
	}
	cents, ok := planCents[slug]
	if !ok {
		cents = 1500
	}
	n := s.addonCount
	s.addonCount++
	now := s.now()
	id := uuid.New()
	a := &addon{
		id: id, appID: appID, planID: planID, actionID: uuid.New(), userID: uuid.New(),
		// Heroku names add-ons service-word-number; a counter keeps the
		// names stable from run to run for golden outputs.
		name:       fmt.Sprintf("%s-%s-%05d", s.cfg.service, nameWords[n%len(nameWords)], 10000+(n*7919+4211)%90000),
		plan:       plan,
		providerID: "res_" + strings.ReplaceAll(id.String(), "-", "")[:12],
		state:      herokupartner.AddonStateProvisioning,
		cents:      cents,
		config:     map[string]string{},
		created:    now,
		updated:    now,
	}
	s.addons[id] = a
	var out herokupartner.Addon
	roundTrip(s.addonJSON(a), &out)
	return &out
}

// Addon returns the add-on as GET /addons/{id} would show it now, state and
// config var names included.
func (s *Server) Addon(id uuid.UUID) (*herokupartner.Addon, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.addons[id]
	if a == nil {
		return nil, false
	}
	var out herokupartner.Addon
	roundTrip(s.addonJSON(a), &out)
	return &out, true
}

// AddonConfig returns a copy of the config vars the partner set on the
// add-on, or nil if the add-on is unknown.
func (s *Server) AddonConfig(id uuid.UUID) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.addons[id]
	if a == nil {
		return nil
	}
	out := make(map[string]string, len(a.config))
	for k, v := range a.config {
		out[k] = v
	}
	return out
}

// roundTrip turns a wire body into the SDK's type exactly as a client
// would decode it, so seeding methods return what a GET would.
func roundTrip(wire, out any) {
	b, err := json.Marshal(wire)
	if err == nil {
		err = json.Unmarshal(b, out)
	}
	if err != nil {
		panic("herokupartnertest: encoding a record: " + err.Error()) // unreachable: fixed types
	}
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
