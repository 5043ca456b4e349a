/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers for the sigwake selftests.
 *
 * Every test talks to /dev/sigwake with raw ioctls built from the uapi header
 * (uapi/linux/sigwake.h), so the tests exercise exactly the published
 * contract and nothing a library might paper over.  The helpers return 0 or
 * -errno and never hide an error.
 *
 * The thread block is shared with the kernel; the tests access it with the
 * __atomic builtins, sequentially consistent unless a weaker order is
 * obviously enough.
 *
 * Environment:
 *   SIGWAKE_ALLOW_SKIP=1   a missing /dev/sigwake or module parameter is a
 *                          SKIP instead of a FAIL (for hosts without the
 *                          module; inside the test VM it must be a FAIL).
 *   SIGWAKE_RACE_ITERS=N   iterations of the lost-event races (race_test:
 *                          exactly N; stress_test: N divided per race).
 *   SIGWAKE_RACE_SECONDS=S race_test without SIGWAKE_RACE_ITERS: go on
 *                          past 100,000 iterations, up to 1,000,000, for
 *                          S seconds (90; in the test VM from
 *                          sigwake.race_seconds=S on its command line);
 *                          stress_test's races: stop after S seconds if
 *                          that is less than their own 10-60 s.
 */
#ifndef SIGWAKE_TEST_H
#define SIGWAKE_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <linux/sigwake.h>

#include "kselftest_harness.h"

/*
 * Under TCG emulation with a KASAN kernel everything is 10-50x slower than
 * native: give every test two minutes before the harness kills it.  The
 * tests bound their own waits far below that.
 */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 120

/* How long to wait for something that must happen (ms). */
#define SW_LONG_MS	20000
/* A WAIT timeout that must never expire in a passing test (ns). */
#define SW_WATCHDOG_NS	(10LL * 1000 * 1000 * 1000)

#define SW_NSEC_PER_MSEC	1000000LL
#define SW_NSEC_PER_SEC		1000000000LL

/* The guest signal most tests post; any of 1..64 would do. */
#define SW_SIG		10
#define SW_BIT(signo)	(1ull << ((signo) - 1))

/* A kernel address that no user pointer may reach (x86-64 direct map). */
#define SW_KERNEL_ADDR	0xffff888000000000ull

#define SW_LOAD(p)	__atomic_load_n((p), __ATOMIC_SEQ_CST)
#define SW_STORE(p, v)	__atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define SW_XCHG(p, v)	__atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#define SW_ADD(p, v)	__atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)
#define SW_AND(p, v)	__atomic_and_fetch((p), (v), __ATOMIC_SEQ_CST)

static inline int64_t sw_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * SW_NSEC_PER_SEC + ts.tv_nsec;
}

static inline pid_t sw_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static inline void sw_sleep_ms(int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * SW_NSEC_PER_MSEC,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * A spin-loop body.  Deliberately not PAUSE: QEMU's TCG leaves the
 * translated block on every PAUSE, which makes a spin loop thousands of
 * times slower under emulation, where these tests run.
 */
static inline void sw_cpu_relax(void)
{
	__asm__ __volatile__("" ::: "memory");
}

/*
 * SW_POLL(cond, ms): re-evaluate cond until it is true (yields true) or ms
 * milliseconds passed (yields false).  Yields the CPU between tries: under
 * TCG the other vCPU, or the only one, has to make progress.
 */
#define SW_POLL(cond, ms) ({						\
	int64_t __sw_end = sw_now_ns() + (int64_t)(ms) * SW_NSEC_PER_MSEC; \
	unsigned int __sw_i = 0;					\
	bool __sw_ok;							\
	for (;;) {							\
		if (cond) {						\
			__sw_ok = true;					\
			break;						\
		}							\
		if (sw_now_ns() > __sw_end) {				\
			__sw_ok = false;				\
			break;						\
		}							\
		if (__sw_i++ < 100)					\
			sched_yield();					\
		else							\
			usleep(200);					\
	}								\
	__sw_ok;							\
})

static inline bool sw_allow_skip(void)
{
	const char *s = getenv("SIGWAKE_ALLOW_SKIP");

	return s && *s && strcmp(s, "0");
}

