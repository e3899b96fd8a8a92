package herokupartnertest

import (
	"fmt"
	"strings"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/google/uuid"
)

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
	return roundTrip[herokupartner.Pipeline](s.pipelineJSON(p))
}

// Couple puts the app in the pipeline at stage, replacing any coupling the
// app had (an app is in at most one pipeline). It returns the coupling as
// the couplings endpoint shows it. It panics, naming the id, if either id
// is unknown to the server.
func (s *Server) Couple(appID, pipelineID uuid.UUID, stage herokupartner.Stage) *herokupartner.PipelineCoupling {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustApp("Couple", appID)
	if s.pipelines[pipelineID] == nil {
		unknownID("Couple", "pipeline", pipelineID)
	}
	now := s.now()
	c := &coupling{id: uuid.New(), appID: appID, pipelineID: pipelineID, stage: stage, created: now, updated: now}
	s.couplings[appID] = c
	return roundTrip[herokupartner.PipelineCoupling](s.couplingJSON(c))
}

// Uncouple takes the app out of its pipeline, if it is in one. It panics,
// naming the id, if the app is unknown to the server.
func (s *Server) Uncouple(appID uuid.UUID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustApp("Uncouple", appID)
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
// name ("acme-metrics:basic"). It panics, naming the id, if appID is
// unknown to the server.
func (s *Server) AddAddon(appID uuid.UUID, plan string) *herokupartner.Addon {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustApp("AddAddon", appID)
	plan, planID, cents := s.planLocked(plan)
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
	return roundTrip[herokupartner.Addon](s.addonJSON(a))
}

// planLocked resolves a plan slug ("basic") or full name
// ("acme-metrics:basic") to its full name, id and price; the caller holds
// s.mu.
func (s *Server) planLocked(plan string) (name string, id uuid.UUID, cents int) {
	slug := plan
	if i := strings.LastIndexByte(plan, ':'); i >= 0 {
		slug = plan[i+1:]
	} else {
		plan = s.cfg.service + ":" + plan
	}
	id, ok := s.plans[plan]
	if !ok {
		id = uuid.New()
		s.plans[plan] = id
	}
	cents, ok = planCents[slug]
	if !ok {
		cents = 1500
	}
	return plan, id, cents
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
	return roundTrip[herokupartner.Addon](s.addonJSON(a)), true
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

// unknownID panics for a seeding call given an id the server does not
// know, so that a typo fails the test at its cause, naming the id, instead
// of as a nil pointer later. Callers holding s.mu unlock in a defer.
func unknownID(method, what string, id uuid.UUID) {
	panic(fmt.Sprintf("herokupartnertest: %s: no %s with id %s on this server", method, what, id))
}

// mustApp panics unless the app exists; the caller holds s.mu.
func (s *Server) mustApp(method string, id uuid.UUID) {
	if s.apps[id] == nil {
		unknownID(method, "app", id)
	}
}

// mustAddon panics unless the add-on exists; the caller holds s.mu.
func (s *Server) mustAddon(method string, id uuid.UUID) {
	if s.addons[id] == nil {
		unknownID(method, "add-on", id)
	}
}
