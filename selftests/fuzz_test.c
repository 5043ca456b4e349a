// SPDX-License-Identifier: GPL-2.0
/*
 * Seeded ioctl fuzzing of /dev/sigwake.
 *
 * Four threads issue random ioctls on one domain: random commands (the ten
 * real ones, unknown numbers of the sigwake type, other types; mostly
 * with the direction and size bits of a published encoding, sometimes
 * random ones), random struct sizes (0, short, the first version, exact,
 * longer with a zero or non-zero tail, a page, a page + 1, huge),
 * random flags, handles (live, stale, 0, SIGWAKE_TARGET_ANY/ALL, random)
 * and addresses: NULL, unmapped, kernel (0xffff888000000000), non-canonical,
 * misaligned, straddling into an unmapped page, read-only (a second,
 * read-only view of a memfd), and a region whose pages another thread maps
 * and unmaps (replaces with PROT_NONE) all the time, so blocks, words,
 * kick bytes and pollfd arrays are freed while the kernel uses them.  A
 * fifth thread writes garbage into the thread blocks.  Every WAIT and KICK_WAIT is bounded (at most 200 us).
 *
 * A call fails the test only if it returns an errno that the uapi header
 * does not list for that command (or a success with an impossible output);
 * crashes and kernel splats are caught by the runner.
 *
 * Options (own main()):
 *   --seed S    the master seed (printed first as "# seed 0x..."); each
 *               thread's stream derives from it, so a failure replays the
 *               same call sequences (their interleaving is the scheduler's)
 *   --calls N   total calls (default 100000, also SIGWAKE_FUZZ_CALLS)
 *   --threads N fuzzing threads, 1..4 (default 4)
 *   --helpers M 1: run the unmapper, 2: the scribbler, 3: both (default)
 *   --trace N   print the first N calls of each thread, and what they did
 *   --strict    (default) handle 0 from REGISTER/WQ_CREATE fails;
 *   --no-strict tolerate it (kernels before the handle-0 fix)
 */
#include <poll.h>
#include <sys/mman.h>

#include "sigwake_test.h"

#define FZ_THREADS	4
#define FZ_HANDLES	64
#define FZ_NR_CMDS	10
#define FZ_MAX_ARG	(4096 + 64)

static uint64_t fz_seed;
static unsigned long fz_calls = 100000;
static int fz_threads = FZ_THREADS;
static int fz_helpers = 3;
static unsigned long fz_trace;
static bool fz_strict = true;	/* handle 0 is fixed: it fails again */

struct fz_shared {
	int fd;
	size_t pg;
	unsigned char *rw;	/* 4 pages: blocks, words, kick bytes, pollfds */
	unsigned char *ro;	/* read-only view of the same memfd pages */
	unsigned char *vol;	/* 2 pages mapped and unmapped by another thread */
	void *unmapped;
	int pipe[2];
	int stop;		/* atomic */
	__u32 handles[FZ_HANDLES];	/* atomic: recently seen handles */
	unsigned int hidx;	/* atomic */
	bool forward_ok;
	bool preempt_ok;

	/* results, atomic */
	unsigned long calls, ok, bad, remaps, known_handle0;
	unsigned long per_cmd[FZ_NR_CMDS + 1];
	unsigned long per_errno[136];
	int first_bad_cmd, first_bad_err;
	unsigned long first_bad_call;
	uint64_t first_bad_stream;
	char first_bad_what[200];
};

struct fz_thread {
	struct fz_shared *s;
	int idx;
	uint64_t rng;
	uint64_t stream_seed;
	unsigned long calls;
	unsigned char *arg;	/* 2 RW pages followed by a PROT_NONE page */
	pthread_t th;
};

static unsigned int fz_r(struct fz_thread *t, unsigned int n)
{
	return (unsigned int)(sw_xorshift(&t->rng) >> 17) % n;
}

static uint64_t fz_r64(struct fz_thread *t)
{
	return sw_xorshift(&t->rng);
}

static void fz_remember(struct fz_shared *s, __u32 h)
{
	unsigned int i = SW_ADD(&s->hidx, 1) % FZ_HANDLES;

	SW_STORE(&s->handles[i], h);
}

static __u32 fz_handle(struct fz_thread *t)
{
	switch (fz_r(t, 10)) {
	case 0:
		return 0;
	case 1:
		return 1 + fz_r(t, 8);
	case 2:
		return fz_r(t, 2) ? SIGWAKE_TARGET_ANY : SIGWAKE_TARGET_ALL;
	case 3:
		return (__u32)fz_r64(t);
	default:
		return SW_LOAD(&t->s->handles[fz_r(t, FZ_HANDLES)]);
	}
}

