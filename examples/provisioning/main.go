// Command provisioning is a complete add-on backend for Heroku's
// asynchronous provisioning, built on the standard library and herokupartner.
//
// Heroku POSTs a provisioning request to /heroku/resources. The backend
// checks the Basic credentials, answers 202 Accepted at once and then, in
// the background: exchanges the request's OAuth grant for the resource's
// tokens, resolves the app's pipeline, records the result, sets the add-on's
// config and tells Heroku provisioning is done. Heroku delivers at least
// once, so a repeated request for a uuid changes nothing.
//
// Run without configuration, it demonstrates the whole flow against an
// in-process fake of Heroku (including a short outage) and exits:
//
//	go run ./examples/provisioning
//
// To serve for real, set HEROKU_OAUTH_SECRET (the Partner Portal's OAuth
// client secret), ADDON_ID and ADDON_PASSWORD (the manifest's id and
// api.password, which Heroku sends as Basic credentials), optionally PORT
// (default 8080) and ACME_SERVICE_URL. Tokens are then kept in memory; a
// real deployment backs herokupartner.TokenStore with its database.
package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

// The states a Resource goes through.
const (
	StateProvisioning = "provisioning"
	StateProvisioned  = "provisioned"
	StateFailed       = "failed"
)

// Resource is what the backend knows about one provisioned add-on resource.
type Resource struct {
	ID   uuid.UUID `json:"id"`
	Name string    `json:"name"`
	Plan string    `json:"plan"`
	// State is StateProvisioning until the background work ends.
	State    string `json:"state"`
	App      string `json:"app,omitempty"`
	Pipeline string `json:"pipeline,omitempty"`
	Stage    string `json:"stage,omitempty"`
	// Error says why provisioning failed, or what the work is retrying.
	Error string `json:"error,omitempty"`
	// Retries counts the background steps that had to be tried again.
	Retries int `json:"retries"`
}

// Config configures a Backend.
type Config struct {
	// Username and Password are the Basic credentials Heroku sends: the
	// manifest's id and api.password.
	Username, Password string
	// Tokens exchanges grants and keeps each resource's tokens.
	Tokens *herokupartner.TokenManager
	// API is the Platform API client; ForResource derives one per resource.
	API *herokupartner.Client
	// ServiceURL is the base of the ACME_URL config var given to each
	// resource.
	ServiceURL string
	// WorkTimeout bounds the background work of one resource; zero means
	// 10 minutes. Heroku removes an add-on not marked provisioned within
	// 12 hours, so this is well within its patience.
	WorkTimeout time.Duration
	// RetryDelay is the first wait before a failed step is tried again; it
	// doubles up to 30 seconds. Zero means 500ms.
	RetryDelay time.Duration
	// Logger defaults to discarding.
	Logger *slog.Logger
}

// Backend serves Heroku's provisioning requests. It is an http.Handler:
//
//	POST   /heroku/resources       provision (202 Accepted, work continues in the background)
//	GET    /heroku/resources/{id}  the Resource as JSON, for operators and tests
//	DELETE /heroku/resources/{id}  deprovision: forget the resource and its tokens
type Backend struct {
	cfg  Config
	mux  *http.ServeMux
	ctx  context.Context // ends background work on Close
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu        sync.Mutex
	closed    bool
	resources map[uuid.UUID]*record
}

type record struct {
	res  Resource
	done chan struct{} // closed when res.State leaves provisioning
}

// NewBackend checks cfg and returns a Backend; Close stops its background
// work.
func NewBackend(cfg Config) (*Backend, error) {
	if cfg.Username == "" || cfg.Password == "" {
		return nil, errors.New("provisioning: Username and Password are required")
	}
	if cfg.Tokens == nil || cfg.API == nil {
		return nil, errors.New("provisioning: Tokens and API are required")
	}
	if cfg.WorkTimeout == 0 {
		cfg.WorkTimeout = 10 * time.Minute
	}
	if cfg.RetryDelay == 0 {
		cfg.RetryDelay = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.ServiceURL = strings.TrimRight(cfg.ServiceURL, "/")
	if cfg.ServiceURL == "" {
		cfg.ServiceURL = "https://acme.example"
	}
	b := &Backend{cfg: cfg, mux: http.NewServeMux(), resources: make(map[uuid.UUID]*record)}
	b.ctx, b.stop = context.WithCancel(context.Background())
	b.mux.HandleFunc("POST /heroku/resources", b.provision)
	b.mux.HandleFunc("GET /heroku/resources/{id}", b.status)
	b.mux.HandleFunc("DELETE /heroku/resources/{id}", b.deprovision)
	return b, nil
}

// ServeHTTP checks Heroku's Basic credentials and routes the request.
func (b *Backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	// Both comparisons always run, in constant time, so the answer's
	// timing tells nothing about which part was wrong or how much matched.
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(b.cfg.Username))
	passOK := subtle.ConstantTimeCompare([]byte(pass), []byte(b.cfg.Password))
	if !ok || userOK&passOK != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="heroku"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "invalid credentials"})
		return
	}
	b.mux.ServeHTTP(w, r)
}

