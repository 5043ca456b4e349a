/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * sigwake: lossless delivery of asynchronous events to the guest threads of
 * user-space runtimes (library OSes, sandboxes, emulators, simulators, VMMs).
 *
 * Opening SIGWAKE_DEVICE creates a *domain*: one runtime instance, owned by
 * the thread group and the mm that opened it.  Every ioctl from another thread
 * group, or from the opener after execve(2), fails with EPERM; a domain fd
 * inherited over fork(2) or received over SCM_RIGHTS gives its holder nothing.
 * Nor does the domain act on a program its process exec'd: no kick signal,
 * forwarded signal or preemption reaches it.
 *
 * Threads register themselves in a domain and share a 64-byte *thread block*
 * (struct sigwake_thread_block) with the kernel.  Wait queues map the guest's
 * futexes, condition variables, pipes and sleeps.  "Check what is pending,
 * then sleep" (SIGWAKE_IOC_WAIT) and "record an event, then wake or kick"
 * (SIGWAKE_IOC_POST, _WAKE, _KICK) are serialized by one kernel lock per
 * thread, so no event is lost whatever the interleaving.
 */

/**
 * DOC: ioctl conventions
 *
 * Every command takes a pointer to an argument struct whose first __u32 is its
 * size, as the caller knows it.  The kernel copies it with extensible-struct
 * semantics (see copy_struct_from_user()): a caller compiled against an older,
 * shorter struct keeps working; a caller with a longer struct works as long as
 * the bytes the kernel does not know are zero.  By the caller's size:
 *
 *  - smaller than the struct's first published version
 *    (SIGWAKE_*_ARGS_SIZE_VER0): EINVAL;
 *  - from VER0 up to the kernel's own size: accepted, the missing tail reads
 *    as zero;
 *  - larger than the kernel's size: accepted if every byte past it is zero,
 *    else E2BIG;
 *  - larger than a page: E2BIG.
 *
 * Commands are encoded with _IOWR() (so that strace and similar tools decode
 * them), and the kernel checks the whole command: its direction, and size
 * bits at least those of the struct's first version (a header's struct of
 * any later version, shorter or longer than the kernel's, is accepted: the
 * size field, not the size bits, versions the struct).  Other bits, another
 * number or another ioctl type make an unknown command (ENOTTY).  Unknown
 * flag bits and non-zero pad fields give EINVAL.
 *
 * On success every ioctl returns 0 and puts its results in the struct.
 * Output fields are written back only on success and only within the
 * caller's size.  On failure ioctl(2) returns -1 and sets errno.
 *
 * The structs have the same layout on every ABI: fixed-size fields, naturally
 * aligned, with explicit padding.  A 32-bit process's pointer is passed
 * through unchanged (compat_ptr_ioctl()).
 *
 * Handles (threads and wait queues) are small integers starting at 1; 0 is
 * never a valid handle.  The kernel allocates the lowest free number, so a
 * handle is reused once its registration or queue is gone.  0xffffffff
 * (SIGWAKE_NO_WQ, SIGWAKE_TARGET_ANY) and 0xfffffffe (SIGWAKE_TARGET_ALL)
 * are never handles.
 */

/**
 * DOC: errors
 *
 * Every ioctl reports errors as -1 with errno:
 *
 *  ==========  ===========================================================
 *  EPERM       the caller is not the domain's owning process, or it has
 *              exec'd since opening; open(2) from a kernel thread
 *  ENOTTY      unknown command
 *  EINVAL      struct shorter than its first published version
 *              (SIGWAKE_*_ARGS_SIZE_VER0), unknown flag bit, non-zero pad
 *              field, or a field out of range (alignment, signal number,
 *              timeout, budget)
 *  E2BIG       the struct is longer than the kernel's and the unknown tail
 *              is not zero, or its size is over a page
 *  EFAULT      an address is not a mapped, writable user address
 *  EEXIST      REGISTER: the calling thread is already registered in this
 *              domain
 *  ENOENT      no such thread or wait-queue handle; WAIT from a thread
 *              that is not registered in the domain; FORWARD with
 *              SIGWAKE_FORWARD_REMOVE and no route
 *  ESRCH       the target thread exited (or exec'd) without unregistering;
 *              its handle remains until it is unregistered
 *  ENOSPC      a limit (module parameter) is reached: threads or queues per
 *              domain, queues per user, domains per user (returned by
 *              open(2))
 *  ENOMEM      out of memory, or the pinned pages would exceed
 *              RLIMIT_MEMLOCK
 *  EAGAIN      WAIT: the queue's word differs from the expected value
 *  EINTR       WAIT, or KICK with SIGWAKE_KICK_WAIT: a host signal arrived
 *              and its handler lacks SA_RESTART; WAIT: the struct is
 *              read-only (the restart could not be kept)
 *  EIDRM       WAIT: the queue was destroyed, or the waiting thread was
 *              unregistered, while it slept
 *  EBADF       WAIT: the owning process closed a domain fd while the call
 *              waited (after it read its struct)
 *  ETIMEDOUT   KICK with SIGWAKE_KICK_WAIT: the target stayed in guest code
 *              until the deadline
 *  EOPNOTSUPP  PREEMPT: the kernel lacks preempt notifiers; FORWARD: the
 *              kernel lacks the signal_generate tracepoint
 *  ==========  ===========================================================
 */

#ifndef _UAPI_LINUX_SIGWAKE_H
#define _UAPI_LINUX_SIGWAKE_H

#include <linux/types.h>
#include <linux/ioctl.h>

/**
 * SIGWAKE_DEVICE - the misc device (mode 0666); each open(2) makes a
 *   domain
 */
#define SIGWAKE_DEVICE		"/dev/sigwake"

/**
 * SIGWAKE_NO_WQ - WAIT on no queue, only for the thread's own events
 */
#define SIGWAKE_NO_WQ		0xffffffffu
/**
 * SIGWAKE_TARGET_ANY - the target of a process-directed POST or FORWARD;
 *   the kernel picks the receiver
 */
#define SIGWAKE_TARGET_ANY	0xffffffffu
/**
 * SIGWAKE_TARGET_ALL - the PREEMPT target that is every thread of the
 *   domain, present and future
 */
