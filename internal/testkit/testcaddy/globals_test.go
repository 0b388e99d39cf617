package testcaddy

import (
	"path/filepath"
	"testing"
)

func TestWithGlobalOptions(t *testing.T) {
	opts := []string{"admin localhost:2999", "grace_period 1ns"}
	for _, tc := range []struct{ in, want string }{{
		in:   "# c\nhttp://a {\n\trespond x\n}\n",
		want: "{\n\tadmin localhost:2999\n\tgrace_period 1ns\n}\n\n# c\nhttp://a {\n\trespond x\n}\n",
	}, {
		in:   "# c\n\n{\n\tadmin off\n\temail a@b # {\n\tgrace_period 5s\n}\nhttp://a {\n\trespond `{\"x\": 1}`\n}\n",
		want: "# c\n\n{\n\tadmin localhost:2999\n\tgrace_period 1ns\n\temail a@b # {\n}\nhttp://a {\n\trespond `{\"x\": 1}`\n}\n",
	}, {
		in:   "{\n\tadmin :2019 {\n\t\torigins x\n\t}\n\tlog {\n\t\tlevel debug\n\t}\n}\nhttp://a {\n}\n",
		want: "{\n\tadmin localhost:2999\n\tgrace_period 1ns\n\tlog {\n\t\tlevel debug\n\t}\n}\nhttp://a {\n}\n",
	}} {
		if got := WithGlobalOptions(tc.in, opts...); got != tc.want {
			t.Errorf("WithGlobalOptions(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestWithDefaultGlobalOptions(t *testing.T) {
	opts := []string{"storage file_system /s", "grace_period 1ns"}
	for _, tc := range []struct{ name, in, want string }{{
		name: "no global block",
		in:   "http://a {\n}\n",
		want: "{\n\tstorage file_system /s\n\tgrace_period 1ns\n}\n\nhttp://a {\n}\n",
	}, {
		name: "own storage wins",
		in:   "{\n\tstorage file_system /mine\n}\nhttp://a {\n}\n",
		want: "{\n\tgrace_period 1ns\n\tstorage file_system /mine\n}\nhttp://a {\n}\n",
	}, {
		name: "own storage block wins",
		in:   "{\n\tstorage redis {\n\t\tgrace_period 2s\n\t}\n\tgrace_period 5s\n}\nhttp://a {\n}\n",
		want: "{\n\tstorage redis {\n\t\tgrace_period 2s\n\t}\n\tgrace_period 5s\n}\nhttp://a {\n}\n",
	}, {
		name: "a site's directive is no global option",
		in:   "{\n\tadmin off\n}\nhttp://a {\n\tstorage x\n}\n",
		want: "{\n\tstorage file_system /s\n\tgrace_period 1ns\n\tadmin off\n}\nhttp://a {\n\tstorage x\n}\n",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := WithDefaultGlobalOptions(tc.in, opts...); got != tc.want {
				t.Errorf("WithDefaultGlobalOptions(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestStorageOption(t *testing.T) {
	opt := StorageOption(t)
	if again := StorageOption(t); again != opt {
		t.Errorf("a test's second call gave %q, its first %q: its configs would not share their sessions", again, opt)
	}
	var inner string
	t.Run("subtest", func(t *testing.T) { inner = StorageOption(t) })
	if inner == opt {
		t.Errorf("a subtest shares its parent's storage %q", opt)
	}
	if dir := StorageDir(t); opt != `storage file_system "`+dir+`"` || filepath.Dir(dir) != filepath.Dir(t.TempDir()) {
		t.Errorf("StorageOption = %q, want a folder of the test's own temporary ones", opt)
	}
}
