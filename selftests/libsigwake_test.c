// SPDX-License-Identifier: GPL-2.0
/*
 * libsigwake against the real module: the library's registration and its
 * lock-free fast paths (the guest-entry handshake, take_pending,
 * set_blocked, sigwake_self() from a signal handler) meet the kernel's
 * POST, KICK and WAIT.  The other programs use raw ioctls; this one checks
 * that what runtimes actually link behaves as the header says.
 *
 * Fixture:
 *   lib  a domain from sigwake_open() with the test thread registered by
 *        sigwake_register(), kick_signo SIGUSR1 and a kick byte.
 */
#include <libsigwake.h>

#include "sigwake_test.h"

#define MS	SW_NSEC_PER_MSEC
#define KICK_SIG	SIGUSR1

static volatile sig_atomic_t kick_count;
static volatile __u32 kick_self_handle;
static volatile pid_t kick_tid;

/* What a runtime's kick handler does: find its own registration. */
static void kick_handler(int sig, siginfo_t *si, void *uc)
{
	struct sigwake_self *me = sigwake_self();

	kick_tid = sw_gettid();
	kick_self_handle = me ? me->handle : 0;
	kick_count++;
}

FIXTURE(lib) {
	int fd;
	unsigned char *kick;
	struct sigwake_self *me;
};

FIXTURE_SETUP(lib)
{
	self->fd = -1;
	self->kick = sw_alloc_page();
	ASSERT_NE(NULL, self->kick);
	ASSERT_EQ(0, sw_sigaction(KICK_SIG, kick_handler, SA_RESTART));
	self->fd = sigwake_open();
	if (self->fd < 0 && sw_allow_skip())
		SKIP({ fflush(NULL); _exit(255); }, "sigwake_open: %s",
		     strerror(-self->fd));
	ASSERT_LE(0, self->fd) {
		TH_LOG("sigwake_open: %s (set SIGWAKE_ALLOW_SKIP=1 where the module is not loaded)",
		       strerror(-self->fd));
	}
	ASSERT_EQ(0, sigwake_register(self->fd, KICK_SIG, &self->kick[0],
				      &self->me));
}

FIXTURE_TEARDOWN(lib)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(lib, register_fills_self)
{
	struct sigwake_thread_block *b = self->me->block;

	EXPECT_EQ(1, self->me->handle);
	EXPECT_EQ(self->fd, self->me->fd);
	EXPECT_EQ(sw_gettid(), self->me->tid);
	EXPECT_EQ(self->me, sigwake_self());
	EXPECT_EQ(self->me, sigwake_self_in(self->fd));
	EXPECT_EQ(0, (uintptr_t)b % SIGWAKE_THREAD_BLOCK_ALIGN);
	EXPECT_EQ(SIGWAKE_RUNNING_IN_HOST, sigwake_state(b));
	EXPECT_EQ(0, SW_LOAD(&b->pending));
	/* the kernel sees the library's block: a post lands in it */
	EXPECT_EQ(SIGWAKE_POST_RECORDED, sigwake_post(self->fd, self->me->handle, 7, NULL));
	EXPECT_EQ(sigwake_sigbit(7), SW_LOAD(&b->pending));
}

TEST_F(lib, post_and_take_pending)
{
	struct sigwake_thread_block *b = self->me->block;
	__u32 h = 0;

	sigwake_set_blocked(b, sigwake_sigbit(9));
	EXPECT_EQ(SIGWAKE_POST_RECORDED, sigwake_post(self->fd, self->me->handle, 9, &h));
	EXPECT_EQ(self->me->handle, h);
	EXPECT_EQ(SIGWAKE_POST_RECORDED, sigwake_post(self->fd, self->me->handle, 3, NULL));
	/* take_pending leaves the blocked one where it is */
	EXPECT_EQ(sigwake_sigbit(3), sigwake_take_pending(b));
	EXPECT_EQ(sigwake_sigbit(9), SW_LOAD(&b->pending));
	EXPECT_EQ(0, sigwake_take_pending(b));
	sigwake_set_blocked(b, 0);
	EXPECT_EQ(sigwake_sigbit(9), sigwake_take_pending(b));
}

TEST_F(lib, wait_returns_reason)
{
	__u32 *word = sw_alloc_page();
	int wq;

	ASSERT_NE(NULL, word);
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, sigwake_wait(self->fd, SIGWAKE_NO_WQ, 0, 0, 0));
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, sigwake_poll(self->fd));
	wq = sigwake_wq_create(self->fd, word);
	ASSERT_LT(0, wq);
	*word = 3;
	EXPECT_EQ(-EAGAIN, sigwake_wait(self->fd, (__u32)wq, 4, SW_WATCHDOG_NS, 0));
	EXPECT_EQ(0, sigwake_wake(self->fd, (__u32)wq, 1));
	EXPECT_EQ(SIGWAKE_POST_RECORDED, sigwake_post(self->fd, self->me->handle, 2, NULL));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, sigwake_wait(self->fd, (__u32)wq, 3, SW_WATCHDOG_NS, 0));
	EXPECT_EQ(0, sigwake_wq_destroy(self->fd, (__u32)wq));
	EXPECT_EQ(-ENOENT, sigwake_wq_destroy(self->fd, (__u32)wq));
}

