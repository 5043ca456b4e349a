/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsigwake: a small C library over the /dev/sigwake ioctls, plus the
 * lock-free fast paths a runtime runs on its threads' shared blocks.
 *
 * The kernel contract (every semantic decision) lives in <linux/sigwake.h>;
 * this header only wraps it.  Compile against the project's copy of that
 * header (-I<top>/uapi), or against the one "make install" puts next to
 * this file.
 *
 * DOC: Conventions
 *
 * Every function that can fail returns a negative errno value (-EINVAL,
 * -ENOENT, ...) and never reports through errno; errno is preserved across
 * every call, so the calls are safe to make from a host signal handler that
 * must not clobber it.  Handles are the kernel's small integers (>= 1).
 *
 * DOC: Thread blocks and the Dekker handshake
 *
 * Each registered thread shares a 64-byte struct sigwake_thread_block with the
 * kernel.  The runtime moves the block's @state between RUNNING_IN_HOST,
 * RUNNING_IN_GUEST and IN_SYSCALL with plain atomic stores; no system call is
 * needed to enter or leave guest code.  A POST to the thread sets a @pending
 * bit, issues a full barrier and then reads @state: RUNNING_IN_GUEST or
 * IN_SYSCALL makes it kick the thread (TF_KICKED, the kick byte, the kick
 * signal); RUNNING_IN_HOST only records the bit.
 *
 * sigwake_enter_guest() is the runtime's half of the handshake: it stores
 * RUNNING_IN_GUEST (sequentially consistent), issues a full barrier, and then
 * re-reads @pending & ~@blocked and @flags.  If a signal it does not block is
 * pending, or SIGWAKE_TF_KICKED is set, it stores RUNNING_IN_HOST back and
 * refuses to enter.  Because each side writes its own word, fences, and then
 * reads the other side's word, at least one of them sees the other: either
 * the runtime sees the pending bit and does not enter, or the kernel sees
 * RUNNING_IN_GUEST and kicks.  No event falls between the two.
 *
 * A refused entry may still have been kicked (the kernel can observe the
 * short-lived RUNNING_IN_GUEST store), so after leaving guest code or being
 * refused a runtime takes both sigwake_take_pending() and
 * sigwake_take_flags().  A TF_KICKED left in the block makes every WAIT
 * return SIGWAKE_REASON_KICK at once, and a pending unblocked signal makes
 * it return SIGWAKE_REASON_SIGNAL at once, until the runtime takes them: a
 * wait loop that does not take them spins.  sigwake_wait_take() takes both
 * on every return.  A stale kick signal only finds the thread in host code.
 *
 * Waiting is the kernel's business: sigwake_wait() checks pending signals,
 * the kick flag and the queue's word under the same locks a POST, KICK or
 * WAKE takes, so "check, then sleep" cannot lose an event either.
 *
 * DOC: Async-signal safety
 *
 * Safe in a host signal handler: every inline fast path below
 * (sigwake_enter_guest() .. sigwake_kicked()), sigwake_self(),
 * sigwake_self_in(), sigwake_post(), sigwake_kick(), sigwake_wake(),
 * sigwake_wait(), sigwake_wait_fds(), sigwake_wait_take(),
 * sigwake_handoff() and sigwake_poll() (each is one ioctl, no allocation,
 * no lock), and the
 * *_name() helpers.  Not safe: sigwake_open(), sigwake_open_error(),
 * sigwake_register(), sigwake_unregister(), sigwake_revoke() and
 * sigwake_forget() (they allocate, take the block pool's lock, or wait for
 * another thread), sigwake_wq_create() and sigwake_wq_destroy() (safe in
 * fact, but not promised).
 */
#ifndef LIBSIGWAKE_H
#define LIBSIGWAKE_H

#include <linux/sigwake.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LIBSIGWAKE_VERSION_MAJOR	0
#define LIBSIGWAKE_VERSION_MINOR	1

