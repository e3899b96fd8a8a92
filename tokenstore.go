package herokupartner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
)

// ErrTokenNotFound is returned by a TokenStore that holds no token for a
// resource.
var ErrTokenNotFound = errors.New("herokupartner: no token stored for resource")

// Token is one add-on resource's OAuth token pair. Both tokens are
// Secrets: printing, logging or encoding a Token, or a struct that holds
// one, never reveals them. json.Marshal writes "[redacted]" in their place,
// and json.Unmarshal refuses that placeholder, so a store written through
// the default JSON fails loudly instead of loading a fake token: persist
// credentials with Reveal (and NewSecret when loading them back).
type Token struct {
	AccessToken  Secret
	RefreshToken Secret
	// Expiry is when AccessToken stops working.
	Expiry time.Time
}

// String describes t without its secrets.
func (t Token) String() string {
	return fmt.Sprintf("herokupartner.Token{AccessToken:%q RefreshToken:%q Expiry:%s}",
		t.AccessToken, t.RefreshToken, formatTime(t.Expiry))
}

// GoString describes t without its secrets, for %#v.
func (t Token) GoString() string { return t.String() }

// Format prints String under every verb, so that no verb walks the fields.
func (t Token) Format(f fmt.State, verb rune) { formatAs(f, verb, t.String()) }

// LogValue makes slog log t without its secrets.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Any("access_token", t.AccessToken),
		slog.Any("refresh_token", t.RefreshToken),
		slog.Time("expiry", t.Expiry),
	)
}

// TokenStore keeps each add-on resource's tokens, keyed by the resource
// uuid of the provisioning request. Implementations must be safe for
// concurrent use. Back it with your own database by implementing these three
// methods; implement LockingTokenStore too when several processes share it.
// Persist credentials with Reveal, encrypted at rest, never through the
// default JSON of Token, which redacts them.
type TokenStore interface {
	// Load returns the resource's token, or an error matching
	// ErrTokenNotFound when there is none.
	Load(ctx context.Context, resource uuid.UUID) (Token, error)
	// Save stores the resource's token, replacing any earlier one.
	Save(ctx context.Context, resource uuid.UUID, t Token) error
	// Delete forgets the resource's token; deleting a missing one is not an
	// error.
	Delete(ctx context.Context, resource uuid.UUID) error
}

// LockingTokenStore is a TokenStore that can serialise the refresh of one
// resource's token across every process sharing it. When Heroku rotates
// refresh tokens, two replicas refreshing at once would leave one of them
// holding a dead refresh token; a store that implements this interface
// prevents that.
type LockingTokenStore interface {
	TokenStore
	// Update holds an exclusive lock on the resource's token, passes the
	// stored token to fn and, if fn succeeds, saves what it returns before
	// releasing the lock. It returns the saved token. An error from fn or
	// from saving leaves the stored token unchanged.
	Update(ctx context.Context, resource uuid.UUID, fn func(ctx context.Context, current Token) (Token, error)) (Token, error)
}

// MemoryTokenStore is an in-process TokenStore, the default. Its zero value
// is ready to use. Tokens are lost when the process exits.
type MemoryTokenStore struct {
	mu     sync.Mutex
	tokens map[uuid.UUID]Token
	// locks serialises Update per resource without holding mu while fn
	// talks to Heroku.
	locks map[uuid.UUID]*sync.Mutex
}

var _ LockingTokenStore = (*MemoryTokenStore)(nil)

// Load returns the resource's token or an error matching ErrTokenNotFound.
func (s *MemoryTokenStore) Load(ctx context.Context, resource uuid.UUID) (Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[resource]
	if !ok {
		return Token{}, fmt.Errorf("%w: %s", ErrTokenNotFound, resource)
	}
	return t, nil
}

// Save stores the resource's token.
func (s *MemoryTokenStore) Save(ctx context.Context, resource uuid.UUID, t Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tokens == nil {
		s.tokens = make(map[uuid.UUID]Token)
	}
	s.tokens[resource] = t
	return nil
}

// Delete forgets the resource's token.
func (s *MemoryTokenStore) Delete(ctx context.Context, resource uuid.UUID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, resource)
	return nil
}

// Update runs fn under the resource's lock and saves its result.
func (s *MemoryTokenStore) Update(ctx context.Context, resource uuid.UUID, fn func(ctx context.Context, current Token) (Token, error)) (Token, error) {
	s.mu.Lock()
	if s.locks == nil {
		s.locks = make(map[uuid.UUID]*sync.Mutex)
	}
	l, ok := s.locks[resource]
	if !ok {
		l = new(sync.Mutex)
		s.locks[resource] = l
	}
	s.mu.Unlock()

	l.Lock()
	defer l.Unlock()
	cur, err := s.Load(ctx, resource)
	if err != nil {
		return Token{}, err
	}
	next, err := fn(ctx, cur)
	if err != nil {
		return Token{}, err
	}
	if err := s.Save(ctx, resource, next); err != nil {
		return Token{}, err
	}
	return next, nil
}
