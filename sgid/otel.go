package sgid

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tracerName names this package's spans' instrumentation scope.
const tracerName = "github.com/caddy-sgid/caddy-sgid/sgid"

// Span attributes of a back-channel call. They hold only the HTTP status
// and the outcome, never a code, a token, a sub, a URL or personal data.
const (
	attrStatusCode = "http.response.status_code"
	attrOutcome    = "sgid.outcome"
)

// spanStatus is the description of a failed call's span, by outcome: fixed
// text, so that nothing from the request or the answer reaches a trace.
var spanStatus = map[string]string{
	OutcomeNetworkError: "no answer from sgID",
	OutcomeHTTPError:    "sgID answered with an error status",
	OutcomeBadAnswer:    "sgID's answer is not the expected JSON",
}

// startSpan starts the span of a call to endpoint as a child of the span
// in ctx, using that span's tracer provider: the program's own tracing set
// up (Caddy's tracing directive puts the request's span in the request
// context), not a global one. Without a recording span in ctx it returns
// ctx and a nil span and costs nothing more.
func startSpan(ctx context.Context, endpoint string) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, nil
	}
	return parent.TracerProvider().Tracer(tracerName).Start(ctx, "sgid."+endpoint, trace.WithSpanKind(trace.SpanKindClient))
}

// endSpan records the call's HTTP status (0 when there was no answer) and
// outcome on span, if any, and ends it.
func endSpan(span trace.Span, status int, outcome string) {
	if span == nil {
		return
	}
	if status != 0 {
		span.SetAttributes(attribute.Int(attrStatusCode, status))
	}
	span.SetAttributes(attribute.String(attrOutcome, outcome))
	if outcome != OutcomeOK {
		span.SetStatus(codes.Error, spanStatus[outcome])
	}
	span.End()
}
