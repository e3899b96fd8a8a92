package main

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The dashboard's output is deterministic (one virtual clock, changes
// that each touch one resource), so this example is its test: the first
// pass (2 requests per resource and 1 per pipeline), a rename applied from
// its webhook with no request, a promotion found by the refresher's next
// pass (1 coupling request per resource), an add-on removed by its
// webhook, and the grouped view after each.
func Example() {
	if err := run(context.Background(), os.Stdout); err != nil {
		panic(err)
	}
	// Output:
	// 10 add-on resources of 4 customers, each subscribed to its webhooks and tracked;
	// refresher budget 60 requests a minute, staleness bound 1m1s.
	//
	// 09:00:30 first pass: 10 x added, 23 API requests
	//
	//   acme-shop
	//     review       acme-shop-pr-1412
	//     staging      acme-shop-staging
	//     production   acme-shop (2 add-ons)
	//
	//   globex-api
	//     staging      globex-api-staging
	//     production   globex-api
	//
	//   piper
	//     production   pied-piper-web
	//     canary       pied-piper-canary
	//
	//   in no pipeline
	//     initech-reports, initech-scratch
	//
	// 09:00:30 globex renames globex-api-staging to globex-api-qa
	//   <- webhook api:app update
	//   -> app_renamed     globex-api-staging -> globex-api-qa
	//   0 API requests
	//
	//   acme-shop
	//     review       acme-shop-pr-1412
	//     staging      acme-shop-staging
	//     production   acme-shop (2 add-ons)
	//
	//   globex-api
	//     staging      globex-api-qa
	//     production   globex-api
	//
	//   piper
	//     production   pied-piper-web
	//     canary       pied-piper-canary
	//
	//   in no pipeline
	//     initech-reports, initech-scratch
	//
	// 09:00:30 acme promotes acme-shop-staging to production
	//   .. no webhook; the refresher's next pass asks each resource's coupling
	//   -> stage_changed   acme-shop-staging: acme-shop/staging -> acme-shop/production
	//   10 API requests
	//
	//   acme-shop
	//     review       acme-shop-pr-1412
	//     production   acme-shop (2 add-ons), acme-shop-staging
	//
	//   globex-api
	//     staging      globex-api-qa
	//     production   globex-api
	//
	//   piper
	//     production   pied-piper-web
	//     canary       pied-piper-canary
	//
	//   in no pipeline
	//     initech-reports, initech-scratch
	//
	// 09:01:30 initech removes our add-on from initech-scratch
	//   <- webhook api:addon-attachment destroy
	//   <- webhook api:addon destroy
	//   -> removed         acme-metrics-jagged-85482 on initech-scratch, in no pipeline
	//   0 API requests
	//
	//   acme-shop
	//     review       acme-shop-pr-1412
	//     production   acme-shop (2 add-ons), acme-shop-staging
	//
	//   globex-api
	//     staging      globex-api-qa
	//     production   globex-api
	//
	//   piper
	//     production   pied-piper-web
	//     canary       pied-piper-canary
	//
	//   in no pipeline
	//     initech-reports
}

func TestRunIsStable(t *testing.T) {
	var a, b bytes.Buffer
	require.NoError(t, run(context.Background(), &a))
	require.NoError(t, run(context.Background(), &b))
	assert.Equal(t, a.String(), b.String(), "the dashboard depends on content only, not on timing or random ids")
}
