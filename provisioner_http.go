package herokupartner

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/google/uuid"
)

// maxPlanChangeSize bounds a plan change body; real ones are tiny.
const maxPlanChangeSize = 16 << 10

// ServeHTTP serves Heroku's Add-on Partner API calls under cfg.Path after
// checking the Basic credentials in constant time (401 otherwise):
//
//	POST   {Path}         provision: 202 {"id","message"} once the job is recorded, 503 if it cannot be
//	DELETE {Path}/{uuid}  deprovision: 200 {"id","message"}, idempotent
//	PUT    {Path}/{uuid}  plan change: 200 {"message","config"}
//	GET    {Path}/{uuid}  the job's JobStatus, for operators
//
// Error answers carry {"message"} and never echo the request.
func (p *Provisioner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="heroku"`)
		writeJSONAnswer(w, http.StatusUnauthorized, ProvisionResponse{Message: "invalid credentials"})
		return
	}
	base := strings.TrimRight(p.cfg.Path, "/")
	rest, ok := strings.CutPrefix(r.URL.Path, base)
	switch {
	case !ok:
		writeJSONAnswer(w, http.StatusNotFound, ProvisionResponse{Message: "not found"})
	case rest == "" || rest == "/":
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeJSONAnswer(w, http.StatusMethodNotAllowed, ProvisionResponse{Message: "method not allowed"})
			return
		}
		p.serveProvision(w, r)
	default:
		id, err := uuid.Parse(strings.TrimPrefix(rest, "/"))
		if err != nil || id == uuid.Nil {
			writeJSONAnswer(w, http.StatusNotFound, ProvisionResponse{Message: "no such resource"})
			return
		}
		switch r.Method {
		case http.MethodDelete:
			p.serveDeprovision(w, r, id)
		case http.MethodPut:
			p.servePlanChange(w, r, id)
		case http.MethodGet:
			p.serveStatus(w, r, id)
		default:
			w.Header().Set("Allow", "DELETE, PUT, GET")
			writeJSONAnswer(w, http.StatusMethodNotAllowed, ProvisionResponse{Message: "method not allowed"})
		}
	}
}

// authorized compares hashes of the credentials, so that neither the
// comparison's time nor a length difference says how much matched.
func (p *Provisioner) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if p.cfg.Username == "" || p.cfg.Password.IsZero() {
		return false
	}
	gotU, wantU := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(p.cfg.Username))
	gotP, wantP := sha256.Sum256([]byte(pass)), sha256.Sum256([]byte(p.cfg.Password.Reveal()))
	userOK := subtle.ConstantTimeCompare(gotU[:], wantU[:])
	passOK := subtle.ConstantTimeCompare(gotP[:], wantP[:])
	return ok && userOK&passOK == 1
}

func (p *Provisioner) serveProvision(w http.ResponseWriter, r *http.Request) {
	req, err := ParseProvisionRequest(r.Body)
	if err != nil {
		writeJSONAnswer(w, http.StatusBadRequest, ProvisionResponse{Message: invalidRequestMessage(err)})
		return
	}
	st, err := p.Provision(r.Context(), req)
	switch {
	case errors.Is(err, ErrInvalidProvisionRequest):
		writeJSONAnswer(w, http.StatusUnprocessableEntity, ProvisionResponse{ID: req.UUID.String(), Message: err.Error()})
	case errors.Is(err, ErrDeprovisioned):
		writeJSONAnswer(w, http.StatusGone, ProvisionResponse{ID: req.UUID.String(), Message: "this add-on was deprovisioned"})
	case err != nil:
		p.cfg.Logger.LogAttrs(r.Context(), slog.LevelError, "herokupartner provisioning request not recorded",
			slog.String("resource", req.UUID.String()), slog.String("error", err.Error()))
		writeJSONAnswer(w, http.StatusServiceUnavailable, ProvisionResponse{Message: "cannot accept the provisioning now; try again"})
	case st.State == JobFailed:
		writeJSONAnswer(w, http.StatusUnprocessableEntity, ProvisionResponse{ID: req.UUID.String(), Message: "provisioning this add-on failed"})
	default:
		msg := "Provisioning " + req.Name + "; it will be ready in a few moments."
		if st.State == JobProvisioned {
			msg = "Provisioned."
		}
		writeJSONAnswer(w, http.StatusAccepted, ProvisionResponse{ID: req.UUID.String(), Message: msg})
	}
}

func (p *Provisioner) serveDeprovision(w http.ResponseWriter, r *http.Request, id uuid.UUID) {
	if err := p.Deprovision(r.Context(), id); err != nil {
		p.cfg.Logger.LogAttrs(r.Context(), slog.LevelError, "herokupartner deprovisioning failed",
			slog.String("resource", id.String()), slog.String("error", err.Error()))
		writeJSONAnswer(w, http.StatusServiceUnavailable, ProvisionResponse{Message: "cannot deprovision now; try again"})
		return
	}
	writeJSONAnswer(w, http.StatusOK, ProvisionResponse{ID: id.String(), Message: "Deprovisioned."})
}

func (p *Provisioner) servePlanChange(w http.ResponseWriter, r *http.Request, id uuid.UUID) {
	var body struct {
		Plan string `json:"plan"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxPlanChangeSize)).Decode(&body); err != nil || strings.TrimSpace(body.Plan) == "" {
		writeJSONAnswer(w, http.StatusBadRequest, ProvisionResponse{Message: "plan: missing, or the body is not a JSON object"})
		return
	}
	job, err := p.cfg.Jobs.LoadJob(r.Context(), id)
	switch {
	case errors.Is(err, ErrJobNotFound):
		writeJSONAnswer(w, http.StatusNotFound, ProvisionResponse{Message: "no such resource"})
		return
	case err != nil:
		writeJSONAnswer(w, http.StatusServiceUnavailable, ProvisionResponse{Message: "cannot change the plan now; try again"})
		return
	case job.State == JobDeprovisioned:
		writeJSONAnswer(w, http.StatusGone, ProvisionResponse{Message: "this add-on was deprovisioned"})
		return
	}
	out := ProvisionResult{Message: "Plan changed."}
	if p.cfg.ChangePlan != nil {
		if out, err = p.cfg.ChangePlan(r.Context(), id, body.Plan); err != nil {
			p.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "herokupartner plan change refused",
				slog.String("resource", id.String()), slog.String("error", err.Error()))
			writeJSONAnswer(w, http.StatusUnprocessableEntity, ProvisionResponse{Message: "cannot change to this plan"})
			return
		}
	}
	writeJSONAnswer(w, http.StatusOK, ProvisionResponse{ID: id.String(), Message: out.Message, Config: out.Config})
}

