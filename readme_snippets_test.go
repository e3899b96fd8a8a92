package herokupartner_test

// The Go snippets of README.md, each kept verbatim between "readme:begin"
// and "readme:end" lines inside a function that declares what the snippet
// takes as given, so that the compiler, vet and staticcheck see every
// snippet and TestREADMESnippets (readme_test.go) fails when the README and
// this copy differ. The snippets of pgstore and rediscache live in those
// modules' readme_snippets_test.go.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/addonkit/herokupartner/herokupartnertest/contract"
	"github.com/google/uuid"
)

// The snippets are compiled, not run (TestStage excepted): listing them
// here keeps staticcheck from reporting them unused.
var _ = []any{readmeQuickstart, readmeErrors, readmeTokens, readmeProvisioner, readmeOwnHandler,
	readmeWiring, readmeBatch, stageOf, readmeSubscribe, readmeReceiver, readmeTracker,
	readmeInvalidate, readmeContract}

func readmeQuickstart(ctx context.Context, accessToken, resourceUUID string) {
	// readme:begin quickstart
	client, err := herokupartner.NewClient(herokupartner.WithUserAgent("acme-addon/1.0"))
	if err != nil {
		log.Fatal(err)
	}

	// Later, for one provisioned resource, with the access token you exchanged
	// its OAuth grant for (see "Tokens"):
	res, err := client.WithToken(accessToken).ResolvePipeline(ctx, resourceUUID)
	switch {
	case err != nil:
		log.Printf("resolve %s: %v", resourceUUID, err)
	case !res.InPipeline():
		log.Printf("%s: app %s is in no pipeline", resourceUUID, res.App.Name)
	default:
		log.Printf("%s: app %s is in %s at %s", resourceUUID, res.App.Name, res.Pipeline.Name, res.Stage)
	}
	// readme:end
}

func readmeErrors(ctx context.Context, client *herokupartner.Client, resourceUUID string) {
	// readme:begin errors
	_, err := client.GetAddon(ctx, resourceUUID)
	var apiErr *herokupartner.APIError
	switch {
	case errors.Is(err, herokupartner.ErrGrantRevoked): // refresh refused: only a new provisioning helps
	case errors.Is(err, herokupartner.ErrUnauthorized): // 401: token expired, code spent, or grant revoked
	case errors.Is(err, herokupartner.ErrNotFound): // 404: deprovisioned?
	case errors.Is(err, herokupartner.ErrForbidden): // 403: not this token's resource
	case errors.Is(err, herokupartner.ErrRateLimited): // 429 after the retries
	case errors.Is(err, herokupartner.ErrInvalidID): // nothing was sent
	case errors.Is(err, context.DeadlineExceeded):
	case errors.As(err, &apiErr):
		log.Printf("heroku said %d %s (request id %s)", apiErr.StatusCode, apiErr.ID, apiErr.RequestID)
	}
	// readme:end
}

func readmeTokens(ctx context.Context, base *herokupartner.Client, store herokupartner.TokenStore, req *herokupartner.ProvisionRequest) error {
	// readme:begin tokens
	tokens, err := herokupartner.NewTokenManager(herokupartner.TokenManagerConfig{
		ClientSecret: herokupartner.NewSecret(os.Getenv("HEROKU_OAUTH_SECRET")), // from the Partner Portal
		Store:        store,                                                     // your database; nil keeps tokens in memory
	})
	if err != nil {
		return err
	}
	// At provisioning (the Provisioner below does this for you):
	if _, err := tokens.Exchange(ctx, req.UUID.String(), *req.OAuthGrant); err != nil {
		return err // matches ErrUnauthorized if the code expired or was used
	}
	// Any time later:
	client, err := base.ForResource(tokens, req.UUID.String())
	if err != nil {
		return err // an invalid id; nothing was sent
	}
	res, err := client.ResolvePipeline(ctx, req.UUID.String())
	// readme:end
	_, _ = res, err
	return nil
}

func readmeProvisioner(tokens *herokupartner.TokenManager, base *herokupartner.Client, jobs herokupartner.JobStore,
	createTenant func(context.Context, uuid.UUID, string) (string, error)) error {
	// readme:begin provisioner
	// The background work lives as long as the process, not as long as a
	// request: a request's context ends when its handler returns.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	p, err := herokupartner.NewProvisioner(herokupartner.ProvisionerConfig{
		Tokens: tokens, API: base,
		Jobs: jobs, // a pgstore.Store shared by every replica; nil = in memory
		Provision: func(ctx context.Context, req *herokupartner.ProvisionRequest, res *herokupartner.Resolution) (herokupartner.ProvisionResult, error) {
			url, err := createTenant(ctx, req.UUID, req.Plan) // your code, idempotent by req.UUID
			return herokupartner.ProvisionResult{Config: map[string]string{"ACME_URL": url}}, err
		},
		Failed: func(ctx context.Context, req *herokupartner.ProvisionRequest, err error) {
			log.Printf("provisioning %s failed for good: %v", req.UUID, err) // free what you created, alert
		},
		Username: os.Getenv("ADDON_ID"), Password: herokupartner.NewSecret(os.Getenv("ADDON_PASSWORD")),
	})
	if err != nil {
		return err
	}
	go p.Run(ctx)              // works on the jobs with ctx; resumes unfinished ones on start
	http.Handle("/heroku/", p) // POST, DELETE, PUT /heroku/resources[/{uuid}], Basic auth checked
	// readme:end
	return nil
}

