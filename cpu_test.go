package shqueue

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/klauspost/cpuid/v2"
)

var slotSizes = []int{8, 16, 56, 64, 128, 256, 512, 1024, 4096, 16384, 65536, 1 << 20, 8 << 20}

func isNonTemporal(k copyKind) bool { return k.temporal() != k }

func TestCPUKindNames(t *testing.T) {
	want := map[copyKind]string{
		copyBuiltin: "builtin", copyGo: "generic", copyAVX2: "avx2", copyAVX2NT: "avx2-nt",
		copyAVX512: "avx512", copyAVX512NT: "avx512-nt", copyNEON: "neon",
	}
	for k := copyKind(0); k < numCopyKinds; k++ {
		if k.String() != want[k] {
			t.Errorf("copyKind(%d).String() = %q, want %q", k, k.String(), want[k])
		}
		if got, ok := kindByName(k.String()); !ok || got != k {
			t.Errorf("kindByName(%q) = %v, %v", k.String(), got, ok)
		}
	}
	if s := copyKind(200).String(); s != "copyKind(200)" {
		t.Errorf("invalid kind prints as %q", s)
	}
}

// TestCPUAutoPolicy: whatever the CPU, the automatic choice only names
// variants the host runs, never non-temporal stores for dequeue, and the
// built-in copy for the smallest slots.
func TestCPUAutoPolicy(t *testing.T) {
	defer forceCPU("auto")()
	for _, size := range slotSizes {
		for _, in := range []bool{false, true} {
			k := pickCopy(size, in)
			if !kindSupported(k) {
				t.Errorf("pickCopy(%d, %v) = %v, which this host cannot run", size, in, k)
			}
			if !in && isNonTemporal(k) {
				t.Errorf("pickCopy(%d, false) = %v: non-temporal stores for dequeue", size, k)
			}
			if k == copyGo {
				t.Errorf("pickCopy(%d, %v) chose the generic copy, which never beats the built-in", size, in)
			}
		}
	}
	for _, in := range []bool{false, true} {
		if k := pickCopy(8, in); k != copyBuiltin {
			t.Errorf("pickCopy(8, %v) = %v, want builtin", in, k)
		}
	}
	if !asmAMD64 && !asmARM64 {
		for _, size := range slotSizes {
			if k := pickCopy(size, true); k != copyBuiltin {
				t.Errorf("build without assembly: pickCopy(%d, true) = %v", size, k)
			}
		}
	}
}

// TestCPUForce: every variant can be forced where the host supports it;
// anything else falls back to the built-in copy, never to an instruction the
// CPU lacks.
func TestCPUForce(t *testing.T) {
	names := []string{"builtin", "generic", "avx2", "avx2-nt", "avx512", "avx512-nt", "neon", "nt", "AVX2", "bogus", "sse9"}
	for _, name := range names {
		restore := forceCPU(name)
		kind, known := kindByName(strings.ToLower(name))
		for _, size := range slotSizes {
			in, out := pickCopy(size, true), pickCopy(size, false)
			if !kindSupported(in) || !kindSupported(out) {
				t.Errorf("forced %q: pickCopy(%d) = %v/%v, unsupported here", name, size, in, out)
			}
			if isNonTemporal(out) {
				t.Errorf("forced %q: pickCopy(%d, false) = %v: non-temporal for dequeue", name, size, out)
			}
			switch {
			case name == "nt":
				if (kindSupported(copyAVX2NT) || kindSupported(copyAVX512NT)) && !isNonTemporal(in) {
					t.Errorf("forced nt: pickCopy(%d, true) = %v", size, in)
				}
			case known && kindSupported(kind):
				if in != kind || out != kind.temporal() {
					t.Errorf("forced %q: pickCopy(%d) = in %v, out %v; want %v, %v", name, size, in, out, kind, kind.temporal())
				}
			default:
				if in != copyBuiltin || out != copyBuiltin {
					t.Errorf("forced unsupported %q: pickCopy(%d) = %v/%v, want builtin", name, size, in, out)
				}
			}
		}
		if s := cpuSummary(); !strings.Contains(s, cpuEnv+"="+strings.ToLower(name)) {
			t.Errorf("forced %q: summary does not say so: %s", name, s)
		}
		restore()
	}
	if s := cpuSummary(); strings.Contains(s, cpuEnv+"=") && os.Getenv(cpuEnv) == "" {
		t.Errorf("restore left a forced policy: %s", s)
	}
}

func TestCPUSummary(t *testing.T) {
	s := cpuSummary()
	t.Log(s)
	for _, part := range []string{"cpu:", "dequeue:", "enqueue:"} {
		if !strings.Contains(s, part) {
			t.Errorf("summary lacks %q: %s", part, s)
		}
	}
	if strings.Contains(s, "\n") {
		t.Errorf("summary is not one line: %q", s)
	}
}

func TestCPUAVX512Downclocks(t *testing.T) {
	for _, c := range []struct {
		vendor        cpuid.Vendor
		family, model int
		want          bool
	}{
		{cpuid.Intel, 6, 0x55, true},   // Skylake-SP, Cascade Lake, Cooper Lake
		{cpuid.Intel, 6, 0x66, true},   // Cannon Lake
		{cpuid.Intel, 6, 0x6a, false},  // Ice Lake-SP
		{cpuid.Intel, 6, 0x8f, false},  // Sapphire Rapids
		{cpuid.Intel, 6, 0xcf, false},  // Emerald Rapids
		{cpuid.AMD, 0x19, 0x11, false}, // Zen 4
		{cpuid.AMD, 0x1a, 0x02, false}, // Zen 5
	} {
		if got := avx512Downclocks(c.vendor, c.family, c.model); got != c.want {
			t.Errorf("avx512Downclocks(%v, %#x, %#x) = %v, want %v", c.vendor, c.family, c.model, got, c.want)
		}
	}
}

// The environment variable is read once at start-up, so it is tested in a
// child process started with it set.
const cpuEnvChild = "cpu-env"

func init() {
	registerChild(cpuEnvChild, func(args []string) int {
		// args: the forced name, then the kind pickCopy(4096, true) must return.
		if got := pickCopy(4096, true).String(); got != args[1] {
			fmt.Fprintf(os.Stderr, "%s=%s: pickCopy(4096, true) = %s, want %s\n", cpuEnv, args[0], got, args[1])
			return 1
		}
		if !strings.Contains(cpuSummary(), cpuEnv+"="+args[0]) {
			fmt.Fprintf(os.Stderr, "summary does not mention the forced variant: %s\n", cpuSummary())
			return 1
		}
		return 0
	})
}

func TestCPUEnvironment(t *testing.T) {
	cases := [][2]string{{"builtin", "builtin"}, {"generic", "generic"}, {"bogus", "builtin"}}
	for _, k := range supportedKinds() {
		cases = append(cases, [2]string{k.String(), k.String()})
	}
	if !kindSupported(copyAVX512) {
		cases = append(cases, [2]string{"avx512", "builtin"})
	}
	for _, c := range cases {
		cmd := childCommand(t, cpuEnvChild, c[0], c[1])
		cmd.Env = append(cmd.Env, cpuEnv+"="+c[0])
		if out, err := cmd.Output(); err != nil {
			t.Errorf("%s=%s: child failed: %v %s", cpuEnv, c[0], err, out)
		}
	}
}
