package herokupartnertest

import (
	"fmt"
	"net/http"
	"strings"
)

// apiError is Heroku's error body.
type apiError struct {
	Status   int    `json:"-"`
	ID       string `json:"id"`
	Message  string `json:"message"`
	Resource string `json:"resource,omitempty"`
}

func (e apiError) answer() (int, any) { return e.Status, e }

func badRequest(msg string) (int, any) {
	return apiError{Status: http.StatusBadRequest, ID: "bad_request", Message: msg}.answer()
}

var errUnauthorized = apiError{Status: http.StatusUnauthorized, ID: "unauthorized", Message: "Invalid credentials provided."}

func notFound(resource, what string) (int, any) {
	return apiError{Status: http.StatusNotFound, ID: "not_found", Message: "Couldn't find that " + what + ".", Resource: resource}.answer()
}

func forbidden(what, ident string) (int, any) {
	return apiError{Status: http.StatusForbidden, ID: "forbidden",
		Message: fmt.Sprintf("You do not have access to the %s %s.", what, ident)}.answer()
}

// herokuErrors are Heroku's error ids and messages by status, for the
// statuses a fault is most often told to answer.
var herokuErrors = map[int]apiError{
	http.StatusBadRequest:          {ID: "bad_request", Message: "Invalid request."},
	http.StatusUnauthorized:        errUnauthorized,
	http.StatusForbidden:           {ID: "forbidden", Message: "You do not have access to this resource."},
	http.StatusNotFound:            {ID: "not_found", Message: "Couldn't find that resource."},
	http.StatusConflict:            {ID: "conflict", Message: "The request conflicts with the resource's current state."},
	http.StatusUnprocessableEntity: {ID: "invalid_params", Message: "The parameters are invalid."},
	http.StatusTooManyRequests:     {ID: "rate_limit", Message: "Your account reached the API rate limit. Please wait a few minutes before making new requests."},
	http.StatusInternalServerError: {ID: "internal_server_error", Message: "Internal server error. Heroku has been notified."},
	http.StatusBadGateway:          {ID: "bad_gateway", Message: "The API could not reach a backend service."},
	http.StatusServiceUnavailable:  {ID: "unavailable", Message: "Could not complete the action. Please try again later."},
	http.StatusGatewayTimeout:      {ID: "gateway_timeout", Message: "The API timed out waiting for a backend service."},
}

// errorFor is Heroku's error body for a status the fake was told to answer;
// for a status Heroku's docs show no body for, one in the same style.
func errorFor(status int) apiError {
	if e, ok := herokuErrors[status]; ok {
		e.Status = status
		return e
	}
	e := apiError{Status: status, ID: "error", Message: "Error."}
	if text := http.StatusText(status); text != "" {
		e.ID = strings.ReplaceAll(strings.ToLower(text), " ", "_")
		e.Message = text + "."
	}
	return e
}

const htmlErrorPage = `<!DOCTYPE html>
<html>
<head><title>%d %s</title></head>
<body>
<h1>%d %s</h1>
<p>The server is temporarily unable to service your request. Please try again later.</p>
</body>
</html>
`
