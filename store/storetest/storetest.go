// Package storetest is the contract every session store passes. A
// backend's test calls Run with a function that opens the backend's store
// for a scope; a new backend is added by making Run pass.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/store"
)

// Open opens the store of scope. Each call may return a new handle; two
// handles on one scope share its records, as a reloaded config or a second
// instance would. Run closes every store it opens.
type Open func(t *testing.T, scope string) store.Store

// expiryDeadline is how long Run waits for a record with a one-second ttl
// to disappear. It is generous on purpose: the suite checks that records
// expire, not how fast a loaded machine gets there.
const expiryDeadline = 15 * time.Second

// Run runs the contract suite. Subtests run one after another, each in
// fresh scopes, so a backend's state from one does not leak into another.
func Run(t *testing.T, open Open) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *suite)
	}{
		{"GetMissing", testGetMissing},
		{"PutGet", testPutGet},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"DeleteMissing", testDeleteMissing},
		{"Expiry", testExpiry},
		{"LongerTTLKeeps", testLongerTTLKeeps},
		{"InvalidArguments", testInvalidArguments},
		{"Values", testValues},
		{"NoAliasing", testNoAliasing},
		{"Same", testSame},
		{"SameAfterExpiry", testSameAfterExpiry},
		{"PutIfAbsent", testPutIfAbsent},
		{"PutIfAbsentAfterExpiry", testPutIfAbsentAfterExpiry},
		{"PutIfAbsentRace", testPutIfAbsentRace},
		{"Create", testCreate},
		{"CreateAfterExpiry", testCreateAfterExpiry},
		{"CreateRace", testCreateRace},
		{"Concurrent", testConcurrent},
		{"ScopeIsolation", testScopeIsolation},
		{"SharedScope", testSharedScope},
		{"CloseTwice", testCloseTwice},
		{"SetMembers", testSetMembers},
		{"SetMemberExpiry", testSetMemberExpiry},
		{"SetConcurrentAdds", testSetConcurrentAdds},
		{"SetDeleteAndList", testSetDeleteAndList},
		{"SetApartFromRecords", testSetApartFromRecords},
		{"SetInvalidArguments", testSetInvalidArguments},
		{"CreateInSet", testCreateInSet},
		{"CreateInSetRace", testCreateInSetRace},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, &suite{t: t, open: open})
		})
	}
}

type suite struct {
	t    *testing.T
	open Open
}

// store opens a store in scope, closing it when the subtest ends.
func (s *suite) store(scope string) store.Store {
	s.t.Helper()
	st := s.open(s.t, scope)
	if st == nil {
		s.t.Fatal("open returned a nil store")
	}
	s.t.Cleanup(func() {
		if err := st.Close(); err != nil {
			s.t.Errorf("Close: %v", err)
		}
	})
	return st
}

// fresh opens a store in a scope no other subtest uses.
func (s *suite) fresh() store.Store {
	s.t.Helper()
	return s.store(RandomKey(s.t))
}

// RandomKey returns a new random key of the form stores accept (43
// unpadded base64url characters, like a hashed session id).
func RandomKey(tb testing.TB) string {
	tb.Helper()
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

var ctx = context.Background()

const hour = time.Hour

func mustPut(t *testing.T, st store.Store, key string, value []byte, ttl time.Duration) {
	t.Helper()
	if err := st.Put(ctx, key, value, ttl); err != nil {
		t.Fatalf("Put(%s): %v", key, err)
	}
}

func wantValue(t *testing.T, st store.Store, key string, want []byte) {
	t.Helper()
	got, err := st.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get(%s): %v, want a value", key, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%s) = %q, want %q", key, short(got), short(want))
	}
}

func wantNotFound(t *testing.T, st store.Store, key string) {
	t.Helper()
	got, err := st.Get(ctx, key)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%s) = %q, %v; want ErrNotFound", key, short(got), err)
	}
}

