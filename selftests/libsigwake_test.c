// SPDX-License-Identifier: GPL-2.0
/*
 * libsigwake against the real module: the library's registration and its
 * lock-free fast paths (the guest-entry handshake, take_pending,
 * set_blocked, sigwake_self() from a signal handler) meet the kernel's
 * POST, KICK and WAIT.  The other programs use raw ioctls; this one checks
 * that what runtimes actually link behaves as the header says, and calls
 * every function <libsigwake.h> declares (selftests/host/docs_test.sh
 * checks that it does).
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

struct lib_sleeper {
	int fd;
	__u32 wq;
	struct sigwake_self *me;
	int reg_err, ret;
	int waiting, done;	/* atomic */
};

static void *lib_sleeper_fn(void *arg)
{
	struct lib_sleeper *s = arg;

	s->reg_err = sigwake_register(s->fd, 0, NULL, &s->me);
	SW_STORE(&s->waiting, 1);
	if (!s->reg_err) {
		s->ret = sigwake_wait(s->fd, s->wq, 0, SW_WATCHDOG_NS, 0);
		sigwake_unregister(s->me);
	}
	SW_STORE(&s->done, 1);
	return NULL;
}

/* sigwake_handoff(): the wake, then the wait; what the wake woke. */
TEST_F(lib, handoff_wakes_then_waits)
{
	__u32 *words = sw_alloc_page(), woken = 77;
	struct lib_sleeper s = { .fd = self->fd };
	int qa, qb;
	pthread_t th;

	ASSERT_NE(NULL, words);
	qa = sigwake_wq_create(self->fd, &words[0]);
	qb = sigwake_wq_create(self->fd, &words[16]);
	ASSERT_LT(0, qa);
	ASSERT_LT(0, qb);
	s.wq = (__u32)qb;
	ASSERT_EQ(0, pthread_create(&th, NULL, lib_sleeper_fn, &s));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&s.waiting) && s.me &&
			    sigwake_state(s.me->block) == SIGWAKE_WAITING,
			    SW_LONG_MS));
	SW_STORE(&words[16], 1);
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT,
		  sigwake_handoff(self->fd, (__u32)qb, 1, (__u32)qa, 0,
				  50 * MS, 0, &woken));
	EXPECT_EQ(1, woken);
	ASSERT_TRUE(SW_POLL(SW_LOAD(&s.done), SW_LONG_MS));
	pthread_join(th, NULL);
	EXPECT_EQ(0, s.reg_err);
	EXPECT_EQ(SIGWAKE_REASON_WAKE, s.ret);
	/* the wait fails after the wake: its count still comes back */
	SW_STORE(&words[0], 2);
	woken = 77;
	EXPECT_EQ(-EAGAIN, sigwake_handoff(self->fd, (__u32)qb, 1, (__u32)qa,
					   1, SW_WATCHDOG_NS, 0, &woken));
	EXPECT_EQ(0, woken);
	/* before the wake: nothing woken */
	woken = 77;
	EXPECT_EQ(-ENOENT, sigwake_handoff(self->fd, 9999, 1, (__u32)qa, 2,
					   SW_WATCHDOG_NS, 0, &woken));
	EXPECT_EQ(0, woken);
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT,
		  sigwake_handoff(self->fd, (__u32)qb, 1, SIGWAKE_NO_WQ, 0, 0,
				  0, NULL));
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
	EXPECT_TRUE(sigwake_kicked(b));
	EXPECT_EQ(SIGWAKE_TF_KICKED | SIGWAKE_TF_KICK_REQUESTED,
		  sigwake_take_flags(b));
	EXPECT_FALSE(sigwake_kicked(b));
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

/* ------------------------------------------------------------------ */
/* names, and the errors of sigwake_open()                             */

