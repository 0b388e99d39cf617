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
//
// With a set, a created record is also filed in it (see CreateInSet).
func (s *storageStore) createLinked(ctx context.Context, fsys *certmagic.FileStorage, key string, value []byte, ttl time.Duration, set string) (created, done bool, err error) {
	expires := s.now().Add(ttl)
	record := encodeRecord(value, expires)
	name := fsys.Filename(s.recordKey(key))
	tmp, err := writeTemp(name, record)
	if err != nil {
		return false, true, err
	}
	defer os.Remove(tmp)
	// Indexed first, as Put does: a record that no index entry names
	// would never be swept. When the key turns out to be taken, the entry
	// costs the sweep one load, which finds the record live or gone.
	if err := linkIndex(fsys, tmp, s.indexKey(key, expires)); err != nil {
		return false, false, nil
	}
	err = os.Link(tmp, name)
	switch {
	case err == nil:
		created, done, err = s.stillOurs(ctx, fsys, key, record)
		if created && set != "" {
			err = s.fileLinked(ctx, fsys, tmp, set, key, expires)
		}
		return created, done, err
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

// fileLinked files key, whose record tmp holds, in set: the member's file
// and its index entry are more names of the record's synced file, whose
// header (the expiry) is all a member's file is read for. A login thus
// makes one file where it made two, and syncs one. When the member's name
// cannot be made a link (a member there already, no hard links), it is
// written as AddMember writes it.
func (s *storageStore) fileLinked(ctx context.Context, fsys *certmagic.FileStorage, tmp, set, key string, expires time.Time) error {
	if linkIndex(fsys, tmp, s.indexKey("m."+set+"."+key, expires)) == nil {
		if link(tmp, fsys.Filename(s.memberKey(set, key))) == nil {
			return nil
		}
	}
	return s.AddMember(ctx, set, key, expires.Sub(s.now()))
}

// putLinked is Put and AddMember on certmagic's file system storage: file
// (a record or a member, as a storage key) gets content, and idx, its
// index entry, names the same synced file by a hard link. certmagic's
// Store would write a temporary file, sync it and rename it for each of
// the two; an index entry is read only for its name, so one synced file
// with two names keeps every guarantee. On the file systems this runs on,
// making a file costs far more than a name for it (an inode, for every
// file and its temporary one), so each write of the store makes one file
// where it made two.
//
// done is false, and nothing is written, when the file system refused the
// hard link: the caller writes through certmagic instead.
func (s *storageStore) putLinked(fsys *certmagic.FileStorage, file, idx string, content []byte) (done bool, err error) {
	name := fsys.Filename(file)
	tmp, err := writeTemp(name, content)
	if err != nil {
		return true, err
	}
	if err := linkIndex(fsys, tmp, idx); err != nil {
		os.Remove(tmp)
		return false, nil
	}
	if err := os.Rename(tmp, name); err != nil {
		os.Remove(tmp)
		return true, storageErr("store", err)
	}
	return true, nil
}

// writeTemp writes content to a new temporary file in the folder of name,
// synced before it gets any other name, as certmagic syncs what it stores:
// a crash must not leave a named record with no content. The temporary
// file starts with a dot and never has a key's name (keys are base64url),
// so nothing reads it as a record or a member.
func writeTemp(name string, content []byte) (string, error) {
	var f *os.File
	err := inFolder(name, func() (err error) {
		f, err = os.CreateTemp(filepath.Dir(name), ".create-*")
		return err
	})
	if err != nil {
		return "", storageErr("store", err)
	}
	_, err = f.Write(content)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", storageErr("store", err)
	}
	return f.Name(), nil
}

// linkIndex makes idx, an index entry, a hard link of tmp, the synced
// file it indexes, rather than a file of its own: its name is all the
// sweep reads. An entry there already (a renewal within the same bucket)
// will do. certmagic never syncs a folder, so whether a name outlives a
// crash was always up to the file system's journal, which keeps this name
// ahead of the record's or member's, made after it. An error means the
// file system made no link (some network and FUSE file systems have
// none).
func linkIndex(fsys *certmagic.FileStorage, tmp, idx string) error {
	err := link(tmp, fsys.Filename(idx))
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	return err
}

// link makes name a hard link of tmp, in name's folder (see inFolder).
func link(tmp, name string) error {
	return inFolder(name, func() error { return os.Link(tmp, name) })
}

// inFolder runs create, which makes the file name, and when name's folder is
// not there, makes the folder and runs create again. The folder is there for
// every file but its first (a bucket's first entry, a user's first
// session), so it is made when the file cannot be, not looked up before
// every write.
func inFolder(name string, create func() error) error {
	err := create()
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(filepath.Dir(name), 0o700); err == nil {
			err = create()
		}
	}
	return err
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
	b, err := s.load(ctx, s.recordKey(key))
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
