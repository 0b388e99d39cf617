// Package device names the kind of browser a session was started from, for
// a user's list of their sessions: "Chrome on Windows", "Safari on iOS".
//
// The label is coarse on purpose: a browser family and an operating system
// family, never a version, a device model or anything else from the
// User-Agent header, so that it adds little to what identifies a person and
// never echoes what a client sent. It is a hint for a person who recognises
// their own devices, not a security signal: any client can send any
// User-Agent.
package device

import "strings"

// maxScan bounds how much of a User-Agent is read. Real browsers send
// 100 to 300 bytes, and the tokens that name them come early; a longer
// header is read no further.
const maxScan = 512

// Unknown is the label for a User-Agent that names no browser this package
// knows, or none at all.
const Unknown = "Unknown browser"

// token is a substring that names a family. Order matters: the first match
// wins.
type token struct{ sub, name string }

// tools are clients that are not browsers; their label has no OS.
var tools = []token{
	{"curl/", "curl"},
	{"Wget/", "Wget"},
}

// browsers, most specific first: Edge, Opera, Samsung Internet, Vivaldi
// and Chrome on iOS all carry "Chrome/" or "Safari/" as well, Chrome
// carries "Safari/", and every browser on iOS is a WebKit whose own name
// is in its own token (CriOS, FxiOS, EdgiOS, OPiOS). Brave sends Chrome's
// User-Agent unchanged, so it is labelled Chrome.
var browsers = []token{
	{"Edg/", "Edge"},
	{"EdgA/", "Edge"},
	{"EdgiOS/", "Edge"},
	{"Edge/", "Edge"},
	{"OPR/", "Opera"},
	{"OPiOS/", "Opera"},
	{"OPT/", "Opera"},
	{"Opera", "Opera"},
	{"SamsungBrowser/", "Samsung Internet"},
	{"Vivaldi/", "Vivaldi"},
	{"Firefox/", "Firefox"},
	{"FxiOS/", "Firefox"},
	{"HeadlessChrome/", "Headless Chrome"},
	{"CriOS/", "Chrome"},
	{"; wv)", "Android WebView"},
	{"Chromium/", "Chromium"},
	{"Chrome/", "Chrome"},
	{"Trident/", "Internet Explorer"},
	{"MSIE ", "Internet Explorer"},
	{"Safari/", "Safari"},
}

// systems, most specific first: Android's User-Agent says Linux, and an
// iPhone's says "like Mac OS X".
var systems = []token{
	{"Windows", "Windows"},
	{"iPhone", "iOS"},
	{"iPad", "iOS"},
	{"iPod", "iOS"},
	{"Android", "Android"},
	{"CrOS", "ChromeOS"},
	{"Macintosh", "macOS"},
	{"Mac OS X", "macOS"},
	{"Linux", "Linux"},
}

// Label returns a coarse name for the browser and system of a User-Agent
// header: "<browser> on <system>", "<browser>" when the system is unknown,
// "curl" or "Wget" for those tools, and "Unknown browser" (with " on
// <system>" when that is known) otherwise. It only ever returns one of
// these fixed names, never part of its input, and reads at most the first
// 512 bytes.
func Label(userAgent string) string {
	ua := userAgent
	if len(ua) > maxScan {
		ua = ua[:maxScan]
	}
	for _, t := range tools {
		if strings.HasPrefix(ua, t.sub) {
			return t.name
		}
	}
	browser := first(ua, browsers)
	if browser == "Safari" && !strings.Contains(ua, "Version/") && !strings.Contains(ua, "Mobile/") {
		// Safari/ alone, without Safari's Version/ (or iOS's Mobile/),
		// is some other WebKit browser.
		browser = ""
	}
	if browser == "" && strings.Contains(ua, "AppleWebKit/") && strings.Contains(ua, "Mobile/") && hasAny(ua, "iPhone", "iPad", "iPod") {
		// An app's web view on iOS sends Safari's engine tokens without
		// "Safari/": it is Safari's engine, and what a person sees.
		browser = "Safari"
	}
	system := first(ua, systems)
	if browser == "Safari" && system == "Android" {
		// Android's own browser of old sent Safari's tokens.
		browser = "Android Browser"
	}
	if browser == "" {
		browser = Unknown
	}
	if system == "" {
		return browser
	}
	return browser + " on " + system
}

func first(ua string, table []token) string {
	for _, t := range table {
		if strings.Contains(ua, t.sub) {
			return t.name
		}
	}
	return ""
}

func hasAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