TEST(names_of_reasons_and_outcomes)
{
	EXPECT_STREQ("wake", sigwake_reason_name(SIGWAKE_REASON_WAKE));
	EXPECT_STREQ("signal", sigwake_reason_name(SIGWAKE_REASON_SIGNAL));
	EXPECT_STREQ("kick", sigwake_reason_name(SIGWAKE_REASON_KICK));
	EXPECT_STREQ("timeout", sigwake_reason_name(SIGWAKE_REASON_TIMEOUT));
	EXPECT_STREQ("fd", sigwake_reason_name(SIGWAKE_REASON_FD));
	EXPECT_STREQ("?", sigwake_reason_name(0));
	EXPECT_STREQ("recorded", sigwake_outcome_name(SIGWAKE_POST_RECORDED));
	EXPECT_STREQ("woken", sigwake_outcome_name(SIGWAKE_POST_WOKEN));
	EXPECT_STREQ("kicked", sigwake_outcome_name(SIGWAKE_POST_KICKED));
	EXPECT_STREQ("queued", sigwake_outcome_name(SIGWAKE_POST_QUEUED));
	EXPECT_STREQ("?", sigwake_outcome_name(0));
}

TEST(open_error_names_the_module)
{
	EXPECT_NE(NULL, strstr(sigwake_open_error(-ENOENT), "module is not loaded"));
	EXPECT_NE(NULL, strstr(sigwake_open_error(-EACCES), "0666"));
	EXPECT_NE(NULL, strstr(sigwake_open_error(-ENOSPC), "max_domains_per_user"));
	EXPECT_STREQ(strerror(EIO), sigwake_open_error(-EIO));
}

/* ------------------------------------------------------------------ */
/* sigwake_wait_take(): the reason, and what it took                   */

TEST_F(lib, wait_take_takes_signal_and_flags)
{
	struct sigwake_thread_block *b = self->me->block;
	struct sigwake_taken t = { .pad = 7 };

	ASSERT_EQ(SIGWAKE_POST_RECORDED, sigwake_post(self->fd, self->me->handle, 5, NULL));
	ASSERT_EQ(SIGWAKE_POST_RECORDED, sigwake_kick(self->fd, self->me->handle));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL,
		  sigwake_wait_take(self->me, SIGWAKE_NO_WQ, 0, SW_WATCHDOG_NS, 0,
				    NULL, 0, &t));
	EXPECT_EQ(sigwake_sigbit(5), t.signals);
	EXPECT_EQ(SIGWAKE_TF_KICKED | SIGWAKE_TF_KICK_REQUESTED, t.flags);
	EXPECT_EQ(0, t.pad);
	EXPECT_EQ(0, SW_LOAD(&b->pending));
	EXPECT_EQ(0, SW_LOAD(&b->flags));
	/* nothing left to return at once: the next wait times out */
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT,
		  sigwake_wait_take(self->me, SIGWAKE_NO_WQ, 0, 0, 0, NULL, 0, &t));
	EXPECT_EQ(0, t.signals);
	EXPECT_EQ(0, t.flags);
}

/* a blocked signal stays in the block; EAGAIN fills @taken too */
TEST_F(lib, wait_take_eagain_leaves_blocked)
{
	struct sigwake_thread_block *b = self->me->block;
	struct sigwake_taken t;
	__u32 *word = sw_alloc_page();
	int wq;

	ASSERT_NE(NULL, word);
	wq = sigwake_wq_create(self->fd, word);
	ASSERT_LT(0, wq);
	*word = 3;
	sigwake_set_blocked(b, sigwake_sigbit(9));
	ASSERT_EQ(SIGWAKE_POST_RECORDED, sigwake_post(self->fd, self->me->handle, 9, NULL));
	EXPECT_EQ(-EAGAIN, sigwake_wait_take(self->me, (__u32)wq, 4, SW_WATCHDOG_NS,
					     0, NULL, 0, &t));
	EXPECT_EQ(0, t.signals);
	EXPECT_EQ(0, t.flags);
	EXPECT_EQ(sigwake_sigbit(9), SW_LOAD(&b->pending));
	EXPECT_EQ(-EINVAL, sigwake_wait_take(self->me, SIGWAKE_NO_WQ, 0, 0, 0,
					     NULL, 0, NULL));
}

static volatile sig_atomic_t usr2_count;

static void usr2_handler(int sig, siginfo_t *si, void *uc)
{
	usr2_count++;
}

struct pester {
	pthread_t target;
	struct sigwake_thread_block *b;
	int stop;	/* atomic */
	int sent;
};

/* Send SIGUSR2 (no SA_RESTART) to the target each time it sleeps. */
static void *pester_fn(void *arg)
{
	struct pester *p = arg;
	int64_t end = sw_now_ns() + SW_WATCHDOG_NS;

	while (!SW_LOAD(&p->stop) && p->sent < 3 && sw_now_ns() < end) {
		if (sigwake_state(p->b) != SIGWAKE_WAITING) {
			sched_yield();
			continue;
		}
		pthread_kill(p->target, SIGUSR2);
		p->sent++;
		/* one at a time: two pending SIGUSR2 would coalesce */
		SW_POLL(usr2_count >= p->sent, SW_LONG_MS);
	}
	return NULL;
}