// short keeps failure messages readable for 64 KiB values.
func short(b []byte) string {
	if len(b) > 40 {
		return fmt.Sprintf("%q... (%d bytes)", b[:40], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// waitNotFound polls until key is gone, failing after expiryDeadline.
func waitNotFound(t *testing.T, st store.Store, key string) {
	t.Helper()
	deadline := time.Now().Add(expiryDeadline)
	for {
		_, err := st.Get(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return
		}
		if err != nil {
			t.Fatalf("Get(%s) while waiting for expiry: %v", key, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get(%s) still answers %v after its ttl", key, expiryDeadline)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitNotMember waits, up to expiryDeadline, until set no longer lists
// member.
func waitNotMember(t *testing.T, st store.Store, set, member string) {
	t.Helper()
	deadline := time.Now().Add(expiryDeadline)
	for {
		got, err := st.Members(ctx, set)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(got, member) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("member %s still listed %v after its ttl", member, expiryDeadline)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func testGetMissing(t *testing.T, s *suite) {
	wantNotFound(t, s.fresh(), RandomKey(t))
}

func testPutGet(t *testing.T, s *suite) {
	st := s.fresh()
	k1, k2 := RandomKey(t), RandomKey(t)
	mustPut(t, st, k1, []byte("one"), hour)
	mustPut(t, st, k2, []byte("two"), hour)
	wantValue(t, st, k1, []byte("one"))
	wantValue(t, st, k2, []byte("two"))
}

func testOverwrite(t *testing.T, s *suite) {
	st := s.fresh()
	k := RandomKey(t)
	mustPut(t, st, k, []byte("old"), hour)
	mustPut(t, st, k, []byte("new"), hour)
	wantValue(t, st, k, []byte("new"))
}

func testDelete(t *testing.T, s *suite) {
	st := s.fresh()
	k, other := RandomKey(t), RandomKey(t)
	mustPut(t, st, k, []byte("v"), hour)
	mustPut(t, st, other, []byte("w"), hour)
	if err := st.Delete(ctx, k); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotFound(t, st, k)
	wantValue(t, st, other, []byte("w"))
}

func testDeleteMissing(t *testing.T, s *suite) {
	st := s.fresh()
	if err := st.Delete(ctx, RandomKey(t)); err != nil {
		t.Fatalf("Delete of a missing key: %v, want nil", err)
	}
	k := RandomKey(t)
	mustPut(t, st, k, []byte("v"), hour)
	for i := 0; i < 2; i++ {
		if err := st.Delete(ctx, k); err != nil {
			t.Fatalf("Delete #%d: %v, want nil", i+1, err)
		}
	}
}

// testExpiry checks that a record with a short ttl goes away, while a
// record with a long ttl put at the same time stays.
func testExpiry(t *testing.T, s *suite) {
	st := s.fresh()
	short, long := RandomKey(t), RandomKey(t)
	mustPut(t, st, long, []byte("stays"), hour)
	mustPut(t, st, short, []byte("goes"), time.Second)
	waitNotFound(t, st, short)
	wantValue(t, st, long, []byte("stays"))
}

// testLongerTTLKeeps checks that a Put with a longer ttl replaces the
// earlier expiry rather than keeping the first one.
func testLongerTTLKeeps(t *testing.T, s *suite) {
	st := s.fresh()
	k := RandomKey(t)
	mustPut(t, st, k, []byte("v1"), time.Second)
	mustPut(t, st, k, []byte("v2"), hour)
	time.Sleep(1500 * time.Millisecond)
	wantValue(t, st, k, []byte("v2"))
}

func testInvalidArguments(t *testing.T, s *suite) {
	st := s.fresh()
	for _, key := range []string{"", "a/b", "..", "a.b", "a b", "ab=", "../../etc/passwd", string(bytes.Repeat([]byte("a"), store.MaxKeyLen+1))} {
		if _, err := st.Get(ctx, key); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Get(%q) = %v, want ErrInvalidKey", key, err)
		}
		if err := st.Put(ctx, key, []byte("v"), hour); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
		if err := st.Delete(ctx, key); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := st.PutIfAbsent(ctx, key, []byte("v"), hour); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("PutIfAbsent(%q) = %v, want ErrInvalidKey", key, err)
		}
		if created, err := st.Create(ctx, key, []byte("v"), hour); created || !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Create(%q) = %v, %v; want false, ErrInvalidKey", key, created, err)
		}
		if same, err := store.Same(ctx, st, key, []byte("v")); same || !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Same(%q) = %v, %v; want false, ErrInvalidKey", key, same, err)
		}
	}
	longest := string(bytes.Repeat([]byte("A"), store.MaxKeyLen))
	mustPut(t, st, longest, []byte("v"), hour)
	wantValue(t, st, longest, []byte("v"))

	k := RandomKey(t)
	for _, ttl := range []time.Duration{0, -time.Second} {
		if err := st.Put(ctx, k, []byte("v"), ttl); !errors.Is(err, store.ErrInvalidTTL) {
			t.Errorf("Put with ttl %v = %v, want ErrInvalidTTL", ttl, err)
		}
		if _, err := st.PutIfAbsent(ctx, k, []byte("v"), ttl); !errors.Is(err, store.ErrInvalidTTL) {
			t.Errorf("PutIfAbsent with ttl %v = %v, want ErrInvalidTTL", ttl, err)
		}
		if created, err := st.Create(ctx, k, []byte("v"), ttl); created || !errors.Is(err, store.ErrInvalidTTL) {
			t.Errorf("Create with ttl %v = %v, %v; want false, ErrInvalidTTL", ttl, created, err)
		}
	}
	wantNotFound(t, st, k)
}

// testValues stores every byte value, an empty value and 64 KiB of random
// bytes, and reads each back unchanged.
func testValues(t *testing.T, s *suite) {
	st := s.fresh()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	big := make([]byte, 64<<10)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string][]byte{"every byte": all, "empty": {}, "64 KiB": big, "NUL": {0}} {
		k := RandomKey(t)
		mustPut(t, st, k, v, hour)
		got, err := st.Get(ctx, k)
		if err != nil {
			t.Fatalf("%s: Get: %v", name, err)
		}
		if !bytes.Equal(got, v) {
			t.Fatalf("%s: Get = %s, want %s", name, short(got), short(v))
		}
	}
}

// testNoAliasing checks that neither the caller's slice nor a returned one
// shares memory with the stored record.
func testNoAliasing(t *testing.T, s *suite) {
	st := s.fresh()
	k := RandomKey(t)
	v := []byte("original")
	mustPut(t, st, k, v, hour)
	v[0] = 'X'
	got, err := st.Get(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	got[1] = 'Y'
	wantValue(t, st, k, []byte("original"))

	k2 := RandomKey(t)
	first, err := st.PutIfAbsent(ctx, k2, []byte("original"), hour)
	if err != nil {
		t.Fatal(err)
	}
	first[0] = 'Z'
	wantValue(t, st, k2, []byte("original"))

	k3 := RandomKey(t)
	v3 := []byte("original")
	if created, err := st.Create(ctx, k3, v3, hour); !created || err != nil {
		t.Fatalf("Create = %v, %v; want true", created, err)
	}
	v3[0] = 'W'
	wantValue(t, st, k3, []byte("original"))
}

// testSame checks store.Same, which the handler asks on every request of a
// session it opened before, against what Get returns: true only for the
// exact bytes stored now, ErrNotFound once the record is gone, and the
// caller's slice neither kept nor changed.
func testSame(t *testing.T, s *suite) {
	st := s.fresh()
	k, empty := RandomKey(t), RandomKey(t)
	mustPut(t, st, k, []byte("sealed"), hour)
	mustPut(t, st, empty, []byte{}, hour)
	for _, tc := range []struct {
		name  string
		key   string
		value []byte
		want  bool
	}{
		{"the stored bytes", k, []byte("sealed"), true},
		{"other bytes of the same length", k, []byte("sealeD"), false},
		{"a prefix", k, []byte("seale"), false},
		{"a longer value", k, []byte("sealed!"), false},
		{"no bytes", k, nil, false},
		{"an empty record and no bytes", empty, []byte{}, true},
		{"an empty record and some bytes", empty, []byte("x"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := store.Same(ctx, st, tc.key, tc.value)
			if err != nil || got != tc.want {
				t.Fatalf("Same = %v, %v; want %v", got, err, tc.want)
			}
		})
	}

	if same, err := store.Same(ctx, st, RandomKey(t), []byte("sealed")); same || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Same of a missing key = %v, %v; want ErrNotFound", same, err)
	}
	mine := []byte("sealed")
	if same, err := store.Same(ctx, st, k, mine); !same || err != nil {
		t.Fatalf("Same = %v, %v; want true", same, err)
	}
	mine[0] = 'X'
	wantValue(t, st, k, []byte("sealed"))

	mustPut(t, st, k, []byte("resealed"), hour)
	if same, err := store.Same(ctx, st, k, []byte("sealed")); same || err != nil {
		t.Fatalf("Same with the replaced bytes = %v, %v; want false", same, err)
	}
	if same, err := store.Same(ctx, st, k, []byte("resealed")); !same || err != nil {
		t.Fatalf("Same with the new bytes = %v, %v; want true", same, err)
	}
	if err := st.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	if same, err := store.Same(ctx, st, k, []byte("resealed")); same || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Same after Delete = %v, %v; want ErrNotFound", same, err)
	}
}

// testSameAfterExpiry checks that an expired record is not the same as
// anything: a session past its ttl must not be reused from memory.
func testSameAfterExpiry(t *testing.T, s *suite) {
	st := s.fresh()
	k := RandomKey(t)
	mustPut(t, st, k, []byte("goes"), time.Second)
	deadline := time.Now().Add(expiryDeadline)
	for {
		same, err := store.Same(ctx, st, k, []byte("goes"))
		if errors.Is(err, store.ErrNotFound) {
			return
		}
		if err != nil || !same {
			t.Fatalf("Same while waiting for expiry = %v, %v", same, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("Same still answers true %v after the ttl", expiryDeadline)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func testPutIfAbsent(t *testing.T, s *suite) {
	st := s.fresh()
	k := RandomKey(t)
	got, err := st.PutIfAbsent(ctx, k, []byte("first"), hour)
	if err != nil || string(got) != "first" {
		t.Fatalf("PutIfAbsent on a missing key = %q, %v; want first", got, err)
	}
	got, err = st.PutIfAbsent(ctx, k, []byte("second"), hour)
	if err != nil || string(got) != "first" {
		t.Fatalf("PutIfAbsent on a present key = %q, %v; want the existing first", got, err)
	}
	wantValue(t, st, k, []byte("first"))
	// Put still replaces a value PutIfAbsent made.
	mustPut(t, st, k, []byte("third"), hour)
	wantValue(t, st, k, []byte("third"))
}

func testPutIfAbsentAfterExpiry(t *testing.T, s *suite) {
	st := s.fresh()
	k := RandomKey(t)
	if _, err := st.PutIfAbsent(ctx, k, []byte("old"), time.Second); err != nil {
		t.Fatal(err)
	}
	waitNotFound(t, st, k)
	got, err := st.PutIfAbsent(ctx, k, []byte("new"), hour)
	if err != nil || string(got) != "new" {
		t.Fatalf("PutIfAbsent after expiry = %q, %v; want new", got, err)
	}
	wantValue(t, st, k, []byte("new"))
}

// testPutIfAbsentRace has 16 goroutines, half of them on a second handle
// of the same scope (another instance), offer different values: exactly
// one is stored, and every caller gets it back.
func testPutIfAbsentRace(t *testing.T, s *suite) {
	scope := RandomKey(t)
	handles := []store.Store{s.store(scope), s.store(scope)}
	k := RandomKey(t)
	const n = 16
	results := make([][]byte, n)
	errs := atOnce(n, func(i int) (err error) {
		results[i], err = handles[i%2].PutIfAbsent(ctx, k, []byte(fmt.Sprintf("value-%02d", i)), hour)
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("goroutine %d: PutIfAbsent: %v", i, err)
		}
	}
	winner := results[0]
	offered := false
	for i := 0; i < n; i++ {
		if !bytes.Equal(results[i], winner) {
			t.Fatalf("goroutine %d got %q, goroutine 0 got %q: more than one value won", i, results[i], winner)
		}
		offered = offered || string(winner) == fmt.Sprintf("value-%02d", i)
	}
	if !offered {
		t.Fatalf("the winner %q is none of the offered values", winner)
	}
	wantValue(t, handles[0], k, winner)
	wantValue(t, handles[1], k, winner)
}

// testCreate checks that Create stores on a missing key only, and leaves
// a present value as it is.
func testCreate(t *testing.T, s *suite) {
	st := s.fresh()
	k, putFirst := RandomKey(t), RandomKey(t)
	for _, tc := range []struct {
		name  string
		key   string
		value string
		want  bool
		after string
	}{
		{"missing key", k, "first", true, "first"},
		{"created key", k, "second", false, "first"},
		{"key made by Put", putFirst, "created", false, "put"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.key == putFirst {
				mustPut(t, st, putFirst, []byte("put"), hour)
			}
			created, err := st.Create(ctx, tc.key, []byte(tc.value), hour)
			if err != nil || created != tc.want {
				t.Fatalf("Create = %v, %v; want %v", created, err, tc.want)
			}
			wantValue(t, st, tc.key, []byte(tc.after))
		})
	}
	// Put still replaces a created value, and Delete removes it.
	mustPut(t, st, k, []byte("third"), hour)
	wantValue(t, st, k, []byte("third"))
	if err := st.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	if created, err := st.Create(ctx, k, []byte("again"), hour); !created || err != nil {
		t.Fatalf("Create after Delete = %v, %v; want true", created, err)
	}
	wantValue(t, st, k, []byte("again"))
}

func testCreateAfterExpiry(t *testing.T, s *suite) {
	st := s.fresh()
	k := RandomKey(t)
	if created, err := st.Create(ctx, k, []byte("old"), time.Second); !created || err != nil {
		t.Fatalf("Create = %v, %v; want true", created, err)
	}
	waitNotFound(t, st, k)
	if created, err := st.Create(ctx, k, []byte("new"), hour); !created || err != nil {
		t.Fatalf("Create after expiry = %v, %v; want true", created, err)
	}
	wantValue(t, st, k, []byte("new"))
}

// testCreateRace has 32 goroutines, half of them on a second handle of the
// same scope (another instance), create one key with different values:
// exactly one reports it created, and its value is the one stored.
func testCreateRace(t *testing.T, s *suite) {
	scope := RandomKey(t)
	handles := []store.Store{s.store(scope), s.store(scope)}
	k := RandomKey(t)
	const n = 32
	created := make([]bool, n)
	errs := atOnce(n, func(i int) (err error) {
		created[i], err = handles[i%2].Create(ctx, k, []byte(fmt.Sprintf("value-%02d", i)), hour)
		return err
	})
	winner := onlyWinner(t, "Create", created, errs)
	want := []byte(fmt.Sprintf("value-%02d", winner))
	wantValue(t, handles[0], k, want)
	wantValue(t, handles[1], k, want)
}

// atOnce runs f(0) to f(n-1) in goroutines released together, and
// returns their errors.
func atOnce(n int, f func(i int) error) []error {
	errs := make([]error, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := 0; i < n; i++ {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			errs[i] = f(i)
		}()
	}
	start.Done()
	done.Wait()
	return errs
}

// testConcurrent has goroutines each write, read and delete their own keys
// and all overwrite one shared key, then checks every result.
func testConcurrent(t *testing.T, s *suite) {
	st := s.fresh()
	shared := RandomKey(t)
	const workers, rounds = 8, 20
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- worker(st, w, rounds, shared)
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.Get(ctx, shared)
	if err != nil {
		t.Fatalf("Get(shared): %v", err)
	}
	var w, r int
	if _, err := fmt.Sscanf(string(got), "w%d-r%d", &w, &r); err != nil || w < 0 || w >= workers || r != rounds-1 {
		t.Fatalf("shared key holds %q, want the last round of one worker", got)
	}
}

func worker(st store.Store, w, rounds int, shared string) error {
	own := make([]byte, 32)
	if _, err := rand.Read(own); err != nil {
		return err
	}
	key := base64.RawURLEncoding.EncodeToString(own)
	for r := 0; r < rounds; r++ {
		v := []byte(fmt.Sprintf("w%d-r%d", w, r))
		if err := st.Put(ctx, key, v, hour); err != nil {
			return fmt.Errorf("worker %d: Put: %w", w, err)
		}
		if err := st.Put(ctx, shared, v, hour); err != nil {
			return fmt.Errorf("worker %d: Put shared: %w", w, err)
		}
		got, err := st.Get(ctx, key)
		if err != nil || !bytes.Equal(got, v) {
			return fmt.Errorf("worker %d: Get = %q, %v; want %q", w, got, err, v)
		}
		if _, err := st.Get(ctx, shared); err != nil {
			return fmt.Errorf("worker %d: Get shared: %w", w, err)
		}
	}
	if err := st.Delete(ctx, key); err != nil {
		return fmt.Errorf("worker %d: Delete: %w", w, err)
	}
	if _, err := st.Get(ctx, key); !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("worker %d: Get after Delete = %v, want ErrNotFound", w, err)
	}
	return nil
}

// testScopeIsolation writes one key in two scopes: each sees its own
// value, and deleting in one leaves the other.
func testScopeIsolation(t *testing.T, s *suite) {
	a, b := s.fresh(), s.fresh()
	k := RandomKey(t)
	mustPut(t, a, k, []byte("a"), hour)
	wantNotFound(t, b, k)
	mustPut(t, b, k, []byte("b"), hour)
	wantValue(t, a, k, []byte("a"))
	wantValue(t, b, k, []byte("b"))
	if err := a.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, a, k)
	wantValue(t, b, k, []byte("b"))
	got, err := b.PutIfAbsent(ctx, k, []byte("other"), hour)
	if err != nil || string(got) != "b" {
		t.Fatalf("PutIfAbsent in scope b = %q, %v; want b", got, err)
	}
}

// testSharedScope opens one scope twice, as a reloaded config or a second
// instance would, and checks that writes on one handle are read on the
// other, and that closing one handle keeps the records for the other.
func testSharedScope(t *testing.T, s *suite) {
	scope := RandomKey(t)
	a := s.store(scope)
	b := s.open(t, scope)
	k := RandomKey(t)
	mustPut(t, b, k, []byte("v"), hour)
	wantValue(t, a, k, []byte("v"))
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wantValue(t, a, k, []byte("v"))
	c := s.store(scope)
	wantValue(t, c, k, []byte("v"))
	// A deletion on another handle may be seen late through a cache
	// (Cached), but it is seen.
	if err := c.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	waitNotFound(t, a, k)
}

func testCloseTwice(t *testing.T, s *suite) {
	st := s.open(t, RandomKey(t))
	for i := 0; i < 2; i++ {
		if err := st.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
}

// wantMembers fails unless set's live members are exactly want.
func wantMembers(t *testing.T, st store.Store, set string, want ...string) {
	t.Helper()
	got, err := st.Members(ctx, set)
	if err != nil {
		t.Fatalf("Members(%s): %v", set, err)
	}
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("Members(%s) = %q, want %q", set, got, want)
	}
}

func mustAdd(t *testing.T, st store.Store, set, member string, ttl time.Duration) {
	t.Helper()
	if err := st.AddMember(ctx, set, member, ttl); err != nil {
		t.Fatalf("AddMember(%s, %s): %v", set, member, err)
	}
}

// testSetMembers adds, re-adds and removes members.
func testSetMembers(t *testing.T, s *suite) {
	st := s.fresh()
	set, a, b, c := RandomKey(t), RandomKey(t), RandomKey(t), RandomKey(t)
	wantMembers(t, st, set)
	mustAdd(t, st, set, a, hour)
	mustAdd(t, st, set, b, hour)
	mustAdd(t, st, set, c, hour)
	mustAdd(t, st, set, a, hour)
	wantMembers(t, st, set, a, b, c)
	if err := st.RemoveMember(ctx, set, b); err != nil {
		t.Fatalf("RemoveMember: %v", err)
	}
	if err := st.RemoveMember(ctx, set, RandomKey(t)); err != nil {
		t.Fatalf("RemoveMember of a missing member: %v, want nil", err)
	}
	wantMembers(t, st, set, a, c)
}

// testSetMemberExpiry checks that a member with a short ttl leaves the set
// while one with a long ttl stays, and that re-adding with a longer ttl
// keeps a member.
func testSetMemberExpiry(t *testing.T, s *suite) {
	st := s.fresh()
	set, short, long, renewed := RandomKey(t), RandomKey(t), RandomKey(t), RandomKey(t)
	mustAdd(t, st, set, long, hour)
	mustAdd(t, st, set, renewed, time.Second)
	mustAdd(t, st, set, renewed, hour)
	mustAdd(t, st, set, short, time.Second)
	waitNotMember(t, st, set, short)
	wantMembers(t, st, set, long, renewed)
}

// testSetConcurrentAdds has 16 goroutines, half of them on a second handle
// of the scope (another instance), add a member each to one set at once:
// none is lost.
func testSetConcurrentAdds(t *testing.T, s *suite) {
	scope := RandomKey(t)
	handles := []store.Store{s.store(scope), s.store(scope)}
	set := RandomKey(t)
	const n = 16
	members := make([]string, n)
	for i := range members {
		members[i] = RandomKey(t)
	}
	errs := atOnce(n, func(i int) error { return handles[i%2].AddMember(ctx, set, members[i], hour) })
	for i, err := range errs {
		if err != nil {
			t.Fatalf("goroutine %d: AddMember: %v", i, err)
		}
	}
	wantMembers(t, handles[0], set, members...)
	wantMembers(t, handles[1], set, members...)
}

// testSetDeleteAndList checks that Sets names the scope's sets (and not
// another scope's), and that DeleteSet empties one set only.
func testSetDeleteAndList(t *testing.T, s *suite) {
	st, other := s.fresh(), s.fresh()
	one, two, elsewhere := RandomKey(t), RandomKey(t), RandomKey(t)
	m1, m2 := RandomKey(t), RandomKey(t)
	mustAdd(t, st, one, m1, hour)
	mustAdd(t, st, one, m2, hour)
	mustAdd(t, st, two, m1, hour)
	mustAdd(t, other, elsewhere, m1, hour)
	sets, err := st.Sets(ctx)
	if err != nil {
		t.Fatalf("Sets: %v", err)
	}
	slices.Sort(sets)
	want := []string{one, two}
	slices.Sort(want)
	if !slices.Equal(sets, want) {
		t.Fatalf("Sets = %q, want %q", sets, want)
	}
	if err := st.DeleteSet(ctx, one); err != nil {
		t.Fatalf("DeleteSet: %v", err)
	}
	if err := st.DeleteSet(ctx, RandomKey(t)); err != nil {
		t.Fatalf("DeleteSet of a missing set: %v, want nil", err)
	}
	wantMembers(t, st, one)
	wantMembers(t, st, two, m1)
	wantMembers(t, other, elsewhere, m1)
}

// testSetApartFromRecords gives a set and a record one name: neither
// touches the other.
func testSetApartFromRecords(t *testing.T, s *suite) {
	st := s.fresh()
	name, member := RandomKey(t), RandomKey(t)
	mustPut(t, st, name, []byte("record"), hour)
	mustAdd(t, st, name, member, hour)
	wantValue(t, st, name, []byte("record"))
	if err := st.DeleteSet(ctx, name); err != nil {
		t.Fatal(err)
	}
	wantValue(t, st, name, []byte("record"))
	mustAdd(t, st, name, member, hour)
	if err := st.Delete(ctx, name); err != nil {
		t.Fatal(err)
	}
	wantMembers(t, st, name, member)
}

func testSetInvalidArguments(t *testing.T, s *suite) {
	st := s.fresh()
	good := RandomKey(t)
	for _, bad := range []string{"", "a/b", "..", "a.b", "a:b", "a*", string(bytes.Repeat([]byte("a"), store.MaxKeyLen+1))} {
		if err := st.AddMember(ctx, bad, good, hour); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("AddMember(set %q) = %v, want ErrInvalidKey", bad, err)
		}
		if err := st.AddMember(ctx, good, bad, hour); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("AddMember(member %q) = %v, want ErrInvalidKey", bad, err)
		}
		if err := st.RemoveMember(ctx, good, bad); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("RemoveMember(member %q) = %v, want ErrInvalidKey", bad, err)
		}
		if _, err := st.Members(ctx, bad); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Members(%q) = %v, want ErrInvalidKey", bad, err)
		}
		if err := st.DeleteSet(ctx, bad); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("DeleteSet(%q) = %v, want ErrInvalidKey", bad, err)
		}
	}
	for _, ttl := range []time.Duration{0, -time.Second} {
		if err := st.AddMember(ctx, good, good, ttl); !errors.Is(err, store.ErrInvalidTTL) {
			t.Errorf("AddMember with ttl %v = %v, want ErrInvalidTTL", ttl, err)
		}
	}
	wantMembers(t, st, good)
}

