package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/addonkit/herokupartner"
	"github.com/google/uuid"
)

// acme is the add-on's own side of provisioning: what a partner writes.
// Everything else is herokupartner.Provisioner's.
type acme struct {
	serviceURL string
	logger     *slog.Logger
}

// plans are the plans in the add-on's manifest.
var plans = map[string]bool{"basic": true, "premium": true}

// provision creates the customer's resource. It may run more than once for
// one add-on (a retry, or a crash before its result was recorded), so it
// derives everything from req.UUID: a real service would create its tenant
// with the uuid as a unique key and return the existing one on a repeat.
func (a *acme) provision(ctx context.Context, req *herokupartner.ProvisionRequest, res *herokupartner.Resolution) (herokupartner.ProvisionResult, error) {
	msg := "Ready for app " + res.App.Name
	if res.InPipeline() {
		msg = fmt.Sprintf("Ready for the %s stage of pipeline %s", res.Stage, res.Pipeline.Name)
	}
	return herokupartner.ProvisionResult{
		Config:  map[string]string{"ACME_URL": a.serviceURL + "/r/" + req.UUID.String()},
		Message: msg,
	}, nil
}

// failed hears of a provisioning that will not finish; a real service
// would free what provision created and alert someone.
func (a *acme) failed(ctx context.Context, req *herokupartner.ProvisionRequest, err error) {
	a.logger.ErrorContext(ctx, "provisioning failed for good", "resource", req.UUID, "error", err)
}

// changePlan serves Heroku's plan change; unknown plans are refused.
func (a *acme) changePlan(ctx context.Context, resource uuid.UUID, plan string) (herokupartner.ProvisionResult, error) {
	if !plans[plan] {
		return herokupartner.ProvisionResult{}, errors.New("unknown plan")
	}
	a.logger.InfoContext(ctx, "plan changed", "resource", resource, "plan", plan)
	return herokupartner.ProvisionResult{Message: "Now on the " + plan + " plan."}, nil
}
