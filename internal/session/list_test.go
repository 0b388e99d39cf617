package session

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/device"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
	"github.com/caddy-sgid/caddy-sgid/store"
)

// User-Agent headers of three browsers.
const (
	chromeOnMac     = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
	firefoxOnWin    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0"
	safariOnIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	sessionLifetime = 12 * time.Hour
)

// finishAs logs sub in through Finish from a browser sending userAgent and
// returns the session's id.
func finishAs(t *testing.T, m *Manager, sub, userAgent string) string {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/api/redirect", nil)
	r.Header.Set("User-Agent", userAgent)
	id := NewID()
	if _, err := m.Finish(t.Context(), httptest.NewRecorder(), r, Login{SessionID: id}, Session{Sub: sub, Expires: m.now().Add(sessionLifetime)}); err != nil {
		t.Fatal(err)
	}
	return id
}

// opened is the live session of id, as a request of its user finds it.
func opened(t *testing.T, m *Manager, id string) *Opened {
	t.Helper()
	o, err := m.lookup(t.Context(), id, Used)
	if err != nil || o == nil {
		t.Fatalf("lookup: %v, %v", o, err)
	}
	return o
}

// list is m.List for the session of id, failing the test on an error.
func list(t *testing.T, m *Manager, id string) []Entry {
	t.Helper()
	entries, more, err := m.List(t.Context(), opened(t, m, id))
	if err != nil || more {
		t.Fatalf("List: more %v, %v", more, err)
	}
	return entries
}

// handleOfID is the handle List shows for the session of id.
func handleOfID(t *testing.T, m *Manager, id string) string {
	t.Helper()
	for _, e := range list(t, m, id) {
		if e.Current {
			return e.Handle
		}
	}
	t.Fatal("List shows no current session")
	return ""
}

// TestListShowsTheUsersOwnSessions: List shows every session of the
// caller's user and no other user's, the caller's first and then the most
// recent, each with its login to the minute, its browser's coarse label
// and a handle that is neither the id nor the store key; without an idle
// timeout the last use shown is the login.
func TestListShowsTheUsersOwnSessions(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart.Add(90 * time.Second))
	m := newManager(memoryScope(t, 100), clk, nil)
	mac := finishAs(t, m, "alice", chromeOnMac)
	clk.Advance(2 * time.Minute)
	win := finishAs(t, m, "alice", firefoxOnWin)
	clk.Advance(time.Minute)
	phone := finishAs(t, m, "alice", safariOnIPhone)
	bob := finishAs(t, m, "bob", chromeOnMac)

	got := list(t, m, win)
	want := []struct {
		id, device string
		created    time.Time
	}{
		{win, "Firefox on Windows", clockStart.Add(3 * time.Minute)},
		{phone, "Safari on iOS", clockStart.Add(4 * time.Minute)},
		{mac, "Chrome on macOS", clockStart.Add(time.Minute)},
	}
	if len(got) != len(want) {
		t.Fatalf("List = %+v, want alice's %d sessions", got, len(want))
	}
	seen := map[string]bool{}
	for i, w := range want {
		e := got[i]
		if e.Current != (i == 0) || e.Device != w.device || !e.Created.Equal(w.created) || !e.LastSeen.Equal(w.created) {
			t.Errorf("entry %d = %+v, want device %q, created and last seen %v, current %v", i, e, w.device, w.created, i == 0)
		}
		if len(e.Handle) != handleLen || seen[e.Handle] || strings.Contains(w.id, e.Handle) || strings.Contains(Key(w.id), e.Handle) {
			t.Errorf("entry %d: handle %q is not a fresh handle apart from the id and the store key", i, e.Handle)
		}
		seen[e.Handle] = true
	}
	if b := list(t, m, bob); len(b) != 1 || !b[0].Current || seen[b[0].Handle] {
		t.Errorf("bob's list = %+v, want his one session", b)
	}
	if again := list(t, m, mac); again[0].Handle != got[2].Handle || !again[0].Current {
		t.Errorf("listed from another session, the handles change: %+v", again)
	}
}

