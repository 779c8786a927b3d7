package shqueue

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync/atomic"

	"github.com/klauspost/cpuid/v2"
)

// copyKind names one way of copying a message between a user buffer and a
// slot. The queue picks one per handle and direction with pickCopy and passes
// it to copySlot; copyBuiltin is the zero value so the hot path can test for
// it and call the built-in copy inline.
type copyKind uint8

const (
	copyBuiltin     copyKind = iota // Go's built-in copy (runtime memmove)
	copyGenericKind                 // copyGeneric, the pure-Go reference (tests, SHQUEUE_CPU=generic)
	copyAVX2                        // 32-byte AVX2 loads and stores (amd64)
	copyAVX2NT                      // AVX2 with non-temporal stores, then SFENCE (amd64)
	copyAVX512                      // 64-byte AVX-512 loads and stores (amd64)
	copyAVX512NT                    // AVX-512 with non-temporal stores, then SFENCE (amd64)
	copyNEON                        // LDP/STP of 128-bit Q registers (arm64)
	copyRepMovsb                    // one REP MOVSB: whole-line stores without a read for ownership (amd64)
	numCopyKinds
)

var copyKindNames = [numCopyKinds]string{
	copyBuiltin:     "builtin",
	copyGenericKind: "generic",
	copyAVX2:        "avx2",
	copyAVX2NT:      "avx2-nt",
	copyAVX512:      "avx512",
	copyAVX512NT:    "avx512-nt",
	copyNEON:        "neon",
	copyRepMovsb:    "repmovsb",
}

// String returns the variant's stable short name, used in benchmark names, in
// SHQUEUE_CPU and by the command-line tool.
func (k copyKind) String() string {
	if k < numCopyKinds {
		return copyKindNames[k]
	}
	return fmt.Sprintf("copyKind(%d)", uint8(k))
}

// temporal returns the variant with ordinary stores that k's non-temporal
// variant pairs with (k itself when k has no non-temporal stores).
func (k copyKind) temporal() copyKind {
	switch k {
	case copyAVX2NT:
		return copyAVX2
	case copyAVX512NT:
		return copyAVX512
	}
	return k
}

// CPU features, detected once at package initialisation. They are plain
// booleans so copySlot can guard each assembly path with a predictable
// branch rather than an indirect call.
var (
	hasAVX2     bool // AVX2, with the OS saving YMM state
	hasAVX512   bool // AVX-512F, with the OS saving ZMM and opmask state
	hasAVX512BW bool
	hasAVX512VL bool
	hasERMS     bool // enhanced REP MOVSB: the runtime's memmove uses REP MOVS for large copies
	hasFSRM     bool // fast short REP MOVSB
	hasASIMD    bool // arm64 Advanced SIMD (NEON)

	// avx512NoDownclock reports that 512-bit moves run at full clock speed
	// here, so the AVX-512 variants may be picked automatically (forcing one
	// with SHQUEUE_CPU only needs hasAVX512).
	avx512NoDownclock bool

	cacheL1D, cacheL2, cacheL3 int // bytes, -1 when unknown
)

func detectCPU() {
	c := &cpuid.CPU
	hasAVX2 = c.Supports(cpuid.AVX, cpuid.AVX2)
	hasAVX512 = c.Supports(cpuid.AVX512F)
	hasAVX512BW = c.Supports(cpuid.AVX512BW)
	hasAVX512VL = c.Supports(cpuid.AVX512VL)
	hasERMS = c.Supports(cpuid.ERMS)
	hasFSRM = c.Supports(cpuid.FSRM)
	// Advanced SIMD is part of the arm64 baseline: Go's own runtime uses it
	// unconditionally, so the NEON path does not depend on the feature
	// register being readable (it is not under every OS or emulator).
	hasASIMD = runtime.GOARCH == "arm64" || c.Supports(cpuid.ASIMD)
	avx512NoDownclock = hasAVX512 && !avx512Downclocks(c.VendorID, c.Family, c.Model)
	cacheL1D, cacheL2, cacheL3 = c.Cache.L1D, c.Cache.L2, c.Cache.L3
}

