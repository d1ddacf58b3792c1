// gcbench.go - the classic GCBench (Ellis, Kovac, Boehm) as
// bench/bench_gcbench.c runs it: a stretch tree of depth 18, a
// long-lived tree of depth 16 (top-down) and an array of 500,000
// float64, then for d = 4, 6, ..., 16 NumIters(d) trees built top-down
// (Populate) and as many bottom-up (MakeTree), each dropped at once.
// Check: the long-lived tree has TreeSize(16) nodes, array[1000] ==
// 1/1000.
//
// Flags: -s NumIters scaled to this percentage (default 100).
package main

import "flag"

const (
	gcbStretch   = 18
	gcbLongLived = 16
	gcbArray     = 500000
	gcbMin       = 4
	gcbMax       = 16
)

type gcbNode struct {
	left, right *gcbNode
	i, j        int64
}

func gcbTreeSize(d int) int64 { return 1<<(d+1) - 1 }

func gcbNumIters(d int, pct int64) int64 {
	n := 2 * gcbTreeSize(gcbStretch) / gcbTreeSize(d) * pct / 100
	if n < 1 {
		return 1
	}
	return n
}

func gcbPopulate(d int, n *gcbNode) {
	if d <= 0 {
		return
	}
	d--
	n.left = &gcbNode{}
	n.right = &gcbNode{}
	gcbPopulate(d, n.left)
	gcbPopulate(d, n.right)
}

func gcbMake(d int) *gcbNode {
	if d <= 0 {
		return &gcbNode{}
	}
	return &gcbNode{left: gcbMake(d - 1), right: gcbMake(d - 1)}
}

func gcbCount(n *gcbNode) int64 {
	var c int64
	for n != nil {
		c += 1 + gcbCount(n.left)
		n = n.right
	}
	return c
}

var gcbSink *gcbNode // keeps the temporary trees from being optimised away

func mainGCBench(args []string) {
	fs := flag.NewFlagSet("gcbench", flag.ExitOnError)
	pct := fs.Int64("s", 100, "NumIters scale, percent (1..10000)")
	fs.Parse(args)
	if *pct < 1 || *pct > 10000 {
		fatal("-s %d: not in 1..10000", *pct)
	}
	tr := startTrace()
	r := runTimed(tr, func() (uint64, bool) {
		gcbSink = gcbMake(gcbStretch)
		gcbSink = nil
		long := &gcbNode{}
		gcbPopulate(gcbLongLived, long)
		a := make([]float64, gcbArray)
		for i := 0; i < gcbArray/2; i++ {
			a[i] = 1.0 / float64(i)
		}
		for d := gcbMin; d <= gcbMax; d += 2 {
			n := gcbNumIters(d, *pct)
			for i := int64(0); i < n; i++ {
				gcbSink = &gcbNode{}
				gcbPopulate(d, gcbSink)
				gcbSink = nil
			}
			for i := int64(0); i < n; i++ {
				gcbSink = gcbMake(d)
				gcbSink = nil
			}
		}
		c := gcbCount(long)
		return uint64(c), c == gcbTreeSize(gcbLongLived) && a[1000] == 1.0/1000
	})
	j := newJSON("gcbench")
	j.int("scale_percent", *pct)
	emitTimed(j, r)
}
