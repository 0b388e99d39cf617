package sgid

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// tracedLogin runs a login whose back-channel calls are made with a
// context carrying a recording span, as Caddy's tracing directive gives
// the handler, and returns the spans recorded under it, the parent span,
// and every secret or personal value the login handled.
func tracedLogin(t *testing.T, c *Client, srv *sgidtest.Server) (spans tracetest.SpanStubs, parent trace.SpanContext, secrets []string, err error) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("test").Start(context.Background(), "request")

	code, verifier, nonce := authorize(t, c, []string{"openid", "myinfo.name"})
	secrets = []string{code, verifier, nonce, srv.ClientSecret()}
	tok, err := c.Exchange(ctx, ExchangeParams{Code: code, CodeVerifier: verifier, Nonce: nonce})
	if err == nil {
		secrets = append(secrets, tok.AccessToken, tok.IDToken, tok.Sub)
		var info *UserInfo
		info, err = c.Userinfo(ctx, tok.Sub, tok.AccessToken)
		if info != nil {
			for _, v := range info.Data {
				secrets = append(secrets, v)
			}
		}
	}
	span.End()
	for _, s := range exp.GetSpans() {
		if s.Name != "request" {
			spans = append(spans, s)
		}
	}
	return spans, span.SpanContext(), secrets, err
}

// TestBackChannelSpans: each call to sgID is a client span under the
// caller's span, named after the endpoint, with the HTTP status and the
// outcome, and no secret or personal value anywhere in it.
func TestBackChannelSpans(t *testing.T) {
	srv, c := newPair(t, sgidtest.Options{})
	spans, parent, secrets, err := tracedLogin(t, c, srv)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range spans {
		names = append(names, s.Name)
	}
	if want := []string{"sgid.token", "sgid.jwks", "sgid.userinfo"}; !slices.Equal(names, want) {
		t.Fatalf("spans %q, want %q", names, want)
	}
	for _, s := range spans {
		if s.Parent.SpanID() != parent.SpanID() || s.SpanContext.TraceID() != parent.TraceID() {
			t.Errorf("%s: parent %v, want %v", s.Name, s.Parent.SpanID(), parent.SpanID())
		}
		if s.SpanKind != trace.SpanKindClient {
			t.Errorf("%s: kind %v, want client", s.Name, s.SpanKind)
		}
		if s.InstrumentationScope.Name != "github.com/caddy-sgid/caddy-sgid/sgid" {
			t.Errorf("%s: scope %q", s.Name, s.InstrumentationScope.Name)
		}
		if got := spanAttrs(s); got["http.response.status_code"] != "200" || got["sgid.outcome"] != OutcomeOK || len(got) != 2 {
			t.Errorf("%s: attributes %v", s.Name, got)
		}
		if s.Status.Code != codes.Unset {
			t.Errorf("%s: status %v", s.Name, s.Status)
		}
	}
	checkNoSecrets(t, spans, secrets)
}