TEST_F(lib, enter_guest_refused_by_pending_signal)
{
	struct sigwake_thread_block *b = self->me->block;

	ASSERT_EQ(SIGWAKE_POST_RECORDED, sigwake_post(self->fd, self->me->handle, 11, NULL));
	EXPECT_EQ(sigwake_sigbit(11), sigwake_enter_guest(b));
	EXPECT_EQ(SIGWAKE_RUNNING_IN_HOST, sigwake_state(b));
	EXPECT_EQ(sigwake_sigbit(11), sigwake_take_pending(b));
	EXPECT_EQ(0, sigwake_enter_guest(b));
	EXPECT_EQ(SIGWAKE_RUNNING_IN_GUEST, sigwake_state(b));
	sigwake_leave_guest(b);
	EXPECT_EQ(SIGWAKE_RUNNING_IN_HOST, sigwake_state(b));
}

TEST_F(lib, enter_guest_refused_by_recorded_kick)
{
	struct sigwake_thread_block *b = self->me->block;

	ASSERT_EQ(SIGWAKE_POST_RECORDED, sigwake_kick(self->fd, self->me->handle));
	EXPECT_EQ(0, kick_count);
	EXPECT_EQ(SIGWAKE_ENTER_KICKED, sigwake_enter_guest(b));
	EXPECT_EQ(SIGWAKE_TF_KICKED, sigwake_take_flags(b));
	EXPECT_EQ(0, sigwake_enter_guest(b));
	sigwake_leave_guest(b);
}

/* a blocked signal does not refuse the entry, and the entry counts */
TEST_F(lib, enter_guest_with_blocked_signal_and_entry_seq)
{
	struct sigwake_thread_block *b = self->me->block;
	__u64 seq = SW_LOAD(&b->entry_seq);

	sigwake_set_blocked(b, sigwake_sigbit(12));
	ASSERT_EQ(SIGWAKE_POST_RECORDED, sigwake_post(self->fd, self->me->handle, 12, NULL));
	EXPECT_EQ(0, sigwake_enter_guest(b));
	sigwake_leave_guest(b);
	EXPECT_EQ(0, sigwake_enter_guest(b));
	sigwake_leave_guest(b);
	EXPECT_EQ(seq + 2, SW_LOAD(&b->entry_seq));
	EXPECT_EQ(0, kick_count);
}

/* unblocking, then sigwake_poll(), claims what was queued for the domain */
TEST_F(lib, set_blocked_then_poll_claims_queued)
{
	struct sigwake_thread_block *b = self->me->block;
	__u32 h = 99;

	sigwake_set_blocked(b, sigwake_sigbit(20));
	ASSERT_EQ(SIGWAKE_POST_QUEUED, sigwake_post(self->fd, SIGWAKE_TARGET_ANY, 20, &h));
	EXPECT_EQ(0, h);
	EXPECT_EQ(0, SW_LOAD(&b->pending));
	EXPECT_EQ(sigwake_sigbit(20), sigwake_set_blocked(b, 0));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, sigwake_poll(self->fd));
	EXPECT_EQ(sigwake_sigbit(20), sigwake_take_pending(b));
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, sigwake_poll(self->fd));
}

/* ------------------------------------------------------------------ */
/* a second thread in guest code, entered through the library          */

struct guest {
	int fd;
	unsigned char *kick;
	struct sigwake_self *me;
	int err;
	int state;	/* atomic: 1 in guest, 2 out */
	__u64 taken;
	int until_byte;
};

static void *lib_guest_fn(void *arg)
{
	struct guest *g = arg;
	volatile unsigned char *byte = g->kick;
	int64_t end;

	g->err = sigwake_register(g->fd, KICK_SIG, g->kick, &g->me);
	if (g->err || sigwake_enter_guest(g->me->block)) {
		SW_STORE(&g->state, -1);
		return NULL;
	}
	SW_STORE(&g->state, 1);
	end = sw_now_ns() + SW_LONG_MS * MS;
	while (!(g->until_byte ? *byte : kick_count) && sw_now_ns() < end)
		sw_cpu_relax();
	sigwake_leave_guest(g->me->block);
	g->taken = sigwake_take_pending(g->me->block);
	SW_STORE(&g->state, 2);
	return NULL;
}

