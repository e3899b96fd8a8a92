package herokupartner

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/singleflight"
)

// stepRunner is what a batch or a Resolver adds around the live steps: a
// cache, pacing, and one shared fetch per pipeline. Its state outlives one
// resolution; itemSteps is one resolution's view of it.
type stepRunner struct {
	now    func() time.Time
	cache  Cache // nil: no cache
	policy CachePolicy
	pacer  *pacer // nil: no pacing
	// flights makes concurrent askers of one pipeline share one request.
	flights singleflight.Group
	// memo, for a batch, remembers the pipelines fetched during the call,
	// with or without a cache; nil for a Resolver, whose memory is the
	// cache and its ttl.
	memo *sync.Map // canonical pipeline id -> memoPipeline
}

// memoPipeline is a pipeline a batch already has, and whether the cache
// supplied it (then every item using it reports a cache hit).
type memoPipeline struct {
	p         *Pipeline
	fromCache bool
}

// itemSteps runs the steps of one resolution with one client, counting what
// it sends and what the cache answered. It implements steps.
type itemSteps struct {
	run *stepRunner
	cl  *Client
	// proven says the client may be served the resource's entries: its
	// tokens are bound to the resource, or its token has read the add-on
	// from the API (see Cache and proofs).
	proven bool
	// token is the fingerprint of an unbound client's token, "" if bound.
	token    string
	requests int
	hits     CacheHits
	// fresh is when the oldest answer used so far stops being servable
	// under the policy: how long the Resolution may be remembered whole.
	fresh time.Time
}

// noteAge records an answer obtained at `at` that may be served for ttl.
func (s *itemSteps) noteAge(at time.Time, ttl time.Duration) {
	end := at.Add(max(ttl, 0))
	if s.fresh.IsZero() || end.Before(s.fresh) {
		s.fresh = end
	}
}

// cacheEnvelope is how a cache entry is stored: the answer and when it was
// fetched, so that whoever reads it knows its age.
type cacheEnvelope[T any] struct {
	At time.Time `json:"at"`
	V  *T        `json:"v"`
}

// couplingEntry is what the cache keeps for a resource's coupling: the app
// it was read for and the coupling, nil when the app is in no pipeline.
type couplingEntry struct {
	AppID    uuid.UUID         `json:"app_id"`
	Coupling *PipelineCoupling `json:"coupling"`
}

func (s *itemSteps) addon(ctx context.Context, id string) (*Addon, error) {
	valid := func(a *Addon) bool { return a.ID.String() == id && a.App.ID != uuid.Nil }
	a, err := cachedStep(ctx, s, cacheKeyAddon+id, s.run.policy.AddonTTL, CacheHitAddon, s.proven, valid,
		func() (*Addon, error) {
			return send(ctx, s, func() (*Addon, error) { return liveSteps{s.cl}.addon(ctx, id) })
		})
	if err == nil && !s.proven {
		s.proven = true
		proofs.add(s.token, id)
	}
	return a, err
}

func (s *itemSteps) coupling(ctx context.Context, id string, appID uuid.UUID) (*PipelineCoupling, error) {
	valid := func(e *couplingEntry) bool {
		return e.AppID == appID && (e.Coupling == nil || e.Coupling.Pipeline.ID != uuid.Nil)
	}
	e, err := cachedStep(ctx, s, cacheKeyCouplings+id, s.run.policy.CouplingsTTL, CacheHitCouplings, s.proven, valid,
		func() (*couplingEntry, error) {
			c, err := send(ctx, s, func() (*PipelineCoupling, error) { return liveSteps{s.cl}.coupling(ctx, id, appID) })
			return &couplingEntry{AppID: appID, Coupling: c}, err
		})
	if err != nil {
		return nil, err
	}
	return e.Coupling, nil
}

// pipeline is reached only through a coupling served to this client, so
// any client may be served it.
func (s *itemSteps) pipeline(ctx context.Context, pid string) (*Pipeline, error) {
	if s.run.memo != nil {
		if m, ok := s.run.memo.Load(pid); ok {
			if m.(memoPipeline).fromCache {
				s.hits |= CacheHitPipeline
			}
			return m.(memoPipeline).p, nil
		}
	}
	valid := func(p *Pipeline) bool { return p.ID.String() == pid }
	p, err := cachedStep(ctx, s, cacheKeyPipeline+pid, s.run.policy.PipelineTTL, CacheHitPipeline, true, valid,
		func() (*Pipeline, error) { return s.sharedPipeline(ctx, pid) })
	if err == nil && s.run.memo != nil {
		s.run.memo.LoadOrStore(pid, memoPipeline{p: p, fromCache: s.hits&CacheHitPipeline != 0})
	}
	return p, err
}