/* An address for a block, word, kick byte or pollfd array. */
static __u64 fz_addr(struct fz_thread *t, size_t align)
{
	struct fz_shared *s = t->s;
	size_t slot = fz_r(t, (unsigned int)(4 * s->pg / 64)) * 64;

	switch (fz_r(t, 16)) {
	case 0:
		return 0;
	case 1:
		return (__u64)(uintptr_t)s->unmapped;
	case 2:
		return SW_KERNEL_ADDR + fz_r(t, 4096) * align;
	case 3:
		return 0x0000800000000000ull;	/* non-canonical */
	case 4:
		return (__u64)(uintptr_t)(s->rw + slot + 1 + fz_r(t, 63));
	case 5:	/* straddles the end of the RW pages into the memfd's gap */
		return (__u64)(uintptr_t)(s->rw + 4 * s->pg - 32);
	case 6:
		return (__u64)(uintptr_t)(s->ro + slot);
	case 7:
	case 8:
		return (__u64)(uintptr_t)(s->vol + fz_r(t, (unsigned int)(2 * s->pg / 64)) * 64);
	case 9:
		return fz_r64(t);
	case 10:
		return 0xffffffffffffffc0ull;
	default:
		return (__u64)(uintptr_t)(s->rw + slot);
	}
}

static __u32 fz_flags(struct fz_thread *t)
{
	switch (fz_r(t, 8)) {
	case 0:
		return 1;
	case 1:
		return 1u << fz_r(t, 32);
	case 2:
		return (__u32)fz_r64(t);
	default:
		return 0;
	}
}

static __u32 fz_signo(struct fz_thread *t)
{
	return fz_r(t, 8) ? 1 + fz_r(t, SIGWAKE_NSIG) : fz_r(t, 70);
}

/* Bounded timeouts only: nothing here may sleep for long. */
static __s64 fz_timeout(struct fz_thread *t, bool abs)
{
	switch (fz_r(t, 8)) {
	case 0:
		return -2 - fz_r(t, 1000);
	case 1:
		return INT64_MIN;
	case 2:
		return abs ? 0 : 1;
	default:
		return (abs ? sw_now_ns() : 0) + fz_r(t, 200000);
	}
}

static void fz_fill_pollfds(struct fz_thread *t, __u64 addr, __u32 nfds)
{
	struct fz_shared *s = t->s;
	struct sigwake_pollfd *p = (struct sigwake_pollfd *)(uintptr_t)addr;
	unsigned char *lo = s->rw, *hi = s->rw + 4 * s->pg;
	__u32 i;

	/* only where this thread may write: the RW pages */
	if ((unsigned char *)p < lo || (unsigned char *)p >= hi)
		return;
	for (i = 0; i < nfds && (unsigned char *)(p + i + 1) <= hi; i++) {
		static const int fds[] = { -1, 0, 1, 2, 3, 9999, -100 };

		switch (fz_r(t, 4)) {
		case 0:
			p[i].fd = s->pipe[0];
			break;
		case 1:
			p[i].fd = s->fd;
			break;
		default:
			p[i].fd = fds[fz_r(t, ARRAY_SIZE(fds))];
		}
		p[i].events = (__s16)(fz_r(t, 2) ? POLLIN : fz_r(t, 65536));
		p[i].revents = (__s16)fz_r(t, 65536);
	}
}

static __u32 fz_kick_signo(struct fz_thread *t)
{
	__u32 sig = fz_r(t, 4) ? 0 : fz_r(t, 70);

	/* glibc's internal signals would cancel the thread: only hurts us */
	if (sig == 32 || sig == 33)
		sig = 34;
	return sig;
}

