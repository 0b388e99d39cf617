package session

import (
	"context"
	"errors"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/cookie"
	"github.com/caddy-sgid/caddy-sgid/store"
)

// Options configure a Manager.
type Options struct {
	// Store holds the sessions: a backend's scope, behind a read cache
	// when the backend is shared.
	Store store.Store
	// Raw is the same scope without the cache, for decisions that must
	// not rest on a copy (idle expiry, revocation, counting). Default:
	// Store.
	Raw store.Store
	// Secret, when set, is the secret the sealing and index keys are
	// derived from; without it they are made at random and kept in the
	// store.
	Secret []byte
	// LoginTimeout is how long a started login may take.
	LoginTimeout time.Duration
	// KeyRotation is how often the login sealing key changes.
	KeyRotation time.Duration
	// IdleTimeout ends sessions unused for this long; 0 turns it off.
	IdleTimeout time.Duration
	// MemoTTL is how long an opened session is kept for its user's next
	// request; 0 keeps none.
	MemoTTL time.Duration
	// Prepare makes, once per opened session, what the HTTP side needs for
	// each of its requests; Opened.View holds its result.
	Prepare func(Session) any
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Hooks are told of events the caller counts or logs.
	Hooks Hooks
	// Cookies reads and writes the session cookie (its Name) and the
	// login cookies named after it.
	Cookies cookie.Jar
	// Lifetime is how long a session lasts.
	Lifetime time.Duration
	// Scope names the store scope. The Managers of one scope in this
	// process (an old config during a reload, another site with the same
	// client) are peers: a revocation through one drops the others'
	// copies of the sessions it ends. Until Close.
	Scope string
}

// Hooks are called by a Manager for events its caller counts or logs. Any
// of them may be nil. They get the context of the call that caused the
// event, and must be quick and safe for concurrent use.
type Hooks struct {
	// StoreFailed is told of every failed store call, by a fixed
	// operation name; the error carries no key and no value.
	StoreFailed func(ctx context.Context, op string, err error)
	// IdleExpired is told of a session ended by the idle timeout.
	IdleExpired func(ctx context.Context)
	// Ended is told of the store key of every session this Manager ends,
	// whatever the reason.
	Ended func(key string)
}

// Manager runs the session lifecycle over one store scope. It is safe for
// concurrent use.
type Manager struct {
	st, raw      store.Store
	keys         *keyring
	index        *index
	seen         *seenWrites
	memo         *memo
	idle         time.Duration
	loginTimeout time.Duration
	prepare      func(Session) any
	now          func() time.Time
	hooks        Hooks
	cookies      cookie.Jar
	lifetime     time.Duration
	peers        *peers
}