#define SIGWAKE_TARGET_ALL	0xfffffffeu
/**
 * SIGWAKE_TIMEOUT_NONE - the timeout_ns of a WAIT or KICK that waits
 *   forever
 */
#define SIGWAKE_TIMEOUT_NONE	(-1)

/**
 * SIGWAKE_NSIG - guest signal numbers are 1..SIGWAKE_NSIG; signal s is
 *   bit (s - 1)
 */
#define SIGWAKE_NSIG		64

/**
 * struct sigwake_thread_block - the memory a thread shares with the kernel
 * @state: one of enum sigwake_thread_state.  The runtime stores
 *	RUNNING_IN_HOST, RUNNING_IN_GUEST and IN_SYSCALL with plain atomic
 *	stores; the kernel alone writes WAITING and WOKEN, inside
 *	SIGWAKE_IOC_WAIT, and stores RUNNING_IN_HOST when WAIT returns.
 * @flags: SIGWAKE_TF_* bits.  The kernel sets them with atomic OR; the
 *	runtime clears them (atomic AND or exchange).  The kernel never clears
 *	a flag.  When several kicks land before the runtime takes the flags,
 *	each source stays visible: SIGWAKE_TF_PREEMPTED for the budget,
 *	SIGWAKE_TF_KICK_REQUESTED for an explicit KICK, a @pending bit for a
 *	POST that kicked.  A KICK that ends a sleep in SIGWAKE_IOC_WAIT sets
 *	no flag: the WAIT returns SIGWAKE_REASON_KICK instead.
 * @pending: guest signals posted to this thread, bit (signo - 1).  The
 *	kernel sets bits with atomic OR; the runtime takes them with an atomic
 *	exchange or AND.
 * @blocked: the guest signal mask, bit (signo - 1), written by the runtime
 *	only.  A blocked signal stays in @pending and neither wakes nor kicks.
 * @wake_seq: incremented by the kernel every time it wakes the thread out of
 *	WAIT, before the thread can run.
 * @entry_seq: optional, written by the runtime only: incremented on every
 *	entry into guest code (sigwake_enter_guest() does).  SIGWAKE_IOC_PREEMPT
 *	uses it to tell one long guest stint from many short ones; a runtime
 *	that leaves it alone gets the sampling tolerance described there.
 * @__reserved: zero; room for the kernel to grow into.
 *
 * The block is 64 bytes and must be 64-byte aligned (so it never straddles a
 * page).  The kernel pins the page that holds it for as long as the thread is
 * registered and treats every field as untrusted input: garbage in the block
 * can only hurt the process that wrote it.
 *
 * Entering guest code is a Dekker handshake.  The runtime stores
 * RUNNING_IN_GUEST, issues a full barrier, then re-reads @pending & ~@blocked
 * (and @flags for SIGWAKE_TF_KICKED); if anything is set it must not enter.
 * The kernel's POST sets the @pending bit (a full barrier) and then reads
 * @state.  One of the two always sees the other: either the runtime sees the
 * signal, or the kernel sees RUNNING_IN_GUEST and kicks.
 * libsigwake's sigwake_enter_guest() is the runtime's half.
 */
struct sigwake_thread_block {
	__u32 state;
	__u32 flags;
	__u64 pending;
	__u64 blocked;
	__u64 wake_seq;
	__u64 entry_seq;
	__u64 __reserved[3];
};

#define SIGWAKE_THREAD_BLOCK_SIZE	64
#define SIGWAKE_THREAD_BLOCK_ALIGN	64

/**
 * enum sigwake_thread_state - the values of struct sigwake_thread_block.state
 * @SIGWAKE_RUNNING_IN_HOST: host (runtime) code; written by the runtime, and
 *	by the kernel when WAIT returns.  A POST is only recorded; a KICK sets
 *	SIGWAKE_TF_KICKED.
 * @SIGWAKE_RUNNING_IN_GUEST: guest code; written by the runtime.  A POST or
 *	KICK kicks the thread.
 * @SIGWAKE_IN_SYSCALL: an interruptible host syscall made for the guest;
 *	written by the runtime.  It is kicked like guest code.
 * @SIGWAKE_WAITING: asleep in SIGWAKE_IOC_WAIT; written by the kernel.
 * @SIGWAKE_WOKEN: woken, and not yet back from SIGWAKE_IOC_WAIT; written by
 *	the kernel.
 *
 * The kernel treats a value it does not know like RUNNING_IN_HOST.  Whether
 * a thread is really asleep is the kernel's own knowledge, kept in the
 * kernel and never read back from the block.
 */
enum sigwake_thread_state {
	SIGWAKE_RUNNING_IN_HOST = 0,
	SIGWAKE_RUNNING_IN_GUEST = 1,
	SIGWAKE_IN_SYSCALL = 2,
	SIGWAKE_WAITING = 3,
	SIGWAKE_WOKEN = 4
};

/**
 * SIGWAKE_TF_KICKED - in struct sigwake_thread_block.flags: set by every
 *   kick
 *
 * A POST or KICK that found the thread in guest code or in a syscall, a
 * KICK that found it in host code, a PREEMPT budget running out.  While the
 * flag is set, WAIT returns SIGWAKE_REASON_KICK at once.
 */
#define SIGWAKE_TF_KICKED		(1u << 0)
/**
 * SIGWAKE_TF_PREEMPTED - in struct sigwake_thread_block.flags: the thread
 *   used up its SIGWAKE_IOC_PREEMPT budget of guest CPU time
 *
 * Set with SIGWAKE_TF_KICKED.
 */
#define SIGWAKE_TF_PREEMPTED		(1u << 1)
/**
 * SIGWAKE_TF_KICK_REQUESTED - in struct sigwake_thread_block.flags: a
 *   SIGWAKE_IOC_KICK found the thread awake (in guest code, in a syscall or
 *   in host code)
 *
 * Set with SIGWAKE_TF_KICKED, in the same atomic OR.  A POST's kick leaves
 * its bit in @pending instead.
 */
#define SIGWAKE_TF_KICK_REQUESTED	(1u << 2)