/* Build a random struct of command nr into buf; returns its true size. */
static size_t fz_build(struct fz_thread *t, unsigned int nr, void *buf)
{
	switch (nr) {
	case SIGWAKE_CMD_REGISTER: {
		struct sigwake_register_args *a = buf;

		a->flags = fz_r(t, 4) ? 0 : fz_flags(t);
		a->block = fz_addr(t, 64);
		a->kick_addr = fz_r(t, 2) ? 0 : fz_addr(t, 1);
		a->kick_signo = fz_kick_signo(t);
		a->handle = (__u32)fz_r64(t);
		return sizeof(*a);
	}
	case SIGWAKE_CMD_UNREGISTER: {
		struct sigwake_unregister_args *a = buf;

		a->handle = fz_handle(t);
		return sizeof(*a);
	}
	case SIGWAKE_CMD_WAIT: {
		struct sigwake_wait_args *a = buf;

		a->flags = fz_r(t, 3) ? (fz_r(t, 2) ? SIGWAKE_WAIT_ABSTIME : 0) : fz_flags(t);
		a->wq = fz_r(t, 3) ? SIGWAKE_NO_WQ : fz_handle(t);
		a->expected = fz_r(t, 2) ? 0 : (__u32)fz_r64(t);
		a->timeout_ns = fz_timeout(t, a->flags & SIGWAKE_WAIT_ABSTIME);
		a->pad = fz_r(t, 8) ? 0 : (__u32)fz_r64(t);
		a->pad2 = fz_r(t, 8) ? 0 : (__u32)fz_r64(t);
		if (fz_r(t, 2)) {
			static const __u32 n[] = { 0, 1, 2, 3, 8, 1024, 1025, 0xffffffff };

			a->nfds = n[fz_r(t, ARRAY_SIZE(n))];
			a->fds = fz_addr(t, 8);
			fz_fill_pollfds(t, a->fds, a->nfds);
		}
		return sizeof(*a);
	}
	case SIGWAKE_CMD_WAKE: {
		struct sigwake_wake_args *a = buf;

		a->wq = fz_handle(t);
		a->nr = fz_r(t, 2) ? fz_r(t, 4) : (__u32)fz_r64(t);
		return sizeof(*a);
	}
	case SIGWAKE_CMD_POST: {
		struct sigwake_post_args *a = buf;

		a->flags = fz_r(t, 4) ? 0 : fz_flags(t);
		a->target = fz_handle(t);
		a->signo = fz_signo(t);
		return sizeof(*a);
	}
	case SIGWAKE_CMD_KICK: {
		struct sigwake_kick_args *a = buf;

		a->flags = fz_r(t, 3) ? (fz_r(t, 2) ? SIGWAKE_KICK_WAIT : 0) : fz_flags(t);
		a->target = fz_handle(t);
		if (a->flags & SIGWAKE_KICK_WAIT)
			a->timeout_ns = fz_timeout(t, false);
		else
			a->timeout_ns = fz_r(t, 4) ? 0 : (__s64)fz_r64(t);
		return sizeof(*a);
	}
	case SIGWAKE_CMD_WQ_CREATE: {
		struct sigwake_wq_create_args *a = buf;

		a->flags = fz_r(t, 4) ? 0 : fz_flags(t);
		a->word = fz_r(t, 3) ? 0 : fz_addr(t, 4);
		a->pad = fz_r(t, 8) ? 0 : (__u32)fz_r64(t);
		return sizeof(*a);
	}
	case SIGWAKE_CMD_WQ_DESTROY: {
		struct sigwake_wq_destroy_args *a = buf;

		a->handle = fz_handle(t);
		return sizeof(*a);
	}
	case SIGWAKE_CMD_FORWARD: {
		struct sigwake_forward_args *a = buf;

		a->flags = fz_r(t, 3) ? fz_r(t, 2) : fz_flags(t);
		a->host_signo = fz_r(t, 70);
		a->guest_signo = fz_signo(t);
		a->target = fz_handle(t);
		a->pad = fz_r(t, 8) ? 0 : (__u32)fz_r64(t);
		return sizeof(*a);
	}
	case SIGWAKE_CMD_PREEMPT: {
		struct sigwake_preempt_args *a = buf;

		a->flags = fz_r(t, 4) ? 0 : fz_flags(t);
		a->target = fz_handle(t);
		a->pad = fz_r(t, 8) ? 0 : (__u32)fz_r64(t);
		switch (fz_r(t, 4)) {
		case 0:
			a->budget_ns = 0;
			break;
		case 1:
			a->budget_ns = fz_r(t, SIGWAKE_PREEMPT_MIN_BUDGET_NS);
			break;
		case 2:
			a->budget_ns = fz_r64(t);
			break;
		default:
			a->budget_ns = SIGWAKE_PREEMPT_MIN_BUDGET_NS + fz_r(t, 5000000);
		}
		return sizeof(*a);
	}
	}
	return 64;
}

