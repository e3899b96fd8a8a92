package herokupartner

import (
	"context"
	"net/http"
)

// GetAddon returns the add-on whose id is resourceUUID: the uuid of Heroku's
// provisioning request. Its App field is the app it is billed to.
func (c *Client) GetAddon(ctx context.Context, resourceUUID string) (*Addon, error) {
	id, err := parseID("resourceUUID", resourceUUID)
	if err != nil {
		return nil, err
	}
	return getJSON[Addon](ctx, c, "/addons/"+id)
}

// UpdateAddonConfig sets config vars on the add-on's app without restarting
// it (PATCH /addons/{id}/config), as an asynchronously provisioned add-on
// does before it reports itself provisioned. It returns the add-on's whole
// config as the API answers it.
func (c *Client) UpdateAddonConfig(ctx context.Context, resourceUUID string, vars []ConfigVar) ([]ConfigVar, error) {
	id, err := parseID("resourceUUID", resourceUUID)
	if err != nil {
		return nil, err
	}
	for _, v := range vars {
		if v.Name == "" {
			return nil, errEmptyConfigName
		}
	}
	body := struct {
		Config []ConfigVar `json:"config"`
	}{Config: vars}
	var out []ConfigVar
	if err := c.do(ctx, http.MethodPatch, "/addons/"+id+"/config", body, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// MarkProvisioned tells Heroku that asynchronous provisioning of the add-on
// has finished (POST /addons/{id}/actions/provision); Heroku removes an
// add-on that is not marked within 12 hours.
func (c *Client) MarkProvisioned(ctx context.Context, resourceUUID string) (*Addon, error) {
	id, err := parseID("resourceUUID", resourceUUID)
	if err != nil {
		return nil, err
	}
	var a Addon
	if err := c.do(ctx, http.MethodPost, "/addons/"+id+"/actions/provision", struct{}{}, &a); err != nil {
		return nil, err
	}
	return &a, nil
}
