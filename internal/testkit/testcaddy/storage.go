package testcaddy

import (
	"sync"
	"testing"
)

// storageDirs holds the storage folder of each running test.
var storageDirs sync.Map // testing.TB -> string

// StorageDir is the test's own folder for Caddy's storage: the same for
// every config the test loads, removed when it ends. See StorageOption.
func StorageDir(tb testing.TB) string {
	dir, ok := storageDirs.Load(tb)
	if !ok {
		dir = tb.TempDir()
		storageDirs.Store(tb, dir)
		tb.Cleanup(func() { storageDirs.Delete(tb) })
	}
	return dir.(string)
}

// StorageOption is the global option that keeps Caddy's storage, and so the
// sgid handler's default session store, in StorageDir. Without it every
// test would share the user's Caddy data folder with earlier tests and
// earlier runs: a fake sgID that happens to get a port an earlier one had
// has the same issuer, so the same session scope, and finds that one's
// sessions.
func StorageOption(tb testing.TB) string {
	return `storage file_system "` + StorageDir(tb) + `"`
}
