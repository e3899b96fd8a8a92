module github.com/addonkit/herokupartner

go 1.26.0

require (
	github.com/google/uuid v1.6.0
	golang.org/x/oauth2 v0.38.0
)
