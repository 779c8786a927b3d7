//go:build !amd64 || purego || noasm || race

package shqueue

import "sync/atomic"

// storeRelease64 stores v at *p with (at least) release semantics. On arm64
// atomic.StoreUint64 is STLR, a release store; elsewhere it is whatever
// sequentially consistent store the platform has.
func storeRelease64(p *uint64, v uint64) { atomic.StoreUint64(p, v) }
