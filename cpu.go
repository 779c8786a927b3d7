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
	copyBuiltin  copyKind = iota // Go's built-in copy (runtime memmove)
	copyGo                       // copyGeneric, the pure-Go word loop (tests, SHQUEUE_CPU=generic)
	copyAVX2                     // 32-byte AVX2 loads and stores (amd64)
	copyAVX2NT                   // AVX2 with non-temporal stores, then SFENCE (amd64)
	copyAVX512                   // 64-byte AVX-512 loads and stores (amd64)
	copyAVX512NT                 // AVX-512 with non-temporal stores, then SFENCE (amd64)
	copyNEON                     // LDP/STP of 128-bit Q registers (arm64)
	numCopyKinds
)

var copyKindNames = [numCopyKinds]string{
	copyBuiltin:  "builtin",
	copyGo:       "generic",
	copyAVX2:     "avx2",
	copyAVX2NT:   "avx2-nt",
	copyAVX512:   "avx512",
	copyAVX512NT: "avx512-nt",
	copyNEON:     "neon",
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
// features, or from SHQUEUE_CPU / forceCPU, and replaced atomically.
type copyPolicy struct {
	out    []sizeBand // segment -> user buffer (dequeue), ascending by from
	in     []sizeBand // user buffer -> segment (enqueue), ascending by from
	forced string     // the forcing name, "" for automatic choice
	note   string     // why a forced name was not honoured, for cpuSummary
}

var activePolicy atomic.Pointer[copyPolicy]

// cpuEnv names the environment variable read once at start-up that forces a
// copy variant: auto, builtin, generic, avx2, avx2-nt, avx512, avx512-nt,
// neon, or nt (the widest non-temporal variant the host has).
const cpuEnv = "SHQUEUE_CPU"

func init() {
	detectCPU()
	p := autoPolicy()
	if name := os.Getenv(cpuEnv); name != "" {
		p = forcedPolicy(name)
	}
	activePolicy.Store(p)
}

// The thresholds below come from BenchmarkCopy (single thread) and
// BenchmarkRing (two threads on different CPUs passing buffers through a
// ring) on an Intel Emerald Rapids Xeon (Sapphire Rapids class, KVM guest),
// medians of 10 runs; docs/asm.md has the tables. Sizes are slot sizes in
// bytes.
const (
	// avx512MinSize: from here the AVX-512 copy beats the built-in copy.
	avx512MinSize = 256
	// avx2MinSize: from here the AVX2 copy beats the built-in copy, on CPUs
	// where AVX-512 is missing or downclocks.
	avx2MinSize = 256
	// ntMinSize: from here non-temporal stores into the segment win in the
	// cross-core ring. maxInt disables them.
	ntMinSize = maxInt
	maxInt    = int(^uint(0) >> 1)
)

// autoPolicy chooses from the detected features and the measured thresholds.
func autoPolicy() *copyPolicy {
	var vec, nt copyKind
	var vecMin int
	switch {
	case kindSupported(copyAVX512) && avx512NoDownclock:
		vec, nt, vecMin = copyAVX512, copyAVX512NT, avx512MinSize
	case kindSupported(copyAVX2):
		vec, nt, vecMin = copyAVX2, copyAVX2NT, avx2MinSize
	default:
		// No assembly (purego/noasm builds, other architectures) or none
		// worth it: the built-in copy everywhere. On arm64 the NEON variant
		// is there to be forced and measured; Go's memmove already moves 64
		// bytes per iteration with LDP/STP and wins or ties in BenchmarkCopy
		// under emulation, where timing means nothing, so it is not chosen
		// until measured on real arm64 hardware.
		return &copyPolicy{}
	}
	p := &copyPolicy{
		out: []sizeBand{{vecMin, vec}},
		in:  []sizeBand{{vecMin, vec}},
	}
	if ntMinSize < maxInt {
		p.in = append(p.in, sizeBand{max(ntMinSize, vecMin), nt})
	}
	return p
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
	kind, ok := kindByName(name)
	if name == "nt" {
		ok = true
		switch {
		case kindSupported(copyAVX512NT):
			kind = copyAVX512NT
		case kindSupported(copyAVX2NT):
			kind = copyAVX2NT
		default:
			return &copyPolicy{forced: name, note: "no non-temporal variant on this host; using builtin"}
		}
	}
	if !ok {
		return &copyPolicy{forced: name, note: fmt.Sprintf("unknown variant %q; using builtin", name)}
	}
	if !kindSupported(kind) {
		return &copyPolicy{forced: name, note: fmt.Sprintf("%s not supported on this host or build; using builtin", kind)}
	}
	return &copyPolicy{
		out:    []sizeBand{{0, kind.temporal()}},
		in:     []sizeBand{{0, kind}},
		forced: name,
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
	case copyBuiltin, copyGo:
		return true
	case copyAVX2, copyAVX2NT:
		return asmAMD64 && hasAVX2
	case copyAVX512, copyAVX512NT:
		return asmAMD64 && hasAVX512
	case copyNEON:
		return asmARM64 && hasASIMD
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
	fmt.Fprintf(&b, "; dequeue: %s; enqueue: %s", describeBands(p.out), describeBands(p.in))
	if p.forced != "" {
		fmt.Fprintf(&b, "; %s=%s", cpuEnv, p.forced)
		if p.note != "" {
			fmt.Fprintf(&b, " (%s)", p.note)
		}
	}
	return b.String()
}

func describeBands(bands []sizeBand) string {
	if len(bands) == 0 || (len(bands) == 1 && bands[0].from == 0) {
		k := copyBuiltin
		if len(bands) == 1 {
			k = bands[0].kind
		}
		return k.String()
	}
	parts := []string{fmt.Sprintf("builtin <%s", byteSize(bands[0].from))}
	for _, b := range bands {
		parts = append(parts, fmt.Sprintf("%s >=%s", b.kind, byteSize(b.from)))
	}
	return strings.Join(parts, ", ")
}

func byteSize(n int) string {
	switch {
	case n < 0:
		return "?"
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
