package herokupartnertest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/google/uuid"
)

// eventVersion is the version field of every delivered body.
const eventVersion = "application/vnd.heroku+json; version=3"

// event is one change, delivered to every subscription that includes its
// entity; all its deliveries carry the same event id.
type event struct {
	id                        uuid.UUID
	include, resource, action string
	actor                     wireAccount
	data, previous            json.RawMessage
	created                   time.Time
}

type wireAccount struct {
	Email string `json:"email"`
	ID    string `json:"id"`
}

// appMeta is what an app's webhook object needs beyond the app record.
type appMeta struct {
	owner   wireAccount
	updated time.Time
}

type wireApp struct {
	ACM                          bool        `json:"acm"`
	ArchivedAt                   *string     `json:"archived_at"`
	BuildpackProvidedDescription *string     `json:"buildpack_provided_description"`
	BuildStack                   wireRef     `json:"build_stack"`
	CreatedAt                    string      `json:"created_at"`
	GitURL                       string      `json:"git_url"`
	ID                           string      `json:"id"`
	InternalRouting              *bool       `json:"internal_routing"`
	Maintenance                  bool        `json:"maintenance"`
	Name                         string      `json:"name"`
	Organization                 *wireRef    `json:"organization"`
	Owner                        wireAccount `json:"owner"`
	Region                       wireRef     `json:"region"`
	ReleasedAt                   *string     `json:"released_at"`
	RepoSize                     *int        `json:"repo_size"`
	SlugSize                     *int        `json:"slug_size"`
	Space                        *wireRef    `json:"space"`
	Stack                        wireRef     `json:"stack"`
	Team                         *wireRef    `json:"team"`
	UpdatedAt                    string      `json:"updated_at"`
	WebURL                       string      `json:"web_url"`
}

type wireAttachment struct {
	Addon struct {
		ID   string  `json:"id"`
		Name string  `json:"name"`
		App  wireRef `json:"app"`
	} `json:"addon"`
	App         wireRef `json:"app"`
	CreatedAt   string  `json:"created_at"`
	ID          string  `json:"id"`
	LogInputURL *string `json:"log_input_url"`
	Name        string  `json:"name"`
	Namespace   *string `json:"namespace"`
	UpdatedAt   string  `json:"updated_at"`
	WebURL      string  `json:"web_url"`
}

// meta returns the app's webhook metadata, creating it on first use; the
// caller holds s.mu.
func (s *Server) meta(ap *app) *appMeta {
	s.hooks.init()
	m := s.hooks.apps[ap.id]
	if m == nil {
		id := uuid.New()
		m = &appMeta{owner: wireAccount{Email: "owner-" + id.String()[:8] + "@example.com", ID: id.String()}, updated: ap.created}
		s.hooks.apps[ap.id] = m
	}
	return m
}

// appJSON renders the app as webhook events carry it; the caller holds s.mu.
func (s *Server) appJSON(ap *app) wireApp {
	m := s.meta(ap)
	stack := wireRef{ID: s.hooks.stackID.String(), Name: "heroku-24"}
	released := stamp(m.updated)
	return wireApp{
		BuildStack: stack, CreatedAt: stamp(ap.created),
		GitURL: "https://git.heroku.com/" + ap.name + ".git", ID: ap.id.String(), Name: ap.name,
		Owner: m.owner, Region: wireRef{ID: s.hooks.regionID.String(), Name: "us"}, ReleasedAt: &released,
		Stack: stack, UpdatedAt: stamp(m.updated), WebURL: "https://" + ap.name + ".herokuapp.com/",
	}
}