// avx512Downclocks reports whether the CPU lowers its clock for 512-bit
// instructions, which would make a faster copy slow down the code around it.
//
// Excluded: Intel family 6 model 0x55 (Skylake-SP/X, Cascade Lake, Cooper
// Lake) and model 0x66 (Cannon Lake). Their power-license scheme drops to
// the AVX-512 "license 1" frequency even for light 512-bit instructions such
// as loads and stores, and the core stays there for about 2 ms after the last
// one, so a queue copying a message now and then would slow every other
// instruction of the process. Allowed: Ice Lake and later Intel cores (Ice
// Lake-SP, Sapphire Rapids, Emerald Rapids, Granite Rapids), where light
// 512-bit instructions cause no measurable frequency drop, and AMD Zen 4/5,
// which run AVX-512 without a frequency penalty. Unknown vendors with
// AVX-512 are allowed: a CPU that reports AVX-512 is recent enough.
func avx512Downclocks(vendor cpuid.Vendor, family, model int) bool {
	if vendor != cpuid.Intel || family != 6 {
		return false
	}
	switch model {
	case 0x55, 0x66:
		return true
	}
	return false
}

// sizeBand says: from this slot size up (until the next band), use kind.
type sizeBand struct {
	from int
	kind copyKind
}

// copyPolicy is what pickCopy applies. It is computed once from the CPU
// features, or from SHQUEUE_CPU / SHQUEUE_COPY_PLAN / forceCPU, and
// replaced atomically.
type copyPolicy struct {
	out    []sizeBand // segment -> user buffer (dequeue), ascending by from
	in     []sizeBand // user buffer -> segment (enqueue), ascending by from
	table  string     // which measured table the automatic plan came from
	forced string     // what replaced the automatic plan: "SHQUEUE_CPU=avx2", "SHQUEUE_COPY_PLAN", ""
	note   string     // why a forced name or plan was not honoured, for cpuSummary
}

var activePolicy atomic.Pointer[copyPolicy]

// cpuEnv names the environment variable read once at start-up that forces a
// copy variant: auto, builtin, generic, avx2, avx2-nt, avx512, avx512-nt,
// repmovsb, neon, or nt (the widest non-temporal variant the host has).
const cpuEnv = "SHQUEUE_CPU"

func init() {
	detectCPU()
	p := autoPolicy()
	if plan := os.Getenv(planEnv); plan != "" {
		p = planPolicy(plan)
	}
	if name := os.Getenv(cpuEnv); name != "" {
		p = forcedPolicy(name) // one variant for everything overrides a plan
	}
	activePolicy.Store(p)
}

// copyHost is what the automatic plan is derived from: the vendor, the copy
// features and the cache sizes cpuid reports. A separate type so the tests
// can derive the plans of CPUs other than the one they run on.
type copyHost struct {
	vendor     cpuid.Vendor
	avx2       bool // usable AVX2
	avx512     bool // usable AVX-512F that does not lower the clock
	erms, fsrm bool
	l2         int // bytes per core; <= 0 when unknown
	l3PerCore  int // bytes of last-level cache per core; <= 0 when unknown
}

func detectedHost() copyHost {
	h := copyHost{
		vendor: cpuid.CPU.VendorID,
		avx2:   kindSupported(copyAVX2),
		avx512: kindSupported(copyAVX512) && avx512NoDownclock,
		erms:   asmAMD64 && hasERMS,
		fsrm:   asmAMD64 && hasFSRM,
		l2:     cacheL2,
	}
	// cpuid's core count is the package's, and some hypervisors report it
	// wrong (254 cores on a 2-vCPU guest); take the L3 share only when the
	// count is believable for the L3 reported.
	if cores := cpuid.CPU.PhysicalCores; cacheL3 > 0 && cores > 0 && cores <= runtime.NumCPU() {
		h.l3PerCore = cacheL3 / cores
	}
	return h
}

// The derived thresholds, in slot bytes, computed the way glibc computes its
// own for memcpy (sysdeps/x86/dl-cacheinfo.h, dl_init_cacheinfo), so that a
// CPU this package was never measured on still gets a sensible plan:
//
//   - repMovsbFrom: glibc's rep_movsb_threshold. With FSRM, REP MOVSB starts
//     fast and glibc uses it from 2112 bytes; without, from 2048 bytes per
//     16 bytes of vector (8 KiB for AVX-512, 4 KiB for AVX2), where its
//     start-up cost is paid back.
//   - repMovsbUntil: glibc's rep_movsb_stop_threshold. On AMD the L2 size
//     per core ("ERMS performs poorly for data above L2 cache size" on Zen 3
//     and later); elsewhere the non-temporal threshold.
//   - ntFrom: glibc's non_temporal_threshold, 3/4 of the L3 share of one
//     core, but never below ntFallback. (glibc 2.36 on the Zen 5 guest
//     printed 0x7f00000, 127 MiB, with --list-tunables, from a guest L3 it
//     took for 508 MiB; the guest gives this package no L3 at all.) Unknown
//     L3: ntFallback.
//
// On the CPUs measured, the tables below say where the queue's measurements
// disagree with glibc's rules, and why.
func repMovsbFrom(h copyHost) int {
	switch {
	case h.fsrm:
		return 2048 + 64
	case h.avx512:
		return 8 << 10
	case h.avx2:
		return 4 << 10
	}
	return 2 << 10
}