// cachedStep is the one shape of a wrapped step: answer from the cache when
// the entry may be served (read) and is valid, else fetch, and cache what
// this resolution itself fetched.
func cachedStep[T any](ctx context.Context, s *itemSteps, key string, ttl time.Duration, hit CacheHits,
	read bool, valid func(*T) bool, fetch func() (*T, error)) (*T, error) {
	cache := s.run.cache
	if cache != nil && ttl >= 0 && read {
		if raw, ok := cacheGet(ctx, s.cl, cache, key); ok {
			var e cacheEnvelope[T]
			if json.Unmarshal(raw, &e) == nil && e.V != nil && valid(e.V) {
				s.hits |= hit
				s.noteAge(e.At, ttl)
				return e.V, nil
			}
		}
	}
	before := s.requests
	v, err := fetch()
	if err != nil {
		return nil, err
	}
	now := s.run.now()
	if cache == nil || ttl < 0 {
		s.noteAge(now, 0) // not kept, so not to be remembered either
		return v, nil
	}
	s.noteAge(now, ttl)
	if s.requests > before {
		cacheSet(ctx, s.cl, cache, key, cacheEnvelope[T]{At: now, V: v}, ttl)
	}
	return v, nil
}

// send paces, counts and makes one API call for this resolution.
func send[T any](ctx context.Context, s *itemSteps, call func() (T, error)) (T, error) {
	return paced(ctx, s.run, s.cl, func() { s.requests++ }, call)
}

// paced waits for the pacer, calls started, makes the call with cl and
// notes the rate-limit level it reports.
func paced[T any](ctx context.Context, run *stepRunner, cl *Client, started func(), call func() (T, error)) (T, error) {
	if err := run.pacer.wait(ctx); err != nil {
		var zero T
		return zero, err
	}
	started()
	v, err := call()
	run.pacer.note(cl)
	return v, err
}

// fetched is what one pipeline flight hands to the resolutions waiting on it.
type fetched struct {
	p      *Pipeline
	leader *itemSteps // the resolution whose request fetched it
}

// sharedPipeline fetches a pipeline once however many resolutions ask at
// the same time. The request is made with the token of whichever asks
// first: every token whose app is coupled to a pipeline may read it, so the
// answer is one each of them could have had. A failure that belongs to
// that token rather than to the pipeline is not handed on; each other
// asker then fetches with its own token.
func (s *itemSteps) sharedPipeline(ctx context.Context, pid string) (*Pipeline, error) {
	// The flight may outlive this resolution (it gives up when ctx ends), so
	// it never writes s: it marks sent, which only this asker reads, and
	// which is set only if this asker's call is the one that ran.
	var sent atomic.Bool
	defer func() {
		if sent.Load() {
			s.requests++
		}
	}()
	ch := s.run.flights.DoChan(pid, func() (any, error) {
		// A flight that ended between the memo lookup and DoChan left its
		// answer there; without this check it would be fetched twice.
		if s.run.memo != nil {
			if m, ok := s.run.memo.Load(pid); ok {
				return fetched{p: m.(memoPipeline).p}, nil
			}
		}
		p, err := paced(ctx, s.run, s.cl, func() { sent.Store(true) },
			func() (*Pipeline, error) { return liveSteps{s.cl}.pipeline(ctx, pid) })
		if err == nil && s.run.memo != nil {
			s.run.memo.LoadOrStore(pid, memoPipeline{p: p})
		}
		return fetched{p: p, leader: s}, err
	})
	var res singleflight.Result
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res = <-ch:
	}
	f, _ := res.Val.(fetched)
	if f.leader == s || res.Err == nil || !tokenSpecific(res.Err) {
		return f.p, res.Err
	}
	// The leader's token could not read the pipeline; ours may.
	return send(ctx, s, func() (*Pipeline, error) { return liveSteps{s.cl}.pipeline(ctx, pid) })
}

// tokenSpecific reports whether err may belong to the token that got it
// rather than to the pipeline: a refusal of that token, or a failure that
// is not an answer from the API at all (the token source's, say). Such an
// error is not handed on to resolutions holding other tokens.
func tokenSpecific(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden
	}
	return true
}

// newItemSteps returns the steps of resolving resource id with cl, which
// may be served id's cache entries if its tokens are bound to id or have
// already read id's add-on from the API.
func newItemSteps(ctx context.Context, run *stepRunner, cl *Client, id string) *itemSteps {
	s := &itemSteps{run: run, cl: cl}
	if b, ok := boundResource(cl); ok && b == id {
		s.proven = true
		return s
	}
	if run.cache != nil {
		s.token = fingerprint(ctx, cl)
		s.proven = proofs.has(s.token, id)
	}
	return s
}

// boundResource returns the canonical resource uuid cl's tokens are bound
// to by a TokenManager (ForResource, WithTokenSource(m.TokenSource(id))),
// and false for any other client.
func boundResource(cl *Client) (string, bool) {
	rt, ok := cl.tokens.(*resourceTokens)
	if !ok || rt == nil || rt.err != nil {
		return "", false
	}
	return rt.id.String(), true
}

func cacheGet(ctx context.Context, cl *Client, cache Cache, key string) ([]byte, bool) {
	raw, ok, err := cache.Get(ctx, key)
	if err != nil {
		cl.logger.LogAttrs(ctx, slog.LevelWarn, "herokupartner cache get failed",
			slog.String("key", key), slog.String("error", err.Error()))
		return nil, false
	}
	return raw, ok
}

func cacheSet(ctx context.Context, cl *Client, cache Cache, key string, v any, ttl time.Duration) {
	raw, err := json.Marshal(v)
	if err == nil {
		err = cache.Set(ctx, key, raw, ttl)
	}
	if err != nil {
		cl.logger.LogAttrs(ctx, slog.LevelWarn, "herokupartner cache set failed",
			slog.String("key", key), slog.String("error", err.Error()))
	}
}
