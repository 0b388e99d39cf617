package sgid

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Sentinel errors. Every error the client returns wraps exactly one of them,
// so callers can branch with errors.Is without parsing messages.
var (
	// ErrInvalidInput reports a caller mistake, such as a code verifier of the
	// wrong length or a missing redirect URI. Nothing was sent to sgID.
	ErrInvalidInput = errors.New("sgid: invalid input")

	// ErrConfig reports a client configuration that cannot work, such as a
	// private key that does not parse. New returns it.
	ErrConfig = errors.New("sgid: invalid configuration")

	// ErrProvider reports an HTTP error status from sgID, a network failure or
	// an answer that is not the JSON sgID documents. Errors with a status code
	// are *ProviderError values.
	ErrProvider = errors.New("sgid: provider request failed")

	// ErrIDToken reports an ID token that failed a check. The error is an
	// *IDTokenError naming the rule.
	ErrIDToken = errors.New("sgid: ID token rejected")

	// ErrSubMismatch reports a userinfo answer for another user than the one
	// the ID token named.
	ErrSubMismatch = errors.New("sgid: userinfo sub does not match the ID token")

	// ErrKeyDecryption reports that the userinfo `key` could not be decrypted
	// with the client's private key.
	ErrKeyDecryption = errors.New("sgid: cannot decrypt the userinfo key")

	// ErrFieldDecryption reports that a userinfo field could not be decrypted
	// with the symmetric key. The error is a *FieldError naming the field.
	ErrFieldDecryption = errors.New("sgid: cannot decrypt a userinfo field")
)

// ConfigError names the Config field that New refused. It wraps ErrConfig.
type ConfigError struct {
	// Field is the Config field: ClientID, ClientSecret, PrivateKey,
	// PrivateKeys, Host, RedirectURI or Scopes.
	Field string
	// Index is, for PrivateKeys, the position of the refused key in that
	// list (from 0); otherwise 0.
	Index int
	Err   error
}

func (e *ConfigError) Error() string { return e.Err.Error() }

// Unwrap returns the error that says what is wrong; it wraps ErrConfig.
func (e *ConfigError) Unwrap() error { return e.Err }

// ProviderError is an HTTP error answer from sgID.
type ProviderError struct {
	// Endpoint is "token", "userinfo", "jwks" or (from Discover)
	// "discovery".
	Endpoint string
	// StatusCode is the HTTP status sgID answered.
	StatusCode int
	// Body is the start of the answer's body (at most maxErrorBody bytes),
	// which for sgID is a small JSON error object; it never holds our secrets.
	Body string
}

func (e *ProviderError) Error() string {
	msg := fmt.Sprintf("sgid: %s endpoint answered HTTP %d: %q", e.Endpoint, e.StatusCode, e.Body)
	// The hint fits only answers that blame the client's registration. An
	// invalid_grant blames the code (expired, used, or for another login),
	// which any browser can cause, and a 5xx blames sgID.
	if e.StatusCode < 500 && e.Code() != "invalid_grant" {
		msg += "; check the client ID, client secret and redirect URI registered with sgID"
	}
	return msg
}

// Code is the OAuth error code of the answer ("invalid_grant",
// "invalid_client", ...), or "" when its body is not an OAuth error object.
func (e *ProviderError) Code() string {
	var body struct {
		Error string `json:"error"`
	}
	if json.Unmarshal([]byte(e.Body), &body) != nil {
		return ""
	}
	return body.Error
}

// Unwrap makes errors.Is(err, ErrProvider) true.
func (e *ProviderError) Unwrap() error { return ErrProvider }

// IDTokenRule names the ID-token check that failed.
type IDTokenRule string

// The checks made on every ID token, in the order they are made.
const (
	RuleMalformed IDTokenRule = "malformed" // not a compact JWS carrying a JWT
	RuleAlgorithm IDTokenRule = "alg"       // header alg is not RS256
	RuleKeys      IDTokenRule = "jwks"      // the provider's JWKS could not be fetched
	RuleSignature IDTokenRule = "signature" // no JWKS key (by kid) verifies the signature
	RuleIssuer    IDTokenRule = "iss"       // iss differs from the issuer
	RuleAudience  IDTokenRule = "aud"       // aud does not hold the client ID, or azp is wrong
	RuleExpiry    IDTokenRule = "exp"       // missing, or in the past beyond the leeway
	RuleNotBefore IDTokenRule = "nbf"       // in the future beyond the leeway
	RuleIssuedAt  IDTokenRule = "iat"       // missing, or in the future beyond the leeway
	RuleNonce     IDTokenRule = "nonce"     // differs from the nonce sent, or absent
	RuleSubject   IDTokenRule = "sub"       // missing or empty

	RuleAccessTokenHash IDTokenRule = "at_hash" // present but not the access token's hash
)

// IDTokenError reports which rule an ID token broke.
type IDTokenError struct {
	Rule   IDTokenRule
	Reason string
	Err    error // the underlying library error, if any
}

func (e *IDTokenError) Error() string {
	msg := fmt.Sprintf("sgid: ID token rejected (%s): %s", e.Rule, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is makes errors.Is(err, ErrIDToken) true.
func (e *IDTokenError) Is(target error) bool { return target == ErrIDToken }

// Unwrap returns the underlying library error.
func (e *IDTokenError) Unwrap() error { return e.Err }

// FieldError reports a userinfo field that could not be decrypted.
type FieldError struct {
	Field string // the scope name, e.g. "myinfo.name"
	Err   error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("sgid: cannot decrypt userinfo field %q: %v", e.Field, e.Err)
}

// Is makes errors.Is(err, ErrFieldDecryption) true.
func (e *FieldError) Is(target error) bool { return target == ErrFieldDecryption }

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

func invalidInput(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidInput}, args...)...)
}
