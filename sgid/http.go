package sgid

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Limits on what is read from sgID. Real answers are a few kilobytes; the
// limits stop a misbehaving or hostile peer from filling memory.
const (
	maxBodySize  = 1 << 20
	maxErrorBody = 256
)

// Outcomes of a request to sgID, as passed to Config.Observe. They are few
// and fixed, so that a metric labelled with them stays small.
const (
	// OutcomeOK: a 200 answer with the expected JSON.
	OutcomeOK = "ok"
	// OutcomeNetworkError: no answer (refused, reset, timed out, cancelled).
	OutcomeNetworkError = "network_error"
	// OutcomeHTTPError: an answer with a status other than 200.
	OutcomeHTTPError = "http_error"
	// OutcomeBadAnswer: a 200 answer that is too large, cut off or not the
	// expected JSON.
	OutcomeBadAnswer = "bad_answer"
)

// doJSON sends req and decodes a 200 JSON answer into dst. Any other status
// is a *ProviderError with the start of the body. The observer, if any,
// learns the endpoint, the outcome and the time until the answer was read.
// When the request's context carries a recording trace span, the call is
// also a child span of it (see startSpan).
func (c *Client) doJSON(req *http.Request, endpoint string, dst any) error {
	start := time.Now()
	callCtx := req.Context()
	spanCtx, span := startSpan(callCtx, endpoint)
	if span != nil {
		req = req.WithContext(spanCtx)
	}
	outcome, status, err := c.roundTripJSON(req, endpoint, dst)
	endSpan(span, status, outcome)
	if c.observe != nil {
		c.observe(callCtx, endpoint, outcome, time.Since(start))
	}
	return err
}

// roundTripJSON returns the outcome, the HTTP status (0 when there was no
// answer) and the error of the call.
func (c *Client) roundTripJSON(req *http.Request, endpoint string, dst any) (string, int, error) {
	resp, err := c.httpClient.Do(req)
	if err != nil {
		// The URL in a *url.Error holds no secret: tokens travel in the
		// form body or the Authorization header, never in the URL.
		return OutcomeNetworkError, 0, fmt.Errorf("%w: %s request: %w", ErrProvider, endpoint, err)
	}
	defer resp.Body.Close()
	status := resp.StatusCode
	if status != http.StatusOK {
		// Only the start of an error answer is kept, however long it is,
		// so the status is never lost to the size limit.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return OutcomeHTTPError, status, &ProviderError{Endpoint: endpoint, StatusCode: status, Body: string(body)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodySize+1))
	if err != nil {
		return OutcomeNetworkError, status, fmt.Errorf("%w: reading %s answer: %w", ErrProvider, endpoint, err)
	}
	if len(body) > maxBodySize {
		return OutcomeBadAnswer, status, fmt.Errorf("%w: %s answer is larger than %d bytes", ErrProvider, endpoint, maxBodySize)
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return OutcomeBadAnswer, status, fmt.Errorf("%w: %s answer is not the expected JSON: %w", ErrProvider, endpoint, err)
	}
	return OutcomeOK, status, nil
}
