package store

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
)

// TestStorageCreateWaitsForLockHolder holds the storage lock of a key, as
// another instance creating it on the locked path would, and checks that
// Create on the file system storage, whether the key is absent (the hard
// link decides, then the record is read once the holder is done) or its
// record has expired (replaced under the lock), waits for the holder
// before it reports the key created.
func TestStorageCreateWaitsForLockHolder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		expired bool // a record of the key is there and has expired
	}{
		{"absent", false},
		{"expired", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, scope := t.TempDir(), randomKey(t)
			s := instanceStore(t, dir, scope)
			other := instanceStore(t, dir, scope)
			key := randomKey(t)
			if tc.expired {
				now := time.Now()
				s.now = func() time.Time { return now.Add(-2 * time.Hour) }
				if err := s.Put(ctx, key, []byte("old"), time.Hour); err != nil {
					t.Fatal(err)
				}
				s.now = func() time.Time { return now }
			}
			if err := other.st.Lock(ctx, other.putLock(key)); err != nil {
				t.Fatal(err)
			}
			var released atomic.Bool
			release := sync.OnceFunc(func() {
				released.Store(true)
				_ = other.st.Unlock(context.Background(), other.putLock(key))
			})
			// The lock is let go after a while, so that the Create waiting
			// for it ends.
			fallback := time.AfterFunc(2*time.Second, release)
			defer fallback.Stop()
			created, err := s.Create(ctx, key, []byte("new"), time.Hour)
			if err != nil || !created {
				t.Fatalf("Create = %v, %v; want true", created, err)
			}
			if !released.Load() {
				t.Fatal("Create reported the key created while another instance held its lock")
			}
			release()
			if v, err := s.Get(ctx, key); err != nil || string(v) != "new" {
				t.Fatalf("Get = %q, %v; want the created record", v, err)
			}
		})
	}
}

// TestStorageCreateLeavesNoTemporaryFiles checks that the temporary file
// a linked Create writes is removed whether the key was created or was
// taken, so that records' folders hold records only.
func TestStorageCreateLeavesNoTemporaryFiles(t *testing.T) {
	dir, scope := t.TempDir(), randomKey(t)
	s := instanceStore(t, dir, scope)
	key := randomKey(t)
	for _, want := range []bool{true, false} {
		created, err := s.Create(ctx, key, []byte("v"), time.Hour)
		if err != nil || created != want {
			t.Fatalf("Create = %v, %v; want %v", created, err, want)
		}
	}
	fsys := s.st.(*certmagic.FileStorage)
	entries, err := os.ReadDir(filepath.Dir(fsys.Filename(s.recordKey(key))))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != key {
		names := make([]string, len(entries))
		for i, e := range entries {
			names[i] = e.Name()
		}
		t.Fatalf("the records' folder holds %q, want only %q", names, key)
	}
}

// TestFileLockName checks that fileLockName is the file certmagic's file
// system storage creates while it holds a lock, and only then: a linked
// Create tells by it whether a locked Create of its key is under way.
func TestFileLockName(t *testing.T) {
	fsys := &certmagic.FileStorage{Path: t.TempDir()}
	name := "sgid/" + randomKey(t) + "/put/" + randomKey(t)
	exists := func() bool { _, err := os.Stat(fileLockName(fsys, name)); return err == nil }
	if exists() {
		t.Fatal("the lock file is there before Lock")
	}
	if err := fsys.Lock(ctx, name); err != nil {
		t.Fatal(err)
	}
	if !exists() {
		t.Fatal("no lock file at fileLockName while the lock is held")
	}
	if err := fsys.Unlock(ctx, name); err != nil {
		t.Fatal(err)
	}
	if exists() {
		t.Fatal("the lock file is still there after Unlock")
	}
}

// TestStorageFileIndexEntries: on the file system storage each write makes
// one file, and its expiry index entry is a hard link of it rather than a
// file of its own; the sweep still finds every entry, so each expired
// record and member goes, made by Put, Create or AddMember, each live one
// stays, and no temporary file is left behind.
func TestStorageFileIndexEntries(t *testing.T) {
	dir := t.TempDir()
	s := instanceStore(t, dir, randomKey(t))
	fsys := s.st.(*certmagic.FileStorage)
	clk := testclock.New(clockStart)
	s.now = clk.Now
	set := key("user")
	for _, tc := range []struct {
		name  string
		write func(k string, ttl time.Duration) error
		file  func(k string) string
		entry func(k string) string
	}{
		{"Put", func(k string, ttl time.Duration) error { return s.Put(ctx, k, []byte("v"), ttl) }, s.recordKey,
			func(k string) string { return k }},
		{"Create", func(k string, ttl time.Duration) error {
			created, err := s.Create(ctx, k, []byte("v"), ttl)
			if err == nil && !created {
				t.Fatalf("Create(%s) found the key taken", k)
			}
			return err
		}, s.recordKey, func(k string) string { return k }},
		{"AddMember", func(k string, ttl time.Duration) error { return s.AddMember(ctx, set, k, ttl) },
			func(k string) string { return s.memberKey(set, k) }, func(k string) string { return "m." + set + "." + k }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			short, long := randomKey(t), randomKey(t)
			for k, ttl := range map[string]time.Duration{short: time.Minute, long: time.Hour} {
				if err := tc.write(k, ttl); err != nil {
					t.Fatal(err)
				}
			}
			file, err := os.Stat(fsys.Filename(tc.file(short)))
			if err != nil {
				t.Fatal(err)
			}
			entry, err := os.Stat(fsys.Filename(s.indexKey(tc.entry(short), clk.Now().Add(time.Minute))))
			if err != nil {
				t.Fatalf("no index entry: %v", err)
			}
			if !os.SameFile(file, entry) {
				t.Error("the index entry is a file of its own, not a link of the file it indexes")
			}
			clk.Advance(time.Minute + 3*bucketWidth)
			if !s.st.Exists(ctx, tc.file(short)) {
				t.Fatal("the expired file vanished before a sweep; the test would prove nothing")
			}
			if _, err := s.sweepRun(ctx); err != nil {
				t.Fatal(err)
			}
			if s.st.Exists(ctx, tc.file(short)) {
				t.Error("the expired file is still on disk after the sweep")
			}
			if !s.st.Exists(ctx, tc.file(long)) {
				t.Error("the sweep deleted a live file")
			}
		})
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".create-") {
			t.Errorf("temporary file left behind: %s", d.Name())
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
