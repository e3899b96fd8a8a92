package herokupartner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// DefaultFailureTTL is how long a Resolver remembers a failure that asking
// again would only repeat, unless Resolver.FailureTTL says otherwise.
const DefaultFailureTTL = time.Minute

// Resolver resolves one resource at a time with a cache, for a hot path such
// as tagging every metric or request with its resource's stage. Concurrent
// callers asking for one resource share one resolution, and later callers
// are answered from the cache under the same ttl policy as a batch's: from
// a warm cache a call sends no request, from a cold one exactly the 2–3
// requests of one resolution, however many callers ask at once.
//
// Give it clients bound to their resource by a TokenManager (ForResource):
// those share one resolution per resource, and are served whole
// resolutions kept in memory. Another client (WithToken) is served the
// cache only once its token has proved access (see Cache), shares
// in-flight work only with callers of the same *Client, and has its
// failures asked again every call.
//
// A failure that asking again would only repeat is remembered for a bound
// client: a revoked grant (ErrGrantRevoked) and an add-on the API no longer
// knows (a 404 at the add-on step). It is returned without a request until
// Forget(resourceUUID), until the resource's TokenManager holds a new
// access token, or for FailureTTL. Other failures are not remembered.
//
// Its zero value is ready to use; set the fields before the first call and
// do not copy a Resolver after it. A Resolver is safe for concurrent use.
type Resolver struct {
	// Cache keeps the step answers, and may be shared between replicas;
	// nil means an in-process MemoryCache of DefaultMemoryCacheSize
	// entries.
	Cache Cache
	// Policy sets how long each kind of entry lives, as for BatchCache.
	Policy CachePolicy
	// FailureTTL bounds how long a failure is remembered; zero means
	// DefaultFailureTTL and a negative value remembers none.
	FailureTTL time.Duration
	// TwoRequests skips GET /pipelines/{id} when the coupling names its
	// pipeline, as BatchTwoRequests does for a batch: a cold resolution
	// then costs 2 requests and its Pipeline is partial.
	TwoRequests bool
	// Now is the clock of everything the Resolver remembers, and of the
	// default cache; nil means time.Now.
	Now func() time.Time

	once    sync.Once
	run     stepRunner
	flights singleflight.Group

	// memo keeps whole resolutions until the oldest answer in each stops
	// being servable under Policy, so that a warm call decodes nothing.
	memoMu sync.RWMutex
	memo   map[string]memoized // canonical resource uuid -> resolution

	mu       sync.Mutex
	failures map[string]failure // canonical resource uuid -> what failed
}

type memoized struct {
	res   *Resolution
	until time.Time
}

// failure is a remembered failure and which access token it happened with.
type failure struct {
	err     error
	token   string // keyed fingerprint of the access token; "" if unknown
	expires time.Time
}

func (r *Resolver) init() {
	r.once.Do(func() {
		cache := r.Cache
		if cache == nil {
			m := NewMemoryCache(0)
			m.Now = r.Now
			cache = m
		}
		r.run = stepRunner{now: r.now, cache: cache, policy: r.Policy.withDefaults()}
		r.memo = map[string]memoized{}
		r.failures = map[string]failure{}
	})
}

func (r *Resolver) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Resolve returns the resolution of resourceUUID made with cl, as
// ResolvePipeline does, from the cache when it may. Every failure is a
// *ResolveError. Each caller gets its own copy of the Resolution.
func (r *Resolver) Resolve(ctx context.Context, cl *Client, resourceUUID string) (*Resolution, error) {
	r.init()
	id, err := parseID("resourceUUID", resourceUUID)
	if err != nil {
		return nil, &ResolveError{Step: StepAddon, Err: err}
	}
	if cl == nil || cl.tokens == nil {
		return nil, &ResolveError{Step: StepAddon, ResourceID: id, Err: fmt.Errorf("%w: nothing sent", ErrNoToken)}
	}
	if ctx == nil {
		return nil, &ResolveError{Step: StepAddon, ResourceID: id, Err: errors.New("herokupartner: Resolve: nil context")}
	}
	b, _ := boundResource(cl)
	bound := b == id
	flight := id
	if bound {
		r.memoMu.RLock()
		m, ok := r.memo[id]
		r.memoMu.RUnlock()
		if ok && r.now().Before(m.until) {
			return m.res.clone(), nil
		}
		if err := r.remembered(ctx, cl, id); err != nil {
			return nil, err
		}
	} else {
		// Unbound callers share only with callers of the same client,
		// whose token is the one that proves access.
		flight = fmt.Sprintf("%s/%p", id, cl)
	}
	ch := r.flights.DoChan(flight, func() (any, error) {
		// The shared resolution outlives a caller that gives up: the
		// others still wait for it. The request path bounds it in time.
		fctx := context.WithoutCancel(ctx)
		s := newItemSteps(fctx, &r.run, cl, id)
		res, err := resolve(fctx, id, r.TwoRequests, s)
		switch {
		case !bound:
		case err != nil:
			r.remember(fctx, cl, id, err)
		default:
			r.keep(id, res, s.fresh)
		}
		return res, err
	})
	select {
	case <-ctx.Done():
		return nil, &ResolveError{Step: StepAddon, ResourceID: id, Err: ctx.Err()}
	case out := <-ch:
		if out.Err != nil {
			return nil, out.Err
		}
		return out.Val.(*Resolution).clone(), nil
	}
}

