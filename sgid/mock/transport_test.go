package mock_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/sgid/mock"
)

// clientKey is shared so that each test does not pay for RSA key
// generation.
var clientKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func newProvider(t *testing.T) *mock.Provider {
	t.Helper()
	p, err := mock.NewProvider("https://mock.sgid.invalid/v2", mock.Options{ClientPublicKey: &clientKey().PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// trackedBody records whether the transport closed the request body.
type trackedBody struct {
	io.Reader
	closed bool
}

func (b *trackedBody) Close() error { b.closed = true; return nil }

// TestTransportResponses: each answer comes back as a complete
// *http.Response, as a network transport would build it.
func TestTransportResponses(t *testing.T) {
	p := newProvider(t)
	for _, tc := range []struct {
		name, method, path string
		wantStatus         int
		wantType           string
		wantBody           bool // false: no body, though a length
	}{
		{"discovery", http.MethodGet, "/v2/.well-known/openid-configuration", http.StatusOK, "application/json", true},
		{"jwks", http.MethodGet, "/v2/.well-known/jwks.json", http.StatusOK, "application/json", true},
		{"head jwks", http.MethodHead, "/v2/.well-known/jwks.json", http.StatusOK, "application/json", false},
		{"unknown path", http.MethodGet, "/v2/nothing", http.StatusNotFound, "text/plain; charset=utf-8", true},
		{"wrong method", http.MethodDelete, "/v2/oauth/token", http.StatusMethodNotAllowed, "text/plain; charset=utf-8", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, p.Issuer()+strings.TrimPrefix(tc.path, "/v2"), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := p.Transport().RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.wantStatus || resp.Status != strconv.Itoa(tc.wantStatus)+" "+http.StatusText(tc.wantStatus) {
				t.Errorf("status %q, want %d", resp.Status, tc.wantStatus)
			}
			if resp.Request != req {
				t.Error("the response does not point at its request")
			}
			if got := resp.Header.Get("Content-Type"); got != tc.wantType {
				t.Errorf("Content-Type %q, want %q", got, tc.wantType)
			}
			if resp.ProtoMajor != 1 || resp.ProtoMinor != 1 {
				t.Errorf("protocol %s", resp.Proto)
			}
			if resp.ContentLength <= 0 || resp.Header.Get("Content-Length") != strconv.FormatInt(resp.ContentLength, 10) {
				t.Errorf("ContentLength %d, header %q", resp.ContentLength, resp.Header.Get("Content-Length"))
			}
			switch {
			case tc.wantBody && int64(len(body)) != resp.ContentLength:
				t.Errorf("body of %d bytes, ContentLength %d", len(body), resp.ContentLength)
			case !tc.wantBody && len(body) != 0:
				t.Errorf("a HEAD answer carries %d bytes of body", len(body))
			}
		})
	}
}

// TestTransportLogin drives a whole login through the transport, the way
// the Caddy module's mock reaches the provider: the authorize redirect,
// the token exchange with a form body, and userinfo with a bearer token.
func TestTransportLogin(t *testing.T) {
	p := newProvider(t)
	client := &http.Client{
		Transport:     p.Transport(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	verifier := base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(verifier))
	const redirect = "https://app.example/cb"
	q := url.Values{
		"client_id": {p.ClientID()}, "redirect_uri": {redirect}, "response_type": {"code"},
		"scope": {"openid myinfo.name"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"}, "state": {"st"},
	}
	resp, err := client.Get(p.Issuer() + "/oauth/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %s, %v", resp.Status, err)
	}
	code := loc.Query().Get("code")

	form := url.Values{
		"grant_type": {"authorization_code"}, "client_id": {p.ClientID()}, "client_secret": {p.ClientSecret()},
		"redirect_uri": {redirect}, "code": {code}, "code_verifier": {verifier},
	}
	body := &trackedBody{Reader: strings.NewReader(form.Encode())}
	req, err := http.NewRequest(http.MethodPost, p.Issuer()+"/oauth/token", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		IDToken     string `json:"id_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tr)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || tr.IDToken == "" {
		t.Fatalf("token: %s, %v", resp.Status, err)
	}
	if !body.closed {
		t.Error("the transport did not close the request body")
	}
	if req.Form != nil || req.PostForm != nil {
		t.Error("the transport changed the caller's request")
	}

	req, err = http.NewRequest(http.MethodGet, p.Issuer()+"/oauth/userinfo", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tr.AccessToken)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ui struct {
		Sub  string            `json:"sub"`
		Data map[string]string `json:"data"`
	}
	err = json.NewDecoder(resp.Body).Decode(&ui)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || ui.Sub != p.Personas()[0].Sub || ui.Data["myinfo.name"] == "" {
		t.Fatalf("userinfo: %s %+v, %v", resp.Status, ui, err)
	}
}

// TestTransportContext: a request whose context has ended is not served,
// and an answer that comes after the context ended is dropped, as on a
// network.
func TestTransportContext(t *testing.T) {
	for _, tc := range []struct {
		name string
		// cancelEarly cancels before the round trip; otherwise the
		// handler cancels while it serves.
		cancelEarly bool
		wantServed  bool
	}{
		{"cancelled before", true, false},
		{"cancelled while serving", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			served := false
			rt := mock.NewTransport(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				served = true
				cancel()
				if r.Context().Err() == nil {
					t.Error("the handler's request does not carry the caller's context")
				}
				_, _ = io.WriteString(w, "late")
			}))
			if tc.cancelEarly {
				cancel()
			}
			body := &trackedBody{Reader: strings.NewReader("x")}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://mock.sgid.invalid/", body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := rt.RoundTrip(req)
			if !errors.Is(err, context.Canceled) || resp != nil {
				t.Errorf("RoundTrip = %v, %v; want context.Canceled", resp, err)
			}
			if served != tc.wantServed {
				t.Errorf("served = %v, want %v", served, tc.wantServed)
			}
			if !body.closed {
				t.Error("the request body was not closed")
			}
		})
	}
}

// TestTransportRecorder: the transport's response writer behaves like a
// server's: the header is frozen at WriteHeader, informational and
// repeated codes do not decide the status, a bare Write means 200, and an
// answer without a type gets a sniffed one.
func TestTransportRecorder(t *testing.T) {
	for _, tc := range []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		wantHeader http.Header // values that must be present
		absent     []string    // header names that must be absent
		wantBody   string
	}{
		{
			name: "header frozen at WriteHeader",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Before", "1")
				w.WriteHeader(http.StatusTeapot)
				w.Header().Set("X-After", "1")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, "short and stout")
			},
			wantStatus: http.StatusTeapot,
			wantHeader: http.Header{"X-Before": {"1"}},
			absent:     []string{"X-After"},
			wantBody:   "short and stout",
		},
		{
			name: "informational code then final",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusEarlyHints)
				w.WriteHeader(http.StatusAccepted)
			},
			wantStatus: http.StatusAccepted,
			wantHeader: http.Header{"Content-Length": {"0"}},
		},
		{
			name: "bare write",
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "<!doctype html><p>hi")
			},
			wantStatus: http.StatusOK,
			wantHeader: http.Header{"Content-Type": {"text/html; charset=utf-8"}, "Content-Length": {"20"}},
			wantBody:   "<!doctype html><p>hi",
		},
		{
			name:       "nothing written",
			handler:    func(w http.ResponseWriter, r *http.Request) {},
			wantStatus: http.StatusOK,
			absent:     []string{"Content-Type"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, "https://mock.sgid.invalid/x", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := mock.NewTransport(tc.handler).RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			for k, v := range tc.wantHeader {
				if got := resp.Header.Values(k); strings.Join(got, ",") != strings.Join(v, ",") {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			for _, k := range tc.absent {
				if v := resp.Header.Get(k); v != "" {
					t.Errorf("%s: %q, want none", k, v)
				}
			}
			if string(body) != tc.wantBody || resp.ContentLength != int64(len(tc.wantBody)) {
				t.Errorf("body %q (ContentLength %d), want %q", body, resp.ContentLength, tc.wantBody)
			}
		})
	}
}
