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

// errorFor is Heroku's error body for a status the fake was told to answer.
func errorFor(status int) apiError {
	e := apiError{Status: status}
	switch status {
	case http.StatusBadRequest:
		e.ID, e.Message = "bad_request", "Invalid request."
	case http.StatusUnauthorized:
		return errUnauthorized
	case http.StatusForbidden:
		e.ID, e.Message = "forbidden", "You do not have access to this resource."
	case http.StatusNotFound:
		e.ID, e.Message = "not_found", "Couldn't find that resource."
	case http.StatusConflict:
		e.ID, e.Message = "conflict", "The request conflicts with the resource's current state."
	case http.StatusUnprocessableEntity:
		e.ID, e.Message = "invalid_params", "The parameters are invalid."
	case http.StatusTooManyRequests:
		e.ID, e.Message = "rate_limit", "Your account reached the API rate limit. Please wait a few minutes before making new requests."
	case http.StatusInternalServerError:
		e.ID, e.Message = "internal_server_error", "Internal server error. Heroku has been notified."
	case http.StatusBadGateway:
		e.ID, e.Message = "bad_gateway", "The API could not reach a backend service."
	case http.StatusServiceUnavailable:
		e.ID, e.Message = "unavailable", "Could not complete the action. Please try again later."
	case http.StatusGatewayTimeout:
		e.ID, e.Message = "gateway_timeout", "The API timed out waiting for a backend service."
	default:
		e.ID = strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_")
		e.Message = http.StatusText(status) + "."
		if e.ID == "" {
			e.ID, e.Message = "error", "Error."
		}
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
