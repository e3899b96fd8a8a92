package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

// demo provisions one add-on against an in-process fake of Heroku, the way
// Heroku would, with trouble on the way: a repeated delivery, a Platform
// API outage, and a restart of the backend in the middle of the work. Two
// instances share in-memory stores, standing in for one database.
func demo(out io.Writer) error {
	fake := herokupartnertest.NewServer()
	defer fake.Close()
	app := fake.AddApp("acme-web")
	pipeline := fake.AddPipeline("acme")
	fake.Couple(app.ID, pipeline.ID, herokupartner.StageProduction)
	addon := fake.AddAddon(app.ID, "basic")
	code, expiresAt := fake.IssueGrant(addon.ID)

	cfg := &config{addonID: "acme", password: herokupartner.NewSecret("s3cret"), secret: herokupartner.NewSecret(fake.ClientSecret()),
		apiURL: fake.URL, tokenURL: fake.TokenURL(), serviceURL: "https://acme.example"}
	jobs, tokens := new(herokupartner.MemoryJobStore), new(herokupartner.MemoryTokenStore)
	// The first instance is stopped while the add-on's own provisioning
	// runs: it is told when that step starts, and waits to be stopped.
	started := make(chan struct{}, 1)
	first, stopFirst, err := demoInstance(cfg, jobs, tokens, func(ctx context.Context) {
		started <- struct{}{}
		<-ctx.Done()
	})
	if err != nil {
		return err
	}
	defer stopFirst()

	// Heroku's couplings route fails the next four requests.
	fake.Fail(herokupartnertest.RouteCouplings, herokupartnertest.Fault{Times: 4, Status: http.StatusServiceUnavailable})
	body, err := json.Marshal(map[string]any{
		"uuid": addon.ID, "name": addon.Name, "plan": "basic", "region": "amazon-web-services::us-east-1",
		"callback_url": fake.URL + "/addons/" + addon.ID.String(), "options": map[string]string{},
		"oauth_grant": map[string]string{"code": code, "expires_at": expiresAt.Format("2006-01-02T15:04:05-0700"), "type": "authorization_code"},
	})
	if err != nil {
		return err
	}
	for i := range 2 {
		status, answer, err := send(first, http.MethodPost, "/heroku/resources", body)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "delivery %d: %s %q\n", i+1, status, answer["message"])
	}

	select {
	case <-started:
	case <-time.After(time.Minute):
		return fmt.Errorf("the job never reached the add-on's own step")
	}
	stopFirst()
	second, stopSecond, err := demoInstance(cfg, jobs, tokens, nil)
	if err != nil {
		return err
	}
	defer stopSecond()
	fmt.Fprintln(out, "restart: the backend stopped during the add-on's own step; a new instance resumed the job")

	job, err := waitDone(jobs, addon)
	if err != nil {
		return err
	}
	st := job.Status()
	fmt.Fprintf(out, "backend: %s, app %s in pipeline %s at %s, after %d failed request(s) to Heroku\n",
		st.State, st.App, st.Pipeline, st.Stage, countRequests(fake, "", http.StatusServiceUnavailable))
	a, _ := fake.Addon(addon.ID)
	fmt.Fprintf(out, "heroku: add-on %s, ACME_URL set: %v, grant exchanges: %d, config updates: %d, provision actions: %d\n",
		a.State, fake.AddonConfig(addon.ID)["ACME_URL"] != "", countRequests(fake, herokupartnertest.RouteToken, 0),
		countRequests(fake, herokupartnertest.RouteConfig, 0), countRequests(fake, herokupartnertest.RouteProvision, 0))

	del, _, err := send(second, http.MethodDelete, "/heroku/resources/"+addon.ID.String(), nil)
	if err != nil {
		return err
	}
	again, _, err := send(second, http.MethodPost, "/heroku/resources", body)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "deprovision: %s; a late redelivery: %s\n", del, again)
	return nil
}

// demoInstance starts one backend instance on the shared stores; hold, if
// set, runs inside the add-on's own step before it does its work.
func demoInstance(cfg *config, jobs herokupartner.JobStore, tokens herokupartner.TokenStore, hold func(context.Context)) (*httptest.Server, func(), error) {
	pc, err := provisionerConfig(cfg, jobs, tokens, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, nil, err
	}
	pc.MinBackoff, pc.PollInterval = 20*time.Millisecond, 10*time.Millisecond
	if hold != nil {
		provision := pc.Provision
		pc.Provision = func(ctx context.Context, req *herokupartner.ProvisionRequest, res *herokupartner.Resolution) (herokupartner.ProvisionResult, error) {
			hold(ctx)
			if err := ctx.Err(); err != nil {
				return herokupartner.ProvisionResult{}, err
			}
			return provision(ctx, req, res)
		}
	}
	p, err := herokupartner.NewProvisioner(pc)
	if err != nil {
		return nil, nil, err
	}
	srv := httptest.NewServer(p)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { _ = p.Run(ctx); close(ran) }()
	stopped := false
	return srv, func() {
		if !stopped {
			stopped = true
			srv.Close()
			cancel()
			<-ran
		}
	}, nil
}

// send makes one request to srv as Heroku would.
func send(srv *httptest.Server, method, path string, body []byte) (string, map[string]any, error) {
	req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		return "", nil, err
	}
	req.SetBasicAuth("acme", "s3cret")
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	var answer map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		return "", nil, fmt.Errorf("%s %s: answer is not JSON: %w", method, path, err)
	}
	return resp.Status, answer, nil
}

func waitDone(jobs herokupartner.JobStore, addon *herokupartner.Addon) (herokupartner.Job, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		job, err := jobs.LoadJob(context.Background(), addon.ID)
		if err != nil {
			return job, err
		}
		if job.State != herokupartner.JobProvisioning {
			return job, nil
		}
		if time.Now().After(deadline) {
			return job, fmt.Errorf("provisioning did not finish: %s", job.LastError)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// countRequests counts the fake's requests on route (any, if empty) that
// were answered with status (any, if 0); on the token route, only grant
// exchanges.
func countRequests(fake *herokupartnertest.Server, route herokupartnertest.Route, status int) int {
	n := 0
	for _, r := range fake.Requests() {
		if (route == "" || r.Route == route) && (status == 0 || r.Status == status) &&
			(r.Route != herokupartnertest.RouteToken || r.Form.Get("grant_type") == "authorization_code") &&
			(r.Route != herokupartnertest.RouteConfig || r.Method == http.MethodPatch) {
			n++
		}
	}
	return n
}
