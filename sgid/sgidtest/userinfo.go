package sgidtest

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
	keyAlg     jwa.KeyEncryptionAlgorithm     // wraps the symmetric key to the client's RSA key
	keyEnc     jwa.ContentEncryptionAlgorithm // encrypts the JWK in `key`
	symBytes   int                            // size of the symmetric key
	symJWKAlg  jwa.ContentEncryptionAlgorithm // the "alg" member of that JWK
	fieldAlg   jwa.KeyEncryptionAlgorithm     // how each field uses the symmetric key
	fieldEnc   jwa.ContentEncryptionAlgorithm // encrypts each field value
	wrongField jwa.KeyEncryptionAlgorithm     // for Faults.FieldWrongAlg: valid with the key, outside every allow-list
}

func (e Encoding) params() encodingParams {
	if e == EncodingMockpass {
		return encodingParams{
			keyAlg: jwa.RSA_OAEP, keyEnc: jwa.A128CBC_HS256,
			symBytes: 32, symJWKAlg: jwa.A256GCM,
			fieldAlg: jwa.DIRECT, fieldEnc: jwa.A256GCM,
			wrongField: jwa.A256KW,
		}
	}
	return encodingParams{
		keyAlg: jwa.RSA_OAEP_256, keyEnc: jwa.A256GCM,
		symBytes: 16, symJWKAlg: jwa.A128GCM,
		fieldAlg: jwa.A128GCMKW, fieldEnc: jwa.A128GCM,
		wrongField: jwa.A128KW,
	}
}

// userinfoError answers a bearer token error (RFC 6750 section 3).
func userinfoError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="sgidtest", error=%q, error_description=%q`, code, description))
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

func (p *Provider) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	f, ok := p.misbehave(w, r, func(f Faults) int { return f.UserinfoStatus })
	if !ok {
		return
	}

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

	resp := map[string]any{"sub": persona.Sub}
	if f.UserinfoSubMismatch {
		resp["sub"] = "sgidtest:someone-else"
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
	if len(wanted) > 0 {
		sort.Strings(wanted)
		var fields []string
		for _, s := range wanted {
			if _, ok := persona.Data[s]; ok {
				fields = append(fields, s)
			}
		}
		key, data, err := p.encryptUserinfo(persona, fields, f)
		if err != nil {
			userinfoError(w, http.StatusInternalServerError, "server_error", err.Error())
			return
		}
		resp["key"] = key
		resp["data"] = data
	}

	if f.MalformedUserinfoJSON {
		writeMalformedJSON(w, `{"sub":"`+persona.Sub+`","data":{`)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// encryptUserinfo produces the `key` JWE and the per-field JWEs for the given
// scopes, following p.encoding and the userinfo faults. A fresh symmetric key
// is used for every answer, as sgID does.
func (p *Provider) encryptUserinfo(persona Persona, fields []string, f Faults) (string, map[string]string, error) {
	ep := p.encoding.params()
	sym := make([]byte, ep.symBytes)
	_, _ = rand.Read(sym) // crypto/rand.Read never returns an error.

	symJWK, err := jwk.FromRaw(sym)
	if err != nil {
		return "", nil, fmt.Errorf("sgidtest: building the userinfo JWK: %w", err)
	}
	if err := symJWK.Set(jwk.AlgorithmKey, ep.symJWKAlg); err != nil {
		return "", nil, fmt.Errorf("sgidtest: building the userinfo JWK: %w", err)
	}
	jwkJSON, err := json.Marshal(symJWK)
	if err != nil {
		return "", nil, fmt.Errorf("sgidtest: encoding the userinfo JWK: %w", err)
	}

	recipient := p.clientPub
	if f.UndecryptableKey {
		recipient = &p.strayKey().PublicKey
	}
	keyJWE, err := encryptTo(jwkJSON, ep.keyAlg, recipient, ep.keyEnc)
	if err != nil {
		return "", nil, err
	}

	data := make(map[string]string, len(fields))
	for i, scope := range fields {
		alg, key := ep.fieldAlg, any(sym)
		if i == 0 && f.UndecryptableField {
			other := make([]byte, ep.symBytes)
			_, _ = rand.Read(other)
			key = other
		}
		if i == 0 && f.FieldWrongAlg {
			alg = ep.wrongField
		}
		v, err := encryptTo([]byte(persona.Data[scope]), alg, key, ep.fieldEnc)
		if err != nil {
			return "", nil, err
		}
		data[scope] = v
	}
	return keyJWE, data, nil
}

// encryptTo makes a compact JWE of plaintext.
func encryptTo(plaintext []byte, alg jwa.KeyEncryptionAlgorithm, key any, enc jwa.ContentEncryptionAlgorithm) (string, error) {
	out, err := jwe.Encrypt(plaintext, jwe.WithKey(alg, key), jwe.WithContentEncryption(enc))
	if err != nil {
		return "", fmt.Errorf("sgidtest: encrypting with %s/%s: %w", alg, enc, err)
	}
	return string(out), nil
}
