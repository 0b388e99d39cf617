// Package sgidcheck holds what the `caddy sgid` command does: keygen makes
// the RSA key pair a client of sgID decrypts userinfo with, and check
// looks at every sgid handler of a config the way an operator would
// before going live (its keys, its settings, sgID's discovery document
// and JWKS, the sealing key and the redirect URI) and prints one line per
// check.
//
// The package knows the handler's JSON names but not its Go type: the
// caller finds the handlers in an adapted config with FindHandlers,
// decodes each into its own config type and hands over a Site. The rules
// the handler enforces at provisioning (how a placeholder that resolves to
// nothing is reported, how an error of the sgid client names its field,
// the shortest sealing key) are those of package confcheck, which the
// handler applies too, so that the check and the handler cannot come to
// disagree.
package sgidcheck
