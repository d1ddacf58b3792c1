#!/usr/bin/env python3
"""bench_report.py - the Markdown table of a scripts/bench.sh run.

Input: the JSON lines every run of the suite appended (one file; each
line as bench/benchutil.h prints it, Go's lines from bench/go in the same
shape).  A configuration is identified as scripts/bench_compare.py does
(every field that is not a measurement or run metadata); the lines of one
configuration from different runs are reduced to the median of each
measurement.  Then, per workload, gcheap's median against each peer's:

    ratio = gcheap / peer     (< 1: gcheap better, for times, RSS, pauses)

Workloads and what is compared:
    binarytrees, gcbench, churn (threads 1 and 2): wall time, peak RSS,
        the longest per-cycle stop-the-world time;
    alloc: ns per allocation (gcheap-scan against Boehm, malloc and Go; the
        "peak RSS" cell holds the four ns per allocation instead);
    pauses: the longest and 99th-percentile steady-state pause, throughput;
    markscale: mark wall time with one and two markers.
The worst ratio (largest gcheap/peer time ratio) is named at the end.

Usage: scripts/bench_report.py results.jsonl [--title TEXT] [--note TEXT]
Exit status: 0; 1 when a run's checksum failed (the table still prints).
"""

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_compare import config_key, load  # noqa: E402  (same directory)

PEERS = ("boehm", "go", "malloc")


def group(rows):
    """group: configuration key -> list of rows (one per run)."""
    out = {}
    for r in rows:
        out.setdefault(config_key(r, None), []).append(r)
    return out


def med(rows, field):
    """med: the median of field over rows, or None when no row has it."""
    v = [r[field] for r in rows if isinstance(r.get(field), (int, float))]
    return statistics.median(v) if v else None


def find(groups, **want):
    """find: the rows of the one configuration whose fields match every
    want (the rows' fields, not the key: bench_compare counts max_depth
    as a measurement by its prefix)."""
    for rows in groups.values():
        if all(rows[0].get(k) == v for k, v in want.items()):
            return rows
    return []


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def fmt(x, digits=2):
    return "—" if x is None else f"{x:.{digits}f}"


def fmt_slash(vals, digits=0):
    return " / ".join(fmt(v, digits) for v in vals)


class Report:
    """Report: the table rows and the ratios seen, for the worst one."""

    def __init__(self, groups):
        self.g = groups
        self.lines = []
        self.ratios = []  # (value, description)

    def note_ratio(self, r, what):
        if r is not None:
            self.ratios.append((r, what))

    def tree_row(self, label, bench, **params):
        rows = {a: find(self.g, bench=bench, alloc=a, **params) for a in ("gcheap",) + PEERS}
        if not rows["gcheap"]:
            return
        wall = {a: med(rows[a], "median_wall_ms") for a in rows}
        cpu = {a: med(rows[a], "median_cpu_ms") for a in rows}
        rss = {a: med(rows[a], "median_maxrss_mib") for a in rows}
        pause = {a: med(rows[a], "median_max_pause_ms") for a in rows}
        cells = []
        for p in PEERS:
            r, rc = ratio(wall["gcheap"], wall[p]), ratio(cpu["gcheap"], cpu[p])
            self.note_ratio(r, f"{label}: gcheap/{p} wall")
            self.note_ratio(rc, f"{label}: gcheap/{p} CPU")
            cells.append(f"{fmt(r)} ({fmt(rc)})" if r is not None else "—")
        self.lines.append(
            f"| {label} | {' | '.join(cells)} | {fmt_slash([rss[a] for a in ('gcheap',) + PEERS])} | "
            f"{fmt_slash([pause[a] for a in ('gcheap', 'boehm', 'go')], 2)} |")

    def alloc_rows(self):
        for size in (16, 64, 128):
            for threads in (1, 2):
                g = med(find(self.g, bench="alloc", alloc="gcheap-scan", size=size, threads=threads),
                        "median_ns_per_alloc")
                if g is None:
                    continue
                m = med(find(self.g, bench="alloc", alloc="malloc", size=size, threads=threads),
                        "median_ns_per_alloc")
                bw = med(find(self.g, bench="alloc", alloc="boehm", size=size, threads=threads),
                         "median_ns_per_alloc")
                go = med(find(self.g, bench="alloc", alloc="go", size=size, threads=threads),
                         "median_ns_per_alloc")
                label = f"alloc {size} B, {threads} thread{'s' if threads > 1 else ''} (ns/alloc)"
                rm, rg, rb = ratio(g, m), ratio(g, go), ratio(g, bw)
                self.note_ratio(rm, f"{label}: gcheap/malloc")
                self.note_ratio(rg, f"{label}: gcheap/go")
                self.note_ratio(rb, f"{label}: gcheap/boehm")
                self.lines.append(f"| {label} | {fmt(rb)} | {fmt(rg)} | {fmt(rm)} | "
                                  f"{fmt(g, 1)} / {fmt(bw, 1)} / {fmt(go, 1)} / {fmt(m, 1)} (ns) | — |")

    def pauses_row(self):
        rows = {a: find(self.g, bench="pauses", alloc=a) for a in ("gcheap", "gcheap-stw", "boehm", "go")}
        if not rows["gcheap"]:
            return
        live = rows["gcheap"][0].get("live_mib")
        ups = {a: med(rows[a], "median_units_per_s") for a in rows}
        rss = {a: med(rows[a], "median_maxrss_mib") for a in rows}
        maxp = {a: med(rows[a], "median_max_pause_ms") for a in rows}
        # Throughput: a time ratio is peer / gcheap (work per second inverted).
        tb, tg = ratio(ups["boehm"], ups["gcheap"]), ratio(ups["go"], ups["gcheap"])
        self.note_ratio(tb, "pauses: gcheap/boehm time per unit")
        self.note_ratio(tg, "pauses: gcheap/go time per unit")
        self.lines.append(
            f"| pauses, {live} MiB live, 2 mutators (time per unit of work) | {fmt(tb)} | {fmt(tg)} | — | "
            f"{fmt(rss['gcheap'], 0)} / {fmt(rss['boehm'], 0)} / {fmt(rss['go'], 0)} / — | "
            f"{fmt_slash([maxp['gcheap'], maxp['boehm'], maxp['go']], 2)} |")

    def markscale_row(self):
        c = find(self.g, bench="markscale")
        c = [r for r in c if r.get("alloc") != "go"]
        go = find(self.g, bench="markscale", alloc="go")
        if not c:
            return
        w1, w2 = med(c, "gcheap-w1"), med(c, "gcheap-w2")
        b1, b2 = med(c, "boehm-m1"), med(c, "boehm-m2")
        g1, g2 = med(go, "go-p1"), med(go, "go-p2")
        for n, (gv, bv, ov) in ((1, (w1, b1, g1)), (2, (w2, b2, g2))):
            rb, rg = ratio(gv, bv), ratio(gv, ov)
            label = f"markscale, {c[0].get('live_mib')} MiB live, {n} marker{'s' if n > 1 else ''} (mark ms)"
            self.note_ratio(rb, f"{label}: gcheap/boehm")
            self.note_ratio(rg, f"{label}: gcheap/go")
            self.lines.append(f"| {label} | {fmt(rb)} | {fmt(rg)} | — | "
                              f"{fmt(gv, 0)} / {fmt(bv, 0)} / {fmt(ov, 0)} / — (ms) | — |")

    def scaling_line(self):
        parts = []
        for a in ("gcheap",) + PEERS:
            one = med(find(self.g, bench="churn", alloc=a, threads=1), "median_wall_ms")
            two = med(find(self.g, bench="churn", alloc=a, threads=2), "median_wall_ms")
            if one is not None and two is not None and two > 0:
                parts.append(f"{a} {one / two:.2f}")
        return "Churn, speedup of two mutators over one (wall): " + ", ".join(parts) + "." if parts else ""


