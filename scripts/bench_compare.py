#!/usr/bin/env python3
"""bench_compare.py - compare two benchmark runs (files of JSON lines).

Each benchmark in bench/ prints one JSON object per configuration
(STYLE.md habit 18).  This script matches the configurations of an old and
a new run by their identifying keys, prints the relative change of a
metric (default median_ns_per_alloc, lower is better) and flags every
change beyond a threshold (default 10%) as a regression or an improvement.

Identifying keys: by default every field that is not a measurement or run
metadata, i.e. all fields except git, build, reps, checksum*, n_per_*,
and those starting with median_, min_, max_, mean_, ratio_.  For
bench_alloc that is bench, alloc, size, threads.  --keys overrides it.

Lines that are not JSON objects (a table on stderr captured by mistake,
blank lines) are skipped.  A line whose checksum_ok is false is reported
and never compared.

Exit status: 0 without regressions, 1 with at least one, 2 on bad usage.

Usage:
    scripts/bench_compare.py old.jsonl new.jsonl [--threshold 10]
        [--metric median_ns_per_alloc] [--keys bench,alloc,size,threads]
        [--higher-is-better]
"""

import argparse
import json
import sys

NON_KEY_FIELDS = {"git", "build", "reps", "checksum", "checksum_ok"}
NON_KEY_PREFIXES = ("median_", "min_", "max_", "mean_", "ratio_", "n_per_", "checksum")


def is_key_field(name, value):
    """is_key_field: true when the field identifies a configuration."""
    if name in NON_KEY_FIELDS or name.startswith(NON_KEY_PREFIXES):
        return False
    return isinstance(value, (str, int, bool)) or value is None


def load(path):
    """load: the JSON objects of path, one per line, with line numbers."""
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line.startswith("{"):
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    print(f"{path}:{lineno}: skipped, not JSON ({e})", file=sys.stderr)
                    continue
                if isinstance(obj, dict):
                    rows.append(obj)
    except OSError as e:
        sys.exit(f"bench_compare: {e}")
    return rows


def config_key(obj, keys):
    """config_key: the identifying (name, value) pairs of obj, sorted."""
    if keys is not None:
        return tuple((k, obj.get(k)) for k in keys)
    return tuple(sorted((k, v) for k, v in obj.items() if is_key_field(k, v)))


def index(rows, keys, path):
    """index: configuration key -> object; a repeated key keeps the last."""
    out = {}
    for obj in rows:
        k = config_key(obj, keys)
        if k in out:
            print(f"{path}: configuration {fmt_key(k)} appears twice; using the last",
                  file=sys.stderr)
        out[k] = obj
    return out


def fmt_key(key):
    return " ".join(f"{k}={v}" for k, v in key if k != "bench") or "(no keys)"


def sort_key(key):
    # Numbers sort numerically, strings alphabetically, None first.
    return tuple((k, (0, v) if isinstance(v, (int, float)) else (1, str(v))) for k, v in key)


def describe(objs, field):
    values = sorted({str(o.get(field)) for o in objs})
    return ", ".join(values)


def main():
    ap = argparse.ArgumentParser(description="Diff two benchmark runs (JSON lines).")
    ap.add_argument("old", help="baseline run")
    ap.add_argument("new", help="run to judge")
    ap.add_argument("--threshold", type=float, default=10.0,
                    help="percent change flagged (default 10)")
    ap.add_argument("--metric", default="median_ns_per_alloc",
                    help="field compared (default median_ns_per_alloc)")
    ap.add_argument("--keys", help="comma-separated identifying fields (default: automatic)")
    ap.add_argument("--higher-is-better", action="store_true",
                    help="the metric is a throughput: a decrease is the regression")
    args = ap.parse_args()
    if args.threshold < 0:
        ap.error("--threshold must be >= 0")
    keys = args.keys.split(",") if args.keys else None

    old_rows, new_rows = load(args.old), load(args.new)
    old, new = index(old_rows, keys, args.old), index(new_rows, keys, args.new)
    if not old or not new:
        sys.exit(f"bench_compare: no JSON lines in {args.old if not old else args.new}")

    for field in ("git", "build", "reps"):
        a, b = describe(old_rows, field), describe(new_rows, field)
        if a != b:
            print(f"note: {field} differs: old [{a}] new [{b}]")

    regressions = improvements = compared = 0
    width = max(len(fmt_key(k)) for k in list(old) + list(new))
    print(f"{'configuration':<{width}}  {'old':>10}  {'new':>10}  {'change':>8}")
    for k in sorted(set(old) | set(new), key=sort_key):
        name = fmt_key(k)
        if k not in new:
            print(f"{name:<{width}}  only in old")
            continue
        if k not in old:
            print(f"{name:<{width}}  only in new")
            continue
        o, n = old[k], new[k]
        if o.get("checksum_ok") is False or n.get("checksum_ok") is False:
            print(f"{name:<{width}}  checksum failed in {'old' if o.get('checksum_ok') is False else 'new'}; not compared")
            continue
        a, b = o.get(args.metric), n.get(args.metric)
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or a <= 0:
            print(f"{name:<{width}}  {args.metric} missing or not positive")
            continue
        compared += 1
        change = (b - a) / a * 100.0
        worse = -change if args.higher_is_better else change
        flag = ""
        if worse > args.threshold:
            flag = "  REGRESSION"
            regressions += 1
        elif worse < -args.threshold:
            flag = "  improved"
            improvements += 1
        sized = {f for f in set(o) | set(n) if f.startswith("n_per_") and o.get(f) != n.get(f)}
        if sized:
            flag += f"  ({', '.join(sorted(sized))} differs)"
        print(f"{name:<{width}}  {a:>10.3f}  {b:>10.3f}  {change:>+7.1f}%{flag}")

    print(f"\n{compared} compared on {args.metric}: {regressions} regression(s), "
          f"{improvements} improvement(s) beyond {args.threshold:g}%")
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