// New returns a Manager for o.
func New(o Options) *Manager {
	if o.Raw == nil {
		o.Raw = o.Store
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Prepare == nil {
		o.Prepare = func(Session) any { return nil }
	}
	m := &Manager{
		st:           o.Store,
		raw:          o.Raw,
		index:        &index{store: o.Store, secret: o.Secret},
		seen:         newSeenWrites(),
		memo:         newMemo(o.MemoTTL, maxOpened),
		idle:         o.IdleTimeout,
		loginTimeout: o.LoginTimeout,
		prepare:      o.Prepare,
		now:          o.Now,
		hooks:        o.Hooks,
		cookies:      o.Cookies,
		lifetime:     o.Lifetime,
	}
	m.peers = joinPeers(o.Scope, m)
	m.keys = newKeyring(o.Store, o.Secret, o.KeyRotation, o.LoginTimeout)
	m.keys.now = o.Now
	return m
}

// lookup returns the live session of id (see Lookup).
func (m *Manager) lookup(ctx context.Context, id string, use Use) (*Opened, error) {
	if !ValidID(id) {
		return nil, nil
	}
	now := m.now()
	o, gone, err := m.remembered(ctx, m.st, id, now)
	if o == nil && !gone && err == nil {
		o, err = m.openStored(ctx, id, now)
	}
	if o == nil || err != nil {
		return nil, err
	}
	if !now.Before(o.Session.Expires) {
		return nil, nil
	}
	if m.idle > 0 {
		seen, ok, err := m.checkIdle(ctx, o.Key, o.Session, use, now)
		if err != nil {
			return nil, err
		}
		if !ok {
			m.memo.drop(o.Key)
			return nil, nil
		}
		if use != Used && !seen.IsZero() {
			// The memo's entry is shared by concurrent requests: the
			// time goes into a copy.
			c := *o
			c.IdleUntil = seen.Add(seenEvery + m.idle)
			return &c, nil
		}
	}
	return o, nil
}

// remembered returns the session the memo holds for id when st holds
// exactly the record it was opened from. It returns nil when the memo has
// none or the record has changed (the caller opens the stored one), and
// gone when the record is no longer there: the memo forgets it then.
func (m *Manager) remembered(ctx context.Context, st store.Store, id string, now time.Time) (o *Opened, gone bool, err error) {
	o = m.memo.get(id, now)
	if o == nil {
		return nil, false, nil
	}
	same, err := store.Same(ctx, st, o.Key, o.sealed)
	switch {
	case errors.Is(err, store.ErrNotFound):
		m.memo.drop(o.Key)
		return nil, true, nil
	case err != nil:
		m.storeFailed(ctx, "get", err)
		return nil, false, err
	case !same:
		return nil, false, nil
	}
	return o, false, nil
}

// openStored reads and opens the record of id and keeps what it opened in
// the memo. It returns nil, nil when there is no record or it does not
// open.
func (m *Manager) openStored(ctx context.Context, id string, now time.Time) (*Opened, error) {
	key := Key(id)
	sealed, err := m.st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		m.memo.drop(key)
		return nil, nil
	}
	if err != nil {
		m.storeFailed(ctx, "get", err)
		return nil, err
	}
	s, err := open(id, sealed)
	if err != nil {
		// An ended mark, or a record sealed for another id: whatever the
		// memo held for the key is stale.
		m.memo.drop(key)
		return nil, nil
	}
	o := &Opened{ID: id, Key: key, Session: s, View: m.prepare(s), sealed: sealed}
	if now.Before(s.Expires) {
		m.memo.put(o, now)
	}
	return o, nil
}

// finished reports whether the session of id exists or existed, that is,
// whether the login that names id (Login.SessionID) has been finished,
// whether or not the session it made is still live.
func (m *Manager) finished(ctx context.Context, id string) (bool, error) {
	_, err := m.st.Get(ctx, Key(id))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	}
	m.storeFailed(ctx, "get", err)
	return false, err
}

// create stores s as the session of id, the SessionID of the login that
// made it, with its listing info (its login and device, the browser's
// coarse label), and files it in its user's index. The record's creation
// is the login's claim: created is false, and nothing is stored, when the
// session of id exists or existed (the login was finished before).
func (m *Manager) create(ctx context.Context, id string, s Session, device string) (created bool, err error) {
	_, created, err = m.createRecord(ctx, id, s, device)
	return created, err
}

// createRecord is create, which also returns the record it stored.
func (m *Manager) createRecord(ctx context.Context, id string, s Session, device string) (rec []byte, created bool, err error) {
	if s.Login.IsZero() {
		s.Login = m.now()
	}
	key := Key(id)
	// The info's key, like the index set's name, comes from the index
	// key: a session that could not be filed is not made.
	_, infoKey, err := m.index.keys(ctx)
	if err != nil {
		m.storeFailed(ctx, "index", err)
		return nil, false, err
	}
	aead, err := userAEAD(infoKey, s.Sub)
	if err != nil {
		return nil, false, err
	}
	body, err := seal(id, s)
	if err != nil {
		return nil, false, err
	}
	info, err := sealInfo(aead, key, s.Login, device)
	if err != nil {
		return nil, false, err
	}
	rec = frame(info, body)
	set, err := m.index.set(ctx, s.Sub)
	if err != nil {
		m.storeFailed(ctx, "index", err)
		return nil, false, err
	}
	// The record and its index entry in one call, which a store may make
	// cheaper than two (one file for both on the file system).
	created, err = store.CreateInSet(ctx, m.st, key, rec, s.Expires.Sub(m.now()), set)
	switch {
	case err != nil && created:
		// A session missing from the index could not be revoked, so it
		// is not handed out.
		m.storeFailed(ctx, "index", err)
		_ = m.st.Delete(ctx, key)
		return nil, false, err
	case err != nil:
		m.storeFailed(ctx, "put", err)
		return nil, false, err
	case !created:
		return nil, false, nil
	}
	return rec, true, nil
}

