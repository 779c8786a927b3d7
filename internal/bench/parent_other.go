//go:build !linux

package bench

import "os/exec"

// KillWithParent does nothing where there is no parent-death signal: the
// child's WatchParent is what ends it.
func KillWithParent(*exec.Cmd) {}
