package sgid

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwe"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// jweLayer lists the algorithms one layer of userinfo encryption may use.
// Decryption follows each JWE's header, but only within these lists: real
// sgID and mockpass use different algorithms, and anything else (a
// downgrade, a key-confusion attempt) is refused.
type jweLayer struct {
	algs []jwa.KeyEncryptionAlgorithm
	encs []jwa.ContentEncryptionAlgorithm
}

var (
	// keyLayer: sgID sends RSA-OAEP-256 + A256GCM; mockpass RSA-OAEP +
	// A128CBC-HS256.
	keyLayer = jweLayer{
		algs: []jwa.KeyEncryptionAlgorithm{jwa.RSA_OAEP_256, jwa.RSA_OAEP},
		encs: []jwa.ContentEncryptionAlgorithm{jwa.A256GCM, jwa.A128GCM, jwa.A128CBC_HS256, jwa.A256CBC_HS512},
	}
	// fieldLayer: sgID sends A128GCMKW + A128GCM; mockpass dir + A256GCM.
	fieldLayer = jweLayer{
		algs: []jwa.KeyEncryptionAlgorithm{jwa.A128GCMKW, jwa.A256GCMKW, jwa.DIRECT},
		encs: []jwa.ContentEncryptionAlgorithm{jwa.A128GCM, jwa.A256GCM},
	}
)

// decrypt decrypts a compact JWE with key after checking its header against
// the layer's allow-list.
func (l jweLayer) decrypt(compact string, key any) ([]byte, error) {
	return l.decryptWith(compact, func(string) []any { return []any{key} })
}

// decryptWith is decrypt with the keys that keysFor returns for the JWE's
// kid header ("" when it has none), tried in turn until one decrypts.
func (l jweLayer) decryptWith(compact string, keysFor func(kid string) []any) ([]byte, error) {
	provider := jwe.KeyProviderFunc(func(_ context.Context, sink jwe.KeySink, r jwe.Recipient, msg *jwe.Message) error {
		alg := r.Headers().Algorithm()
		enc := msg.ProtectedHeaders().ContentEncryption()
		if !slices.Contains(l.algs, alg) || !slices.Contains(l.encs, enc) {
			return fmt.Errorf("JWE uses alg %q enc %q, which this layer does not accept", alg, enc)
		}
		if msg.ProtectedHeaders().Compression() != jwa.NoCompress {
			return fmt.Errorf("compressed JWE is not accepted")
		}
		kid := r.Headers().KeyID()
		if kid == "" {
			kid = msg.ProtectedHeaders().KeyID()
		}
		for _, key := range keysFor(kid) {
			sink.Key(alg, key)
		}
		return nil
	})
	var cek []byte
	plain, err := jwe.Decrypt([]byte(compact), jwe.WithKeyProvider(provider), jwe.WithCEK(&cek))
	if err != nil && cek != nil && emptyCiphertext(compact) {
		// jwx v2 reports an empty plaintext as an error even though the
		// tag verified (it hands out the CEK only after that): sgID sends
		// "" for some fields, and "" is what the field holds.
		return []byte{}, nil
	}
	return plain, err
}

// emptyCiphertext reports whether a compact JWE's ciphertext part is empty.
func emptyCiphertext(compact string) bool {
	parts := strings.Split(compact, ".")
	return len(parts) == 5 && parts[3] == ""
}

// UserInfo is the decrypted answer of the userinfo endpoint.
type UserInfo struct {
	Sub string
	// Data maps each scope (e.g. "myinfo.name") to its value as sgID sent
	// it. Arrays and objects arrive as JSON text: see ParseData. Empty when
	// only openid was requested.
	Data map[string]string
}

type userinfoResponse struct {
	Sub  string            `json:"sub"`
	Key  string            `json:"key"`
	Data map[string]string `json:"data"`
}

// Userinfo fetches the user's data with the access token, checks that it is
// about sub (from the verified ID token) and decrypts every field.
func (c *Client) Userinfo(ctx context.Context, sub, accessToken string) (*UserInfo, error) {
	if sub == "" {
		return nil, invalidInput("sub is empty; pass the sub Exchange returned")
	}
	if accessToken == "" {
		return nil, invalidInput("access token is empty")
	}
	req, err := newUserinfoRequest(ctx, c, accessToken)
	if err != nil {
		return nil, err
	}
	var ur userinfoResponse
	if err := c.doJSON(req, "userinfo", &ur); err != nil {
		return nil, err
	}
	if ur.Sub != sub {
		return nil, ErrSubMismatch
	}
	data, err := c.decryptData(ur.Key, ur.Data)
	if err != nil {
		return nil, err
	}
	return &UserInfo{Sub: ur.Sub, Data: data}, nil
}

func newUserinfoRequest(ctx context.Context, c *Client, accessToken string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.issuer+"/oauth/userinfo", nil)
	if err != nil {
		return nil, fmt.Errorf("%w: userinfo request: %w", ErrProvider, err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// decryptData opens the two layers of userinfo encryption: `key` holds a
// symmetric JWK encrypted to our RSA key, and each field is encrypted under
// that JWK.
func (c *Client) decryptData(encKey string, fields map[string]string) (map[string]string, error) {
	data := make(map[string]string, len(fields))
	if len(fields) == 0 {
		// Only openid was requested: sgID sends neither key nor data.
		return data, nil
	}
	if encKey == "" {
		return nil, fmt.Errorf("%w: userinfo has data but no key", ErrKeyDecryption)
	}
	rawJWK, err := c.decryptKeyJWE(encKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %w; check that the private key is the one registered with sgID", ErrKeyDecryption, err)
	}
	symKey, err := jwk.ParseKey(rawJWK)
	if err != nil || symKey.KeyType() != jwa.OctetSeq {
		return nil, fmt.Errorf("%w: the decrypted key is not a symmetric JWK", ErrKeyDecryption)
	}
	var raw []byte
	if err := symKey.Raw(&raw); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyDecryption, err)
	}
	for name, enc := range fields {
		plain, err := fieldLayer.decrypt(enc, raw)
		if err != nil {
			return nil, &FieldError{Field: name, Err: err}
		}
		if !utf8.Valid(plain) {
			return nil, &FieldError{Field: name, Err: fmt.Errorf("value is not UTF-8")}
		}
		data[name] = string(plain)
	}
	return data, nil
}

// ParseData returns data with the values that are JSON arrays or objects
// decoded (sgID sends e.g. myinfo.vehicles and
// myinfo.sponsored_child_records as JSON text). Other values, including the
// literal "NA", stay strings.
func ParseData(data map[string]string) map[string]any {
	out := make(map[string]any, len(data))
	for k, v := range data {
		out[k] = parseValue(v)
	}
	return out
}

func parseValue(v string) any {
	t := strings.TrimSpace(v)
	if len(t) < 2 {
		return v
	}
	if (t[0] == '[' && t[len(t)-1] == ']') || (t[0] == '{' && t[len(t)-1] == '}') {
		var parsed any
		if json.Unmarshal([]byte(t), &parsed) == nil {
			return parsed
		}
	}
	return v
}