/**
 * struct sigwake_self - one thread's registration in one domain
 * @fd: the domain file descriptor it was registered with.
 * @handle: the kernel's handle for the thread (target of POST and KICK).
 * @block: the thread's block, owned by the library (64-byte aligned, carved
 *	from a page shared with other threads' blocks).  Valid until
 *	sigwake_unregister() or sigwake_forget() returns.
 * @kick_signo: the host kick signal passed at registration (0: none).
 * @kick_addr: the kick byte passed at registration, or NULL.
 * @tid: the registered thread's kernel thread id.
 * @user: free for the runtime (e.g. its own per-thread structure); the
 *	library never touches it.
 * @next: internal: the calling thread's other registrations.
 * @revoked: internal: 0 while registered; sigwake_revoke() makes it
 *	non-zero while and after it ends the registration.
 *
 * Allocated by sigwake_register(); treat every field but @user as read-only.
 */
struct sigwake_self {
	int fd;
	__u32 handle;
	struct sigwake_thread_block *block;
	int kick_signo;
	volatile unsigned char *kick_addr;
	int tid;
	void *user;
	struct sigwake_self *next;
	int revoked;
};

/**
 * sigwake_open() - open a new domain
 *
 * Opens SIGWAKE_DEVICE with O_RDWR | O_CLOEXEC.  Each open is a separate
 * domain owned by the calling process; close(2) it when done.
 *
 * Return: the file descriptor, or -errno (-ENOENT: the module is not loaded,
 * -ENOSPC: the per-user domain limit).
 */
int sigwake_open(void);

/**
 * sigwake_open_error() - what a sigwake_open() failure means, in words
 * @err: the negative value sigwake_open() returned.
 *
 * -ENOENT becomes "/dev/sigwake does not exist: the sigwake module is not
 * loaded (modprobe sigwake)", -EACCES and -EPERM name the device's mode
 * and the udev rule, -ENOSPC the max_domains_per_user limit; any other
 * value gives strerror(-@err).
 *
 * Return: a static string.
 */
const char *sigwake_open_error(int err);

/**
 * sigwake_register() - register the calling thread in a domain
 * @fd: the domain.
 * @kick_signo: host signal the kernel sends this thread to pull it out of
 *	guest code or an interruptible host syscall; 0 for none.  Install a
 *	handler for it first (with SA_RESTART unless the runtime wants its
 *	host syscalls to fail with EINTR); the default action would kill.
 * @kick_addr: a byte the kernel sets to 1 before it sends the kick (KVM's
 *	kvm_run->immediate_exit), or NULL.  Must stay mapped while registered.
 * @selfp: out: the registration.
 *
 * The library allocates the thread block from its pool (zeroed: state
 * RUNNING_IN_HOST, nothing pending, nothing blocked), registers it, and
 * makes the registration the calling thread's current one (sigwake_self()).
 *
 * Return: 0, or -errno: the kernel's (-EEXIST already registered in this
 * domain, -ENOSPC thread limit, -ENOMEM RLIMIT_MEMLOCK, -EINVAL bad
 * @kick_signo, -EPERM another process's domain) or -ENOMEM from the library.
 */
int sigwake_register(int fd, int kick_signo, volatile unsigned char *kick_addr,
		     struct sigwake_self **selfp);

/**
 * sigwake_unregister() - end a registration and free it
 * @self: from sigwake_register().
 *
 * Call it from the registered thread itself, or after that thread has exited
 * (the library unlinks @self from the calling thread's list only, so calling
 * it from another live thread would leave that thread's sigwake_self()
 * pointing at freed memory; a supervisor uses sigwake_revoke() instead).
 * The block returns to the pool only once the kernel has let go of it: when
 * the ioctl succeeds, or reports -ENOENT or -ESRCH (the kernel had already
 * ended the registration); @self is freed in those three cases and must not
 * be used again.  After sigwake_revoke() it makes no ioctl (the handle may
 * already name another thread's registration) and frees @self.
 *
 * Return: 0; -ENOENT or -ESRCH (registration already gone, or revoked:
 * @self freed anyway); any other -errno leaves @self registered and intact.
 */
int sigwake_unregister(struct sigwake_self *self);