static const unsigned int fz_ver0[FZ_NR_CMDS] = {
	SIGWAKE_REGISTER_ARGS_SIZE_VER0, SIGWAKE_UNREGISTER_ARGS_SIZE_VER0,
	SIGWAKE_WAIT_ARGS_SIZE_VER0, SIGWAKE_WAKE_ARGS_SIZE_VER0,
	SIGWAKE_POST_ARGS_SIZE_VER0, SIGWAKE_KICK_ARGS_SIZE_VER0,
	SIGWAKE_WQ_CREATE_ARGS_SIZE_VER0, SIGWAKE_WQ_DESTROY_ARGS_SIZE_VER0,
	SIGWAKE_FORWARD_ARGS_SIZE_VER0, SIGWAKE_PREEMPT_ARGS_SIZE_VER0,
};

static const char *const fz_names[FZ_NR_CMDS + 1] = {
	"REGISTER", "UNREGISTER", "WAIT", "WAKE", "POST", "KICK", "WQ_CREATE",
	"WQ_DESTROY", "FORWARD", "PREEMPT", "unknown",
};

/* The errnos the header lists for command nr (FZ_NR_CMDS: unknown). */
static bool fz_errno_ok(struct fz_shared *s, unsigned int nr, int err)
{
	if (nr >= FZ_NR_CMDS)
		return err == ENOTTY;
	/* the struct itself: copy, size, tail */
	if (err == EFAULT || err == EINVAL || err == E2BIG)
		return true;
	switch (nr) {
	case SIGWAKE_CMD_REGISTER:
		return err == EEXIST || err == ENOSPC || err == ENOMEM;
	case SIGWAKE_CMD_UNREGISTER:
	case SIGWAKE_CMD_WAKE:
	case SIGWAKE_CMD_WQ_DESTROY:
		return err == ENOENT;
	case SIGWAKE_CMD_WAIT:
		return err == ENOENT || err == EAGAIN || err == EINTR ||
		       err == EIDRM || err == ENOMEM;
	case SIGWAKE_CMD_POST:
		return err == ENOENT || err == ESRCH;
	case SIGWAKE_CMD_KICK:
		return err == ENOENT || err == ESRCH || err == ETIMEDOUT ||
		       err == EINTR;
	case SIGWAKE_CMD_WQ_CREATE:
		return err == ENOSPC || err == ENOMEM;
	case SIGWAKE_CMD_FORWARD:
		return err == ENOENT || err == ESRCH ||
		       (err == EOPNOTSUPP && !s->forward_ok);
	case SIGWAKE_CMD_PREEMPT:
		return err == ENOENT || err == ESRCH ||
		       (err == EOPNOTSUPP && !s->preempt_ok);
	}
	return false;
}

/* A success whose outputs the header rules out; NULL if it is fine. */
static const char *fz_check_output(unsigned int nr, const void *buf, size_t size)
{
	switch (nr) {
	case SIGWAKE_CMD_REGISTER: {
		const struct sigwake_register_args *a = buf;

		return a->handle == 0 || a->handle >= SIGWAKE_TARGET_ALL ?
		       "REGISTER handle" : NULL;
	}
	case SIGWAKE_CMD_WAIT: {
		const struct sigwake_wait_args *a = buf;

		if (a->reason < SIGWAKE_REASON_WAKE || a->reason > SIGWAKE_REASON_FD)
			return "WAIT reason";
		if (a->reason == SIGWAKE_REASON_WAKE && a->wq == SIGWAKE_NO_WQ)
			return "WAIT REASON_WAKE without a queue";
		if (a->reason == SIGWAKE_REASON_FD &&
		    (size < SIGWAKE_WAIT_ARGS_SIZE_VER1 || !a->nfds))
			return "WAIT REASON_FD without descriptors";
		return NULL;
	}
	case SIGWAKE_CMD_POST: {
		const struct sigwake_post_args *a = buf;

		if (a->outcome < SIGWAKE_POST_RECORDED || a->outcome > SIGWAKE_POST_QUEUED)
			return "POST outcome";
		if (a->outcome == SIGWAKE_POST_QUEUED && a->target != SIGWAKE_TARGET_ANY)
			return "POST QUEUED for a targeted post";
		return NULL;
	}
	case SIGWAKE_CMD_KICK: {
		const struct sigwake_kick_args *a = buf;

		return a->outcome < SIGWAKE_POST_RECORDED ||
		       a->outcome > SIGWAKE_POST_KICKED ? "KICK outcome" : NULL;
	}
	case SIGWAKE_CMD_WQ_CREATE: {
		const struct sigwake_wq_create_args *a = buf;

		return a->handle == 0 ? "WQ_CREATE handle" : NULL;
	}
	}
	return NULL;
}