func repMovsbUntil(h copyHost) int {
	if h.vendor == cpuid.AMD && h.l2 > 0 {
		return h.l2
	}
	return ntFrom(h)
}

func ntFrom(h copyHost) int {
	if h.l3PerCore <= 0 {
		return ntFallback
	}
	return max(ntFallback, roundDownPow2(h.l3PerCore*3/4))
}

// ntFallback: where non-temporal stores into the segment start when the L3
// size is unknown, and the lowest start ntFrom gives: below it they lost in
// the Intel cross-core measurements (Emerald Rapids: 8 MiB 1.08-1.11x, 4 MiB
// a coin toss, 1 MiB 0.67-0.74x the built-in copy). The AMD table starts
// them at repMovsbUntil instead, where they measured even with the best.
const ntFallback = 8 << 20

func roundDownPow2(n int) int {
	p := 1
	for p*2 <= n {
		p *= 2
	}
	return p
}

// autoPolicy derives the plan for this host.
func autoPolicy() *copyPolicy { return planFor(detectedHost()) }

// planFor chooses the plan for h: AMD and Intel (and other vendors) from
// separate tables, because the two measured differently.
func planFor(h copyHost) *copyPolicy {
	switch {
	case h.vendor == cpuid.AMD && h.erms:
		return amdTable(h)
	case h.avx512:
		return intelAVX512Table(h)
	case h.avx2:
		return avx2Table(h)
	}
	// No assembly (purego/noasm builds, other architectures): the built-in
	// copy everywhere. On arm64 the NEON variant is there to be forced and
	// measured; it is not chosen until it has been measured on arm64
	// hardware (the tests run it under emulation, where timing means
	// nothing).
	return &copyPolicy{table: "builtin"}
}

// Intel thresholds, in slot bytes. They come from TestMeasureCopy and
// TestMeasureRing (SHQUEUE_MEASURE=1) on an Intel Emerald Rapids Xeon
// (Sapphire Rapids class, KVM guest, L1d 48 KiB, L2 2 MiB): the minimum time
// over 300 alternating trials, which stays meaningful on a shared machine
// where benchmark medians swing by half. Ratios are variant/built-in
// throughput; docs/asm.md has the tables.
//
// The built-in copy is hard to beat at both ends: up to 256 bytes the
// runtime copies with straight-line SSE moves and no loop, and from 2 KiB up
// on Intel CPUs with ERMS and FSRM it uses REP MOVSQ (runtime/cpuflags_amd64.go
// enables it on Intel only), whose fast-string protocol writes whole lines
// without first reading them (no read-for-ownership). That wins once the
// copy spills out of L1: from 40 KiB up REP MOVSQ is 1.02-1.3x faster than
// any vector loop (64 KiB: 61 GB/s against 52-55). In between, the vector
// loops win. So on Intel the built-in copy already is glibc's REP MOVSB
// band, and the table keeps it there.
const (
	// vectorMinSize: AVX2 beats the straight-line 256-byte copy from the next
	// slot size up (264 B: 1.09x, 320 B: 1.14x; 256 B: 0.85x).
	vectorMinSize = 264
	// avx512MinSize: AVX-512 overtakes AVX2 (384 B: 1.37x against 1.08x;
	// 320 B: 0.96x against 1.14x; 1 KiB 1.23x, 2 KiB 1.99x, 4 KiB 1.34x).
	avx512MinSize = 384
	// avx512MaxSize: the last size where AVX-512 dequeues faster than the
	// built-in copy. The copy benchmark alone has it beat REP MOVSQ up to
	// 32 KiB (8 KiB: 1.11x, 32 KiB: 1.05x; 40 KiB: 0.77x), but in
	// BenchmarkQueue, which dequeues a slot just written (the queue's real
	// access pattern), it lost at 16 KiB: 876 ns against 670 ns per
	// enqueue-dequeue, 8 alternating runs, p<0.001; at 4 KiB the two were
	// even (168 against 165 ns). So dequeue takes it only up to 4 KiB, as
	// enqueue does.
	avx512MaxSize = 4 << 10
	// avx2MaxSize: the last size where AVX2 alone reliably beats the built-in
	// copy, for CPUs without usable AVX-512 (512 B: 1.10x; 1 KiB: 0.94x,
	// 2 KiB: 1.48x, 4 KiB 1.10x, 8 KiB 0.93x: mixed, so not taken; measured
	// here with AVX2 forced).
	avx2MaxSize = 512
	// avx512InMaxSize: into the segment (enqueue), measured in the
	// cross-core ring, where the consumer's reads of the producer's lines
	// dominate and the variant matters little: AVX-512 gains up to 1 KiB
	// (512 B: 1.06-1.07x, 1 KiB: 1.02-1.09x), is neutral at 4 KiB
	// (0.98-1.04x; 1.34x on one thread, which the producer's CPU time
	// follows) and loses at 16 KiB (0.89-0.92x). AVX2 does not win in the
	// ring (0.83-1.02x), so CPUs without usable AVX-512 enqueue with the
	// built-in copy.
	avx512InMaxSize = 4 << 10
)

