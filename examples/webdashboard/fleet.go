package main

import (
	"context"
	"fmt"
	"slices"
	"sync"

	hp "github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

// world is the partner's customers on the embedded fake. acme has a bit of
// everything the page shows: two pipelines, an app with two add-ons, an
// app in no pipeline and one whose grant was revoked; piper has a stage
// Heroku may add later ("canary").
var world = herokupartnertest.World{Apps: []herokupartnertest.WorldApp{
	{Customer: "acme", Name: "acme-shop", Pipeline: "acme-shop", Stage: hp.StageProduction, Plans: []string{"premium", "basic"}},
	{Customer: "acme", Name: "acme-shop-staging", Pipeline: "acme-shop", Stage: hp.StageStaging},
	{Customer: "acme", Name: "acme-shop-pr-1412", Pipeline: "acme-shop", Stage: hp.StageReview, Plans: []string{"mini"}},
	{Customer: "acme", Name: "acme-shop-dev", Pipeline: "acme-shop", Stage: hp.StageDevelopment, Plans: []string{"mini"}},
	{Customer: "acme", Name: "acme-api", Pipeline: "acme-api", Stage: hp.StageProduction, Plans: []string{"standard"}},
	{Customer: "acme", Name: "acme-api-ci", Pipeline: "acme-api", Stage: hp.StageTest, Plans: []string{"dev"}},
	{Customer: "acme", Name: "acme-scratch"},
	{Customer: "acme", Name: "acme-legacy"},
	{Customer: "globex", Name: "globex-api", Pipeline: "globex-api", Stage: hp.StageProduction},
	{Customer: "globex", Name: "globex-api-staging", Pipeline: "globex-api", Stage: hp.StageStaging},
	{Customer: "piper", Name: "pied-piper-web", Pipeline: "piper", Stage: hp.StageProduction},
	{Customer: "piper", Name: "pied-piper-canary", Pipeline: "piper", Stage: "canary"},
	{Customer: "initech", Name: "initech-reports"},
}}

// revokedApps lost our grant after provisioning: the tracker drops their
// resources, and the page lists them as no longer on the map.
var revokedApps = []string{"acme-legacy"}

// stillProvisioning are apps whose add-ons we have not yet reported as
// provisioned, so the page shows a state other than "provisioned".
var stillProvisioning = []string{"acme-api-ci"}

// registry is the partner's own record of which customer provisioned which
// resource, as a partner keeps it from provisioning requests: the Platform
// API does not tell a partner which of its customers owns a resource.
type registry struct {
	mu        sync.Mutex
	customers []string          // every customer ever seen, in order
	owner     map[string]string // resource id -> customer, removed ones included
	order     []string          // resource ids, in provisioning order
}

// owned is one resource and who provisioned it.
type owned struct{ ID, Customer string }

func newRegistry() *registry { return &registry{owner: map[string]string{}} }

func (r *registry) add(customer, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.customers, customer) {
		r.customers = append(r.customers, customer)
	}
	if !slices.Contains(r.order, id) {
		r.order = append(r.order, id)
	}
	r.owner[id] = customer
}

// remove drops the resource from the fleet; its owner stays on record,
// so a change reported after the removal still reaches the right page.
func (r *registry) remove(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.order = slices.DeleteFunc(r.order, func(s string) bool { return s == id })
}

// ownerOf returns who provisioned the resource, "" if nobody did.
func (r *registry) ownerOf(id string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.owner[id]
}

// known reports whether customer ever provisioned a resource: the only
// customers whose page exists.
func (r *registry) known(customer string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.customers, customer)
}

func (r *registry) customerList() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.customers)
}

func (r *registry) resources() []owned {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]owned, len(r.order))
	for i, id := range r.order {
		out[i] = owned{ID: id, Customer: r.owner[id]}
	}
	return out
}

// fleet is the partner's side of the demo: the fake Platform API, the
// partner's client and token manager (tokens stay here, never in a page),
// its records, and the tracker its provisioning puts resources on.
type fleet struct {
	srv    *herokupartnertest.Server
	base   *hp.Client
	tokens *hp.TokenManager
	reg    *registry
	// hooks is where each resource's webhooks are delivered, and tracker
	// the map a new resource is put on; both are set before seeding.
	hooks   *webhookEndpoint
	tracker *hp.Tracker
	apps    map[string]hp.Ref       // by the name the app was seeded with
	pipes   map[string]*hp.Pipeline // by name
	addons  map[string][]*hp.Addon  // app name -> its add-ons of ours, oldest first
	owner   map[string]string       // app name -> customer
	mu      sync.Mutex
}