func (p *Provisioner) serveStatus(w http.ResponseWriter, r *http.Request, id uuid.UUID) {
	st, err := p.Status(r.Context(), id)
	switch {
	case errors.Is(err, ErrJobNotFound):
		writeJSONAnswer(w, http.StatusNotFound, ProvisionResponse{Message: "no such resource"})
	case err != nil:
		writeJSONAnswer(w, http.StatusServiceUnavailable, ProvisionResponse{Message: "cannot read the job now"})
	default:
		writeJSONAnswer(w, http.StatusOK, st)
	}
}

// requestFields are the fields ParseProvisionRequest's errors name.
var requestFields = []string{"uuid", "name", "plan", "region", "callback_url", "log_input_url", "log_drain_token",
	"heroku_id", "options", "oauth_grant.code", "oauth_grant.type", "oauth_grant.expires_at", "oauth_grant"}

// invalidRequestMessage names the field a parse error is about, and only
// that: the parser's own message may quote the value, which could be a
// credential sent in the wrong field.
func invalidRequestMessage(err error) string {
	rest, _ := strings.CutPrefix(err.Error(), ErrInvalidProvisionRequest.Error()+": ")
	for _, f := range requestFields {
		if strings.HasPrefix(rest, f+":") {
			return "invalid provisioning request: field " + f
		}
	}
	return "invalid provisioning request: the body is not a JSON object of the expected form"
}

func writeJSONAnswer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
