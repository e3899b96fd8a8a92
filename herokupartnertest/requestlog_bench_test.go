package herokupartnertest

import (
	"io"
	"net/http"
	"strconv"
	"testing"
)

// BenchmarkRequestLog measures what logging one more request costs once
// the log already holds 0, 10k and 100k entries (the last is the default
// capacity, where the ring wraps). The three figures should match
// (14 ns, no allocation, on a 2-core machine).
//
//	go test -run '^$' -bench RequestLog -benchmem ./herokupartnertest
func BenchmarkRequestLog(b *testing.B) {
	rec := Request{Method: http.MethodGet, Path: "/addons/x", Route: RouteAddon,
		Header: http.Header{"Accept": {"application/vnd.heroku+json; version=3"}}, Status: http.StatusOK}
	for _, before := range []int{0, 10_000, 100_000} {
		b.Run("after="+strconv.Itoa(before), func(b *testing.B) {
			l := &requestLog{limit: DefaultRequestLogCapacity}
			for range before {
				l.add(rec)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				l.add(rec)
			}
		})
	}
}

// BenchmarkServeWithFullLog measures a whole GET /addons/{id} round trip
// with the request log empty and holding its 100k-entry default capacity:
// the two figures should match. With the log that copied itself on every
// append once full, the second was ten times the first (70 µs and 706 µs
// a request on a 2-core machine; now 65 µs and 62 µs).
func BenchmarkServeWithFullLog(b *testing.B) {
	for _, before := range []int{0, DefaultRequestLogCapacity} {
		b.Run("logged="+strconv.Itoa(before), func(b *testing.B) {
			s := NewServer(WithRateLimit(0, 0))
			defer s.Close()
			a := s.AddAddon(s.AddApp("bench").ID, "basic")
			tok := s.IssueToken(a.ID)
			rec := Request{Method: http.MethodGet, Path: "/addons/x", Route: RouteAddon, Header: http.Header{}, Status: http.StatusOK}
			for range before {
				s.log.add(rec)
			}
			req, _ := http.NewRequest(http.MethodGet, s.URL+"/addons/"+a.ID.String(), nil)
			req.Header.Set("Accept", "application/vnd.heroku+json; version=3")
			req.Header.Set("Authorization", "Bearer "+tok)
			hc := s.HTTPClient()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				resp, err := hc.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}