/**
 * sigwake_revoke() - end another live thread's registration (supervisor)
 * @self: that thread's registration, from its sigwake_register().
 *
 * SIGWAKE_IOC_UNREGISTER of @self's handle, from any thread of the owning
 * process: the thread's WAIT in progress ends with -EIDRM, its later calls
 * get -ENOENT, and nothing more is written into its block.  The memory
 * stays the thread's: it frees it with sigwake_unregister(@self), which
 * then makes no ioctl (the kernel reuses handles, lowest first, so the old
 * handle may by then name a new registration).  Safe against that thread's
 * own sigwake_unregister() running at the same time: exactly one of the
 * two ends the registration.  The caller must know that @self is not freed
 * yet (the runtime's thread table, under its own lock).
 *
 * Return: 0; -ENOENT if the registration was already ended or revoked (or
 * is being unregistered by its thread); any other -errno leaves it
 * registered.
 */
int sigwake_revoke(struct sigwake_self *self);

/**
 * sigwake_forget() - free a registration the kernel has already dropped
 * @self: from sigwake_register().
 *
 * For registrations whose domain fd has been closed (closing the domain ends
 * every registration in it): frees the block and @self without an ioctl.
 * Same thread rule as sigwake_unregister().  Never call it on a live
 * registration: the kernel would keep writing to a block that the pool hands
 * out again.
 */
void sigwake_forget(struct sigwake_self *self);

/**
 * sigwake_unregister_handle() - UNREGISTER by handle, no library bookkeeping
 * @fd: the domain.
 * @handle: any thread handle of the domain.
 *
 * The raw ioctl, for runtimes that track registrations themselves.  A thread
 * sleeping in WAIT ends it with -EIDRM.
 *
 * Return: 0 or -errno (-ENOENT).
 */
int sigwake_unregister_handle(int fd, __u32 handle);

/**
 * sigwake_self() - the calling thread's current registration
 *
 * The most recent sigwake_register() of the calling thread that is still
 * registered, or NULL.  Async-signal-safe (a plain initial-exec TLS load):
 * a host signal handler uses it to find its thread's block and handle.
 */
struct sigwake_self *sigwake_self(void);

/**
 * sigwake_self_in() - the calling thread's registration in a given domain
 * @fd: the domain.
 *
 * Return: the registration, or NULL.  Async-signal-safe.
 */
struct sigwake_self *sigwake_self_in(int fd);

/**
 * sigwake_wait() - sleep until an event (SIGWAKE_IOC_WAIT)
 * @fd: the domain; the calling thread must be registered in it.
 * @wq: a queue handle, or SIGWAKE_NO_WQ for the thread's own events only.
 * @expected: for a queue bound to a word: the value the word must hold.
 * @timeout_ns: SIGWAKE_TIMEOUT_NONE, a relative timeout, or with
 *	SIGWAKE_WAIT_ABSTIME a CLOCK_MONOTONIC deadline.
 * @flags: 0 or SIGWAKE_WAIT_ABSTIME.
 *
 * Uses a fresh argument struct per call.  The kernel restarts the call
 * transparently after a host signal whose handler has SA_RESTART, without
 * extending the deadline; after a handler without SA_RESTART it returns
 * -EINTR, and a retry with a relative @timeout_ns starts a new timeout (pass
 * an absolute deadline if that matters).  It takes nothing from the block:
 * while an unblocked signal stays pending or TF_KICKED stays set, every
 * call returns at once, so a loop must take them (sigwake_take_pending(),
 * sigwake_take_flags()) after each return.  sigwake_wait_take() does all
 * of that.
 *
 * Return: SIGWAKE_REASON_WAKE, _SIGNAL, _KICK or _TIMEOUT, or -errno
 * (-EAGAIN word != @expected, -EINTR, -EIDRM, -ENOENT, -EBADF, -EINVAL).
 */
int sigwake_wait(int fd, __u32 wq, __u32 expected, __s64 timeout_ns,
		 __u32 flags);