// deviceOf is the device label in the listing info of rec, the record of
// the session filed under key for sub, or "" when it has none (a record
// made before listing info existed) or it does not open.
func (m *Manager) deviceOf(ctx context.Context, key, sub string, rec []byte) string {
	info, _, ok := split(rec)
	if !ok {
		return ""
	}
	_, infoKey, err := m.index.keys(ctx)
	if err != nil {
		return ""
	}
	aead, err := userAEAD(infoKey, sub)
	if err != nil {
		return ""
	}
	_, label, err := openInfo(aead, key, info)
	if err != nil {
		return ""
	}
	return label
}

// endID ends the session of id, if there is one.
func (m *Manager) endID(ctx context.Context, id string) error {
	if !ValidID(id) {
		return nil
	}
	key := Key(id)
	sealed, err := m.st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		m.storeFailed(ctx, "get", err)
		return err
	}
	s, err := open(id, sealed)
	return m.end(ctx, m.st, key, s, err == nil)
}

// ended is the record an ended session leaves while the login that created
// it could still be replayed: it opens to nothing, and it makes Create of
// the same id fail, so the login stays finished.
var ended = []byte{0}

// end ends the session s filed under key: its record, its last use and,
// when known (s opened), its entry in its user's index.
func (m *Manager) end(ctx context.Context, st store.Store, key string, s Session, known bool) error {
	if err := m.endRecord(ctx, st, key, s.Login, known); err != nil {
		return err
	}
	if !known {
		return nil
	}
	return m.unindex(ctx, st, key, s.Sub)
}

// unindex takes the session filed under key out of the index of sub.
func (m *Manager) unindex(ctx context.Context, st store.Store, key, sub string) error {
	set, err := m.index.set(ctx, sub)
	if err == nil {
		err = st.RemoveMember(ctx, set, key)
	}
	if err != nil {
		m.storeFailed(ctx, "index", err)
	}
	return err
}

// endRecord replaces the record under key by the ended mark until no
// login that could have created it can still finish (login_timeout after
// the login, or after now when the login time is unknown), and deletes it
// once that time has passed; it deletes the last use too.
func (m *Manager) endRecord(ctx context.Context, st store.Store, key string, login time.Time, known bool) error {
	m.memo.drop(key)
	now := m.now()
	until := now.Add(m.loginTimeout)
	if known && !login.IsZero() {
		until = login.Add(m.loginTimeout)
	}
	var err error
	if now.Before(until) {
		err = st.Put(ctx, key, ended, until.Sub(now))
	} else {
		err = st.Delete(ctx, key)
	}
	if err == nil {
		err = st.Delete(ctx, seenKey(key))
	}
	if err != nil {
		m.storeFailed(ctx, "delete", err)
		return err
	}
	if f := m.hooks.Ended; f != nil {
		f(key)
	}
	return nil
}

// Target names the sessions Revoke ends. Make one with AllSessions,
// UserSessions or OneSession; the zero Target names none.
type Target struct {
	kind        targetKind
	sub, handle string
}

type targetKind int

const (
	noTarget targetKind = iota
	allSessions
	userSessions
	oneSession
)

// AllSessions names every session of the scope.
func AllSessions() Target { return Target{kind: allSessions} }

// UserSessions names every session of sub.
func UserSessions(sub string) Target { return Target{kind: userSessions, sub: sub} }

// OneSession names the session of sub that List shows under handle. A
// handle is looked for among sub's sessions only, so a handle of another
// user's session names nothing.
func OneSession(sub, handle string) Target {
	return Target{kind: oneSession, sub: sub, handle: handle}
}