func readmeOwnHandler(mux *http.ServeMux, p *herokupartner.Provisioner) {
	// readme:begin own handler
	mux.HandleFunc("POST /heroku/resources", func(w http.ResponseWriter, r *http.Request) {
		// ... check Heroku's Basic credentials first.
		answer := func(status int, body herokupartner.ProvisionResponse) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(body)
		}
		req, err := herokupartner.ParseProvisionRequest(r.Body)
		if err != nil {
			answer(http.StatusBadRequest, herokupartner.ProvisionResponse{Message: err.Error()}) // names the field, never its value
			return
		}
		// r.Context() only bounds recording the job; Run does the work with its own.
		st, err := p.Provision(r.Context(), req)
		switch {
		case errors.Is(err, herokupartner.ErrDeprovisioned):
			answer(http.StatusGone, herokupartner.ProvisionResponse{Message: "This add-on was deprovisioned."})
		case errors.Is(err, herokupartner.ErrInvalidProvisionRequest) || st.State == herokupartner.JobFailed:
			answer(http.StatusUnprocessableEntity, herokupartner.ProvisionResponse{Message: "This add-on cannot be provisioned."})
		case err != nil: // nothing was recorded: Heroku may send the request again
			answer(http.StatusServiceUnavailable, herokupartner.ProvisionResponse{Message: "Please try again in a minute."})
		default: // no config in a 202: the job sets it
			answer(http.StatusAccepted, herokupartner.ProvisionResponse{ID: req.UUID.String(), Message: "Provisioning; ready in a few moments."})
		}
	})
	// readme:end
}

// readme:begin testing
func TestStage(t *testing.T) {
	fake := herokupartnertest.NewServer()
	defer fake.Close()
	seeded := fake.Seed(herokupartnertest.World{Apps: []herokupartnertest.WorldApp{
		{Customer: "acme", Name: "shop-staging", Pipeline: "shop", Stage: herokupartner.StageStaging},
		{Customer: "initech", Name: "reports"},                // in no pipeline
		{Customer: "umbrella", Name: "legacy", Revoked: true}, // its token gets 401
	}})
	shop := seeded.Resources[0]
	res, err := fake.Client(shop.Token.Reveal()).ResolvePipeline(t.Context(), shop.Addon.ID.String())
	if err != nil || res.Pipeline.Name != "shop" || res.Stage != herokupartner.StageStaging {
		t.Fatalf("got %v, %v; want shop at staging", res, err)
	}
}

// readme:end

