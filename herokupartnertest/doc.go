// Package herokupartnertest is an in-process fake of the parts of the Heroku
// Platform API that an add-on partner uses, and of the OAuth token endpoint
// of id.heroku.com, for tests and demos that must not touch Heroku.
//
// A Server answers like Heroku does: the same paths, status codes, error
// bodies and headers (Request-Id, RateLimit-Remaining), per-resource token
// scoping (sent as Bearer, or as Basic with the token as password, the way
// Heroku's Node client sends it), the version-3 Accept check and a
// token-bucket rate limit. State is built in Go (AddApp, AddPipeline,
// Couple, AddAddon, or Seed for a whole World at once); tokens are issued in
// Go (IssueToken) or through the OAuth flow (IssueGrant, then POST
// /oauth/token); faults are scripted per route (Fail). Seeding methods panic
// on an unknown id, naming it, so that a typo fails the test at its cause.
//
// It also speaks add-on webhooks: subscriptions under
// /addons/{id}/webhooks (each add-on's own token only), and signed
// deliveries, with Heroku's notify and sync (retrying) levels, when a test
// changes what a partner hears about: RenameApp, ChangePlan, DestroyAddon,
// DestroyApp. Pipeline couplings change without any event, as on Heroku.
// Deliveries go to loopback addresses only; WaitForDeliveries waits for
// them and WebhookDeliveries shows every attempt.
//
// ClientOptions and TokenManagerConfig wire the SDK to a Server, and Client
// returns a ready client for one token.
//
// Where the public sources leave Heroku's behaviour open (the couplings
// answer's shape, a pipeline name inside the coupling, refresh-token
// rotation), an Option selects it, so code can be tested against every
// plausible answer.
//
// Files: options.go (Options), server.go (Server and its printed forms),
// wiring.go (ClientOptions, TokenManagerConfig, Client), state.go (seeding
// methods), world.go (Seed and World), handler.go (the request pipeline),
// api.go and configpatch.go (the Platform API routes), oauth.go (the token
// endpoint), fault.go (scripted faults), ratelimit.go (the token bucket),
// requestlog.go (the request log), wire.go and apierror.go (what goes on
// the wire), webhooks.go (add-on webhook subscriptions), webhooks_events.go
// (the changes that fire events: RenameApp, ChangePlan, DestroyAddon,
// DestroyApp), webhooks_deliver.go (signed deliveries and retries) and
// webhooks_log.go (the deliveries and events, as tests and the API list
// them).
package herokupartnertest
