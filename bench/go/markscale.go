// markscale.go - does Go's mark go faster with more processors?  As
// bench/bench_markscale.c does for gcheap and Boehm: a live heap of
// -live-mib MiB (binary trees of depth 18 of 24-byte nodes under a
// global slice) is built with GOGC off, then collected with runtime.GC
// -reps times (after one warm-up collection) at GOMAXPROCS=1 and then 2,
// while the only goroutine waits (so all marking is the GC workers').
// The mark time is the B of each cycle's "A+B+C ms clock"; medians.
//
// Flags: -live-mib (default 512), -reps (default 5).
package main

import (
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
)

type msNode struct {
	l, r *msNode
	v    uint64
}

func msTree(d int) *msNode {
	n := &msNode{v: uint64(d)}
	if d > 0 {
		n.l = msTree(d - 1)
		n.r = msTree(d - 1)
	}
	return n
}

var msRoots []*msNode

func mainMarkScale(args []string) {
	fs := flag.NewFlagSet("markscale", flag.ExitOnError)
	live := fs.Int("live-mib", 512, "live MiB (12 per tree)")
	reps := fs.Int("reps", 5, "collections measured per setting")
	fs.Parse(args)
	ntrees := *live / 12
	if ntrees < 1 {
		ntrees = 1
	}
	tr := startTrace()
	debug.SetGCPercent(-1)
	for i := 0; i < ntrees; i++ {
		msRoots = append(msRoots, msTree(18))
	}
	tr.finish()
	j := newJSON("markscale")
	j.int("live_mib", int64(ntrees*12))
	var med [2]float64
	for p := 1; p <= 2; p++ {
		runtime.GOMAXPROCS(p)
		runtime.GC()
		before := len(tr.finish())
		for r := 0; r < *reps; r++ {
			runtime.GC()
		}
		cs := tr.finish()[before:]
		var b []float64
		for _, c := range cs {
			if c.forced {
				b = append(b, c.b)
			}
		}
		med[p-1] = median(b)
		j.num(fmt.Sprintf("go-p%d", p), med[p-1])
	}
	ok := true
	for _, t := range msRoots {
		ok = ok && t.v == 18
	}
	speedup := 0.0
	if med[1] > 0 {
		speedup = med[0] / med[1]
	}
	j.num("speedup_go", speedup)
	j.bool("checksum_ok", ok)
	j.print()
	fmt.Fprintf(logOut, "go markscale: %d MiB live, mark ms p1 %.1f p2 %.1f, speedup %.2f\n",
		ntrees*12, med[0], med[1], speedup)
}
