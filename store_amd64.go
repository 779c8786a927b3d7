//go:build !purego && !noasm

package shqueue

// storeRelease64 stores v at *p with release semantics: every load and store
// before it in program order is visible before it. It is the portable
// atomic.StoreUint64 (store_other.go) without the full barrier that Go's
// amd64 store carries. The hot path uses it for the intent and owner words,
// the publish and the release; where a later load must not pass it (the
// sleeper check), sleepers issue the heavy side of an asymmetric fence
// (fence_linux.go). Worth it: the XCHG stores were most of the producer's
// samples in a 64-byte ping-pong profile.
//
//go:noescape
func storeRelease64(p *uint64, v uint64)