/**
 * struct sigwake_taken - what sigwake_wait_take() took from the thread block
 * @signals: the pending guest signals that the thread does not block,
 *	taken from @pending (bit signo - 1): the runtime now owns them and
 *	must deliver every one, whatever the reason.
 * @flags: the SIGWAKE_TF_* bits taken from @flags (TF_KICKED,
 *	TF_PREEMPTED, TF_KICK_REQUESTED).  When a SIGWAKE_IOC_KICK ended the
 *	sleep itself (the kernel reports that as SIGWAKE_REASON_KICK and sets
 *	no flag), TF_KICKED | TF_KICK_REQUESTED are added, so an explicit
 *	kick always shows as TF_KICK_REQUESTED.
 * @pad: zero.
 */
struct sigwake_taken {
	__u64 signals;
	__u32 flags;
	__u32 pad;
};

/**
 * sigwake_wait_take() - wait, then hand back the reason and what was taken
 * @self: the calling thread's registration (sigwake_register()).
 * @wq: a queue handle, or SIGWAKE_NO_WQ for the thread's own events only.
 * @expected: for a queue bound to a word: the value the word must hold.
 * @timeout_ns: SIGWAKE_TIMEOUT_NONE, a relative timeout, or with
 *	SIGWAKE_WAIT_ABSTIME a CLOCK_MONOTONIC deadline.
 * @flags: 0 or SIGWAKE_WAIT_ABSTIME.
 * @fds: NULL, or @nfds descriptors with their poll events; revents are
 *	filled in on every successful return.
 * @nfds: 0..SIGWAKE_WAIT_MAX_FDS.
 * @taken: out, may not be NULL: what the call took from the block.
 *
 * The whole wait site in one call.  SIGWAKE_IOC_WAIT, retried after
 * -EINTR (a host signal whose handler lacks SA_RESTART) with the same
 * argument struct, so the deadline is never extended.  Then, on every
 * return (success or error), it takes the thread's deliverable pending
 * signals (sigwake_take_pending()) and its flags (sigwake_take_flags())
 * into @taken: a WAIT never finds them again, so the caller's next wait
 * cannot return at once for a signal or kick already reported, which is
 * how a loop on sigwake_wait() that forgets to take them spins.
 *
 * -EAGAIN (the queue's word no longer held @expected) is returned to the
 * caller, who re-checks its condition, as after FUTEX_WAIT: only the caller
 * knows what the word means.  @taken is filled in then too (a signal can
 * arrive after the kernel's check).
 *
 * A host signal handler that needs the thread's attention posts or kicks
 * it (both async-signal-safe): the retried WAIT then returns that event.
 * Async-signal-safe, like sigwake_wait().
 *
 * Return: SIGWAKE_REASON_WAKE, _SIGNAL, _KICK, _TIMEOUT or _FD, or -errno
 * (-EAGAIN, -EIDRM, -ENOENT, -EBADF, -EINVAL, -EFAULT); never -EINTR.
 */
int sigwake_wait_take(struct sigwake_self *self, __u32 wq, __u32 expected,
		      __s64 timeout_ns, __u32 flags,
		      struct sigwake_pollfd *fds, __u32 nfds,
		      struct sigwake_taken *taken);

/**
 * sigwake_poll() - claim events without sleeping
 * @fd: the domain; the calling thread must be registered in it.
 *
 * WAIT on SIGWAKE_NO_WQ with a zero relative timeout: moves the guest
 * signals queued for the domain (SIGWAKE_POST_QUEUED) that the thread does
 * not block into its @pending, then reports.  Call it after unblocking
 * signals (see sigwake_set_blocked()).
 *
 * Return: SIGWAKE_REASON_SIGNAL (something unblocked is pending: take it
 * with sigwake_take_pending()), SIGWAKE_REASON_KICK, SIGWAKE_REASON_TIMEOUT
 * (nothing), or -errno.
 */
int sigwake_poll(int fd);

/**
 * sigwake_wake() - wake waiters of a queue (SIGWAKE_IOC_WAKE)
 * @fd: the domain.
 * @wq: the queue handle.
 * @nr: the most threads to wake, oldest first (0 wakes none).
 *
 * Return: the number of threads woken, or -errno (-ENOENT).
 */
int sigwake_wake(int fd, __u32 wq, __u32 nr);