// attachmentJSON renders the add-on's attachment to its billing app, which
// Heroku creates with the add-on and names after the service; the caller
// holds s.mu.
func (s *Server) attachmentJSON(a *addon) wireAttachment {
	s.hooks.init()
	id, ok := s.hooks.attach[a.id]
	if !ok {
		id = uuid.New()
		s.hooks.attach[a.id] = id
	}
	ap := s.apps[a.appID]
	var w wireAttachment
	w.Addon.ID, w.Addon.Name, w.Addon.App = a.id.String(), a.name, wireRef{ID: ap.id.String(), Name: ap.name}
	w.App = w.Addon.App
	w.CreatedAt, w.UpdatedAt = stamp(a.created), stamp(a.created)
	w.ID = id.String()
	w.Name = strings.ToUpper(strings.ReplaceAll(s.cfg.service, "-", "_"))
	w.WebURL = fmt.Sprintf("https://addons-sso.heroku.com/apps/%s/addons/%s", ap.id, a.id)
	return w
}

// emit records an event and queues it for every subscription in hooks
// that includes its entity; the caller holds s.mu.
func (s *Server) emit(include, action string, actor wireAccount, data, previous any, hooks []*webhook) {
	s.hooks.init()
	ev := &event{id: uuid.New(), include: include, resource: strings.TrimPrefix(include, "api:"), action: action,
		actor: actor, data: marshal(data), previous: marshal(previous), created: s.now()}
	seen := map[uuid.UUID]bool{}
	for _, h := range hooks {
		if !contains(h.include, include) {
			continue
		}
		if !seen[h.addonID] {
			seen[h.addonID] = true
			s.hooks.events[h.addonID] = append(s.hooks.events[h.addonID], ev)
		}
		s.enqueue(h, ev)
	}
}

// appHooks returns the subscriptions of every add-on on the app, which
// receive the app's events; the caller holds s.mu.
func (s *Server) appHooks(appID uuid.UUID) []*webhook {
	var out []*webhook
	for _, a := range s.addonsOn(appID) {
		out = append(out, s.hooksOf(a.id)...)
	}
	return out
}

// addonsOn returns the app's add-ons in creation order; the caller holds s.mu.
func (s *Server) addonsOn(appID uuid.UUID) []*addon {
	var out []*addon
	for _, a := range s.addons {
		if a.appID == appID {
			out = append(out, a)
		}
	}
	sortAddons(out)
	return out
}

// RenameApp renames the app, as a customer's `heroku apps:rename` does:
// later API answers show the new name, and the subscriptions of the
// app's add-ons that include api:app get an update event whose
// previous_data holds the old name. It panics, naming the id, if the app
// is unknown.
func (s *Server) RenameApp(appID uuid.UUID, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustApp("RenameApp", appID)
	ap := s.apps[appID]
	old := ap.name
	ap.name = name
	m := s.meta(ap)
	m.updated = s.now()
	s.emit("api:app", "update", m.owner, s.appJSON(ap), map[string]string{"name": old}, s.appHooks(appID))
}

// ChangePlan moves the add-on to another plan (a slug, or a full
// "service:plan" name), as `heroku addons:upgrade` does: later API
// answers show the new plan, and the add-on's subscriptions that include
// api:addon get an update event whose previous_data holds the old plan.
// It returns the add-on as GET /addons/{id} now shows it, and panics,
// naming the id, if the add-on is unknown.
func (s *Server) ChangePlan(addonID uuid.UUID, plan string) *herokupartner.Addon {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustAddon("ChangePlan", addonID)
	a := s.addons[addonID]
	old := wireRef{ID: a.planID.String(), Name: a.plan}
	a.plan, a.planID, a.cents = s.planLocked(plan)
	a.updated = s.now()
	s.emit("api:addon", "update", s.meta(s.apps[a.appID]).owner, s.addonJSON(a),
		map[string]wireRef{"plan": old}, s.hooksOf(a.id))
	return roundTrip[herokupartner.Addon](s.addonJSON(a))
}

