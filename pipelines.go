package herokupartner

import (
	"context"
	"net/http"
)

// GetPipeline returns the pipeline whose id is pipelineID.
func (c *Client) GetPipeline(ctx context.Context, pipelineID string) (*Pipeline, error) {
	id, err := parseID("pipelineID", pipelineID)
	if err != nil {
		return nil, err
	}
	var p Pipeline
	if err := c.do(ctx, http.MethodGet, "/pipelines/"+id, nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}