// intelAVX512Table: Intel (and any other vendor) with usable AVX-512. From
// ntFrom up enqueue uses non-temporal stores: measured on Emerald Rapids at
// 8 MiB, 1.08-1.11x in the cross-core ring (4 MiB: 0.97-1.15x over three
// runs, so not taken; 1 MiB and below they lose, 0.25-0.74x: the consumer
// then reads the message from memory instead of from the producer's cache,
// and SFENCE waits for the write-combining buffers to drain).
func intelAVX512Table(h copyHost) *copyPolicy {
	return &copyPolicy{
		table: "intel-avx512",
		out: []sizeBand{
			{vectorMinSize, copyAVX2},
			{avx512MinSize, copyAVX512},
			{avx512MaxSize + 8, copyBuiltin},
		},
		in: []sizeBand{
			{avx512MinSize, copyAVX512},
			{avx512InMaxSize + 8, copyBuiltin},
			{ntFrom(h), copyAVX512NT},
		},
	}
}

// avx2Table: CPUs with AVX2 but no usable AVX-512 (Intel before Ice Lake,
// AMD before Zen 4 without ERMS): AVX2 dequeues from 264 to 512 bytes, the
// built-in copy does the rest, and enqueue uses non-temporal stores from
// ntFrom.
func avx2Table(h copyHost) *copyPolicy {
	return &copyPolicy{
		table: "avx2",
		out: []sizeBand{
			{vectorMinSize, copyAVX2},
			{avx2MaxSize + 8, copyBuiltin},
		},
		in: []sizeBand{{ntFrom(h), copyAVX2NT}},
	}
}

// AMD thresholds. Measured on an AMD EPYC Zen 5 (family 0x1a model 2, 2-vCPU
// KVM guest, AVX-512, ERMS, FSRM, L1d 48 KiB, L2 1 MiB; the guest reports no
// L3) with TestMeasureRing (two pinned threads, min of 20 alternating
// trials; ratios to the built-in copy, the other side copying with the
// built-in copy), BenchmarkCopy and BenchmarkCopyRing (docs/asm.md has the
// tables). On AMD the runtime's memmove never uses REP MOVS
// (runtime/cpuflags_amd64.go enables it on Intel only): above 256 bytes it
// runs a 128-byte AVX loop, and from 1 MiB up one with non-temporal stores,
// so the built-in copy is neither glibc's REP MOVSB band nor fit for dequeue
// from 1 MiB (the caller reads the buffer next).
//
// Where the measurements disagree with glibc's rules:
//   - Dequeue starts REP MOVSB at amdOutRepMovsbFrom, not at 2112 bytes: at
//     4 KiB it only ties in the ring (0.96x, the AVX-512 loop 0.96x), while
//     the AVX-512 loop is the fastest single-thread copy there (1.42x
//     against REP MOVSB's 0.91x).
//   - REP MOVSB does not stop at the L2 size for dequeue: 1 MiB 1.33x,
//     4 MiB 1.72x in the ring.
//   - Enqueue switches at the L2 size (glibc's stop threshold) not to a
//     vector loop, as glibc does, but to non-temporal stores: at 1 MiB the
//     AVX-512 loop reached 0.60x, AVX-512 non-temporal 0.97x and REP MOVSB
//     0.90x of the built-in copy, itself a non-temporal loop there.
const (
	// amdOutRepMovsbFrom: in the ring REP MOVSB dequeues 1.24x the built-in
	// copy at 16 KiB, 1.19x at 64 KiB, 1.33x at 1 MiB (AVX-512: 0.87x, 0.96x,
	// 1.02x). On one thread AVX-512 still wins at 16 KiB (1.41x against
	// 0.96x; from 32 KiB REP MOVSB does, 1.37x): the consumer's copy reads
	// lines the producer's core holds, and the ring is the queue's case.
	amdOutRepMovsbFrom = 16 << 10
)

