package sgidtest

import (
	"html"
	"net/url"
	"regexp"
)

// hiddenInputRE matches the hidden inputs the mock's login template writes.
var hiddenInputRE = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)

// LoginForm returns the hidden fields of a login page served by a
// Provider (or by a mock.Provider, such as the Caddy module's mock), for
// tests that drive the page without a browser: add "sub" (a persona's Sub)
// or "cancel", and POST the form to the page's URL. It reads only the
// mock's own page, and returns nil when page has no login form.
func LoginForm(page string) url.Values {
	var form url.Values
	for _, m := range hiddenInputRE.FindAllStringSubmatch(page, -1) {
		if form == nil {
			form = url.Values{}
		}
		form.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return form
}
