package testcaddy

import "testing"

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
