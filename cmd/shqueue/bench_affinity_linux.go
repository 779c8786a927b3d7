//go:build linux

package main

import (
	"fmt"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// pinThread binds the calling OS thread to cpu. The caller has locked its
// goroutine to the thread (runtime.LockOSThread), so the measuring loop stays
// on that CPU; the runtime's other threads (sysmon, idle Ps) stay free to run
// anywhere, which on a 2-CPU machine is better than stacking them on the
// spinning thread's CPU.
func pinThread(cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("sched_setaffinity(cpu %d): %w", cpu, err)
	}
	return nil
}

// allowedCPUs lists the CPUs this process may run on, in order.
func allowedCPUs() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, err
	}
	var cpus []int
	for cpu := 0; cpu < len(set)*64; cpu++ {
		if set.IsSet(cpu) {
			cpus = append(cpus, cpu)
		}
	}
	return cpus, nil
}

const canPin = true

// dieWithParent makes the kernel kill the child if the bench process dies
// (even by SIGKILL), so no spinning child outlives it.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// watchParent is not needed where dieWithParent works.
func watchParent() {}