// Close stops the background work and waits for it to end.
func (b *Backend) Close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.stop()
	b.wg.Wait()
}

// Resource returns what the backend knows about the resource.
func (b *Backend) Resource(id uuid.UUID) (Resource, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	rec, ok := b.resources[id]
	if !ok {
		return Resource{}, false
	}
	return rec.res, true
}

// Wait blocks until the resource's background work ends, or ctx does, and
// returns the resource.
func (b *Backend) Wait(ctx context.Context, id uuid.UUID) (Resource, error) {
	b.mu.Lock()
	rec, ok := b.resources[id]
	b.mu.Unlock()
	if !ok {
		return Resource{}, fmt.Errorf("resource %s: unknown", id)
	}
	select {
	case <-rec.done:
		res, _ := b.Resource(id)
		return res, nil
	case <-ctx.Done():
		return Resource{}, fmt.Errorf("resource %s: waiting: %w", id, ctx.Err())
	}
}

func (b *Backend) provision(w http.ResponseWriter, r *http.Request) {
	req, err := herokupartner.ParseProvisionRequest(r.Body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
		return
	}
	if req.OAuthGrant == nil {
		// Without a grant there is no token, so the app's pipeline can
		// never be resolved nor the add-on marked provisioned.
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"id": req.UUID.String(), "message": "the request carries no oauth_grant"})
		return
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		// Heroku retries a provisioning request that fails.
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"message": "shutting down; try again"})
		return
	}
	rec, seen := b.resources[req.UUID]
	if !seen {
		rec = &record{
			res:  Resource{ID: req.UUID, Name: req.Name, Plan: req.Plan, State: StateProvisioning},
			done: make(chan struct{}),
		}
		b.resources[req.UUID] = rec
		// Counted under the lock, so Close cannot start waiting
		// between the check above and this Add.
		b.wg.Add(1)
		go b.work(rec, *req.OAuthGrant)
	}
	state := rec.res.State
	b.mu.Unlock()
	if seen {
		b.cfg.Logger.Info("repeated provisioning request", "resource", req.UUID, "state", state)
	}
	writeJSON(w, http.StatusAccepted, map[string]string{
		"id":      req.UUID.String(),
		"message": "Provisioning " + req.Name + "; it will be ready in a few moments.",
	})
}

func (b *Backend) status(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "no such resource"})
		return
	}
	res, ok := b.Resource(id)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "no such resource"})
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (b *Backend) deprovision(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	b.mu.Lock()
	delete(b.resources, id)
	b.mu.Unlock()
	if err := b.cfg.Tokens.Forget(r.Context(), id.String()); err != nil {
		b.cfg.Logger.Error("forgetting tokens", "resource", id, "error", err)
	}
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// work does the provisioning after the 202: every step is retried, with
// backoff, until it succeeds, fails for good, or the work's own deadline
// passes.
func (b *Backend) work(rec *record, grant herokupartner.OAuthGrant) {
	defer b.wg.Done()
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.WorkTimeout)
	defer cancel()
	id := rec.res.ID.String()
	err := b.steps(ctx, rec, id, grant)
	b.mu.Lock()
	if err != nil {
		rec.res.State = StateFailed
		rec.res.Error = err.Error()
	} else {
		rec.res.State = StateProvisioned
		rec.res.Error = ""
	}
	b.mu.Unlock()
	close(rec.done)
	if err != nil {
		b.cfg.Logger.Error("provisioning failed", "resource", id, "error", err)
		return
	}
	b.cfg.Logger.Info("provisioned", "resource", id)
}

func (b *Backend) steps(ctx context.Context, rec *record, id string, grant herokupartner.OAuthGrant) error {
	// A retried exchange may meet a code its first attempt spent before the
	// connection broke; that ends in a clear 401, not a silent loop.
	if err := b.retry(ctx, rec, "exchanging the grant", func(ctx context.Context) error {
		_, err := b.cfg.Tokens.Exchange(ctx, id, grant)
		return err
	}); err != nil {
		return err
	}
	client, err := b.cfg.API.ForResource(b.cfg.Tokens, id)
	if err != nil {
		return err
	}
	var res *herokupartner.Resolution
	if err := b.retry(ctx, rec, "resolving the pipeline", func(ctx context.Context) error {
		var err error
		res, err = client.ResolvePipeline(ctx, id)
		return err
	}); err != nil {
		return err
	}
	b.mu.Lock()
	rec.res.App = res.App.Name
	if res.InPipeline() {
		rec.res.Pipeline, rec.res.Stage = res.Pipeline.Name, string(res.Stage)
	}
	b.mu.Unlock()

	serviceURL := b.cfg.ServiceURL + "/r/" + id
	vars := []herokupartner.ConfigVar{{Name: "ACME_URL", Value: &serviceURL}}
	if err := b.retry(ctx, rec, "setting config", func(ctx context.Context) error {
		_, err := client.UpdateAddonConfig(ctx, id, vars)
		return err
	}); err != nil {
		return err
	}
	return b.retry(ctx, rec, "marking provisioned", func(ctx context.Context) error {
		_, err := client.MarkProvisioned(ctx, id)
		return err
	})
}

