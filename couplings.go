package herokupartner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// GetAppPipelineCouplings returns the pipeline couplings of the app whose id
// is appID: at most one, since an app sits in at most one pipeline.
//
// The official schema answers a single object and 404 when the app is in no
// pipeline; the partner pipelines article answers an array. Both are
// accepted: an empty array gives an empty slice and a 404 gives an error
// matching ErrNotFound. ResolvePipeline treats both as "no pipeline".
func (c *Client) GetAppPipelineCouplings(ctx context.Context, appID string) ([]PipelineCoupling, error) {
	id, err := parseID("appID", appID)
	if err != nil {
		return nil, err
	}
	path := "/apps/" + id + "/pipeline-couplings"
	var raw couplingsBody
	if err := c.do(ctx, http.MethodGet, path, nil, &raw); err != nil {
		return nil, err
	}
	return raw.list, nil
}

// couplingsBody decodes either shape of the couplings answer.
type couplingsBody struct{ list []PipelineCoupling }

func (b *couplingsBody) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case bytes.Equal(data, []byte("null")):
		b.list = []PipelineCoupling{}
		return nil
	case len(data) > 0 && data[0] == '[':
		list := []PipelineCoupling{}
		if err := json.Unmarshal(data, &list); err != nil {
			return err
		}
		b.list = list
		return nil
	case len(data) > 0 && data[0] == '{':
		var one PipelineCoupling
		if err := json.Unmarshal(data, &one); err != nil {
			return err
		}
		b.list = []PipelineCoupling{one}
		return nil
	}
	return fmt.Errorf("pipeline couplings: want an object or an array, got %.20q", data)
}
