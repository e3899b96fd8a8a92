package herokupartner_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	hp "github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

// BenchmarkResolvePipelines resolves 1,000 resources over 50 pipelines
// against the fake with 2ms added to every request, and compares, in the
// same run, the batch with the naive loop calling ResolvePipeline for one
// resource after another and with the ideal (requests / concurrency x
// latency). The naive loop resolves only the first 100 resources (it needs
// about 0.6s for them), so compare the ns/resource metrics:
//
//	go test -run '^$' -bench BenchmarkResolvePipelines -benchtime=1x -count=3 .
//
// Metrics: requests/op is what the fake saw (2,050 cold, 2,000 cold with
// BatchTwoRequests, 1,000 warm once couplings have expired, 0 within their
// ttl); x-ideal is wall time over
// the ideal; speedup-vs-naive is the naive loop's time per resource over
// the batch's, both measured in this run.
func BenchmarkResolvePipelines(b *testing.B) {
	const (
		n, k    = 1000, 50
		naiveN  = 100
		latency = 2 * time.Millisecond
	)
	// No rate limit: the benchmark sends more than a bucket holds.
	srv := herokupartnertest.NewServer(herokupartnertest.WithLatency(latency), herokupartnertest.WithRateLimit(0, 0))
	defer srv.Close()
	w := newWorld(b, srv, n, k, nil)
	ctx := context.Background()
	base := srv.Client("")

	perResource := func(b *testing.B, count int) float64 {
		return float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(count)
	}
	var naive float64 // ns per resource
	report := func(b *testing.B, requests, idealRequests, conc int) {
		got := perResource(b, n)
		b.ReportMetric(float64(requests), "requests/op")
		b.ReportMetric(got, "ns/resource")
		if idealRequests > 0 {
			ideal := float64(idealRequests) / float64(conc) * float64(latency.Nanoseconds()) / float64(n)
			b.ReportMetric(got/ideal, "x-ideal")
		}
		if naive > 0 {
			b.ReportMetric(naive/got, "speedup-vs-naive")
		}
	}
	check := func(b *testing.B, results []hp.BatchResult) {
		for i, r := range results {
			if r.Err != nil || !r.Resolution.InPipeline() {
				b.Fatalf("item %d: %v", i, r.Err)
			}
		}
	}

	b.Run("naive-sequential", func(b *testing.B) {
		requests := 0
		for b.Loop() {
			srv.ResetRequests()
			for _, it := range w.items[:naiveN] {
				if _, err := it.Client.ResolvePipeline(ctx, it.ResourceUUID); err != nil {
					b.Fatal(err)
				}
			}
			requests = len(srv.Requests())
		}
		naive = perResource(b, naiveN)
		b.ReportMetric(float64(requests), "requests/op")
		b.ReportMetric(naive, "ns/resource")
		b.ReportMetric(naive/(3*float64(latency.Nanoseconds())), "x-ideal")
	})
	for _, conc := range []int{hp.DefaultBatchConcurrency, 32} {
		b.Run(fmt.Sprintf("batch-cold-c%d", conc), func(b *testing.B) {
			requests := 0
			for b.Loop() {
				srv.ResetRequests()
				check(b, base.ResolvePipelines(ctx, w.items, hp.BatchConcurrency(conc)))
				requests = len(srv.Requests())
			}
			report(b, requests, 2*n+k, conc)
		})
	}
	// Two-request resolution: the couplings name their pipeline, so no
	// pipeline is fetched (2N requests, not 2N+K).
	b.Run(fmt.Sprintf("batch-cold-two-requests-c%d", hp.DefaultBatchConcurrency), func(b *testing.B) {
		named := herokupartnertest.NewServer(herokupartnertest.WithLatency(latency), herokupartnertest.WithRateLimit(0, 0),
			herokupartnertest.WithPipelineNameInCoupling(true))
		defer named.Close()
		nw := newWorld(b, named, n, k, nil)
		requests := 0
		for b.Loop() {
			named.ResetRequests()
			check(b, base.ResolvePipelines(ctx, nw.items, hp.BatchTwoRequests()))
			requests = len(named.Requests())
		}
		report(b, requests, 2*n, hp.DefaultBatchConcurrency)
	})
	// Warm once the couplings have expired: the add-on and the pipeline
	// come from the cache, the coupling is asked again.
	b.Run(fmt.Sprintf("batch-warm-c%d", hp.DefaultBatchConcurrency), func(b *testing.B) {
		cache := hp.NewMemoryCache(0)
		opt := hp.BatchCache(cache, hp.CachePolicy{CouplingsTTL: -1})
		check(b, base.ResolvePipelines(ctx, w.items, opt))
		requests := 0
		for b.Loop() {
			srv.ResetRequests()
			check(b, base.ResolvePipelines(ctx, w.items, opt))
			requests = len(srv.Requests())
		}
		report(b, requests, n, hp.DefaultBatchConcurrency)
	})
	// Warm within every ttl: no request at all.
	b.Run("batch-hot", func(b *testing.B) {
		cache := hp.NewMemoryCache(0)
		opt := hp.BatchCache(cache, hp.CachePolicy{})
		check(b, base.ResolvePipelines(ctx, w.items, opt))
		requests := 0
		for b.Loop() {
			srv.ResetRequests()
			check(b, base.ResolvePipelines(ctx, w.items, opt))
			requests = len(srv.Requests())
		}
		report(b, requests, 0, hp.DefaultBatchConcurrency)
	})
}