// amdTable: AMD CPUs with ERMS (Zen 3 and later). Single-thread
// (TestMeasureCopy, min of 300 trials; ratio to the built-in copy) the
// runtime's straight-line copy wins up to 320 bytes (AVX2 and AVX-512
// 0.75-0.91x from 256 to 320 B), AVX-512 from 384 bytes (1.02x; 1 KiB 1.30x,
// 4-16 KiB 1.41-1.42x), AVX2 never clearly (0.96x at 1 KiB, 1.04x at 4 KiB),
// so there is no AVX2 band. In the ring (TestMeasureRing, into the segment)
// REP MOVSB wins from repMovsbFrom: 4 KiB 2.59x, 16 KiB 3.38x, 64 KiB 1.11x,
// although on one thread it is 0.64-0.68x the AVX-512 loop at 4-16 KiB:
// a line the consumer last read is written without being fetched first.
// Enqueue therefore leaves AVX-512 at 2112 bytes, for REP MOVSB, and that
// for non-temporal stores from repMovsbUntil.
func amdTable(h copyHost) *copyPolicy {
	var in, out []sizeBand
	nt := copyKind(0)
	switch {
	case h.avx512:
		out = []sizeBand{{avx512MinSize, copyAVX512}}
		in = []sizeBand{{avx512MinSize, copyAVX512}}
		nt = copyAVX512NT
	case h.avx2:
		nt = copyAVX2NT
	}
	rep := repMovsbFrom(h)
	in = append(in, sizeBand{rep, copyRepMovsb})
	if until := repMovsbUntil(h); nt != 0 && until > rep {
		in = append(in, sizeBand{until, nt})
	}
	out = append(out, sizeBand{max(amdOutRepMovsbFrom, rep), copyRepMovsb})
	return &copyPolicy{table: "amd", in: in, out: out}
}

// forcedPolicy uses the named variant for every slot size (copySlot still
// takes the built-in copy for slots shorter than one vector). A forced
// non-temporal variant applies to the enqueue direction only: dequeue
// always uses ordinary stores, because the caller reads the buffer next. A
// name the host cannot run, or an unknown name, falls back to the built-in
// copy and says so in cpuSummary: never an illegal instruction.
func forcedPolicy(name string) *copyPolicy {
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" || name == "auto" {
		return autoPolicy()
	}
	forced := cpuEnv + "=" + name
	kind, ok := kindByName(name)
	if name == "nt" {
		ok = true
		switch {
		case kindSupported(copyAVX512NT):
			kind = copyAVX512NT
		case kindSupported(copyAVX2NT):
			kind = copyAVX2NT
		default:
			return &copyPolicy{forced: forced, note: "no non-temporal variant on this host; using builtin"}
		}
	}
	if !ok {
		return &copyPolicy{forced: forced, note: fmt.Sprintf("unknown variant %q; using builtin", name)}
	}
	if !kindSupported(kind) {
		return &copyPolicy{forced: forced, note: fmt.Sprintf("%s not supported on this host or build; using builtin", kind)}
	}
	return &copyPolicy{
		out:    []sizeBand{{0, kind.temporal()}},
		in:     []sizeBand{{0, kind}},
		forced: forced,
	}
}

func kindByName(name string) (copyKind, bool) {
	for k, n := range copyKindNames {
		if n == name {
			return copyKind(k), true
		}
	}
	return copyBuiltin, false
}

