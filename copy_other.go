//go:build !(amd64 || arm64) || purego || noasm

package shqueue

// The build without assembly: -tags purego or noasm, or an architecture
// without it. Its build line is the exact complement of copy_amd64.go's and
// copy_arm64.go's. Every variant but copyGenericKind is the built-in copy,
// and pickCopy only ever returns copyBuiltin.
const (
	asmAMD64 = false
	asmARM64 = false
)

// copySlot copies src into dst. len(dst) must be at least len(src); it copies
// len(src) bytes.
func copySlot(kind copyKind, dst, src []byte) {
	checkCopyLen(dst, src)
	if kind == copyGenericKind {
		copyGeneric(dst, src)
		return
	}
	copy(dst, src)
}
