// Package session owns the life of an sgID login on the server side, from
// the sealed cookie that carries a login in progress to the end of the
// session it creates:
//
//   - login cookies: a login started by auth-url travels sealed in a
//     cookie of its own (SealLogin, OpenLogin), under keys from a keyring
//     with rotating epochs;
//   - the single-use claim of a login: the login names the id of the
//     session it will create, and the store's atomic Create of that
//     session's record is the claim, so a login finishes once;
//   - session records, sealed at rest under a key derived from the session
//     id and filed under a one-way hash of it (Lookup, Create, End);
//   - the per-user index that revocation reads (Revoke, Count), and a
//     user's own list of sessions with the handles that end one (List);
//   - the idle timeout;
//   - the memo of opened sessions, which spares a returning user's request
//     the decryption of its record.
//
// The HTTP code above it calls a Manager; the Manager calls a store below
// it. Nothing here writes an HTTP answer or knows the handler: what the
// HTTP side keeps per opened session (placeholders, header values, the
// userinfo answer) comes from the Prepare function it hands to New.
package session
