// Package testcaddy holds helpers for the tests that start an in-process
// Caddy, shared by the plugin's own tests and the e2e module. Only tests
// import it; it is a plain package so that both modules can use it.
package testcaddy

import "strings"

// WithGlobalOptions puts opts into the Caddyfile's global options block:
// a new block when it has none; else into the existing block, replacing the
// same options there (an option with a sub-block is dropped whole).
func WithGlobalOptions(caddyfile string, opts ...string) string {
	if len(opts) == 0 {
		return caddyfile
	}
	names := map[string]bool{}
	for _, o := range opts {
		if f := strings.Fields(o); len(f) > 0 {
			names[f[0]] = true
		}
	}
	lines := strings.SplitAfter(caddyfile, "\n")
	first := globalBlock(lines)
	if first < 0 {
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

// WithDefaultGlobalOptions puts those of opts into the Caddyfile's global
// options block that it does not set itself: the Caddyfile's own option of
// the same name wins.
func WithDefaultGlobalOptions(caddyfile string, opts ...string) string {
	set := globalOptionNames(caddyfile)
	var missing []string
	for _, o := range opts {
		if f := strings.Fields(o); len(f) > 0 && !set[f[0]] {
			missing = append(missing, o)
		}
	}
	return WithGlobalOptions(caddyfile, missing...)
}

// globalBlock is the index of the line that opens the Caddyfile's global
// options block, or -1 when it has none.
func globalBlock(lines []string) int {
	first := 0
	for first < len(lines) && stripComment(lines[first]) == "" {
		first++
	}
	if first == len(lines) || stripComment(lines[first]) != "{" {
		return -1
	}
	return first
}

// globalOptionNames are the names of the options in the Caddyfile's global
// options block.
func globalOptionNames(caddyfile string) map[string]bool {
	names := map[string]bool{}
	lines := strings.SplitAfter(caddyfile, "\n")
	first := globalBlock(lines)
	if first < 0 {
		return names
	}
	depth, quote := 1, rune(0)
	for _, line := range lines[first+1:] {
		if depth == 1 && quote == 0 {
			if f := strings.Fields(stripComment(line)); len(f) > 0 && f[0] != "}" {
				names[f[0]] = true
			}
		}
		if depth, quote = braceDepth(line, depth, quote); depth <= 0 {
			break
		}
	}
	return names
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
