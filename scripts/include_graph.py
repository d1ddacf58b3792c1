#!/usr/bin/env python3
"""include_graph.py - the dependency graph of gc/ and alloc/, and its cycles.

A module is a file pair: gc/mgc.c with gc/mgc.h, or a lone .c or .h; a
platform's implementation of a header (alloc/sys_linux.c of alloc/sys.h)
is part of the header's module.
Module A depends on module B when
  - a file of A includes a header of B (an include edge), or
  - A's header declares or calls a function that B's .c defines (a
    declaration edge: to change A's interface one reads B, as mgc.h
    declaring gc_sweep_flip makes mgc depend on mgcsweep).
A cycle (a strongly connected component of more than one module) is a set
of modules none of which can be read or changed without the others.
gc/gchooks.h is the one sanctioned upward edge (alloc/ calls it, gc/
implements it: ARCHITECTURE.md "Layers"), so its declaration edges are
left out unless --with-hooks is given.

Usage: scripts/include_graph.py [--includes-only] [--with-hooks] [--edges] [--check]
  prints, for the gc/ and alloc/ modules: the strongly connected
  components with more than one module (each with the edges that close
  it), then a summary line.  --includes-only drops the declaration edges;
  --edges also prints every module's dependencies.  Exit status 0, except
  with --check (the include_graph test): 1 if a cycle is not within one
  of KNOWN_CYCLES below, the cycles ARCHITECTURE.md ("Layers") names.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIRS = ["gc", "alloc"]


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def files():
    out = []
    for d in DIRS:
        for name in sorted(os.listdir(os.path.join(ROOT, d))):
            if name.endswith((".c", ".h")):
                out.append(d + "/" + name)
    return out


# A platform's implementation of a header belongs to the header's module:
# alloc/sys_linux.c implements alloc/sys.h.
PLATFORM_SUFFIXES = ("_linux",)


def module(rel):
    m = rel[:-2]
    for suffix in PLATFORM_SUFFIXES:
        if rel.endswith(".c") and m.endswith(suffix):
            return m[:-len(suffix)]
    return m


def resolve(inc, from_rel, known):
    """The gc/ or alloc/ file an #include "inc" names (same directory
    first, then the build's include path: gc/, alloc/), or None."""
    same = os.path.dirname(from_rel) + "/" + inc
    if same in known:
        return same
    for d in DIRS:
        if d + "/" + inc in known:
            return d + "/" + inc
    return None


def defined_functions(code):
    """Names of the non-static functions a .c file defines (our style: the
    return type and name start a line, the body's brace opens the next)."""
    names = set()
    for m in re.finditer(r"^(?!static\b)(?!typedef\b)[A-Za-z_][\w \t\*]*?\b(\w+)\s*\(([^;{]*?)\)\s*\{",
                         code, flags=re.M):
        names.add(m.group(1))
    return names


HOOKS = "gc/gchooks.h"

# The cycles left on purpose or not yet untied (ARCHITECTURE.md,
# "Layers"); --check fails on any other, or on one that grows.
KNOWN_CYCLES = [
    # The driver starts the mark workers and assists; the worker that
    # finds the mark done calls the driver's gc_mark_termination.
    {"gc/mgc", "gc/mgcworker"},
    # alloc/'s knot: struct mheap embeds its parts (mcentral, sweep,
    # specials, profile), mheap.c initialises them and they call it for
    # pages.  Not untied yet (issue 14's closing note).
    {"alloc/malloc", "alloc/mcache", "alloc/mcentral", "alloc/mheap", "alloc/mprof",
     "alloc/mscavenge", "alloc/mspecial", "alloc/msweep"},
]


def build(includes_only, with_hooks):
    known = set(files())
    text = {f: strip_comments(open(os.path.join(ROOT, f)).read()) for f in known}
    deps = {module(f): set() for f in known}
    why = {}
    for f in sorted(known):
        for m in re.finditer(r'#\s*include\s+"([^"]+)"', text[f]):
            target = resolve(m.group(1), f, known)
            if target is not None and module(target) != module(f):
                deps[module(f)].add(module(target))
                why.setdefault((module(f), module(target)), "%s includes %s" % (f, target))
    if not includes_only:
        owner = {}
        for f in sorted(known):
            if f.endswith(".c"):
                for name in defined_functions(text[f]):
                    owner.setdefault(name, f)
        for f in sorted(known):
            if not f.endswith(".h") or (f == HOOKS and not with_hooks):
                continue
            for name in sorted(set(re.findall(r"\b(\w+)\s*\(", text[f]))):
                c = owner.get(name)
                if c is not None and module(c) != module(f):
                    deps[module(f)].add(module(c))
                    why.setdefault((module(f), module(c)), "%s names %s (%s)" % (f, name, c))
    return deps, why


def sccs(deps):
    """Tarjan's algorithm, iterative; components in reverse topological
    order."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in sorted(deps):
        if root in index:
            continue
        work = [(root, iter(sorted(deps[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(deps[w]))))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
    return out


def main(argv):
    includes_only = "--includes-only" in argv
    deps, why = build(includes_only, "--with-hooks" in argv)
    kind = "include edges only" if includes_only else "include and declaration edges"
    if not includes_only and "--with-hooks" in argv:
        kind += ", gchooks.h's included"
    print("gc/ + alloc/ module graph (%s): %d modules, %d edges" %
          (kind, len(deps), sum(len(v) for v in deps.values())))
    if "--edges" in argv:
        for m in sorted(deps):
            print("  %-22s -> %s" % (m, " ".join(sorted(deps[m])) or "-"))
    cycles = [c for c in sccs(deps) if len(c) > 1]
    for i, comp in enumerate(sorted(cycles, key=len, reverse=True), 1):
        members = set(comp)
        print("cycle %d: %d modules: %s" % (i, len(comp), " ".join(comp)))
        for a in comp:
            for b in sorted(deps[a] & members):
                print("    %-22s -> %-22s %s" % (a, b, why[(a, b)]))
    largest = max((len(c) for c in cycles), default=0)
    print("summary: %d cycle(s), largest %d modules, %d module(s) on a cycle" %
          (len(cycles), largest, sum(len(c) for c in cycles)))
    if "--check" in argv:
        bad = [c for c in cycles if not any(set(c) <= k for k in KNOWN_CYCLES)]
        for c in bad:
            print("error: a cycle not named in ARCHITECTURE.md: " + " ".join(c))
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
