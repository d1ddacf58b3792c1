#!/usr/bin/env python3
"""check_exports.py - the shared library ships no test code and no mutable global.

Usage: check_exports.py LIBGCHEAP_SO GCHEAP_MAP

1. Every dynamic symbol the library defines (nm -D --defined-only) is a
   gch_* symbol, and none contains "test"; the version script
   (scripts/gcheap.map) exports gch_* and names nothing else.  The entry
   points the inline fast paths in include/gcheap/*.h call are gch_* too
   (the map says which path calls each); those paths read no data
   symbol: their layout and size classes are header constants.
2. No object the library defines lives in writable, non-thread-local
   memory (.data or .bss), except the toolchain's own (TOOLCHAIN below):
   file-scope state would make two heaps in one process share it
   (DESIGN.md decision 1; STYLE.md habit 3); sanitizer builds' own
   symbols (TOOLCHAIN_PREFIXES) pass too.  Read-only data that needs
   relocation (.data.rel.ro) and the allowed thread-locals (.tbss/.tdata,
   see scripts/check_style.py) pass.
Exit status 1 with the offending symbols listed.
"""
import re
import subprocess
import sys

# crtstuff's and the linker's own, present in every GCC/ld shared object.
TOOLCHAIN = {"completed.0", "__dso_handle", "__TMC_END__", "_DYNAMIC",
             "_GLOBAL_OFFSET_TABLE_", "__bss_start", "_edata", "_end"}
# Sanitizer instrumentation adds its own (ASan's one-byte ODR indicators
# __odr_asan.<global>, coverage counters in fuzz builds).
TOOLCHAIN_PREFIXES = ("__odr_asan", "__asan", "___asan", "__sancov", "__tsan", "__ubsan")
WRITABLE = {".data", ".bss"}


def map_globals(path):
    """The patterns of the version script's global: list."""
    with open(path, encoding="utf-8") as f:
        text = re.sub(r"/\*.*?\*/", " ", f.read(), flags=re.S)
    glob = text.split("global:")[1].split("local:")[0]
    return {n.strip() for n in glob.split(";") if n.strip()}


def exported(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    return [line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip()]


def sections(lib):
    out = subprocess.run(["readelf", "-SW", lib], check=True, capture_output=True, text=True).stdout
    secs = {}
    for m in re.finditer(r"^\s*\[\s*(\d+)\]\s+(\S+)", out, re.M):
        secs[m.group(1)] = m.group(2)
    return secs


def writable_objects(lib):
    secs = sections(lib)
    out = subprocess.run(["readelf", "-sW", lib], check=True, capture_output=True, text=True).stdout
    bad = []
    for line in out.splitlines():
        f = line.split()
        # Num: Value Size Type Bind Vis Ndx Name
        if len(f) < 8 or f[3] != "OBJECT" or not f[6].isdigit():
            continue
        if secs.get(f[6]) in WRITABLE and f[7] not in TOOLCHAIN and not f[7].startswith(TOOLCHAIN_PREFIXES):
            bad.append("%s (%s, %s bytes)" % (f[7], secs[f[6]], f[2]))
    return sorted(set(bad))


def main():
    lib, mapfile = sys.argv[1], sys.argv[2]
    errors = []
    for pattern in sorted(map_globals(mapfile) - {"gch_*"}):
        errors.append("version script exports more than gch_*: " + pattern)
    for name in exported(lib):
        if "test" in name or not name.startswith("gch_"):
            errors.append("exported symbol outside the API: " + name)
    for obj in writable_objects(lib):
        errors.append("mutable global in the library: " + obj)
    for e in errors:
        print("error: " + e)
    print("check_exports: %d error(s)" % len(errors))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
