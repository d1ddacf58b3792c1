// churn.go - a large live heap under random replacement, as
// bench/bench_churn.c runs it: a table of S = 256 MiB * s/100 / 64
// slots, each holding a 48-byte head pointing to a 16-byte pointer-free
// leaf; T goroutines each fill their share of the table, then make
// R/T of R = 50 M * s/100 replacements at random slots of their share,
// checking the record replaced; the table is checked at the end.
//
// Flags: -s scale percent (default 100), -t goroutines (default 1).
package main

import (
	"flag"
	"sync"
)

type churnLeaf struct{ id, check uint64 }

type churnHead struct {
	leaf     *churnLeaf
	id, slot uint64
	pad      [3]uint64
}

func churnCheck(id, slot uint64) uint64 { return ^(id*0x9e3779b97f4a7c15 ^ slot) }

func churnOK(h *churnHead, i uint64) bool {
	return h != nil && h.slot == i && h.leaf != nil && h.leaf.id == h.id && h.leaf.check == churnCheck(h.id, i)
}

func churnFill(table []*churnHead, i, id uint64) {
	h := &churnHead{id: id, slot: i}
	h.leaf = &churnLeaf{id: id, check: churnCheck(id, i)}
	table[i] = h
}

// churnMutator: fill [lo, hi), then n replacements; records checked.
func churnMutator(table []*churnHead, lo, hi uint64, n int64, index uint64) (uint64, bool) {
	seed := 0x2545f4914f6cdd1d + index*0x9e3779b97f4a7c15
	ok := true
	for i := lo; i < hi; i++ {
		churnFill(table, i, i)
	}
	for k := int64(0); k < n; k++ {
		seed ^= seed << 13
		seed ^= seed >> 7
		seed ^= seed << 17
		i := lo + seed%(hi-lo)
		ok = ok && churnOK(table[i], i)
		churnFill(table, i, (index+1)<<40+uint64(k))
	}
	return uint64(n), ok
}

func mainChurn(args []string) {
	fs := flag.NewFlagSet("churn", flag.ExitOnError)
	pct := fs.Int64("s", 100, "scale percent (1..1000)")
	nt := fs.Int64("t", 1, "goroutines (1..16)")
	fs.Parse(args)
	if *pct < 1 || *pct > 1000 || *nt < 1 || *nt > 16 {
		fatal("-s 1..1000, -t 1..16")
	}
	slots := uint64(256 * *pct / 100 * (1 << 20) / 64)
	repl := 50000000 / 100 * *pct
	tr := startTrace()
	r := runTimed(tr, func() (uint64, bool) {
		table := make([]*churnHead, slots)
		var wg sync.WaitGroup
		sums := make([]uint64, *nt)
		oks := make([]bool, *nt)
		for k := int64(0); k < *nt; k++ {
			wg.Add(1)
			go func(k int64) {
				defer wg.Done()
				n := repl / *nt
				if k < repl%*nt {
					n++
				}
				lo, hi := slots*uint64(k)/uint64(*nt), slots*uint64(k+1)/uint64(*nt)
				sums[k], oks[k] = churnMutator(table, lo, hi, n, uint64(k))
			}(k)
		}
		wg.Wait()
		sum, ok := uint64(0), true
		for i := range table {
			ok = ok && churnOK(table[i], uint64(i))
		}
		sum += slots
		for k := range sums {
			sum += sums[k]
			ok = ok && oks[k]
		}
		return sum, ok && sum == slots+uint64(repl)
	})
	j := newJSON("churn")
	j.int("scale_percent", *pct)
	j.int("threads", *nt)
	emitTimed(j, r)
}