/**
 * enum sigwake_wait_reason - why SIGWAKE_IOC_WAIT returned, in
 *   struct sigwake_wait_args.reason
 * @SIGWAKE_REASON_WAKE: SIGWAKE_IOC_WAKE on the queue woke the thread.
 * @SIGWAKE_REASON_SIGNAL: a guest signal that the thread does not block is
 *	pending.
 * @SIGWAKE_REASON_KICK: SIGWAKE_TF_KICKED was set, or a KICK came while the
 *	thread slept.
 * @SIGWAKE_REASON_TIMEOUT: the deadline passed (or a zero timeout found
 *	nothing).
 * @SIGWAKE_REASON_FD: one of the file descriptors of
 *	struct sigwake_wait_args.fds is ready.
 */
enum sigwake_wait_reason {
	SIGWAKE_REASON_WAKE = 1,
	SIGWAKE_REASON_SIGNAL = 2,
	SIGWAKE_REASON_KICK = 3,
	SIGWAKE_REASON_TIMEOUT = 4,
	SIGWAKE_REASON_FD = 5
};

/**
 * enum sigwake_post_outcome - what the kernel did, in
 *   struct sigwake_post_args.outcome and struct sigwake_kick_args.outcome
 * @SIGWAKE_POST_RECORDED: recorded only.  For POST, the bit is pending: the
 *	target runs host code, or it blocks the signal.  For KICK,
 *	SIGWAKE_TF_KICKED is set for the target's next WAIT.
 * @SIGWAKE_POST_WOKEN: the target was asleep in WAIT; it is woken (WOKEN,
 *	wake_seq bumped).
 * @SIGWAKE_POST_KICKED: the target was RUNNING_IN_GUEST or IN_SYSCALL.  The
 *	kernel set SIGWAKE_TF_KICKED, set the kick byte and sent the kick
 *	signal.
 * @SIGWAKE_POST_QUEUED: POST with SIGWAKE_TARGET_ANY only: every thread
 *	blocks the signal, so it is pending for the domain (or it coalesced
 *	with one queued or being handed out, see SIGWAKE_IOC_POST).  A
 *	thread entering WAIT at that moment may have collected it already.
 */
enum sigwake_post_outcome {
	SIGWAKE_POST_RECORDED = 1,
	SIGWAKE_POST_WOKEN = 2,
	SIGWAKE_POST_KICKED = 3,
	SIGWAKE_POST_QUEUED = 4
};

/**
 * struct sigwake_register_args - ioctl(SIGWAKE_IOC_REGISTER)
 * @size: the size of the struct as the caller knows it (see "ioctl
 *	conventions" above).
 * @flags: none defined, must be 0.
 * @block: user address of the thread's struct sigwake_thread_block: non-zero,
 *	64-byte aligned, in a private or shared writable mapping.  Its page is
 *	pinned (each distinct page once per domain, FOLL_LONGTERM) and charged to
 *	the caller's RLIMIT_MEMLOCK unless it has CAP_IPC_LOCK.  Nothing in the
 *	block is changed by registering.
 * @kick_addr: 0, or the user address of a byte the kernel sets to 1 before
 *	it sends the kick signal (KVM's kvm_run->immediate_exit).  Pinned too.
 * @kick_signo: the host signal that pulls the thread out of guest code or
 *	out of an interruptible host syscall, sent to this thread alone (as if
 *	by tgkill(2) from the posting process: si_code SI_TKILL).  A
 *	real-time signal whose siginfo cannot be queued (RLIMIT_SIGPENDING,
 *	no memory) is still sent, as SI_KERNEL without a queued siginfo: a
 *	kick is never lost.  0 never signals; SIGKILL and SIGSTOP are
 *	refused.
 * @handle: out: the thread's handle.
 *
 * Register the calling thread in the domain.  One registration per thread per
 * domain; a thread may be registered in several domains.
 *
 * Errors: EINVAL (flags, block zero or misaligned, kick_signo out of range,
 * SIGKILL or SIGSTOP), EFAULT (unmapped, read-only or kernel address),
 * EEXIST (the calling thread is already registered in this domain), ENOSPC
 * (max_threads_per_domain), ENOMEM (RLIMIT_MEMLOCK, or out of memory).
 *
 * A registration ends with SIGWAKE_IOC_UNREGISTER, when the thread exits
 * or execs (its pages are released at once; its handle answers ESRCH until
 * it is unregistered or the domain is closed) or when the domain is closed.
 */
struct sigwake_register_args {
	__u32 size;
	__u32 flags;
	__u64 block;
	__u64 kick_addr;
	__u32 kick_signo;
	__u32 handle;
};

#define SIGWAKE_REGISTER_ARGS_SIZE_VER0		32

/**
 * struct sigwake_unregister_args - ioctl(SIGWAKE_IOC_UNREGISTER)
 * @size: the size of the struct as the caller knows it (see "ioctl
 *	conventions" above).
 * @handle: the thread's handle.
 *
 * End the registration of any thread of the domain (not only the caller).
 * If that thread is sleeping in SIGWAKE_IOC_WAIT, the wait ends with EIDRM.
 * Unregistering a thread that exited succeeds and frees its handle.  Once
 * it returns, the kernel writes nothing more into the block or the kick
 * byte, and its pins of their pages are dropped.
 *
 * Errors: ENOENT (no such handle).
 */
struct sigwake_unregister_args {
	__u32 size;
	__u32 handle;
};

#define SIGWAKE_UNREGISTER_ARGS_SIZE_VER0	8

