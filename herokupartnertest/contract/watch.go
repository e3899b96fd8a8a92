package contract

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

// pollEvery is how often the fake's request log is read while waiting for
// the backend's callbacks; the fake offers no notification.
const pollEvery = 25 * time.Millisecond

// watch waits, after a 202, for the backend to PATCH the add-on's config
// and mark it provisioned at the fake, and checks the order.
func (r *run) watch(ctx context.Context) {
	name := fmt.Sprintf("provision (async): config PATCH and provision action within %s", r.cfg.AsyncWait)
	ctx, cancel := context.WithTimeout(ctx, r.cfg.AsyncWait)
	defer cancel()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		patch, provision := r.callbacks()
		if patch >= 0 && provision >= 0 {
			r.report.add(name, true, "both arrived")
			r.report.add("provision (async): config set before the provision action", patch < provision,
				"%s", map[bool]string{true: "in order", false: "the add-on was marked provisioned before its config was set"}[patch < provision])
			addon, _ := r.cfg.Fake.Addon(r.addon.ID)
			ok := addon != nil && addon.State == herokupartner.AddonStateProvisioned
			r.report.add("provision (async): the add-on is provisioned at the fake", ok, "state %s", stateOf(addon))
			return
		}
		select {
		case <-ctx.Done():
			var missing []string
			if patch < 0 {
				missing = append(missing, "no config PATCH")
			}
			if provision < 0 {
				missing = append(missing, "no provision action")
			}
			r.report.add(name, false, "%s", strings.Join(missing, " and "))
			return
		case <-tick.C:
		}
	}
}

// callbacks returns the positions in the fake's log of the first
// successful config PATCH and provision action for the add-on, or -1.
func (r *run) callbacks() (patch, provision int) {
	patch, provision = -1, -1
	id := r.addon.ID.String()
	for i, q := range r.cfg.Fake.Requests() {
		if q.Status/100 != 2 || !strings.Contains(q.Path, id) {
			continue
		}
		switch {
		case patch < 0 && q.Route == herokupartnertest.RouteConfig && q.Method == http.MethodPatch:
			patch = i
		case provision < 0 && q.Route == herokupartnertest.RouteProvision:
			provision = i
		}
	}
	return patch, provision
}

func stateOf(a *herokupartner.Addon) string {
	if a == nil {
		return "unknown"
	}
	return string(a.State)
}
