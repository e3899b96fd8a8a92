package herokupartner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Reading answers: success bodies into the caller's value, error bodies
// into an APIError.

// closeBody drains a little of what is left so the connection can be
// reused, then closes the body.
func closeBody(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	_ = resp.Body.Close()
}

// bodyReader bounds what a success body may make us read and remembers a
// read error: the JSON decoder reports a body cut off in transit and a
// complete body that ends mid-value alike (io.ErrUnexpectedEOF), and only
// the first is worth retrying.
type bodyReader struct {
	r   io.Reader
	n   int64
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.r.Read(p)
	b.n -= int64(n)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// bodyBufs holds buffers for success bodies; one is kept only up to
// maxPooledBody, so a rare huge answer does not stay in memory.
var bodyBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBody = 64 << 10

// decodeBody decodes a success answer into out; broken says the body was
// cut off in transit (a connection error) rather than malformed.
//
// The body is read whole (as draining it for the connection's reuse did
// anyway), then decoded directly when it is one of the answers a
// resolution reads (see decodeKnown), else, or when the direct decoder
// gives up, by encoding/json: the first JSON value counts, what follows it
// is ignored.
func decodeBody(resp *http.Response, r request, out any) (broken bool, err error) {
	if out == nil {
		closeBody(resp)
		return false, nil
	}
	br := &bodyReader{r: resp.Body, n: maxSuccessBody + 1}
	defer func() { _ = resp.Body.Close() }()
	buf := bodyBufs.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledBody {
			buf.Reset()
			bodyBufs.Put(buf)
		}
	}()
	buf.Reset()
	// A read error is kept in br.err; what was read before it may still
	// hold a complete value.
	_, _ = buf.ReadFrom(br)
	data := buf.Bytes()
	if decodeKnown(data, out) {
		return false, nil
	}
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(out); err != nil {
		what := "decoding " + strconv.Itoa(resp.StatusCode) + " answer"
		if id := resp.Header.Get("Request-Id"); id != "" {
			what += " [request id " + id + "]"
		}
		switch {
		case br.err != nil:
			what, err = what+": body broken in transit", br.err
		case br.n <= 0:
			err = fmt.Errorf("body larger than %d bytes", maxSuccessBody)
		}
		return br.err != nil, newCallError(r.method, r.path, what, err)
	}
	return false, nil
}

func readAPIError(resp *http.Response, r request, attempts int) *APIError {
	defer closeBody(resp)
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return newAPIError(r.method, r.path, attempts, resp.StatusCode, resp.Header, raw)
}

// newAPIError builds the error for a non-2xx answer from its status, header
// and (bounded) body: Heroku's {"id","message","url"} when the body is
// that, else an excerpt. It is the one decoding of Heroku's error bodies,
// for the API and the token endpoint alike; secrets lists values to scrub
// from whatever of the body the error keeps.
func newAPIError(method, path string, attempts, status int, header http.Header, raw []byte, secrets ...string) *APIError {
	e := &APIError{
		StatusCode: status,
		RequestID:  header.Get("Request-Id"),
		Method:     method,
		Path:       path,
		Attempts:   attempts,
		Header:     header,
	}
	var body struct {
		ID      string `json:"id"`
		Message string `json:"message"`
		URL     string `json:"url"`
	}
	if err := json.Unmarshal(raw, &body); err == nil && (body.ID != "" || body.Message != "") {
		e.ID, e.Message, e.URL = scrub(body.ID, secrets...), scrub(body.Message, secrets...), scrub(body.URL, secrets...)
		return e
	}
	// Scrubbing before cutting the excerpt, so a secret cut in half cannot
	// slip through.
	e.Body = excerpt([]byte(scrub(string(raw), secrets...)))
	return e
}

// excerpt keeps the start of a body as printable text.
func excerpt(raw []byte) string {
	s := strings.ToValidUTF8(string(raw[:min(len(raw), excerptLen)]), "")
	s = strings.Join(strings.Fields(s), " ")
	if len(raw) > excerptLen {
		s += "…"
	}
	return s
}