// TestListAndRevokeAcrossInstances: two Managers on one store (two
// instances), with the index key in the store or derived from a secret,
// show the same handles, and a session ended through one by its handle is
// ended for the other.
func TestListAndRevokeAcrossInstances(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		secret []byte
	}{{"stored index key", nil}, {"sealing key", testSecret}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := testclock.New(clockStart)
			st := memoryScope(t, 100)
			edit := func(o *Options) { o.Secret, o.MemoTTL = tc.secret, time.Hour }
			a, b := newManager(st, clk, edit), newManager(st, clk, edit)
			onA, onB := finishAs(t, a, "alice", chromeOnMac), finishAs(t, b, "alice", firefoxOnWin)
			fromA, fromB := list(t, a, onA), list(t, b, onB)
			if len(fromA) != 2 || len(fromB) != 2 || fromA[0].Handle != fromB[1].Handle || fromA[1].Handle != fromB[0].Handle || fromB[1].Device != "Chrome on macOS" {
				t.Fatalf("A lists %+v, B lists %+v: want the same two sessions", fromA, fromB)
			}
			if n, err := b.Revoke(t.Context(), OneSession("alice", fromB[1].Handle)); err != nil || n != 1 {
				t.Fatalf("ending A's session through B: %d, %v", n, err)
			}
			if live(t, a, onA) {
				t.Error("the session ended through B still lives on A")
			}
			if !live(t, a, onB) {
				t.Error("B's own session ended too")
			}
		})
	}
}

// TestRevokeOneSession: OneSession ends exactly the session its handle
// names among the user's own, tells Ended, and leaves the index; a handle
// of another user's session, a malformed one or one already used ends
// nothing, and the zero Target is refused.
func TestRevokeOneSession(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	st := spy(memoryScope(t, 100))
	var ended []string
	m := newManager(st, clk, func(o *Options) { o.Hooks.Ended = func(key string) { ended = append(ended, key) } })
	keep, drop := finishAs(t, m, "alice", chromeOnMac), finishAs(t, m, "alice", firefoxOnWin)
	bob := finishAs(t, m, "bob", safariOnIPhone)
	aliceHandle, bobHandle := handleOfID(t, m, drop), handleOfID(t, m, bob)

	before := st.writes.Load()
	for _, tc := range []struct{ name, sub, handle string }{
		{"bob's handle for alice", "alice", bobHandle},
		{"alice's handle for bob", "bob", aliceHandle},
		{"empty", "alice", ""},
		{"too short", "alice", aliceHandle[1:]},
		{"too long", "alice", aliceHandle + "A"},
		{"not base64url", "alice", aliceHandle[:handleLen-1] + "/"},
		{"the store key", "alice", Key(drop)},
		{"the id", "alice", drop},
	} {
		if n, err := m.Revoke(t.Context(), OneSession(tc.sub, tc.handle)); err != nil || n != 0 {
			t.Errorf("%s: ended %d, %v; want nothing", tc.name, n, err)
		}
	}
	if w := st.writes.Load(); w != before || len(ended) != 0 {
		t.Fatalf("refused handles wrote %d times and ended %q", w-before, ended)
	}
	// A malformed handle costs no store call: the store being down shows.
	down := newManager(&failingStore{Store: st, err: errors.New("store down")}, clk, nil)
	if n, err := down.Revoke(t.Context(), OneSession("alice", aliceHandle[1:])); err != nil || n != 0 {
		t.Errorf("a malformed handle reached the store: %d, %v", n, err)
	}
	if _, err := down.Revoke(t.Context(), OneSession("alice", aliceHandle)); err == nil {
		t.Fatal("a handle did not reach the store; the check above shows nothing")
	}
	if n, err := m.Revoke(t.Context(), OneSession("alice", aliceHandle)); err != nil || n != 1 {
		t.Fatalf("ending alice's session by its handle: %d, %v", n, err)
	}
	if live(t, m, drop) || !live(t, m, keep) || !live(t, m, bob) {
		t.Fatalf("after ending one session: it lives %v, alice's other %v, bob's %v", live(t, m, drop), live(t, m, keep), live(t, m, bob))
	}
	if !slices.Equal(ended, []string{Key(drop)}) {
		t.Errorf("Ended told %q, want the one session's key", ended)
	}
	if count(t, m) != 2 || len(list(t, m, keep)) != 1 {
		t.Errorf("the ended session is still counted (%d) or listed", count(t, m))
	}
	if n, err := m.Revoke(t.Context(), OneSession("alice", aliceHandle)); err != nil || n != 0 {
		t.Errorf("the same handle again ended %d, %v", n, err)
	}
	if n, err := m.Revoke(t.Context(), Target{}); !errors.Is(err, errNoTarget) || n != 0 {
		t.Errorf("the zero Target: %d, %v; want errNoTarget", n, err)
	}
}

