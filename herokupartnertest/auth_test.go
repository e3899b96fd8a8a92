package herokupartnertest_test

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

func basic(userPass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(userPass))
}

// Heroku's Node client sends the token as the password of Basic auth with
// an empty user; netrc-based tools put the account's email as the user.
// Heroku reads the password, so the fake does too.
func TestBasicAuthCarriesTheTokenAsPassword(t *testing.T) {
	w := newWorld(t)
	rows := []struct {
		name, auth string
		status     int
	}{
		{"empty user, token as password", basic(":" + w.tokA), http.StatusOK},
		{"email as user", basic("someone@example.com:" + w.tokA), http.StatusOK},
		{"scheme in lower case", "basic " + base64.StdEncoding.EncodeToString([]byte(":"+w.tokA)), http.StatusOK},
		{"another add-on's token", basic(":" + w.tokB), http.StatusForbidden},
		{"token as user, no password", basic(w.tokA + ":"), http.StatusUnauthorized},
		{"no colon", basic(w.tokA), http.StatusUnauthorized},
		{"not base64", "Basic " + w.tokA + "!", http.StatusUnauthorized},
		{"made-up token", basic(":HRKU-not-a-real-token"), http.StatusUnauthorized},
		{"unknown scheme", "Token " + w.tokA, http.StatusUnauthorized},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			a := call(t, w.s, http.MethodGet, w.addonPath(w.a.ID), "", nil, "Authorization", r.auth)
			assert.Equal(t, r.status, a.status, "body %s", a.raw)
		})
	}
	// The log keeps the scheme and hides the credentials.
	for _, req := range w.s.Requests() {
		v := req.Header.Get("Authorization")
		assert.Contains(t, []string{"Basic [redacted]", "basic [redacted]", "Token [redacted]"}, v)
	}
}