// retry runs step until it succeeds, fails permanently, or ctx ends.
func (b *Backend) retry(ctx context.Context, rec *record, what string, step func(context.Context) error) error {
	delay := b.cfg.RetryDelay
	for {
		err := step(ctx)
		if err == nil {
			return nil
		}
		err = fmt.Errorf("%s: %w", what, err)
		if permanent(err) || ctx.Err() != nil {
			return err
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			return fmt.Errorf("%w (giving up: the work's deadline is near)", err)
		}
		b.mu.Lock()
		rec.res.Retries++
		rec.res.Error = err.Error()
		b.mu.Unlock()
		b.cfg.Logger.Warn("provisioning step failed; retrying", "resource", rec.res.ID, "step", what, "wait", delay, "error", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (stopped: %w)", err, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, 30*time.Second)
	}
}

// permanent reports whether trying again cannot help: Heroku refused the
// request itself (a spent grant code, a revoked grant, a bad id), as
// opposed to an outage, a rate limit or a network failure.
func permanent(err error) bool {
	if errors.Is(err, herokupartner.ErrInvalidID) || errors.Is(err, herokupartner.ErrGrantRevoked) {
		return true
	}
	var apiErr *herokupartner.APIError
	if errors.As(err, &apiErr) {
		s := apiErr.StatusCode
		return s >= 400 && s < 500 && s != http.StatusTooManyRequests && s != http.StatusRequestTimeout
	}
	return false
}

func main() {
	var err error
	if os.Getenv("HEROKU_OAUTH_SECRET") != "" {
		err = serve()
	} else {
		err = demo(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "provisioning:", err)
		os.Exit(1)
	}
}

// serve runs the backend for real, with settings from the environment.
func serve() error {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	tokens, err := herokupartner.NewTokenManager(herokupartner.TokenManagerConfig{
		ClientSecret: herokupartner.NewSecret(os.Getenv("HEROKU_OAUTH_SECRET")),
		Logger:       logger,
	})
	if err != nil {
		return err
	}
	api, err := herokupartner.NewClient(herokupartner.WithUserAgent("acme-addon-example/1.0"), herokupartner.WithLogger(logger))
	if err != nil {
		return err
	}
	b, err := NewBackend(Config{
		Username: os.Getenv("ADDON_ID"), Password: os.Getenv("ADDON_PASSWORD"),
		Tokens: tokens, API: api, ServiceURL: os.Getenv("ACME_SERVICE_URL"), Logger: logger,
	})
	if err != nil {
		return err
	}
	defer b.Close()
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	srv := &http.Server{Addr: ":" + port, Handler: b, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("listening", "port", port)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// demo provisions one add-on against an in-process fake of Heroku, the way
// Heroku would: a request, a repeated delivery of it, and a Platform API
// outage while the backend works.
func demo(out io.Writer) error {
	fake := herokupartnertest.NewServer()
	defer fake.Close()
	app := fake.AddApp("acme-web")
	pipeline := fake.AddPipeline("acme")
	fake.Couple(app.ID, pipeline.ID, herokupartner.StageProduction)
	addon := fake.AddAddon(app.ID, "basic")
	code, expiresAt := fake.IssueGrant(addon.ID)

	tokens, err := herokupartner.NewTokenManager(herokupartner.TokenManagerConfig{
		ClientSecret: herokupartner.NewSecret(fake.ClientSecret()), TokenURL: fake.TokenURL(),
	})
	if err != nil {
		return err
	}
	api, err := herokupartner.NewClient(herokupartner.WithBaseURL(fake.URL),
		herokupartner.WithRetry(herokupartner.RetryPolicy{MaxRetries: 1, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}))
	if err != nil {
		return err
	}
	b, err := NewBackend(Config{Username: "acme", Password: "s3cret", Tokens: tokens, API: api,
		WorkTimeout: time.Minute, RetryDelay: 20 * time.Millisecond})
	if err != nil {
		return err
	}
	defer b.Close()
	srv := httptest.NewServer(b)
	defer srv.Close()

	// Heroku's couplings route is down for the next four requests.
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
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/heroku/resources", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.SetBasicAuth("acme", "s3cret")
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			return err
		}
		var answer struct{ Message string }
		err = json.NewDecoder(resp.Body).Decode(&answer)
		resp.Body.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "delivery %d: %s %q\n", i+1, resp.Status, answer.Message)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := b.Wait(ctx, addon.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "backend: %s, app %s in pipeline %s at %s, after %d retried step(s)\n",
		res.State, res.App, res.Pipeline, res.Stage, res.Retries)
	if res.State != StateProvisioned {
		return fmt.Errorf("provisioning failed: %s", res.Error)
	}
	exchanges := 0
	for _, r := range fake.Requests() {
		if r.Route == herokupartnertest.RouteToken && r.Form.Get("grant_type") == "authorization_code" {
			exchanges++
		}
	}
	a, _ := fake.Addon(addon.ID)
	fmt.Fprintf(out, "heroku: add-on %s, ACME_URL set: %v, grant exchanges: %d\n",
		a.State, fake.AddonConfig(addon.ID)["ACME_URL"] != "", exchanges)
	return nil
}
