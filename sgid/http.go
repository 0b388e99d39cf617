package sgid

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// Limits on what is read from sgID. Real answers are a few kilobytes; the
// limits stop a misbehaving or hostile peer from filling memory.
const (
	maxBodySize  = 1 << 20
	maxErrorBody = 256
)

// doJSON sends req and decodes a 200 JSON answer into dst. Any other status
// is a *ProviderError with the start of the body.
func (c *Client) doJSON(req *http.Request, endpoint string, dst any) error {
	resp, err := c.httpClient.Do(req)
	if err != nil {
		// The URL in a *url.Error holds no secret: tokens travel in the
		// form body or the Authorization header, never in the URL.
		return fmt.Errorf("%w: %s request: %v", ErrProvider, endpoint, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Only the start of an error answer is kept, however long it is,
		// so the status is never lost to the size limit.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return &ProviderError{Endpoint: endpoint, StatusCode: resp.StatusCode, Body: string(body)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodySize+1))
	if err != nil {
		return fmt.Errorf("%w: reading %s answer: %v", ErrProvider, endpoint, err)
	}
	if len(body) > maxBodySize {
		return fmt.Errorf("%w: %s answer is larger than %d bytes", ErrProvider, endpoint, maxBodySize)
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return fmt.Errorf("%w: %s answer is not the expected JSON: %v", ErrProvider, endpoint, err)
	}
	return nil
}
