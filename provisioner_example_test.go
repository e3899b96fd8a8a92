package herokupartner_test

import (
	"context"
	"fmt"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

func ExampleProvisioner() {
	fake := herokupartnertest.NewServer() // Heroku, for the example
	defer fake.Close()
	addon := fake.AddAddon(fake.AddApp("acme-web").ID, "basic")
	code, _ := fake.IssueGrant(addon.ID)

	tokens, _ := herokupartner.NewTokenManager(herokupartner.TokenManagerConfig{
		ClientSecret: herokupartner.NewSecret(fake.ClientSecret()), TokenURL: fake.TokenURL(),
	})
	api, _ := herokupartner.NewClient(herokupartner.WithBaseURL(fake.URL))
	p, err := herokupartner.NewProvisioner(herokupartner.ProvisionerConfig{
		Tokens: tokens, API: api,
		Jobs: new(herokupartner.MemoryJobStore), // a pgstore.Store in production
		Provision: func(ctx context.Context, req *herokupartner.ProvisionRequest, res *herokupartner.Resolution) (herokupartner.ProvisionResult, error) {
			// Create the customer's resource, idempotently by req.UUID.
			return herokupartner.ProvisionResult{Config: map[string]string{"ACME_URL": "https://acme.example/r/" + req.UUID.String()}}, nil
		},
		Username: "acme", Password: herokupartner.NewSecret("manifest-password"),
		PollInterval: 10 * time.Millisecond,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)

	// In a backend, http.Handle("/heroku/", p) serves Heroku's
	// calls; here the parsed request is handed over directly.
	st, err := p.Provision(ctx, &herokupartner.ProvisionRequest{
		UUID: addon.ID, OAuthGrant: &herokupartner.OAuthGrant{Code: herokupartner.NewSecret(code)},
	})
	fmt.Println(st.State, err)
	for st.State == herokupartner.JobProvisioning {
		time.Sleep(10 * time.Millisecond)
		st, _ = p.Status(ctx, addon.ID)
	}
	fmt.Println(st.State, st.App, fake.AddonConfig(addon.ID)["ACME_URL"] != "")
	// Output:
	// provisioning <nil>
	// provisioned acme-web true
}
