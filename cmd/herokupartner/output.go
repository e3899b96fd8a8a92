package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

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

type jsonSummary struct {
	Total      int `json:"total"`
	InPipeline int `json:"in_pipeline"`
	NoPipeline int `json:"no_pipeline"`
	Failed     int `json:"failed"`
}

type jsonDocument struct {
	Resources []jsonResource `json:"resources"`
	Summary   jsonSummary    `json:"summary"`
}

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

func writeJSON(w io.Writer, results []hp.BatchResult) error {
	doc := jsonDocument{Resources: make([]jsonResource, 0, len(results))}
	for _, r := range results {
		jr := toJSON(r)
		doc.Resources = append(doc.Resources, jr)
		switch jr.Status {
		case statusOK:
			doc.Summary.InPipeline++
		case statusNoPipeline:
			doc.Summary.NoPipeline++
		default:
			doc.Summary.Failed++
		}
	}
	doc.Summary.Total = len(results)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func writeJSONL(w io.Writer, results []hp.BatchResult) error {
	enc := json.NewEncoder(w)
	for _, r := range results {
		if err := enc.Encode(toJSON(r)); err != nil {
			return err
		}
	}
	return nil
}

func writeTable(w io.Writer, results []hp.BatchResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RESOURCE\tSTATUS\tAPP\tPIPELINE\tSTAGE")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		// A name never holds a tab or newline, but the table must not
		// break if a server sends one.
		return strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' {
				return ' '
			}
			return r
		}, s)
	}
	for _, r := range results {
		jr := toJSON(r)
		app, pipeline := "", ""
		if jr.App != nil {
			app = cmpOr(jr.App.Name, jr.App.ID)
		}
		if jr.Pipeline != nil {
			pipeline = cmpOr(jr.Pipeline.Name, jr.Pipeline.ID)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", dash(jr.ResourceUUID), jr.Status, dash(app), dash(pipeline), dash(jr.Stage))
	}
	return tw.Flush()
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
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

// isTerminal reports whether w is a character device. The standard
// library cannot tell a terminal from other character devices such as
// /dev/null, but a progress bar sent there is harmless.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressBar draws "[#####.....]  50/100" on one line, redrawn in place.
type progressBar struct {
	w       io.Writer
	shown   int // last percentage drawn, to redraw only on change
	drawn   bool
	lastLen int
}

const barWidth = 30

func (p *progressBar) update(done, total int) {
	pct := done * 100 / total
	if p.drawn && pct == p.shown && done != total {
		return
	}
	p.shown, p.drawn = pct, true
	filled := done * barWidth / total
	line := fmt.Sprintf("[%s%s] %*d/%d", strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled), len(fmt.Sprint(total)), done, total)
	p.lastLen = len(line)
	fmt.Fprint(p.w, "\r"+line)
}

// clear erases the bar so that what follows starts on a clean line.
func (p *progressBar) clear() {
	if p.drawn {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.lastLen))
	}
}
