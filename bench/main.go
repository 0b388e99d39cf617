// Command bench is the plugin's benchmark suite: each figure is a ratio of
// two systems measured in the same run, in alternating windows (pairs 1
// to 3: alternating slices of a quarter second within each round, see
// sliced.go), so that the noise of a shared machine falls on both sides
// alike.
//
// It starts everything it needs on 127.0.0.1: Caddy built from this
// checkout (one site per session store), Debian's redis-server, mockpass
// (the mock sgID of internal/tests/conformance) and an Express peer with the
// official sgID SDK (bench/peers/express). It prints every round and the
// median ratio of each pair, and writes the results into BENCHMARKS.md
// between markers, leaving the text around them alone.
//
// Run it from the repository's root, through bench/run.sh:
//
//	bench/run.sh                       # every pair, 15 rounds of 2 s windows
//	bench/run.sh -pairs 2,5 -rounds 7  # some pairs, more rounds
//
// The pairs: 1 userinfo vs respond, per store; 2 guarded vs unguarded
// reverse_proxy (with a CPU profile); 3 auth-url vs respond; 4 the plugin
// vs the Express peer; 5 CPU per login vs its physical floor; 6 whole
// login journeys, the Express peer vs the plugin on each store; 7 each
// store at N sessions vs at 1,000 (scale.go; its own Caddy build,
// bench/caddy, fills the stores).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// nproc is the machine's number of usable cores: bench/run.sh counts them
// before it pins this program to one of them.
func nproc() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_NPROC")); err == nil && n > 0 {
		return n
	}
	return runtime.NumCPU()
}

// svgPath is where pair 7's plot goes: svg when given, else
// bench/scale.svg in the folder of out, the file whose section links to it
// by that relative path, so that a run writing elsewhere than
// BENCHMARKS.md leaves the repository's plot alone. Without out, nowhere.
func svgPath(out, svg string) string {
	switch {
	case out == "":
		return ""
	case svg != "":
		return svg
	}
	return filepath.Join(filepath.Dir(out), "bench", "scale.svg")
}

// allPairs are the pairs' numbers, in the order they run.
var allPairs = []string{"1", "2", "3", "4", "5", "6", "7"}

func run() error {
	var o opts
	pairs := flag.String("pairs", strings.Join(allPairs, ","), "the pairs to run, comma-separated")
	flag.IntVar(&o.rounds, "rounds", 15, "rounds per pair (at least 5)")
	flag.DurationVar(&o.window, "window", 2*time.Second, "one measuring window (whole seconds)")
	flag.Int64Var(&o.pending, "pending", 20000, "auth-url calls for memory per pending login")
	flag.Int64Var(&o.sessions, "sessions", 2000, "logins for memory per session")
	flag.StringVar(&o.profiles, "profiles", "", "a folder to keep the CPU profiles in (for go tool pprof)")
	scaleBase := flag.Int("scale-base", 1000, "pair 7: the sessions of the baseline")
	scaleN := flag.String("scale-n", "100000,1000000", "pair 7: the sessions of each step, memory and Redis stores")
	scaleStorageN := flag.String("scale-storage-n", "100000,300000", "pair 7: the sessions of each step, storage store (as many steps)")
	scaleRounds := flag.Int("scale-rounds", 7, "pair 7: rounds per measure (at least 3)")
	scaleSVG := flag.String("scale-svg", "", "pair 7: where to write the plot (default: bench/scale.svg beside -out, where the section's link points; none with -out '')")
	out := flag.String("out", "BENCHMARKS.md", "the file to write the sections into; empty: print only")
	flag.Parse()
	*scaleSVG = svgPath(*out, *scaleSVG)
	var err error
	if o.scale, err = newScaleOpts(*scaleBase, *scaleN, *scaleStorageN, *scaleRounds, *scaleSVG); err != nil {
		return err
	}
	if o.rounds < 5 {
		return fmt.Errorf("-rounds %d: at least 5 rounds make a median", o.rounds)
	}
	if o.window < 2*time.Second || o.window%time.Second != 0 {
		return fmt.Errorf("-window %s: whole seconds, at least 2s", o.window)
	}
	want := strings.Split(*pairs, ",")
	slices.Sort(want)
	want = slices.Compact(want)
	for _, p := range want {
		if !slices.Contains(allPairs, p) {
			return fmt.Errorf("-pairs: unknown pair %q (1 to %d)", p, len(allPairs))
		}
	}
	if _, err := os.Stat("go.mod"); err != nil {
		return fmt.Errorf("run from the repository's root (bench/run.sh does)")
	}
	// Pairs 4 and 6 compare with the Express peer; only pair 4 uses wrk.
	needPeer := slices.Contains(want, "4") || slices.Contains(want, "6")
	needWrk := slices.Contains(want, "4")
	if err := checkPrereqs(needWrk, true, needPeer); err != nil {
		return err
	}

	// The command as a reader would type it, for the report.
	command := "bench/run.sh"
	if len(os.Args) > 1 {
		command += " " + strings.Join(os.Args[1:], " ")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	work, err := os.MkdirTemp("", "sgid-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	if o.profiles != "" {
		if err := os.MkdirAll(o.profiles, 0o755); err != nil {
			return err
		}
	}
	r := &rig{ctx: ctx, work: work, profiles: o.profiles}
	if nproc() >= 2 {
		r.servers, r.helpers = "0", "1"
	}
	defer r.stop()
	start := time.Now()
	if err := r.setUp(needPeer); err != nil {
		return err
	}

	type pair struct {
		id  string
		run func(opts, string) (*section, error)
	}
	var secs []*section
	for _, p := range []pair{
		{"1", r.pairUserinfo}, {"2", r.pairGuard}, {"3", r.pairAuthURL}, {"4", r.pairExpress}, {"5", r.pairCPU},
		{"6", r.pairJourney}, {"7", r.pairScale},
	} {
		if !slices.Contains(want, p.id) {
			continue
		}
		t0 := time.Now()
		s, err := p.run(o, command)
		if err != nil {
			return fmt.Errorf("pair %s: %w", p.id, err)
		}
		fmt.Printf("pair %s took %s (%s since the start)\n", p.id, time.Since(t0).Round(time.Second), time.Since(start).Round(time.Second))
		done := []*section{s}
		if p.id == "7" {
			// Pair 7's summary rows are a section of their own, written
			// by every run of the pair.
			done = append(done, r.scaleSum)
		}
		secs = append(secs, done...)
		// Each finished pair is written at once, so a later failure keeps it.
		if *out != "" {
			if err := writeSections(*out, done); err != nil {
				return err
			}
		}
	}
	// The summary covers every pair, so only a run of them all rewrites it.
	if len(want) == len(allPairs) {
		sum := &section{name: "summary"}
		sum.printf("Command: `%s`. Machine: %s.\n\n| pair | measure | throughput ratio | CPU-per-operation ratio | target | verdict |\n|---|---|---|---|---|---|\n%s\n",
			command, machine(), strings.Join(r.summary, "\n"))
		secs = append([]*section{sum}, secs...)
		if *out != "" {
			if err := writeSections(*out, []*section{sum}); err != nil {
				return err
			}
		}
	}
	if *out == "" {
		for _, s := range secs {
			fmt.Println(s.body.String())
		}
	} else {
		fmt.Printf("wrote %d section(s) to %s\n", len(secs), *out)
	}
	return nil
}