/*
 * Open a domain.  A missing device fails the test unless SIGWAKE_ALLOW_SKIP
 * is set: inside the test VM the module is loaded and the device must exist.
 * Works in FIXTURE_SETUP too (a skip there exits the test child, so the test
 * body does not run on a missing device).
 */
#define SW_OPEN_DOMAIN(fdvar) do {					\
	(fdvar) = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);		\
	if ((fdvar) < 0 && sw_allow_skip()) {				\
		SKIP({ fflush(NULL); _exit(255); },			\
		     "cannot open " SIGWAKE_DEVICE ": %s",		\
		     strerror(errno));					\
	}								\
	ASSERT_LE(0, (fdvar)) {						\
		TH_LOG("cannot open " SIGWAKE_DEVICE ": %s "		\
		       "(set SIGWAKE_ALLOW_SKIP=1 where the module is not loaded)", \
		       strerror(errno));				\
	}								\
} while (0)

/* Raw ioctl: 0 on success (whatever non-negative value it returned), -errno. */
static inline int sw_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

static inline int sw_register(int fd, void *block, void *kick_addr,
			      int kick_signo, __u32 *handle)
{
	struct sigwake_register_args a = {
		.size = sizeof(a),
		.block = (__u64)(uintptr_t)block,
		.kick_addr = (__u64)(uintptr_t)kick_addr,
		.kick_signo = (__u32)kick_signo,
	};
	int ret = sw_ioctl(fd, SIGWAKE_IOC_REGISTER, &a);

	if (!ret && handle)
		*handle = a.handle;
	return ret;
}

static inline int sw_unregister(int fd, __u32 handle)
{
	struct sigwake_unregister_args a = {
		.size = sizeof(a),
		.handle = handle,
	};

	return sw_ioctl(fd, SIGWAKE_IOC_UNREGISTER, &a);
}

static inline int sw_wait(int fd, __u32 wq, __u32 expected, __s64 timeout_ns,
			  __u32 flags, __u32 *reason)
{
	struct sigwake_wait_args a = {
		.size = sizeof(a),
		.flags = flags,
		.wq = wq,
		.expected = expected,
		.timeout_ns = timeout_ns,
	};
	int ret = sw_ioctl(fd, SIGWAKE_IOC_WAIT, &a);

	if (!ret && reason)
		*reason = a.reason;
	return ret;
}

static inline int sw_wake(int fd, __u32 wq, __u32 nr, __u32 *woken)
{
	struct sigwake_wake_args a = {
		.size = sizeof(a),
		.wq = wq,
		.nr = nr,
	};
	int ret = sw_ioctl(fd, SIGWAKE_IOC_WAKE, &a);

	if (!ret && woken)
		*woken = a.woken;
	return ret;
}

/* What sw_handoff() leaves in *woken when the kernel did not write it. */
#define SW_WOKEN_UNSET	0xdeadbeefu

/*
 * A hand-off: WAIT with SIGWAKE_WAIT_WAKE_FIRST, waking up to @wake_nr on
 * @wake_wq first.  *woken gets the struct's @woken whatever the result:
 * SW_WOKEN_UNSET unless the kernel wrote it (the wake ran).
 */
static inline int sw_handoff(int fd, __u32 wake_wq, __u32 wake_nr, __u32 wq,
			     __u32 expected, __s64 timeout_ns, __u32 *reason,
			     __u32 *woken)
{
	struct sigwake_wait_args a = {
		.size = sizeof(a),
		.flags = SIGWAKE_WAIT_WAKE_FIRST,
		.wq = wq,
		.expected = expected,
		.timeout_ns = timeout_ns,
		.wake_wq = wake_wq,
		.wake_nr = wake_nr,
		.woken = SW_WOKEN_UNSET,
	};
	int ret = sw_ioctl(fd, SIGWAKE_IOC_WAIT, &a);

	if (!ret && reason)
		*reason = a.reason;
	if (woken)
		*woken = a.woken;
	return ret;
}

