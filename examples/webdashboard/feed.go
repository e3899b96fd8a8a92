package main

import (
	"context"
	"errors"
	"time"

	hp "github.com/addonkit/herokupartner"
)

// source is all the page needs from whatever keeps the fleet's pipeline
// map current. Today poller (source.go) implements it by re-resolving the
// fleet; the SDK's tracker will, by keeping each resource's latest
// resolution and emitting change events. Only source.go knows which.
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
	// Results are the customer's resources, failures included.
	Results []hp.BatchResult
	// AsOf is when the oldest entry in Results was last confirmed; zero
	// before the first confirmation.
	AsOf time.Time
	// Bound is how old an entry may become before it is confirmed again.
	Bound time.Duration
	// Changes are the customer's latest changes, oldest first.
	Changes []change
}

// changeKind names what happened to a resource; the names follow the
// tracker's change events.
type changeKind string

// The kinds of change.
const (
	kindAdded          changeKind = "added"
	kindRemoved        changeKind = "removed"
	kindStageChanged   changeKind = "stage changed"
	kindMovedPipeline  changeKind = "moved pipeline"
	kindLeftPipeline   changeKind = "left pipeline"
	kindJoinedPipeline changeKind = "joined pipeline"
	kindAppRenamed     changeKind = "app renamed"
	kindPlanChanged    changeKind = "plan changed"
)

// change is one thing that happened to one resource.
type change struct {
	Seq        uint64 // increasing, so a reader knows which it has seen
	At         time.Time
	Kind       changeKind
	ResourceID string
	// Before and After are the resolutions either side; Before is nil
	// for kindAdded and After for kindRemoved.
	Before, After *hp.Resolution
}