/*
 * Fixed in the module (kept for --no-strict replays of old kernels): after
 * UNREGISTER or
 * WQ_DESTROY of handle 0 (ENOENT) in a domain that has a thread or queue,
 * the next REGISTER or WQ_CREATE gets handle 0, which the header says is
 * never valid (xa_erase() of index 0 frees the slot that XA_FLAGS_ALLOC1
 * keeps busy).
 */
static bool fz_known_handle0(unsigned int nr, const void *buf)
{
	if (nr == SIGWAKE_CMD_REGISTER)
		return ((const struct sigwake_register_args *)buf)->handle == 0;
	if (nr == SIGWAKE_CMD_WQ_CREATE)
		return ((const struct sigwake_wq_create_args *)buf)->handle == 0;
	return false;
}

static void fz_one(struct fz_thread *t)
{
	struct fz_shared *s = t->s;
	unsigned char tmp[FZ_MAX_ARG];
	unsigned int nr, type = SIGWAKE_IOC_MAGIC, pick = fz_r(t, 100), kind;
	unsigned long cmd, dir, sbits;
	size_t size, len;
	__u32 usize;
	unsigned char *dst;
	bool normal = true, known;
	int ret, err;

	/* 1. the command number */
	if (pick < 90) {
		nr = fz_r(t, FZ_NR_CMDS);
	} else if (pick < 95) {
		nr = FZ_NR_CMDS + fz_r(t, 246);
	} else {
		static const unsigned int other[] = { 0x00, 0x01, 0xd4, 0xd6, 0xaa, 0xff };

		type = other[fz_r(t, ARRAY_SIZE(other))];
		nr = fz_r(t, 256);
	}
	known = type == SIGWAKE_IOC_MAGIC && nr < FZ_NR_CMDS;
	/*
	 * The kernel compares the whole command: mostly a published encoding
	 * (_IOWR, size bits of the first version or more), one call in eight
	 * random direction and size bits; a real number with bits no header
	 * gives is an unknown command.
	 */
	dir = _IOC_READ | _IOC_WRITE;
	sbits = known ? fz_ver0[nr] + fz_r(t, 64) : fz_r(t, 1 << 14);
	if (fz_r(t, 8) == 0) {
		dir = fz_r(t, 4);
		sbits = fz_r(t, 1 << 14);
	}
	cmd = (dir << _IOC_DIRSHIFT) | (type << _IOC_TYPESHIFT) |
	      (nr << _IOC_NRSHIFT) | (sbits << _IOC_SIZESHIFT);
	known = known && dir == (_IOC_READ | _IOC_WRITE) && sbits >= fz_ver0[nr];

	/* 2. the struct */
	memset(tmp, 0, sizeof(tmp));
	size = fz_build(t, known ? nr : 0, tmp);
	switch (fz_r(t, 16)) {
	case 0:
		usize = 0;
		break;
	case 1:
		usize = known ? fz_ver0[nr] - 1 - fz_r(t, 4) : 4;
		break;
	case 2:
		usize = known ? fz_ver0[nr] : 8;
		break;
	case 3:
		usize = (__u32)size + 8;	/* zero tail */
		break;
	case 4:
		usize = (__u32)size + 8;
		tmp[size + fz_r(t, 8)] = 1 + fz_r(t, 255);	/* non-zero tail */
		break;
	case 5:
		usize = (__u32)s->pg;
		break;
	case 6:
		usize = (__u32)s->pg + 1;
		break;
	case 7:
		usize = fz_r(t, 2) ? 0xffffffffu : (__u32)fz_r64(t);
		break;
	default:
		usize = (__u32)size;
	}
	memcpy(tmp, &usize, sizeof(usize));
	len = usize < FZ_MAX_ARG ? usize : FZ_MAX_ARG;
	if (len < size)
		len = size;

	/* 3. where the struct lives */
	kind = fz_r(t, 20);
	switch (kind) {
	case 0:
		cmd = (unsigned long)cmd;	/* NULL */
		dst = NULL;
		break;
	case 1:
		dst = s->unmapped;
		break;
	case 2:
		dst = (unsigned char *)(uintptr_t)SW_KERNEL_ADDR;
		break;
	case 3:	/* straddles into the PROT_NONE page */
		dst = t->arg + 2 * s->pg - 1 - fz_r(t, (unsigned int)size);
		memcpy(dst, tmp, (size_t)(t->arg + 2 * s->pg - dst));
		break;
	case 4:	/* read-only: read in, output write fails */
		memcpy(s->rw + 3 * s->pg + 2048, tmp, 64);
		dst = s->ro + 3 * s->pg + 2048;
		break;
	case 5:	/* misaligned */
		dst = t->arg + 64 + 1 + fz_r(t, 7);
		memcpy(dst, tmp, len);
		break;
	default:
		dst = t->arg + 64;
		memcpy(dst, tmp, len);
	}
	normal = kind >= 5;

	ret = ioctl(s->fd, cmd, dst);
	err = ret < 0 ? errno : 0;
	if (t->calls < fz_trace) {
		const __u32 *w = (const __u32 *)tmp;

		printf("# [%d] call %lu: %s cmd 0x%lx size %u kind %u %08x %08x %08x %08x %08x %08x -> %d %s\n",
		       t->idx, t->calls + 1, fz_names[known ? nr : FZ_NR_CMDS], cmd, usize,
		       kind, w[0], w[1], w[2], w[3], w[4], w[5], ret, err ? strerrorname_np(err) : "");
		if (!err && normal) {
			w = (const __u32 *)dst;
			printf("#     out %08x %08x %08x %08x %08x %08x\n", w[0], w[1], w[2],
			       w[3], w[4], w[5]);
		}
	}
	t->calls++;
	SW_ADD(&s->calls, 1);
	SW_ADD(&s->per_cmd[known ? nr : FZ_NR_CMDS], 1);
	SW_ADD(&s->per_errno[err < 135 ? err : 135], 1);

	if (ret > 0 || (ret < 0 && !fz_errno_ok(s, known ? nr : FZ_NR_CMDS, err))) {
		if (SW_ADD(&s->bad, 1) == 1) {
			s->first_bad_cmd = known ? (int)nr : FZ_NR_CMDS;
			s->first_bad_err = ret > 0 ? -ret : err;
			s->first_bad_call = t->calls;
			s->first_bad_stream = t->stream_seed;
			snprintf(s->first_bad_what, sizeof(s->first_bad_what),
				 "cmd 0x%lx size %u arg %p kind %u", cmd, usize, dst, kind);
		}
		return;
	}
	if (ret == 0) {
		const char *why = NULL;

		SW_ADD(&s->ok, 1);
		if (!known || !normal)
			return;
		if (usize >= size)
			why = fz_check_output(nr, dst, usize);
		if (why && !fz_strict && fz_known_handle0(nr, dst)) {
			/* reported; see fz_known_handle0() */
			SW_ADD(&s->known_handle0, 1);
			why = NULL;
		}
		if (why && SW_ADD(&s->bad, 1) == 1) {
			const __u32 *w = (const __u32 *)dst;

			s->first_bad_cmd = (int)nr;
			s->first_bad_err = 0;
			s->first_bad_call = t->calls;
			s->first_bad_stream = t->stream_seed;
			snprintf(s->first_bad_what, sizeof(s->first_bad_what),
				 "%s (cmd 0x%lx size %u kind %u: %08x %08x %08x %08x %08x %08x)",
				 why, cmd, usize, kind, w[0], w[1], w[2], w[3], w[4], w[5]);
		}
		if (nr == SIGWAKE_CMD_REGISTER)
			fz_remember(s, ((struct sigwake_register_args *)dst)->handle);
		else if (nr == SIGWAKE_CMD_WQ_CREATE)
			fz_remember(s, ((struct sigwake_wq_create_args *)dst)->handle);
	}
}

