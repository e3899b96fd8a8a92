package herokupartnertest

import (
	"fmt"

	"github.com/addonkit/herokupartner"
)

// World describes customers' apps, their pipelines and the add-ons of ours
// on them, for Seed to create in one call instead of a loop of AddApp,
// AddPipeline, Couple, AddAddon and IssueToken in every test and demo.
type World struct {
	// Apps are created in this order, each with its add-ons, so add-on
	// names (which follow creation order) are stable from run to run.
	// A pipeline is created when an app first names it.
	Apps []WorldApp
}

// WorldApp is one customer's app in a World.
type WorldApp struct {
	// Customer names who owns the app; Seeded.Customers counts the
	// distinct names. Optional.
	Customer string
	// Name is the app's name.
	Name string
	// Pipeline is the name of the pipeline the app is coupled to; empty
	// for an app in no pipeline.
	Pipeline string
	// Stage is the app's stage in Pipeline; it must be empty when
	// Pipeline is.
	Stage herokupartner.Stage
	// Plans has one plan slug or name per add-on of ours on the app, as
	// AddAddon takes it; nil means one "basic" add-on.
	Plans []string
	// Revoked withdraws the grants of the app's add-ons after their
	// tokens are issued, as a customer's revocation does: requests with
	// those tokens then get 401.
	Revoked bool
}

// Seeded is what Seed created.
type Seeded struct {
	// Resources are the add-ons created, in creation order.
	Resources []SeededResource
	// Pipelines are the pipelines created, by name.
	Pipelines map[string]*herokupartner.Pipeline
	// Customers is the number of distinct WorldApp.Customer names,
	// counting an empty name as none.
	Customers int
}

// SeededResource is one add-on Seed created and the token that reaches it.
type SeededResource struct {
	// Customer is the owner named by the add-on's WorldApp.
	Customer string
	// App is the app the add-on is attached to.
	App herokupartner.Ref
	// Pipeline is the app's pipeline, nil when it is in none.
	Pipeline *herokupartner.Pipeline
	// Stage is the app's stage, empty when it is in no pipeline.
	Stage herokupartner.Stage
	// Addon is the add-on as GET /addons/{id} showed it when created.
	Addon *herokupartner.Addon
	// Token is an access token issued for the add-on alone, as Heroku
	// grants one per resource; revoked if WorldApp.Revoked.
	Token herokupartner.Secret
}

// Seed creates w on the server and returns what it created. It panics,
// naming the app, if an app has a Stage but no Pipeline.
func (s *Server) Seed(w World) *Seeded {
	out := &Seeded{Pipelines: map[string]*herokupartner.Pipeline{}}
	customers := map[string]bool{}
	for _, wa := range w.Apps {
		if wa.Pipeline == "" && wa.Stage != "" {
			panic(fmt.Sprintf("herokupartnertest: Seed: app %q has stage %q but no pipeline", wa.Name, wa.Stage))
		}
		if wa.Customer != "" {
			customers[wa.Customer] = true
		}
		p := out.Pipelines[wa.Pipeline]
		if p == nil && wa.Pipeline != "" {
			p = s.AddPipeline(wa.Pipeline)
			out.Pipelines[wa.Pipeline] = p
		}
		app := s.AddApp(wa.Name)
		if p != nil {
			s.Couple(app.ID, p.ID, wa.Stage)
		}
		plans := wa.Plans
		if plans == nil {
			plans = []string{"basic"}
		}
		for _, plan := range plans {
			a := s.AddAddon(app.ID, plan)
			r := SeededResource{Customer: wa.Customer, App: app, Pipeline: p, Stage: wa.Stage, Addon: a,
				Token: herokupartner.NewSecret(s.IssueToken(a.ID))}
			if wa.Revoked {
				s.RevokeGrant(a.ID)
			}
			out.Resources = append(out.Resources, r)
		}
	}
	out.Customers = len(customers)
	return out
}