/**
 * struct sigwake_wait_args - ioctl(SIGWAKE_IOC_WAIT)
 * @size: the size of the struct as the caller knows it (see "ioctl
 *	conventions" above).
 * @flags: SIGWAKE_WAIT_ABSTIME: @timeout_ns is a CLOCK_MONOTONIC deadline,
 *	read in the caller's time namespace.  Otherwise it is relative.
 *	SIGWAKE_WAIT_WAKE_FIRST (version 2 of the struct): a hand-off, see
 *	below.  SIGWAKE_WAIT_FLAGS_ALL is the mask of the known flags.
 * @wq: a wait-queue handle, or SIGWAKE_NO_WQ to wait only for the thread's
 *	own events (signals, kicks, file descriptors).
 * @expected: if @wq is bound to a word, the value the word must still hold
 *	(compared under the queue's lock, as FUTEX_WAIT does); otherwise ignored.
 * @timeout_ns: SIGWAKE_TIMEOUT_NONE (-1) to wait forever, else >= 0.  A zero
 *	relative timeout polls: the checks below run and the call returns
 *	SIGWAKE_REASON_TIMEOUT if none fires.
 * @reason: out: enum sigwake_wait_reason.
 * @pad: must be 0.
 * @fds: user address of an array of @nfds struct sigwake_pollfd (version 1
 *	of the struct, SIGWAKE_WAIT_ARGS_SIZE_VER1).
 * @nfds: 0 to wait on no file descriptor, else at most SIGWAKE_WAIT_MAX_FDS.
 *	The wait also ends, with SIGWAKE_REASON_FD, when one of them is ready
 *	for one of its @events (POLLERR, POLLHUP and POLLNVAL always count), as
 *	poll(2) would report.  The descriptors are watched from before the
 *	pre-sleep checks, so readiness that arrives at any point is not missed.
 *	On every successful return each @revents is filled in, as poll(2)
 *	does; REASON_FD is reported only when no signal, kick or wake came
 *	first, and always with a non-zero @revents, from the same look that
 *	found the descriptor ready: as in poll(2), a descriptor's wake-up
 *	whose readiness is gone when the thread looks (another thread read the
 *	data, or the wake-up came late from a write the caller had already
 *	consumed) does not end the wait.  The thread stays WAITING, on its
 *	queue, meanwhile, so a WAKE, POST or KICK in that moment still ends
 *	the wait with its own reason.  A negative @fd is ignored (revents 0);
 *	a closed one gives POLLNVAL.
 * @pad2: must be 0.
 * @wake_wq: with SIGWAKE_WAIT_WAKE_FIRST, the queue to wake (version 2 of
 *	the struct, SIGWAKE_WAIT_ARGS_SIZE_VER2); otherwise must be 0.
 * @wake_nr: with SIGWAKE_WAIT_WAKE_FIRST, the most threads to wake on
 *	@wake_wq, as SIGWAKE_IOC_WAKE's @nr; otherwise must be 0.
 * @woken: out, with SIGWAKE_WAIT_WAKE_FIRST: the number of threads the
 *	wake woke, as SIGWAKE_IOC_WAKE's @woken; written back also when the
 *	wait then fails (see below).  Ignored on input; without the flag the
 *	kernel leaves it as it was.
 * @pad3: must be 0.
 *
 * The calling registered thread sleeps until an event, atomically with
 * respect to every POST, WAKE and KICK.
 *
 * In order, under the thread's lock (and the queue's, if any):
 *  1. Guest signals queued for the domain (SIGWAKE_POST_QUEUED) that the
 *     thread does not block move to its @pending.  Besides this, only a
 *     SIGWAKE_TARGET_ANY POST hands one over: one that, as it queues the
 *     signal, finds a thread that has started waiting meanwhile.
 *  2. pending & ~blocked non-zero: returns at once, SIGWAKE_REASON_SIGNAL.
 *  3. SIGWAKE_TF_KICKED set: returns at once, SIGWAKE_REASON_KICK (a kick that
 *     came while the thread ran in host is not lost; the runtime clears the
 *     flag).
 *  4. the queue's word differs from @expected: EAGAIN.
 *  5. one of @fds is ready: SIGWAKE_REASON_FD.
 *  6. otherwise @state becomes WAITING and the thread sleeps until a WAKE
 *     (REASON_WAKE, @state WOKEN and @wake_seq bumped before it runs), an
 *     unblocked POST (REASON_SIGNAL), a KICK (REASON_KICK), a ready file
 *     descriptor (REASON_FD) or the deadline (REASON_TIMEOUT).
 * On return @state is RUNNING_IN_HOST.
 *
 * A host signal ends the wait with ERESTARTSYS: the handler's SA_RESTART
 * decides between a transparent restart and EINTR, as for futex_waitv(2).
 * A restart never extends the deadline: before returning, the kernel
 * rewrites a relative @timeout_ns in the caller's struct as the absolute
 * deadline and sets SIGWAKE_WAIT_ABSTIME, so the restarted call (or a retry
 * with the same struct after EINTR) keeps the original deadline.  A struct
 * the kernel cannot write (read-only memory) cannot be rewritten: the call
 * then fails with EINTR even under SA_RESTART.  An event that raced with
 * the host signal is never dropped: the call then returns it instead.  The
 * same holds for the deadline: an event that ended the sleep before the
 * thread ran again is returned, even if the deadline passed meanwhile.
 *
 * A close(2) of a descriptor of the domain by its owner ends every WAIT in
 * progress with EBADF: one asleep, and one that has read its struct but not
 * yet reached the checks above (it may be arming descriptors, or copying
 * its @fds array from memory that faults).
 *
 * Hand-off (SIGWAKE_WAIT_WAKE_FIRST): wake, then wait, in one call, for
 * runtimes that switch from one guest thread to another (what FUTEX_SWAP
 * and UMCG were proposed for): the caller changes the word of the
 * partner's queue, then hands off to it and waits on its own.  The wake is
 * exactly SIGWAKE_IOC_WAKE of up to @wake_nr threads on @wake_wq, with its
 * ordering against the queue's word; it comes after the call has checked
 * its arguments, looked up both queues and its own registration, and
 * armed @fds, and before step 1 above.  The wait is then the WAIT this
 * struct describes without the flag, with the same results.  The two are
 * separate lossless decisions: a partner that hands back at once changes
 * the caller's word before it wakes the caller's queue, so the caller's
 * step 4 returns EAGAIN, or its sleep ends with REASON_WAKE (on a queue
 * without a word, as for WAKE, a wake-up that comes before the caller
 * sleeps finds nobody to wake).
 *
 * The caller never wakes itself: it joins no queue until the wake is
 * done, so the wake counts only other threads, even when @wake_wq is @wq
 * (that wakes up to @wake_nr other sleepers, then queues the caller
 * behind those still asleep).
 *
 * Errors found before the wake (EPERM, E2BIG, EINVAL, including
 * SIGWAKE_WAIT_WAKE_FIRST in a struct shorter than
 * SIGWAKE_WAIT_ARGS_SIZE_VER2; ENOENT for @wake_wq, @wq or the caller;
 * EFAULT reading the struct or @fds; ENOMEM) return without waking
 * anybody, and @woken is not written.  Once the wake has run, every return
 * writes @woken: on success, and with the errors of the wait (EAGAIN,
 * EIDRM, EBADF, EINTR, EFAULT writing @fds' revents).  A host signal's
 * transparent restart does not wake again: before returning ERESTARTSYS
 * the kernel writes @woken, zeroes @wake_wq and @wake_nr and clears
 * SIGWAKE_WAIT_WAKE_FIRST in the caller's struct (besides the deadline's
 * rewrite), so the restarted call, or a retry with the same struct after
 * EINTR, only waits, and reports that same @woken.  A struct the kernel
 * cannot write gives EINTR there, EFAULT elsewhere, and then whether the
 * wake ran, and how many it woke, is not known, as for a WAKE whose
 * @woken cannot be written.
 *
 * Errors: ENOENT (caller not registered, unknown @wq or @wake_wq), EINVAL
 * (flags, pad, pad2, pad3, a timeout below -1, @nfds too large, @wake_wq
 * or @wake_nr without the flag), EFAULT (@fds), EAGAIN (the word differs
 * from @expected), EINTR (a host signal whose handler lacks SA_RESTART, or
 * a read-only struct), EIDRM (queue destroyed or thread unregistered while
 * asleep), EBADF (the owner closed a descriptor of the domain while the
 * call waited, from the moment it read its struct).
 */