static inline int sw_post(int fd, __u32 target, __u32 signo, __u32 *handle,
			  __u32 *outcome)
{
	struct sigwake_post_args a = {
		.size = sizeof(a),
		.target = target,
		.signo = signo,
	};
	int ret = sw_ioctl(fd, SIGWAKE_IOC_POST, &a);

	if (!ret && handle)
		*handle = a.handle;
	if (!ret && outcome)
		*outcome = a.outcome;
	return ret;
}

static inline int sw_kick(int fd, __u32 target, __u32 *outcome)
{
	struct sigwake_kick_args a = {
		.size = sizeof(a),
		.target = target,
	};
	int ret = sw_ioctl(fd, SIGWAKE_IOC_KICK, &a);

	if (!ret && outcome)
		*outcome = a.outcome;
	return ret;
}

/* KICK with @flags (SIGWAKE_KICK_WAIT) and @timeout_ns. */
static inline int sw_kick_wait(int fd, __u32 target, __u32 flags,
			       __s64 timeout_ns, __u32 *outcome)
{
	struct sigwake_kick_args a = {
		.size = sizeof(a),
		.flags = flags,
		.target = target,
		.timeout_ns = timeout_ns,
	};
	int ret = sw_ioctl(fd, SIGWAKE_IOC_KICK, &a);

	if (!ret && outcome)
		*outcome = a.outcome;
	return ret;
}

static inline int sw_wq_create(int fd, void *word, __u32 *handle)
{
	struct sigwake_wq_create_args a = {
		.size = sizeof(a),
		.word = (__u64)(uintptr_t)word,
	};
	int ret = sw_ioctl(fd, SIGWAKE_IOC_WQ_CREATE, &a);

	if (!ret && handle)
		*handle = a.handle;
	return ret;
}

static inline int sw_wq_destroy(int fd, __u32 handle)
{
	struct sigwake_wq_destroy_args a = {
		.size = sizeof(a),
		.handle = handle,
	};

	return sw_ioctl(fd, SIGWAKE_IOC_WQ_DESTROY, &a);
}

/*
 * Zeroed, page-aligned memory for n thread blocks (64-byte aligned each).
 * Never freed: every test runs in its own child process.
 */
