package caddysgid

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"go.uber.org/zap/zapcore"
)

// pendingLogin is a login that auth-url started and sgID's callback will
// finish. It lives only in the browser, sealed in a cookie of its own, so
// starting a login costs the server no memory and cannot push out anyone
// else's.
type pendingLogin struct {
	State        string            `json:"s"`
	CodeVerifier string            `json:"v"`
	Nonce        string            `json:"n"`
	RedirectURI  string            `json:"r"`
	ReturnTo     string            `json:"t,omitempty"`
	AppValues    map[string]string `json:"a,omitempty"`
	Expires      int64             `json:"e"` // Unix seconds
}

// Why a sealed pending login was refused. The callback turns them into its
// error reasons.
var (
	// errPendingInvalid: not sealed by this site (tampered, truncated, or
	// sealed with another site's key), or sealed for another state.
	errPendingInvalid = errors.New("pending-login cookie is not valid for this login")
	// errPendingExpired: authentic, but its login timed out or its key
	// has been rotated out.
	errPendingExpired = errors.New("pending login expired")
)

// sealVersion is the first byte of every sealed pending login; a new format
// takes a new number.
const sealVersion = 1

// pendingCookieSuffix names a login's cookie: a hash of its state, so the
// callback finds the cookie of the state it got without reading any other,
// and several tabs each keep their own login.
func pendingCookieSuffix(state string) string {
	sum := sha256.Sum256([]byte("sgid-login-cookie\x00" + state))
	return base64.RawURLEncoding.EncodeToString(sum[:pendingSuffixLen*3/4])
}

// pendingSuffixLen is the length of pendingCookieSuffix's result: 72 bits,
// so two logins of one browser never share a cookie.
const pendingSuffixLen = 12

// sealPending seals p for the cookie called name. The layout is
//
//	version (1 byte) | key epoch (uvarint) | GCM nonce (12 bytes) | ciphertext
//
// in base64url; the cookie's name and the header bytes are authenticated
// with the payload, so a value moved to another cookie fails to open.
func sealPending(ctx context.Context, k *keyring, name string, p pendingLogin) (string, error) {
	epoch, aead, err := k.current(ctx)
	if err != nil {
		return "", err
	}
	plain, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	buf := make([]byte, 0, 1+binary.MaxVarintLen64+aead.NonceSize()+len(plain)+aead.Overhead())
	buf = append(buf, sealVersion)
	buf = binary.AppendUvarint(buf, epoch)
	header := len(buf)
	buf = buf[:header+aead.NonceSize()]
	if _, err := rand.Read(buf[header:]); err != nil {
		return "", err
	}
	buf = aead.Seal(buf, buf[header:], plain, additionalData(name, buf[:header]))
	return base64.RawURLEncoding.EncodeToString(buf), nil
}

// openPending opens the cookie called name and checks that it belongs to
// state and has not expired.
func openPending(ctx context.Context, k *keyring, name, value, state string, now time.Time) (pendingLogin, error) {
	p, err := unsealPending(ctx, k, name, value)
	if err != nil {
		return pendingLogin{}, err
	}
	if subtle.ConstantTimeCompare([]byte(p.State), []byte(state)) != 1 {
		return pendingLogin{}, errPendingInvalid
	}
	if !now.Before(time.Unix(p.Expires, 0)) {
		return pendingLogin{}, errPendingExpired
	}
	return p, nil
}

// unsealPending opens a value sealed by sealPending for the cookie name.
func unsealPending(ctx context.Context, k *keyring, name, value string) (pendingLogin, error) {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < 2 || raw[0] != sealVersion {
		return pendingLogin{}, errPendingInvalid
	}
	epoch, n := binary.Uvarint(raw[1:])
	if n <= 0 {
		return pendingLogin{}, errPendingInvalid
	}
	header := 1 + n
	aead, err := k.forOpening(ctx, epoch)
	if errors.Is(err, errUnknownKey) {
		// An authentic cookie from an epoch long gone has expired; a forged
		// epoch cannot be told apart from it without the key, and both end
		// the login the same way.
		return pendingLogin{}, errPendingExpired
	}
	if err != nil {
		return pendingLogin{}, err
	}
	if len(raw) < header+aead.NonceSize()+aead.Overhead() {
		return pendingLogin{}, errPendingInvalid
	}
	nonce := raw[header : header+aead.NonceSize()]
	plain, err := aead.Open(nil, nonce, raw[header+aead.NonceSize():], additionalData(name, raw[:header]))
	if err != nil {
		return pendingLogin{}, errPendingInvalid
	}
	var p pendingLogin
	if err := json.Unmarshal(plain, &p); err != nil {
		return pendingLogin{}, errPendingInvalid
	}
	return p, nil
}

