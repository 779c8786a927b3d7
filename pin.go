package shqueue

import _ "unsafe" // go:linkname

// Pinning to the scheduler's P, for the lane a shared handle's call takes
// without a locked instruction (protocol.go: enterPinned). The runtime keeps
// these two for the packages that use them (go.dev/issue/67401): procPin
// stops the calling goroutine from being preempted or moved and returns the
// index of its P, procUnpin undoes it. Between the two no other goroutine
// runs on that P, and the goroutine stays on its thread.

//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()
