package session

import (
	"cmp"
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"
)

// Login is a login that auth-url started and sgID's callback will finish.
// It lives only in the browser, sealed in a cookie of its own, so starting
// a login costs the server no memory and cannot push out anyone else's.
type Login struct {
	State        string            `json:"s"`
	CodeVerifier string            `json:"v"`
	Nonce        string            `json:"n"`
	RedirectURI  string            `json:"r"`
	ReturnTo     string            `json:"t,omitempty"`
	AppValues    map[string]string `json:"a,omitempty"`
	Expires      int64             `json:"e"` // Unix seconds
	// SessionID is the id of the session this login creates when it
	// finishes. Creating that record is the login's single-use claim, and
	// a browser whose session cookie is this id has finished this login.
	SessionID string `json:"i,omitempty"`
}

// The first byte of every sealed login says how its plaintext is encoded;
// a new format takes a new number. Logins sealed as JSON (jsonLogin) are
// still opened, so that logins in flight when a site upgrades finish.
const (
	jsonLogin   = 1 // the plaintext is Login as JSON
	binaryLogin = 2 // the plaintext is Login in the layout of appendLogin
)

// sealLogin seals l for the cookie called name. The layout is
//
//	version (1 byte) | key epoch (uvarint) | GCM nonce (12 bytes) | ciphertext
//
// in base64url; the cookie's name and the header bytes are authenticated
// with the payload, so a value moved to another cookie fails to open.
func (m *Manager) sealLogin(ctx context.Context, name string, l Login) (string, error) {
	raw, err := m.sealLoginRaw(ctx, name, &l, nil)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(raw), nil
}

// sealLoginRaw appends l sealed for the cookie called name to dst, as
// sealLogin seals it but before base64url, for a caller that encodes it
// straight into its Set-Cookie line. Every auth-url call seals a login,
// so the plaintext is encoded and encrypted in place in a scratch buffer
// kept for the next call, and only the sealed bytes are copied to dst: a
// caller's buffer on the stack stays there.
func (m *Manager) sealLoginRaw(ctx context.Context, name string, l *Login, dst []byte) ([]byte, error) {
	epoch, aead, err := m.keys.current(ctx)
	if err != nil {
		m.storeFailed(ctx, "sealing_key", err)
		return dst, err
	}
	s := sealScratch.Get().(*sealBuffers)
	defer s.release()
	buf := s.out[:0]
	buf = append(buf, binaryLogin)
	buf = binary.AppendUvarint(buf, epoch)
	header := len(buf)
	body := header + aead.NonceSize()
	buf = slices.Grow(buf, aead.NonceSize()+l.encodedLen()+aead.Overhead())[:body]
	if _, err := rand.Read(buf[header:body]); err != nil {
		return dst, err
	}
	buf = l.appendTo(buf)
	s.ad = additionalData(s.ad[:0], name, buf[:header])
	buf = aead.Seal(buf[:body], buf[header:body], buf[body:], s.ad)
	s.out = buf
	return append(dst, buf...), nil
}

// sealScratch keeps the buffers sealLoginRaw seals in for the next call.
var sealScratch = sync.Pool{New: func() any { return new(sealBuffers) }}

// sealBuffers are one sealLoginRaw call's scratch: the sealed value and
// its additional data.
type sealBuffers struct{ out, ad []byte }

// maxScratch is the largest buffer kept for the next call: a login is
// at most a few kilobytes, and a rare larger one is not worth keeping.
const maxScratch = 8 << 10

// release puts s back for the next call, but for a buffer grown past
// maxScratch, which is dropped.
func (s *sealBuffers) release() {
	if cap(s.out) > maxScratch || cap(s.ad) > maxScratch {
		return
	}
	sealScratch.Put(s)
}

