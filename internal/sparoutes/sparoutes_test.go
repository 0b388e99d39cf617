package sparoutes

import "testing"

// LoginURL adds return_to to the auth-url route or to a login page that
// may carry a query of its own, escaped; without a page to come back to it
// adds nothing.
func TestLoginURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ page, back, want string }{
		{"/api/auth-url", "/orders?id=7&tab=a b", "/api/auth-url?return_to=%2Forders%3Fid%3D7%26tab%3Da+b"},
		{"/login?lang=en", "/x", "/login?lang=en&return_to=%2Fx"},
		{"/login", "", "/login"},
	} {
		if got := LoginURL(tc.page, tc.back); got != tc.want {
			t.Errorf("LoginURL(%q, %q) = %q, want %q", tc.page, tc.back, got, tc.want)
		}
	}
}
