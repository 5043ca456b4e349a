// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libsigwake: the ioctl wrappers and the thread-block pool.
 *
 * Every entry point saves errno on entry and restores it before returning,
 * and reports failure as a negative errno value.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "libsigwake.h"

_Static_assert(sizeof(struct sigwake_thread_block) ==
	       SIGWAKE_THREAD_BLOCK_SIZE, "thread block size");
_Static_assert(__atomic_always_lock_free(sizeof(__u64), 0),
	       "64-bit atomics must be lock-free for the fast paths");

/*
 * The calling thread's registrations, newest first.  Initial-exec so that a
 * signal handler reads it with a plain TLS load (no __tls_get_addr, which
 * may allocate on first use in a dlopen()ed object).  Only the owning thread
 * changes the list; its signal handlers may read it at any point, so every
 * change is a single pointer store that leaves a consistent list.
 */
static __thread struct sigwake_self *sw_tls_head
	__attribute__((tls_model("initial-exec")));

/**
 * sw_ioctl() - ioctl(2) that returns -errno and leaves errno alone
 * @fd: the domain.
 * @cmd: the SIGWAKE_IOC_* command.
 * @arg: its argument struct.
 *
 * Return: the ioctl's non-negative result, or -errno.
 */
static int sw_ioctl(int fd, unsigned long cmd, void *arg)
{
	int saved = errno;
	int ret = ioctl(fd, cmd, arg);

	if (ret < 0)
		ret = -errno;
	errno = saved;
	return ret;
}

/*
 * The block pool.  Blocks are carved out of anonymous pages, 64 per 4 KiB
 * page, so that the threads of a runtime share few pages (the kernel pins
 * each distinct page once per domain and charges it to RLIMIT_MEMLOCK).  A
 * free block holds the free-list link in its first bytes; it is zeroed again
 * before it is handed out.  Pages are kept for reuse, never unmapped: the
 * pool only grows to the peak number of registered threads.
 */
struct sw_free_block {
	struct sw_free_block *next;
};

static pthread_mutex_t sw_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sw_free_block *sw_pool_free;

_Static_assert(sizeof(struct sw_free_block) <= SIGWAKE_THREAD_BLOCK_SIZE,
	       "free-list link fits in a block");

/**
 * sw_pool_grow() - add one page of blocks to the free list
 *
 * Called with sw_pool_lock held.
 *
 * Return: 0 or -ENOMEM.
 */
static int sw_pool_grow(void)
{
	long psz = sysconf(_SC_PAGESIZE);
	size_t size = psz > 0 ? (size_t)psz : 4096;
	size_t n = size / SIGWAKE_THREAD_BLOCK_SIZE;
	unsigned char *page;

	page = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		return -ENOMEM;
	/* Push in reverse so blocks are handed out in address order. */
	while (n--) {
		struct sw_free_block *fb;

		fb = (void *)(page + n * SIGWAKE_THREAD_BLOCK_SIZE);
		fb->next = sw_pool_free;
		sw_pool_free = fb;
	}
	return 0;
}

/**
 * sw_block_alloc() - take a zeroed, 64-byte aligned block from the pool
 *
 * Return: the block, or NULL if no memory.
 */
static struct sigwake_thread_block *sw_block_alloc(void)
{
	struct sw_free_block *fb = NULL;

	pthread_mutex_lock(&sw_pool_lock);
	if (sw_pool_free || sw_pool_grow() == 0) {
		fb = sw_pool_free;
		sw_pool_free = fb->next;
	}
	pthread_mutex_unlock(&sw_pool_lock);
	if (fb)
		memset(fb, 0, SIGWAKE_THREAD_BLOCK_SIZE);
	return (struct sigwake_thread_block *)fb;
}

/**
 * sw_block_free() - return a block the kernel no longer uses to the pool
 * @b: the block.
 */
