// version.go - the Go toolchain's version for the JSON lines' "build".
package main

import "runtime"

func goVersion() string { return runtime.Version() }
