package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

func init() {
	register("version", "print the tool's and the library's versions and how they were built", runVersion)
}

// libraryPath is the library's module: the tool's own module, or one of its
// dependencies once the tool has a module of its own.
const libraryPath = "github.com/shqueue/shqueue"

func runVersion(args []string) error {
	fs := newFlagSet("version", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("version takes no arguments")
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return fmt.Errorf("this binary carries no build information")
	}
	printVersion(os.Stdout, bi)
	return nil
}

// printVersion prints the tool's module and version, the library's (if it is
// a dependency), the Go toolchain, and the build settings that matter to a
// bug report: the commit, whether the tree was modified, the target and tags.
func printVersion(w io.Writer, bi *debug.BuildInfo) {
	fmt.Fprintf(w, "shqueue %s (%s)\n", moduleVersion(bi.Main), bi.Main.Path)
	if bi.Main.Path != libraryPath {
		for _, dep := range bi.Deps {
			if dep.Path == libraryPath {
				fmt.Fprintf(w, "library %s (%s)\n", moduleVersion(*dep), dep.Path)
			}
		}
	}
	fmt.Fprintf(w, "go      %s\n", bi.GoVersion)
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision", "vcs.time", "vcs.modified", "GOOS", "GOARCH", "GOAMD64", "GOARM64", "CGO_ENABLED", "-tags":
			fmt.Fprintf(w, "build   %s=%s\n", s.Key, s.Value)
		}
	}
}

func moduleVersion(m debug.Module) string {
	v := m.Version
	if v == "" {
		v = "(devel)"
	}
	if m.Replace != nil {
		v += " => " + m.Replace.Path + " " + m.Replace.Version
	}
	return v
}
