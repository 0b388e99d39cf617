package sgid

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// TestErrorsKeepTheirCause: an error of a call to sgID is an ErrProvider
// and still carries what caused it, for errors.Is and errors.As: the
// caller's cancellation, or the JSON error of an answer that is not JSON.
func TestErrorsKeepTheirCause(t *testing.T) {
	t.Run("canceled", func(t *testing.T) {
		_, c := newPair(t, sgidtest.Options{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := c.CheckDiscovery(ctx, time.Minute)
		if !errors.Is(err, ErrProvider) || !errors.Is(err, context.Canceled) {
			t.Errorf("CheckDiscovery with a canceled context: %v, want ErrProvider wrapping context.Canceled", err)
		}
	})
	t.Run("not JSON", func(t *testing.T) {
		_, c := newPair(t, sgidtest.Options{})
		c.httpClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("x")), Request: r}, nil
		})}
		err := c.CheckDiscovery(context.Background(), time.Minute)
		var syntax *json.SyntaxError
		if !errors.Is(err, ErrProvider) || !errors.As(err, &syntax) {
			t.Errorf("CheckDiscovery of an answer that is not JSON: %v, want ErrProvider wrapping a *json.SyntaxError", err)
		}
	})
}
