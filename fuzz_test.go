package herokupartner

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"
)

// The decoders read what a server sends; whatever that is, they must return
// an error rather than panic.

func FuzzDecodeAddon(f *testing.F) {
	f.Add(readFixture(f, "addon.json"))
	f.Add(readFixture(f, "addon_article.json"))
	f.Add([]byte(`{"actions":{"id":"01234567-89ab-cdef-0123-456789abcdef"},"billed_price":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var a Addon
		_ = json.Unmarshal(data, &a)
	})
}

func FuzzDecodeCouplings(f *testing.F) {
	f.Add(readFixture(f, "coupling_object.json"))
	f.Add(readFixture(f, "coupling_array.json"))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b couplingsBody
		if err := json.Unmarshal(data, &b); err == nil && b.list == nil {
			t.Fatalf("decoded %q into a nil list", data)
		}
	})
}

func FuzzDecodePipeline(f *testing.F) {
	f.Add(readFixture(f, "pipeline.json"))
	f.Add(readFixture(f, "pipeline_no_owner.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Pipeline
		_ = json.Unmarshal(data, &p)
	})
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{addonID, strings.ToUpper(addonID), "urn:uuid:" + addonID, "{" + addonID + "}", "", "../x", "a/b", "%2e%2e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseID("id", s)
		if err != nil {
			if got != "" {
				t.Fatalf("an error came with a value")
			}
			return
		}
		// Whatever was accepted reaches the path only in canonical form.
		if _, perr := uuid.Parse(got); perr != nil || len(got) != 36 || got != strings.ToLower(got) {
			t.Fatalf("parseID(%q) = %q, not canonical", s, got)
		}
	})
}

func FuzzReadAPIError(f *testing.F) {
	f.Add(500, readFixture(f, "error_not_found.json"))
	f.Add(502, []byte("<html>Bad Gateway</html>"))
	f.Add(404, []byte{})
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		resp := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body))}
		e := readAPIError(resp, request{method: "GET", path: "/x"}, 1)
		if len(e.Body) > excerptLen+len("…") || !utf8.ValidString(e.Body) {
			t.Fatalf("excerpt not bounded or not text: %q", e.Body)
		}
		_ = e.Error()
	})
}
