package bench

import (
	"strconv"
	"strings"
	"testing"
)

// Now is one clock across processes: a child's reading falls between the
// parent's readings before it started and after it exited. A clock relative
// to each process's start (time.Since of a package variable) fails this.
func TestNowIsSharedAcrossProcesses(t *testing.T) {
	before := Now()
	out, err := childCommand(t, "now").Output()
	after := Now()
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatalf("child printed %q", out)
	}
	if child < before || child > after {
		t.Errorf("child read %d, outside the parent's [%d, %d]", child, before, after)
	}
}

func TestNowIsMonotonicAndCheap(t *testing.T) {
	prev := Now()
	for range 1000 {
		now := Now()
		if now < prev {
			t.Fatalf("Now went back: %d after %d", now, prev)
		}
		prev = now
	}
	if a := testing.AllocsPerRun(100, func() { Now() }); a != 0 {
		t.Errorf("Now allocates %v times per call", a)
	}
}