// TestListLastSeenAndIdle: under an idle timeout, the last use shown is
// the last recorded one, to the minute, and a session idle too long is
// left out of the list although no request has ended it yet.
func TestListLastSeenAndIdle(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	st := memoryScope(t, 100)
	m := idleManager(st, clk, 30*time.Minute, nil)
	cur, used, stale := finishAs(t, m, "alice", chromeOnMac), finishAs(t, m, "alice", firefoxOnWin), finishAs(t, m, "alice", safariOnIPhone)
	clk.Advance(20 * time.Minute)
	live(t, m, cur)
	clk.Advance(5*time.Minute + 30*time.Second)
	live(t, m, used)
	clk.Advance(6 * time.Minute) // stale: 32 minutes unused
	got := list(t, m, cur)
	if len(got) != 2 || got[1].Device != "Firefox on Windows" {
		t.Fatalf("List = %+v, want the two sessions in use", got)
	}
	if want := clockStart.Add(31 * time.Minute); !got[0].LastSeen.Equal(want) || !got[0].Created.Equal(clockStart) {
		t.Errorf("this session: %+v, want created %v, last seen %v", got[0], clockStart, want)
	}
	if want := clockStart.Add(25 * time.Minute); !got[1].LastSeen.Equal(want) {
		t.Errorf("the other session was last seen %v, want %v", got[1].LastSeen, want)
	}
	if _, err := st.Get(t.Context(), Key(stale)); err != nil {
		t.Fatalf("the stale session's record is gone (%v): the test shows nothing", err)
	}
}