struct sigwake_wait_args {
	__u32 size;
	__u32 flags;
	__u32 wq;
	__u32 expected;
	__s64 timeout_ns;
	__u32 reason;
	__u32 pad;
	__u64 fds;
	__u32 nfds;
	__u32 pad2;
	__u32 wake_wq;
	__u32 wake_nr;
	__u32 woken;
	__u32 pad3;
};

#define SIGWAKE_WAIT_ARGS_SIZE_VER0		32
#define SIGWAKE_WAIT_ARGS_SIZE_VER1		48
#define SIGWAKE_WAIT_ARGS_SIZE_VER2		64
#define SIGWAKE_WAIT_MAX_FDS			1024

/**
 * struct sigwake_pollfd - a file descriptor for SIGWAKE_IOC_WAIT, as struct pollfd
 * @fd: the descriptor; negative: ignored
 * @events: POLLIN, POLLOUT, ... as for poll(2)
 * @revents: out: the events that are ready
 */
struct sigwake_pollfd {
	__s32 fd;
	__s16 events;
	__s16 revents;
};

#define SIGWAKE_WAIT_ABSTIME		(1u << 0)
#define SIGWAKE_WAIT_WAKE_FIRST		(1u << 1)
#define SIGWAKE_WAIT_FLAGS_ALL		(SIGWAKE_WAIT_ABSTIME | \
					 SIGWAKE_WAIT_WAKE_FIRST)

/**
 * struct sigwake_wake_args - ioctl(SIGWAKE_IOC_WAKE)
 * @size: the size of the struct as the caller knows it (see "ioctl
 *	conventions" above).
 * @wq: the queue's handle.
 * @nr: the most threads to wake.
 * @woken: out: the number of threads this call woke.
 *
 * Wake up to @nr threads waiting on queue @wq, oldest first.  Under the
 * queue's lock each one's @state becomes WOKEN and its @wake_seq is bumped
 * before it can run; they return SIGWAKE_REASON_WAKE.  Threads that a POST
 * or KICK already woke leave the queue without being counted.  @nr == 0
 * wakes none.
 *
 * Errors: ENOENT (no such queue).
 */
struct sigwake_wake_args {
	__u32 size;
	__u32 wq;
	__u32 nr;
	__u32 woken;
};

#define SIGWAKE_WAKE_ARGS_SIZE_VER0		16

/**
 * struct sigwake_post_args - ioctl(SIGWAKE_IOC_POST)
 * @size: the size of the struct as the caller knows it (see "ioctl
 *	conventions" above).
 * @flags: none defined, must be 0.
 * @target: a thread handle or SIGWAKE_TARGET_ANY.
 * @signo: the guest signal, 1..SIGWAKE_NSIG.
 * @handle: out: the thread that received the signal: @target itself, the
 *	thread chosen for SIGWAKE_TARGET_ANY, or 0 when the signal was queued
 *	for the domain.
 * @outcome: out: enum sigwake_post_outcome.
 *
 * Post guest signal @signo (1..64) to thread @target, or process-directed
 * with SIGWAKE_TARGET_ANY.  Callable from any thread of the owning process,
 * registered or not, including from inside a host signal handler.
 *
 * The @pending bit is set (full barrier); then, if the target does not
 * block @signo:
 *  - it sleeps in SIGWAKE_IOC_WAIT: @state WOKEN, @wake_seq bumped, woken
 *    with SIGWAKE_REASON_SIGNAL; outcome SIGWAKE_POST_WOKEN.  A thread that
 *    a WAKE, POST or KICK woke already, and that has not returned yet, is
 *    not woken twice: the bit stays pending for it, outcome
 *    SIGWAKE_POST_RECORDED;
 *  - its @state reads RUNNING_IN_GUEST or IN_SYSCALL: it is kicked
 *    (SIGWAKE_TF_KICKED set, the kick_addr byte set to 1, kick_signo sent to
 *    that task); outcome SIGWAKE_POST_KICKED;
 *  - otherwise (RUNNING_IN_HOST, or a value the kernel does not know):
 *    outcome SIGWAKE_POST_RECORDED; the runtime sees the bit before it next
 *    enters guest code or waits.
 * If the target blocks @signo the bit stays pending: SIGWAKE_POST_RECORDED.
 *
 * SIGWAKE_TARGET_ANY picks a thread that does not block @signo, preferring
 * one that is waiting (the one that has waited longest first), then one in
 * host, then one in guest (lowest handle first in those two classes).
 * Exited threads are never picked.  If every live thread blocks it, the
 * signal is queued for the domain (outcome SIGWAKE_POST_QUEUED, @handle 0)
 * and is delivered to the first thread that enters SIGWAKE_IOC_WAIT with it
 * unblocked (a zero timeout makes that a cheap poll after unblocking).
 * Standard-signal semantics: posting a signal that is already pending or
 * queued coalesces with it.
 *
 * Errors: EINVAL (flags, signo), ENOENT (no such handle, or the registration
 * has ended), ESRCH (the target exited, or is exiting).
 */
