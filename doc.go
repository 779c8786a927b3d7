// Package shqueue is a bounded queue of fixed-size messages in a System V
// shared-memory segment, for processes on one host that hand each other
// messages in well under a microsecond.
//
// Any number of producer and consumer processes (and goroutines) may use one
// queue at once; a queue created WithSingleProducer (WithSingleConsumer) has
// one producer (consumer) handle at a time, which claims without a locked
// instruction. The protocol is lock-free: per-slot sequence numbers (Dmitry
// Vyukov's bounded MPMC queue) over 64-bit head and tail positions in the
// segment, so no process can die holding a lock. A process killed in the middle
// of an operation costs at most the message it had in flight: a waiter stuck
// behind its claim finds it gone and recovers the slot.
//
// A handle's methods are safe for concurrent use by many goroutines, Close
// included, and goroutines sharing one handle are as safe as separate
// handles: every claim is recorded on its own, so a crash or a stall of any
// of them is recovered exactly. Calls blocked or spinning in a closed handle
// return ErrClosed (or false), and Close waits for calls in the middle of a
// copy to finish before it unmaps the segment. A handle used by one goroutine
// at a time can drop the locked CAS each call pays for that
// (WithSingleGoroutine), which speeds a one-way stream; on amd64 its
// dequeues, and enqueues that answer one, keep a locked add, which on the
// machine it was measured on brings its ping-pong within 10% of default
// handles' (from ~20% behind).
//
// # Semantics
//
// The queue is linearizable: every call takes effect at one instant between
// its start and its return, in one order that a sequential bounded FIFO queue
// explains. EnqueueTry answers false only if the queue held Cap messages at
// some instant of the call, DequeueTry only if it held none; when the slot
// they need is in the middle of another process's copy they wait for it
// instead of answering. EnqueueShift drops at most one message per call, the
// oldest, and only when the queue is full at that instant. A live process
// that is stopped (SIGSTOP, a debugger) or descheduled in the middle of an
// operation makes a Try call wait up to its TryWait (WithTryWait, default
// 2 ms) and then answer false, counted in Stats().Stalled; it makes
// EnqueueShift, blocking calls and the calls behind it wait until it runs
// again. DequeueLatest takes the newest message and passes over the older ones
// for readers that want only the latest value.
//
// # Waiting
//
// A blocking call under the Adaptive strategy (the default) spins for about
// 20 µs, yields the processor for 200 µs, then sleeps on a futex word in the
// segment that the other side wakes only when a sleeper is registered; an
// idle waiter wakes every 10 ms to look for a dead process's claim. BusySpin
// never leaves the CPU.
//
// # Crashes
//
// A process can be killed at any instruction. Before it claims a position, a
// call records the claim in its handle's entry of the attached-process table
// in the segment. A waiter held up by a claim that does not finish asks,
// every 2 ms, whether the process on record still runs (its pid, start time
// and zombie state) and only if it does not, settles the slot: a dead
// producer's slot is passed over, a dead consumer's released, each counted in
// Stats().Lost. A live process's claim is never taken over, however long it
// stalls. A kill costs at most the messages that process had in flight;
// nothing is duplicated, torn or reordered, and the survivors go on.
//
// # Meeting by name
//
// Processes find a queue by its SysV key. KeyFromName turns a name into a key
// that is the same in every process and every version of this package, so a
// producer and a consumer that agree on a name need nothing else:
//
//	key, err := shqueue.KeyFromName("orders")
//	q, err := shqueue.OpenOrCreate(key, 8, 1024, shqueue.WithName("orders"))
//
// OpenOrCreate attaches the queue if it exists with that shape (64-byte
// messages, 1024 of them), creates it otherwise, and is safe when several
// processes start at once. A process that must not create the queue (a
// consumer that only reads what a producer set up) waits for it with OpenWait.
// Two names can hash to one key; WithName records the name in the queue and
// checks it on every Open, so a collision fails with ErrNameMismatch instead
// of attaching another program's queue. KeyFromPath gives the key ftok(3)
// gives, for queues shared with C programs.
//
// # Lifecycle
//
// A queue lives in the kernel, not in a process: it stays, with its messages,
// after every process has closed it or died, until someone removes it. Close
// detaches one handle; Delete (on a handle, open or closed) and Remove (by key)
// mark the queue for removal: its key is free at once and the memory goes when
// the last process detaches.
//
// Nothing that holds messages is destroyed by default. Create over a leftover
// queue that holds messages fails with ErrAlreadyExist naming how many, unless
// WithReplace is given; an empty leftover of the same shape and name is
// reused as it is; a queue some process has attached is never replaced, and a
// segment that is not a shqueue is never touched. Inspect and List tell who
// uses a queue (Info.State): in use, idle (every handle closed) or orphaned
// (only dead processes in its table); RemoveStale removes orphaned queues that
// hold no message, and RemoveStaleWith with Force any queue nobody has
// attached. A segment whose creator was killed before it finished the header
// is half-created (KindHalfCreated, ErrHalfCreated): it is known by the
// creator's pid and start time, so a process that later reuses the pid does
// not keep it alive, and Create, OpenOrCreate and Remove clear it.
//
// # Errors
//
// Every error wraps a sentinel (ErrNotExist, ErrAlreadyExist, ErrShape,
// ErrNameMismatch, ...) with the operation and the key, printed as ipcs(1)
// prints keys: 0x%08x, a negative key in two's complement. Test them with
// errors.Is. A programming error (a message of the wrong length, a call on a
// closed handle) is refused before anything in shared memory changes.
//
// # Limits
//
//   - Messages all have the queue's size, a multiple of 8 bytes from 8 bytes
//     to 128 MiB (given in 64-bit words, at most 16 Mi words: this package's
//     limit); the capacity is fixed when the queue is created, at most 2^32.
//   - The segment's size is also bounded by the system's limits
//     (kernel.shmmax, kernel.shmall); ErrInvalidSize says which limit refused.
//   - At most 128 handles are attached to one queue at a time (entries of
//     dead processes are reclaimed).
//   - Crash recovery and half-created detection identify processes by pid and
//     start time: every process of a queue must be in one pid namespace.
//   - Names are 1 to 255 bytes of UTF-8 without control characters; the
//     header keeps their 64-bit hash and length, and their first 40 bytes for
//     display.
//   - Linux is where the tests run (futex sleeping, /proc for liveness and
//     List). macOS builds, with a short sleep back-off instead of futexes and
//     liveness from kill(pid, 0) alone.
package shqueue
