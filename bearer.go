package herokupartner

import (
	"context"

	"golang.org/x/oauth2"
)

// The credential an attempt carries: fetched from the client's token
// source, checked, and turned into an Authorization header.

// contextTokenSource is implemented by token sources that can honour the
// request's context while fetching or refreshing a token.
type contextTokenSource interface {
	TokenContext(ctx context.Context) (*oauth2.Token, error)
}

// token fetches the access token for an attempt under the attempt's context
// when the source can take one.
func (c *Client) token(ctx context.Context) (*oauth2.Token, error) {
	if cts, ok := c.tokens.(contextTokenSource); ok {
		return cts.TokenContext(ctx)
	}
	return c.tokens.Token()
}

// tokenInvalidator is implemented by token sources that can throw away an
// access token the API rejected and fetch a fresh one.
type tokenInvalidator interface {
	InvalidateToken(ctx context.Context, rejected string) error
}

// validBearer reports whether token can be sent as a bearer credential:
// visible ASCII only (RFC 6750's b64token is a subset).
func validBearer(token string) bool {
	for i := 0; i < len(token); i++ {
		if token[i] < 0x21 || token[i] > 0x7e {
			return false
		}
	}
	return true
}

// bearer is an access token and the Authorization value that sends it.
type bearer struct{ token, header string }

// authorization returns the Authorization value for token, and false when
// token cannot be sent. The value of the client's latest token is kept, so
// a client reusing its token builds and checks it once, not per attempt.
func (c *Client) authorization(token string) (string, bool) {
	if c.auth != nil {
		if b := c.auth.Load(); b != nil && b.token == token {
			return b.header, true
		}
	}
	if !validBearer(token) {
		return "", false
	}
	b := &bearer{token: token, header: "Bearer " + token}
	if c.auth != nil {
		c.auth.Store(b)
	}
	return b.header, true
}
