package herokupartner

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkGetAddon compares GetAddon with the least a caller could write by
// hand, a GET with the same headers decoded by encoding/json, against the
// same local server in the same run. Compare the two with benchstat or by
// ratio: absolute figures on a shared machine mean little.
func BenchmarkGetAddon(b *testing.B) {
	body := readFixture(b, "addon.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Request-Id", "bench")
		w.Header().Set("RateLimit-Remaining", "4499")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	ctx := context.Background()

	b.Run("baseline", func(b *testing.B) {
		hc := srv.Client()
		b.ReportAllocs()
		for b.Loop() {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/addons/"+addonID, nil)
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Accept", acceptHeader)
			req.Header.Set("Authorization", "Bearer "+testToken)
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var a Addon
			err = json.NewDecoder(resp.Body).Decode(&a)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				b.Fatal(err, resp.StatusCode)
			}
		}
	})
	b.Run("client", func(b *testing.B) {
		c, err := NewClient(WithBaseURL(srv.URL), WithToken(testToken), WithHTTPClient(srv.Client()))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.GetAddon(ctx, addonID); err != nil {
				b.Fatal(fmt.Sprint(err))
			}
		}
	})
}