struct sigwake_post_args {
	__u32 size;
	__u32 flags;
	__u32 target;
	__u32 signo;
	__u32 handle;
	__u32 outcome;
};

#define SIGWAKE_POST_ARGS_SIZE_VER0		24

/**
 * struct sigwake_kick_args - ioctl(SIGWAKE_IOC_KICK)
 * @size: the size of the struct as the caller knows it (see "ioctl
 *	conventions" above).
 * @flags: SIGWAKE_KICK_WAIT: return only once the target is no longer
 *	RUNNING_IN_GUEST (it stored another state, or sleeps in WAIT),
 *	re-kicking it every kick_retry_us microseconds (module parameter,
 *	default 1000) while it stays there: a single signal can be lost (it
 *	arrived just before the runtime entered guest code and checked the
 *	kick byte too early), a kick retried until seen cannot.  This is what
 *	a stop-the-world pause needs.  SIGWAKE_KICK_FLAGS_ALL is the mask of
 *	the known flags.
 * @target: a thread handle.
 * @outcome: out: enum sigwake_post_outcome of the first kick.
 * @timeout_ns: with SIGWAKE_KICK_WAIT, how long to wait (relative;
 *	SIGWAKE_TIMEOUT_NONE waits forever, 0 checks once); otherwise 0.
 *
 * POST without a guest signal: force thread @target out of guest code or out
 * of its wait.
 *  - sleeping in WAIT: woken with SIGWAKE_REASON_KICK; outcome
 *    SIGWAKE_POST_WOKEN;
 *  - RUNNING_IN_GUEST or IN_SYSCALL: SIGWAKE_TF_KICKED and
 *    SIGWAKE_TF_KICK_REQUESTED, kick_addr byte, kick_signo; outcome
 *    SIGWAKE_POST_KICKED;
 *  - otherwise, including a thread that a WAKE, POST or KICK woke already
 *    and that has not returned from its WAIT yet: SIGWAKE_TF_KICKED and
 *    SIGWAKE_TF_KICK_REQUESTED are set, so the thread's next WAIT returns
 *    SIGWAKE_REASON_KICK at once; outcome SIGWAKE_POST_RECORDED.  No kick
 *    is lost.
 *
 * Errors: EINVAL (flags, or @timeout_ns without SIGWAKE_KICK_WAIT), ENOENT,
 * ESRCH (the target had exited before the first kick; one that exits after
 * it has left guest code: that is a success), ETIMEDOUT (still in guest at
 * the deadline), EINTR (a host signal interrupted the kicker's wait).
 */
struct sigwake_kick_args {
	__u32 size;
	__u32 flags;
	__u32 target;
	__u32 outcome;
	__s64 timeout_ns;
};

#define SIGWAKE_KICK_ARGS_SIZE_VER0		24

#define SIGWAKE_KICK_WAIT	(1u << 0)
#define SIGWAKE_KICK_FLAGS_ALL	(SIGWAKE_KICK_WAIT)

/**
 * struct sigwake_wq_create_args - ioctl(SIGWAKE_IOC_WQ_CREATE)
 * @size: the size of the struct as the caller knows it (see "ioctl
 *	conventions" above).
 * @flags: none defined, must be 0.
 * @word: 0 for a plain queue, or the user address of a 4-byte aligned __u32
 *	that SIGWAKE_IOC_WAIT compares with its @expected value under the
 *	queue's lock.  Its page is pinned and charged like a thread block's.
 * @handle: out: the queue's handle.
 * @pad: must be 0.
 *
 * Create a wait queue.
 *
 * Errors: EINVAL (flags, pad, misaligned word), EFAULT (@word is not a
 * mapped, writable user address), ENOSPC (max_queues_per_domain, or
 * max_queues_per_user over all the domains of the opener's user), ENOMEM
 * (RLIMIT_MEMLOCK, or out of memory).
 */
struct sigwake_wq_create_args {
	__u32 size;
	__u32 flags;
	__u64 word;
	__u32 handle;
	__u32 pad;
};

#define SIGWAKE_WQ_CREATE_ARGS_SIZE_VER0	24

/**
 * struct sigwake_wq_destroy_args - ioctl(SIGWAKE_IOC_WQ_DESTROY)
 * @size: the size of the struct as the caller knows it (see "ioctl
 *	conventions" above).
 * @handle: the queue's handle.
 *
 * Destroy a wait queue.  Threads still waiting on it return EIDRM.  The
 * word's page is unpinned once the last waiter has left.
 *
 * Errors: ENOENT.
 */
struct sigwake_wq_destroy_args {
	__u32 size;
	__u32 handle;
};

#define SIGWAKE_WQ_DESTROY_ARGS_SIZE_VER0	8

