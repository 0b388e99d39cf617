package mock

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// Transport returns an http.RoundTripper that hands every request to the
// provider in this process, whatever host its URL names. Relying-party code
// configured with an issuer that does not resolve (the Caddy module's mock
// uses https://mock.sgid.invalid) then reaches the provider for discovery,
// JWKS, token and userinfo without any network traffic.
func (p *Provider) Transport() http.RoundTripper { return NewTransport(p) }

// NewTransport returns an http.RoundTripper that serves every request with
// h in this process and returns h's answer as the response, as if it had
// come over the network. A wrapper around a Provider uses it to get the
// same in-process transport for itself.
//
// The request's context is honoured: a request whose context has ended is
// not served, and an answer that arrives after the context ended is
// dropped in favour of the context's error, as a network transport would
// do. h runs on the caller's goroutine, so a handler that blocks should
// watch the request's context itself.
func NewTransport(h http.Handler) http.RoundTripper { return handlerTransport{h} }

type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	// A RoundTripper must close the request body, even on errors.
	body := r.Body
	if body == nil {
		body = http.NoBody
	}
	defer body.Close()
	ctx := r.Context()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.URL == nil {
		return nil, errors.New("mock: request without a URL")
	}

	// The handler sees a server-side copy: handlers may replace the body
	// and parse the form into the request, and a RoundTripper must not
	// change the request it was given.
	sr := r.Clone(ctx)
	sr.Body = body
	if sr.Header == nil {
		sr.Header = http.Header{}
	}
	if sr.Host == "" {
		sr.Host = r.URL.Host
	}
	sr.RequestURI = r.URL.RequestURI()
	if sr.Proto == "" {
		sr.Proto, sr.ProtoMajor, sr.ProtoMinor = "HTTP/1.1", 1, 1
	}

	rec := newRecorder()
	t.h.ServeHTTP(rec, sr)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return rec.response(r), nil
}

// recorder is the http.ResponseWriter that handlerTransport serves into.
// Like a real server it freezes the header at WriteHeader, ignores
// informational and repeated status codes, and answers 200 to a handler
// that writes without calling WriteHeader.
type recorder struct {
	header http.Header // what the handler edits
	sent   http.Header // the header as it was at WriteHeader
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(code int) {
	if w.status != 0 || (code >= 100 && code < 200) {
		return
	}
	if code < 100 || code > 999 {
		// net/http panics here too; a handler that does this is broken.
		panic(fmt.Sprintf("mock: invalid WriteHeader code %d", code))
	}
	w.status = code
	w.sent = w.header.Clone()
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.body.Write(b)
}

// response turns what the handler wrote into the response to req.
func (w *recorder) response(req *http.Request) *http.Response {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	header := w.sent
	content := w.body.Bytes()
	if header.Get("Content-Type") == "" && len(content) > 0 {
		// A real server sniffs the type of an answer that names none.
		header.Set("Content-Type", http.DetectContentType(content))
	}
	if header.Get("Content-Length") == "" {
		header.Set("Content-Length", strconv.Itoa(len(content)))
	}
	var body io.ReadCloser = io.NopCloser(bytes.NewReader(content))
	if req.Method == http.MethodHead {
		// A HEAD answer carries the length of the content it would
		// have sent, but no content.
		body = http.NoBody
	}
	text := http.StatusText(w.status)
	if text == "" {
		text = "status code " + strconv.Itoa(w.status)
	}
	return &http.Response{
		Status:        strconv.Itoa(w.status) + " " + text,
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        header,
		Body:          body,
		ContentLength: int64(len(content)),
		Request:       req,
	}
}
