// Command gcheapbench: the workloads of gcheap's benchmark suite
// (scripts/bench.sh) written the usual way in Go, so that Go's collector
// is measured on the same work as gcheap, Boehm GC and malloc/free.
//
// One run per invocation: the subcommand runs its workload once and
// prints one JSON line on stdout in the shape of bench/benchutil.h
// ("bench", "alloc": "go", the parameters, then median_* measurements
// over that one run), so that scripts/bench_report.py reads Go's lines
// and the C benchmarks' alike.  Pauses come from Go's own gctrace: the
// program runs with GODEBUG=gctrace=1 (it re-executes itself with it
// when unset), reads the lines from its stderr through a pipe, copies
// them to the real stderr (a log for scripts/plot-gctrace) and parses
// "gc N @T s P%: A+B+C ms clock": A and C are the two stop-the-world
// pauses of a cycle, B its concurrent mark.
//
// Usage: gcheapbench binarytrees|gcbench|churn|alloc|pauses|markscale [flags]
// (see each file for its flags).  Peak RSS is getrusage's ru_maxrss of
// this process; CPU time is user + system of all its threads.
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// logOut is the real stderr once startTrace has taken fd 2: the
// summaries go there directly, not through the pipe (whose reader may
// not have copied them before the program exits).
var logOut = os.Stderr

// cycle is one parsed gctrace line.
type cycle struct {
	startS  float64 // @T: seconds since the program started
	a, b, c float64 // clock: sweep termination, concurrent mark, mark termination (ms)
	forced  bool
}

// gcTrace collects the gctrace lines the runtime writes to fd 2.
type gcTrace struct {
	mu     sync.Mutex
	cycles []cycle
}

// ensureGctrace re-executes the program with gctrace=1 added to GODEBUG
// when it is not there: the runtime reads GODEBUG once, at start.
func ensureGctrace() {
	g := os.Getenv("GODEBUG")
	if strings.Contains(g, "gctrace=1") {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		fatal("os.Executable: %v", err)
	}
	if g != "" {
		g += ","
	}
	env := append(os.Environ(), "GODEBUG="+g+"gctrace=1")
	fatal("exec: %v", syscall.Exec(exe, os.Args, env))
}

// startTrace redirects fd 2 into a pipe read by a goroutine that copies
// every line to the original stderr and keeps the parsed gc lines.
func startTrace() *gcTrace {
	ensureGctrace()
	r, w, err := os.Pipe()
	if err != nil {
		fatal("pipe: %v", err)
	}
	orig, err := syscall.Dup(2)
	if err != nil {
		fatal("dup: %v", err)
	}
	if err := syscall.Dup3(int(w.Fd()), 2, 0); err != nil {
		fatal("dup3: %v", err)
	}
	out := os.NewFile(uintptr(orig), "stderr")
	logOut = out
	t := &gcTrace{}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(out, line)
			if c, ok := parseGctrace(line); ok {
				t.mu.Lock()
				t.cycles = append(t.cycles, c)
				t.mu.Unlock()
			}
		}
	}()
	return t
}

// finish waits until the line of every cycle completed so far has
// been read (the runtime prints a cycle's line in several writes, maybe
// after runtime.GC has returned) and returns the cycles so far; callable
// more than once.
func (t *gcTrace) finish() []cycle {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		t.mu.Lock()
		if uint32(len(t.cycles)) >= ms.NumGC {
			defer t.mu.Unlock()
			return append([]cycle(nil), t.cycles...)
		}
		t.mu.Unlock()
		if time.Now().After(deadline) {
			fatal("gctrace: %d lines read for %d cycles", len(t.cycles), ms.NumGC)
		}
	}
}

// parseGctrace reads "gc N @T s P%: A+B+C ms clock, ...".
func parseGctrace(line string) (cycle, bool) {
	var c cycle
	if !strings.HasPrefix(line, "gc ") {
		return c, false
	}
	f := strings.Fields(line)
	if len(f) < 5 || !strings.HasPrefix(f[2], "@") {
		return c, false
	}
	var err error
	if c.startS, err = strconv.ParseFloat(strings.TrimSuffix(f[2][1:], "s"), 64); err != nil {
		return c, false
	}
	parts := strings.Split(f[4], "+")
	if len(parts) != 3 {
		return c, false
	}
	v := [3]float64{}
	for i, p := range parts {
		if v[i], err = strconv.ParseFloat(p, 64); err != nil {
			return c, false
		}
	}
	c.a, c.b, c.c = v[0], v[1], v[2]
	c.forced = strings.HasSuffix(line, "(forced)")
	return c, true
}

