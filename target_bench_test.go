package caddysgid

import (
	"net/http"
	"strings"
	"testing"
)

// pathCostTargets are 16 KB paths for BenchmarkPathCost: a plain one, and
// two made to have as many readings as can be (the first as issue 26
// measured it, the second its tricky tail repeated throughout).
func pathCostTargets() map[string]string {
	const size = 16 << 10
	tail := "/%25252525252e%252e;a%5cb//c./d%3f"
	return map[string]string{
		"plain":         "/public/" + strings.Repeat("a", size-8),
		"adversarial":   "/public/" + strings.Repeat("a", size-8-len(tail)) + tail,
		"adversarial-x": "/public" + strings.Repeat(tail, size/len(tail)),
	}
}

// BenchmarkPathCost is the cost of the guard's judgement of a 16 KB path,
// through the handler with protect set and nobody logged in: the plain
// path is passed on, the adversarial ones are refused (ambiguous_paths
// refuse) or judged protected without being read (protect). Compare each
// adversarial row with plain in the same run.
func BenchmarkPathCost(b *testing.B) {
	targets := pathCostTargets()
	for _, mode := range []string{ambiguousRefuse, ambiguousProtect} {
		h := testGuardHandler(b, &Guard{Protect: []string{"/api/*"}, LoginPage: "/login", AmbiguousPaths: mode})
		for _, name := range []string{"plain", "adversarial", "adversarial-x"} {
			req := readRawRequest(b, http.MethodGet, targets[name])
			b.Run(mode+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					serve(b, h, req, okNext)
				}
			})
		}
	}
}
