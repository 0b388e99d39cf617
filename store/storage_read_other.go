//go:build !linux

package store

// oNoatime is 0 where the system has no O_NOATIME: a read may update the
// file's access time, as os.ReadFile's does.
const oNoatime = 0