/* a host signal without SA_RESTART: retried, never -EINTR */
TEST_F(lib, wait_take_retries_eintr)
{
	struct pester p = { .target = pthread_self(), .b = self->me->block };
	struct sigwake_taken t;
	pthread_t th;
	int64_t t0, timeout = 2000 * MS;
	int r;

	ASSERT_EQ(0, sw_sigaction(SIGUSR2, usr2_handler, 0));
	ASSERT_EQ(0, pthread_create(&th, NULL, pester_fn, &p));
	t0 = sw_now_ns();
	r = sigwake_wait_take(self->me, SIGWAKE_NO_WQ, 0, timeout, 0, NULL, 0, &t);
	SW_STORE(&p.stop, 1);
	pthread_join(th, NULL);
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, r) {
		TH_LOG("got %d (%s)", r, r < 0 ? strerror(-r) : sigwake_reason_name(r));
	}
	EXPECT_LE(timeout, sw_now_ns() - t0);
	EXPECT_LT(0, p.sent);
	EXPECT_EQ(p.sent, usr2_count);
}

struct kicker {
	int fd;
	__u32 target;
	struct sigwake_thread_block *b;
	int outcome;
};

static void *kicker_fn(void *arg)
{
	struct kicker *k = arg;

	if (SW_POLL(sigwake_state(k->b) == SIGWAKE_WAITING, SW_LONG_MS))
		k->outcome = sigwake_kick(k->fd, k->target);
	return NULL;
}

/* a KICK that ends the sleep itself shows as TF_KICK_REQUESTED */
TEST_F(lib, wait_take_woken_by_kick_reports_requested)
{
	struct kicker k = { .fd = self->fd, .target = self->me->handle,
			    .b = self->me->block };
	struct sigwake_taken t;
	pthread_t th;

	ASSERT_EQ(0, pthread_create(&th, NULL, kicker_fn, &k));
	EXPECT_EQ(SIGWAKE_REASON_KICK,
		  sigwake_wait_take(self->me, SIGWAKE_NO_WQ, 0, SW_WATCHDOG_NS, 0,
				    NULL, 0, &t));
	pthread_join(th, NULL);
	EXPECT_EQ(SIGWAKE_POST_WOKEN, k.outcome);
	EXPECT_EQ(SIGWAKE_TF_KICKED | SIGWAKE_TF_KICK_REQUESTED, t.flags);
	EXPECT_EQ(0, t.signals);
}

TEST_F(lib, wait_fds_and_wait_take_report_fd)
{
	struct sigwake_pollfd pfd = { .events = POLLIN };
	struct sigwake_taken t;
	int p[2];

	ASSERT_EQ(0, pipe(p));
	pfd.fd = p[0];
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT,
		  sigwake_wait_fds(self->fd, SIGWAKE_NO_WQ, 0, 0, 0, &pfd, 1));
	EXPECT_EQ(0, pfd.revents);
	ASSERT_EQ(1, write(p[1], "x", 1));
	EXPECT_EQ(SIGWAKE_REASON_FD,
		  sigwake_wait_fds(self->fd, SIGWAKE_NO_WQ, 0, SW_WATCHDOG_NS, 0,
				   &pfd, 1));
	EXPECT_EQ(POLLIN, pfd.revents);
	pfd.revents = 0;
	EXPECT_EQ(SIGWAKE_REASON_FD,
		  sigwake_wait_take(self->me, SIGWAKE_NO_WQ, 0, SW_WATCHDOG_NS, 0,
				    &pfd, 1, &t));
	EXPECT_EQ(POLLIN, pfd.revents);
	close(p[0]);
	close(p[1]);
}

/* ------------------------------------------------------------------ */
/* KICK_WAIT, FORWARD, PREEMPT through the library                     */

