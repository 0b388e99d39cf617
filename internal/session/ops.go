package session

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/caddy-sgid/caddy-sgid/internal/cookie"
	"github.com/caddy-sgid/caddy-sgid/internal/device"
)

// The whole operations of a login and a session, as the HTTP side needs
// them: each reads and writes the cookies it concerns itself (the
// session cookie and the sealed login cookies, see Options.Cookies), so
// the caller never puts the protocol's steps in order.

// Why a login could not start or finish. The callback maps them to its
// error reasons; any other error means the store (or the keys in it)
// could not be reached.
var (
	// ErrNoLogin: the browser holds no login cookie at all (cookies
	// blocked, or the callback opened in another browser).
	ErrNoLogin = errors.New("no login in progress in this browser")
	// ErrLoginInvalid: the browser holds logins, but none for this state,
	// or one that was not sealed by this site for it.
	ErrLoginInvalid = errors.New("login cookie is not valid for this login")
	// ErrLoginExpired: authentic, but its login timed out or its key has
	// been rotated out.
	ErrLoginExpired = errors.New("login expired")
	// ErrLoginFinished: the login was finished before, by another browser
	// or with a copy of its cookie, or at the same time by another
	// request.
	ErrLoginFinished = errors.New("login was already finished")
	// ErrLoginReplayed: this browser finished the login already (some
	// machines fetch the callback twice); PendingLogin returns the login
	// with it, so the caller can land where the first callback did.
	ErrLoginReplayed = errors.New("login was finished by this browser")
	// ErrLoginTooLarge: return_to and the app values do not fit in a
	// cookie.
	ErrLoginTooLarge = errors.New("login too large for a cookie")
	// ErrLoginAbandoned: sgID ended the login with an error (the
	// callback's error parameter); PendingLogin expired its cookie, and
	// returns the login with it.
	ErrLoginAbandoned = errors.New("sgID ended the login with an error")
	// ErrSessionGone: the session Amend was to change ended, or was
	// changed, since it was looked up.
	ErrSessionGone = errors.New("the session ended or changed meanwhile")
)

// maxLoginCookie bounds a login cookie's name and value together: browsers
// keep at least 4096 bytes per cookie, attributes included.
const maxLoginCookie = 4000

// LoginRequest is what the caller knows of a login it starts.
type LoginRequest struct {
	// RedirectURI is the callback URL sgID will send the browser to.
	RedirectURI string
	// ReturnTo is the local path to land on after the login, or "".
	ReturnTo string
	// AppValues are the app's values to hand back with the session.
	AppValues map[string]string
}

// Started is what sgID's authorization URL needs of a started login.
type Started struct {
	State, Nonce, CodeChallenge string
}

// StartLogin starts a login for the browser of r: it draws the login's
// secrets and the id of the session it will create, seals them into a
// login cookie of their own (named after the state, so each tab's login
// is found by its own callback) and sets it on w, after dropping the
// browser's oldest logins beyond LoginsPerBrowser. Nothing is stored.
func (m *Manager) StartLogin(ctx context.Context, w http.ResponseWriter, r *http.Request, req LoginRequest) (Started, error) {
	// Four secrets of 256 bits each, drawn at once.
	var state, verifier, nonce, sessionID string
	FillIDs(&state, &verifier, &nonce, &sessionID)
	name := cookie.LoginName(m.cookies.Name, state)
	l := Login{
		State:        state,
		CodeVerifier: verifier,
		Nonce:        nonce,
		RedirectURI:  req.RedirectURI,
		ReturnTo:     req.ReturnTo,
		AppValues:    req.AppValues,
		Expires:      m.now().Add(m.loginTimeout).Unix(),
		SessionID:    sessionID,
	}
	// Sealed into a buffer on the stack and base64url-encoded straight
	// into the Set-Cookie line: the line is the cookie's one allocation.
	// A login is about 300 bytes sealed; one with a long return_to or app
	// values outgrows the buffer and is sealed on the heap.
	var buf [512]byte
	sealed, err := m.sealLoginRaw(ctx, name, &l, buf[:0])
	if err != nil {
		return Started{}, err
	}
	if len(name)+cookie.EncodedLen(len(sealed)) > maxLoginCookie {
		return Started{}, ErrLoginTooLarge
	}
	var held []loginCookie
	for _, c := range r.Cookies() {
		if base, ok := m.cookies.LoginBase(r, c); ok {
			held = append(held, loginCookie{Name: base, Value: c.Value})
		}
	}
	for _, old := range m.surplus(ctx, held) {
		m.cookies.Set(w, r, old, "", -1)
	}
	m.cookies.SetBase64(w, r, name, sealed, m.loginTimeout)
	return Started{State: state, Nonce: nonce, CodeChallenge: codeChallenge(verifier)}, nil
}

