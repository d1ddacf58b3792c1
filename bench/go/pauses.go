// pauses.go - stop-the-world pauses with a large live heap that two
// goroutines keep mutating, as bench/bench_pauses.c measures gcheap and
// Boehm: a root slice of K buckets (256-byte objects of 32 references),
// every bucket slot holding a chain of 1-4 nodes of 32 to 256 bytes
// (16-byte steps), K chosen so that the whole comes to -live-mib MiB;
// the goroutines build alternate buckets, then for -seconds each
// repeats a unit of work: build a fresh chain for a random bucket slot
// and swap it in, then allocate 4 short-lived nodes.  Every slot is
// checked at the end (1-4 nodes, each built for that slot).
//
// Pauses: from Go's gctrace, A and C of "A+B+C ms clock" are two
// separate stop-the-world pauses, as bench_pauses counts gcheap's; those
// of cycles starting in the steady state give the max, the 99th
// percentile and the count; the build's longest is reported apart.
//
// Flags: -live-mib (default 1024), -seconds (default 10).
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// progStart approximates the runtime's start, the origin of gctrace's @T.
var progStart = time.Now()

const (
	pSlots    = 32
	pMaxChain = 4
	pSizes    = 15
	pGarbage  = 4
)

type pNode struct {
	next            *pNode
	id, home, check uint64
}

type pSized[P any] struct {
	pNode
	pad P
}

func pNew[P any]() *pNode { return &new(pSized[P]).pNode }

// pMakers[sc] allocates a node of 32 + 16*sc bytes.
var pMakers = [pSizes]func() *pNode{
	pNew[[0]uint64], pNew[[2]uint64], pNew[[4]uint64], pNew[[6]uint64], pNew[[8]uint64],
	pNew[[10]uint64], pNew[[12]uint64], pNew[[14]uint64], pNew[[16]uint64], pNew[[18]uint64],
	pNew[[20]uint64], pNew[[22]uint64], pNew[[24]uint64], pNew[[26]uint64], pNew[[28]uint64],
}

type pBucket struct{ slot [pSlots]*pNode }

func pCheck(id, home uint64) uint64 { return (id*0x9e3779b97f4a7c15 ^ home) * 0xbf58476d1ce4e5b9 }

var pSink *pNode

type pMut struct {
	rng, nextID uint64
	units       int64
}

func (m *pMut) next() uint64 {
	m.rng ^= m.rng << 13
	m.rng ^= m.rng >> 7
	m.rng ^= m.rng << 17
	return m.rng
}

func (m *pMut) node(sc int, home uint64) *pNode {
	n := pMakers[sc]()
	n.id = m.nextID
	m.nextID++
	n.home = home
	n.check = pCheck(n.id, home)
	return n
}

func (m *pMut) chain(home uint64) *pNode {
	r := m.next()
	var head *pNode
	for i := uint64(0); i < 1+r%pMaxChain; i++ {
		n := m.node(int((r>>(8+8*i))&0xff)%pSizes, home)
		n.next = head
		head = n
	}
	return head
}

func pChainOK(n *pNode, home uint64) bool {
	k := 0
	for ; n != nil; n = n.next {
		if n.home != home || n.check != pCheck(n.id, home) {
			return false
		}
		k++
	}
	return k >= 1 && k <= pMaxChain
}

func mainPauses(args []string) {
	fs := flag.NewFlagSet("pauses", flag.ExitOnError)
	live := fs.Int("live-mib", 1024, "live MiB")
	secs := fs.Int("seconds", 10, "steady-state seconds")
	fs.Parse(args)
	per := 256.0 + 8 + pSlots*(pMaxChain+1)/2.0*144
	nb := int(float64(*live) * (1 << 20) / per)
	if nb < 2 {
		nb = 2
	}
	tr := startTrace()
	t0 := time.Now()
	roots := make([]*pBucket, nb)
	muts := []*pMut{{rng: 0x9e3779b97f4a7c15, nextID: 1}, {rng: 0xbf58476d1ce4e5b9, nextID: 1 << 56}}
	var wg sync.WaitGroup
	for k, m := range muts {
		wg.Add(1)
		go func(k int, m *pMut) {
			defer wg.Done()
			for b := k; b < nb; b += len(muts) {
				bk := &pBucket{}
				roots[b] = bk
				for s := 0; s < pSlots; s++ {
					bk.slot[s] = m.chain(uint64(b*pSlots + s))
				}
			}
		}(k, m)
	}
	wg.Wait()
	build := time.Since(t0)
	steady := time.Now()
	var stop int32
	for _, m := range muts {
		wg.Add(1)
		go func(m *pMut) {
			defer wg.Done()
			for atomic.LoadInt32(&stop) == 0 {
				r := m.next()
				b, s := int(r%uint64(nb)), int((r>>58)%pSlots)
				roots[b].slot[s] = m.chain(uint64(b*pSlots + s))
				for i := 0; i < pGarbage; i++ {
					pSink = m.node(int((r>>(8*i))&0xff)%pSizes, 0)
				}
				m.units++
			}
		}(m)
	}
	time.Sleep(time.Duration(*secs) * time.Second)
	atomic.StoreInt32(&stop, 1)
	wg.Wait()
	steadyWall := time.Since(steady)
	wall := time.Since(t0)
	ok := true
	for b, bk := range roots {
		for s := 0; s < pSlots; s++ {
			ok = ok && pChainOK(bk.slot[s], uint64(b*pSlots+s))
		}
	}
	cycles := tr.finish()
	steadyAt := steady.Sub(progStart).Seconds()
	var ps []float64
	buildMax, steadyGC := 0.0, 0
	for _, c := range cycles {
		if c.startS >= steadyAt {
			ps = append(ps, c.a, c.c)
			steadyGC++
		} else if m := max2(c.a, c.c); m > buildMax {
			buildMax = m
		}
	}
	sort.Float64s(ps)
	maxp, p99 := 0.0, 0.0
	if len(ps) > 0 {
		maxp = ps[len(ps)-1]
		p99 = ps[(len(ps)*99+99)/100-1]
	}
	units := muts[0].units + muts[1].units
	rss, cpu := usage()
	j := newJSON("pauses")
	j.int("live_mib", int64(*live))
	j.int("seconds", int64(*secs))
	j.int("threads", int64(len(muts)))
	j.num("median_build_ms", float64(build)/1e6)
	j.num("median_wall_ms", float64(wall)/1e6)
	j.num("median_cpu_ms", cpu)
	j.num("median_maxrss_mib", rss)
	j.num("median_num_gc", float64(len(cycles)))
	j.num("median_steady_num_gc", float64(steadyGC))
	j.num("median_steady_pauses", float64(len(ps)))
	j.num("median_max_pause_ms", maxp)
	j.num("median_p99_pause_ms", p99)
	j.num("median_build_max_pause_ms", buildMax)
	j.num("median_units_per_s", float64(units)/steadyWall.Seconds())
	j.int("reps", 1)
	j.bool("checksum_ok", ok)
	j.print()
	fmt.Fprintf(logOut, "go pauses: %d buckets, build %.0f ms, %d steady GCs, max pause %.3f ms, p99 %.3f ms, %.0f units/s, rss %.0f MiB%s\n",
		nb, float64(build)/1e6, steadyGC, maxp, p99, float64(units)/steadyWall.Seconds(), rss,
		map[bool]string{true: "", false: "  FAILED"}[ok])
	if !ok {
		os.Exit(1)
	}
}

func max2(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}
