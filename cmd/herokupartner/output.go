package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	hp "github.com/addonkit/herokupartner"
)

// Status values in every output mode.
const (
	statusOK         = "ok"
	statusNoPipeline = "no_pipeline"
	statusFailed     = "failed"
)

// jsonRef is an id and name in the JSON output.
type jsonRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// jsonError describes a failure in the JSON output.
type jsonError struct {
	Message string `json:"message"`
	// Step is "add-on", "couplings" or "pipeline"; "" when nothing was sent.
	Step string `json:"step"`
	// Status is the HTTP status, 0 when there was no answer.
	Status int `json:"status"`
	// HerokuID is Heroku's error id, such as "unauthorized".
	HerokuID  string `json:"heroku_id"`
	RequestID string `json:"request_id"`
}

// jsonResource is one resource in --json and --jsonl output. Every field
// is always present (null or "" when it does not apply), so that scripts
// can rely on the shape.
type jsonResource struct {
	ResourceUUID string     `json:"resource_uuid"`
	Status       string     `json:"status"`
	Addon        *jsonRef   `json:"addon"`
	App          *jsonRef   `json:"app"`
	Pipeline     *jsonRef   `json:"pipeline"`
	Stage        string     `json:"stage"`
	Error        *jsonError `json:"error"`
}

// jsonSummary counts the results by status.
type jsonSummary struct {
	Total      int `json:"total"`
	InPipeline int `json:"in_pipeline"`
	NoPipeline int `json:"no_pipeline"`
	Failed     int `json:"failed"`
}

// jsonDocument is the shape of the --json output, which jsonWriter
// streams: Resources, then Summary.
type jsonDocument struct {
	Resources []jsonResource `json:"resources"`
	Summary   jsonSummary    `json:"summary"`
}

// toJSON describes one result for every output mode.
func toJSON(r hp.BatchResult) jsonResource {
	out := jsonResource{ResourceUUID: r.ResourceUUID}
	if r.Err != nil || r.Resolution == nil {
		out.Status = statusFailed
		out.Error = &jsonError{Message: "no resolution"}
		if r.Err != nil {
			out.Error.Message = r.Err.Error()
		}
		var re *hp.ResolveError
		if errors.As(r.Err, &re) {
			out.Error.Step = re.Step
		}
		var apiErr *hp.APIError
		if errors.As(r.Err, &apiErr) {
			out.Error.Status = apiErr.StatusCode
			out.Error.HerokuID = apiErr.ID
			out.Error.RequestID = apiErr.RequestID
		}
		return out
	}
	res := r.Resolution
	if res.Addon != nil {
		out.Addon = &jsonRef{ID: res.Addon.ID.String(), Name: res.Addon.Name}
	}
	out.App = &jsonRef{ID: res.App.ID.String(), Name: res.App.Name}
	out.Status = statusNoPipeline
	if res.InPipeline() {
		out.Status = statusOK
		out.Pipeline = &jsonRef{ID: res.Coupling.Pipeline.ID.String(), Name: res.Coupling.Pipeline.Name}
		if res.Pipeline != nil {
			out.Pipeline.Name = res.Pipeline.Name
		}
		out.Stage = string(res.Stage)
	}
	return out
}

// summary counts the results by status.
type summary = jsonSummary

func (s *summary) add(status string) {
	s.Total++
	switch status {
	case statusOK:
		s.InPipeline++
	case statusNoPipeline:
		s.NoPipeline++
	default:
		s.Failed++
	}
}

// resultWriter prints results as they stream in, one window at a time,
// in input order.
type resultWriter interface {
	window(rs []hp.BatchResult) error
	finish(s summary) error
}

// marshalSafe is json.Marshal(Indent) made safe for terminals.
func marshalSafe(v any, prefix, indent string) ([]byte, error) {
	var b []byte
	var err error
	if indent == "" {
		b, err = json.Marshal(v)
	} else {
		b, err = json.MarshalIndent(v, prefix, indent)
	}
	return jsonSafe(b), err
}

