package herokupartner

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"

	"golang.org/x/oauth2"
)

// proofs remembers, for this process, which access tokens have read which
// resources' add-on from the API: the proof that lets a client whose
// tokens are not bound to a resource by a TokenManager (WithToken, a token
// source of the caller's) be served that resource's cache entries.
var proofs = &proofSet{key: newFingerprintKey(), seen: map[proof]struct{}{}}

// maxProofs bounds the proof set: a few per resource for a few thousand
// resources. Once full it starts over, which costs each client one add-on
// request to prove itself again.
const maxProofs = 4 * DefaultMemoryCacheSize

type proof struct {
	token    string // fingerprint of the access token
	resource string // canonical uuid
}

type proofSet struct {
	key  []byte
	mu   sync.Mutex
	seen map[proof]struct{}
}

func newFingerprintKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k) // crypto/rand.Read never returns an error
	return k
}

func (p *proofSet) has(token, resource string) bool {
	if token == "" {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.seen[proof{token, resource}]
	return ok
}

func (p *proofSet) add(token, resource string) {
	if token == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.seen) >= maxProofs {
		clear(p.seen)
	}
	p.seen[proof{token, resource}] = struct{}{}
}

// fingerprint identifies cl's current access token without keeping it: an
// HMAC under a key that never leaves the process. For a TokenManager's
// client it reads the store and sends nothing unless the token is due for
// a refresh. It returns "" when the token cannot be had.
func fingerprint(ctx context.Context, cl *Client) string {
	var (
		tok *oauth2.Token
		err error
	)
	if cts, ok := cl.tokens.(interface {
		TokenContext(context.Context) (*oauth2.Token, error)
	}); ok {
		tok, err = cts.TokenContext(ctx)
	} else {
		tok, err = cl.tokens.Token()
	}
	if err != nil || tok == nil || tok.AccessToken == "" {
		return ""
	}
	mac := hmac.New(sha256.New, proofs.key)
	mac.Write([]byte(tok.AccessToken))
	return string(mac.Sum(nil))
}