// TestListSessionsMadeBeforeListing: a record made before records carried
// their listing info is listed with an unknown device and, unless it is
// the caller's own (whose login the caller knows), no times; it can be
// ended by its handle. An ended session still filed is not listed.
func TestListSessionsMadeBeforeListing(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart.Add(30 * time.Second))
	st := memoryScope(t, 100)
	m := newManager(st, clk, nil)
	set, err := m.index.set(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	cur, other, gone := NewID(), NewID(), NewID()
	// gone ended while still filed (say, between a revocation's end of
	// its record and of its index entry): its record is the ended mark.
	if err := st.Put(t.Context(), Key(gone), ended, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := st.AddMember(t.Context(), set, Key(gone), time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{cur, other} {
		sealed, err := seal(id, Session{Sub: "alice", Login: clk.Now(), Expires: clk.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Put(t.Context(), Key(id), sealed, time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := st.AddMember(t.Context(), set, Key(id), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	got := list(t, m, cur)
	if len(got) != 2 || got[0].Device != device.Unknown || !got[0].Created.Equal(clockStart) || !got[0].LastSeen.Equal(clockStart) ||
		got[1].Device != device.Unknown || !got[1].Created.IsZero() || !got[1].LastSeen.IsZero() {
		t.Fatalf("List = %+v", got)
	}
	if n, err := m.Revoke(t.Context(), OneSession("alice", got[1].Handle)); err != nil || n != 1 || live(t, m, other) {
		t.Fatalf("ending the old session by its handle: %d, %v", n, err)
	}
}

// TestListIsBounded: List reads at most MaxListed sessions, says it left
// some out, and always shows the caller's.
func TestListIsBounded(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	m := newManager(memoryScope(t, 4*MaxListed), clk, nil)
	var cur string
	for range MaxListed + 1 {
		cur = mustCreate(t, m, "alice")
	}
	entries, more, err := m.List(t.Context(), opened(t, m, cur))
	if err != nil || !more || len(entries) != MaxListed || !entries[0].Current {
		t.Fatalf("List of %d sessions: %d entries, more %v, %v; first %+v", MaxListed+1, len(entries), more, err, entries[0])
	}
}

// TestListingInfoAtRest: a record shows its browser's label nowhere in
// clear; the info opens only for its user and under its own store key;
// a label missing or longer than any the device package makes is stored
// as unknown.
func TestListingInfoAtRest(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	st := memoryScope(t, 100)
	m := newManager(st, clk, nil)
	id := finishAs(t, m, "alice", firefoxOnWin)
	rec, err := st.Get(t.Context(), Key(id))
	if err != nil {
		t.Fatal(err)
	}
	for _, clear := range []string{"Firefox", "Windows", "alice"} {
		if bytes.Contains(rec, []byte(clear)) {
			t.Errorf("the record holds %q in clear", clear)
		}
	}
	info, _, ok := split(rec)
	if !ok {
		t.Fatal("the record carries no listing info")
	}
	_, infoKey, err := m.index.keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := userAEAD(infoKey, "alice")
	bob, _ := userAEAD(infoKey, "bob")
	if _, label, err := openInfo(alice, Key(id), info); err != nil || label != "Firefox on Windows" {
		t.Fatalf("alice's info: %q, %v", label, err)
	}
	if _, _, err := openInfo(bob, Key(id), info); err == nil {
		t.Error("another user's key opens the info")
	}
	if _, _, err := openInfo(alice, Key(NewID()), info); err == nil {
		t.Error("the info opens under another store key")
	}
	for _, label := range []string{"", strings.Repeat("x", maxDevice+1)} {
		sealed, err := sealInfo(alice, "k", clk.Now(), label)
		if err != nil {
			t.Fatal(err)
		}
		if _, got, err := openInfo(alice, "k", sealed); err != nil || got != device.Unknown {
			t.Errorf("label of %d bytes stored as %q, %v; want %q", len(label), got, err, device.Unknown)
		}
	}
}

// TestOpenOldRecordThatLooksFramed: a record made before listing info
// existed opens although its random first byte is the mark of a framed
// record.
func TestOpenOldRecordThatLooksFramed(t *testing.T) {
	t.Parallel()
	id := NewID()
	s := Session{Sub: "alice", Expires: time.Unix(1_900_000_000, 0).UTC()}
	for range 100_000 {
		sealed, err := seal(id, s)
		if err != nil {
			t.Fatal(err)
		}
		if sealed[0] != withInfo {
			continue
		}
		if got, err := open(id, sealed); err != nil || got.Sub != "alice" {
			t.Fatalf("the old record does not open: %+v, %v", got, err)
		}
		return
	}
	t.Fatal("no record began with the mark")
}

// TestListStoreFailure: a store that fails while listing gives its error,
// never a partial list, and StoreFailed is told.
func TestListStoreFailure(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	st := memoryScope(t, 100)
	m := newManager(st, clk, nil)
	id := finishAs(t, m, "alice", chromeOnMac)
	other := finishAs(t, m, "alice", firefoxOnWin)
	o := opened(t, m, id)
	var told []string
	down := newManager(&getFails{Store: st, key: Key(other)}, clk, func(o *Options) {
		o.Hooks.StoreFailed = func(_ context.Context, op string, _ error) { told = append(told, op) }
	})
	if entries, _, err := down.List(t.Context(), o); err == nil || entries != nil {
		t.Fatalf("List with a record unreadable: %+v, %v", entries, err)
	}
	if !slices.Equal(told, []string{"get"}) {
		t.Errorf("StoreFailed told %q, want [get]", told)
	}
}

// getFails is a store that cannot read key.
type getFails struct {
	store.Store
	key string
}

func (s *getFails) Get(ctx context.Context, key string) ([]byte, error) {
	if key == s.key {
		return nil, errors.New("store down")
	}
	return s.Store.Get(ctx, key)
}