TEST_F(lib, post_kicks_guest_and_handler_finds_self)
{
	struct guest g = { .fd = self->fd, .kick = &self->kick[1] };
	pthread_t th;
	__u32 h = 0;

	ASSERT_EQ(0, pthread_create(&th, NULL, lib_guest_fn, &g));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&g.state) != 0, SW_LONG_MS));
	ASSERT_EQ(1, SW_LOAD(&g.state));
	EXPECT_EQ(SIGWAKE_POST_KICKED, sigwake_post(self->fd, g.me->handle, 6, &h));
	EXPECT_EQ(g.me->handle, h);
	ASSERT_TRUE(SW_POLL(SW_LOAD(&g.state) == 2, SW_LONG_MS + 5000));
	pthread_join(th, NULL);
	EXPECT_EQ(1, kick_count);
	EXPECT_EQ(g.me->tid, kick_tid);
	/* sigwake_self() in the handler named the kicked thread */
	EXPECT_EQ(g.me->handle, kick_self_handle);
	EXPECT_EQ(1, self->kick[1]);
	EXPECT_EQ(sigwake_sigbit(6), g.taken);
	EXPECT_TRUE(sigwake_kicked(g.me->block));
}

/*
 * The handshake race through the library: a guest thread enters with
 * sigwake_enter_guest() and watches only its kick byte; the poster posts one
 * signal at a time at random moments.  No signal may be left pending while
 * the guest spins (10 s watchdog).  SIGWAKE_RACE_ITERS / 5 iterations or
 * 45 s.
 */
struct race {
	int fd;
	unsigned char *kick;
	struct sigwake_self *me;
	unsigned long iters, ack;	/* ack: atomic */
	int stop, ready;		/* atomic */
	unsigned long lost, refused;
	uint64_t rng;
	int err;
};

static void *race_guest(void *arg)
{
	struct race *r = arg;
	volatile unsigned char *byte = r->kick;
	unsigned long got = 0;

	r->err = sigwake_register(r->fd, 0, r->kick, &r->me);
	SW_STORE(&r->ready, 1);
	if (r->err)
		return NULL;
	while (got < r->iters && !SW_LOAD(&r->stop)) {
		struct sigwake_thread_block *b = r->me->block;

		if (!sigwake_enter_guest(b)) {
			int64_t end = 0;
			unsigned int n = 0;

			while (!*byte && !SW_LOAD(&r->stop)) {
				sw_cpu_relax();
				if (++n < 4096)
					continue;
				n = 0;
				if (!end) {
					end = sw_now_ns() + SW_WATCHDOG_NS;
				} else if (sw_now_ns() > end) {
					if (SW_LOAD(&b->pending))
						r->lost++;
					break;
				}
			}
			*byte = 0;
			sigwake_leave_guest(b);
			if (r->lost)
				break;
		} else {
			r->refused++;
		}
		sigwake_take_flags(b);
		if (sigwake_take_pending(b) & sigwake_sigbit(SW_SIG)) {
			SW_STORE(&r->ack, ++got);
			/* the next post may come before, in, or after the entry */
			sw_random_delay(&r->rng);
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(lib, guest_entry_race, 300)
{
	struct race r = {
		.fd = self->fd,
		.kick = &self->kick[2],
		.iters = sw_race_iters(5),
		.rng = 0x3c6ef372fe94f82bull ^ (uint64_t)getpid(),
	};
	uint64_t rng = 0x5851f42d4c957f2dull ^ (uint64_t)getpid();
	unsigned long i, outcomes[5] = { 0 }, bad = 0;
	pthread_t th;
	int64_t t0;

	ASSERT_EQ(0, pthread_create(&th, NULL, race_guest, &r));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&r.ready), SW_LONG_MS));
	ASSERT_EQ(0, r.err);
	t0 = sw_now_ns();
	for (i = 0; i < r.iters; i++) {
		int o;

		if (!sw_await_ulong(&r.ack, i, NULL) ||
		    sw_now_ns() - t0 > 45 * SW_NSEC_PER_SEC)
			break;
		sw_random_delay(&rng);
		o = sigwake_post(self->fd, r.me->handle, SW_SIG, NULL);
		if (o == SIGWAKE_POST_KICKED || o == SIGWAKE_POST_RECORDED)
			outcomes[o]++;
		else
			bad++;
	}
	/* the last post must still arrive */
	sw_await_ulong(&r.ack, i, NULL);
	SW_STORE(&r.stop, 1);
	pthread_join(th, NULL);
	TH_LOG("%lu posts in %.0f ms: %lu KICKED, %lu RECORDED, %lu entries refused",
	       i, (double)(sw_now_ns() - t0) / 1e6, outcomes[SIGWAKE_POST_KICKED],
	       outcomes[SIGWAKE_POST_RECORDED], r.refused);
	EXPECT_EQ(0, r.lost) {
		TH_LOG("LOST KICK: the guest spun 10 s with a signal pending");
	}
	EXPECT_EQ(0, bad);
	EXPECT_EQ(i, SW_LOAD(&r.ack));
	EXPECT_LT(0, i);
}

TEST_HARNESS_MAIN
