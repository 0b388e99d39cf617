package caddysgid

import (
	"container/list"
	"context"
	"crypto/subtle"
	"errors"
	"sync"
	"time"
)

// errNotFound is returned by a sessionStore for an id it does not hold or that has
// expired.
var errNotFound = errors.New("sgid: not found or expired")

// pendingLogin is a login that was started by auth-url and waits for sgID's
// callback. It is server-side only: the browser holds just the random id of
// its login slot.
type pendingLogin struct {
	State        string            `json:"state"`
	CodeVerifier string            `json:"code_verifier"`
	Nonce        string            `json:"nonce"`
	RedirectURI  string            `json:"redirect_uri"`
	ReturnTo     string            `json:"return_to,omitempty"`
	AppValues    map[string]string `json:"app_values,omitempty"`
	Expires      time.Time         `json:"expires"`
}

// session is a logged-in user.
type session struct {
	Sub     string            `json:"sub"`
	Data    map[string]string `json:"data"`
	Expires time.Time         `json:"expires"`
}

// sessionStore keeps pending logins and sessions. Keys are already hashed by the
// handler, so a sessionStore never sees a cookie value. Implementations must be
// safe for concurrent use and must expire entries at their Expires time.
type sessionStore interface {
	// AddPending adds a login to the browser's slot, keeping at most
	// maxPerBrowser logins per slot (the oldest are dropped), so several tabs
	// can log in at once.
	AddPending(ctx context.Context, key string, p pendingLogin, maxPerBrowser int) error
	// TakePending removes and returns the login of the slot whose state
	// equals state. It returns errNotFound when the slot is unknown or
	// expired, and errStateMismatch when no login in it has that state. A
	// login can be taken once.
	TakePending(ctx context.Context, key, state string) (pendingLogin, error)
	// DeletePending drops the whole slot.
	DeletePending(ctx context.Context, key string) error

	PutSession(ctx context.Context, key string, s session) error
	GetSession(ctx context.Context, key string) (session, error)
	DeleteSession(ctx context.Context, key string) error
}

// errStateMismatch is returned by TakePending when the slot exists but no
// login in it carries the given state.
var errStateMismatch = errors.New("sgid: state does not match any pending login")

// takeByState finds the login with the given state, comparing in constant
// time, and returns it with the remaining logins.
func takeByState(logins []pendingLogin, state string, now time.Time) (pendingLogin, []pendingLogin, bool) {
	found := -1
	for i := range logins {
		if subtle.ConstantTimeCompare([]byte(logins[i].State), []byte(state)) == 1 && now.Before(logins[i].Expires) {
			found = i
		}
	}
	if found < 0 {
		return pendingLogin{}, logins, false
	}
	p := logins[found]
	rest := append(logins[:found:found], logins[found+1:]...)
	return p, rest, true
}

// memoryStore is the default sessionStore: two bounded maps in memory, each with
// entries in a list ordered by expiry so sweeping is cheap. Pending logins
// and sessions have separate bounds, so a flood of auth-url calls can only
// push out other pending logins, never a logged-in user.
type memoryStore struct {
	pending *boundedMap[[]pendingLogin]
	session *boundedMap[session]
	// now is the clock that decides expiry; tests move it forward instead
	// of waiting.
	now func() time.Time
}

func newMemoryStore(maxPending, maxSessions int) *memoryStore {
	return &memoryStore{
		pending: newBoundedMap[[]pendingLogin](maxPending),
		session: newBoundedMap[session](maxSessions),
		now:     time.Now,
	}
}

func (m *memoryStore) AddPending(_ context.Context, key string, p pendingLogin, maxPerBrowser int) error {
	m.pending.update(key, p.Expires, m.now(), func(logins []pendingLogin, ok bool) []pendingLogin {
		logins = append(logins, p)
		if len(logins) > maxPerBrowser {
			logins = append([]pendingLogin(nil), logins[len(logins)-maxPerBrowser:]...)
		}
		return logins
	})
	return nil
}

