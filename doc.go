// Package herokupartner is a Go SDK for Heroku add-on partners: with the
// OAuth token Heroku grants for each provisioned add-on, it tells you which
// app, pipeline and stage the add-on serves, and it carries the add-on
// through provisioning, token refresh and webhooks.
//
// # Lookups
//
// A Client (client.go; NewClient and its With… options) calls the Platform
// API for Partners: GetAddon, UpdateAddonConfig and MarkProvisioned
// (addons.go), GetAppPipelineCouplings (couplings.go) and GetPipeline
// (pipelines.go). Every id is checked before anything is sent; every
// request goes through one request path (request.go, bearer.go,
// answer.go) with one redirect policy (redirect.go), bounded retries
// (retry.go, RetryPolicy) and time bounds per attempt and per call. The
// answers a resolution reads are decoded without reflection
// (decode_known.go, jsonscan.go), falling back to encoding/json. Failures
// are *APIError values matching the Err… sentinels (errors.go).
//
// # Resolution
//
// Client.ResolvePipeline (resolve.go) makes the three calls, add-on,
// coupling, pipeline, and returns a Resolution, or a *ResolveError naming
// the step. The Resolver (resolver.go) is the hot path for code that asks
// "which stage?" on every metric or request: it keeps resolutions in
// memory, shares one resolution among concurrent callers and remembers a
// revoked grant or a deprovisioned add-on instead of asking again.
//
// # Tokens
//
// A TokenManager (tokenmanager.go, refresh.go, tokensource.go) exchanges a
// provisioning request's grant code for the resource's tokens, keeps them
// in a TokenStore (tokenstore.go; MemoryTokenStore, or LockingTokenStore
// for several replicas) and refreshes them before they expire;
// Client.ForResource gives a client that always carries a valid token for
// one resource. Tokens, grant codes and the client secret are Secrets
// (secret.go): redacted in every printed, logged or encoded form.
//
// # Provisioning
//
// ParseProvisionRequest (provision.go, provisionparse.go) reads Heroku's
// provisioning request; ProvisionResponse and NewConfigVars
// (provisionresponse.go) answer it and set config. A Provisioner
// (provisioner.go, provisioner_steps.go, provisioner_http.go) runs the
// whole asynchronous flow durably: each request is recorded as a job in a
// JobStore (jobstore.go, jobstore_memory.go) before Heroku gets its 202,
// then the grant exchange, the resolution, your ProvisionFunc, the config
// and the provision action are recorded step by step, so a restart resumes
// where it stopped and replicas never run one job twice.
//
// # Batches and cache
//
// Client.ResolvePipelines (batch.go, batch_options.go, steps.go, pacer.go)
// resolves many resources, each with its own token, with bounded
// concurrency, one request per pipeline and pacing near the rate limit.
// GroupByPipeline (group.go) turns the results into a dashboard. Batches
// and the Resolver share a Cache (cache.go; NewMemoryCache in process),
// whose entries are served only to clients that may read the resource
// (proof.go). InvalidateWebhook (cache_invalidate.go) drops the entries a
// webhook event makes stale, on every replica sharing the cache.
//
// # Webhooks
//
// SubscribeAddonWebhooks and the other webhook calls (webhooks.go,
// webhook_log.go) manage a resource's add-on webhook subscriptions; a
// WebhookReceiver (webhook_receiver.go, webhook_dedup.go) is the
// http.Handler that verifies, deduplicates and decodes deliveries into
// WebhookEvent values (webhook_event.go).
//
// # Tracker
//
// A Tracker (tracker.go, tracker_change.go, tracker_refresh.go,
// tracker_webhook.go) keeps a fleet's pipeline map current: it applies
// webhook events at once (ApplyWebhook), re-resolves couplings in the
// background within a request budget, and reports each Change. Its map
// lives in a TrackerStore (tracker_store.go) and one replica refreshes,
// chosen by a TrackerLeader (tracker_leader.go); Follow
// (tracker_follow.go) reports the other replicas' changes.
//
// # Other packages and modules
//
//   - herokupartnertest: an in-process fake of the Platform API, the OAuth
//     token endpoint and add-on webhooks, with helpers that wire a Client
//     and a TokenManager to it, for tests without Heroku.
//   - herokupartnertest/contract: plays Heroku toward a partner backend and
//     checks its answers against the Add-on Partner API's contract.
//   - cmd/herokupartner: the command-line tool; "herokupartner resolve"
//     resolves resources from arguments or a file, "herokupartner fake"
//     serves the fake on an address and runs the contract checks against a
//     backend in any language.
//   - github.com/addonkit/herokupartner/pgstore (a module of its own): a
//     TokenStore, JobStore, TrackerStore and tracker Leader in
//     PostgreSQL, shared by replicas.
//   - github.com/addonkit/herokupartner/rediscache (a module of its own): a
//     Cache and a WebhookDedup in Redis, shared by replicas.
//   - examples/resolve, examples/dashboard, examples/provisioning and
//     examples/webdashboard (the last two modules of their own): runnable
//     programs, against the fake by default; the web dashboard shows a
//     customer's resources by pipeline and stage, updated live.
package herokupartner
