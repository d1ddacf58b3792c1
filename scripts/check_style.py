#!/usr/bin/env python3
"""check_style.py - mechanical checks of gcheap's STYLE.md habits.

Checks every .c/.h under alloc/, gc/, include/ and examples/ (the layering
rule applies to the library only):
  1. the file opens with a comment block (habit 1);
  2. include layering: include/ <- alloc/ <- gc/; alloc/ may include from
     gc/ only gc/gchooks.h (habit 8 layout rule);
  3. no raw `_Atomic` outside the atomics headers, and in the library (alloc/,
     gc/, include/) no `__atomic_` builtin outside the atomics headers
     alloc/atomic.h and include/gcheap/attrs.h (habit 6): every shared
     access goes through a helper that names its memory order;
  4. no file-scope mutable variables: file-scope data must be const, or
     _Thread_local in the files allowed to hold thread-local state
     (habit 3; ARCHITECTURE.md lists the exceptions); this includes
     variables whose initialiser holds parentheses (casts, sizeof, calls)
     and function-pointer variables (a writable hook is global state);
  5. file length: warn over 800 lines, fail over 1200 (habit 10);
  5b. an invariant name (C1, MW4, TB2, ...) is defined in one file only
     (issue 14: every file's invariants carry a prefix of their own).  A
     definition is a comment line "*   NAME text" (indented list item) or
     "Invariant(s): NAME"; a name followed by "(file)", "and", "," or "-"
     is a citation, not a definition;
  6. function length: warn over 60 lines, fail over 100 (habit 9).
Exit status 1 when any check fails; warnings are printed but pass.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIRS = ["alloc", "gc", "include", "examples"]
TLS_ALLOWED = {"alloc/error.c", "alloc/lock.c"}
# The atomics headers: the library's wrappers, and the public header's
# fast-path accessors (GNU builtins or, for other C11 compilers, casts
# to _Atomic).
ATOMIC_ALLOWED = {"alloc/atomic.h", "include/gcheap/attrs.h"}
BUILTIN_ATOMIC_ALLOWED = ATOMIC_ALLOWED
LIBRARY_DIRS = ("alloc", "gc", "include")
GENERATED = {"alloc/sizeclasses.c", "alloc/sizeclasses.h", "alloc/lockrank.h"}


def sources():
    for d in DIRS:
        for dirpath, _, files in os.walk(os.path.join(ROOT, d)):
            for name in sorted(files):
                if name.endswith((".c", ".h")):
                    full = os.path.join(dirpath, name)
                    yield os.path.relpath(full, ROOT), full


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def check_opening(rel, text, errors):
    if not text.lstrip().startswith("/*"):
        errors.append("%s: must open with a comment block saying what it owns" % rel)


def check_layering(rel, text, errors):
    layer = rel.split("/")[0]
    for m in re.finditer(r'#\s*include\s+"([^"]+)"', text):
        inc = m.group(1)
        if layer == "include" and not inc.startswith("gcheap"):
            errors.append("%s: public header includes internal %s" % (rel, inc))
        if layer == "alloc" and os.path.exists(os.path.join(ROOT, "gc", inc)) and inc != "gchooks.h":
            errors.append("%s: alloc/ may not include gc/%s (only gc/gchooks.h)" % (rel, inc))


def check_atomics(rel, code, errors):
    if rel not in ATOMIC_ALLOWED and "_Atomic" in code:
        errors.append("%s: raw _Atomic outside the atomics headers; use alloc/atomic.h's wrappers" % rel)
    if (rel.split("/")[0] in LIBRARY_DIRS and rel not in BUILTIN_ATOMIC_ALLOWED
            and "__atomic_" in code):
        errors.append("%s: __atomic_ builtin outside the atomics headers; use alloc/atomic.h's "
                      "helpers (mem_*, slot_*, atomic_*)" % rel)


FILE_SCOPE_DECL = re.compile(
    r"^(?!\s)(?!typedef|struct\s+\w+\s*\{|enum|union|#|extern|static\s+inline|inline)"
    r"([^;{}()]*?)\b(\w+)\s*(\[[^\]]*\])*\s*(=[^;]*)?;", re.M)


# A function-pointer declarator at file scope: `T (*name)(args)` or
# `T (*name[N])(args)`, optionally initialised.  `(*const name)` is not
# matched: a const pointer is not mutable state.
FILE_SCOPE_FNPTR = re.compile(
    r"^(?!\s)(?!typedef|extern)([^;{}]*?)\(\s*\*\s*(\w+)\s*(\[[^\]]*\])*\s*\)\s*\([^;]*\)\s*(=[^;]*)?;",
    re.M)


def is_prototype(decl):
    """A declaration whose declarator has parentheses before any '=':
    a function prototype (or a function definition's signature)."""
    head = decl.split("=", 1)[0]
    return "(" in head


def check_fnptr_globals(rel, top, errors):
    for m in FILE_SCOPE_FNPTR.finditer(top):
        prefix = m.group(1)
        if prefix.count("(") != prefix.count(")"):
            continue  # a parameter of a function prototype
        if re.match(r"\s*(static\s+)?(inline|_Noreturn)\b", prefix):
            continue
        errors.append("%s: file-scope function-pointer variable: %s" % (rel, " ".join(m.group(0).split())))


def check_globals(rel, code, errors):
    depth = 0
    cleaned = []
    for ch in code:  # keep only text at brace depth 0
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            cleaned.append(";" if depth == 0 else "")
            continue
        cleaned.append(ch if depth == 0 else ("\n" if ch == "\n" else ""))
    top = "".join(cleaned)
    for m in FILE_SCOPE_DECL.finditer(top):
        decl = m.group(0)
        if is_prototype(decl) or "const" in m.group(1) and "*" not in m.group(1).split("const")[-1]:
            continue
        if re.match(r"\s*(struct|enum|union)\s+\w+\s*;", decl):
            continue
        if "_Thread_local" in decl and rel in TLS_ALLOWED:
            continue
        errors.append("%s: file-scope mutable variable: %s" % (rel, " ".join(decl.split())))
    check_fnptr_globals(rel, top, errors)


INVARIANT_DEF = re.compile(
    r"^\s*\*\s{2,}\(?([A-Z]{1,3}[0-9]{1,2})\)?(\s.*)$|Invariants?:?\s+\(?([A-Z]{1,3}[0-9]{1,2})\)?(.*)$",
    re.M)
CITATION_TAIL = re.compile(r"\s*(\(|and\b|,|-|–)")


def invariant_defs(text):
    """The invariant names text defines in its comments."""
    names = set()
    for c in re.finditer(r"/\*.*?\*/", text, re.S):
        for m in INVARIANT_DEF.finditer(c.group(0)):
            name, tail = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            if not CITATION_TAIL.match(tail or ""):
                names.add(name)
    return names


def check_invariant_names(defs, errors):
    """defs: name -> set of files defining it."""
    for name, files in sorted(defs.items()):
        if len(files) > 1:
            errors.append("invariant %s is defined in %s: give each file its own prefix "
                          "(ARCHITECTURE.md, invariants by file)" % (name, ", ".join(sorted(files))))


def check_lengths(rel, text, errors, warnings):
    n = text.count("\n")
    if n > 1200:
        errors.append("%s: %d lines (cap 1200; split along a concept boundary)" % (rel, n))
    elif n > 800:
        warnings.append("%s: %d lines (soft cap 800)" % (rel, n))
    # Function bodies: a line starting with '{' after a signature, to the
    # matching '}' at column 0.
    lines = text.split("\n")
    start = None
    for i, line in enumerate(lines):
        if line == "{" and i > 0 and "(" in "".join(lines[max(0, i - 3):i]):
            start = i
        elif line == "}" and start is not None:
            length = i - start - 1
            name = re.search(r"(\w+)\s*\(", "".join(lines[max(0, start - 3):start]))
            fname = name.group(1) if name else "?"
            if length > 100:
                errors.append("%s:%d: %s is %d lines (hard cap 100)" % (rel, start, fname, length))
            elif length > 60:
                warnings.append("%s:%d: %s is %d lines (soft cap 60)" % (rel, start, fname, length))
            start = None


# Each sample is (file-scope code, should it be flagged); --selftest runs
# them through check_globals, so a regex change cannot silently stop
# catching a global (tests/CMakeLists.txt runs it).
SELFTEST_GLOBALS = [
    ("void (*hook)(struct gch_heap *h);", True),
    ("static void (*hook)(int) = 0;", True),
    ("void (*hooks[4])(void);", True),
    ("static size_t sz = sizeof(int);", True),
    ("static int n = (3);", True),
    ("int counter;", True),
    ("static void (*const fixed)(void) = 0;", False),
    ("static const size_t ok = sizeof(long);", False),
    ("void proto(void (*cb)(int));", False),
    ("static void def(void (*cb)(int))\n{\n    int x = (int)1;\n}", False),
    ("extern void (*declared)(void);", False),
    ("typedef void (*fn_t)(void);", False),
    ("void (*returns_fp(int x))(int);", False),
]


SELFTEST_ATOMICS = [
    ("gc/mbarrier.c", "x = __atomic_load_n(p, __ATOMIC_RELAXED);", True),
    ("alloc/mspan.h", "__atomic_fetch_or(p, m, __ATOMIC_RELAXED);", True),
    ("alloc/atomic.h", "__atomic_load_n(p, __ATOMIC_RELAXED);", False),
    ("include/gcheap/attrs.h", "__atomic_load_n(p, __ATOMIC_RELAXED);", False),
    ("examples/lisp/heap.c", "__atomic_load_n(p, __ATOMIC_RELAXED);", False),
    ("gc/mgc.c", "_Atomic int x;", True),
]


SELFTEST_INVARIANTS = [
    ("/*\n *   B1 at most n bytes are written\n */", {"B1"}),
    ("/*\n * Invariant X1: nothing here allocates\n */", {"X1"}),
    ("/*\n * Invariant S1 (sys.h) is kept by the wrappers\n */", set()),
    ("/*\n *   H1 and H2 hold while the lock is held\n */", set()),
    ("/* Invariants: V1-V3 (lisp.h). */", set()),
    ("int x; /* G2 */", set()),
]


def selftest():
    failed = 0
    for code, want in SELFTEST_INVARIANTS:
        got = invariant_defs(code)
        if got != want:
            print("selftest: %r: expected %s, got %s" % (code, want, got))
            failed += 1
    for rel, code, flagged in SELFTEST_ATOMICS:
        errors = []
        check_atomics(rel, code, errors)
        if bool(errors) != flagged:
            print("selftest: %s %r: expected %s, got %s" % (rel, code, flagged, errors))
            failed += 1
    for code, flagged in SELFTEST_GLOBALS:
        errors = []
        check_globals("selftest.c", code.replace("\\n", "\n") + "\n", errors)
        if bool(errors) != flagged:
            print("selftest: %r: expected %s, got %s" % (code, flagged, errors))
            failed += 1
    print("check_style selftest: %d failure(s)" % failed)
    return 1 if failed else 0


def main():
    if sys.argv[1:] == ["--selftest"]:
        return selftest()
    errors, warnings = [], []
    defs = {}
    for rel, full in sources():
        with open(full, encoding="utf-8") as f:
            text = f.read()
        for name in invariant_defs(text):
            defs.setdefault(name, set()).add(rel)
        check_opening(rel, text, errors)
        code = strip_comments(text)
        check_layering(rel, code, errors)
        check_atomics(rel, code, errors)
        if rel not in GENERATED:
            check_globals(rel, code, errors)
            check_lengths(rel, text, errors, warnings)
    check_invariant_names(defs, errors)
    for w in warnings:
        print("warning: " + w)
    for e in errors:
        print("error: " + e)
    print("check_style: %d error(s), %d warning(s)" % (len(errors), len(warnings)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