/**
 * struct sigwake_forward_args - ioctl(SIGWAKE_IOC_FORWARD)
 * @size: the size of the struct as the caller knows it (see "ioctl
 *	conventions" above).
 * @flags: 0, or SIGWAKE_FORWARD_REMOVE to drop the route of @host_signo.
 *	SIGWAKE_FORWARD_FLAGS_ALL is the mask of the known flags.
 * @host_signo: 1..64, not SIGKILL or SIGSTOP.  It may be a kick_signo:
 *	the kick signals sigwake itself sends are never forwarded, the same
 *	signal sent by anyone else (kill(2), the kernel) is.
 * @guest_signo: 1..64 (ignored with SIGWAKE_FORWARD_REMOVE).
 * @target: a thread handle or SIGWAKE_TARGET_ANY (ignored with REMOVE).
 * @pad: must be 0.
 *
 * Route host signal @host_signo, whenever it is sent to the owning process
 * (kill(2) from anywhere, a terminal's Ctrl-C, tgkill(2) to any of its
 * threads), to a guest POST of @guest_signo to @target (a thread handle or
 * SIGWAKE_TARGET_ANY), inside the kernel: no user-space handler runs, and no
 * thread-local lookup or global thread list is needed.
 *
 * The kernel sees the signal as it is generated, whatever the disposition,
 * so the runtime should set the host disposition to SIG_IGN: then the host
 * signal has no other effect (with SIG_DFL, SIGINT would still terminate
 * the process; with a handler, the handler runs as well).  A host signal
 * that the process blocks is still forwarded when generated.  Signals that
 * arrive faster than the runtime takes them coalesce in @pending, exactly as
 * standard signals coalesce in the kernel; none is lost beyond that.  The
 * post is made by a kernel worker, in process context, right after the
 * signal is generated (never inside the sender's locks); it is counted as a
 * post and its kick signal, if any, is sent as SI_KERNEL.  The signal is
 * the process's as long as one of its threads runs the program that opened
 * the domain, also after the main thread has called pthread_exit().
 *
 * A later FORWARD of the same @host_signo replaces the route;
 * SIGWAKE_FORWARD_REMOVE drops it (ENOENT if there is none).  Forwards end
 * when the domain is closed.  At most one route per host signal.
 *
 * Errors: EINVAL (flags, pad, a signal number), ENOENT (unknown @target, or
 * nothing to remove), ESRCH (@target exited), EOPNOTSUPP (kernel without the
 * signal_generate tracepoint).
 */
struct sigwake_forward_args {
	__u32 size;
	__u32 flags;
	__u32 host_signo;
	__u32 guest_signo;
	__u32 target;
	__u32 pad;
};

#define SIGWAKE_FORWARD_ARGS_SIZE_VER0		24

#define SIGWAKE_FORWARD_REMOVE		(1u << 0)
#define SIGWAKE_FORWARD_FLAGS_ALL	(SIGWAKE_FORWARD_REMOVE)

/**
 * struct sigwake_preempt_args - ioctl(SIGWAKE_IOC_PREEMPT)
 * @size: the size of the struct as the caller knows it (see "ioctl
 *	conventions" above).
 * @flags: none defined, must be 0.
 * @target: a thread handle or SIGWAKE_TARGET_ALL.
 * @pad: must be 0.
 * @budget_ns: 0 turns preemption off, else at least
 *	SIGWAKE_PREEMPT_MIN_BUDGET_NS.
 *
 * Give thread @target (or every thread of the domain, present and future,
 * with SIGWAKE_TARGET_ALL) a native-CPU budget: when it has stayed
 * RUNNING_IN_GUEST for more than @budget_ns of its own CPU time, it is
 * kicked with SIGWAKE_TF_PREEMPTED and SIGWAKE_TF_KICKED set, its kick byte
 * set and its kick_signo sent.  Entering and leaving guest code costs no
 * syscall: the state word is the switch.  No process-wide interval timer
 * and no signal-mask change is involved, and only the thread's own time on
 * a CPU counts.
 *
 * The kernel samples the state word while the thread runs (at least eight
 * times per budget) and when it is scheduled in and out.  A stint starts at
 * the first sample that sees RUNNING_IN_GUEST and ends at any sample that
 * sees another state or a new @entry_seq; so the preemption comes between
 * @budget_ns and @budget_ns plus one sampling period (budget / 8, at least
 * SIGWAKE_PREEMPT_MIN_PERIOD_NS) plus timer latency after the entry.  A
 * runtime that bumps @entry_seq on every entry (libsigwake does) never has
 * short stints mistaken for a long one.  After a preemption the budget
 * starts again at the next entry.
 *
 * Every thread is watched from its REGISTER on; PREEMPT, from any thread,
 * only sets the budget, and the clock starts at once if the target is on
 * a CPU.  Nothing interrupts the target's system calls or sleeps.  Once
 * UNREGISTER (or close) returns, nothing more is written into the block or
 * the kick byte (a kick signal already being sent may still arrive).
 *
 * Errors: EINVAL, ENOENT, ESRCH, EOPNOTSUPP (kernel without preempt
 * notifiers).
 */
struct sigwake_preempt_args {
	__u32 size;
	__u32 flags;
	__u32 target;
	__u32 pad;
	__u64 budget_ns;
};

#define SIGWAKE_PREEMPT_ARGS_SIZE_VER0		24
#define SIGWAKE_PREEMPT_MIN_BUDGET_NS		100000
#define SIGWAKE_PREEMPT_MIN_PERIOD_NS		20000

/**
 * SIGWAKE_IOC_MAGIC - the ioctl type of sigwake; numbers 0x00 to 0x1f are
 *   its own
 */
#define SIGWAKE_IOC_MAGIC	0xD5

/* The command numbers: SIGWAKE_IOC_xxx is number SIGWAKE_CMD_xxx. */
enum {
	SIGWAKE_CMD_REGISTER = 0x00,
	SIGWAKE_CMD_UNREGISTER = 0x01,
	SIGWAKE_CMD_WAIT = 0x02,
	SIGWAKE_CMD_WAKE = 0x03,
	SIGWAKE_CMD_POST = 0x04,
	SIGWAKE_CMD_KICK = 0x05,
	SIGWAKE_CMD_WQ_CREATE = 0x06,
	SIGWAKE_CMD_WQ_DESTROY = 0x07,
	SIGWAKE_CMD_FORWARD = 0x08,
	SIGWAKE_CMD_PREEMPT = 0x09
};

#define SIGWAKE_IOC_REGISTER \
	_IOWR(SIGWAKE_IOC_MAGIC, SIGWAKE_CMD_REGISTER, struct sigwake_register_args)
#define SIGWAKE_IOC_UNREGISTER \
	_IOWR(SIGWAKE_IOC_MAGIC, SIGWAKE_CMD_UNREGISTER, struct sigwake_unregister_args)
#define SIGWAKE_IOC_WAIT \
	_IOWR(SIGWAKE_IOC_MAGIC, SIGWAKE_CMD_WAIT, struct sigwake_wait_args)
#define SIGWAKE_IOC_WAKE \
	_IOWR(SIGWAKE_IOC_MAGIC, SIGWAKE_CMD_WAKE, struct sigwake_wake_args)