static void sw_block_free(struct sigwake_thread_block *b)
{
	struct sw_free_block *fb = (struct sw_free_block *)b;

	memset(b, 0, sizeof(*b));
	pthread_mutex_lock(&sw_pool_lock);
	fb->next = sw_pool_free;
	sw_pool_free = fb;
	pthread_mutex_unlock(&sw_pool_lock);
}

/*
 * fork(2) while another thread holds the pool lock would leave the child's
 * copy locked for ever: take it around fork, release it on both sides.
 */
static void sw_pool_prepare(void)
{
	pthread_mutex_lock(&sw_pool_lock);
}

static void sw_pool_release(void)
{
	pthread_mutex_unlock(&sw_pool_lock);
}

__attribute__((constructor))
static void sw_init(void)
{
	pthread_atfork(sw_pool_prepare, sw_pool_release, sw_pool_release);
}

static int sw_gettid(void)
{
	return (int)syscall(SYS_gettid);
}

/**
 * sw_tls_unlink() - drop @self from the calling thread's list, if there
 * @self: a registration.
 *
 * One pointer store: a signal handler of this thread sees the list either
 * with or without @self, both consistent.
 */
static void sw_tls_unlink(struct sigwake_self *self)
{
	struct sigwake_self **pp = &sw_tls_head;

	while (*pp && *pp != self)
		pp = &(*pp)->next;
	if (*pp)
		__atomic_store_n(pp, self->next, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/**
 * sw_release() - unlink @self and give its memory back
 * @self: a registration the kernel no longer knows.
 */
static void sw_release(struct sigwake_self *self)
{
	if (self->tid == sw_gettid())
		sw_tls_unlink(self);
	sw_block_free(self->block);
	free(self);
}

int sigwake_open(void)
{
	int saved = errno;
	int fd = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		fd = -errno;
	errno = saved;
	return fd;
}

const char *sigwake_open_error(int err)
{
	switch (-err) {
	case ENOENT:
	case ENXIO:
	case ENODEV:
		return SIGWAKE_DEVICE " does not exist: the sigwake module is not loaded (modprobe sigwake; see README.md, \"Building and installing\")";
	case EACCES:
	case EPERM:
		return "permission denied on " SIGWAKE_DEVICE ": it should be mode 0666 (the udev rule 60-sigwake.rules is not installed?)";
	case ENOSPC:
		return "too many sigwake domains for this user (module parameter max_domains_per_user)";
	}
	return strerror(-err);
}

int sigwake_register(int fd, int kick_signo, volatile unsigned char *kick_addr,
		     struct sigwake_self **selfp)
{
	struct sigwake_register_args args;
	struct sigwake_self *self;
	int saved = errno;
	int ret;

	if (!selfp)
		return -EINVAL;
	*selfp = NULL;
	if (kick_signo < 0)
		return -EINVAL;
	self = calloc(1, sizeof(*self));
	if (!self) {
		errno = saved;
		return -ENOMEM;
	}
	self->block = sw_block_alloc();
	if (!self->block) {
		free(self);
		errno = saved;
		return -ENOMEM;
	}

	memset(&args, 0, sizeof(args));
	args.size = sizeof(args);
	args.block = (__u64)(uintptr_t)self->block;
	args.kick_addr = (__u64)(uintptr_t)kick_addr;
	args.kick_signo = (__u32)kick_signo;
	ret = sw_ioctl(fd, SIGWAKE_IOC_REGISTER, &args);
	if (ret < 0) {
		/* The kernel refused it: it never pinned the block. */
		sw_block_free(self->block);
		free(self);
		errno = saved;
		return ret;
	}

	self->fd = fd;
	self->handle = args.handle;
	self->kick_signo = kick_signo;
	self->kick_addr = kick_addr;
	self->tid = sw_gettid();
	self->next = sw_tls_head;
	/* Fully built before a signal handler of this thread can see it. */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&sw_tls_head, self, __ATOMIC_RELAXED);
	*selfp = self;
	errno = saved;
	return 0;
}

int sigwake_unregister_handle(int fd, __u32 handle)
{
	struct sigwake_unregister_args args = {
		.size = sizeof(args),
		.handle = handle,
	};

	return sw_ioctl(fd, SIGWAKE_IOC_UNREGISTER, &args);
}

/*
 * @revoked: SW_LIVE while registered; SW_ENDING while one thread runs the
 * UNREGISTER (sigwake_revoke() or the owner's sigwake_unregister()); SW_ENDED
 * once a revoke has ended it.  Whoever moves it from SW_LIVE runs the ioctl,
 * so the handle is unregistered once: a second UNREGISTER of the same
 * number could end a newer registration that reused it.
 */
enum { SW_LIVE, SW_ENDING, SW_ENDED };

/* Wait until no revoke is running the ioctl on @self; return the state. */
static int sw_revoke_settle(struct sigwake_self *self)
{
	int st;

	while ((st = __atomic_load_n(&self->revoked, __ATOMIC_ACQUIRE)) ==
	       SW_ENDING)
		sched_yield();
	return st;
}

/* Take the one right to end @self's registration (owner or supervisor). */
static int sw_claim_end(struct sigwake_self *self)
{
	int live = SW_LIVE;

	return __atomic_compare_exchange_n(&self->revoked, &live, SW_ENDING, 0,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

int sigwake_unregister(struct sigwake_self *self)
{
	int saved = errno;
	int ret;

	if (!self)
		return -EINVAL;
	if (!sw_claim_end(self)) {
		/* A supervisor revoked it: no ioctl, only the memory. */
		sw_revoke_settle(self);
		sw_release(self);
		errno = saved;
		return -ENOENT;
	}
	ret = sigwake_unregister_handle(self->fd, self->handle);
	if (ret == 0 || ret == -ENOENT || ret == -ESRCH) {
		sw_release(self);
	} else {
		__atomic_store_n(&self->revoked, SW_LIVE, __ATOMIC_RELEASE);
	}
	errno = saved;
	return ret;
}

int sigwake_revoke(struct sigwake_self *self)
{
	int saved = errno;
	int ret;

	if (!self)
		return -EINVAL;
	if (!sw_claim_end(self))
		return -ENOENT;
	ret = sigwake_unregister_handle(self->fd, self->handle);
	/* After this store the owner may free @self: do not touch it. */
	if (ret == 0 || ret == -ENOENT || ret == -ESRCH)
		__atomic_store_n(&self->revoked, SW_ENDED, __ATOMIC_RELEASE);
	else
		__atomic_store_n(&self->revoked, SW_LIVE, __ATOMIC_RELEASE);
	errno = saved;
	return ret == -ESRCH ? 0 : ret;
}

void sigwake_forget(struct sigwake_self *self)
{
	int saved = errno;

	if (self) {
		sw_revoke_settle(self);
		sw_release(self);
	}
	errno = saved;
}

struct sigwake_self *sigwake_self(void)
{
	return __atomic_load_n(&sw_tls_head, __ATOMIC_RELAXED);
}

struct sigwake_self *sigwake_self_in(int fd)
{
	struct sigwake_self *s = __atomic_load_n(&sw_tls_head,
						 __ATOMIC_RELAXED);

	while (s && s->fd != fd)
		s = s->next;
	return s;
}

int sigwake_wait(int fd, __u32 wq, __u32 expected, __s64 timeout_ns,
		 __u32 flags)
{
	struct sigwake_wait_args args = {
		.size = sizeof(args),
		.flags = flags,
		.wq = wq,
		.expected = expected,
		.timeout_ns = timeout_ns,
	};
	int ret;

	ret = sw_ioctl(fd, SIGWAKE_IOC_WAIT, &args);
	if (ret < 0)
		return ret;
	return args.reason ? (int)args.reason : ret;
}

/* A WAIT argument struct (version 1: with descriptors; no hand-off). */
static struct sigwake_wait_args sw_wait_args(__u32 wq, __u32 expected,
					     __s64 timeout_ns, __u32 flags,
					     struct sigwake_pollfd *fds,
					     __u32 nfds)
{
	struct sigwake_wait_args a = {
		.size = sizeof(a),
		.flags = flags,
		.wq = wq,
		.expected = expected,
		.timeout_ns = timeout_ns,
		.fds = (__u64)(uintptr_t)fds,
		.nfds = nfds,
	};

	return a;
}

int sigwake_wait_take(struct sigwake_self *self, __u32 wq, __u32 expected,
		      __s64 timeout_ns, __u32 flags,
		      struct sigwake_pollfd *fds, __u32 nfds,
		      struct sigwake_taken *taken)
{
	/*
	 * One struct for every retry: after EINTR the kernel has rewritten a
	 * relative timeout in it as the absolute deadline (and set
	 * SIGWAKE_WAIT_ABSTIME), so a retry keeps the original deadline.
	 */
	struct sigwake_wait_args args = sw_wait_args(wq, expected, timeout_ns,
						     flags, fds, nfds);
	int ret;

	if (!self || !taken)
		return -EINVAL;
	do
		ret = sw_ioctl(self->fd, SIGWAKE_IOC_WAIT, &args);
	while (ret == -EINTR);
	if (ret >= 0)
		ret = (int)args.reason;
	taken->signals = sigwake_take_pending(self->block);
	taken->flags = sigwake_take_flags(self->block);
	taken->pad = 0;
	/*
	 * Only SIGWAKE_IOC_KICK wakes a sleeper with REASON_KICK (a preemption
	 * never ends a sleep, a POST wakes with REASON_SIGNAL), and it sets
	 * no flag then: say so in the flags, as for a kick that found the
	 * thread awake.
	 */
	if (ret == SIGWAKE_REASON_KICK && !(taken->flags & SIGWAKE_TF_KICKED))
		taken->flags |= SIGWAKE_TF_KICKED | SIGWAKE_TF_KICK_REQUESTED;
	return ret;
}

int sigwake_poll(int fd)
{
	return sigwake_wait(fd, SIGWAKE_NO_WQ, 0, 0, 0);
}

int sigwake_wake(int fd, __u32 wq, __u32 nr)
{
	struct sigwake_wake_args args = {
		.size = sizeof(args),
		.wq = wq,
		.nr = nr,
	};
	int ret;

	ret = sw_ioctl(fd, SIGWAKE_IOC_WAKE, &args);
	if (ret < 0)
		return ret;
	return (int)args.woken;
}

int sigwake_handoff(int fd, __u32 wake_wq, __u32 wake_nr, __u32 wq,
		    __u32 expected, __s64 timeout_ns, __u32 flags,
		    __u32 *woken)
{
	struct sigwake_wait_args args = sw_wait_args(wq, expected, timeout_ns,
						     flags, NULL, 0);
	int ret;

	/* @woken stays 0 unless the kernel writes it: after its wake. */
	args.flags |= SIGWAKE_WAIT_WAKE_FIRST;
	args.wake_wq = wake_wq;
	args.wake_nr = wake_nr;
	ret = sw_ioctl(fd, SIGWAKE_IOC_WAIT, &args);
	if (woken)
		*woken = args.woken;
	if (ret < 0)
		return ret;
	return args.reason ? (int)args.reason : ret;
}

int sigwake_post(int fd, __u32 target, int signo, __u32 *handle_out)
{
	struct sigwake_post_args args = {
		.size = sizeof(args),
		.target = target,
		.signo = (__u32)signo,
	};
	int ret;

	ret = sw_ioctl(fd, SIGWAKE_IOC_POST, &args);
	if (ret < 0)
		return ret;
	if (handle_out)
		*handle_out = args.handle;
	return args.outcome ? (int)args.outcome : ret;
}

int sigwake_kick(int fd, __u32 target)
{
	struct sigwake_kick_args args = {
		.size = sizeof(args),
		.target = target,
	};
	int ret;

	ret = sw_ioctl(fd, SIGWAKE_IOC_KICK, &args);
	if (ret < 0)
		return ret;
	return args.outcome ? (int)args.outcome : ret;
}

int sigwake_kick_wait(int fd, __u32 target, __s64 timeout_ns)
{
	struct sigwake_kick_args args = {
		.size = sizeof(args),
		.flags = SIGWAKE_KICK_WAIT,
		.target = target,
		.timeout_ns = timeout_ns,
	};
	int ret;

	ret = sw_ioctl(fd, SIGWAKE_IOC_KICK, &args);
	if (ret < 0)
		return ret;
	return args.outcome ? (int)args.outcome : ret;
}

int sigwake_wait_fds(int fd, __u32 wq, __u32 expected, __s64 timeout_ns,
		     __u32 flags, struct sigwake_pollfd *fds, __u32 nfds)
{
	struct sigwake_wait_args args = sw_wait_args(wq, expected, timeout_ns,
						     flags, fds, nfds);
	int ret;

	ret = sw_ioctl(fd, SIGWAKE_IOC_WAIT, &args);
	if (ret < 0)
		return ret;
	return (int)args.reason;
}

static int sw_forward(int fd, __u32 flags, int host_signo, int guest_signo,
		      __u32 target)
{
	struct sigwake_forward_args args = {
		.size = sizeof(args),
		.flags = flags,
		.host_signo = (__u32)host_signo,
		.guest_signo = (__u32)guest_signo,
		.target = target,
	};

	return sw_ioctl(fd, SIGWAKE_IOC_FORWARD, &args);
}

int sigwake_forward(int fd, int host_signo, int guest_signo, __u32 target)
{
	return sw_forward(fd, 0, host_signo, guest_signo, target);
}

int sigwake_forward_remove(int fd, int host_signo)
{
	return sw_forward(fd, SIGWAKE_FORWARD_REMOVE, host_signo, 0, 0);
}

int sigwake_preempt(int fd, __u32 target, __u64 budget_ns)
{
	struct sigwake_preempt_args args = {
		.size = sizeof(args),
		.target = target,
		.budget_ns = budget_ns,
	};

	return sw_ioctl(fd, SIGWAKE_IOC_PREEMPT, &args);
}

int sigwake_wq_create(int fd, __u32 *word)
{
	struct sigwake_wq_create_args args = {
		.size = sizeof(args),
		.word = (__u64)(uintptr_t)word,
	};
	int ret;

	ret = sw_ioctl(fd, SIGWAKE_IOC_WQ_CREATE, &args);
	if (ret < 0)
		return ret;
	return args.handle ? (int)args.handle : ret;
}

int sigwake_wq_destroy(int fd, __u32 wq)
{
	struct sigwake_wq_destroy_args args = {
		.size = sizeof(args),
		.handle = wq,
	};

	return sw_ioctl(fd, SIGWAKE_IOC_WQ_DESTROY, &args);
}

const char *sigwake_reason_name(int reason)
{
	switch (reason) {
	case SIGWAKE_REASON_WAKE:
		return "wake";
	case SIGWAKE_REASON_SIGNAL:
		return "signal";
	case SIGWAKE_REASON_KICK:
		return "kick";
	case SIGWAKE_REASON_TIMEOUT:
		return "timeout";
	case SIGWAKE_REASON_FD:
		return "fd";
	}
	return "?";
}

const char *sigwake_outcome_name(int outcome)
{
	switch (outcome) {
	case SIGWAKE_POST_RECORDED:
		return "recorded";
	case SIGWAKE_POST_WOKEN:
		return "woken";
	case SIGWAKE_POST_KICKED:
		return "kicked";
	case SIGWAKE_POST_QUEUED:
		return "queued";
	}
	return "?";
}
