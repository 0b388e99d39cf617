// Package spaclient holds the browser side of a session, embedded: sgid.js,
// the ES module a single-page app imports to follow its session (login,
// logout, expiry and extension, across tabs, and logins in a popup), and
// the login window that module opens (its page and script).
//
// The package knows no route: the handler decides where each piece is
// served and calls [Serve] or [ServePage]. The files are served as they
// are embedded, with no build step.
package spaclient

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddy-sgid/caddy-sgid/internal/respond"
)

//go:embed sgid.js
var clientJS []byte

//go:embed popup.js
var popupJS []byte

//go:embed popup.html
var popupHTML string

// Asset is one embedded script with the names it is served under.
type Asset struct {
	// Name is the file name without a version, such as "sgid.js": served
	// with no-cache and the ETag, so a browser revalidates it on each use.
	Name string
	// Versioned is the name with the content's hash, such as
	// "sgid.3f2a9c01b7de.js": served as immutable for a year, since
	// another content has another name.
	Versioned string
	// Hash is the first 12 hex digits of the SHA-256 of the content.
	Hash string
	// ETag is the strong entity tag of the content: the hash, quoted.
	ETag string

	body []byte
}

// Bytes is the asset's content. The slice is shared: do not modify it.
func (a *Asset) Bytes() []byte { return a.body }

// Client is sgid.js, the module a single-page app imports.
var Client = newAsset("sgid", clientJS)

// Popup is sgid-popup.js, the script of the login window's page.
var Popup = newAsset("sgid-popup", popupJS)

func newAsset(stem string, body []byte) *Asset {
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])[:12]
	return &Asset{
		Name:      stem + ".js",
		Versioned: stem + "." + hash + ".js",
		Hash:      hash,
		ETag:      `"` + hash + `"`,
		body:      body,
	}
}

// Lookup finds the asset that name (a file name, without a directory)
// names, and whether it is the versioned name.
func Lookup(name string) (a *Asset, versioned, ok bool) {
	for _, a := range [...]*Asset{Client, Popup} {
		switch name {
		case a.Name:
			return a, false, true
		case a.Versioned:
			return a, true, true
		}
	}
	return nil, false, false
}

// Serve answers a request for the asset that name names (see [Lookup]) and
// reports true; for any other name it writes nothing and reports false.
// GET and HEAD get the script as text/javascript: under its versioned name
// cacheable for a year as immutable, under its plain name revalidated on
// each use (no-cache) with its ETag, and 304 when If-None-Match holds it.
// Any other method gets 405.
func Serve(w http.ResponseWriter, r *http.Request, name string) bool {
	a, versioned, ok := Lookup(name)
	if !ok {
		return false
	}
	h := w.Header()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		_ = respond.MethodNotAllowed(w, "GET, HEAD")
		return true
	}
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", a.ETag)
	if versioned {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if noneMatch(r.Header.Values("If-None-Match"), a.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(a.body)
	}
	return true
}

// noneMatch reports whether If-None-Match holds etag, or "*": then the
// browser's copy is current. The comparison is weak (RFC 9110, 13.1.2): a
// W/ prefix does not matter.
func noneMatch(values []string, etag string) bool {
	for _, v := range values {
		for tag := range strings.SplitSeq(v, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
				return true
			}
		}
	}
	return false
}

// DoneParam and DoneValue mark the login window's page as the end of a
// login: the window starts its login with return_to set to the page's own
// path and "?sgid_popup=done".
const (
	DoneParam = "sgid_popup"
	DoneValue = "done"
)

var popupTemplate = template.Must(template.New("popup").Parse(popupHTML))

// PopupPage is the login window's page: it loads the popup script from
// scriptPath (where the handler serves [Popup]) and starts its login at
// authURLPath. The same page ends the login when it comes back with
// sgid_popup=done. Both paths are escaped for their HTML attributes.
// Build it once, when the paths are known.
func PopupPage(authURLPath, scriptPath string) []byte {
	var b bytes.Buffer
	// The template and its data are fixed strings: it cannot fail.
	_ = popupTemplate.Execute(&b, struct{ AuthURL, Script string }{authURLPath, scriptPath})
	return b.Bytes()
}

// PageCSP is the Content-Security-Policy of the login window's page: its
// one script from this origin, its one fetch to this origin, no frames
// around it.
const PageCSP = "default-src 'none'; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// ServePage answers a request for the login window's page (built by
// [PopupPage]): GET and HEAD get it as HTML, never cached (it is the end
// of a login), with [PageCSP], no referrer sent from it and no framing;
// any other method gets 405.
func ServePage(w http.ResponseWriter, r *http.Request, page []byte) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		_ = respond.MethodNotAllowed(w, "GET, HEAD")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", PageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Length", strconv.Itoa(len(page)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(page)
	}
}