func additionalData(name string, header []byte) []byte {
	return append([]byte(name+"\x00"), header...)
}

// usedLogin replaces a login cookie's value once its callback has been
// handled, until the login would have expired: a replayed callback then
// ends as login_expired rather than as a login this browser never started.
const usedLogin = "used"

// takePending finds, opens and consumes the login of state for the
// callback. When the login cannot go on it answers the request itself (a
// redirect to the error path) and reports answered.
func (h *Handler) takePending(w http.ResponseWriter, r *http.Request, state string) (p pendingLogin, answered bool, err error) {
	name := pendingCookieName(h.CookieName, state)
	c, err := h.cookie(r, name)
	switch {
	case err != nil && h.hasPendingCookie(r):
		return p, true, h.fail(w, r, reasonStateMismatch, zapcore.WarnLevel, errors.New("state does not match any login of this browser"))
	case err != nil:
		return p, true, h.fail(w, r, reasonNoSession, zapcore.InfoLevel, errors.New("callback without a login cookie"))
	case c.Value == usedLogin:
		return p, true, h.fail(w, r, reasonLoginExpired, zapcore.InfoLevel, errors.New("this login was finished before"))
	}
	p, err = openPending(r.Context(), h.keys, name, c.Value, state, h.now())
	switch {
	case errors.Is(err, errPendingInvalid):
		return p, true, h.fail(w, r, reasonStateMismatch, zapcore.WarnLevel, errors.New("the login cookie was not sealed by this site for this state"))
	case errors.Is(err, errPendingExpired):
		return p, true, h.fail(w, r, reasonLoginExpired, zapcore.InfoLevel, errors.New("the login expired"))
	case err != nil:
		h.storeFailed(r, "sealing_key", err)
		return p, true, h.fail(w, r, reasonServerError, zapcore.ErrorLevel, err)
	}
	expires := time.Unix(p.Expires, 0)
	http.SetCookie(w, h.newCookie(r, name, usedLogin, max(expires.Sub(h.now()), time.Second)))
	first, err := h.claimLogin(r.Context(), state, expires)
	if err != nil {
		h.storeFailed(r, "claim", err)
		return p, true, h.fail(w, r, reasonServerError, zapcore.ErrorLevel, err)
	}
	if !first {
		return p, true, h.fail(w, r, reasonLoginExpired, zapcore.WarnLevel, errors.New("this login was finished before, with a copy of its cookie"))
	}
	return p, false, nil
}

// hasPendingCookie reports whether the request carries any login cookie.
func (h *Handler) hasPendingCookie(r *http.Request) bool {
	for _, c := range r.Cookies() {
		if _, ok := h.isPendingCookie(r, c); ok {
			return true
		}
	}
	return false
}

// isPendingCookie reports whether the request cookie c is one of our login
// cookies under the name this request's scheme uses (see cookieBase), and
// returns its base name, the one it was sealed for.
func (h *Handler) isPendingCookie(r *http.Request, c *http.Cookie) (string, bool) {
	base, ok := h.cookieBase(r, c.Name)
	return base, ok && isPendingCookieName(base, h.CookieName)
}

// dropOldLogins deletes the browser's oldest login cookies when it already
// has loginsPerBrowser of them, so that a new one fits: finished and
// unreadable ones first, then those that expire first.
func (h *Handler) dropOldLogins(w http.ResponseWriter, r *http.Request) {
	type login struct {
		name    string
		expires int64 // 0 for finished or unreadable ones
	}
	var logins []login
	for _, c := range r.Cookies() {
		base, ok := h.isPendingCookie(r, c)
		if !ok {
			continue
		}
		l := login{name: base}
		if p, err := unsealPending(r.Context(), h.keys, base, c.Value); err == nil {
			l.expires = p.Expires
		}
		logins = append(logins, l)
	}
	if len(logins) < loginsPerBrowser {
		return
	}
	slices.SortFunc(logins, func(a, b login) int { return cmp.Compare(a.expires, b.expires) })
	for _, l := range logins[:len(logins)-loginsPerBrowser+1] {
		http.SetCookie(w, h.newCookie(r, l.name, "", -1))
	}
}