// Stage returns the stage of resourceUUID's app, or "" when it is in no
// pipeline; it is Resolve for a caller that needs only the stage.
func (r *Resolver) Stage(ctx context.Context, cl *Client, resourceUUID string) (Stage, error) {
	res, err := r.Resolve(ctx, cl, resourceUUID)
	if err != nil {
		return "", err
	}
	return res.Stage, nil
}

// Forget drops what this Resolver remembers in process about
// resourceUUID, a failure included, so that the next call asks the cache
// and the API again; an invalid id is ignored.
func (r *Resolver) Forget(resourceUUID string) {
	r.init()
	if id, err := parseID("resourceUUID", resourceUUID); err == nil {
		r.mu.Lock()
		delete(r.failures, id)
		r.mu.Unlock()
		r.memoMu.Lock()
		delete(r.memo, id)
		r.memoMu.Unlock()
	}
}

// keep remembers a resolution until fresh; a full memo first drops what
// has expired, and remembers nothing more if that is not enough.
func (r *Resolver) keep(id string, res *Resolution, fresh time.Time) {
	now := r.now()
	if !now.Before(fresh) {
		return
	}
	r.memoMu.Lock()
	defer r.memoMu.Unlock()
	if len(r.memo) >= DefaultMemoryCacheSize {
		for k, m := range r.memo {
			if !now.Before(m.until) {
				delete(r.memo, k)
			}
		}
		if len(r.memo) >= DefaultMemoryCacheSize {
			return
		}
	}
	r.memo[id] = memoized{res: res, until: fresh}
}

// worthRemembering reports whether asking again could only repeat err.
func worthRemembering(err error) bool {
	if errors.Is(err, ErrGrantRevoked) {
		return true
	}
	var re *ResolveError
	return errors.As(err, &re) && re.Step == StepAddon && errors.Is(err, ErrNotFound)
}

func (r *Resolver) remember(ctx context.Context, cl *Client, id string, err error) {
	ttl := r.FailureTTL
	if ttl == 0 {
		ttl = DefaultFailureTTL
	}
	if ttl < 0 || !worthRemembering(err) {
		return
	}
	f := failure{err: err, token: fingerprint(ctx, cl), expires: r.now().Add(ttl)}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.failures) >= DefaultMemoryCacheSize {
		now := r.now()
		for k, old := range r.failures {
			if !now.Before(old.expires) {
				delete(r.failures, k)
			}
		}
		if len(r.failures) >= DefaultMemoryCacheSize {
			return // full of live entries: asking again costs requests, nothing else
		}
	}
	r.failures[id] = f
}

// remembered returns the failure remembered for id, or nil when there is
// none, it has expired, or cl's token is no longer the one that failed.
func (r *Resolver) remembered(ctx context.Context, cl *Client, id string) error {
	r.mu.Lock()
	f, ok := r.failures[id]
	r.mu.Unlock()
	if !ok {
		return nil
	}
	if r.now().Before(f.expires) {
		// A token source that fails now cannot have a new token, so an
		// unknown fingerprint keeps the failure.
		if cur := fingerprint(ctx, cl); cur == "" || cur == f.token {
			return f.err
		}
	}
	r.mu.Lock()
	if cur, ok := r.failures[id]; ok && cur.expires.Equal(f.expires) {
		delete(r.failures, id)
	}
	r.mu.Unlock()
	return nil
}

// clone gives a caller its own copy of a shared Resolution.
func (res *Resolution) clone() *Resolution {
	cp := *res
	if res.Addon != nil {
		a := *res.Addon
		cp.Addon = &a
	}
	if res.Coupling != nil {
		c := *res.Coupling
		cp.Coupling = &c
	}
	if res.Pipeline != nil {
		p := *res.Pipeline
		cp.Pipeline = &p
	}
	return &cp
}
