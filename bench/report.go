package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"time"
)

// median of xs (the mean of the middle two for an even count).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// section is one generated part of BENCHMARKS.md.
type section struct {
	name string // the marker's name
	body strings.Builder
}

func (s *section) printf(format string, args ...any) {
	fmt.Fprintf(&s.body, format, args...)
}

// markers delimit a generated section, so that a later run replaces it and
// leaves the hand-written text around it alone.
func markers(name string) (string, string) {
	return "<!-- bench:" + name + " -->", "<!-- /bench:" + name + " -->"
}

// replaceSection puts body between the markers of name in doc, or appends
// the marked section when doc has none yet.
func replaceSection(doc, name, body string) string {
	begin, end := markers(name)
	block := begin + "\n" + strings.TrimRight(body, "\n") + "\n" + end
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	if i < 0 || j < i {
		if doc != "" && !strings.HasSuffix(doc, "\n\n") {
			doc = strings.TrimRight(doc, "\n") + "\n\n"
		}
		return doc + block + "\n"
	}
	return doc[:i] + block + doc[j+len(end):]
}

// writeSections updates path with the sections, keeping everything else.
func writeSections(path string, secs []*section) error {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	doc := string(b)
	for _, s := range secs {
		doc = replaceSection(doc, s.name, s.body.String())
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}

// machine describes where and when the figures were taken.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	goVersion := runtime.Version()
	if out, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		goVersion = strings.TrimSpace(string(out))
	}
	node := "none"
	if out, err := exec.Command("node", "--version").Output(); err == nil {
		node = strings.TrimSpace(string(out))
	}
	return fmt.Sprintf("nproc %d (%s), %s, Node.js %s, %s", nproc(), model, goVersion, node,
		time.Now().UTC().Format("2006-01-02 15:04 MST"))
}

// verdict says whether ratio meets a target of at least min.
func verdict(ratio, min float64) string {
	if ratio >= min {
		return fmt.Sprintf("meets ≥ %.2f×", min)
	}
	return fmt.Sprintf("**misses ≥ %.2f×**", min)
}

// verdictMax says whether ratio stays within a goal of at most max.
func verdictMax(ratio, max float64) string {
	if ratio <= max {
		return fmt.Sprintf("meets ≤ %.2f×", max)
	}
	return fmt.Sprintf("**misses ≤ %.2f×**", max)
}

// bytesPer formats a memory figure per item.
func bytesPer(delta float64, n int64) string {
	if n == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f B", delta/float64(n))
}