static void *fz_thread_fn(void *arg)
{
	struct fz_thread *t = arg;
	unsigned long n = fz_calls / (unsigned long)fz_threads +
			  (t->idx == 0 ? fz_calls % (unsigned long)fz_threads : 0);

	while (t->calls < n && !SW_LOAD(&t->s->stop))
		fz_one(t);
	return NULL;
}

/* Maps and unmaps s->vol, and reads the pipe dry. */
static void *fz_unmapper(void *arg)
{
	struct fz_shared *s = arg;
	uint64_t rng = fz_seed ^ 0x5bd1e995ull;
	char buf[64];

	while (!SW_LOAD(&s->stop)) {
		/*
		 * Map fresh pages over the reservation, then replace them by
		 * an inaccessible mapping: the pages are unmapped and freed,
		 * but the addresses stay ours (a plain munmap would let the
		 * next mmap of another thread land there).
		 */
		void *p = mmap(s->vol, 2 * s->pg, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);

		if (p == s->vol) {
			memset(p, 0, 2 * s->pg);
			SW_ADD(&s->remaps, 1);
			usleep((unsigned int)(sw_xorshift(&rng) % 2000));
			mmap(s->vol, 2 * s->pg, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		}
		if (sw_xorshift(&rng) % 4 == 0) {
			if (write(s->pipe[1], "x", 1) < 0)
				while (read(s->pipe[0], buf, sizeof(buf)) > 0)
					;
		}
		usleep((unsigned int)(sw_xorshift(&rng) % 1000));
	}
	return NULL;
}

/* Garbage in the thread blocks: it may only hurt this process. */
static void *fz_scribbler(void *arg)
{
	struct fz_shared *s = arg;
	uint64_t rng = fz_seed ^ 0xc2b2ae3d27d4eb4full;

	while (!SW_LOAD(&s->stop)) {
		size_t off = (size_t)(sw_xorshift(&rng) % (3 * s->pg / 8)) * 8;
		uint64_t v = sw_xorshift(&rng);

		/* small states half of the time, so the kernel sees real ones */
		if (!(off & 63) && (v & 1))
			v = (v >> 1) % 6;
		SW_STORE((uint64_t *)(s->rw + off), v);
		if (sw_xorshift(&rng) % 64 == 0)
			usleep(100);
	}
	return NULL;
}

static void fz_nop(int sig, siginfo_t *si, void *uc)
{
}

TEST(fuzz)
{
	struct fz_shared *s;
	struct fz_thread th[FZ_THREADS];
	pthread_t unmapper, scribbler;
	struct sigwake_forward_args fwd = { .size = sizeof(fwd), .host_signo = 1,
					    .flags = SIGWAKE_FORWARD_REMOVE };
	struct sigwake_preempt_args pre = { .size = sizeof(pre), .target = 0 };
	uint64_t rng = fz_seed;
	int64_t t0;
	int sig, memfd, i;

	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, s);
	s->pg = (size_t)sysconf(_SC_PAGESIZE);
	SW_OPEN_DOMAIN(s->fd);

	/* 4 RW pages, then a hole, and a read-only view of the same pages */
	memfd = memfd_create("sigwake-fuzz", MFD_CLOEXEC);
	ASSERT_LE(0, memfd);
	ASSERT_EQ(0, ftruncate(memfd, (off_t)(4 * s->pg)));
	s->rw = mmap(NULL, 5 * s->pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, s->rw);
	ASSERT_EQ(s->rw, mmap(s->rw, 4 * s->pg, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_FIXED, memfd, 0));
	s->ro = mmap(NULL, 4 * s->pg, PROT_READ, MAP_SHARED, memfd, 0);
	ASSERT_NE(MAP_FAILED, s->ro);
	memset(s->rw, 0, 4 * s->pg);
	s->vol = mmap(NULL, 2 * s->pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, s->vol);	/* the unmapper maps it back and forth */
	s->unmapped = sw_unmapped_addr();
	ASSERT_NE(NULL, s->unmapped);
	ASSERT_EQ(0, pipe2(s->pipe, O_NONBLOCK | O_CLOEXEC));

	/* kick signals and forwarded signals land here: never the default */
	for (sig = 1; sig < 65; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP || sig == 32 || sig == 33)
			continue;
		sw_sigaction(sig, fz_nop, sig & 1 ? SA_RESTART : 0);
	}

	s->forward_ok = sw_ioctl(s->fd, SIGWAKE_IOC_FORWARD, &fwd) != -EOPNOTSUPP;
	s->preempt_ok = sw_ioctl(s->fd, SIGWAKE_IOC_PREEMPT, &pre) != -EOPNOTSUPP;
	TH_LOG("seed 0x%llx, %lu calls, %d threads (FORWARD %s, PREEMPT %s)",
	       (unsigned long long)fz_seed, fz_calls, fz_threads,
	       s->forward_ok ? "on" : "off", s->preempt_ok ? "on" : "off");

	t0 = sw_now_ns();
	/* --helpers: 1 the unmapper, 2 the scribbler (bisecting) */
	SW_STORE(&s->stop, !(fz_helpers & 1));
	ASSERT_EQ(0, pthread_create(&unmapper, NULL, fz_unmapper, s));
	if (!(fz_helpers & 1))
		pthread_join(unmapper, NULL);
	SW_STORE(&s->stop, !(fz_helpers & 2));
	ASSERT_EQ(0, pthread_create(&scribbler, NULL, fz_scribbler, s));
	if (!(fz_helpers & 2))
		pthread_join(scribbler, NULL);
	SW_STORE(&s->stop, 0);
	for (i = 0; i < fz_threads; i++) {
		th[i] = (struct fz_thread){ .s = s, .idx = i };
		th[i].stream_seed = sw_xorshift(&rng) | 1;
		th[i].rng = th[i].stream_seed;
		th[i].arg = mmap(NULL, 3 * s->pg, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, th[i].arg);
		ASSERT_EQ(0, mprotect(th[i].arg + 2 * s->pg, s->pg, PROT_NONE));
		ASSERT_EQ(0, pthread_create(&th[i].th, NULL, fz_thread_fn, &th[i]));
	}
	for (i = 0; i < fz_threads; i++)
		pthread_join(th[i].th, NULL);
	SW_STORE(&s->stop, 1);
	if (fz_helpers & 1)
		pthread_join(unmapper, NULL);
	if (fz_helpers & 2)
		pthread_join(scribbler, NULL);

	TH_LOG("%lu calls in %.1f s (%.0f/s): %lu succeeded; %lu remaps of the volatile region",
	       s->calls, (double)(sw_now_ns() - t0) / 1e9,
	       (double)s->calls * 1e9 / (double)(sw_now_ns() - t0 + 1), s->ok, s->remaps);
	for (i = 0; i <= FZ_NR_CMDS; i++)
		TH_LOG("  %-10s %lu", fz_names[i], s->per_cmd[i]);
	for (i = 0; i < 136; i++)
		if (s->per_errno[i])
			TH_LOG("  errno %-4d %-12s %lu", i, i ? strerrorname_np(i) ?: "?" : "(none)",
			       s->per_errno[i]);
	if (s->known_handle0)
		TH_LOG("KNOWN BUG (not counted without --strict): %lu REGISTER/WQ_CREATE returned handle 0, after an UNREGISTER/WQ_DESTROY of handle 0",
		       s->known_handle0);
	EXPECT_EQ(0, s->bad) {
		TH_LOG("first bad: %s: %s (%d) on %s, call %lu of the stream seeded 0x%llx",
		       fz_names[s->first_bad_cmd], s->first_bad_what,
		       s->first_bad_err, s->first_bad_err ? strerror(s->first_bad_err) : "success",
		       s->first_bad_call, (unsigned long long)s->first_bad_stream);
	}
	EXPECT_EQ(fz_calls, s->calls);
	close(s->fd);
}