#define SIGWAKE_IOC_POST \
	_IOWR(SIGWAKE_IOC_MAGIC, SIGWAKE_CMD_POST, struct sigwake_post_args)
#define SIGWAKE_IOC_KICK \
	_IOWR(SIGWAKE_IOC_MAGIC, SIGWAKE_CMD_KICK, struct sigwake_kick_args)
#define SIGWAKE_IOC_WQ_CREATE \
	_IOWR(SIGWAKE_IOC_MAGIC, SIGWAKE_CMD_WQ_CREATE, struct sigwake_wq_create_args)
#define SIGWAKE_IOC_WQ_DESTROY \
	_IOWR(SIGWAKE_IOC_MAGIC, SIGWAKE_CMD_WQ_DESTROY, struct sigwake_wq_destroy_args)
#define SIGWAKE_IOC_FORWARD \
	_IOWR(SIGWAKE_IOC_MAGIC, SIGWAKE_CMD_FORWARD, struct sigwake_forward_args)
#define SIGWAKE_IOC_PREEMPT \
	_IOWR(SIGWAKE_IOC_MAGIC, SIGWAKE_CMD_PREEMPT, struct sigwake_preempt_args)

/*
 * Generic netlink family "sigwake": observability
 * ===============================================
 *
 * Every domain and registered thread can be listed, and their creation and
 * end watched, over generic netlink (resolve SIGWAKE_GENL_NAME with the
 * "nlctrl" family, as genl_ctrl_resolve() does).  The protocol, with every
 * command, attribute and the visibility rules, is the YNL spec
 * Documentation/netlink/specs/sigwake.yaml; the kernel's ynl tool drives
 * the family from it (ynl --spec sigwake.yaml --dump domain-get).  The
 * section below is generated from that spec.
 */
/* YNL-GEN section begin: scripts/ynl-gen.sh owns everything up to its end */
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/sigwake.yaml */
/* YNL-GEN uapi header */

#define SIGWAKE_GENL_NAME	"sigwake"
#define SIGWAKE_GENL_VERSION	1

enum sigwake_nl_attr {
	SIGWAKE_NL_A_UNSPEC,
	SIGWAKE_NL_A_PAD,
	SIGWAKE_NL_A_DOMAIN_ID,
	SIGWAKE_NL_A_PID,
	SIGWAKE_NL_A_COMM,
	SIGWAKE_NL_A_UID,
	SIGWAKE_NL_A_NR_THREADS,
	SIGWAKE_NL_A_NR_QUEUES,
	SIGWAKE_NL_A_PINNED_PAGES,
	SIGWAKE_NL_A_QUEUED,
	SIGWAKE_NL_A_COUNTERS,
	SIGWAKE_NL_A_HANDLE,
	SIGWAKE_NL_A_TID,
	SIGWAKE_NL_A_KICK_SIGNO,
	SIGWAKE_NL_A_EXITED,
	SIGWAKE_NL_A_WAITING,
	SIGWAKE_NL_A_STATE,
	SIGWAKE_NL_A_FLAGS,
	SIGWAKE_NL_A_PENDING,
	SIGWAKE_NL_A_BLOCKED,
	SIGWAKE_NL_A_WAKE_SEQ,
	SIGWAKE_NL_A_REASON,
	SIGWAKE_NL_A_HOST_SIGNO,
	SIGWAKE_NL_A_GUEST_SIGNO,
	SIGWAKE_NL_A_TARGET,
	SIGWAKE_NL_A_FORWARD_REMOVED,

	__SIGWAKE_NL_A_MAX
};
#define SIGWAKE_NL_A_MAX (__SIGWAKE_NL_A_MAX - 1)

enum sigwake_nl_cnt_attr {
	SIGWAKE_NL_A_CNT_UNSPEC,
	SIGWAKE_NL_A_CNT_PAD,
	SIGWAKE_NL_A_CNT_POSTS,
	SIGWAKE_NL_A_CNT_WAKES,
	SIGWAKE_NL_A_CNT_KICKS,
	SIGWAKE_NL_A_CNT_WAITS,
	SIGWAKE_NL_A_CNT_TIMEOUTS,
	SIGWAKE_NL_A_CNT_INTERRUPTED,
	SIGWAKE_NL_A_CNT_FORWARDS,
	SIGWAKE_NL_A_CNT_PREEMPTIONS,

	__SIGWAKE_NL_A_CNT_MAX
};
#define SIGWAKE_NL_A_CNT_MAX (__SIGWAKE_NL_A_CNT_MAX - 1)

enum sigwake_nl_cmd {
	SIGWAKE_NL_CMD_DOMAIN_GET = 1,
	SIGWAKE_NL_CMD_THREAD_GET,
	SIGWAKE_NL_CMD_DOMAIN_NEW,
	SIGWAKE_NL_CMD_DOMAIN_DEL,
	SIGWAKE_NL_CMD_THREAD_NEW,
	SIGWAKE_NL_CMD_THREAD_DEL,
	SIGWAKE_NL_CMD_FORWARD_CHANGE,

	__SIGWAKE_NL_CMD_MAX
};
#define SIGWAKE_NL_CMD_MAX (__SIGWAKE_NL_CMD_MAX - 1)
/* YNL-GEN section end */

/*
 * The multicast group that announces domains and registrations as they
 * start and end (joining it requires CAP_SYS_ADMIN; see the spec).
 */
#define SIGWAKE_NL_MCGRP_MONITOR	"monitor"

/**
 * enum sigwake_nl_thread_del_reason - The reason attribute of a thread-del
 *   event.
 * @SIGWAKE_NL_DEL_UNREGISTER: SIGWAKE_IOC_UNREGISTER
 * @SIGWAKE_NL_DEL_EXIT: the thread exited (or exec'd)
 * @SIGWAKE_NL_DEL_CLOSE: the domain was closed
 */
enum sigwake_nl_thread_del_reason {
	SIGWAKE_NL_DEL_UNREGISTER = 1,
	SIGWAKE_NL_DEL_EXIT = 2,
	SIGWAKE_NL_DEL_CLOSE = 3
};

#endif /* _UAPI_LINUX_SIGWAKE_H */
