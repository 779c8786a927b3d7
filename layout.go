package shqueue

// The segment layout, described once. Every offset into shared memory that the
// package uses is named here; nothing else in the code computes one.
//
//	offset  size  contents
//	     0    64  immutable header: magic, version, geometry (written once by Create)
//	    64    64  identity: the creator's record and the queue's name (written
//	              once by Create, before the magic)
//	   128   128  producer block: tail (own 128-byte block: the adjacent-line
//	              prefetcher fetches lines in 128-byte pairs, so a 64-byte
//	              separation would still make producers and consumers share)
//	   256   128  consumer block: head
//	   384   128  counters written only on rare paths (shift, crash recovery),
//	              then the role leases (written at Open, Close and takeover)
//	   512   128  wait words: futex words and sleeper counts
//	  1024 24576  attached-process table: procEntries entries of 192 bytes
//	 25600     …  slots, slotStride bytes each
//
// A process-table entry is one line of fields (pid, start time, sleeper
// counts, the two exclusive roles' claim records) and procLanes claim records: every claim a handle makes is recorded
// in one of its lanes before it is made, so crash recovery can always name
// the claimant (protocol.go, recover.go).
//
// A slot is a 64-bit sequence word, 8 reserved bytes and the message, which
// so starts 16-byte aligned: with the message right behind the word (offset
// 8) a 64-byte stream across two pinned processes measured 7.7-8.2 M msgs/s
// against 8.3-8.5 at offset 16 (3 alternating rounds each). Messages of up
// to 112 bytes follow directly, so one of up to 48 bytes shares its sequence
// word's cache line and one of up to 112 bytes spans two lines (a 128-byte
// pair the adjacent-line prefetcher fetches together): for 64-byte messages
// this packed layout measured 287-300 ns one-way p50 against 306-328 ns with
// the message on its own line (pinned busy-spin ping-pong across processes,
// 5 alternating rounds). Larger messages start on the next 64-byte boundary,
// so the vector copy stores whole aligned lines and the sequence line is the
// only extra one.

