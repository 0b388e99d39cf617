package store

import (
	"context"
	"errors"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
)

// recordingStorage is a file system storage that records the List and Load
// calls the sweep makes, and can fail every call.
type recordingStorage struct {
	*certmagic.FileStorage
	mu    sync.Mutex
	lists []string
	loads []string
	fail  error
}

// record notes a call and returns the failure set for every call.
func (r *recordingStorage) record(calls *[]string, k string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	*calls = append(*calls, k)
	return r.fail
}

func (r *recordingStorage) List(ctx context.Context, p string, recursive bool) ([]string, error) {
	if err := r.record(&r.lists, p); err != nil {
		return nil, err
	}
	return r.FileStorage.List(ctx, p, recursive)
}

func (r *recordingStorage) Load(ctx context.Context, k string) ([]byte, error) {
	if err := r.record(&r.loads, k); err != nil {
		return nil, err
	}
	return r.FileStorage.Load(ctx, k)
}

func (r *recordingStorage) Store(ctx context.Context, k string, v []byte) error {
	r.mu.Lock()
	fail := r.fail
	r.mu.Unlock()
	if fail != nil {
		return fail
	}
	return r.FileStorage.Store(ctx, k, v)
}

func (r *recordingStorage) setFail(err error) {
	r.mu.Lock()
	r.fail = err
	r.mu.Unlock()
}

func (r *recordingStorage) reset() {
	r.mu.Lock()
	r.lists, r.loads = nil, nil
	r.mu.Unlock()
}

func (r *recordingStorage) calls() (lists, loads []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lists...), append([]string(nil), r.loads...)
}

