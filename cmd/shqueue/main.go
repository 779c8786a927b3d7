// Command shqueue looks after shqueue queues on a host: it lists them, shows
// one in full, follows its counters, dumps its next messages without taking
// them, creates and removes queues, and measures shqueue against the kernel's
// transports.
//
// Usage:
//
//	shqueue <command> [flags] [args]
//
// The commands:
//
//	ls       list the queues on this host: shape, length, processes, name, status
//	stat     show one queue in full: geometry, counters, attached processes
//	watch    show a queue's counters as rates, every second until interrupted
//	peek     dump the next messages of a queue without dequeuing them
//	create   create a queue and leave it for programs to open
//	rm       remove queues by key or name, or every stale one (-stale)
//	bench    measure latency and throughput against Unix sockets, pipes and SysV message queues
//	version  print the tool's and the library's versions and build settings
//
// A queue is named by its System V key, in decimal or hex as ipcs(1) prints
// it (0x5eed0001; a negative key in two's complement), or by name as programs
// meet it: name:orders is the key shqueue.KeyFromName("orders") gives, and
// commands check that the queue there carries that name.
//
// Looking changes nothing: ls, stat, watch and peek map the segment
// read-only. Nothing that holds messages is removed without being asked:
//
//	shqueue create name:orders -words 8 -cap 1024   # fails if a leftover holds messages; -replace replaces it
//	shqueue rm -stale -n                            # what -stale would remove: orphaned, empty queues
//	shqueue rm -stale                               # remove them
//	shqueue rm -stale -force                        # every queue nobody has attached, messages and all
//	shqueue rm name:orders                          # this one, whatever it holds
//
// A queue's status says who uses it: in use (attached, or a live process in
// its table), idle (nobody attached, every handle closed) or orphaned
// (nobody attached, only dead processes in its table), and for the last two
// whether it holds messages. A half-created segment (its creator was killed
// before it finished the header) shows as such; rm removes it.
//
// Every command prints its flags with -h, on standard output. The read-only
// commands print JSON with -json.
//
// Exit status: 0 success (and -h); 1 failure; 2 usage error; 3 no queue at
// the key; 4 permission denied.
package main

// How the tool is built: each command lives in its own file (ls.go, stat.go,
// bench.go, ...) and plugs itself in from an init function with register, so
// adding one never touches this file:
//
//	func init() { register("ls", "list queues", runLs) }
//
// A command receives the arguments after its name and parses them with its own
// flag.FlagSet (use newFlagSet and parseFlags so -h and usage errors behave
// the same way in every command). It never exits the process: it returns an
// error, and main turns the error into the exit status:
//
//	0  success, or -h (flag.ErrHelp)
//	1  any other error, printed as "shqueue <command>: <error>"
//	2  a usage error (usagef) or a flag the flag package refused
//	3  no segment for the key (a queue command's shqueue.ErrNotExist)
//	4  permission denied (a queue command's shqueue.ErrNoAccess)
//
// A command that wants a status other than 1 for an error returns an
// exitError carrying it (see queueCommand for 3 and 4).

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// The exit statuses, for scripts.
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2
	exitNotFound = 3
	exitNoAccess = 4
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

// usageError marks an error in how the tool was called (exitUsage).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// exitError carries an error together with the exit status it stands for.
type exitError struct {
	status int
	err    error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

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
		return exitUsage
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
		return exitOK
	}
	c := commands[name]
	if c == nil {
		fmt.Fprintf(stderr, "shqueue: unknown command %q\n\n", name)
		printUsage(stderr)
		return exitUsage
	}
	return exitStatus(name, c.run(args[1:]), stderr)
}

// exitStatus reports err, if it needs reporting, and maps it to the exit
// status.
func exitStatus(name string, err error, stderr io.Writer) int {
	var usage usageError
	var exit exitError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "shqueue %s: %v\n", name, err)
		return exitUsage
	case isFlagError(err):
		// The flag package has already printed the error and the usage.
		return exitUsage
	case errors.As(err, &exit):
		fmt.Fprintf(stderr, "shqueue %s: %v\n", name, err)
		return exit.status
	}
	fmt.Fprintf(stderr, "shqueue %s: %v\n", name, err)
	return exitFailure
}