// testCreateInSet creates records filed in sets, as logins do, through
// store.CreateInSet (the store's own when it has one): a created record is
// readable and a member of its set, with the record's lifetime; a key that
// exists is neither created again nor filed again; the member leaves with
// RemoveMember and the set with DeleteSet as any member does, and the
// record stays; a bad set name creates nothing.
func testCreateInSet(t *testing.T, s *suite) {
	st := s.fresh()
	set, other, k, k2 := RandomKey(t), RandomKey(t), RandomKey(t), RandomKey(t)
	if created, err := store.CreateInSet(ctx, st, k, []byte("first"), hour, set); !created || err != nil {
		t.Fatalf("CreateInSet = %v, %v; want created", created, err)
	}
	wantValue(t, st, k, []byte("first"))
	wantMembers(t, st, set, k)
	if created, err := store.CreateInSet(ctx, st, k, []byte("second"), hour, other); created || err != nil {
		t.Fatalf("CreateInSet of a created key = %v, %v; want false", created, err)
	}
	wantValue(t, st, k, []byte("first"))
	wantMembers(t, st, other)
	if created, err := st.Create(ctx, k, []byte("third"), hour); created || err != nil {
		t.Fatalf("Create of a key CreateInSet made = %v, %v; want false", created, err)
	}
	// A second session of the same user joins the same set.
	if created, err := store.CreateInSet(ctx, st, k2, []byte("two"), hour, set); !created || err != nil {
		t.Fatalf("CreateInSet = %v, %v; want created", created, err)
	}
	wantMembers(t, st, set, k, k2)
	if err := st.RemoveMember(ctx, set, k); err != nil {
		t.Fatal(err)
	}
	wantMembers(t, st, set, k2)
	wantValue(t, st, k, []byte("first"))
	if err := st.DeleteSet(ctx, set); err != nil {
		t.Fatal(err)
	}
	wantMembers(t, st, set)
	wantValue(t, st, k2, []byte("two"))
	// Replacing the record leaves its membership as it was.
	k3 := RandomKey(t)
	if created, err := store.CreateInSet(ctx, st, k3, []byte("three"), hour, set); !created || err != nil {
		t.Fatalf("CreateInSet = %v, %v; want created", created, err)
	}
	mustPut(t, st, k3, []byte{0}, time.Minute)
	wantValue(t, st, k3, []byte{0})
	wantMembers(t, st, set, k3)

	bad := RandomKey(t)
	if _, err := store.CreateInSet(ctx, st, bad, []byte("x"), hour, "no/set"); !errors.Is(err, store.ErrInvalidKey) {
		t.Fatalf("CreateInSet with a bad set name: %v, want ErrInvalidKey", err)
	}
	wantNotFound(t, st, bad)

	// The member expires with the record.
	short := RandomKey(t)
	if created, err := store.CreateInSet(ctx, st, short, []byte("s"), time.Second, set); !created || err != nil {
		t.Fatalf("CreateInSet = %v, %v; want created", created, err)
	}
	waitNotFound(t, st, short)
	waitNotMember(t, st, set, short)
}