func newTestStorageStore(t *testing.T, fst *certmagic.FileStorage, scope string) (*storageStore, *recordingStorage, *testclock.Clock) {
	t.Helper()
	rec := &recordingStorage{FileStorage: fst}
	s, err := newStorageStore(rec, scope, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	clk := testclock.New(clockStart)
	s.now = clk.Now
	return s, rec, clk
}

// put stores k as its own value.
func put(t *testing.T, s Store, k string, ttl time.Duration) {
	t.Helper()
	putValue(t, s, k, k, ttl)
}

// onDisk reports whether the record file of key exists, whatever its
// expiry.
func onDisk(s *storageStore, k string) bool {
	return s.st.Exists(ctx, s.recordKey(k))
}

func TestStorageSweepDeletesOnlyExpired(t *testing.T) {
	s, _, clk := newTestStorageStore(t, &certmagic.FileStorage{Path: t.TempDir()}, randomKey(t))
	put(t, s, key("short"), time.Minute)
	put(t, s, key("renewed"), time.Minute)
	put(t, s, key("long"), time.Hour)
	put(t, s, key("renewed"), 2*time.Hour)

	clk.Advance(time.Minute)
	// Expired records are refused at once, before any sweep.
	if _, err := s.Get(ctx, key("short")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired Get = %v, want ErrNotFound", err)
	}
	if !onDisk(s, key("short")) {
		t.Fatal("the record vanished before a sweep; the test would prove nothing")
	}
	clk.Advance(3 * bucketWidth)
	if _, err := s.sweepRun(ctx); err != nil {
		t.Fatal(err)
	}
	if onDisk(s, key("short")) {
		t.Error("the expired record is still on disk after the sweep")
	}
	for _, k := range []string{"renewed", "long"} {
		if got := mustGet(t, s, key(k)); got != key(k) {
			t.Errorf("%s = %q after the sweep", k, got)
		}
	}
	buckets, err := s.st.List(ctx, s.indexDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(buckets) != 2 {
		t.Errorf("index buckets after the sweep = %v, want the 2 of the live records", buckets)
	}
}

// TestStorageSweepCostIsBounded puts many long-lived records and a few
// short ones: the sweep lists the bucket names and the ended buckets only,
// and loads only the records those name, never every session.
func TestStorageSweepCostIsBounded(t *testing.T) {
	s, rec, clk := newTestStorageStore(t, &certmagic.FileStorage{Path: t.TempDir()}, randomKey(t))
	for i := 0; i < 60; i++ {
		put(t, s, randomKey(t), time.Hour)
	}
	short := []string{key("s1"), key("s2"), key("s3")}
	for _, k := range short {
		put(t, s, k, time.Minute)
	}
	clk.Advance(20 * time.Minute)
	rec.reset()
	if _, err := s.sweepRun(ctx); err != nil {
		t.Fatal(err)
	}
	lists, loads := rec.calls()
	endedBucket := s.indexDir() + "/" + itoa(bucketEnd(clk.Now().Add(-20*time.Minute+time.Minute)))
	if len(lists) != 2 || lists[0] != s.indexDir() || lists[1] != endedBucket {
		t.Errorf("List calls = %v, want the index and the one ended bucket %s", lists, endedBucket)
	}
	var recordLoads int
	for _, l := range loads {
		if strings.Contains(l, "/r/") {
			recordLoads++
		}
	}
	if recordLoads != len(short) {
		t.Errorf("the sweep loaded %d records, want only the %d expired ones", recordLoads, len(short))
	}
	for _, k := range short {
		if onDisk(s, k) {
			t.Errorf("%s still on disk", k)
		}
	}
}

// TestStorageSweepUnderLock: while another instance holds the scope's
// sweep lock, a sweep deletes nothing; once released it does. An instance
// that sweeps right after another's sweep skips the work.
func TestStorageSweepUnderLock(t *testing.T) {
	fst := &certmagic.FileStorage{Path: t.TempDir()}
	scope := randomKey(t)
	a, _, clkA := newTestStorageStore(t, fst, scope)
	b, recB, clkB := newTestStorageStore(t, fst, scope)
	put(t, a, key("old"), time.Minute)
	clkA.Advance(time.Hour)
	clkB.Advance(time.Hour)

	if err := fst.Lock(ctx, a.sweepLock()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.sweepRun(ctx); err != nil {
		t.Fatal(err)
	}
	if !onDisk(a, key("old")) {
		t.Fatal("a sweep ran while another instance held the sweep lock")
	}
	if err := fst.Unlock(ctx, a.sweepLock()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.sweepRun(ctx); err != nil {
		t.Fatal(err)
	}
	if onDisk(a, key("old")) {
		t.Fatal("the sweep did not delete the expired record")
	}
	recB.reset()
	if _, err := b.sweepRun(ctx); err != nil {
		t.Fatal(err)
	}
	if lists, _ := recB.calls(); len(lists) != 0 {
		t.Fatalf("b swept (listed %v) right after a's sweep", lists)
	}
}

// TestStorageSweeperRunsAndStops runs the background sweeper on a short
// interval, waits for it to delete an expired record, and checks that
// Close stops it.
func TestStorageSweeperRunsAndStops(t *testing.T) {
	s, rec, clk := newTestStorageStore(t, &certmagic.FileStorage{Path: t.TempDir()}, randomKey(t))
	s.interval = 10 * time.Millisecond
	put(t, s, key("old"), time.Minute)
	clk.Advance(time.Hour)
	s.startSweeper()
	deadline := time.Now().Add(15 * time.Second)
	for onDisk(s, key("old")) {
		if time.Now().After(deadline) {
			t.Fatal("the sweeper did not delete the expired record")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rec.reset()
	time.Sleep(50 * time.Millisecond)
	if lists, _ := rec.calls(); len(lists) != 0 {
		t.Fatalf("the sweeper still lists after Close: %v", lists)
	}
}

// TestStorageErrorsAreNotNotFound: a failing storage gives errors the
// handler can tell from "no session" (it answers 503, not 401).
func TestStorageErrorsAreNotNotFound(t *testing.T) {
	s, rec, _ := newTestStorageStore(t, &certmagic.FileStorage{Path: t.TempDir()}, randomKey(t))
	put(t, s, key("a"), time.Hour)
	rec.setFail(errors.New("disk on fire"))
	if _, err := s.Get(ctx, key("a")); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("Get on a failing storage = %v, want an error other than ErrNotFound", err)
	}
	if err := s.Put(ctx, key("b"), nil, time.Hour); err == nil {
		t.Fatal("Put on a failing storage succeeded")
	}
	if _, err := s.PutIfAbsent(ctx, key("c"), nil, time.Hour); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("PutIfAbsent on a failing storage = %v", err)
	}
	rec.setFail(nil)
	if got := mustGet(t, s, key("a")); got != key("a") {
		t.Fatalf("after recovery Get = %q", got)
	}
}

func TestStorageRefusesMalformedRecord(t *testing.T) {
	s, _, _ := newTestStorageStore(t, &certmagic.FileStorage{Path: t.TempDir()}, randomKey(t))
	for _, b := range [][]byte{nil, {recordVersion, 1, 2}, append([]byte{9}, make([]byte, 12)...)} {
		if err := s.st.Store(ctx, s.recordKey(key("m")), b); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, key("m")); !errors.Is(err, errMalformed) {
			t.Errorf("Get of %x = %v, want errMalformed", b, err)
		}
	}
	if _, err := s.st.Load(ctx, s.recordKey(key("none"))); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the file system storage reports a missing key as %v", err)
	}
}

func TestStorageProvisionNeedsNoCall(t *testing.T) {
	if _, err := (&Storage{}).Open(randomKey(t)); err == nil {
		t.Fatal("Open before Provision succeeded")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestStorageSweepDeletesExpiredMembers: set members are indexed like
// records, so the sweep deletes expired member files and keeps live ones.
func TestStorageSweepDeletesExpiredMembers(t *testing.T) {
	s, _, clk := newTestStorageStore(t, &certmagic.FileStorage{Path: t.TempDir()}, randomKey(t))
	set := key("user")
	for k, ttl := range map[string]time.Duration{"short": time.Minute, "long": time.Hour} {
		if err := s.AddMember(ctx, set, key(k), ttl); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(time.Minute + 3*bucketWidth)
	if !s.st.Exists(ctx, s.memberKey(set, key("short"))) {
		t.Fatal("the member file vanished before a sweep; the test would prove nothing")
	}
	if _, err := s.sweepRun(ctx); err != nil {
		t.Fatal(err)
	}
	if s.st.Exists(ctx, s.memberKey(set, key("short"))) {
		t.Error("the expired member is still on disk after the sweep")
	}
	if got, err := s.Members(ctx, set); err != nil || len(got) != 1 || got[0] != key("long") {
		t.Errorf("members after the sweep = %q, %v; want the long one", got, err)
	}
}
