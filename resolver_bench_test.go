package herokupartner_test

import (
	"context"
	"testing"

	hp "github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

// BenchmarkResolver measures the metrics hot path against the fake: stage
// lookups from a warm Resolver, against uncached ResolvePipeline calls in
// the same run, and the requests 1,000 concurrent callers make on a cold
// Resolver (one resolution: 3, or 2 with TwoRequests):
//
//	go test -run '^$' -bench BenchmarkResolver -benchmem .
func BenchmarkResolver(b *testing.B) {
	ctx := context.Background()
	var uncached float64 // ns per lookup
	b.Run("uncached-ResolvePipeline", func(b *testing.B) {
		w := newHotWorld(b)
		for b.Loop() {
			if _, err := w.client.ResolvePipeline(ctx, w.id()); err != nil {
				b.Fatal(err)
			}
		}
		uncached = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(float64(len(w.srv.Requests()))/float64(b.N), "requests/lookup")
	})
	b.Run("warm", func(b *testing.B) {
		w := newHotWorld(b)
		var r hp.Resolver
		if _, err := r.Stage(ctx, w.client, w.id()); err != nil {
			b.Fatal(err)
		}
		w.srv.ResetRequests()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if s, err := r.Stage(ctx, w.client, w.id()); err != nil || s != hp.StageStaging {
					b.Fatal(s, err)
				}
			}
		})
		perLookup := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(1e9/perLookup, "lookups/s")
		b.ReportMetric(float64(len(w.srv.Requests())), "requests")
		if uncached > 0 {
			b.ReportMetric(uncached/perLookup, "x-vs-uncached")
		}
	})
	for _, tc := range []struct {
		name string
		two  bool
	}{{"cold-1000-callers", false}, {"cold-1000-callers-two-requests", true}} {
		b.Run(tc.name, func(b *testing.B) {
			w := newHotWorld(b, herokupartnertest.WithPipelineNameInCoupling(tc.two))
			requests := 0
			for b.Loop() {
				w.srv.ResetRequests()
				r := &hp.Resolver{TwoRequests: tc.two}
				askAll(b, r, w.client, w.id(), 1000)
				requests = len(w.srv.Requests())
			}
			b.ReportMetric(float64(requests), "requests/op")
		})
	}
}
