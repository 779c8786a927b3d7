// Command shqueue inspects, creates and measures shqueue queues.
//
//	shqueue <command> [flags] [args]
//
// Each command lives in its own file and plugs itself in from an init function
// with register, so adding one never touches this file:
//
//	func init() { register("ls", "list queues", runLs) }
//
// A command receives the arguments after its name and parses them with its own
// flag.FlagSet (use newFlagSet so -h and usage errors behave the same way in
// every command). Returning an error prints "shqueue <command>: <error>" and
// exits with status 1; a usageError (or an error from flag parsing) exits
// with status 2; flag.ErrHelp exits with status 0.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// A command is one subcommand of the tool.
type command struct {
	name    string
	summary string // one line for the command list; empty hides the command
	run     func(args []string) error
}

var commands = map[string]*command{}

// register adds a subcommand. Call it from an init function. A command with an
// empty summary is hidden from the command list: the tool uses such commands
// internally (the bench child processes it re-executes itself as).
func register(name, summary string, run func(args []string) error) {
	if name == "" || strings.ContainsAny(name, " \t\n") {
		panic(fmt.Sprintf("shqueue: bad command name %q", name))
	}
	if _, dup := commands[name]; dup {
		panic("shqueue: command registered twice: " + name)
	}
	commands[name] = &command{name: name, summary: summary, run: run}
}

// usageError marks an error in how the tool was called (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

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

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "usage: shqueue <command> [flags] [args]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	width := 0
	for name, c := range commands {
		if c.summary == "" {
			continue
		}
		names = append(names, name)
		width = max(width, len(name))
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-*s  %s\n", width, name, commands[name].summary)
	}
	fmt.Fprintf(w, "\nRun \"shqueue <command> -h\" for a command's flags.\n")
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stderr))
}

// dispatch runs the command named by args[0] and returns the exit status.
func dispatch(args []string, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c := commands[args[1]]; c != nil {
				return exitStatus(c.name, c.run([]string{"-h"}), stderr)
			}
		}
		printUsage(os.Stdout)
		return 0
	}
	c := commands[name]
	if c == nil {
		fmt.Fprintf(stderr, "shqueue: unknown command %q\n\n", name)
		printUsage(stderr)
		return 2
	}
	return exitStatus(name, c.run(args[1:]), stderr)
}

func exitStatus(name string, err error, stderr io.Writer) int {
	var usage usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "shqueue %s: %v\n", name, err)
		return 2
	case isFlagError(err):
		// The flag package has already printed the error and the usage.
		return 2
	}
	fmt.Fprintf(stderr, "shqueue %s: %v\n", name, err)
	return 1
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
// exits with status 2 without printing it twice.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return flagError{err}
	}
	return nil
}
