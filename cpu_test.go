package shqueue

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/cpuid/v2"
)

var slotSizes = []int{8, 16, 56, 64, 128, 256, 512, 1024, 4096, 16384, 65536, 1 << 20, 8 << 20}

func isNonTemporal(k copyKind) bool { return k.temporal() != k }

func TestCPUKindNames(t *testing.T) {
	want := map[copyKind]string{
		copyBuiltin: "builtin", copyGenericKind: "generic", copyAVX2: "avx2", copyAVX2NT: "avx2-nt",
		copyAVX512: "avx512", copyAVX512NT: "avx512-nt", copyNEON: "neon", copyRepMovsb: "repmovsb",
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
			if k == copyGenericKind {
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
	names := []string{"builtin", "generic", "avx2", "avx2-nt", "avx512", "avx512-nt", "neon", "repmovsb", "nt", "AVX2", "bogus", "sse9"}
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

// Hosts the plan tests derive plans for, whatever CPU runs the tests.
var (
	zen5Host = copyHost{vendor: cpuid.AMD, avx2: true, avx512: true, erms: true, fsrm: true, l2: 1 << 20}
	zen3Host = copyHost{vendor: cpuid.AMD, avx2: true, erms: true, fsrm: true, l2: 512 << 10, l3PerCore: 4 << 20}
	emrHost  = copyHost{vendor: cpuid.Intel, avx2: true, avx512: true, erms: true, fsrm: true, l2: 2 << 20}
	sklHost  = copyHost{vendor: cpuid.Intel, avx2: true, erms: true, l2: 256 << 10, l3PerCore: 2 << 20}
)

// pickFrom is pickCopy for a policy that is not active.
func pickFrom(p *copyPolicy, size int, intoShared bool) copyKind {
	defer swapPolicy(p)()
	return pickCopy(size, intoShared)
}

func swapPolicy(p *copyPolicy) (restore func()) {
	prev := activePolicy.Swap(p)
	return func() { activePolicy.Store(prev) }
}

// TestCPUDerivedThresholds: the glibc-style rules give the thresholds
// documented in cpu.go for each kind of host.
func TestCPUDerivedThresholds(t *testing.T) {
	for _, c := range []struct {
		name              string
		h                 copyHost
		repFrom, repUntil int
		nt                int
	}{
		{"zen5 (fsrm, no L3 reported)", zen5Host, 2112, 1 << 20, ntFallback},
		{"zen3 (fsrm, L3 4 MiB per core)", zen3Host, 2112, 512 << 10, ntFallback},
		{"emerald rapids (fsrm)", emrHost, 2112, ntFallback, ntFallback},
		{"skylake (erms, avx2, no fsrm)", sklHost, 4 << 10, ntFallback, ntFallback},
		{"avx512 without fsrm", copyHost{vendor: cpuid.Intel, avx2: true, avx512: true, erms: true}, 8 << 10, ntFallback, ntFallback},
		{"big L3 share", copyHost{vendor: cpuid.Intel, avx2: true, erms: true, l3PerCore: 40 << 20}, 4 << 10, 16 << 20, 16 << 20},
	} {
		if got := repMovsbFrom(c.h); got != c.repFrom {
			t.Errorf("%s: repMovsbFrom = %d, want %d", c.name, got, c.repFrom)
		}
		if got := repMovsbUntil(c.h); got != c.repUntil {
			t.Errorf("%s: repMovsbUntil = %d, want %d", c.name, got, c.repUntil)
		}
		if got := ntFrom(c.h); got != c.nt {
			t.Errorf("%s: ntFrom = %d, want %d", c.name, got, c.nt)
		}
	}
}

// TestCPUPlanTables: each vendor gets its own table, the bands ascend, no
// plan dequeues with non-temporal stores, small slots take the built-in
// copy, and the choices the tables' comments justify are the ones made.
func TestCPUPlanTables(t *testing.T) {
	for _, c := range []struct {
		name  string
		h     copyHost
		table string
		want  map[int][2]copyKind // size -> {enqueue, dequeue}
	}{
		{"zen5", zen5Host, "amd", map[int][2]copyKind{
			64:      {copyBuiltin, copyBuiltin},
			264:     {copyBuiltin, copyBuiltin},
			1024:    {copyAVX512, copyAVX512},
			2104:    {copyAVX512, copyAVX512},
			2112:    {copyRepMovsb, copyAVX512},
			16384:   {copyRepMovsb, copyRepMovsb},
			1 << 20: {copyAVX512NT, copyRepMovsb},
			8 << 20: {copyAVX512NT, copyRepMovsb},
		}},
		{"zen3 (no usable avx512)", zen3Host, "amd", map[int][2]copyKind{
			264:       {copyBuiltin, copyBuiltin},
			4096:      {copyRepMovsb, copyBuiltin},
			512 << 10: {copyAVX2NT, copyRepMovsb},
		}},
		{"emerald rapids", emrHost, "intel-avx512", map[int][2]copyKind{
			64:      {copyBuiltin, copyBuiltin},
			264:     {copyBuiltin, copyAVX2},
			1024:    {copyAVX512, copyAVX512},
			16384:   {copyBuiltin, copyBuiltin},
			8 << 20: {copyAVX512NT, copyBuiltin},
		}},
		{"skylake", sklHost, "avx2", map[int][2]copyKind{
			264:     {copyBuiltin, copyAVX2},
			4096:    {copyBuiltin, copyBuiltin},
			8 << 20: {copyAVX2NT, copyBuiltin},
		}},
	} {
		p := planFor(c.h)
		if p.table != c.table {
			t.Errorf("%s: table %q, want %q", c.name, p.table, c.table)
		}
		for _, bands := range [][]sizeBand{p.in, p.out} {
			for i := 1; i < len(bands); i++ {
				if bands[i].from <= bands[i-1].from {
					t.Errorf("%s: bands do not ascend: %s", c.name, formatPlan(p))
				}
			}
		}
		for _, b := range p.out {
			if isNonTemporal(b.kind) {
				t.Errorf("%s: dequeue band %v is non-temporal", c.name, b)
			}
		}
		for size, want := range c.want {
			if got := [2]copyKind{pickFrom(p, size, true), pickFrom(p, size, false)}; got != want {
				t.Errorf("%s: size %d: enqueue/dequeue %v, want %v (%s)", c.name, size, got, want, formatPlan(p))
			}
		}
	}
}

// TestCopyPlanText: a plan prints in the form it is read back from, bad
// plans are refused with a reason, and a plan naming a variant this host
// cannot run is refused rather than half used.
func TestCopyPlanText(t *testing.T) {
	auto := autoPolicy()
	back, err := parsePlan(formatPlan(auto))
	if err != nil {
		t.Fatalf("the automatic plan %q does not read back: %v", formatPlan(auto), err)
	}
	if formatPlan(back) != formatPlan(auto) {
		t.Errorf("round trip: %q became %q", formatPlan(auto), formatPlan(back))
	}
	good := "enqueue: builtin <1KiB, generic >=1KiB, builtin >=4096; dequeue: generic >=512B"
	restore, err := setCopyPlan(good)
	if err != nil {
		t.Fatalf("setCopyPlan(%q): %v", good, err)
	}
	for _, c := range []struct {
		size       int
		intoShared bool
		want       copyKind
	}{
		{1016, true, copyBuiltin}, {1024, true, copyGenericKind}, {4088, true, copyGenericKind},
		{4096, true, copyBuiltin}, {504, false, copyBuiltin}, {512, false, copyGenericKind}, {8 << 20, false, copyGenericKind},
	} {
		if got := pickCopy(c.size, c.intoShared); got != c.want {
			t.Errorf("plan %q: pickCopy(%d, %v) = %v, want %v", good, c.size, c.intoShared, got, c.want)
		}
	}
	if s := cpuSummary(); !strings.Contains(s, planEnv) {
		t.Errorf("summary does not name %s: %s", planEnv, s)
	}
	restore()

	bad := []string{
		"", "enqueue", "sideways: builtin", "enqueue: bogus >=64", "enqueue: generic >=2KiB, builtin >=1KiB",
		"enqueue: generic >=1x", "enqueue: generic 64", "enqueue: generic; enqueue: builtin",
		"enqueue: generic >=64, builtin <128", "enqueue: builtin <1KiB, generic >=512",
	}
	if !kindSupported(copyAVX512) {
		bad = append(bad, "enqueue: avx512 >=384")
	}
	if kindSupported(copyAVX512NT) {
		bad = append(bad, "dequeue: avx512-nt >=8MiB")
	}
	if !kindSupported(copyNEON) {
		bad = append(bad, "dequeue: neon >=64")
	}
	before := formatPlan(activePolicy.Load())
	for _, text := range bad {
		if _, err := setCopyPlan(text); err == nil {
			t.Errorf("setCopyPlan(%q) accepted", text)
		}
		if p := planPolicy(text); formatPlan(p) != formatPlan(auto) || !strings.Contains(p.note, "ignored") {
			t.Errorf("planPolicy(%q) = %q (%s), want the automatic plan and a note", text, formatPlan(p), p.note)
		}
	}
	if after := formatPlan(activePolicy.Load()); after != before {
		t.Errorf("refused plans changed the policy: %q became %q", before, after)
	}
}

// SHQUEUE_COPY_PLAN is read once at start-up too: a child started with a
// plan must follow it, and one started with a plan it cannot run must keep
// the automatic plan and say why.
const copyPlanEnvChild = "copy-plan-env"

func init() {
	registerChild(copyPlanEnvChild, func(args []string) int {
		// args: the slot size, then the kinds pickCopy must return for
		// enqueue and dequeue.
		size, _ := strconv.Atoi(args[0])
		if in, out := pickCopy(size, true).String(), pickCopy(size, false).String(); in != args[1] || out != args[2] {
			fmt.Fprintf(os.Stderr, "%s=%q: pickCopy(%d) = %s/%s, want %s/%s\n", planEnv, os.Getenv(planEnv), size, in, out, args[1], args[2])
			return 1
		}
		if !strings.Contains(cpuSummary(), planEnv) {
			fmt.Fprintf(os.Stderr, "summary does not mention %s: %s\n", planEnv, cpuSummary())
			return 1
		}
		return 0
	})
}

func TestCopyPlanEnvironment(t *testing.T) {
	auto := autoPolicy()
	autoIn, autoOut := pickFrom(auto, 4096, true).String(), pickFrom(auto, 4096, false).String()
	for _, c := range []struct{ plan, size, in, out string }{
		{"enqueue: generic >=1KiB; dequeue: builtin", "4096", "generic", "builtin"},
		{"dequeue: generic >=512", "4096", "builtin", "generic"},
		{"enqueue: nonsense", "4096", autoIn, autoOut},
	} {
		cmd := childCommand(t, copyPlanEnvChild, c.size, c.in, c.out)
		// An SHQUEUE_CPU the test run was started with would win over the
		// plan: the child gets it empty.
		cmd.Env = append(cmd.Env, planEnv+"="+c.plan, cpuEnv+"=")
		if out, err := cmd.Output(); err != nil {
			t.Errorf("%s=%q: child failed: %v %s", planEnv, c.plan, err, out)
		}
	}
}