/**
 * sigwake_handoff() - wake a queue, then wait, in one call
 * @fd: the domain; the calling thread must be registered in it.
 * @wake_wq: the queue to wake, as for sigwake_wake().
 * @wake_nr: the most threads to wake on it, oldest first.
 * @wq: as for sigwake_wait().
 * @expected: as for sigwake_wait().
 * @timeout_ns: as for sigwake_wait().
 * @flags: 0 or SIGWAKE_WAIT_ABSTIME.
 * @woken: out, may be NULL: how many threads the wake woke; 0 when the
 *	call failed before waking.
 *
 * SIGWAKE_IOC_WAIT with SIGWAKE_WAIT_WAKE_FIRST, for a runtime that
 * switches from one guest thread to another: store the partner's word,
 * then sigwake_handoff(fd, partner_wq, 1, own_wq, own_word_value, ...).
 * The kernel runs exactly sigwake_wake(@fd, @wake_wq, @wake_nr), then
 * sigwake_wait(@fd, @wq, @expected, @timeout_ns, @flags), and returns what
 * the wait returns; the caller is never among the threads it wakes.
 *
 * -EINVAL, -ENOENT (a queue, or the caller not registered) and -ENOMEM
 * come before the wake: nothing was woken.  Every other return comes after
 * it, *@woken set: a reason, -EAGAIN (the caller's word moved: re-check
 * it, as after FUTEX_WAIT; the wake still ran), -EIDRM, -EBADF, -EINTR.
 * After -EINTR, retry with sigwake_wait(), not with this call: the wake is
 * done (under SA_RESTART the kernel restarts only the wait).  Like
 * sigwake_wait(), it takes nothing from the block.  Async-signal-safe.
 *
 * Return: SIGWAKE_REASON_WAKE, _SIGNAL, _KICK or _TIMEOUT, or -errno.
 */
int sigwake_handoff(int fd, __u32 wake_wq, __u32 wake_nr, __u32 wq,
		    __u32 expected, __s64 timeout_ns, __u32 flags,
		    __u32 *woken);

/**
 * sigwake_post() - post a guest signal (SIGWAKE_IOC_POST)
 * @fd: the domain.
 * @target: a thread handle, or SIGWAKE_TARGET_ANY (process-directed).
 * @signo: the guest signal, 1..SIGWAKE_NSIG.
 * @handle_out: out, may be NULL: the thread that received it (0 when the
 *	signal was queued for the domain).
 *
 * Async-signal-safe: one ioctl, no allocation, no lock, errno preserved.
 * Any thread of the owning process may call it, registered or not.
 *
 * Return: SIGWAKE_POST_RECORDED, _WOKEN, _KICKED or _QUEUED, or -errno
 * (-EINVAL, -ENOENT, -ESRCH).
 */
int sigwake_post(int fd, __u32 target, int signo, __u32 *handle_out);

/**
 * sigwake_kick() - force a thread out of guest code or WAIT (SIGWAKE_IOC_KICK)
 * @fd: the domain.
 * @target: a thread handle.
 *
 * Async-signal-safe, like sigwake_post().
 *
 * Return: SIGWAKE_POST_WOKEN, _KICKED or _RECORDED (TF_KICKED set for the
 * thread's next WAIT), or -errno.
 */
int sigwake_kick(int fd, __u32 target);

/**
 * sigwake_kick_wait() - kick and wait until the thread left guest code
 * @fd: the domain.
 * @target: a thread handle.
 * @timeout_ns: relative; SIGWAKE_TIMEOUT_NONE waits forever, 0 checks once.
 *
 * SIGWAKE_IOC_KICK with SIGWAKE_KICK_WAIT: the kernel re-kicks the thread
 * every kick_retry_us while it stays RUNNING_IN_GUEST.
 *
 * Return: the first kick's outcome, or -ETIMEDOUT, -EINTR, -ENOENT,
 * -ESRCH, -errno.
 */
int sigwake_kick_wait(int fd, __u32 target, __s64 timeout_ns);

