// alloc.go - small-object allocation throughput with the collector off,
// as bench/bench_alloc.c measures gcheap and malloc: per repetition and
// goroutine, allocate N objects of one size, each holding a pointer to
// the previous one in word 0 (a scanned object, like gcheap-scan), and
// keep all of them live; only the allocation loop is timed (from the
// release of all goroutines to the end of the last).  GOGC is off
// (debug.SetGCPercent(-1)); between repetitions the objects are dropped
// and the memory given back (runtime.GC, debug.FreeOSMemory; untimed).
// One warm-up repetition is discarded.  Check: every link still points
// to its predecessor.
//
// Flags: -s sizes (default 16,64,128; each one of 8, 16, 32, 48, 64, 96,
// 128, 256, 512), -t goroutine counts (default 1,2), -r repetitions
// (default 7), -n max objects per goroutine (3000000), -m max MiB per
// goroutine and repetition (96).
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
)

type allocObj[P any] struct {
	link unsafe.Pointer
	pad  P
}

// allocChain fills dst with new objects, each linked to the previous.
func allocChain[P any](dst []unsafe.Pointer) {
	var prev unsafe.Pointer
	for i := range dst {
		o := &allocObj[P]{link: prev}
		prev = unsafe.Pointer(o)
		dst[i] = prev
	}
}

var allocBySize = map[int]func([]unsafe.Pointer){
	8: allocChain[[0]uint64], 16: allocChain[[1]uint64], 32: allocChain[[3]uint64],
	48: allocChain[[5]uint64], 64: allocChain[[7]uint64], 96: allocChain[[11]uint64],
	128: allocChain[[15]uint64], 256: allocChain[[31]uint64], 512: allocChain[[63]uint64],
}

func allocChecked(objs [][]unsafe.Pointer) bool {
	for _, o := range objs {
		for i := 1; i < len(o); i++ {
			if *(*unsafe.Pointer)(o[i]) != o[i-1] {
				return false
			}
		}
	}
	return true
}

// allocRep: one timed repetition; ns per allocation, check result.
func allocRep(fn func([]unsafe.Pointer), nt, n int) (float64, bool) {
	objs := make([][]unsafe.Pointer, nt)
	for k := range objs {
		objs[k] = make([]unsafe.Pointer, n)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for k := 0; k < nt; k++ {
		wg.Add(1)
		go func(dst []unsafe.Pointer) {
			defer wg.Done()
			<-start
			fn(dst)
		}(objs[k])
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	ns := float64(time.Since(t0).Nanoseconds()) / float64(nt*n)
	ok := allocChecked(objs)
	objs = nil
	runtime.GC()
	debug.FreeOSMemory()
	return ns, ok
}

func parseList(s string) []int {
	var v []int
	for _, f := range strings.Split(s, ",") {
		x, err := strconv.Atoi(f)
		if err != nil {
			fatal("bad list %q", s)
		}
		v = append(v, x)
	}
	return v
}

func mainAlloc(args []string) {
	fs := flag.NewFlagSet("alloc", flag.ExitOnError)
	sizes := fs.String("s", "16,64,128", "sizes")
	threads := fs.String("t", "1,2", "goroutine counts")
	reps := fs.Int("r", 7, "repetitions")
	maxObjs := fs.Int("n", 3000000, "max objects per goroutine")
	mib := fs.Int("m", 96, "max MiB per goroutine")
	fs.Parse(args)
	debug.SetGCPercent(-1)
	failed := false
	for _, size := range parseList(*sizes) {
		fn := allocBySize[size]
		if fn == nil {
			fatal("-s: size %d not one of 8,16,32,48,64,96,128,256,512", size)
		}
		n := *mib << 20 / size
		if n > *maxObjs {
			n = *maxObjs
		}
		for _, nt := range parseList(*threads) {
			allocRep(fn, nt, n) // warm-up
			ns := make([]float64, *reps)
			ok := true
			for r := range ns {
				var good bool
				ns[r], good = allocRep(fn, nt, n)
				ok = ok && good
			}
			j := newJSON("alloc")
			j.int("size", int64(size))
			j.int("threads", int64(nt))
			j.num("median_ns_per_alloc", median(ns))
			j.int("n_per_thread", int64(n))
			j.int("reps", int64(*reps))
			j.bool("checksum_ok", ok)
			j.print()
			fmt.Fprintf(logOut, "go alloc size %d threads %d: %.2f ns/alloc%s\n", size, nt, median(ns),
				map[bool]string{true: "", false: "  FAILED"}[ok])
			failed = failed || !ok
		}
	}
	if failed {
		os.Exit(1)
	}
}
