package store

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/caddyserver/certmagic"
)

// createLinked is Create on certmagic's file system storage without its
// lock: the record is written and synced to a temporary file in the
// record's folder, then hard-linked to its name. link(2) fails when the
// name exists, on every instance sharing the folder alike, so it is an
// atomic create-if-absent and no lock file (created, synced, refreshed and
// removed) is needed for a key nobody holds, which is every login's.
//
// done is false when Create must take the locked path instead: a record
// is there but has expired (it is replaced under the lock, after checking
// again), or the file system refused the hard link (some network and
// FUSE file systems have none).
func (s *storageStore) createLinked(ctx context.Context, fsys *certmagic.FileStorage, key string, value []byte, ttl time.Duration) (created, done bool, err error) {
	expires := s.now().Add(ttl)
	// Indexed first, as Put does: a record that no index entry names
	// would never be swept. When the key turns out to be taken, the entry
	// costs the sweep one load, which finds the record live or gone.
	if err := s.index(ctx, key, expires); err != nil {
		return false, true, err
	}
	name := fsys.Filename(s.recordKey(key))
	dir := filepath.Dir(name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, true, storageErr("store", err)
	}
	// The temporary file starts with a dot and never has a key's name
	// (keys are base64url), so nothing reads it as a record.
	tmp, err := os.CreateTemp(dir, ".create-*")
	if err != nil {
		return false, true, storageErr("store", err)
	}
	defer os.Remove(tmp.Name())
	record := encodeRecord(value, expires)
	_, err = tmp.Write(record)
	if err == nil {
		// Synced before it gets its name, as certmagic syncs what it
		// stores: a crash must not leave a named record with no content.
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, true, storageErr("store", err)
	}
	err = os.Link(tmp.Name(), name)
	switch {
	case err == nil:
		return s.stillOurs(ctx, fsys, key, record)
	case !errors.Is(err, fs.ErrExist):
		return false, false, nil
	}
	_, err = s.Get(ctx, key)
	switch {
	case err == nil:
		return false, true, nil
	case errors.Is(err, ErrNotFound):
		return false, false, nil
	}
	return false, true, err
}

// stillOurs decides a linked Create against callers on the locked path
// (replacing an expired record, or instances of a version without the
// hard link), which check under the key's lock that no live record is
// there and then rename theirs over the name. Such a caller holds the
// lock from before its check until after its write, so once the record is
// linked: if the lock file is there, the record is read after the lock is
// let go; if not, either that caller has not checked yet (and will find
// this record) or it has written already, and reading the record now
// shows whose it is. Exactly one of the two reports the key created.
func (s *storageStore) stillOurs(ctx context.Context, fsys *certmagic.FileStorage, key string, record []byte) (created, done bool, err error) {
	lock := s.putLock(key)
	if _, err := os.Stat(fileLockName(fsys, lock)); err == nil {
		if err := s.st.Lock(ctx, lock); err != nil {
			return false, true, storageErr("lock", err)
		}
		s.unlock(lock)
	}
	b, err := s.st.Load(ctx, s.recordKey(key))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, true, storageErr("load", err)
	}
	return bytes.Equal(b, record), true, nil
}

// fileLockName is the file that certmagic's file system storage holds as
// the lock name (see TestFileLockName, which checks it against Lock).
func fileLockName(fsys *certmagic.FileStorage, name string) string {
	return filepath.Join(fsys.Path, "locks", certmagic.StorageKeys.Safe(name)+".lock")
}

// createEmpty makes the empty file of key on the file system storage, an
// index entry, unless it is there already. Only its name matters, so it is
// created in place, without certmagic's synced temporary file and rename:
// those protect a file's content, and an entry has none. That leaves the
// guarantees as they were: certmagic never syncs a folder either, so
// whether a name outlives a crash was always up to the file system's
// journal, which keeps this creation ahead of the record's (written and
// synced after it). A login thus costs two synced writes fewer (its
// record's entry and its index member's).
func createEmpty(fsys *certmagic.FileStorage, key string) error {
	name := fsys.Filename(key)
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		// The bucket's first entry makes its folder.
		if err = os.MkdirAll(filepath.Dir(name), 0o700); err == nil {
			f, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE, 0o600)
		}
	}
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		return storageErr("store index", err)
	}
	return nil
}
