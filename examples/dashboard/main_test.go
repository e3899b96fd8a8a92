package main

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The dashboard's output is deterministic, so this example is its test:
// grouping, stage order, same-add-on apps, apps in no pipeline, failures
// and the request counts (2 per resolved resource, 1 per pipeline, 1 for
// the failed one; on refresh only the failed one is asked again).
func Example() {
	if err := run(context.Background(), os.Stdout); err != nil {
		panic(err)
	}
	// Output:
	// 16 add-on resources of 6 customers: 35 requests, 1 on a refresh with a warm cache
	//
	// acme-shop
	//   development  acme-shop-dev
	//   review       acme-shop-pr-1412
	//   staging      acme-shop-staging
	//   production   acme-shop (2 add-ons), acme-shop-eu
	//
	// globex-api
	//   test         globex-api-ci
	//   staging      globex-api-staging
	//   production   globex-api
	//
	// hooli-web
	//   staging      hooli-web-staging
	//   production   hooli-web
	//
	// piper
	//   production   pied-piper-web
	//   canary       pied-piper-canary
	//
	// in no pipeline
	//   initech-reports, initech-scratch
	//
	// failed
	//   acme-metrics-polished-42996 on umbrella-legacy: token refused (grant revoked?): re-authorize or deprovision
}

func TestRunIsStable(t *testing.T) {
	var a, b bytes.Buffer
	require.NoError(t, run(context.Background(), &a))
	require.NoError(t, run(context.Background(), &b))
	assert.Equal(t, a.String(), b.String(), "the dashboard depends on content only, not on timing or random ids")
}
