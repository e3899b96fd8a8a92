// Command provisioning is a complete add-on backend for Heroku's
// asynchronous provisioning that loses nothing: every provisioning request
// is recorded before Heroku gets its 202, and herokupartner.Provisioner
// works through it step by step (grant exchange, pipeline resolution, the
// add-on's own provisioning, config, marking provisioned), resuming after
// a restart or crash, retrying through outages until Heroku's 12 hour
// deadline, and sharing the work between replicas through PostgreSQL.
//
// Run without configuration, it demonstrates the whole flow against an
// in-process fake of Heroku (a redelivery, an outage, a restart in the
// middle of the work, a deprovisioning) and exits:
//
//	go -C examples/provisioning run .
//
// To serve, set at least ADDON_ID, ADDON_PASSWORD and HEROKU_OAUTH_SECRET;
// see config.go for every variable.
package main

import (
	"fmt"
	"os"
)

func main() {
	cfg, err := configFromEnv(os.Getenv)
	if err == nil && cfg == nil {
		err = demo(os.Stdout)
	} else if err == nil {
		err = serve(cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "provisioning:", err)
		os.Exit(1)
	}
}