// kindSupported reports whether this build and this CPU can run kind.
func kindSupported(k copyKind) bool {
	switch k {
	case copyBuiltin, copyGenericKind:
		return true
	case copyAVX2, copyAVX2NT:
		return asmAMD64 && hasAVX2
	case copyAVX512, copyAVX512NT:
		return asmAMD64 && hasAVX512
	case copyNEON:
		return asmARM64 && hasASIMD
	case copyRepMovsb:
		return asmAMD64 // any amd64 CPU runs it; ERMS/FSRM make it fast
	}
	return false
}

// supportedKinds lists every variant this host and build can run.
func supportedKinds() []copyKind {
	var ks []copyKind
	for k := copyKind(0); k < numCopyKinds; k++ {
		if kindSupported(k) {
			ks = append(ks, k)
		}
	}
	return ks
}

// pickCopy returns the variant the queue uses for slots of size bytes (a
// multiple of 8, at least 8). intoShared is true for the enqueue direction
// (user buffer into the segment, where non-temporal stores may pay off for a
// consumer on another core) and false for dequeue (the caller reads the
// buffer next, so never non-temporal). It returns copyBuiltin wherever the
// built-in copy is as fast. A queue handle calls it once per direction.
func pickCopy(size int, intoShared bool) copyKind {
	p := activePolicy.Load()
	bands := p.out
	if intoShared {
		bands = p.in
	}
	kind := copyBuiltin
	for _, b := range bands {
		if size >= b.from {
			kind = b.kind
		}
	}
	return kind
}

// forceCPU is the test hook behind SHQUEUE_CPU: it makes pickCopy choose the
// named variant (see forcedPolicy; "auto" restores the automatic choice) and
// returns a function restoring the previous policy. Tests call it serially.
func forceCPU(name string) (restore func()) {
	prev := activePolicy.Swap(forcedPolicy(name))
	return func() { activePolicy.Store(prev) }
}

// cpuSummary describes the detected features and the variant choices on one
// line, for benchmark headers and the command-line tool.
func cpuSummary() string {
	var b strings.Builder
	c := &cpuid.CPU
	brand := strings.TrimSpace(c.BrandName)
	if brand == "" {
		brand = runtime.GOARCH
	}
	fmt.Fprintf(&b, "cpu: %s", brand)
	if c.Family != 0 || c.Model != 0 {
		fmt.Fprintf(&b, " (family %#x model %#x)", c.Family, c.Model)
	}
	var feats []string
	for _, f := range []struct {
		on   bool
		name string
	}{
		{hasAVX2, "avx2"}, {hasAVX512, "avx512f"}, {hasAVX512BW, "avx512bw"},
		{hasAVX512VL, "avx512vl"}, {hasERMS, "erms"}, {hasFSRM, "fsrm"},
		{hasASIMD && runtime.GOARCH == "arm64", "asimd"},
	} {
		if f.on {
			feats = append(feats, f.name)
		}
	}
	if hasAVX512 && !avx512NoDownclock {
		feats = append(feats, "(avx512 downclocks: not chosen)")
	}
	if len(feats) == 0 {
		feats = append(feats, "no vector copy features")
	}
	fmt.Fprintf(&b, "; %s", strings.Join(feats, " "))
	if cacheL1D > 0 || cacheL2 > 0 || cacheL3 > 0 {
		fmt.Fprintf(&b, "; L1d %s L2 %s L3 %s", byteSize(cacheL1D), byteSize(cacheL2), byteSize(cacheL3))
	}
	if !asmAMD64 && !asmARM64 {
		b.WriteString("; pure Go build")
	}
	p := activePolicy.Load()
	from := "table " + p.table
	if p.forced != "" {
		from = p.forced
	}
	fmt.Fprintf(&b, "; plan (%s): %s", from, formatPlan(p))
	if p.note != "" {
		fmt.Fprintf(&b, " (%s)", p.note)
	}
	return b.String()
}

// CopyPlan describes, in one line, the CPU features this package detected
// and the slot-copy routine it uses for each message size and direction: for
// logs and benchmark reports. The part after "plan (...): " is in the form
// SHQUEUE_COPY_PLAN takes.
func CopyPlan() string { return cpuSummary() }

// CopyVariantNames lists the slot-copy variants this host and build can run,
// by the names SHQUEUE_CPU and SHQUEUE_COPY_PLAN take: what `shqueue bench
// -copies` measures.
func CopyVariantNames() []string {
	var names []string
	for _, k := range supportedKinds() {
		names = append(names, k.String())
	}
	return names
}