// pauseStats: the longest and total per-cycle stop-the-world time (A+C,
// what Go's MemStats.PauseNs and gcheap's pause_ns record per cycle).
func pauseStats(cs []cycle) (max, total float64) {
	for _, c := range cs {
		p := c.a + c.c
		total += p
		if p > max {
			max = p
		}
	}
	return max, total
}

// usage: peak RSS (MiB) and CPU time (ms) of the process so far.
func usage() (rssMiB, cpuMs float64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fatal("getrusage: %v", err)
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return float64(ru.Maxrss) / 1024, float64(cpu) / 1e6
}

// jsonLine builds one JSON object, fields in insertion order.
type jsonLine struct{ parts []string }

func newJSON(bench string) *jsonLine {
	j := &jsonLine{}
	j.str("bench", bench)
	j.str("alloc", "go")
	return j
}

func (j *jsonLine) str(k, v string) {
	j.parts = append(j.parts, strconv.Quote(k)+": "+strconv.Quote(v))
}
func (j *jsonLine) int(k string, v int64) {
	j.parts = append(j.parts, strconv.Quote(k)+": "+strconv.FormatInt(v, 10))
}
func (j *jsonLine) num(k string, v float64) {
	j.parts = append(j.parts, strconv.Quote(k)+": "+strconv.FormatFloat(v, 'f', 4, 64))
}
func (j *jsonLine) bool(k string, v bool) {
	j.parts = append(j.parts, strconv.Quote(k)+": "+strconv.FormatBool(v))
}

// print adds the Go version and prints the line.
func (j *jsonLine) print() {
	j.str("build", "go "+goVersion())
	fmt.Println("{" + strings.Join(j.parts, ", ") + "}")
}

// timed is the measurement of one run of a whole-program workload.
type timed struct {
	wall, cpu float64 // ms
	cycles    []cycle
	ok        bool
	checksum  uint64
}

// runTimed runs work once with the trace captured.
func runTimed(tr *gcTrace, work func() (uint64, bool)) timed {
	_, cpu0 := usage()
	t0 := time.Now()
	sum, ok := work()
	wall := float64(time.Since(t0)) / 1e6
	_, cpu1 := usage()
	return timed{wall: wall, cpu: cpu1 - cpu0, cycles: tr.finish(), ok: ok, checksum: sum}
}

// emitTimed prints the common fields of a whole-program workload.
func emitTimed(j *jsonLine, r timed) {
	rss, _ := usage()
	maxp, totp := pauseStats(r.cycles)
	j.num("median_wall_ms", r.wall)
	j.num("median_cpu_ms", r.cpu)
	j.num("median_maxrss_mib", rss)
	j.num("median_num_gc", float64(len(r.cycles)))
	j.num("median_max_pause_ms", maxp)
	j.num("median_total_pause_ms", totp)
	j.int("reps", 1)
	j.int("checksum", int64(r.checksum))
	j.bool("checksum_ok", r.ok)
	j.print()
	fmt.Fprintf(logOut, "go: wall %.1f ms  cpu %.1f ms  rss %.1f MiB  gcs %d  max pause %.3f ms%s\n",
		r.wall, r.cpu, rss, len(r.cycles), maxp, map[bool]string{true: "", false: "  FAILED"}[r.ok])
	if !r.ok {
		os.Exit(1)
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fatal(format string, args ...interface{}) {
	fmt.Fprintf(logOut, "gcheapbench: "+format+"\n", args...)
	os.Exit(3)
}

var workloads = map[string]func(args []string){
	"binarytrees": mainBinaryTrees,
	"gcbench":     mainGCBench,
	"churn":       mainChurn,
	"alloc":       mainAlloc,
	"pauses":      mainPauses,
	"markscale":   mainMarkScale,
}

func main() {
	if len(os.Args) < 2 || workloads[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: gcheapbench binarytrees|gcbench|churn|alloc|pauses|markscale [flags]")
		os.Exit(2)
	}
	workloads[os.Args[1]](os.Args[2:])
}
