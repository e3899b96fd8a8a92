package herokupartner

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// fixtureServer answers the three lookups of one resolution with the
// testdata fixtures, with the headers the API sends.
func fixtureServer(b *testing.B) *httptest.Server {
	bodies := map[string][]byte{
		"/addons/" + addonID:                              readFixture(b, "addon.json"),
		"/apps/" + appID + "/pipeline-couplings":          readFixture(b, "coupling_object.json"),
		"/pipelines/7e7e7e7e-0000-4000-8000-000000000007": readFixture(b, "pipeline.json"),
	}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Request-Id", "bench")
		w.Header().Set("RateLimit-Remaining", "4499")
		body, ok := bodies[r.URL.Path]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
		}
		_, _ = w.Write(body)
	}))
}

// handGet is the least a caller could write by hand: a GET with the same
// headers, decoded by encoding/json.
func handGet(ctx context.Context, b *testing.B, hc *http.Client, url string, out any) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Accept", acceptHeader)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := hc.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(out)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		b.Fatal(err, resp.StatusCode)
	}
}

// BenchmarkGetAddon compares GetAddon with the least a caller could write by
// hand, a GET with the same headers decoded by encoding/json into the same
// type, against the same local server in the same run. Compare the two with
// benchstat or by ratio: absolute figures on a shared machine mean little.
func BenchmarkGetAddon(b *testing.B) {
	benchAgainstHand(b, func(ctx context.Context, hc *http.Client, base string) {
		var a Addon
		handGet(ctx, b, hc, base+"/addons/"+addonID, &a)
	}, func(ctx context.Context, c *Client) error {
		_, err := c.GetAddon(ctx, addonID)
		return err
	})
}

// BenchmarkResolvePipeline compares ResolvePipeline with the same three
// lookups written by hand, as BenchmarkGetAddon does for one.
func BenchmarkResolvePipeline(b *testing.B) {
	benchAgainstHand(b, func(ctx context.Context, hc *http.Client, base string) {
		var (
			a  Addon
			pc PipelineCoupling
			p  Pipeline
		)
		handGet(ctx, b, hc, base+"/addons/"+addonID, &a)
		handGet(ctx, b, hc, base+"/apps/"+a.App.ID.String()+"/pipeline-couplings", &pc)
		handGet(ctx, b, hc, base+"/pipelines/"+pc.Pipeline.ID.String(), &p)
		if p.Name != "example" {
			b.Fatal(p.Name)
		}
	}, func(ctx context.Context, c *Client) error {
		r, err := c.ResolvePipeline(ctx, addonID)
		if err == nil && r.Pipeline.Name != "example" {
			err = fmt.Errorf("pipeline %q", r.Pipeline.Name)
		}
		return err
	})
}

// benchAgainstHand runs the hand-written baseline and the SDK's call as two
// sub-benchmarks against one fixture server.
func benchAgainstHand(b *testing.B, hand func(context.Context, *http.Client, string),
	sdk func(context.Context, *Client) error) {
	srv := fixtureServer(b)
	defer srv.Close()
	ctx := context.Background()
	b.Run("baseline", func(b *testing.B) {
		hc := srv.Client()
		b.ReportAllocs()
		for b.Loop() {
			hand(ctx, hc, srv.URL)
		}
	})
	b.Run("client", func(b *testing.B) {
		c, err := NewClient(WithBaseURL(srv.URL), WithToken(testToken), WithHTTPClient(srv.Client()))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := sdk(ctx, c); err != nil {
				b.Fatal(fmt.Sprint(err))
			}
		}
	})
}