TEST_F(lib, kick_wait_of_thread_in_host)
{
	EXPECT_EQ(SIGWAKE_POST_RECORDED,
		  sigwake_kick_wait(self->fd, self->me->handle, SW_WATCHDOG_NS));
	EXPECT_EQ(SIGWAKE_TF_KICKED | SIGWAKE_TF_KICK_REQUESTED,
		  sigwake_take_flags(self->me->block));
	EXPECT_EQ(-ENOENT, sigwake_kick_wait(self->fd, 77, 0));
	EXPECT_EQ(0, kick_count);
}

TEST_F(lib, forward_and_forward_remove)
{
	struct sigwake_thread_block *b = self->me->block;
	int r;

	ASSERT_NE(SIG_ERR, signal(SIGUSR2, SIG_IGN));
	r = sigwake_forward(self->fd, SIGUSR2, 13, self->me->handle);
	if (r == -EOPNOTSUPP)
		SKIP(return, "FORWARD: no signal_generate tracepoint");
	ASSERT_EQ(0, r);
	ASSERT_EQ(0, kill(getpid(), SIGUSR2));
	/* a kernel worker posts it, right after the signal is generated */
	EXPECT_TRUE(SW_POLL(SW_LOAD(&b->pending) & sigwake_sigbit(13), SW_LONG_MS));
	EXPECT_EQ(sigwake_sigbit(13), sigwake_take_pending(b));
	EXPECT_EQ(0, sigwake_forward_remove(self->fd, SIGUSR2));
	EXPECT_EQ(-ENOENT, sigwake_forward_remove(self->fd, SIGUSR2));
	EXPECT_EQ(-EINVAL, sigwake_forward(self->fd, SIGKILL, 13, self->me->handle));
}

/* a budget preemption: TF_PREEMPTED | TF_KICKED, never TF_KICK_REQUESTED */
TEST_F(lib, preempt_flags_differ_from_a_kick)
{
	struct sigwake_thread_block *b = self->me->block;
	__u64 sigs = 0;
	__u32 fl = 0;
	int64_t end;
	int r;

	r = sigwake_preempt(self->fd, self->me->handle, 2 * MS);
	if (r == -EOPNOTSUPP)
		SKIP(return, "PREEMPT: no preempt notifiers");
	ASSERT_EQ(0, r);
	ASSERT_EQ(0, sigwake_try_enter(b, SIGWAKE_RUNNING_IN_GUEST, &sigs, &fl));
	EXPECT_EQ(0, sigs);
	EXPECT_EQ(0, fl);
	end = sw_now_ns() + SW_WATCHDOG_NS;
	while (!(SW_LOAD(&b->flags) & SIGWAKE_TF_PREEMPTED) && sw_now_ns() < end)
		sw_cpu_relax();
	sigwake_leave_guest(b);
	EXPECT_EQ(0, sigwake_preempt(self->fd, self->me->handle, 0));
	EXPECT_EQ(SIGWAKE_TF_PREEMPTED | SIGWAKE_TF_KICKED, sigwake_take_flags(b));
	EXPECT_TRUE(SW_POLL(kick_count > 0, SW_LONG_MS));
	EXPECT_EQ(1, self->kick[0]);
}

/* the syscall bracket and the wake counter */
TEST_F(lib, enter_syscall_and_wake_seq)
{
	struct sigwake_thread_block *b = self->me->block;
	__u64 seq = sigwake_wake_seq(b);

	EXPECT_EQ(0, sigwake_enter_syscall(b));
	EXPECT_EQ(SIGWAKE_IN_SYSCALL, sigwake_state(b));
	/* a post to a thread in a host syscall kicks it */
	EXPECT_EQ(SIGWAKE_POST_KICKED, sigwake_post(self->fd, self->me->handle, 4, NULL));
	sigwake_leave_syscall(b);
	EXPECT_EQ(SIGWAKE_RUNNING_IN_HOST, sigwake_state(b));
	EXPECT_TRUE(SW_POLL(kick_count == 1, SW_LONG_MS));
	EXPECT_EQ(SIGWAKE_TF_KICKED, sigwake_take_flags(b));
	EXPECT_EQ(sigwake_sigbit(4), sigwake_take_pending(b));
	EXPECT_EQ(seq, sigwake_wake_seq(b));
}

/* ------------------------------------------------------------------ */
/* ending registrations: the owner, a supervisor, an exited thread     */

