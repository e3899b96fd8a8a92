package main

import (
	"context"
	"errors"
	"time"

	hp "github.com/addonkit/herokupartner"
)

// source is all the page needs from whatever keeps the fleet's pipeline
// map current: trackerSource (source.go) implements it over the SDK's
// Tracker. Only source.go and main.go know that.
type source interface {
	// Snapshot returns the customer's resources as last confirmed. It
	// fails with errUnknownCustomer for a customer the partner does not
	// know, and with another error when the map cannot be read (a store
	// in PostgreSQL may be unreachable).
	Snapshot(ctx context.Context, customer string) (snapshot, error)
	// Subscribe returns a channel that receives a value whenever
	// anything may have changed (a change, or entries confirmed again,
	// which moves "as of"), and a function that ends the subscription.
	// Values are coalesced: a slow reader misses none of the state, only
	// intermediate wake-ups.
	Subscribe() (<-chan struct{}, func())
}

// errUnknownCustomer is Snapshot's answer for a customer the partner's
// records do not hold.
var errUnknownCustomer = errors.New("unknown customer")

// snapshot is one customer's part of the map.
type snapshot struct {
	// Results are the customer's resolved resources, one each.
	Results []hp.BatchResult
	// Failed are the customer's resources whose latest read failed; a
	// resource resolved before is in Results too, as last confirmed.
	Failed []failedRead
	// Missing are resources the partner's records give the customer that
	// are not on the map (any more): the tracker drops a resource whose
	// grant was revoked or whose add-on Heroku no longer knows.
	Missing []string
	// AsOf is when the oldest entry in Results was last confirmed; zero
	// before the first confirmation.
	AsOf time.Time
	// Bound is how old an entry may become before it is confirmed again.
	Bound time.Duration
	// Changes are the customer's latest changes, oldest first.
	Changes []change
}

// failedRead is a resource whose latest read failed, as the tracker
// records it.
type failedRead struct {
	ResourceID string
	// App is the app's name when the resource was resolved before.
	App string
	// LastError is the tracker's description of the failure: the SDK's
	// error text, which holds no token but does hold API paths and, when
	// Heroku answered, its request id.
	LastError string
	// ConfirmedAt is when the resource was last read; zero if never.
	ConfirmedAt time.Time
}

// change is one thing that happened to one resource.
type change struct {
	Seq        uint64 // increasing, so a reader knows which it has seen
	At         time.Time
	Kind       hp.ChangeKind
	ResourceID string
	// Before and After are the resolutions either side; Before is nil
	// for hp.ChangeAdded and After for hp.ChangeRemoved.
	Before, After *hp.Resolution
}
