package herokupartner

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/google/uuid"
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
	return c.couplingsAt(ctx, "/apps/"+id+"/pipeline-couplings")
}

// appCouplings is GetAppPipelineCouplings for an id a resolution already
// holds parsed: writing the path straight from the id spares formatting it
// into a string and parsing it back.
func (c *Client) appCouplings(ctx context.Context, appID uuid.UUID) ([]PipelineCoupling, error) {
	const prefix, suffix = "/apps/", "/pipeline-couplings"
	var b [len(prefix) + 36 + len(suffix)]byte
	copy(b[:], prefix)
	id := b[len(prefix) : len(prefix)+36]
	hex.Encode(id[0:8], appID[0:4])
	hex.Encode(id[9:13], appID[4:6])
	hex.Encode(id[14:18], appID[6:8])
	hex.Encode(id[19:23], appID[8:10])
	hex.Encode(id[24:36], appID[10:16])
	id[8], id[13], id[18], id[23] = '-', '-', '-', '-'
	copy(b[len(prefix)+36:], suffix)
	return c.couplingsAt(ctx, string(b[:]))
}

func (c *Client) couplingsAt(ctx context.Context, path string) ([]PipelineCoupling, error) {
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
		// Decoding in place spares a copy into a new one-element list.
		list := make([]PipelineCoupling, 1)
		if err := json.Unmarshal(data, &list[0]); err != nil {
			return err
		}
		b.list = list
		return nil
	}
	return fmt.Errorf("pipeline couplings: want an object or an array, got %.20q", data)
}
