// Package testcaddy holds helpers for the tests that start an in-process
// Caddy, shared by the plugin's own tests and the e2e module. Only tests
// import it; it is a plain package so that both modules can use it.
package testcaddy

import "strings"

// WithGlobalOptions puts opts into the Caddyfile's global options block:
// a new block when it has none; else into the existing block, replacing the
// same options there (an option with a sub-block is dropped whole).
func WithGlobalOptions(caddyfile string, opts ...string) string {
	names := map[string]bool{}
	for _, o := range opts {
		if f := strings.Fields(o); len(f) > 0 {
			names[f[0]] = true
		}
	}
	lines := strings.SplitAfter(caddyfile, "\n")
	first := 0
	for first < len(lines) && stripComment(lines[first]) == "" {
		first++
	}
	if first == len(lines) || stripComment(lines[first]) != "{" {
		return "{\n\t" + strings.Join(opts, "\n\t") + "\n}\n\n" + caddyfile
	}
	var b strings.Builder
	for _, l := range lines[:first+1] {
		b.WriteString(l)
	}
	for _, o := range opts {
		b.WriteString("\t" + o + "\n")
	}
	depth, quote, dropping := 1, rune(0), false
	i := first + 1
	for ; i < len(lines) && depth > 0; i++ {
		line := lines[i]
		if depth == 1 && quote == 0 && !dropping {
			if f := strings.Fields(stripComment(line)); len(f) > 0 && names[f[0]] {
				dropping = true
			}
		}
		depth, quote = braceDepth(line, depth, quote)
		if dropping {
			if depth <= 1 {
				dropping = false
			}
			if depth > 0 {
				continue
			}
		}
		b.WriteString(line)
	}
	for _, l := range lines[i:] {
		b.WriteString(l)
	}
	return b.String()
}

// stripComment returns the line without a # comment, trimmed.
func stripComment(line string) string {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return ""
	}
	if i := strings.Index(line, " #"); i >= 0 {
		line = line[:i]
	}
	if i := strings.Index(line, "\t#"); i >= 0 {
		line = line[:i]
	}
	return strings.TrimSpace(line)
}

// braceDepth follows the block depth through one line, skipping quoted
// text ("..." or `...`, which can span lines) and comments.
func braceDepth(line string, depth int, quote rune) (int, rune) {
	prev := ' '
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote && !(quote == '"' && prev == '\\') {
				quote = 0
			}
		case r == '"' || r == '`':
			quote = r
		case r == '#' && (prev == ' ' || prev == '\t'):
			return depth, quote
		case r == '{':
			depth++
		case r == '}':
			depth--
		}
		prev = r
	}
	return depth, quote
}