/**
 * sigwake_wait_fds() - SIGWAKE_IOC_WAIT that also watches file descriptors
 * @fd: the domain.
 * @wq: as for sigwake_wait().
 * @expected: as for sigwake_wait().
 * @timeout_ns: as for sigwake_wait().
 * @flags: as for sigwake_wait().
 * @fds: @nfds descriptors with their poll events; revents are filled in.
 * @nfds: 0..SIGWAKE_WAIT_MAX_FDS.
 *
 * Return: a SIGWAKE_REASON_* (SIGWAKE_REASON_FD when a descriptor is ready),
 * or -errno.
 */
int sigwake_wait_fds(int fd, __u32 wq, __u32 expected, __s64 timeout_ns,
		     __u32 flags, struct sigwake_pollfd *fds, __u32 nfds);

/**
 * sigwake_forward() - route a host signal to a guest post in the kernel
 * @fd: the domain.
 * @host_signo: the host signal (set its disposition to SIG_IGN).
 * @guest_signo: the guest signal posted for it.
 * @target: a thread handle or SIGWAKE_TARGET_ANY.
 *
 * Return: 0 or -errno.
 */
int sigwake_forward(int fd, int host_signo, int guest_signo, __u32 target);

/**
 * sigwake_forward_remove() - drop the route of @host_signo
 * @fd: the domain.
 * @host_signo: the host signal.
 *
 * Return: 0, -ENOENT (no route), or -errno.
 */
int sigwake_forward_remove(int fd, int host_signo);

/**
 * sigwake_preempt() - set a thread's native-CPU budget in guest code
 * @fd: the domain.
 * @target: a thread handle or SIGWAKE_TARGET_ALL.
 * @budget_ns: 0 turns preemption off.
 *
 * Return: 0 or -errno.
 */
int sigwake_preempt(int fd, __u32 target, __u64 budget_ns);

/**
 * sigwake_wq_create() - create a wait queue (SIGWAKE_IOC_WQ_CREATE)
 * @fd: the domain.
 * @word: NULL, or a 4-byte aligned word that WAIT compares with its
 *	expected value under the queue's lock (futex semantics).  It must stay
 *	mapped until the queue is destroyed; the kernel pins its page.
 *
 * Return: the queue handle (> 0), or -errno (-EINVAL, -EFAULT, -ENOSPC,
 * -ENOMEM).
 */
int sigwake_wq_create(int fd, __u32 *word);

/**
 * sigwake_wq_destroy() - destroy a wait queue (SIGWAKE_IOC_WQ_DESTROY)
 * @fd: the domain.
 * @wq: the queue handle.  Threads still waiting on it get -EIDRM.
 *
 * Return: 0 or -errno (-ENOENT).
 */
int sigwake_wq_destroy(int fd, __u32 wq);

/**
 * sigwake_reason_name() - "wake", "signal", "kick", "timeout", "fd" or "?"
 * @reason: a SIGWAKE_REASON_* value.
 */
const char *sigwake_reason_name(int reason);

/**
 * sigwake_outcome_name() - "recorded", "woken", "kicked", "queued" or "?"
 * @outcome: a SIGWAKE_POST_* value.
 */
const char *sigwake_outcome_name(int outcome);

/*
 * Lock-free fast paths.  They work on any struct sigwake_thread_block (the
 * library's or one the runtime registered itself) and are all
 * async-signal-safe: they are single atomic instructions or CAS loops on
 * naturally aligned 32- and 64-bit words.
 */

/**
 * sigwake_try_enter() - the Dekker entry into @state, with the details
 * @b: the calling thread's block.
 * @state: SIGWAKE_RUNNING_IN_GUEST or SIGWAKE_IN_SYSCALL.
 * @sigs: out, may be NULL: pending & ~blocked as read after the barrier.
 * @flags: out, may be NULL: the block's flags as read after the barrier.
 *
 * For RUNNING_IN_GUEST, first increments @entry_seq (so SIGWAKE_IOC_PREEMPT
 * tells short stints from one long one).  Stores @state (sequentially
 * consistent), full barrier, re-reads @pending, @blocked and @flags.  If an
 * unblocked signal is pending or TF_KICKED is set, stores RUNNING_IN_HOST
 * back and refuses.  Nothing is consumed: the
 * runtime takes pending signals and flags itself.
 *
 * Return: 0 if the thread is now in @state, 1 if it refused (and is back in
 * RUNNING_IN_HOST).
 */
