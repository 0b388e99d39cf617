package confcheck

import (
	"errors"
	"fmt"
	"strings"

	"github.com/caddy-sgid/caddy-sgid/sgid"
)

// FieldError names the Caddy field of an sgid.Config error, so that caddy
// validate points at the line to fix. Caddy names the module already, so
// the sgid package's own "sgid: " prefix is left off. Other errors are
// returned as they are.
func FieldError(err error) error {
	var ce *sgid.ConfigError
	if errors.As(err, &ce) {
		if field, ok := configFields[ce.Field]; ok {
			nfe := &namedFieldError{field: field, err: err}
			if ce.Field == "PrivateKeys" {
				// The JSON name with the index says which key; the Go
				// name the client appends for its own callers goes.
				nfe.field = fmt.Sprintf("%s[%d]", field, ce.Index)
				nfe.goName = fmt.Sprintf(" (PrivateKeys[%d])", ce.Index)
			}
			return nfe
		}
	}
	return err
}

// namedFieldError is an error of the sgid client about one field, named
// by its JSON name.
type namedFieldError struct {
	field string
	err   error
	// goName is the client's own name of the field in its message, left
	// out of Error.
	goName string
}

func (e *namedFieldError) Error() string {
	msg := strings.TrimPrefix(e.err.Error(), "sgid: ")
	if e.goName != "" {
		msg = strings.Replace(msg, e.goName, "", 1)
	}
	return e.field + ": " + msg
}

func (e *namedFieldError) Unwrap() error { return e.err }

// configFields maps sgid.Config's fields to the handler's JSON names.
var configFields = map[string]string{
	"ClientID":     "client_id",
	"ClientSecret": "client_secret",
	"PrivateKey":   "private_key",
	"PrivateKeys":  "private_keys",
	"Host":         "host",
	"RedirectURI":  "redirect_uri",
	"Scopes":       "scopes",
}
