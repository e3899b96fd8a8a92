package herokupartnertest

import (
	"net/http"
	"strconv"
	"testing"
)

// BenchmarkRequestLog measures what logging one more request costs once
// the log already holds 0, 10k and 100k entries (the last is the default
// capacity, where the ring wraps). The three figures should match: a log
// that copied itself on every append cost ~0.6 µs at 0 and ~310 µs at 100k.
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
