package herokupartner

import "context"

// GetPipeline returns the pipeline whose id is pipelineID.
func (c *Client) GetPipeline(ctx context.Context, pipelineID string) (*Pipeline, error) {
	id, err := parseID("pipelineID", pipelineID)
	if err != nil {
		return nil, err
	}
	return getJSON[Pipeline](ctx, c, "/pipelines/"+id)
}
