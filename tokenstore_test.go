package herokupartner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokenNeverPrintsItsSecrets(t *testing.T) {
	tok := Token{AccessToken: NewSecret("HRKU-access-secret"), RefreshToken: NewSecret("HRKU-refresh-secret"), Expiry: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	holder := struct {
		Name  string
		Token Token
		Ptr   *Token
	}{"acme", tok, &tok}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("saved", "token", tok)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("saved", "token", tok)
	for _, s := range []string{
		fmt.Sprint(tok), fmt.Sprintf("%v %+v %#v %s", tok, tok, tok, tok),
		fmt.Sprintf("%v %+v %#v", holder, holder, holder), fmt.Sprintf("%v", &tok), logs.String(),
	} {
		assert.NotContains(t, s, "HRKU-")
	}
	assert.Contains(t, tok.String(), "2026-01-02T03:04:05Z")
	assert.Contains(t, logs.String(), "[redacted]")
	assert.Contains(t, Token{}.String(), `AccessToken:""`, "an empty token says so instead of claiming a secret")
}

func TestMemoryTokenStore(t *testing.T) {
	ctx := context.Background()
	var s MemoryTokenStore
	id := uuid.New()
	_, err := s.Load(ctx, id)
	require.ErrorIs(t, err, ErrTokenNotFound)

	tok := Token{AccessToken: NewSecret("a1"), RefreshToken: NewSecret("r1"), Expiry: time.Now().Add(time.Hour)}
	require.NoError(t, s.Save(ctx, id, tok))
	got, err := s.Load(ctx, id)
	require.NoError(t, err)
	assert.True(t, got == tok, "loaded token differs from saved")

	require.NoError(t, s.Delete(ctx, id))
	require.NoError(t, s.Delete(ctx, id), "deleting twice is fine")
	_, err = s.Load(ctx, id)
	require.ErrorIs(t, err, ErrTokenNotFound)
}

func TestMemoryTokenStoreUpdateIsExclusive(t *testing.T) {
	ctx := context.Background()
	var s MemoryTokenStore
	id := uuid.New()
	require.NoError(t, s.Save(ctx, id, Token{AccessToken: NewSecret("v0")}))

	// Each update reads the previous one's result; a lost update would
	// leave fewer increments than calls.
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			_, err := s.Update(ctx, id, func(_ context.Context, cur Token) (Token, error) {
				var n int
				_, _ = fmt.Sscanf(cur.AccessToken.Reveal(), "v%d", &n)
				return Token{AccessToken: NewSecret(fmt.Sprintf("v%d", n+1))}, nil
			})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	got, err := s.Load(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, "v50", got.AccessToken.Reveal())

	boom := errors.New("refresh failed")
	_, err = s.Update(ctx, id, func(context.Context, Token) (Token, error) { return Token{AccessToken: NewSecret("lost")}, boom })
	require.ErrorIs(t, err, boom)
	got, _ = s.Load(ctx, id)
	assert.Equal(t, "v50", got.AccessToken.Reveal(), "a failed update leaves the stored token alone")

	_, err = s.Update(ctx, uuid.New(), func(context.Context, Token) (Token, error) { return Token{}, nil })
	assert.ErrorIs(t, err, ErrTokenNotFound)
}
