package mock

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwe"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// encodingParams are the JWE algorithms of one Encoding.
type encodingParams struct {
	keyAlg    jwa.KeyEncryptionAlgorithm     // wraps the symmetric key to the client's RSA key
	keyEnc    jwa.ContentEncryptionAlgorithm // encrypts the JWK in `key`
	symBytes  int                            // size of the symmetric key
	symJWKAlg jwa.ContentEncryptionAlgorithm // the "alg" member of that JWK
	fieldAlg  jwa.KeyEncryptionAlgorithm     // how each field uses the symmetric key
	fieldEnc  jwa.ContentEncryptionAlgorithm // encrypts each field value
}

func (e Encoding) params() encodingParams {
	if e == EncodingMockpass {
		return encodingParams{
			keyAlg: jwa.RSA_OAEP, keyEnc: jwa.A128CBC_HS256,
			symBytes: 32, symJWKAlg: jwa.A256GCM,
			fieldAlg: jwa.DIRECT, fieldEnc: jwa.A256GCM,
		}
	}
	return encodingParams{
		keyAlg: jwa.RSA_OAEP_256, keyEnc: jwa.A256GCM,
		symBytes: 16, symJWKAlg: jwa.A128GCM,
		fieldAlg: jwa.A128GCMKW, fieldEnc: jwa.A128GCM,
	}
}

// userinfoError answers a bearer token error (RFC 6750 section 3).
func userinfoError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="mock", error=%q, error_description=%q`, code, description))
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

func (p *Provider) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		userinfoError(w, http.StatusUnauthorized, "invalid_request", "an Authorization: Bearer header is required")
		return
	}
	now := p.now()
	p.mu.Lock()
	p.sweepLocked(now)
	at, ok := p.tokens.get(token, now)
	p.mu.Unlock()
	if !ok {
		userinfoError(w, http.StatusUnauthorized, "invalid_token", "unknown or expired access token")
		return
	}
	persona, ok := p.persona(at.sub)
	if !ok {
		userinfoError(w, http.StatusUnauthorized, "invalid_token", "unknown persona")
		return
	}

	// The requested scopes other than openid decide whether key and data
	// are sent at all: with openid alone sgID omits both, while a request
	// for data the persona lacks still gets a key and an empty data object.
	var wanted []string
	for _, s := range at.scopes {
		if s != "openid" {
			wanted = append(wanted, s)
		}
	}
	sort.Strings(wanted)
	ep := p.encoding.params()
	sym := make([]byte, ep.symBytes)
	_, _ = rand.Read(sym) // crypto/rand.Read never returns an error.
	answer := Userinfo{Sub: persona.Sub, Recipient: p.clientPub}
	for _, s := range wanted {
		if _, ok := persona.Data[s]; ok {
			answer.Fields = append(answer.Fields, UserinfoField{Scope: s, Alg: ep.fieldAlg, Key: sym})
		}
	}
	if p.hooks.Userinfo != nil {
		p.hooks.Userinfo(&answer)
	}

	resp := map[string]any{"sub": answer.Sub}
	if len(wanted) > 0 {
		key, data, err := encryptUserinfo(ep, sym, persona, answer)
		if err != nil {
			userinfoError(w, http.StatusInternalServerError, "server_error", err.Error())
			return
		}
		resp["key"] = key
		resp["data"] = data
	}
	writeJSON(w, http.StatusOK, resp)
}

// encryptUserinfo produces the `key` JWE, which carries sym, and the
// per-field JWEs, as answer describes them. A fresh symmetric key is used
// for every answer, as sgID does.
func encryptUserinfo(ep encodingParams, sym []byte, persona Persona, answer Userinfo) (string, map[string]string, error) {
	symJWK, err := jwk.FromRaw(sym)
	if err != nil {
		return "", nil, fmt.Errorf("mock: building the userinfo JWK: %w", err)
	}
	if err := symJWK.Set(jwk.AlgorithmKey, ep.symJWKAlg); err != nil {
		return "", nil, fmt.Errorf("mock: building the userinfo JWK: %w", err)
	}
	jwkJSON, err := json.Marshal(symJWK)
	if err != nil {
		return "", nil, fmt.Errorf("mock: encoding the userinfo JWK: %w", err)
	}
	keyJWE, err := encryptTo(jwkJSON, ep.keyAlg, answer.Recipient, ep.keyEnc)
	if err != nil {
		return "", nil, err
	}
	data := make(map[string]string, len(answer.Fields))
	for _, f := range answer.Fields {
		v, err := encryptTo([]byte(persona.Data[f.Scope]), f.Alg, f.Key, ep.fieldEnc)
		if err != nil {
			return "", nil, err
		}
		data[f.Scope] = v
	}
	return keyJWE, data, nil
}

// encryptTo makes a compact JWE of plaintext.
func encryptTo(plaintext []byte, alg jwa.KeyEncryptionAlgorithm, key any, enc jwa.ContentEncryptionAlgorithm) (string, error) {
	out, err := jwe.Encrypt(plaintext, jwe.WithKey(alg, key), jwe.WithContentEncryption(enc))
	if err != nil {
		return "", fmt.Errorf("mock: encrypting with %s/%s: %w", alg, enc, err)
	}
	return string(out), nil
}
