package contract

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// maxAnswer bounds how much of an answer is read: a contract answer is a
// few hundred bytes, and a runaway body must not exhaust memory.
const maxAnswer = 1 << 20

// credentials says which Authorization a request carries.
type credentials int

const (
	rightCredentials credentials = iota
	wrongCredentials
	noCredentials
)

// answer is what the backend sent back, or why it sent nothing.
type answer struct {
	status int
	body   []byte
	took   time.Duration
	// failure says why there is no answer ("" when there is one).
	failure string
}

// send makes one request as Heroku would, bounded by the limit.
func (r *run) send(ctx context.Context, method, path string, body any, cred credentials) answer {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return answer{failure: "encoding the request: " + err.Error()} // unreachable: fixed shapes
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Limit)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, r.cfg.BaseURL+path, rd)
	if err != nil {
		return answer{failure: "building the request failed"}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/vnd.heroku-addons+json; version=3")
	req.Header.Set("User-Agent", "herokupartner-contract")
	switch cred {
	case rightCredentials:
		req.SetBasicAuth(r.cfg.AddonID, r.cfg.Password.Reveal())
	case wrongCredentials:
		req.SetBasicAuth(r.cfg.AddonID, wrongPassword())
	}
	start := time.Now()
	resp, err := r.cfg.HTTPClient.Do(req)
	if err != nil {
		return answer{took: time.Since(start), failure: transportFailure(ctx, err, r.cfg.Limit)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	a := answer{status: resp.StatusCode, body: b, took: time.Since(start)}
	if err != nil {
		a.failure = transportFailure(ctx, err, r.cfg.Limit)
	}
	return a
}

// transportFailure describes a failed exchange without the URL, which
// net/http puts in its errors and which may carry a path an operator would
// rather not see repeated.
func transportFailure(ctx context.Context, err error, limit time.Duration) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("no complete answer within %s", limit)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return "no answer: " + err.Error()
}

// wrongPassword is a fresh random password, so that no backend can accept
// it by accident.
func wrongPassword() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return "wrong-" + hex.EncodeToString(b)
}

// fields is a decoded answer body: id, message and config as Heroku reads
// them.
type fields struct {
	id      string
	hasID   bool
	message *string
	config  map[string]string
}

// decode reads a JSON object answer; problem says what is wrong with it,
// naming fields, never values.
func decode(body []byte) (f fields, problem string) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return f, fmt.Sprintf("body is not a JSON object (%d bytes)", len(body))
	}
	if v, ok := raw["id"]; ok && string(v) != "null" {
		var s string
		var n json.Number
		switch {
		case json.Unmarshal(v, &s) == nil && s != "":
			f.id, f.hasID = s, true
		case json.Unmarshal(v, &n) == nil:
			f.id, f.hasID = n.String(), true
		default:
			return f, "id is neither a non-empty string nor a number"
		}
	}
	if v, ok := raw["message"]; ok && string(v) != "null" {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return f, "message is not a string"
		}
		f.message = &s
	}
	if v, ok := raw["config"]; ok && string(v) != "null" {
		if err := json.Unmarshal(v, &f.config); err != nil {
			return f, "config is not an object of string values"
		}
		if f.config == nil {
			f.config = map[string]string{}
		}
	}
	return f, ""
}