const (
	layoutMagic uint64 = 0x31455545_55514853 // "SHQUEUE1" little-endian
	// Version 2: claim lanes in the process table, no owner word in the slot.
	layoutVersion uint32 = 2
	// Version 3 is version 2 with exclusive roles (offFlags not zero): a
	// reader that knows only version 2 would claim with a CAS where the
	// role's holder stores, so it must refuse such a queue. A queue created
	// without the role options stays version 2.
	layoutVersionRoles uint32 = 3

	cacheLine = 64

	// Immutable header.
	offMagic      = 0  // uint64, stored last by Create: its presence means the header is complete
	offVersion    = 8  // uint32
	offFlags      = 12 // uint32, the queue's options (flag bits below); zero in version 2
	offMsgSize    = 16 // uint64, message bytes
	offCapacity   = 24 // uint64, slots
	offSlotStride = 32 // uint64, bytes from one slot to the next
	offDataOffset = 40 // uint64, message offset inside a slot
	offSlotsStart = 48 // uint64, offset of slot 0 in the segment
	offCreatedNs  = 56 // int64, Unix nanoseconds of Create

	// Identity (lifecycle.go), written by Create before the magic. The
	// creator's record is its first store after attaching, so a segment
	// whose creator died before finishing (no magic) is known for a
	// shqueue being created, and by whom.
	offCreator  = 64 // uint64, creatorTag | the creating process's start time (0 if unknown)
	offNameHash = 72 // uint64, nameHash of the queue's name (see names.go); 0 with no name
	offNameLen  = 80 // uint64, the name's length in bytes; 0: created without a name
	offName     = 88 // the name's first nameStored bytes, zero-padded
	nameStored  = 40 // bytes 88..127, up to tail's block

	// creatorTag marks offCreator as written by a shqueue Create: a zeroed
	// segment (ipcmk, another program) never carries it.
	creatorTag uint64 = 1 << 63

	offTail = 128 // uint64, the next position producers claim
	offHead = 256 // uint64, the next position consumers claim

	offOverwritten = 384 // uint64, messages dropped by EnqueueShift
	offLostEnq     = 392 // uint64, slots a dead producer claimed and never published
	offSkipped     = 400 // uint64, of those, slots consumers have passed over
	offLostDeq     = 408 // uint64, messages a dead consumer claimed and never released
	offStalled     = 416 // uint64, Try calls that gave up waiting for a live process's unfinished operation
	offAborted     = 424 // uint64, zero-copy claims given up with Abort (zerocopy.go)
	// The role leases (roles.go): who holds the exclusive producer and
	// consumer roles, written at Open, Close and takeover only.
	offProducerLease = 432 // uint64, pid<<32 | table entry+1 of the holder, 0 when free
	offConsumerLease = 440 // uint64, the same for the consumer role

	offNotEmptyWord  = 512 // uint32 futex word: bumped when a message is published
	offEmptySleepers = 516 // uint32: consumers asleep (or about to sleep) on notEmpty
	offNotFullWord   = 520 // uint32 futex word: bumped when a slot is released
	offFullSleepers  = 524 // uint32: producers asleep (or about to sleep) on notFull

	offProcTable  = 1024
	procEntrySize = 192
	procEntries   = 128

	// Fields of a process-table entry, relative to the entry.
	offProcPID      = 0  // uint32, 0 = free
	offProcStart    = 8  // uint64, the process's start time (clock ticks since boot on Linux), 0 if unknown
	offProcAttached = 16 // int64, Unix nanoseconds of attach
	offProcEmptySlp = 24 // uint32, this handle's consumers asleep on notEmpty
	offProcFullSlp  = 28 // uint32, this handle's producers asleep on notFull
	// procRecords claim records (protocol.go): the exclusive producer role's,
	// the exclusive consumer role's (roles.go), then the procLanes lanes on
	// their own lines. Version 2 entries leave the two role records zero.
	offProcRecords = 48
	offProcLanes   = 64

	// procLanes is how many operations one handle can have in flight at once
	// (goroutines sharing the handle); a call that finds every lane busy
	// yields until one is free. Sixteen covers a goroutine per core on the
	// machines this runs on, and a lane is held only for one claim and copy.
	procLanes = 16
	// procRecords counts every claim record of an entry: the two role
	// records and the lanes, consecutive words from offProcRecords.
	procRecords = 2 + procLanes

	headerSize = offProcTable + procEntries*procEntrySize // 25600, a multiple of 128

	// Slot fields.
	offSlotSeq = 0
	slotHeader = 16 // the sequence word and 8 reserved bytes

	// Limits that keep every size computation far from overflow.
	maxMsgWords = 1 << 24 // 128 MiB messages
	maxCapacity = 1 << 32
)

// Bits of the header's flags word (offFlags), set by Create's options.
const (
	flagSingleProducer uint32 = 1 << 0 // WithSingleProducer: one producer handle at a time, by lease
	flagSingleConsumer uint32 = 1 << 1 // WithSingleConsumer: one consumer handle at a time
	flagsKnown                = flagSingleProducer | flagSingleConsumer
)

// geometry is the shape of a queue. Create computes it; Open reads it from the
// header, checks it against the formula and the segment's real size, and keeps
// its own copy, so later writes to the header cannot move this process's
// accesses outside the segment.
type geometry struct {
	msgSize    uint64
	capacity   uint64
	slotStride uint64
	dataOffset uint64
	slotsStart uint64
	total      uint64 // bytes used, slotsStart + capacity*slotStride
	flags      uint32 // the header's option flags (offFlags)
}

func roundUp(n, to uint64) uint64 { return (n + to - 1) / to * to }

// newGeometry computes the layout for words 64-bit words per message and
// capacity slots. The caller has checked both are in range.
func newGeometry(words, capacity uint64) geometry {
	g := geometry{msgSize: words * 8, capacity: capacity, slotsStart: headerSize}
	if g.msgSize <= 2*cacheLine-slotHeader {
		g.dataOffset = slotHeader
	} else {
		g.dataOffset = cacheLine
	}
	g.slotStride = roundUp(g.dataOffset+g.msgSize, cacheLine)
	g.total = g.slotsStart + g.capacity*g.slotStride
	return g
}
