package herokupartnertest_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/stretchr/testify/require"
)

// delivered is one request a receiver got.
type delivered struct {
	header http.Header
	body   []byte
	// env is the body decoded generically.
	env map[string]any
}

func (d delivered) field(path ...string) any {
	var cur any = d.env
	for _, p := range path {
		m, _ := cur.(map[string]any)
		cur = m[p]
	}
	return cur
}

// receiver is a webhook endpoint for tests: it records every delivery
// and answers the scripted statuses in turn, then 204.
type receiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	got      []delivered
	statuses []int
	// onRequest, if set, runs before the answer.
	onRequest func()
}

func newReceiver(t *testing.T, tlsServer bool, statuses ...int) *receiver {
	t.Helper()
	rc := &receiver{statuses: statuses}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		d := delivered{header: r.Header.Clone(), body: body}
		_ = json.Unmarshal(body, &d.env)
		rc.mu.Lock()
		rc.got = append(rc.got, d)
		status := http.StatusNoContent
		if len(rc.statuses) > 0 {
			status, rc.statuses = rc.statuses[0], rc.statuses[1:]
		}
		hook := rc.onRequest
		rc.mu.Unlock()
		if hook != nil {
			hook()
		}
		w.WriteHeader(status)
	})
	if tlsServer {
		rc.srv = httptest.NewTLSServer(h)
	} else {
		rc.srv = httptest.NewServer(h)
	}
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) deliveries() []delivered {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivered(nil), rc.got...)
}

// validSignature checks a delivery the way the spec says a receiver must:
// base64 of HMAC-SHA256 over the raw body, compared in constant time.
func validSignature(d delivered, secret string) bool {
	got, err := base64.StdEncoding.DecodeString(d.header.Get("Heroku-Webhook-Hmac-SHA256"))
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(d.body)
	return hmac.Equal(got, m.Sum(nil))
}

// subscribe creates a subscription for the add-on with its token and
// returns the webhook object and the answer.
func subscribe(t *testing.T, s *herokupartnertest.Server, addonID, token string, body map[string]any) (map[string]any, answer) {
	t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	a := call(t, s, http.MethodPost, "/addons/"+addonID+"/webhooks", token, strings.NewReader(string(raw)))
	require.Equalf(t, http.StatusCreated, a.status, "body %s", a.raw)
	return a.object(t), a
}

func waitDeliveries(t *testing.T, s *herokupartnertest.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, s.WaitForDeliveries(ctx))
}

// webhookSchema loads the official webhook schema definitions kept in
// testdata, for the existing schema checker.
func webhookSchema(t *testing.T) *schema {
	t.Helper()
	raw, err := os.ReadFile("testdata/schema-webhooks.json")
	require.NoError(t, err)
	var doc struct {
		Definitions map[string]any `json:"definitions"`
		Referenced  map[string]any `json:"referenced"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	return &schema{root: map[string]any{"definitions": doc.Definitions}, referenced: doc.Referenced}
}

func schemaNode(t *testing.T, sc *schema, path ...string) map[string]any {
	t.Helper()
	var cur any = sc.root["definitions"]
	for _, p := range path {
		m, ok := cur.(map[string]any)
		require.Truef(t, ok, "schema path %v", path)
		cur = m[p]
	}
	node, ok := cur.(map[string]any)
	require.Truef(t, ok, "schema path %v", path)
	return node
}