static inline int sigwake_try_enter(struct sigwake_thread_block *b,
				    __u32 state, __u64 *sigs, __u32 *flags)
{
	__u64 pend, blk;
	__u32 fl;

	/*
	 * A new guest stint: bump @entry_seq (the runtime is its only writer)
	 * before publishing the state, so a PREEMPT sample that sees
	 * RUNNING_IN_GUEST never pairs it with the previous stint's number.
	 */
	if (state == SIGWAKE_RUNNING_IN_GUEST)
		__atomic_store_n(&b->entry_seq,
				 __atomic_load_n(&b->entry_seq, __ATOMIC_RELAXED) + 1,
				 __ATOMIC_RELAXED);
	__atomic_store_n(&b->state, state, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	pend = __atomic_load_n(&b->pending, __ATOMIC_SEQ_CST);
	blk = __atomic_load_n(&b->blocked, __ATOMIC_RELAXED);
	fl = __atomic_load_n(&b->flags, __ATOMIC_SEQ_CST);
	pend &= ~blk;
	if (sigs)
		*sigs = pend;
	if (flags)
		*flags = fl;
	if (!pend && !(fl & SIGWAKE_TF_KICKED))
		return 0;
	__atomic_store_n(&b->state, SIGWAKE_RUNNING_IN_HOST, __ATOMIC_RELEASE);
	return 1;
}

/**
 * SIGWAKE_ENTER_KICKED - sigwake_enter_guest()'s value for "refused: kicked"
 *
 * Returned when TF_KICKED refused the entry and no unblocked signal is
 * pending.  All ones, so it is never 0; the runtime does not need to tell it
 * from a signal set because it takes pending and flags after any refusal.
 */
#define SIGWAKE_ENTER_KICKED	(~(__u64)0)

static inline __u64 sigwake__enter(struct sigwake_thread_block *b, __u32 state)
{
	__u64 sigs;
	__u32 fl;

	if (!sigwake_try_enter(b, state, &sigs, &fl))
		return 0;
	return sigs ? sigs : SIGWAKE_ENTER_KICKED;
}

/**
 * sigwake_enter_guest() - enter guest code unless an event is pending
 * @b: the calling thread's block.
 *
 * The runtime's half of the Dekker handshake (see the DOC above): bump
 * @entry_seq, store RUNNING_IN_GUEST, full barrier, re-read pending &
 * ~blocked (and TF_KICKED).
 *
 * Return: 0 if the thread may now run guest code (state RUNNING_IN_GUEST;
 * call sigwake_leave_guest() when it comes back).  Otherwise the state is
 * RUNNING_IN_HOST again and the value is the set of pending unblocked
 * signals, or SIGWAKE_ENTER_KICKED if only TF_KICKED refused it: deliver
 * (sigwake_take_pending(), sigwake_take_flags()) and try again.
 */
static inline __u64 sigwake_enter_guest(struct sigwake_thread_block *b)
{
	return sigwake__enter(b, SIGWAKE_RUNNING_IN_GUEST);
}

/**
 * sigwake_leave_guest() - back to host code (store RUNNING_IN_HOST, release)
 * @b: the calling thread's block.
 */
static inline void sigwake_leave_guest(struct sigwake_thread_block *b)
{
	__atomic_store_n(&b->state, SIGWAKE_RUNNING_IN_HOST, __ATOMIC_RELEASE);
}

/**
 * sigwake_enter_syscall() - about to make an interruptible host syscall
 * @b: the calling thread's block.
 *
 * Same handshake as sigwake_enter_guest() with SIGWAKE_IN_SYSCALL: once it
 * returns 0, a POST kicks the thread with its kick signal, which interrupts
 * the host syscall (install the kick handler without SA_RESTART for that).
 * A kick that lands between this call and the syscall itself is the
 * classic race this cannot close on its own: the runtime must also check
 * the kick byte (or sigwake_kicked()) after the syscall returns EINTR, and
 * should prefer SIGWAKE_IOC_WAIT where it can.
 *
 * Return: as sigwake_enter_guest().
 */
static inline __u64 sigwake_enter_syscall(struct sigwake_thread_block *b)
{
	return sigwake__enter(b, SIGWAKE_IN_SYSCALL);
}

/**
 * sigwake_leave_syscall() - the host syscall returned (RUNNING_IN_HOST)
 * @b: the calling thread's block.
 */
static inline void sigwake_leave_syscall(struct sigwake_thread_block *b)
{
	__atomic_store_n(&b->state, SIGWAKE_RUNNING_IN_HOST, __ATOMIC_RELEASE);
}

/**
 * sigwake_take_pending() - take the pending signals the thread does not block
 * @b: the calling thread's block.
 *
 * Atomically clears and returns pending & ~blocked (CAS loop); blocked
 * signals stay pending for a later unblock.
 *
 * Return: the signals taken, bit (signo - 1); 0 if none.
 */
static inline __u64 sigwake_take_pending(struct sigwake_thread_block *b)
{
	__u64 old = __atomic_load_n(&b->pending, __ATOMIC_RELAXED);
	__u64 take;

	do {
		take = old & ~__atomic_load_n(&b->blocked, __ATOMIC_RELAXED);
		if (!take)
			return 0;
	} while (!__atomic_compare_exchange_n(&b->pending, &old, old & ~take,
					      0, __ATOMIC_ACQ_REL,
					      __ATOMIC_RELAXED));
	return take;
}

/**
 * sigwake_set_blocked() - set the guest signal mask
 * @b: the calling thread's block.
 * @mask: the new mask, bit (signo - 1).
 *
 * Stores @mask followed by a full barrier, so a POST that then reads the
 * old mask has already set its pending bit where sigwake_take_pending()
 * will find it.
 *
 * After unblocking signals, a runtime takes what became deliverable with
 * sigwake_take_pending(), and calls sigwake_poll() to receive the
 * process-directed signals that the kernel queued for the domain
 * (SIGWAKE_POST_QUEUED) while every thread blocked them: the kernel hands
 * those over only inside SIGWAKE_IOC_WAIT.
 *
 * Return: the previous mask.
 */
static inline __u64 sigwake_set_blocked(struct sigwake_thread_block *b,
					__u64 mask)
{
	__u64 old = __atomic_exchange_n(&b->blocked, mask, __ATOMIC_SEQ_CST);

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return old;
}

/**
 * sigwake_take_flags() - take and clear the kernel's flags
 * @b: the calling thread's block.
 *
 * Return: the SIGWAKE_TF_* bits that were set (atomic exchange with 0).
 */
static inline __u32 sigwake_take_flags(struct sigwake_thread_block *b)
{
	return __atomic_exchange_n(&b->flags, 0, __ATOMIC_ACQ_REL);
}

/**
 * sigwake_kicked() - is SIGWAKE_TF_KICKED set? (does not clear it)
 * @b: the thread's block.
 */
static inline int sigwake_kicked(const struct sigwake_thread_block *b)
{
	return !!(__atomic_load_n(&b->flags, __ATOMIC_ACQUIRE) &
		  SIGWAKE_TF_KICKED);
}

/**
 * sigwake_state() - the block's current state (enum sigwake_thread_state)
 * @b: any thread's block; another thread may read it to see whether its
 *	target sleeps, runs guest code, or runs host code.
 */
static inline __u32 sigwake_state(const struct sigwake_thread_block *b)
{
	return __atomic_load_n(&b->state, __ATOMIC_ACQUIRE);
}

/**
 * sigwake_wake_seq() - the block's wake counter
 * @b: any thread's block.
 */
static inline __u64 sigwake_wake_seq(const struct sigwake_thread_block *b)
{
	return __atomic_load_n(&b->wake_seq, __ATOMIC_ACQUIRE);
}

/**
 * sigwake_sigbit() - the pending/blocked bit of guest signal @signo
 * @signo: 1..SIGWAKE_NSIG.
 */
static inline __u64 sigwake_sigbit(int signo)
{
	return (__u64)1 << (signo - 1);
}

#ifdef __cplusplus
}
#endif

#endif /* LIBSIGWAKE_H */