def main():
    ap = argparse.ArgumentParser(description="Markdown table of a bench.sh run.")
    ap.add_argument("results", help="JSON lines of every run")
    ap.add_argument("--title", default="", help="a line printed above the table")
    ap.add_argument("--note", action="append", default=[], help="a line printed below the table")
    args = ap.parse_args()
    rows = [r for r in load(args.results) if r.get("bench") != "error"]
    failed = [r for r in rows if r.get("checksum_ok") is False]
    groups = group(rows)
    rep = Report(groups)

    def params(bench, key):
        vals = sorted({r.get(key) for r in rows if r.get("bench") == bench and r.get(key) is not None})
        return vals[0] if vals else None

    d = params("binarytrees", "max_depth")
    if d is not None:
        rep.tree_row(f"binary-trees depth {d}", "binarytrees", max_depth=d)
    s = params("gcbench", "scale_percent")
    if s is not None:
        rep.tree_row(f"GCBench, {s}% of its iterations", "gcbench", scale_percent=s)
    s = params("churn", "scale_percent")
    if s is not None:
        live = 256 * s // 100
        reps = 50 * s / 100
        for t in (1, 2):
            rep.tree_row(f"churn {live} MiB live, {reps:g} M replacements, {t} mutator{'s' if t > 1 else ''}",
                         "churn", scale_percent=s, threads=t)
    rep.alloc_rows()
    rep.pauses_row()
    rep.markscale_row()

    if args.title:
        print(args.title + "\n")
    print("Ratios are gcheap / peer (< 1: gcheap better): wall time, then CPU time (all threads) in "
          "brackets for the whole-program workloads; ns per allocation for alloc; time per unit of "
          "work for pauses; mark time for markscale.\n")
    print("| workload | gcheap / Boehm | gcheap / Go | gcheap / malloc | peak RSS MiB gcheap / Boehm / Go / malloc "
          "| max pause ms gcheap / Boehm / Go |")
    print("|---|---|---|---|---|---|")
    for line in rep.lines:
        print(line)
    print()
    scaling = rep.scaling_line()
    if scaling:
        print(scaling)
    if rep.ratios:
        worst = max(rep.ratios)
        print(f"Worst ratio: {worst[1]} = {worst[0]:.2f}.")
        gc = [r for r in rep.ratios if "/boehm" in r[1] or "/go" in r[1]]
        if gc:
            w = max(gc)
            print(f"Worst ratio against a collector (Boehm or Go): {w[1]} = {w[0]:.2f}.")
    for n in args.note:
        print(n)
    for r in failed:
        print(f"FAILED: {r.get('bench')} {r.get('alloc')} (checksum_ok false)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