// TestBackChannelSpanFailures: a failed call's span has status Error with
// a fixed description, and the outcome.
func TestBackChannelSpanFailures(t *testing.T) {
	// One provider serves the cases with faults (each provider costs two
	// RSA key generations); the JWKS is fetched first in the jwks case, as
	// the token cases fail before the ID token is checked.
	shared, sharedClient := newPair(t, sgidtest.Options{})
	for _, tc := range []struct {
		name        string
		faults      sgidtest.Faults
		closed      bool
		span        string
		status      string // the status code attribute, "" for none
		outcome     string
		description string
	}{
		{"token 502", sgidtest.Faults{TokenStatus: 502}, false, "sgid.token", "502", OutcomeHTTPError, "sgID answered with an error status"},
		{"token not JSON", sgidtest.Faults{MalformedTokenJSON: true}, false, "sgid.token", "200", OutcomeBadAnswer, "sgID's answer is not the expected JSON"},
		{"jwks 503", sgidtest.Faults{JWKSStatus: 503}, false, "sgid.jwks", "503", OutcomeHTTPError, "sgID answered with an error status"},
		{"userinfo 500", sgidtest.Faults{UserinfoStatus: 500}, false, "sgid.userinfo", "500", OutcomeHTTPError, "sgID answered with an error status"},
		{"provider gone", sgidtest.Faults{}, true, "sgid.token", "", OutcomeNetworkError, "no answer from sgID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, c := shared, sharedClient
			if tc.closed {
				srv, c = newPair(t, sgidtest.Options{})
				c.httpClient = closingClient(srv)
			}
			srv.SetFaults(tc.faults)
			spans, _, secrets, err := tracedLogin(t, c, srv)
			if err == nil {
				t.Fatal("login succeeded")
			}
			if len(spans) == 0 {
				t.Fatal("no spans")
			}
			last := spans[len(spans)-1]
			want := map[string]string{"sgid.outcome": tc.outcome}
			if tc.status != "" {
				want["http.response.status_code"] = tc.status
			}
			if got := spanAttrs(last); last.Name != tc.span || !maps.Equal(got, want) {
				t.Errorf("last span %s %v, want %s %v", last.Name, got, tc.span, want)
			}
			if last.Status.Code != codes.Error || last.Status.Description != tc.description {
				t.Errorf("status %v, want Error %q", last.Status, tc.description)
			}
			checkNoSecrets(t, spans, secrets)
		})
	}
}

// TestNoSpansWithoutParent: a call made without a span in its context
// records none, even when the program has a global tracer provider: spans
// come from the caller's own tracing, never from a second set-up.
func TestNoSpansWithoutParent(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })
	_, c := newPair(t, sgidtest.Options{})
	if _, _, err := login(t, c, nil); err != nil {
		t.Fatal(err)
	}
	if spans := exp.GetSpans(); len(spans) != 0 {
		t.Errorf("recorded %d spans without a parent", len(spans))
	}
}

// closingClient sends requests to srv, closing srv first: the browser's
// part of the login is done by then, and the client's first call finds no
// provider.
func closingClient(srv *sgidtest.Server) *http.Client {
	var once sync.Once
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		once.Do(srv.Close)
		return srv.Client().Transport.RoundTrip(r)
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func spanAttrs(s tracetest.SpanStub) map[string]string {
	out := make(map[string]string, len(s.Attributes))
	for _, kv := range s.Attributes {
		out[string(kv.Key)] = kv.Value.Emit()
	}
	return out
}

// checkNoSecrets fails when any part of a span that an exporter sends
// holds one of secrets.
func checkNoSecrets(t *testing.T, spans tracetest.SpanStubs, secrets []string) {
	t.Helper()
	for _, s := range spans {
		texts := []string{s.Name, s.Status.Description}
		for _, kv := range s.Attributes {
			texts = append(texts, string(kv.Key), kv.Value.Emit())
		}
		for _, e := range s.Events {
			texts = append(texts, e.Name)
			for _, kv := range e.Attributes {
				texts = append(texts, kv.Value.Emit())
			}
		}
		for _, secret := range secrets {
			if len(secret) < 4 {
				continue
			}
			for _, text := range texts {
				if strings.Contains(text, secret) {
					t.Errorf("span %s carries %q", s.Name, secret)
				}
			}
		}
	}
}

// TestDiscoverySpan: CheckDiscovery's fetch is a span too.
func TestDiscoverySpan(t *testing.T) {
	_, c := newPair(t, sgidtest.Options{})
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, parent := tp.Tracer("test").Start(context.Background(), "health")
	if err := c.CheckDiscovery(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	parent.End()
	spans := exp.GetSpans()
	if len(spans) != 2 || spans[0].Name != "sgid.discovery" || spans[0].Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Fatalf("spans %+v, want sgid.discovery under health", spans)
	}
	if got := spanAttrs(spans[0]); got["http.response.status_code"] != "200" || got["sgid.outcome"] != OutcomeOK {
		t.Errorf("attributes %v", got)
	}
}
