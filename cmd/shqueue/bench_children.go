package main

// The parent's side of a measurement's two child processes: it sets the
// transport up, starts both children (the tool re-executed as
// benchChildCommand), waits for both, kills the survivor when one fails, and
// tears the transport down, so that nothing outlives a measurement.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"

	"github.com/shqueue/shqueue/internal/bench"
)

// A childRun is one measurement by a pair of child processes.
type childRun struct {
	t         *transport
	sc        setupConfig
	roles     [2]string // side 0's, side 1's
	n, warmup int
	label     string   // names the measurement in progress lines and errors
	tty       bool     // side 0 draws progress on the terminal
	extra     []string // further flags for both children
}

// measure runs the measurement and returns the result side 0 reported.
func measure(ctx context.Context, cfg *benchConfig, run childRun) (*childResult, error) {
	out, err := runChildren(ctx, cfg, run)
	if err != nil {
		return nil, err
	}
	return decodeChildResult(out, run.label)
}

// runChildren sets the transport up, runs the two sides as child processes
// and returns what side 0 printed. Whatever happens, both children are gone
// and the transport is torn down when it returns.
func runChildren(ctx context.Context, cfg *benchConfig, run childRun) (_ []byte, err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this program to re-execute: %w", err)
	}
	sr, err := run.t.setup(run.sc)
	if err != nil {
		return nil, fmt.Errorf("%s: setup: %w", run.label, err)
	}
	defer func() {
		if cerr := sr.cleanup(); cerr != nil && err == nil {
			err = fmt.Errorf("%s: cleanup: %w", run.label, cerr)
		}
	}()
	closeParentCopies := func() {
		for _, c := range sr.closers {
			c()
		}
		sr.closers = nil
	}
	defer closeParentCopies()

	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	var stdout bytes.Buffer
	var cmds [2]*exec.Cmd
	for side := range cmds {
		cmd := exec.Command(exe, childArgs(cfg, run, sr, side)...)
		bench.KillWithParent(cmd)
		cmd.ExtraFiles = sr.files[side]
		cmd.Stderr = os.Stderr
		if side == 0 {
			cmd.Stdout = &stdout
		}
		cmds[side] = cmd
	}
	exits, err := startChildren(cmds, run.label)
	if err != nil {
		return nil, err
	}
	// The children hold the inherited descriptors now; closing the parent's
	// copies lets a reader see end-of-file when its peer dies.
	closeParentCopies()
	if err := awaitChildren(ctx, cfg, run, cmds, exits); err != nil {
		return nil, err
	}
	return stdout.Bytes(), nil
}

// childArgs is the command line of one side's child.
func childArgs(cfg *benchConfig, run childRun, sr *setupResult, side int) []string {
	args := []string{benchChildCommand,
		"-role", run.roles[side], "-transport", run.t.name,
		"-size", strconv.Itoa(run.sc.size), "-capacity", strconv.Itoa(run.sc.capacity),
		"-n", strconv.Itoa(run.n), "-warmup", strconv.Itoa(run.warmup),
		"-targs", joinArgs(sr.args), "-record", cfg.record, "-label", run.label,
		"-maxtime", strconv.FormatInt(int64(cfg.maxTime), 10), "-check", cfg.check,
	}
	args = append(args, run.extra...)
	if cpu := cfg.cpuFor(run.t, side); cpu >= 0 {
		args = append(args, "-cpu", strconv.Itoa(cpu))
	}
	if side == 0 && run.tty {
		args = append(args, "-progress", "tty")
	}
	return args
}

// A childExit is how one side's child ended.
type childExit struct {
	side int
	err  error
}

// startChildren starts the passive side first, so the measuring side never
// waits for a process to start inside its timed loop (the warm-up absorbs
// the rest). Each child's exit arrives on the channel. If one cannot start,
// the other is killed and reaped before it returns.
func startChildren(cmds [2]*exec.Cmd, label string) (<-chan childExit, error) {
	exits := make(chan childExit, len(cmds))
	started := 0
	for _, side := range []int{1, 0} {
		if err := cmds[side].Start(); err != nil {
			for _, c := range cmds {
				if c.Process != nil {
					c.Process.Kill()
				}
			}
			for range started {
				<-exits
			}
			return nil, fmt.Errorf("%s: starting side %d: %w", label, side, err)
		}
		started++
		go func() { exits <- childExit{side, cmds[side].Wait()} }()
	}
	return exits, nil
}

// awaitChildren waits for both children to exit. When one fails, or the
// context ends (-timeout, an interrupt), it kills both, since the survivor
// may wait forever for its dead peer, and returns the first failure.
func awaitChildren(ctx context.Context, cfg *benchConfig, run childRun, cmds [2]*exec.Cmd, exits <-chan childExit) error {
	killAll := func() {
		for _, c := range cmds {
			c.Process.Kill()
		}
	}
	var first error
	for range cmds {
		var e childExit
		select {
		case e = <-exits:
		case <-ctx.Done():
			killAll()
			if first == nil {
				if errors.Is(ctx.Err(), context.DeadlineExceeded) {
					first = fmt.Errorf("%s: no result after %v (-timeout)", run.label, cfg.timeout)
				} else {
					first = fmt.Errorf("%s: interrupted", run.label)
				}
			}
			e = <-exits
		}
		if e.err != nil && first == nil {
			first = fmt.Errorf("%s: %s process (side %d) failed: %w", run.label, run.roles[e.side], e.side, e.err)
			killAll()
		}
	}
	return first
}