// jsonlWriter prints one JSON object per resource and line.
type jsonlWriter struct{ w io.Writer }

func (j jsonlWriter) window(rs []hp.BatchResult) error {
	for _, r := range rs {
		b, err := marshalSafe(toJSON(r), "", "")
		if err != nil {
			return err
		}
		if _, err := j.w.Write(append(b, '\n')); err != nil {
			return err
		}
	}
	return nil
}

func (jsonlWriter) finish(summary) error { return nil }

// jsonWriter prints one document, {"resources": [...], "summary": {...}},
// writing each resource as it comes: the summary, known only at the end,
// follows the array so that nothing need be held.
type jsonWriter struct {
	w io.Writer
	n int
}

func (j *jsonWriter) window(rs []hp.BatchResult) error {
	for _, r := range rs {
		b, err := marshalSafe(toJSON(r), "    ", "  ")
		if err != nil {
			return err
		}
		sep := ",\n    "
		if j.n == 0 {
			sep = "{\n  \"resources\": [\n    "
		}
		j.n++
		if _, err := io.WriteString(j.w, sep); err != nil {
			return err
		}
		if _, err := j.w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

func (j *jsonWriter) finish(s summary) error {
	head := "\n  ]"
	if j.n == 0 {
		head = "{\n  \"resources\": []"
	}
	b, err := marshalSafe(s, "  ", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(j.w, "%s,\n  \"summary\": %s\n}\n", head, b)
	return err
}

// tableWriter prints aligned columns without holding the whole table:
// column widths are those of the rows seen so far, so they settle in the
// first window and only grow after it.
type tableWriter struct {
	w      io.Writer
	widths []int
	header bool
}

var tableHeader = []string{"RESOURCE", "STATUS", "APP", "PIPELINE", "STAGE"}

func (t *tableWriter) window(rs []hp.BatchResult) error {
	rows := make([][]string, 0, len(rs)+1)
	if !t.header {
		t.header = true
		rows = append(rows, tableHeader)
	}
	for _, r := range rs {
		jr := toJSON(r)
		app, pipeline := "", ""
		if jr.App != nil {
			app = cmp.Or(jr.App.Name, jr.App.ID)
		}
		if jr.Pipeline != nil {
			pipeline = cmp.Or(jr.Pipeline.Name, jr.Pipeline.ID)
		}
		rows = append(rows, []string{cell(jr.ResourceUUID), jr.Status, cell(app), cell(pipeline), cell(jr.Stage)})
	}
	return writeRows(t.w, &t.widths, rows)
}

func (t *tableWriter) finish(summary) error {
	if !t.header {
		return t.window(nil)
	}
	return nil
}

// writeRows prints rows padded to widths, widening them first to fit.
func writeRows(w io.Writer, widths *[]int, rows [][]string) error {
	for _, row := range rows {
		for i, c := range row {
			if i >= len(*widths) {
				*widths = append(*widths, 0)
			}
			(*widths)[i] = max((*widths)[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, row := range rows {
		for i, c := range row {
			b.WriteString(c)
			if i < len(row)-1 {
				b.WriteString(strings.Repeat(" ", (*widths)[i]-utf8.RuneCountInString(c)+2))
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cell is a server-provided string made safe for a table cell; "-" when
// empty.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return clean(s)
}

// describeError is the standard-error line for a failure: the error, which
// for an answer from the API names its request id, or a note that no
// answer came (so there is no request id to quote).
func describeError(err error) string {
	var re *hp.ResolveError
	if errors.As(err, &re) {
		return re.Step + " step: " + describeError(re.Err)
	}
	var apiErr *hp.APIError
	if errors.As(err, &apiErr) {
		if apiErr.RequestID == "" {
			return err.Error() + " [no request id in the answer]"
		}
		return err.Error()
	}
	return err.Error() + " [no answer, so no request id]"
}
