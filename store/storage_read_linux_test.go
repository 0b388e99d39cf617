package store

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// openFlags are the flags the open file f has, from /proc/self/fdinfo.
func openFlags(t *testing.T, f *os.File) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "flags:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 8, 64)
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		}
	}
	t.Fatalf("no flags in %s", b)
	return 0
}

// The file system storage's reads leave the access time of the store's
// files alone: the file is opened with O_NOATIME, and a Get of a record
// whose access time is older than its change (which relatime, the
// default, would update) keeps it.
func TestStorageReadKeepsAccessTime(t *testing.T) {
	fsys, s := newFileStore(t)
	k := key("session")
	putValue(t, s, k, "sealed", time.Hour)
	name := fsys.Filename(s.recordKey(k))

	f, err := openRead(name)
	if err != nil {
		t.Fatal(err)
	}
	flags := openFlags(t, f)
	f.Close()
	if flags&syscall.O_NOATIME == 0 {
		t.Fatalf("a record opened with flags %o, without O_NOATIME (%o)", flags, syscall.O_NOATIME)
	}

	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	old := fi.ModTime().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(name, old, fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, s, k); got != "sealed" {
		t.Fatalf("Get = %q", got)
	}
	if got := atime(t, name); !got.Equal(old) {
		t.Errorf("the access time went from %s to %s on a Get", old, got)
	}
}

func atime(t *testing.T, name string) time.Time {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return time.Unix(st.Atim.Sec, st.Atim.Nsec)
}

// Where the system refuses O_NOATIME (a file the process does not own),
// reads still succeed, opening files as os.ReadFile does, and stop asking
// for it.
func TestStorageReadWithoutNoatime(t *testing.T) {
	_, s := newFileStore(t)
	putValue(t, s, key("a"), "sealed", time.Hour)
	var asked []int
	openFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		asked = append(asked, flag)
		if flag&syscall.O_NOATIME != 0 {
			return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EPERM}
		}
		return os.OpenFile(name, flag, perm)
	}
	defer func() { openFile = os.OpenFile; noatimeRefused.Store(false) }()
	for range 2 {
		if got := mustGet(t, s, key("a")); got != "sealed" {
			t.Fatalf("Get = %q", got)
		}
	}
	want := []int{os.O_RDONLY | syscall.O_NOATIME, os.O_RDONLY, os.O_RDONLY}
	if fmt.Sprint(asked) != fmt.Sprint(want) {
		t.Errorf("opened with flags %o, want %o", asked, want)
	}
}
