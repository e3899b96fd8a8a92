package herokupartnertest

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Server is a running fake of the Platform API and of Heroku's OAuth token
// endpoint. Its methods are safe for concurrent use. Printed with fmt or
// slog it shows only its URL.
type Server struct {
	// URL is the base URL of the server, for herokupartner.WithBaseURL.
	URL string

	// The state sits behind an embedded pointer, so that %v of a
	// dereferenced Server shows an address; and it files tokens by
	// digest and keeps the client secret in a closure, so that no verb
	// that follows the pointer finds a credential either.
	*state
}

// state is everything a Server holds besides its URL.
type state struct {
	ts      *httptest.Server
	cfg     config
	closing chan struct{}
	closeMu sync.Once
	rate    *bucket
	// secret returns the client secret; a closure, because fmt prints a
	// func as an address under every verb, where a Secret field would
	// be followed by %s of a dereferenced Server.
	secret func() string

	mu         sync.Mutex
	serviceID  uuid.UUID
	cedarID    uuid.UUID
	plans      map[string]uuid.UUID
	apps       map[uuid.UUID]*app
	pipelines  map[uuid.UUID]*pipeline
	couplings  map[uuid.UUID]*coupling // by app id
	addons     map[uuid.UUID]*addon
	addonCount int
	access     map[tokenKey]*accessToken
	refresh    map[tokenKey]*refreshToken
	grants     map[tokenKey]*grant
	faults     map[Route][]Fault
	log        requestLog
	hooks      webhookState
}

// NewServer starts a fake on a loopback port. Close it when done.
func NewServer(opts ...Option) *Server {
	cfg := config{
		rateCapacity:    4500,
		ratePerMinute:   75,
		accessLifetime:  8 * time.Hour,
		now:             time.Now,
		service:         "acme-metrics",
		requestLogLimit: DefaultRequestLogCapacity,
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	clientSecret := randomToken("", 32)
	s := &Server{state: &state{
		cfg:       cfg,
		closing:   make(chan struct{}),
		secret:    func() string { return clientSecret },
		serviceID: uuid.New(),
		cedarID:   uuid.New(),
		plans:     map[string]uuid.UUID{},
		apps:      map[uuid.UUID]*app{},
		pipelines: map[uuid.UUID]*pipeline{},
		couplings: map[uuid.UUID]*coupling{},
		addons:    map[uuid.UUID]*addon{},
		access:    map[tokenKey]*accessToken{},
		refresh:   map[tokenKey]*refreshToken{},
		grants:    map[tokenKey]*grant{},
		faults:    map[Route][]Fault{},
		log:       requestLog{limit: cfg.requestLogLimit},
	}}
	if cfg.rateCapacity >= 1 {
		s.rate = newBucket(cfg.rateCapacity, cfg.ratePerMinute, cfg.now())
	}
	s.ts = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.ts.URL
	return s
}

// Close stops the server, ending any request that is waiting out a
// latency, and waits for the others to finish. Webhook deliveries not yet
// made are skipped and one in flight is cancelled.
func (s *Server) Close() {
	s.closeMu.Do(func() { close(s.closing) })
	s.stopDeliveries()
	s.ts.Close()
}

// HTTPClient returns an http.Client configured for the server, for code
// that takes one (a TokenManager, say).
func (s *Server) HTTPClient() *http.Client { return s.ts.Client() }

// now returns the server's time at Heroku's precision, whole seconds in UTC.
func (s *Server) now() time.Time { return s.cfg.now().UTC().Truncate(time.Second) }

// String describes the server by its URL only: its client secret and the
// tokens it issued stay out of test failure messages and logs.
func (s *Server) String() string {
	if s == nil {
		return "herokupartnertest.Server(nil)"
	}
	return "herokupartnertest.Server{URL:" + s.URL + "}"
}

// GoString describes the server like String, for %#v.
func (s *Server) GoString() string { return s.String() }

// Format prints String under every verb, so that no verb (%+v, %#v, %x,
// %d…) reaches the server's fields through reflection.
func (s *Server) Format(f fmt.State, _ rune) { _, _ = fmt.Fprint(f, s.String()) }

// LogValue makes slog log the server as its URL.
func (s *Server) LogValue() slog.Value {
	if s == nil {
		return slog.StringValue(s.String())
	}
	return slog.GroupValue(slog.String("url", s.URL))
}
