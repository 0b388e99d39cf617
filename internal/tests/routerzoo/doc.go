// Package routerzoo proves, against real routers, that a request without a
// login never runs a protected route: the upstream gets only what the
// sgid guard judged.
//
// The zoo is four routers, each a real server on 127.0.0.1 with the same
// route table: "/", "/public/...", and the protected "/api/...",
// "/secret" (exact) and "/key/..." (k has a Unicode twin, the Kelvin
// sign). Each route answers 200 with its name and records the run (the
// request's X-Zoo-Id header, the route, the path it saw) where the test
// reads it beside Caddy, never through it: in memory for the in-process
// router, in a file for the others, written before the route answers.
//
//   - servemux: Go's net/http.ServeMux, in process.
//   - flask: Flask on Werkzeug's own server (flask/app.py), Debian's
//     python3-flask.
//   - express: Express 5 with its defaults (node/express.mjs).
//   - fastify: Fastify 5, whose router is find-my-way, with
//     caseSensitive: false, ignoreTrailingSlash, ignoreDuplicateSlashes
//     and useSemicolonDelimiter (node/fastify.mjs).
//
// What each does with a path that reaches it directly (readings_test.go
// pins these down, so that a new version that reads otherwise fails):
//
//   - Case: ServeMux and Werkzeug are case-sensitive. Express folds ASCII
//     case only (its path-to-regexp regexps take the "i" flag, without
//     "u"). Fastify lowercases the decoded path with JavaScript's
//     toLowerCase, which also maps the Kelvin sign U+212A to k
//     ("/%E2%84%AAey/x" runs /key/...); U+017F (long s), U+0131 (dotless
//     i), U+0130 and fullwidth letters fold to no ASCII letter in any of
//     them, and none applies NFKC.
//   - Percent-decoding: ServeMux, Werkzeug and Fastify route the decoded
//     path ("/%61pi/x" runs /api/...); Express routes the raw one. Only
//     Werkzeug decodes %2F into a separator ("/api%2fx" runs /api/...).
//   - ";": Fastify ends the path at the first ";" ("/secret;x" runs
//     /secret); the others keep it in the segment.
//   - "//": Werkzeug and Fastify merge slashes ("//api/x" runs /api/...);
//     ServeMux redirects to the clean path; Express keeps them.
//   - A trailing slash: Express (non-strict routing) and Fastify ignore
//     it ("/secret/" runs /secret).
//   - Dot segments: no router resolves them before routing ("/api/../x"
//     runs /api/... on all but ServeMux, which redirects a raw one and
//     routes an encoded one, "/api/%2e%2e/x", as it is).
//   - "#": all but ServeMux end the path there ("/secret#x" runs
//     /secret).
//   - Request targets that are not origin-form (RFC 9112 section 3.2):
//     Werkzeug routes "api/x", "http:api/x" or "x:secret" as the path
//     "/api/x" or "/secret"; the others answer 400. Every router routes
//     the path of an absolute-form target. Fastify runs "/" for "*".
//   - Whitespace (%09, %20, U+00A0, U+3000) stays in the path in all.
//
// Caddy, in process, stands in front with
//
//	sgid {
//		mock
//		store memory
//		protect /api/* /secret /key/*
//	}
//
// in two layouts: "site" (a site-wide reverse_proxy after sgid: every
// request the guard lets through reaches the router) and "handle" (the
// README's shape: handle /api/*, /secret, /key/*, /public/* and / each
// around reverse_proxy, and Caddy's own 404 for the rest).
//
// TestRouterZoo sends the corpus (testdata/targets.txt, shared with
// internal/tests/integration's path corpus, testdata/zoo-targets.txt, and
// paths of 16 KB) as raw request lines over TCP, with GET, HEAD and POST
// (or the line's own method), without a login, to every router in every
// layout, and fails for each request that ran a protected route. Its
// controls keep it from passing vacuously: on every site, the root and
// the public route run without a login, and after a login through the
// mock each protected route runs. It logs, per router and layout, how
// many corpus targets run a protected route when sent to the router
// itself, and what they did through Caddy.
//
// FuzzRawRequestTarget writes the fuzzer's method and request target the
// same way to every router that can run, in the "site" layout (a
// protected route that runs in the "handle" layout runs there too), and
// fails when any protected route ran. The routers and Caddy start once per
// fuzzing worker; the requests go over kept-alive connections.
//
// The corpus files hold one target a line, sent exactly as written; "#"
// lines and blank lines are skipped; a line starting with a double quote
// is a Go string literal (control bytes, invalid UTF-8); in
// zoo-targets.txt a line may start with a method and a space.
//
// Caddy runs in process with its admin endpoint off and every port picked
// by the system (not caddytest's fixed admin port), so that this package
// runs beside the others and each fuzzing worker has a Caddy of its own.
//
// A router whose runtime or packages are missing (python3 with Flask;
// node with node/node_modules from `npm ci`) is skipped with the reason,
// and fails the test when CI is set.
package routerzoo
