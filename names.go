//go:build linux || darwin

package shqueue

import (
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// Names: how processes meet without passing a key around. A name hashes to a
// key (KeyFromName) and, given to Create or Open with WithName, is recorded in
// and checked against the segment's header (layout.go: offNameHash, offNameLen,
// offName), so two names that hash to one key are told apart. KeyFromPath is
// ftok(3), for queues shared with C programs that use System V IPC.

// maxNameLen bounds a name: long enough for any path-like service name, short
// enough to print in one line of shqueue ls.
const maxNameLen = 255

// FNV-1a, 64-bit (the parameters of hash/fnv), spelled out here because the
// keys it yields are a file format: they must never change.
const (
	fnvOffset64 uint64 = 14695981039346656037
	fnvPrime64  uint64 = 1099511628211
)

// nameHash is the 64-bit FNV-1a hash of name: the identity the header records.
func nameHash(name string) uint64 {
	h := fnvOffset64
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= fnvPrime64
	}
	return h
}

// checkName refuses a name that KeyFromName and WithName do not take.
func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("queue name: %w: empty", ErrInvalidArg)
	case len(name) > maxNameLen:
		return fmt.Errorf("queue name: %w: %d bytes, at most %d", ErrInvalidArg, len(name), maxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("queue name %q: %w: not UTF-8", name, ErrInvalidArg)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("queue name %q: %w: control character %U", name, ErrInvalidArg, r)
		}
	}
	return nil
}

// KeyFromName returns the SysV key for a queue name: the same in every
// process, on every host and in every version of this package. A name is 1 to
// 255 bytes of UTF-8 without control characters; any other gets an error
// wrapping ErrInvalidArg.
//
// The key is the 64-bit FNV-1a hash of the name's bytes folded to 31 bits,
// (h ^ h>>32) & 0x7fffffff, or 1 where that is 0: a positive key, never
// IPC_PRIVATE. For example KeyFromName("orders") is 0x50acd6de.
//
// Different names can share a key (with a few thousand names on one host the
// chance of some collision is about one in a thousand). Give the name to Create
// and Open as well, with WithName: the queue records it, and an Open under a
// colliding name fails with ErrNameMismatch instead of attaching another
// program's queue.
func KeyFromName(name string) (int, error) {
	if err := checkName(name); err != nil {
		return 0, err
	}
	h := nameHash(name)
	key := uint32(h^h>>32) & 0x7fffffff
	if key == 0 {
		key = 1
	}
	return int(key), nil
}

// KeyFromPath returns the SysV key ftok(3) gives for an existing file and a
// non-zero id, so that a Go program and a C program calling
// ftok(path, id) meet at one queue: the low 16 bits of the file's inode
// number, the low 8 bits of its device number and the id in the top 8 bits,
// as glibc, musl and the BSDs compute it (an id of 0x80 or more gives a
// negative key, as in C). The key is as stable as the file: recreating the
// file gives a new inode and so, usually, a new key; and like ftok, two paths
// can give one key.
func KeyFromPath(path string, id byte) (int, error) {
	if id == 0 {
		return 0, fmt.Errorf("key from path %s: %w: id must be non-zero", path, ErrInvalidArg)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("key from path: %w", &os.PathError{Op: "stat", Path: path, Err: err})
	}
	key := uint32(id)<<24 | uint32(uint64(st.Dev)&0xff)<<16 | uint32(uint64(st.Ino)&0xffff)
	return int(int32(key)), nil
}

// WithName gives the queue a name. Create (and OpenOrCreate when it creates)
// records it in the segment; Open, OpenOrCreate and OpenWait check it and fail
// with an error wrapping ErrNameMismatch if the queue at the key carries
// another name, or none. The key is still the one passed: use KeyFromName(name)
// to meet by name alone. An invalid name (see KeyFromName) makes the call fail
// with ErrInvalidArg before anything changes.
func WithName(name string) Option {
	return func(o *options) { o.name, o.named = name, true }
}

// nameRecord is a queue's name as the header stores it.
type nameRecord struct {
	hash   uint64
	length uint64
	prefix string // up to nameStored bytes
}

func (r nameRecord) isSet() bool { return r.length != 0 }

func (r nameRecord) String() string {
	if !r.isSet() {
		return "no name"
	}
	if r.length > uint64(len(r.prefix)) {
		return fmt.Sprintf("%q… (%d bytes)", r.prefix, r.length)
	}
	return fmt.Sprintf("%q", r.prefix)
}

func recordOf(name string) nameRecord {
	if name == "" {
		return nameRecord{}
	}
	return nameRecord{hash: nameHash(name), length: uint64(len(name)), prefix: name[:min(len(name), nameStored)]}
}

func (r nameRecord) matches(o nameRecord) bool { return r.hash == o.hash && r.length == o.length }

// display is the name as Info.Name shows it: a name cut at nameStored bytes
// loses the part of a character the cut split, and ends in "…".
func (r nameRecord) display() string {
	if r.length > uint64(len(r.prefix)) {
		return strings.ToValidUTF8(r.prefix, "") + "…"
	}
	return r.prefix
}
