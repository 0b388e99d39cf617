package store

import (
	"context"
	"errors"
	"io"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/caddyserver/certmagic"
)

// load reads a file of the store (a record, a member) by its storage key.
// On certmagic's file system storage it opens the file itself, without
// updating its access time where the system allows (O_NOATIME on Linux):
// with relatime, the default, the first read of a file since its last
// write would otherwise write its inode, so a request reading one session
// among hundreds of thousands, most of them not read since they were
// written, would pay for a metadata write nearly every time, and one among
// a thousand, all read before, almost never. Nothing reads the access
// times of the store's files.
func (s *storageStore) load(ctx context.Context, key string) ([]byte, error) {
	fsys, ok := s.st.(*certmagic.FileStorage)
	if !ok {
		return s.st.Load(ctx, key)
	}
	return readFile(fsys.Filename(key))
}

// noatimeRefused is set once the system refused O_NOATIME (EPERM: the
// process neither owns the file nor may act as its owner), so that later
// reads do not ask again.
var noatimeRefused atomic.Bool

// openFile is os.OpenFile; a test makes the system refuse O_NOATIME.
var openFile = os.OpenFile

// openRead opens name for reading, with oNoatime unless the system
// refused it before.
func openRead(name string) (*os.File, error) {
	if oNoatime != 0 && !noatimeRefused.Load() {
		f, err := openFile(name, os.O_RDONLY|oNoatime, 0)
		if !errors.Is(err, syscall.EPERM) {
			return f, err
		}
		noatimeRefused.Store(true)
	}
	return openFile(name, os.O_RDONLY, 0)
}

// readFile is os.ReadFile through openRead.
func readFile(name string) ([]byte, error) {
	f, err := openRead(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := 512
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 && fi.Size() < 1<<30 {
		size = int(fi.Size()) + 1 // one more, so that the first read can see the end
	}
	b := make([]byte, 0, size)
	for {
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if errors.Is(err, io.EOF) {
				return b, nil
			}
			return nil, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}
