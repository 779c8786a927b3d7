package main

// Flag and argument parsing every command shares: a flag set that reports
// instead of exiting, and flags placed anywhere among the arguments.

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

// newFlagSet returns a flag set for a subcommand that reports errors instead
// of exiting, with a usage line naming the command.
func newFlagSet(name, argsUsage string) *flag.FlagSet {
	fs := flag.NewFlagSet("shqueue "+name, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: shqueue %s [flags] %s\n", name, argsUsage)
		if c := commands[name]; c != nil && c.summary != "" {
			fmt.Fprintf(w, "\n%s\n", c.summary)
		}
		fmt.Fprintf(w, "\nflags:\n")
		fs.PrintDefaults()
	}
	return fs
}

// flagError wraps an error returned by FlagSet.Parse, which the flag package
// has already reported.
type flagError struct{ err error }

func (e flagError) Error() string { return e.err.Error() }
func (e flagError) Unwrap() error { return e.err }

func isFlagError(err error) bool {
	var fe flagError
	return errors.As(err, &fe)
}

// parseFlags parses args with fs, wrapping a parse error so that dispatch
// exits with status 2 without printing it twice. Help (-h, -help) goes to
// standard output and ends the command with flag.ErrHelp (exit status 0);
// errors and the usage after them go to standard error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if askedForHelp(fs, args) {
		fs.SetOutput(os.Stdout)
		fs.Usage()
		return flag.ErrHelp
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return flagError{err}
	}
	return nil
}

// parseOpsArgs parses flags wherever they stand among the arguments (the
// documented forms put them after the key: "peek KEY -n 5") and returns the
// rest. After "--" everything is an argument, so a negative key can be given
// as "-- -5".
func parseOpsArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		left := fs.Args()
		if len(left) == 0 {
			return rest, nil
		}
		if n := len(args) - len(left); n > 0 && args[n-1] == "--" {
			return append(rest, left...), nil
		}
		rest = append(rest, left[0])
		args = left[1:]
	}
}

// askedForHelp reports whether args ask for help where the flag package would
// see a flag: -h, -help, --h or --help before "--" or the first argument that
// is not a flag. (Commands that take flags after their arguments call
// parseFlags again on the rest, so a -h there is found too.) A flag set that
// defines -h itself keeps it.
func askedForHelp(fs *flag.FlagSet, args []string) bool {
	if fs.Lookup("h") != nil || fs.Lookup("help") != nil {
		return false
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--" || a == "-" || !strings.HasPrefix(a, "-"):
			return false
		case a == "-h" || a == "-help" || a == "--h" || a == "--help":
			return true
		}
		// A flag: skip its value if it takes one and has no "=".
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
				i++
			}
		}
	}
	return false
}
