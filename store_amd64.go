//go:build amd64 && !purego && !noasm && !race

package shqueue

// storeRelease64 stores v at *p with release semantics: every load and store
// before it in program order is visible before it. It is the portable
// atomic.StoreUint64 (store_other.go) without the full barrier (XCHG) that
// Go's amd64 store carries. The hot path uses it for claim records, the
// publish and the release, and the lane words; where a later load must not
// pass it (the sleeper check), sleepers issue the heavy side of an
// asymmetric fence (fence_linux.go).
//
// It is a plain store, which the compiler inlines. On amd64 the hardware
// keeps every store after the loads and stores before it (TSO), so an
// aligned MOVQ is a release store; the compiler emits one for an aligned
// uint64, never reorders stores among themselves, schedules every load
// before the store that follows it on the memory chain (ssa/schedule.go) and
// does not move loads across blocks (ssa/tighten.go). It was an assembly
// routine until the call through its ABI wrapper, in front of the tail CAS,
// showed up as the difference between 9.7 and 11.6 M msgs/s in a pinned
// 64-byte stream between two processes (4 alternating rounds, AMD EPYC Zen 5
// VM). The race detector would see a plain store racing atomic loads, so
// -race builds take store_other.go.
func storeRelease64(p *uint64, v uint64) { *p = v }
