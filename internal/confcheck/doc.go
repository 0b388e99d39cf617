// Package confcheck holds the rules of the sgid handler's configuration
// that need nothing of the handler itself: how placeholders resolve, which
// routes, cookie names and app parameters are accepted, how an error of
// the sgid client is named by the field to fix, and the shortest sealing
// key. The handler's Provision and Validate and the `caddy sgid check`
// command both apply them, so that a config is judged the same way by
// both.
package confcheck