func (m *memoryStore) TakePending(_ context.Context, key, state string) (pendingLogin, error) {
	t := m.now()
	m.pending.mu.Lock()
	defer m.pending.mu.Unlock()
	logins, ok := m.pending.getLocked(key, t)
	if !ok {
		return pendingLogin{}, errNotFound
	}
	taken, rest, found := takeByState(logins, state, t)
	if !found {
		return pendingLogin{}, errStateMismatch
	}
	if len(rest) == 0 {
		m.pending.deleteLocked(key)
	} else {
		m.pending.setValueLocked(key, rest)
	}
	return taken, nil
}

func (m *memoryStore) DeletePending(_ context.Context, key string) error {
	m.pending.delete(key)
	return nil
}

func (m *memoryStore) PutSession(_ context.Context, key string, s session) error {
	m.session.update(key, s.Expires, m.now(), func(session, bool) session { return s })
	return nil
}

func (m *memoryStore) GetSession(_ context.Context, key string) (session, error) {
	t := m.now()
	m.session.mu.Lock()
	defer m.session.mu.Unlock()
	s, ok := m.session.getLocked(key, t)
	if !ok {
		return session{}, errNotFound
	}
	return s, nil
}

func (m *memoryStore) DeleteSession(_ context.Context, key string) error {
	m.session.delete(key)
	return nil
}

// sweep drops expired entries of both maps.
func (m *memoryStore) sweep() {
	t := m.now()
	m.pending.sweep(t)
	m.session.sweep(t)
}

// len reports the number of live slots and sessions (for tests and metrics).
func (m *memoryStore) len() (pending, sessions int) {
	return m.pending.len(), m.session.len()
}

// boundedMap is a map with expiring entries and a maximum size. Its list is
// kept in insertion order; since every entry of one map gets the same
// lifetime, that is also expiry order, so the front is always the next to
// expire and, when the map is full, the one to evict.
type boundedMap[V any] struct {
	mu    sync.Mutex
	max   int
	items map[string]*list.Element
	order *list.List // of *entry[V]
}

type entry[V any] struct {
	key     string
	value   V
	expires time.Time
}

func newBoundedMap[V any](max int) *boundedMap[V] {
	return &boundedMap[V]{max: max, items: make(map[string]*list.Element), order: list.New()}
}

// update sets key to f(old, existed) with a new expiry, moving it to the
// back. When adding would exceed the bound, the entries expired at now go
// first, then the oldest.
func (b *boundedMap[V]) update(key string, expires, now time.Time, f func(old V, ok bool) V) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if el, ok := b.items[key]; ok {
		e := el.Value.(*entry[V])
		var old V
		live := now.Before(e.expires)
		if live {
			old = e.value
		}
		e.value = f(old, live)
		e.expires = expires
		b.order.MoveToBack(el)
		return
	}
	b.sweepLocked(now)
	for len(b.items) >= b.max {
		b.deleteLocked(b.order.Front().Value.(*entry[V]).key)
	}
	var zero V
	b.items[key] = b.order.PushBack(&entry[V]{key: key, value: f(zero, false), expires: expires})
}

// getLocked returns the value of key unless it has expired at now.
func (b *boundedMap[V]) getLocked(key string, now time.Time) (V, bool) {
	var zero V
	el, ok := b.items[key]
	if !ok {
		return zero, false
	}
	e := el.Value.(*entry[V])
	if !now.Before(e.expires) {
		b.deleteLocked(key)
		return zero, false
	}
	return e.value, true
}

func (b *boundedMap[V]) setValueLocked(key string, v V) {
	if el, ok := b.items[key]; ok {
		el.Value.(*entry[V]).value = v
	}
}

func (b *boundedMap[V]) delete(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.deleteLocked(key)
}

func (b *boundedMap[V]) deleteLocked(key string) {
	if el, ok := b.items[key]; ok {
		b.order.Remove(el)
		delete(b.items, key)
	}
}

func (b *boundedMap[V]) sweep(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sweepLocked(now)
}

// sweepLocked drops the entries expired at now from the front. It stops at the first
// live entry: behind it, entries expire later (see the type's comment); an
// entry whose lifetime changed with a config reload is caught by getLocked.
func (b *boundedMap[V]) sweepLocked(now time.Time) {
	for el := b.order.Front(); el != nil; el = b.order.Front() {
		e := el.Value.(*entry[V])
		if now.Before(e.expires) {
			return
		}
		b.deleteLocked(e.key)
	}
}

func (b *boundedMap[V]) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.items)
}