static inline struct sigwake_thread_block *sw_alloc_blocks(unsigned int n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t len = ((size_t)n * SIGWAKE_THREAD_BLOCK_SIZE + pg - 1) / pg * pg;
	void *p = mmap(NULL, len ? len : pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* A fresh zeroed page (word, kick byte, scratch). */
static inline void *sw_alloc_page(void)
{
	void *p = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE),
		       PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* An address that was mapped a moment ago and is not any more. */
static inline void *sw_unmapped_addr(void)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, 3 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	/* keep the guard pages around it so nothing else lands there */
	munmap((char *)p + pg, pg);
	return (char *)p + pg;
}

/* A page mapped read-only (zeroed). */
static inline void *sw_readonly_page(void)
{
	void *p = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_READ,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* --- thread block fast paths (what libsigwake does, written out) --- */

static inline __u32 sw_state(struct sigwake_thread_block *b)
{
	return SW_LOAD(&b->state);
}

static inline void sw_set_state(struct sigwake_thread_block *b, __u32 s)
{
	SW_STORE(&b->state, s);
}

static inline __u64 sw_take_pending(struct sigwake_thread_block *b)
{
	return SW_XCHG(&b->pending, 0);
}

static inline void sw_clear_flags(struct sigwake_thread_block *b, __u32 m)
{
	SW_AND(&b->flags, ~m);
}

/*
 * The runtime half of the Dekker handshake: publish RUNNING_IN_GUEST, full
 * barrier, re-read pending & ~blocked and TF_KICKED.  Returns false (and is
 * back in host) if something is there; true means "in guest code now".
 */
static inline bool sw_enter_guest(struct sigwake_thread_block *b)
{
	SW_STORE(&b->state, SIGWAKE_RUNNING_IN_GUEST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if ((SW_LOAD(&b->pending) & ~SW_LOAD(&b->blocked)) ||
	    (SW_LOAD(&b->flags) & SIGWAKE_TF_KICKED)) {
		SW_STORE(&b->state, SIGWAKE_RUNNING_IN_HOST);
		return false;
	}
	return true;
}

/* --- a registered helper thread that optionally runs one WAIT --- */

struct sw_thread {
	/* set by the test before sw_thread_start() */
	int fd;
	struct sigwake_thread_block *blk;
	void *kick_addr;
	int kick_signo;
	__u64 blocked;		/* stored in blk->blocked before registering */
	bool set_state;		/* store .state into the block after registering */
	__u32 state;
	bool do_wait;		/* run one WAIT after registering */
	__u32 wq;		/* SIGWAKE_NO_WQ for none */
	__u32 expected;
	__u32 wait_flags;
	__s64 timeout_ns;
	sigset_t *sigmask;	/* if set: pthread_sigmask(SIG_SETMASK) first */

	/* results */
	pthread_t th;
	pid_t tid;
	int reg_err;
	__u32 handle;
	int registered;		/* atomic: registration attempted */
	int wait_err;		/* 0 or -errno of the WAIT */
	struct sigwake_wait_args args;	/* the WAIT struct after the call */
	__u64 seq_before, seq_after, pending_after;
	__u32 state_after;
	int64_t t_start, t_end;
	int waiting;		/* atomic: about to enter WAIT */
	int done;		/* atomic: WAIT returned */
	int release;		/* atomic: the test lets the thread exit */
	bool unregister_at_exit;
};

static void *sw_thread_fn(void *arg)
{
	struct sw_thread *t = arg;

	if (t->sigmask)
		pthread_sigmask(SIG_SETMASK, t->sigmask, NULL);
	t->tid = sw_gettid();
	if (t->blk)
		SW_STORE(&t->blk->blocked, t->blocked);
	t->reg_err = sw_register(t->fd, t->blk, t->kick_addr, t->kick_signo,
				 &t->handle);
	if (!t->reg_err && t->set_state)
		sw_set_state(t->blk, t->state);
	SW_STORE(&t->registered, 1);

	if (!t->reg_err && t->do_wait) {
		t->args = (struct sigwake_wait_args){
			.size = sizeof(t->args),
			.flags = t->wait_flags,
			.wq = t->wq,
			.expected = t->expected,
			.timeout_ns = t->timeout_ns,
		};
		t->seq_before = SW_LOAD(&t->blk->wake_seq);
		SW_STORE(&t->waiting, 1);
		t->t_start = sw_now_ns();
		t->wait_err = sw_ioctl(t->fd, SIGWAKE_IOC_WAIT, &t->args);
		t->t_end = sw_now_ns();
		t->state_after = sw_state(t->blk);
		t->seq_after = SW_LOAD(&t->blk->wake_seq);
		t->pending_after = SW_LOAD(&t->blk->pending);
	}
	SW_STORE(&t->done, 1);

	while (!SW_LOAD(&t->release))
		usleep(1000);
	if (!t->reg_err && t->unregister_at_exit)
		sw_unregister(t->fd, t->handle);
	return NULL;
}

/* Defaults: own block, no kick, WAIT on no queue with the watchdog timeout. */
static inline void sw_thread_init(struct sw_thread *t, int fd,
				  struct sigwake_thread_block *blk)
{
	memset(t, 0, sizeof(*t));
	t->fd = fd;
	t->blk = blk;
	t->wq = SIGWAKE_NO_WQ;
	t->timeout_ns = SW_WATCHDOG_NS;
}

/* Start the thread and wait until it tried to register: 0 or -errno. */
static inline int sw_thread_start(struct sw_thread *t)
{
	int err = pthread_create(&t->th, NULL, sw_thread_fn, t);

	if (err)
		return -err;
	if (!SW_POLL(SW_LOAD(&t->registered), SW_LONG_MS))
		return -ETIMEDOUT;
	return t->reg_err;
}

/* Let the thread exit and join it. */
static inline void sw_thread_finish(struct sw_thread *t)
{
	SW_STORE(&t->release, 1);
	pthread_join(t->th, NULL);
}

/* Wait until the thread sleeps in WAIT (its block says WAITING). */
static inline bool sw_thread_is_waiting(struct sw_thread *t, int ms)
{
	return SW_POLL(SW_LOAD(&t->waiting) &&
		       sw_state(t->blk) == SIGWAKE_WAITING, ms);
}

static inline bool sw_thread_done(struct sw_thread *t, int ms)
{
	return SW_POLL(SW_LOAD(&t->done), ms);
}

/* --- passing a descriptor over a unix socket (SCM_RIGHTS) --- */

union sw_fd_cmsg {
	char buf[CMSG_SPACE(sizeof(int))];
	struct cmsghdr align;
};

/* Send @fd over @sock: 0 or -errno. */
static inline int sw_send_fd(int sock, int fd)
{
	char data = 'x';
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	union sw_fd_cmsg u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	memset(u.buf, 0, sizeof(u.buf));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

/* Receive a descriptor from @sock: the new fd, or -1. */
static inline int sw_recv_fd(int sock)
{
	char data;
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	union sw_fd_cmsg u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* --- the module's live-object counts (debugfs) --- */

#define SW_OBJECTS	"/sys/kernel/debug/sigwake/objects"

enum {
	SW_OBJ_DOMAINS, SW_OBJ_THREADS, SW_OBJ_QUEUES, SW_OBJ_PINNED_PAGES,
	SW_OBJ_PREEMPT_WATCHES, SW_OBJ_COUNT
};

static const char *const sw_obj_names[SW_OBJ_COUNT] = {
	"domains", "threads", "queues", "pinned_pages", "preempt_watches",
};

/* The live counts (-1 for one the file lacks); false without the file. */
static inline bool sw_read_objects(long v[SW_OBJ_COUNT])
{
	FILE *f = fopen(SW_OBJECTS, "re");
	char name[32];
	long val;
	int i;

	for (i = 0; i < SW_OBJ_COUNT; i++)
		v[i] = -1;
	if (!f)
		return false;
	while (fscanf(f, "%31s %ld", name, &val) == 2)
		for (i = 0; i < SW_OBJ_COUNT; i++)
			if (!strcmp(name, sw_obj_names[i]))
				v[i] = val;
	fclose(f);
	return true;
}

/* --- userfaultfd: hold an ioctl in a user page fault --- */

#include <poll.h>
#include <linux/userfaultfd.h>

/*
 * One page whose first touch stalls in userfaultfd until the test fills it:
 * the way to stop the kernel inside an ioctl at a chosen point (the copy of
 * an argument array, the pinning of a block).  Faults from kernel code need
 * root (or vm.unprivileged_userfaultfd=1).
 */
struct sw_uffd {
	int fd;
	void *page;
	size_t size;
};

/* 0, or -errno: the caller SKIPs on -ENOSYS, -EPERM, -EINVAL. */
static inline int sw_uffd_open(struct sw_uffd *u)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg;
	int err;

	u->size = (size_t)sysconf(_SC_PAGESIZE);
	u->page = MAP_FAILED;
	u->fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (u->fd < 0)
		return -errno;
	if (ioctl(u->fd, UFFDIO_API, &api))
		goto err;
	u->page = mmap(NULL, u->size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (u->page == MAP_FAILED)
		goto err;
	reg = (struct uffdio_register){
		.range = { .start = (unsigned long)u->page, .len = u->size },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	if (ioctl(u->fd, UFFDIO_REGISTER, &reg))
		goto err;
	return 0;
err:
	err = -errno;
	if (u->page != MAP_FAILED)
		munmap(u->page, u->size);
	close(u->fd);
	u->fd = -1;
	return err;
}

/* Wait up to @ms for a thread to fault on the page. */
static inline bool sw_uffd_wait_fault(struct sw_uffd *u, int ms)
{
	struct pollfd p = { .fd = u->fd, .events = POLLIN };
	struct uffd_msg msg;

	if (poll(&p, 1, ms) != 1)
		return false;
	return read(u->fd, &msg, sizeof(msg)) == sizeof(msg) &&
	       msg.event == UFFD_EVENT_PAGEFAULT;
}

/* Fill the page with @src (a page), which lets the faulting thread on. */
static inline int sw_uffd_fill(struct sw_uffd *u, const void *src)
{
	struct uffdio_copy c = {
		.dst = (unsigned long)u->page,
		.src = (unsigned long)src,
		.len = u->size,
	};

	return ioctl(u->fd, UFFDIO_COPY, &c) ? -errno : 0;
}

static inline void sw_uffd_close(struct sw_uffd *u)
{
	if (u->fd < 0)
		return;
	munmap(u->page, u->size);
	close(u->fd);
	u->fd = -1;
}

/* --- races --- */

/* SIGWAKE_RACE_ITERS (default 100000) divided by div, at least 1. */
static inline unsigned long sw_race_iters(unsigned long div)
{
	const char *s = getenv("SIGWAKE_RACE_ITERS");
	unsigned long n = s && *s ? strtoul(s, NULL, 0) : 100000;

	n /= div;
	return n ? n : 1;
}

static inline uint64_t sw_xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* A random short delay: none, a few spins, more spins, or a yield. */
static inline void sw_random_delay(uint64_t *rng)
{
	uint64_t r = sw_xorshift(rng);
	unsigned int n;

	switch (r & 3) {
	case 0:
		break;
	case 1:
		for (n = (r >> 8) & 63; n; n--)
			sw_cpu_relax();
		break;
	case 2:
		for (n = (r >> 8) & 4095; n; n--)
			sw_cpu_relax();
		break;
	case 3:
		sched_yield();
		break;
	}
}

/*
 * Spin until *p == want.  False if *stop became non-zero first (unless *p
 * got there too) or after 30 s without it.  Spins, then yields.
 */
static inline bool sw_await_ulong(unsigned long *p, unsigned long want,
				  int *stop)
{
	int64_t end = 0;
	unsigned int i;

	for (;;) {
		for (i = 0; i < 2000; i++) {
			if (SW_LOAD(p) == want)
				return true;
			sw_cpu_relax();
		}
		if (stop && SW_LOAD(stop))
			return SW_LOAD(p) == want;
		if (!end)
			end = sw_now_ns() + 30 * SW_NSEC_PER_SEC;
		else if (sw_now_ns() > end)
			return false;
		sched_yield();
	}
}

/* --- CPUs --- */

/* Pin the calling thread to @cpu: 0 or -errno. */
static inline int sw_pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/*
 * The first two CPUs the process may run on, in *a and *b: the number
 * found (0, 1 or 2; with one, both are that one).
 */
static inline int sw_two_cpus(int *a, int *b)
{
	cpu_set_t set;
	int cpu, n = 0;

	*a = *b = 0;
	if (sched_getaffinity(0, sizeof(set), &set))
		return 0;
	for (cpu = 0; cpu < CPU_SETSIZE && n < 2; cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		if (n++ == 0)
			*a = *b = cpu;
		else
			*b = cpu;
	}
	return n;
}

/* Milliseconds since @t0 (a sw_now_ns() value), for the logs. */
static inline double sw_ms_since(int64_t t0)
{
	return (double)(sw_now_ns() - t0) / 1e6;
}

/* Pin task @tid (0: the caller) to @cpu: 0 or -errno. */
static inline int sw_pin_tid(pid_t tid, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(tid, sizeof(set), &set) ? -errno : 0;
}

/*
 * SW_DOMAIN_FIXTURE(name, nblocks): the fixture of the race tests, a domain
 * (self->fd), @nblocks zeroed thread blocks (self->blk) and a page of kick
 * bytes (self->kick), the domain closed after each test.
 */
#define SW_DOMAIN_FIXTURE(name, nblocks)				\
FIXTURE(name) {								\
	int fd;								\
	struct sigwake_thread_block *blk;				\
	unsigned char *kick;						\
};									\
FIXTURE_SETUP(name)							\
{									\
	self->fd = -1;							\
	self->blk = sw_alloc_blocks(nblocks);				\
	ASSERT_NE(NULL, self->blk);					\
	self->kick = sw_alloc_page();					\
	ASSERT_NE(NULL, self->kick);					\
	SW_OPEN_DOMAIN(self->fd);					\
}									\
FIXTURE_TEARDOWN(name)							\
{									\
	if (self->fd >= 0)						\
		close(self->fd);					\
}

/*
 * A race's receiver: a registered thread that takes one event per
 * iteration and acknowledges it in @ack, which the poster awaits
 * (sw_await_ulong()) before its next event.  The test fills in the first
 * block of fields; the thread records, the test checks.
 */
struct sw_receiver {
	int fd;
	struct sigwake_thread_block *blk;
	unsigned long iters;
	bool host_signals;	/* sw_post_receiver(): see there */

	__u32 handle;
	unsigned long ack;	/* atomic: events received */
	int registered;		/* atomic */
	int done;		/* atomic */
	int stop;		/* atomic: the poster gave up */
	pid_t tid;
	/* results */
	unsigned long lost, errors, bad_reason, missing, eintr;
	int first_err;
	__u32 bad_reason_val;
};

/* In the receiver: register it; false (and first_err set) if that failed. */
static inline bool sw_receiver_register(struct sw_receiver *r,
					void *kick_addr, int kick_signo)
{
	r->tid = sw_gettid();
	r->first_err = sw_register(r->fd, r->blk, kick_addr, kick_signo,
				   &r->handle);
	SW_STORE(&r->registered, 1);
	return !r->first_err;
}

/*
 * SW_START_RECEIVER(th, fn, arg, r): start thread @fn(@arg), whose
 * receiver is @r, and wait until it registered, successfully.
 */
#define SW_START_RECEIVER(th, fn, arg, r) do {				\
	ASSERT_EQ(0, pthread_create(&(th), NULL, (fn), (arg)));		\
	ASSERT_TRUE(SW_POLL(SW_LOAD(&(r)->registered), SW_LONG_MS));	\
	ASSERT_EQ(0, (r)->first_err);					\
} while (0)

/*
 * The receiver of POST vs WAIT: one WAIT on no queue per iteration, with
 * the watchdog timeout, for one SW_SIG.  A timeout is a lost post.  With
 * @host_signals, host signals interrupt the WAIT: it is retried with the
 * same struct after EINTR (counted in @eintr), and a WAIT that returns
 * after the poster set @stop ends the loop unchecked.
 */
static inline void *sw_post_receiver(void *arg)
{
	struct sw_receiver *r = arg;
	unsigned long i;

	if (!sw_receiver_register(r, NULL, 0))
		goto out;
	for (i = 0; i < r->iters && !SW_LOAD(&r->stop); i++) {
		struct sigwake_wait_args a = {
			.size = sizeof(a),
			.wq = SIGWAKE_NO_WQ,
			.timeout_ns = SW_WATCHDOG_NS,
		};
		int err;

		while ((err = sw_ioctl(r->fd, SIGWAKE_IOC_WAIT, &a)) == -EINTR &&
		       r->host_signals)
			r->eintr++;
		if (err) {
			r->errors++;
			r->first_err = err;
			break;
		}
		if (r->host_signals && SW_LOAD(&r->stop))
			break;	/* the poster's time budget ran out */
		if (a.reason == SIGWAKE_REASON_TIMEOUT) {
			r->lost++;
			break;
		}
		if (a.reason != SIGWAKE_REASON_SIGNAL) {
			r->bad_reason++;
			r->bad_reason_val = a.reason;
		}
		if (!(sw_take_pending(r->blk) & SW_BIT(SW_SIG)))
			r->missing++;
		SW_STORE(&r->ack, i + 1);
	}
out:
	SW_STORE(&r->done, 1);
	return NULL;
}

/* --- host signals --- */

static inline int sw_sigaction(int sig, void (*fn)(int, siginfo_t *, void *),
			       int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO | flags;
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL);
}

/* --- module parameters --- */

#define SW_PARAM_DIR	"/sys/module/sigwake/parameters/"

/* Read a module parameter: its value, or -errno. */
static inline long sw_param_read(const char *name)
{
	char path[256], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), SW_PARAM_DIR "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	return strtol(buf, NULL, 0);
}

/* Write a module parameter: 0 or -errno. */
static inline int sw_param_write(const char *name, long val)
{
	char path[256], buf[64];
	ssize_t n;
	int fd, len;

	snprintf(path, sizeof(path), SW_PARAM_DIR "%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%ld\n", val);
	n = write(fd, buf, (size_t)len);
	if (n < 0)
		n = -errno;
	close(fd);
	return n == len ? 0 : (n < 0 ? (int)n : -EIO);
}

#endif /* SIGWAKE_TEST_H */
