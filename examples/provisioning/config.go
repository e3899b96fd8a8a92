package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/addonkit/herokupartner"
)

// config is the backend's settings, read from the environment:
//
//	PORT                    port to listen on (default 8080)
//	ADDON_ID                the manifest's id: Heroku's Basic auth user (required)
//	ADDON_PASSWORD          the manifest's api.password (required)
//	HEROKU_OAUTH_SECRET     the Partner Portal's OAuth client secret (required)
//	DATABASE_URL            PostgreSQL for jobs and tokens; without it both live in memory
//	DATABASE_ENCRYPTION_KEY base64 of 32 bytes: encrypts tokens and grant codes in PostgreSQL
//	HEROKU_API_URL          Platform API base URL (default https://api.heroku.com)
//	HEROKU_OAUTH_TOKEN_URL  OAuth token URL (default https://id.heroku.com/oauth/token)
//	ACME_SERVICE_URL        base of the ACME_URL given to each add-on (default https://acme.example)
type config struct {
	port, addonID    string
	password, secret herokupartner.Secret
	databaseURL      herokupartner.Secret // it may embed a password
	encryptionKey    []byte
	apiURL, tokenURL string
	serviceURL       string
}

// configFromEnv reads the settings; it returns nil and no error when none
// of the required ones is set, which asks for the demo.
func configFromEnv(getenv func(string) string) (*config, error) {
	c := &config{
		port: getenv("PORT"), addonID: getenv("ADDON_ID"),
		password: herokupartner.NewSecret(getenv("ADDON_PASSWORD")), secret: herokupartner.NewSecret(getenv("HEROKU_OAUTH_SECRET")),
		databaseURL: herokupartner.NewSecret(getenv("DATABASE_URL")),
		apiURL:      getenv("HEROKU_API_URL"), tokenURL: getenv("HEROKU_OAUTH_TOKEN_URL"),
		serviceURL: strings.TrimRight(getenv("ACME_SERVICE_URL"), "/"),
	}
	if c.addonID == "" && c.password.IsZero() && c.secret.IsZero() {
		return nil, nil
	}
	var missing []string
	for name, empty := range map[string]bool{"ADDON_ID": c.addonID == "", "ADDON_PASSWORD": c.password.IsZero(), "HEROKU_OAUTH_SECRET": c.secret.IsZero()} {
		if empty {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("set %s too (or none of ADDON_ID, ADDON_PASSWORD, HEROKU_OAUTH_SECRET for the demo)", strings.Join(slices.Sorted(slices.Values(missing)), ", "))
	}
	if key := getenv("DATABASE_ENCRYPTION_KEY"); key != "" {
		k, err := base64.StdEncoding.DecodeString(key)
		if err != nil || len(k) != 32 {
			// The value itself is never repeated.
			return nil, errors.New("DATABASE_ENCRYPTION_KEY: want the base64 of 32 bytes")
		}
		c.encryptionKey = k
	}
	if c.port == "" {
		c.port = "8080"
	}
	if c.serviceURL == "" {
		c.serviceURL = "https://acme.example"
	}
	return c, nil
}
