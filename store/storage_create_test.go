package store

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
)

// held is how many names (for tests) are held or waited for.
func (k *keyedMutex) held() int {
	n := 0
	for i := range k.shards {
		sh := &k.shards[i]
		sh.mu.Lock()
		n += len(sh.names)
		sh.mu.Unlock()
	}
	return n
}

// instanceStore opens scope on the file system storage at dir as another
// instance would: its own storage value and its own in-process locks, so
// that only the storage's lock stands between it and other instances.
func instanceStore(t *testing.T, dir, scope string) *storageStore {
	t.Helper()
	return instanceStoreOn(t, &certmagic.FileStorage{Path: dir}, scope)
}

// lockedStorage is the file system storage under another type, so that
// Create takes the locked path it takes on every other storage module.
type lockedStorage struct{ certmagic.Storage }

// lockedInstanceStore is instanceStore on lockedStorage.
func lockedInstanceStore(t *testing.T, dir, scope string) *storageStore {
	t.Helper()
	return instanceStoreOn(t, lockedStorage{&certmagic.FileStorage{Path: dir}}, scope)
}

func instanceStoreOn(t *testing.T, st certmagic.Storage, scope string) *storageStore {
	t.Helper()
	s, err := newStorageStore(st, scope, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.locks = newKeyedMutex()
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// newFileStore is a storage store on a file system storage of its own,
// closed when the test ends.
func newFileStore(t *testing.T) (*certmagic.FileStorage, *storageStore) {
	t.Helper()
	fsys := &certmagic.FileStorage{Path: t.TempDir()}
	s, err := newStorageStore(fsys, randomKey(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return fsys, s
}

// TestStorageCreateAcrossInstances races Create of one key from two
// instances sharing a folder, 16 goroutines each: exactly one creates it.
// The instances share no memory, so this holds only through the storage's
// lock.
// It runs with the hard link deciding (the file system storage), with the
// locks deciding (any other storage), and with one instance of each.
func TestStorageCreateAcrossInstances(t *testing.T) {
	for _, tc := range []struct {
		name      string
		instances func(t *testing.T, dir, scope string) []*storageStore
	}{
		{"linked", func(t *testing.T, dir, scope string) []*storageStore {
			return []*storageStore{instanceStore(t, dir, scope), instanceStore(t, dir, scope)}
		}},
		{"locked", func(t *testing.T, dir, scope string) []*storageStore {
			return []*storageStore{lockedInstanceStore(t, dir, scope), lockedInstanceStore(t, dir, scope)}
		}},
		{"mixed", func(t *testing.T, dir, scope string) []*storageStore {
			return []*storageStore{instanceStore(t, dir, scope), lockedInstanceStore(t, dir, scope)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, scope := t.TempDir(), randomKey(t)
			createRaces(t, tc.instances(t, dir, scope))
		})
	}
}

// createRaces races Create of one key from the instances, 32 goroutines
// in all, three times with a new key, and fails unless exactly one creates
// it each time.
func createRaces(t *testing.T, instances []*storageStore) {
	for round := range 3 {
		t.Run(fmt.Sprint("round ", round), func(t *testing.T) {
			k := randomKey(t)
			var created atomic.Int32
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make(chan error, 32)
			for i := range 32 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					ok, err := instances[i%len(instances)].Create(ctx, k, []byte(fmt.Sprint("v", i)), time.Hour)
					if ok {
						created.Add(1)
					}
					errs <- err
				}()
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("Create: %v", err)
				}
			}
			if n := created.Load(); n != 1 {
				t.Fatalf("%d callers created the key, want exactly 1", n)
			}
		})
	}
}

// TestStorageCreateOtherKeysDoNotWait holds the storage lock of one key,
// as another instance in the middle of creating it would, and checks that
// a Create of another key in this process finishes while a Create of the
// held key is waiting for that lock: no lock of this process is shared by
// different keys.
// (On the file system storage Create takes no lock unless the record has
// expired, so this runs on the locked path.)
func TestStorageCreateOtherKeysDoNotWait(t *testing.T) {
	dir, scope := t.TempDir(), randomKey(t)
	s := lockedInstanceStore(t, dir, scope)
	other := lockedInstanceStore(t, dir, scope)
	held, free := randomKey(t), randomKey(t)
	if err := other.st.Lock(ctx, other.putLock(held)); err != nil {
		t.Fatal(err)
	}
	var released atomic.Bool
	release := sync.OnceFunc(func() {
		released.Store(true)
		_ = other.st.Unlock(context.Background(), other.putLock(held))
	})
	// Should the free key wait after all, the held lock is let go
	// eventually so that the test fails instead of hanging.
	fallback := time.AfterFunc(30*time.Second, release)
	defer fallback.Stop()

	heldDone := make(chan error, 1)
	go func() {
		_, err := s.Create(ctx, held, []byte("held"), time.Hour)
		heldDone <- err
	}()
	// Let the first Create take its key's lock in this process; what is
	// checked below
	// does not depend on how long this takes.
	for s.locks.held() == 0 {
		time.Sleep(time.Millisecond)
	}
	created, err := s.Create(ctx, free, []byte("free"), time.Hour)
	if err != nil || !created {
		t.Fatalf("Create of the free key = %v, %v", created, err)
	}
	if released.Load() {
		t.Fatal("the Create of a free key waited for the lock of another key")
	}
	release()
	if err := <-heldDone; err != nil {
		t.Fatalf("Create of the held key: %v", err)
	}
}

// files is the number of distinct files (inodes, each counted once however
// many names it has) of the scope's records, members and expiry index,
// not counting folders or the sweep's marker.
func files(t *testing.T, fsys *certmagic.FileStorage, s *storageStore) int {
	t.Helper()
	seen := map[[2]uint64]bool{}
	err := filepath.WalkDir(fsys.Filename(s.prefix), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == fsys.Filename(s.markerKey()) {
			return err
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		seen[[2]uint64{uint64(st.Dev), st.Ino}] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return len(seen)
}

// On the file system, a login's record and its index entry are one synced
// file: the member's file and both expiry entries are names of the
// record's file, so a login makes (and syncs) one file, not two. The
// member, read for its expiry, lives and is swept with the record's.
func TestStorageCreateInSetMakesOneFile(t *testing.T) {
	fsys, s := newFileStore(t)
	clk := testclock.New(clockStart)
	s.now = clk.Now
	set := key("user")
	for i := range 3 {
		if created, err := s.CreateInSet(ctx, key(fmt.Sprint("s", i)), []byte("sealed"), time.Hour, set); !created || err != nil {
			t.Fatalf("CreateInSet = %v, %v", created, err)
		}
	}
	if n := files(t, fsys, s); n != 3 {
		t.Fatalf("three logins made %d files, want 3", n)
	}
	k := key("s0")
	expires := clk.Now().Add(time.Hour)
	record, err := os.Stat(fsys.Filename(s.recordKey(k)))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{s.memberKey(set, k), s.indexKey(k, expires), s.indexKey("m."+set+"."+k, expires)} {
		fi, err := os.Stat(fsys.Filename(name))
		if err != nil || !os.SameFile(record, fi) {
			t.Errorf("%s is not a name of the record's file: %v", name, err)
		}
	}
	got, err := s.Members(ctx, set)
	if err != nil || len(got) != 3 {
		t.Fatalf("Members = %q, %v", got, err)
	}
	// Ending the session (the ended mark over the record, then its entry
	// out of the set) leaves neither name behind.
	if err := s.Put(ctx, k, []byte{0}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveMember(ctx, set, k); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Members(ctx, set); err != nil || len(got) != 2 {
		t.Fatalf("Members after one left = %q, %v", got, err)
	}
	clk.Advance(2 * time.Hour)
	for {
		more, err := s.sweepRun(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			break
		}
	}
	if n := files(t, fsys, s); n != 0 {
		t.Errorf("%d files left after every session expired and the sweep ran", n)
	}
}

// A member's name that cannot be a link of the record (a member there
// already) is written as AddMember writes it, with the record's lifetime.
func TestStorageCreateInSetOverAMember(t *testing.T) {
	_, s := newFileStore(t)
	clk := testclock.New(clockStart)
	s.now = clk.Now
	set, k := key("user"), key("s")
	if err := s.AddMember(ctx, set, k, time.Minute); err != nil {
		t.Fatal(err)
	}
	if created, err := s.CreateInSet(ctx, k, []byte("sealed"), time.Hour, set); !created || err != nil {
		t.Fatalf("CreateInSet = %v, %v", created, err)
	}
	clk.Advance(30 * time.Minute)
	if got, err := s.Members(ctx, set); err != nil || len(got) != 1 || got[0] != k {
		t.Fatalf("Members half an hour on = %q, %v; want the member renewed with the record", got, err)
	}
}