// openLogin opens the cookie called name and checks that it belongs to
// state and has not expired. Errors other than ErrLoginInvalid and
// ErrLoginExpired mean the keys could not be loaded.
func (m *Manager) openLogin(ctx context.Context, name, value, state string) (Login, error) {
	l, err := m.peekLogin(ctx, name, value)
	if err != nil {
		return Login{}, err
	}
	if subtle.ConstantTimeCompare([]byte(l.State), []byte(state)) != 1 {
		return Login{}, ErrLoginInvalid
	}
	if !m.now().Before(time.Unix(l.Expires, 0)) {
		return Login{}, ErrLoginExpired
	}
	if l.SessionID == "" {
		// A cookie sealed before logins named their session: its id is
		// derived from the code verifier, a secret only this cookie and
		// sgID's back channel hold, so every replay of it still names the
		// same session and the claim still holds.
		l.SessionID = legacySessionID(l.CodeVerifier)
	}
	return l, nil
}

// peekLogin opens a value sealed by sealLogin for the cookie name, without
// the checks of openLogin: for reading the expiry of a browser's logins.
func (m *Manager) peekLogin(ctx context.Context, name, value string) (Login, error) {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < 2 || raw[0] != jsonLogin && raw[0] != binaryLogin {
		return Login{}, ErrLoginInvalid
	}
	epoch, n := binary.Uvarint(raw[1:])
	if n <= 0 {
		return Login{}, ErrLoginInvalid
	}
	header := 1 + n
	aead, err := m.keys.forOpening(ctx, epoch)
	if errors.Is(err, errUnknownKey) {
		// An authentic cookie from an epoch long gone has expired; a forged
		// epoch cannot be told apart from it without the key, and both end
		// the login the same way.
		return Login{}, ErrLoginExpired
	}
	if err != nil {
		m.storeFailed(ctx, "sealing_key", err)
		return Login{}, err
	}
	if len(raw) < header+aead.NonceSize()+aead.Overhead() {
		return Login{}, ErrLoginInvalid
	}
	nonce := raw[header : header+aead.NonceSize()]
	var ad [128]byte
	plain, err := aead.Open(raw[header+aead.NonceSize():header+aead.NonceSize()], nonce, raw[header+aead.NonceSize():], additionalData(ad[:0], name, raw[:header]))
	if err != nil {
		return Login{}, ErrLoginInvalid
	}
	var l Login
	if raw[0] == jsonLogin {
		err = json.Unmarshal(plain, &l)
	} else {
		err = l.decode(plain)
	}
	if err != nil {
		return Login{}, ErrLoginInvalid
	}
	return l, nil
}

// additionalData appends what a sealed login authenticates besides its
// plaintext to dst: the cookie's name, a zero byte, and the sealed
// value's header.
func additionalData(dst []byte, name string, header []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, 0)
	return append(dst, header...)
}

// legacySessionID is the session id of a login sealed without one.
func legacySessionID(verifier string) string {
	key, _ := hkdf.Key(sha256.New, []byte(verifier), nil, "sgid session id of a login", 32)
	return base64.RawURLEncoding.EncodeToString(key)
}

// LoginsPerBrowser is how many logins one browser may have in flight: one
// per tab that pressed "log in".
const LoginsPerBrowser = 5

// loginCookie is one of a browser's login cookies, by the name it was
// sealed for.
type loginCookie struct{ Name, Value string }

// surplus returns the names of the login cookies a browser holding held
// must drop so that one more login fits within LoginsPerBrowser:
// unreadable ones first, then those that expire first.
func (m *Manager) surplus(ctx context.Context, held []loginCookie) []string {
	if len(held) < LoginsPerBrowser {
		return nil
	}
	type login struct {
		name    string
		expires int64 // 0 for unreadable ones
	}
	logins := make([]login, 0, len(held))
	for _, c := range held {
		l := login{name: c.Name}
		if p, err := m.peekLogin(ctx, c.Name, c.Value); err == nil {
			l.expires = p.Expires
		}
		logins = append(logins, l)
	}
	slices.SortFunc(logins, func(a, b login) int { return cmp.Compare(a.expires, b.expires) })
	out := make([]string, 0, len(logins)-LoginsPerBrowser+1)
	for _, l := range logins[:len(logins)-LoginsPerBrowser+1] {
		out = append(out, l.name)
	}
	return out
}
