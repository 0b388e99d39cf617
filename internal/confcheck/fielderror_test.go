package confcheck

import (
	"errors"
	"fmt"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/sgid"
)

func TestFieldError(t *testing.T) {
	// badKey is the error sgid.New gives for a bad key in PrivateKeys,
	// so that a change of the client's wording shows here.
	_, badKey := sgid.New(sgid.Config{ClientID: "id", ClientSecret: "secret", PrivateKeys: []string{"not-a-key"}})
	var ce *sgid.ConfigError
	if !errors.As(badKey, &ce) || ce.Field != "PrivateKeys" {
		t.Fatalf("sgid.New gave %v, not an error about PrivateKeys", badKey)
	}
	other := errors.New("sgid: something else")
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"client_id", &sgid.ConfigError{Field: "ClientID", Err: fmt.Errorf("%w: client ID is empty", sgid.ErrConfig)},
			"client_id: invalid configuration: client ID is empty"},
		{"redirect_uri", &sgid.ConfigError{Field: "RedirectURI", Err: fmt.Errorf("%w: not absolute", sgid.ErrConfig)},
			"redirect_uri: invalid configuration: not absolute"},
		// The index is in the JSON name; the client's Go name goes.
		{"second of private_keys", &sgid.ConfigError{Field: "PrivateKeys", Index: 1, Err: fmt.Errorf("%w: private key: bad (PrivateKeys[1])", sgid.ErrConfig)},
			"private_keys[1]: invalid configuration: private key: bad"},
		{"private_keys from sgid.New", badKey,
			"private_keys[0]: invalid configuration: private key: no PEM block found; the key must start with -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----"},
		{"a field the handler does not have", &sgid.ConfigError{Field: "HTTPClient", Err: other}, "sgid: something else"},
		{"not a config error", other, "sgid: something else"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := FieldError(tc.err)
			if got.Error() != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			// The named error still is what it names.
			if !errors.Is(got, tc.err) {
				t.Errorf("%v does not wrap %v", got, tc.err)
			}
		})
	}
}
