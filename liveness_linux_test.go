package shqueue

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestProcessLiveness(t *testing.T) {
	start, zombie, ok := procStartTime(os.Getpid())
	if !ok || zombie || start == 0 {
		t.Fatalf("procStartTime(self) = %d, %v, %v", start, zombie, ok)
	}
	if n := testing.AllocsPerRun(20, func() { procStartTime(os.Getpid()) }); n != 0 && !raceEnabled {
		t.Fatalf("procStartTime allocates %v times", n)
	}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	childStart, _, ok := procStartTime(pid)
	if !ok || !processAlive(pid, childStart) {
		t.Fatal("a running child is not alive")
	}
	if processAlive(pid, childStart+10*startTolerance) {
		t.Fatal("a different start time (a reused pid) counts as alive")
	}
	cmd.Process.Signal(syscall.SIGKILL)
	// Killed but not reaped: a zombie, which kill(pid, 0) still finds.
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, zombie, _ := procStartTime(pid); zombie {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("killed child never became a zombie")
		}
		time.Sleep(time.Millisecond)
	}
	if processAlive(pid, childStart) {
		t.Fatal("a zombie counts as alive")
	}
	cmd.Wait()
	if processAlive(pid, childStart) {
		t.Fatal("a reaped child counts as alive")
	}
}