// testCreateInSetRace has 32 goroutines, half of them on a second handle
// of the same scope, create one key in one set: exactly one creates it,
// its value is stored, and the set holds the key once.
func testCreateInSetRace(t *testing.T, s *suite) {
	scope := RandomKey(t)
	handles := []store.Store{s.store(scope), s.store(scope)}
	k, set := RandomKey(t), RandomKey(t)
	const n = 32
	created := make([]bool, n)
	errs := atOnce(n, func(i int) (err error) {
		created[i], err = store.CreateInSet(ctx, handles[i%2], k, []byte(fmt.Sprintf("value-%02d", i)), hour, set)
		return err
	})
	winner := onlyWinner(t, "CreateInSet", created, errs)
	wantValue(t, handles[1], k, []byte(fmt.Sprintf("value-%02d", winner)))
	wantMembers(t, handles[0], set, k)
}

// onlyWinner is the one goroutine of a race whose op created the key: it
// fails t on any error, on two winners, and on none.
func onlyWinner(t *testing.T, op string, created []bool, errs []error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		if err != nil {
			t.Fatalf("goroutine %d: %s: %v", i, op, err)
		}
		if created[i] {
			if winner >= 0 {
				t.Fatalf("goroutines %d and %d both created the key", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no goroutine created the key")
	}
	return winner
}
