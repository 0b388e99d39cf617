package cookie

import "testing"

func TestValidHostPort(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"localhost", true},
		{"localhost:5001", true},
		{"app.example.gov.sg", true},
		{"app.example.gov.sg.", true},
		{"xn--bcher-kva.example", true},
		{"127.0.0.1:9080", true},
		{"[::1]", true},
		{"[::1]:6001", true},
		{"localhost:65535", true},
		{"", false},
		{"localhost:", false},
		{"localhost:abc", false},
		{"localhost:-1", false},
		{"localhost:0", false},
		{"localhost:65536", false},
		{"localhost:0x10", false},
		{"localhost:+1", false},
		{"localhost:%36", false},
		{"localhost:000001", false},
		{"[localhost]:6001", false},
		{"[::1%eth0]:6001", false},
		{"[127.0.0.1]", false},
		{"::1", false},
		{"[::1]6001", false},
		{"local_host", false},
		{"-a.example", false},
		{"a..example", false},
		{"a.example:1:2", false},
		{"evil.example/x", false},
		{"evil.example@a", false},
		{"1.2.3.4.5", true}, // a DNS name, not an address
	} {
		t.Run(tc.name, func(t *testing.T) {
			host, want := tc.name, tc.want
			if got := validHostPort(host); got != want {
				t.Errorf("validHostPort(%q) = %v, want %v", host, got, want)
			}
		})
	}
}
