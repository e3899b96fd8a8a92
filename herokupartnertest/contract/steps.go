package contract

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
)

// configName is the shape the manifest allows for config var names.
var configName = regexp.MustCompile(`^[A-Z][0-9A-Z_]+$`)

// grantExpiry is the oauth_grant expires_at form Heroku sends: an offset
// without a colon, which strict RFC 3339 parsers reject.
const grantExpiry = "2006-01-02T15:04:05-0700"

// provisionBody is the request Heroku sends for the add-on.
func (r *run) provisionBody(id uuid.UUID, code string, expires time.Time) map[string]any {
	return map[string]any{
		"uuid":         id.String(),
		"name":         r.addon.Name,
		"plan":         r.cfg.Plan,
		"region":       r.cfg.Region,
		"callback_url": r.cfg.APIURL + "/addons/" + id.String(),
		"oauth_grant": map[string]any{
			"code":       code,
			"expires_at": expires.Format(grantExpiry),
			"type":       "authorization_code",
		},
		"options": map[string]string{},
	}
}

// refuses checks that a request without the right credentials gets 401.
// The probes of provisioning use an unknown uuid, so that a backend which
// skips the check does not provision the add-on under test.
func (r *run) refuses(ctx context.Context, step, method, path string, body any) {
	for _, p := range []struct {
		cred credentials
		what string
	}{{wrongCredentials, "401 for a wrong password"}, {noCredentials, "401 without credentials"}} {
		a := r.send(ctx, method, path, body, p.cred)
		name := fmt.Sprintf("%s: %s", step, p.what)
		switch {
		case a.failure != "":
			r.report.add(name, false, "%s", a.failure)
		default:
			r.report.add(name, a.status == http.StatusUnauthorized, "answered %d", a.status)
		}
	}
}

// answered records whether a came back within the limit; it returns false
// when there is nothing further to check.
func (r *run) answered(step string, a answer) bool {
	name := step + ": answers within " + r.cfg.Limit.String()
	if a.failure != "" {
		r.report.add(name, false, "%s", a.failure)
		return false
	}
	r.report.add(name, true, "answered %d in %s", a.status, max(a.took.Round(time.Millisecond), time.Millisecond))
	return true
}

func (r *run) provision(ctx context.Context) {
	r.refuses(ctx, "provision", http.MethodPost, "", r.provisionBody(uuid.New(), "not-a-grant", time.Now().Add(5*time.Minute)))

	code, expires := r.cfg.Fake.IssueGrant(r.addon.ID)
	body := r.provisionBody(r.addon.ID, code, expires)
	a := r.send(ctx, http.MethodPost, "", body, rightCredentials)
	if !r.answered("provision", a) {
		return
	}
	async := a.status == http.StatusAccepted
	r.report.add("provision: answers 200 or 202", a.status == http.StatusOK || async, "answered %d", a.status)
	f, problem := decode(a.body)
	r.checkBody("provision", f, problem, true)
	switch {
	case async && problem == "":
		r.report.add("provision (async): no config in the 202 answer", f.config == nil,
			"%s", configDetail(f.config, "Heroku ignores config in a 202; PATCH it"))
		r.watch(ctx)
	case !async && problem == "":
		r.checkConfig("provision", f.config)
	}

	// Heroku delivers at least once: the same request again must give
	// the same resource, not a second one.
	again := r.send(ctx, http.MethodPost, "", body, rightCredentials)
	name := "provision: a redelivered request gets 2xx and the same id"
	switch g, problem := decode(again.body); {
	case again.failure != "":
		r.report.add(name, false, "%s", again.failure)
	case again.status/100 != 2:
		r.report.add(name, false, "answered %d", again.status)
	case problem != "" || !g.hasID:
		r.report.add(name, false, "answered %d without an id", again.status)
	default:
		r.report.add(name, g.id == r.id, "answered %d, id %s", again.status, sameOr(g.id == r.id))
	}
}

func sameOr(same bool) string {
	if same {
		return "unchanged"
	}
	return "changed"
}

// checkBody checks the answer's JSON shape; needID says whether an id is
// required (provisioning) or optional (plan change).
func (r *run) checkBody(step string, f fields, problem string, needID bool) {
	name := step + ": body is JSON with " + map[bool]string{true: "an id", false: "optional message and config"}[needID]
	switch {
	case problem != "":
		r.report.add(name, false, "%s", problem)
	case needID && !f.hasID:
		r.report.add(name, false, "no id field")
	case needID:
		r.id = f.id
		detail := "id present"
		if f.id != r.addon.ID.String() {
			detail = "id present; it differs from the uuid, and which of the two Heroku puts in later paths is unconfirmed, so this run uses the uuid"
		}
		r.report.add(name, true, "%s", detail)
	default:
		r.report.add(name, true, "valid")
	}
}

// checkConfig checks config var names; values are never shown.
func (r *run) checkConfig(step string, config map[string]string) {
	var bad []string
	for k := range config {
		if !configName.MatchString(k) && k != "log_drain_url" {
			bad = append(bad, fmt.Sprintf("%q", k))
		}
	}
	sort.Strings(bad)
	name := step + ": config names are upper-case config vars"
	if len(bad) > 0 {
		r.report.add(name, false, "not config var names: %s", strings.Join(bad, ", "))
		return
	}
	r.report.add(name, true, "%s", configDetail(config, ""))
}

func configDetail(config map[string]string, whenPresent string) string {
	if config == nil {
		return "no config"
	}
	names := make([]string, 0, len(config))
	for k := range config {
		names = append(names, k)
	}
	sort.Strings(names)
	d := "config " + strings.Join(names, ", ")
	if whenPresent != "" {
		d += "; " + whenPresent
	}
	return d
}

func (r *run) planChange(ctx context.Context) {
	path := "/" + r.addon.ID.String()
	body := map[string]any{"plan": r.cfg.NewPlan}
	r.refuses(ctx, "plan change", http.MethodPut, path, body)
	a := r.send(ctx, http.MethodPut, path, body, rightCredentials)
	if !r.answered("plan change", a) {
		return
	}
	r.report.add("plan change: answers 200", a.status == http.StatusOK, "answered %d", a.status)
	if a.status != http.StatusOK {
		return
	}
	f, problem := decode(a.body)
	r.checkBody("plan change", f, problem, false)
	if problem == "" {
		r.checkConfig("plan change", f.config)
	}
}

func (r *run) deprovision(ctx context.Context) {
	path := "/" + r.addon.ID.String()
	r.refuses(ctx, "deprovision", http.MethodDelete, path, nil)
	a := r.send(ctx, http.MethodDelete, path, nil, rightCredentials)
	if !r.answered("deprovision", a) {
		return
	}
	r.report.add("deprovision: answers 2xx", a.status/100 == 2, "answered %d", a.status)
	again := r.send(ctx, http.MethodDelete, path, nil, rightCredentials)
	name := "deprovision: a redelivered request gets 2xx"
	if again.failure != "" {
		r.report.add(name, false, "%s", again.failure)
		return
	}
	r.report.add(name, again.status/100 == 2, "answered %d", again.status)
}