func readmeWiring(t *testing.T, fake *herokupartnertest.Server, addon *herokupartner.Addon) {
	// readme:begin wiring
	tokens, err := herokupartner.NewTokenManager(fake.TokenManagerConfig())
	if err != nil {
		t.Fatal(err)
	}
	base, err := herokupartner.NewClient(fake.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	code, expires := fake.IssueGrant(addon.ID) // what a provisioning request carries
	grant := herokupartner.OAuthGrant{Code: herokupartner.NewSecret(code), ExpiresAt: expires}
	if _, err := tokens.Exchange(t.Context(), addon.ID.String(), grant); err != nil {
		t.Fatal(err)
	}
	client, err := base.ForResource(tokens, addon.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	fake.ExpireAccessTokens(addon.ID) // the next call gets 401, refreshes and retries
	if _, err := client.GetAddon(t.Context(), addon.ID.String()); err != nil {
		t.Fatal(err)
	}
	// readme:end
}

func readmeBatch(ctx context.Context, base *herokupartner.Client, tokens *herokupartner.TokenManager, cache herokupartner.Cache, resources []string) error {
	// readme:begin batch
	items := make([]herokupartner.BatchItem, 0, len(resources))
	for _, id := range resources {
		cl, err := base.ForResource(tokens, id) // bound to the resource: see Cache
		if err != nil {
			return err // an invalid id; nothing was sent
		}
		items = append(items, herokupartner.BatchItem{ResourceUUID: id, Client: cl})
	}
	results := base.ResolvePipelines(ctx, items,
		herokupartner.BatchConcurrency(8),                            // the default
		herokupartner.BatchCache(cache, herokupartner.CachePolicy{})) // optional, see below
	for _, r := range results {
		if r.Err != nil {
			log.Printf("%s: %v", r.ResourceUUID, r.Err) // a *ResolveError, as from ResolvePipeline
			continue
		}
		fmt.Println(r.Resolution.App.Name, r.Resolution.Pipeline.Name, r.Resolution.Stage)
	}
	// readme:end
	return nil
}

// The metrics recipe's stageOf reads these.
var (
	base   *herokupartner.Client
	tokens *herokupartner.TokenManager
)

// readme:begin metrics
var stages herokupartner.Resolver // zero value ready; or set Cache, Policy, FailureTTL, TwoRequests

func stageOf(ctx context.Context, resource string) string {
	client, err := base.ForResource(tokens, resource)
	if err != nil {
		return "unknown"
	}
	stage, err := stages.Stage(ctx, client, resource)
	switch {
	case err != nil:
		return "unknown" // a revoked grant is remembered: no request per metric
	case stage == "":
		return "none"
	}
	return string(stage)
}

// readme:end

func readmeSubscribe(ctx context.Context, client *herokupartner.Client, id, hooksToken string,
	saveWebhookSecret func(string, herokupartner.Secret)) error {
	// readme:begin subscribe
	hook, err := client.SubscribeAddonWebhooks(ctx, id, herokupartner.WebhookSubscription{
		URL:           "https://acme.example.com/heroku/webhooks/" + id,
		Authorization: herokupartner.NewSecret("Bearer " + hooksToken), // optional, checked by the receiver
	})
	if err != nil {
		return err
	}
	saveWebhookSecret(id, hook.Secret) // every delivery is signed with it: keep it for the receiver
	// readme:end
	return nil
}

func readmeReceiver(mux *http.ServeMux, current, previous herokupartner.Secret, hooksToken string, dedup herokupartner.WebhookDedup) error {
	// readme:begin receiver
	receiver, err := herokupartner.NewWebhookReceiver(herokupartner.WebhookReceiverConfig{
		Secrets:       []herokupartner.Secret{current, previous}, // several during a rotation
		Authorization: herokupartner.NewSecret("Bearer " + hooksToken),
		Dedup:         dedup, // shared by replicas (rediscache.NewDedup); nil = in memory
		OnEvent: func(ctx context.Context, ev *herokupartner.WebhookEvent) error {
			switch {
			case ev.App != nil && ev.Changed("name"): // renamed: ev.PreviousApp.Name → ev.App.Name
			case ev.Addon != nil && ev.Action == herokupartner.WebhookActionDestroy:
			case ev.Addon != nil && ev.Changed("plan"): // ev.PreviousAddon.Plan → ev.Addon.Plan
			case ev.Attachment != nil: // attached to / detached from ev.Attachment.App
			}
			return nil // an error answers 500 and Heroku delivers the event again
		},
	})
	if err != nil {
		return err
	}
	mux.Handle("POST /heroku/webhooks/", receiver)
	// readme:end
	return nil
}

func readmeTracker(ctx context.Context, base *herokupartner.Client, tokens *herokupartner.TokenManager,
	store herokupartner.TrackerStore, leader herokupartner.TrackerLeader, secrets []herokupartner.Secret) error {
	// readme:begin tracker
	tracker, err := herokupartner.NewTracker(herokupartner.TrackerConfig{
		ClientFor: func(ctx context.Context, id string) (*herokupartner.Client, error) {
			return base.ForResource(tokens, id) // each resource's own token
		},
		Store:    store,  // nil: in memory; a pgstore.TrackerStore shares it between replicas
		Leader:   leader, // nil: this process refreshes; a pgstore.Leader picks one replica
		Budget:   20,     // requests a minute for the refresher (the default)
		OnChange: func(c herokupartner.Change) { log.Printf("%s: %s", c.ResourceID, c.Kind) },
	})
	if err != nil {
		return err
	}
	go tracker.Run(ctx)    // the refresher; returns when ctx ends
	go tracker.Follow(ctx) // with pgstore: report the other replicas' changes too

	receiver, err := herokupartner.NewWebhookReceiver(herokupartner.WebhookReceiverConfig{
		Secrets: secrets,
		OnEvent: tracker.ApplyWebhook, // or call it from your own OnEvent
	})
	// readme:end
	_, _ = receiver, err
	return nil
}

func readmeInvalidate(cache herokupartner.Cache, tracker *herokupartner.Tracker, secrets []herokupartner.Secret) error {
	// readme:begin invalidate
	receiver, err := herokupartner.NewWebhookReceiver(herokupartner.WebhookReceiverConfig{
		Secrets: secrets,
		OnEvent: func(ctx context.Context, ev *herokupartner.WebhookEvent) error {
			// First: an app destroyed is no longer in the tracker afterwards.
			if err := herokupartner.InvalidateWebhook(ctx, cache, ev, tracker.AppResources); err != nil {
				return err // 500: Heroku delivers the event again
			}
			return tracker.ApplyWebhook(ctx, ev)
		},
	})
	// readme:end
	_, _ = receiver, err
	return nil
}

func readmeContract(ctx context.Context, t *testing.T, backend *httptest.Server, fake *herokupartnertest.Server) {
	// readme:begin contract
	report, err := contract.Check(ctx, contract.Config{
		BaseURL:  backend.URL + "/heroku/resources",
		AddonID:  "acme-metrics",
		Password: herokupartner.NewSecret("manifest-password"),
		Fake:     fake,
	})
	if err != nil {
		t.Fatal(err) // a bad Config; nothing was sent
	}
	if !report.Passed() {
		var text strings.Builder
		_, _ = report.WriteTo(&text)
		t.Errorf("contract broken:\n%s", text.String())
	}
	// readme:end
}