struct member {
	int fd;
	struct sigwake_self *me;
	__u32 handle;
	int err;
	int wait_ret;
	int unreg_ret;
	int phase;	/* atomic: 1 registered, 2 waited, 3 unregistered */
	int go;		/* atomic: may unregister */
	int wait;	/* wait_take until revoked */
	int leave;	/* exit without unregistering */
};

static void *member_fn(void *arg)
{
	struct member *m = arg;
	struct sigwake_taken t;

	m->err = sigwake_register(m->fd, 0, NULL, &m->me);
	if (m->err) {
		SW_STORE(&m->phase, -1);
		return NULL;
	}
	m->handle = m->me->handle;
	SW_STORE(&m->phase, 1);
	if (m->wait)
		m->wait_ret = sigwake_wait_take(m->me, SIGWAKE_NO_WQ, 0,
						SW_WATCHDOG_NS, 0, NULL, 0, &t);
	SW_STORE(&m->phase, 2);
	if (m->leave || !SW_POLL(SW_LOAD(&m->go), SW_LONG_MS))
		return NULL;
	m->unreg_ret = sigwake_unregister(m->me);
	SW_STORE(&m->phase, 3);
	return NULL;
}

/*
 * A supervisor revokes a sleeping thread's registration: the sleep ends
 * with -EIDRM; another thread registers and gets the same handle (lowest
 * first); the revoked thread's own sigwake_unregister() then frees its
 * memory without ending the newcomer's registration.
 */
TEST_F(lib, revoke_ends_a_live_thread_and_spares_the_next)
{
	struct member a = { .fd = self->fd, .wait = 1 };
	struct member c = { .fd = self->fd };
	pthread_t ta, tc;

	ASSERT_EQ(0, pthread_create(&ta, NULL, member_fn, &a));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&a.phase) == 1, SW_LONG_MS));
	ASSERT_TRUE(SW_POLL(sigwake_state(a.me->block) == SIGWAKE_WAITING, SW_LONG_MS));
	EXPECT_EQ(0, sigwake_revoke(a.me));
	EXPECT_EQ(-ENOENT, sigwake_revoke(a.me));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&a.phase) == 2, SW_LONG_MS));
	EXPECT_EQ(-EIDRM, a.wait_ret);

	ASSERT_EQ(0, pthread_create(&tc, NULL, member_fn, &c));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&c.phase) == 2, SW_LONG_MS));
	ASSERT_EQ(0, c.err);
	TH_LOG("revoked handle %u, newcomer's handle %u", a.handle, c.handle);

	SW_STORE(&a.go, 1);
	ASSERT_TRUE(SW_POLL(SW_LOAD(&a.phase) == 3, SW_LONG_MS));
	pthread_join(ta, NULL);
	EXPECT_EQ(-ENOENT, a.unreg_ret);
	/* the newcomer is still registered */
	EXPECT_EQ(SIGWAKE_POST_RECORDED, sigwake_post(self->fd, c.handle, 3, NULL));
	SW_STORE(&c.go, 1);
	ASSERT_TRUE(SW_POLL(SW_LOAD(&c.phase) == 3, SW_LONG_MS));
	pthread_join(tc, NULL);
	EXPECT_EQ(0, c.unreg_ret);
	EXPECT_EQ(-ENOENT, sigwake_post(self->fd, c.handle, 3, NULL));
}

/* the owner's own unregister; an exited thread's handle; forget */
TEST_F(lib, unregister_handle_and_forget_after_exit)
{
	struct member m = { .fd = self->fd, .leave = 1 };
	pthread_t th;

	/* it exits without unregistering: its handle answers ESRCH */
	ASSERT_EQ(0, pthread_create(&th, NULL, member_fn, &m));
	pthread_join(th, NULL);
	ASSERT_EQ(0, m.err);
	EXPECT_TRUE(SW_POLL(sigwake_post(self->fd, m.handle, 3, NULL) == -ESRCH,
			    SW_LONG_MS));
	EXPECT_EQ(0, sigwake_unregister_handle(self->fd, m.handle));
	EXPECT_EQ(-ENOENT, sigwake_unregister_handle(self->fd, m.handle));
	sigwake_forget(m.me);

	EXPECT_EQ(0, sigwake_unregister(self->me));
	EXPECT_EQ(NULL, sigwake_self());
	EXPECT_EQ(NULL, sigwake_self_in(self->fd));
	EXPECT_EQ(-EINVAL, sigwake_unregister(NULL));
}

TEST_HARNESS_MAIN