// errNoTarget is Revoke's answer to the zero Target.
var errNoTarget = errors.New("session: Revoke needs a Target made by AllSessions, UserSessions or OneSession")

// Revoke ends the sessions t names and returns how many it ended. Each
// ending also goes through the stores of the Manager's peers (see
// Options.Scope), so that none of their caches keeps serving an ended
// session, and is told to Hooks.Ended, so that its upgraded connections
// close.
func (m *Manager) Revoke(ctx context.Context, t Target) (int, error) {
	switch t.kind {
	case allSessions:
		return m.revokeAll(ctx)
	case userSessions:
	case oneSession:
		if !validHandle(t.handle) {
			return 0, nil
		}
	default:
		return 0, errNoTarget
	}
	set, err := m.index.set(ctx, t.sub)
	if err != nil {
		m.storeFailed(ctx, "index", err)
		return 0, err
	}
	members, err := m.raw.Members(ctx, set)
	if err != nil {
		m.storeFailed(ctx, "index", err)
		return 0, err
	}
	if t.kind == oneSession {
		handleKey, _, err := m.index.keys(ctx)
		if err != nil {
			return 0, err
		}
		key, ok := withHandle(handleKey, members, t.handle)
		if !ok {
			return 0, nil
		}
		members = []string{key}
	}
	return m.revokeKeys(ctx, set, members)
}

// revokeAll ends every session of the scope, set by set.
func (m *Manager) revokeAll(ctx context.Context) (int, error) {
	sets, err := m.raw.Sets(ctx)
	if err != nil {
		m.storeFailed(ctx, "index", err)
		return 0, err
	}
	total := 0
	for _, set := range sets {
		members, err := m.raw.Members(ctx, set)
		if err != nil {
			m.storeFailed(ctx, "index", err)
			return total, err
		}
		n, err := m.revokeKeys(ctx, set, members)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// revokeKeys ends the sessions filed under keys, members of set, and takes
// exactly those out of it: a session filed in the set while this runs (a
// login during the revocation) keeps its entry, so a later revocation
// still finds it.
func (m *Manager) revokeKeys(ctx context.Context, set string, keys []string) (int, error) {
	peers := m.peers.others(m)
	for i, key := range keys {
		// The peers drop their cached copies first, so that the ended
		// mark written last through this Manager is what the store keeps.
		for _, p := range peers {
			p.memo.drop(key)
			_ = p.st.Delete(ctx, key)
			_ = p.st.Delete(ctx, seenKey(key))
		}
		if err := m.endRecord(ctx, m.st, key, time.Time{}, false); err != nil {
			return i, err
		}
		if err := m.raw.RemoveMember(ctx, set, key); err != nil {
			m.storeFailed(ctx, "index", err)
			return i + 1, err
		}
	}
	return len(keys), nil
}

// counter is a store that counts its sessions exactly and cheaply
// (memory).
type counter interface{ MemberCount() int }

// Count returns the sessions of the scope: exact from a store that counts
// its index entries (memory, where an entry leaves with its session), else,
// when list is set, the live entries of the index, read set by set (a
// listing or SCAN of the store: an administrative call). Without list, a
// store that cannot count cheaply answers 0, not exact, at no cost: for a
// metric read at every scrape.
func (m *Manager) Count(ctx context.Context, list bool) (n int, exact bool, err error) {
	if c, ok := m.raw.(counter); ok {
		return c.MemberCount(), true, nil
	}
	if !list {
		return 0, false, nil
	}
	sets, err := m.raw.Sets(ctx)
	if err != nil {
		m.storeFailed(ctx, "index", err)
		return 0, false, err
	}
	for _, set := range sets {
		members, err := m.raw.Members(ctx, set)
		if err != nil {
			m.storeFailed(ctx, "index", err)
			return 0, false, err
		}
		n += len(members)
	}
	return n, false, nil
}

func (m *Manager) storeFailed(ctx context.Context, op string, err error) {
	if f := m.hooks.StoreFailed; f != nil {
		f(ctx, op, err)
	}
}