static void __attribute__((constructor)) fz_constructor_order_last(void)
{
	if (!__constructor_order)
		__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD;
}

int main(int argc, char **argv)
{
	const char *env = getenv("SIGWAKE_FUZZ_CALLS");
	bool seeded = false;
	int i;

	if (env && *env)
		fz_calls = strtoul(env, NULL, 0);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			fz_seed = strtoull(argv[++i], NULL, 0);
			seeded = true;
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			fz_threads = atoi(argv[++i]);
			if (fz_threads < 1 || fz_threads > FZ_THREADS)
				fz_threads = FZ_THREADS;
		} else if (!strcmp(argv[i], "--helpers") && i + 1 < argc) {
			fz_helpers = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--strict")) {
			fz_strict = true;
		} else if (!strcmp(argv[i], "--no-strict")) {
			fz_strict = false;
		} else if (!strcmp(argv[i], "--trace") && i + 1 < argc) {
			fz_trace = strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--calls") && i + 1 < argc) {
			fz_calls = strtoul(argv[++i], NULL, 0);
		} else {
			fprintf(stderr, "usage: %s [--seed S] [--calls N]\n", argv[0]);
			return 2;
		}
	}
	if (!seeded) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		fz_seed = ((uint64_t)ts.tv_sec * 1000000007ull) ^ (uint64_t)ts.tv_nsec ^
			  ((uint64_t)getpid() << 32);
	}
	if (!fz_seed)
		fz_seed = 1;
	printf("# seed 0x%llx\n", (unsigned long long)fz_seed);
	fflush(stdout);
	_fuzz_object.timeout = 3000;
	return test_harness_run(argc, argv);
}
