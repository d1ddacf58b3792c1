// binarytrees.go - the benchmarks game's binary-trees, single threaded,
// as bench/bench_binarytrees.c runs it: a stretch tree of depth N+1, a
// long-lived tree of depth N, then 2^(N-d+4) trees of each depth d = 4,
// 6, ..., N, each built bottom-up, checked (node count) and dropped.
// checksum = the sum of every check, compared with the closed form.
//
// Flags: -d max depth (default 21).
package main

import "flag"

type btNode struct{ left, right *btNode }

func btMake(d int) *btNode {
	if d <= 0 {
		return &btNode{}
	}
	return &btNode{btMake(d - 1), btMake(d - 1)}
}

func btCheck(n *btNode) uint64 {
	var c uint64
	for n != nil { // recurse left, iterate right
		c += 1 + btCheck(n.left)
		n = n.right
	}
	return c
}

func btSize(d int) uint64 { return 1<<(d+1) - 1 }

func btExpected(maxd int) uint64 {
	sum := btSize(maxd+1) + btSize(maxd)
	for d := 4; d <= maxd; d += 2 {
		sum += (1 << (maxd - d + 4)) * btSize(d)
	}
	return sum
}

func mainBinaryTrees(args []string) {
	fs := flag.NewFlagSet("binarytrees", flag.ExitOnError)
	maxd := fs.Int("d", 21, "max depth, 6..26")
	fs.Parse(args)
	if *maxd < 6 || *maxd > 26 {
		fatal("-d %d: not in 6..26", *maxd)
	}
	tr := startTrace()
	r := runTimed(tr, func() (uint64, bool) {
		sum := btCheck(btMake(*maxd + 1))
		long := btMake(*maxd)
		for d := 4; d <= *maxd; d += 2 {
			n := 1 << (*maxd - d + 4)
			for i := 0; i < n; i++ {
				sum += btCheck(btMake(d))
			}
		}
		sum += btCheck(long)
		return sum, sum == btExpected(*maxd)
	})
	j := newJSON("binarytrees")
	j.int("max_depth", int64(*maxd))
	emitTimed(j, r)
}