// DestroyAddon removes the add-on, as a customer's `heroku addons:destroy`
// does: its subscriptions that include api:addon-attachment and api:addon
// get, in that order, the attachment's and the add-on's destroy events;
// then the add-on, its subscriptions and every token and grant for it are
// gone, so the API answers 401 to its tokens. Whether Heroku still
// delivers the destroy to an add-on it is deprovisioning is undocumented;
// the fake does. It panics, naming the id, if the add-on is unknown.
func (s *Server) DestroyAddon(addonID uuid.UUID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustAddon("DestroyAddon", addonID)
	s.destroyAddonLocked(s.addons[addonID])
}

func (s *Server) destroyAddonLocked(a *addon) {
	hooks := s.hooksOf(a.id)
	actor := s.meta(s.apps[a.appID]).owner
	s.emit("api:addon-attachment", "destroy", actor, s.attachmentJSON(a), struct{}{}, hooks)
	a.state = herokupartner.AddonStateDeprovisioned
	a.updated = s.now()
	s.emit("api:addon", "destroy", actor, s.addonJSON(a), struct{}{}, hooks)
	for _, h := range hooks {
		delete(s.hooks.byID, h.id)
	}
	s.revokeLocked(a.id)
	delete(s.addons, a.id)
}

// DestroyApp deletes the app, as `heroku apps:destroy` does: each of its
// add-ons is destroyed first (see DestroyAddon), then the subscriptions
// of those add-ons that include api:app get the app's destroy event; the
// app and its pipeline coupling are gone from later answers. It panics,
// naming the id, if the app is unknown.
func (s *Server) DestroyApp(appID uuid.UUID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustApp("DestroyApp", appID)
	ap := s.apps[appID]
	hooks := s.appHooks(appID)
	for _, a := range s.addonsOn(appID) {
		s.destroyAddonLocked(a)
	}
	m := s.meta(ap)
	m.updated = s.now()
	s.emit("api:app", "destroy", m.owner, s.appJSON(ap), struct{}{}, hooks)
	delete(s.couplings, appID)
	delete(s.apps, appID)
	delete(s.hooks.apps, appID)
}

// body renders the delivery's JSON for one attempt; the caller holds s.mu.
func (d *delivery) body(attemptID uuid.UUID) []byte {
	type ref struct {
		ID string `json:"id"`
	}
	ev := d.ev
	var env struct {
		ID           string          `json:"id"`
		Action       string          `json:"action"`
		Actor        wireAccount     `json:"actor"`
		Resource     string          `json:"resource"`
		Data         json.RawMessage `json:"data"`
		PreviousData json.RawMessage `json:"previous_data"`
		PublishedAt  *string         `json:"published_at"`
		Sequence     *string         `json:"sequence"`
		Version      string          `json:"version"`
		CreatedAt    string          `json:"created_at"`
		UpdatedAt    string          `json:"updated_at"`
		Metadata     struct {
			Attempt  ref          `json:"attempt"`
			Delivery ref          `json:"delivery"`
			Event    wireEventRef `json:"event"`
			Webhook  ref          `json:"webhook"`
		} `json:"webhook_metadata"`
	}
	env.ID, env.Action, env.Actor, env.Resource = ev.id.String(), ev.action, ev.actor, ev.resource
	env.Data, env.PreviousData, env.Version = ev.data, ev.previous, eventVersion
	env.CreatedAt, env.UpdatedAt = stamp(ev.created), stamp(ev.created)
	md := &env.Metadata
	md.Attempt.ID, md.Delivery.ID, md.Webhook.ID = attemptID.String(), d.id.String(), d.hook.id.String()
	md.Event = wireEventRef{ID: ev.id.String(), Include: ev.include}
	return marshal(env)
}

// sortAddons orders add-ons by creation, then id, so events about several
// come in a stable order.
func sortAddons(list []*addon) {
	sort.Slice(list, func(i, j int) bool {
		if !list[i].created.Equal(list[j].created) {
			return list[i].created.Before(list[j].created)
		}
		return list[i].id.String() < list[j].id.String()
	})
}
