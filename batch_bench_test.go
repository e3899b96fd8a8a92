package herokupartner_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
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
	// What the machine allows: as many independent GETs as the batch sends,
	// eight at a time, against a server that only sleeps 2ms; no client
	// holding eight requests in flight can beat it.
	b.Run(fmt.Sprintf("floor-c%d", hp.DefaultBatchConcurrency), func(b *testing.B) {
		benchFloor(b, 2*n+k, hp.DefaultBatchConcurrency, latency)
	})
	// The same resolutions written by hand with net/http and encoding/json,
	// eight at a time, each pipeline fetched once.
	var raw float64 // ns per resource
	b.Run(fmt.Sprintf("raw-net-http-c%d", hp.DefaultBatchConcurrency), func(b *testing.B) {
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: hp.DefaultBatchConcurrency}}
		defer hc.CloseIdleConnections()
		requests := 0
		for b.Loop() {
			srv.ResetRequests()
			rawBatch(b, hc, srv.URL, w, hp.DefaultBatchConcurrency)
			requests = len(srv.Requests())
		}
		raw = perResource(b, n)
		report(b, requests, 2*n+k, hp.DefaultBatchConcurrency)
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
			if raw > 0 && conc == hp.DefaultBatchConcurrency {
				b.ReportMetric(perResource(b, n)/raw, "x-raw")
			}
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

// rawBatch resolves w's resources as a partner would by hand: plain
// net/http and encoding/json, conc at a time, each pipeline once.
func rawBatch(b *testing.B, hc *http.Client, baseURL string, w *world, conc int) {
	get := func(path, token string, out any) {
		req, err := http.NewRequest(http.MethodGet, baseURL+path, nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Accept", "application/vnd.heroku+json; version=3")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	var (
		next  atomic.Int64
		names sync.Map
		wg    sync.WaitGroup
	)
	for range conc {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(w.items); i = int(next.Add(1) - 1) {
				tok := w.tokens[i]
				var a struct{ App struct{ ID string } }
				get("/addons/"+w.items[i].ResourceUUID, tok, &a)
				var c struct{ Pipeline struct{ ID string } } // the fake's default shape
				get("/apps/"+a.App.ID+"/pipeline-couplings", tok, &c)
				if _, ok := names.Load(c.Pipeline.ID); !ok {
					var p struct{ Name string }
					get("/pipelines/"+c.Pipeline.ID, tok, &p)
					names.Store(c.Pipeline.ID, p.Name)
				}
			}
		})
	}
	wg.Wait()
}

// benchFloor makes requests GETs, conc at a time, with plain net/http
// against a server that sleeps latency and answers "{}". It reports
// x-ideal (wall time over requests / conc x latency) and sleep-x-ideal
// (the server's own sleeping, per request, over latency). Go's runtime
// wakes a sleeper from an idle wait on a millisecond boundary, so a 2ms
// sleep started at a random phase takes up to 3ms; no client finishes in
// less time than the server sleeps.
func benchFloor(b *testing.B, requests, conc int, latency time.Duration) {
	var slept atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		start := time.Now()
		time.Sleep(latency)
		slept.Add(int64(time.Since(start)))
		_, _ = io.WriteString(w, "{}")
	}))
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}}
	defer hc.CloseIdleConnections()
	get := func() {
		resp, err := hc.Get(srv.URL)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	for b.Loop() {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range conc {
			wg.Go(func() {
				for next.Add(1) <= int64(requests) {
					get()
				}
			})
		}
		wg.Wait()
	}
	ideal := float64(requests) / float64(conc) * float64(latency.Nanoseconds())
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/ideal, "x-ideal")
	b.ReportMetric(float64(slept.Load())/float64(b.N)/float64(requests)/float64(latency.Nanoseconds()), "sleep-x-ideal")
}