// newFleet returns the partner's side of srv, with no resource yet.
func newFleet(srv *herokupartnertest.Server) (*fleet, error) {
	tokens, err := hp.NewTokenManager(srv.TokenManagerConfig())
	if err != nil {
		return nil, err
	}
	base, err := hp.NewClient(append(srv.ClientOptions(), hp.WithUserAgent("webdashboard-example"))...)
	if err != nil {
		return nil, err
	}
	return &fleet{srv: srv, base: base, tokens: tokens, reg: newRegistry(),
		apps: map[string]hp.Ref{}, pipes: map[string]*hp.Pipeline{}, addons: map[string][]*hp.Addon{},
		owner: map[string]string{}}, nil
}

// seed seeds w on the fake and provisions every add-on as a partner does.
func (f *fleet) seed(ctx context.Context, w herokupartnertest.World) error {
	seeded := f.srv.Seed(w)
	f.pipes = seeded.Pipelines
	for _, r := range seeded.Resources {
		f.apps[r.App.Name] = r.App
		f.owner[r.App.Name] = r.Customer
		if err := f.adopt(ctx, r.Customer, r.App.Name, r.Addon, !slices.Contains(stillProvisioning, r.App.Name)); err != nil {
			return err
		}
	}
	for _, name := range revokedApps {
		for _, a := range f.addons[name] {
			f.srv.RevokeGrant(a.ID)
		}
	}
	return nil
}

// adopt does what a partner's provisioning endpoint and its worker do for
// a new add-on: exchange the grant, subscribe to its webhooks, report it
// ready, put it on the map and record the owner.
func (f *fleet) adopt(ctx context.Context, customer, app string, a *hp.Addon, ready bool) error {
	id := a.ID.String()
	code, expires := f.srv.IssueGrant(a.ID)
	grant := hp.OAuthGrant{Code: hp.NewSecret(code), ExpiresAt: expires, Type: "authorization_code"}
	if _, err := f.tokens.Exchange(ctx, id, grant); err != nil {
		return fmt.Errorf("exchanging the grant of %s: %w", a.Name, err)
	}
	client, err := f.base.ForResource(f.tokens, id)
	if err != nil {
		return err
	}
	if _, err := client.SubscribeAddonWebhooks(ctx, id, f.hooks.subscription(id)); err != nil {
		return fmt.Errorf("subscribing to the webhooks of %s: %w", a.Name, err)
	}
	if ready {
		if _, err := client.MarkProvisioned(ctx, id); err != nil {
			return fmt.Errorf("reporting %s provisioned: %w", a.Name, err)
		}
	}
	// After MarkProvisioned: the tracker reads the add-on (and its state)
	// once; later it re-reads couplings, and webhooks tell it the rest.
	if err := f.tracker.Track(ctx, id); err != nil {
		return fmt.Errorf("tracking %s: %w", a.Name, err)
	}
	f.mu.Lock()
	f.addons[app] = append(f.addons[app], a)
	f.mu.Unlock()
	f.reg.add(customer, id)
	return nil
}

// provision adds a new add-on of ours with plan to the named app.
func (f *fleet) provision(ctx context.Context, app, plan string) (*hp.Addon, error) {
	ref, ok := f.apps[app]
	if !ok {
		return nil, fmt.Errorf("no app %q in the demo world", app)
	}
	a := f.srv.AddAddon(ref.ID, plan)
	return a, f.adopt(ctx, f.owner[app], app, a, true)
}

// deprovision destroys the newest add-on of the named app on Heroku's
// side, as a customer removing it does: Heroku's webhook takes it off the
// map. The partner drops it from its records and forgets its tokens, as
// Heroku's deprovisioning request makes it do.
func (f *fleet) deprovision(ctx context.Context, app string) (*hp.Addon, error) {
	f.mu.Lock()
	list := f.addons[app]
	if len(list) == 0 {
		f.mu.Unlock()
		return nil, fmt.Errorf("app %q has no add-on of ours", app)
	}
	a := list[len(list)-1]
	f.addons[app] = list[:len(list)-1]
	f.mu.Unlock()
	id := a.ID.String()
	f.reg.remove(id) // first, so the page never lists it as missing from the map
	f.srv.DestroyAddon(a.ID)
	return a, f.tokens.Forget(ctx, id)
}

// rename gives the app seeded as app a new name on Heroku's side; Heroku's
// webhook tells the tracker.
func (f *fleet) rename(app, name string) {
	f.srv.RenameApp(f.apps[app].ID, name)
}

// couple moves the named app to stage of the named pipeline, as a customer
// promoting or moving an app does; pipeline "" takes it out of any. No
// webhook says so: the tracker's refresher finds it.
func (f *fleet) couple(app, pipeline string, stage hp.Stage) {
	ref := f.apps[app]
	if pipeline == "" {
		f.srv.Uncouple(ref.ID)
		return
	}
	f.srv.Couple(ref.ID, f.pipes[pipeline].ID, stage)
}