// codeChallenge is PKCE's S256 challenge of verifier.
func codeChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// PendingLogin is the login that sgID's callback r names by its state,
// ready to be finished: sealed by this site for this state, in the
// browser of r, not expired, and not finished before. With
// ErrLoginReplayed it returns the login too. When sgID ended the login
// with an error (the callback's error parameter), the login can never
// finish: PendingLogin expires its cookie on w and returns it with
// ErrLoginAbandoned; the caller reads the error's code itself.
func (m *Manager) PendingLogin(ctx context.Context, w http.ResponseWriter, r *http.Request) (Login, error) {
	q := r.URL.Query()
	state := q.Get("state")
	name := cookie.LoginName(m.cookies.Name, state)
	c, err := m.cookies.Get(r, name)
	if err != nil {
		if m.cookies.HasLogin(r) {
			return Login{}, ErrLoginInvalid
		}
		return Login{}, ErrNoLogin
	}
	l, err := m.openLogin(ctx, name, c.Value, state)
	if err != nil {
		return Login{}, err
	}
	if id, ok := m.cookies.Value(r, m.cookies.Name); ok && sameID(id, l.SessionID) {
		if o, err := m.lookup(ctx, id, Used); err == nil && o != nil {
			return l, ErrLoginReplayed
		}
	}
	if done, err := m.finished(ctx, l.SessionID); err != nil {
		return Login{}, err
	} else if done {
		return Login{}, ErrLoginFinished
	}
	if q.Get("error") != "" {
		m.cookies.Set(w, r, name, "", -1)
		return l, ErrLoginAbandoned
	}
	return l, nil
}

// Finish finishes login l, which PendingLogin returned, for the user s
// (its Sub and Data; its Expires, when zero, becomes the session
// lifetime from now): it ends the browser's earlier session, stores the
// new one (with the coarse label of the browser of r, for List) under the
// id sealed in the login (so an id planted before the login never becomes
// a logged-in one) and sets the session cookie. The store's creation of
// the record is the login's single-use claim: ErrLoginFinished when
// another request won it.
func (m *Manager) Finish(ctx context.Context, w http.ResponseWriter, r *http.Request, l Login, s Session) (Session, error) {
	if old, ok := m.cookies.Value(r, m.cookies.Name); ok {
		_ = m.endID(ctx, old)
	}
	now := m.now()
	if s.Expires.IsZero() {
		s.Expires = now.Add(m.lifetime)
	}
	if s.Login.IsZero() {
		s.Login = now
	}
	created, err := m.create(ctx, l.SessionID, s, device.Label(r.UserAgent()))
	if err != nil {
		return Session{}, err
	}
	if !created {
		return Session{}, ErrLoginFinished
	}
	m.cookies.Set(w, r, m.cookies.Name, l.SessionID, s.Expires.Sub(now))
	return s, nil
}

// Use says what a Lookup counts as for the idle timeout.
type Use int

const (
	// Used is a request of the user: recorded as a use at most once per
	// minute (the default).
	Used Use = iota
	// Peek only looks: no use is recorded, so a page that polls its
	// session lets it end. It fills Opened.IdleUntil.
	Peek
	// Extend is the user asking to stay: the use is recorded now, moving
	// the idle end as far as it goes. It fills Opened.IdleUntil.
	Extend
)

// Lookup returns the live session the session cookie of r names, or nil
// when there is none (no cookie, unknown, expired, idle too long, or a
// record that does not open). The error is set only when the store could
// not answer: the caller must then not say "logged out". The store is
// asked on every call; only the hashing of the id and the opening of its
// record are skipped when the memo holds a session opened from the
// record the store holds now. use, at most one, says what the lookup
// counts as (default Used).
func (m *Manager) Lookup(ctx context.Context, r *http.Request, use ...Use) (*Opened, error) {
	id, ok := m.cookies.Value(r, m.cookies.Name)
	if !ok {
		return nil, nil
	}
	u := Used
	if len(use) > 0 {
		u = use[0]
	}
	return m.lookup(ctx, id, u)
}

// Logout ends o (nil: no session) and expires every cookie of the
// handler in the browser of r: the session cookie and its logins.
func (m *Manager) Logout(ctx context.Context, w http.ResponseWriter, r *http.Request, o *Opened) error {
	if o != nil {
		if err := m.end(ctx, m.st, o.Key, o.Session, true); err != nil {
			return err
		}
	}
	m.cookies.ExpireAll(w, r)
	return nil
}
