package routerzoo

import (
	"strconv"
	"testing"
)

// readings pins down how each router of the zoo reads some paths when a
// request reaches it directly, without Caddy: the route it runs ("" for
// none), by router name. The package doc sums these up; a router whose
// new version reads a path otherwise fails here, so that the doc and the
// corpus are looked at again.
var readings = []struct {
	target string
	ran    map[string]string
}{
	{"/api/x", map[string]string{"servemux": routeAPI, "flask": routeAPI, "express": routeAPI, "fastify": routeAPI}},
	// Case: Express folds ASCII case, Fastify (caseSensitive: false)
	// lowercases with JavaScript's toLowerCase, which maps the Kelvin sign
	// to k; none folds U+017F (long s) or U+0131 (dotless i).
	{"/API/x", map[string]string{"express": routeAPI, "fastify": routeAPI}},
	{"/SECRET", map[string]string{"express": routeSecret, "fastify": routeSecret}},
	{"/%E2%84%AAey/x", map[string]string{"fastify": routeKey}},
	{"/%C5%BFecret", map[string]string{}},
	{"/ap%C4%B1/x", map[string]string{}},
	{"/%EF%BC%A1pi/x", map[string]string{}},
	// Percent-decoding before routing: all but Express; only Werkzeug
	// decodes %2F into a separator.
	{"/%61pi/x", map[string]string{"servemux": routeAPI, "flask": routeAPI, "fastify": routeAPI}},
	{"/api%2fx", map[string]string{"flask": routeAPI}},
	// ";" starts the query for Fastify (useSemicolonDelimiter); no other
	// drops parameters.
	{"/secret;x", map[string]string{"fastify": routeSecret}},
	{"/api;x/y", map[string]string{}},
	// "//": Werkzeug and Fastify (ignoreDuplicateSlashes) merge it;
	// ServeMux redirects to the clean path.
	{"//api/x", map[string]string{"flask": routeAPI, "fastify": routeAPI}},
	// A trailing slash: Express (non-strict) and Fastify
	// (ignoreTrailingSlash) ignore it.
	{"/secret/", map[string]string{"express": routeSecret, "fastify": routeSecret}},
	// Dot segments: none resolves them before routing; ServeMux
	// redirects a raw one to the clean path.
	{"/api/%2e%2e/x", map[string]string{"servemux": routeAPI, "flask": routeAPI, "express": routeAPI, "fastify": routeAPI}},
	{"/api/../x", map[string]string{"flask": routeAPI, "express": routeAPI, "fastify": routeAPI}},
	{"/public/../secret", map[string]string{"flask": routePublic, "express": routePublic, "fastify": routePublic}},
	// "#" in the target: all but ServeMux cut the path there.
	{"/secret#x", map[string]string{"flask": routeSecret, "express": routeSecret, "fastify": routeSecret}},
	// Targets that are not origin-form: Werkzeug routes the opaque part
	// as a path; the others refuse it. Absolute-form: all route its path.
	{"http:api/x", map[string]string{"flask": routeAPI}},
	{"api/x", map[string]string{"flask": routeAPI}},
	{"http://h/api/x", map[string]string{"servemux": routeAPI, "flask": routeAPI, "express": routeAPI, "fastify": routeAPI}},
	{"*", map[string]string{"fastify": routeRoot}},
	// Whitespace: none strips it.
	{"/api%09/x", map[string]string{}},
	{"/secret%20", map[string]string{}},
}

// checkReadings sends each path of readings to the router itself and
// compares the route it ran with the table.
func checkReadings(t *testing.T, r *router) {
	t.Helper()
	for i, rd := range readings {
		id := "reading-" + strconv.Itoa(i)
		m := r.hits.mark()
		a := sendRaw(r.addr, "GET", rd.target, id, "")
		got := ""
		for _, h := range r.hits.since(t, m) {
			if h.ID == id {
				got = h.Route
			}
		}
		if want := rd.ran[r.name]; got != want {
			t.Errorf("%s reads %q (straight, without Caddy) as route %q (status %d), the table says %q: check the package doc and the corpus",
				r.name, rd.target, got, a.status, want)
		}
	}
}
