// SPDX-License-Identifier: GPL-2.0
/*
 * The hand-off: SIGWAKE_IOC_WAIT with SIGWAKE_WAIT_WAKE_FIRST wakes a
 * queue (exactly SIGWAKE_IOC_WAKE) and then waits, in one call.
 *
 * The wake comes first and the wait is a WAIT as without the flag; the
 * caller never wakes itself; a partner that hands back wakes the first
 * with no wake-up lost (a ping-pong of SIGWAKE_RACE_ITERS / 20 hand-offs
 * each way, on one pinned CPU and on two, every wait under the 10 s
 * watchdog, and every hand-off's count checked against the partner's
 * wake_seq); a failed wait still reports what its wake woke; errors found
 * before the wake (bad queue, caller, flags, fields, struct size) wake
 * nobody; a host signal's restart, or a retry after EINTR, does not wake
 * again; callers of the previous struct sizes keep working.
 *
 * Fixture ho: a domain with the test thread registered (block 0), queues
 * qa and qb bound to the words wa and wb (each on its own cache line).
 */
#include "sigwake_test.h"

#define MS	SW_NSEC_PER_MSEC

FIXTURE(ho) {
	int fd;
	struct sigwake_thread_block *blk;	/* [0] is ours, [1..7] spare */
	__u32 handle;
	__u32 *wa, *wb;
	__u32 qa, qb;
};

FIXTURE_SETUP(ho)
{
	__u32 *words;

	self->fd = -1;
	self->blk = sw_alloc_blocks(8);
	ASSERT_NE(NULL, self->blk);
	words = sw_alloc_page();
	ASSERT_NE(NULL, words);
	self->wa = &words[0];
	self->wb = &words[16];
	SW_OPEN_DOMAIN(self->fd);
	ASSERT_EQ(0, sw_register(self->fd, self->blk, NULL, 0, &self->handle));
	ASSERT_EQ(0, sw_wq_create(self->fd, self->wa, &self->qa));
	ASSERT_EQ(0, sw_wq_create(self->fd, self->wb, &self->qb));
}

FIXTURE_TEARDOWN(ho)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* A registered helper thread asleep in WAIT on @wq (expected 0). */
static int start_sleeper(struct sw_thread *t, int fd,
			 struct sigwake_thread_block *blk, __u32 wq)
{
	int err;

	sw_thread_init(t, fd, blk);
	t->do_wait = true;
	t->wq = wq;
	err = sw_thread_start(t);
	if (err)
		return err;
	return sw_thread_is_waiting(t, SW_LONG_MS) ? 0 : -ETIMEDOUT;
}

/* ------------------------------------------------------------------ */
/* what one hand-off does                                               */

/*
 * The partner: asleep on qb; once woken, it waits until the caller of the
 * hand-off sleeps (its block says WAITING), then hands the turn back.
 */
struct partner {
	int fd;
	struct sigwake_thread_block *blk, *caller_blk;
	__u32 qa, qb, *wa;
	int reg_err, wait_err, wake_err;
	__u32 reason, woken;
	bool saw_caller_asleep;
	int waiting, done;	/* atomic */
};

static void *partner_fn(void *arg)
{
	struct partner *p = arg;

	p->reg_err = sw_register(p->fd, p->blk, NULL, 0, NULL);
	SW_STORE(&p->waiting, 1);
	if (p->reg_err)
		goto out;
	p->wait_err = sw_wait(p->fd, p->qb, 0, SW_WATCHDOG_NS, 0, &p->reason);
	p->saw_caller_asleep = SW_POLL(sw_state(p->caller_blk) ==
				       SIGWAKE_WAITING, SW_LONG_MS);
	SW_STORE(p->wa, 1);
	p->wake_err = sw_wake(p->fd, p->qa, 1, &p->woken);
out:
	SW_STORE(&p->done, 1);
	return NULL;
}

TEST_F(ho, wakes_partner_then_sleeps)
{
	struct partner p = {
		.fd = self->fd, .blk = &self->blk[1],
		.caller_blk = self->blk, .qa = self->qa, .qb = self->qb,
		.wa = self->wa,
	};
	__u32 reason = 0, woken = 0;
	pthread_t th;

	ASSERT_EQ(0, pthread_create(&th, NULL, partner_fn, &p));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&p.waiting) &&
			    sw_state(p.blk) == SIGWAKE_WAITING, SW_LONG_MS));
	SW_STORE(self->wb, 1);
	EXPECT_EQ(0, sw_handoff(self->fd, self->qb, 1, self->qa, 0,
				SW_WATCHDOG_NS, &reason, &woken));
	EXPECT_EQ(SIGWAKE_REASON_WAKE, reason);
	EXPECT_EQ(1, woken);
	EXPECT_EQ(1, SW_LOAD(&self->blk->wake_seq));
	EXPECT_EQ(SIGWAKE_RUNNING_IN_HOST, sw_state(self->blk));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&p.done), SW_LONG_MS));
	pthread_join(th, NULL);
	EXPECT_EQ(0, p.reg_err);
	EXPECT_EQ(0, p.wait_err);
	EXPECT_EQ(SIGWAKE_REASON_WAKE, p.reason);
	EXPECT_TRUE(p.saw_caller_asleep);
	EXPECT_EQ(0, p.wake_err);
	EXPECT_EQ(1, p.woken);
}

/*
 * The wait fails at its word check (EAGAIN): the wake before it still
 * woke the partner, and its count comes back in the failed call's struct.
 */
TEST_F(ho, stale_word_still_wakes)
{
	struct sw_thread t;
	__u32 woken = 0;

	ASSERT_EQ(0, start_sleeper(&t, self->fd, &self->blk[1], self->qb));
	SW_STORE(self->wa, 5);
	SW_STORE(self->wb, 1);
	EXPECT_EQ(-EAGAIN, sw_handoff(self->fd, self->qb, 1, self->qa, 4,
				      SW_WATCHDOG_NS, NULL, &woken));
	EXPECT_EQ(1, woken);
	EXPECT_EQ(SIGWAKE_RUNNING_IN_HOST, sw_state(self->blk));
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	EXPECT_EQ(0, t.wait_err);
	EXPECT_EQ(SIGWAKE_REASON_WAKE, t.args.reason);
	EXPECT_EQ(t.seq_before + 1, t.seq_after);
	sw_thread_finish(&t);
}

/* The caller is on no queue when it wakes: not even on its own. */
TEST_F(ho, own_queue_wakes_only_others)
{
	struct sw_thread t;
	__u32 reason = 0, woken = 0;
	int64_t t0 = sw_now_ns();

	ASSERT_EQ(0, start_sleeper(&t, self->fd, &self->blk[1], self->qa));
	EXPECT_EQ(0, sw_handoff(self->fd, self->qa, 2, self->qa, 0, 100 * MS,
				&reason, &woken));
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, reason);
	EXPECT_EQ(1, woken);
	EXPECT_LE(100 * MS, sw_now_ns() - t0);
	EXPECT_EQ(0, SW_LOAD(&self->blk->wake_seq));
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	EXPECT_EQ(SIGWAKE_REASON_WAKE, t.args.reason);
	sw_thread_finish(&t);
}

/* Nobody to wake: woken is written, as 0, and the wait runs as usual. */
TEST_F(ho, nobody_asleep_woken_zero)
{
	__u32 reason = 0, woken = SW_WOKEN_UNSET;

	EXPECT_EQ(0, sw_handoff(self->fd, self->qb, 1, self->qa, 0, 0,
				&reason, &woken));
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, reason);
	EXPECT_EQ(0, woken);
	EXPECT_EQ(0, sw_handoff(self->fd, self->qb, 1, SIGWAKE_NO_WQ, 0, 0,
				&reason, &woken));
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, reason);
	EXPECT_EQ(0, woken);
}

/* ------------------------------------------------------------------ */
/* ping-pong: each side hands the turn to the other and sleeps          */

/*
 * Round k: A stores k into wb and hands off (wake qb, wait on qa while wa
 * is k - 1); B, woken or finding wb == k, stores k into wa and hands off
 * (wake qa, wait on qb while wb is k).  Every wait has the watchdog: a
 * wait that times out is a lost wake-up.  Each side counts what its
 * hand-offs woke, which must equal the other side's wake_seq.
 */
struct pp_side {
	unsigned long rounds;
	unsigned long woken;	/* threads its wakes woke */
	unsigned long asleep;	/* hand-offs that found the partner asleep */
	int err;		/* first failure: -errno, or -ETIMEDOUT */
	unsigned long at;	/* in round */
	const char *what;
};

struct pp {
	int fd;
	struct sigwake_thread_block *blk_b;
	__u32 *wa, *wb;
	__u32 qa, qb;
	unsigned long n;
	int cpu_b;
	int stop;		/* atomic: a side failed */
	int reg_err, ready;	/* B's registration; atomic */
	struct pp_side b;	/* B's results */
};

static void pp_fail(struct pp *pp, struct pp_side *s, unsigned long k,
		    int err, const char *what, __u32 other_q)
{
	if (!s->err) {
		s->err = err;
		s->at = k;
		s->what = what;
	}
	SW_STORE(&pp->stop, 1);
	/* The other side may sleep on its word: end that sleep. */
	sw_wake(pp->fd, other_q, 1, NULL);
}

/* Sleep on @wq until *@word moves from @old: 0, or why not. */
static int pp_await(struct pp *pp, __u32 wq, __u32 *word, __u32 old,
		    const char **what)
{
	__u32 reason = 0;
	int r;

	while (SW_LOAD(word) == old) {
		if (SW_LOAD(&pp->stop)) {
			*what = "the other side stopped";
			return -ECANCELED;
		}
		r = sw_wait(pp->fd, wq, old, SW_WATCHDOG_NS, 0, &reason);
		if (r == -EAGAIN)
			continue;
		if (r) {
			*what = "WAIT failed";
			return r;
		}
		if (reason == SIGWAKE_REASON_TIMEOUT) {
			*what = "WAIT timed out: lost wake-up";
			return -ETIMEDOUT;
		}
		if (reason != SIGWAKE_REASON_WAKE) {
			*what = "WAIT ended for another reason";
			return -EPROTO;
		}
	}
	return 0;
}

/*
 * Hand the turn to the side sleeping on @wake_q (its word already
 * stored), then sleep on @wq until *@word moves from @old.
 */
static int pp_handoff(struct pp *pp, struct pp_side *s, __u32 wake_q,
		      __u32 wq, __u32 *word, __u32 old, const char **what)
{
	__u32 reason = 0, woken = SW_WOKEN_UNSET;
	int r;

	r = sw_handoff(pp->fd, wake_q, 1, wq, old, SW_WATCHDOG_NS, &reason,
		       &woken);
	if (r && r != -EAGAIN) {
		*what = "hand-off failed";
		return r;
	}
	if (woken > 1) {
		*what = "hand-off woke more than it was asked to, or did not say";
		return -EPROTO;
	}
	s->woken += woken;
	s->asleep += woken;
	if (!r && reason == SIGWAKE_REASON_TIMEOUT) {
		*what = "hand-off's wait timed out: lost wake-up";
		return -ETIMEDOUT;
	}
	if (!r && reason != SIGWAKE_REASON_WAKE) {
		*what = "hand-off's wait ended for another reason";
		return -EPROTO;
	}
	return pp_await(pp, wq, word, old, what);
}

static void *pp_b_fn(void *arg)
{
	struct pp *pp = arg;
	struct pp_side *s = &pp->b;
	const char *what = NULL;
	__u32 woken = 0;
	unsigned long k;
	int r;

	sw_pin_self(pp->cpu_b);
	pp->reg_err = sw_register(pp->fd, pp->blk_b, NULL, 0, NULL);
	SW_STORE(&pp->ready, 1);
	if (pp->reg_err)
		return NULL;
	r = pp_await(pp, pp->qb, pp->wb, 0, &what);
	if (r) {
		pp_fail(pp, s, 1, r, what, pp->qa);
		return NULL;
	}
	for (k = 1; k <= pp->n; k++) {
		SW_STORE(pp->wa, (__u32)k);
		if (k == pp->n) {
			r = sw_wake(pp->fd, pp->qa, 1, &woken);
			if (r)
				pp_fail(pp, s, k, r, "last WAKE failed", pp->qa);
			else
				s->woken += woken;
			s->rounds = k;
			break;
		}
		r = pp_handoff(pp, s, pp->qa, pp->qb, pp->wb, (__u32)k, &what);
		if (r) {
			pp_fail(pp, s, k, r, what, pp->qa);
			break;
		}
		s->rounds = k;
	}
	return NULL;
}

static void ping_pong(struct __test_metadata *_metadata,
		      FIXTURE_DATA(ho) *self, bool cross)
{
	struct pp pp = {
		.fd = self->fd, .blk_b = &self->blk[1],
		.wa = self->wa, .wb = self->wb, .qa = self->qa, .qb = self->qb,
		.n = sw_race_iters(20),
	};
	struct pp_side a = { 0 };
	const char *what = NULL;
	unsigned long k;
	int cpu_a, cpu_b, r;
	pthread_t th;

	if (sw_two_cpus(&cpu_a, &cpu_b) < 2 && cross)
		SKIP(return, "one CPU only");
	pp.cpu_b = cross ? cpu_b : cpu_a;
	ASSERT_EQ(0, sw_pin_self(cpu_a));
	ASSERT_EQ(0, pthread_create(&th, NULL, pp_b_fn, &pp));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&pp.ready), SW_LONG_MS));
	ASSERT_EQ(0, pp.reg_err);

	for (k = 1; k <= pp.n; k++) {
		SW_STORE(pp.wb, (__u32)k);
		r = pp_handoff(&pp, &a, pp.qb, pp.qa, pp.wa, (__u32)(k - 1),
			       &what);
		if (r) {
			pp_fail(&pp, &a, k, r, what, pp.qb);
			break;
		}
		a.rounds = k;
	}
	pthread_join(th, NULL);

	TH_LOG("%lu rounds on CPUs %d and %d: A's hand-offs found B asleep %lu times, B's found A asleep %lu times",
	       pp.n, cpu_a, pp.cpu_b, a.asleep, pp.b.asleep);
	EXPECT_EQ(0, a.err) {
		TH_LOG("A, round %lu: %s (%s)", a.at, a.what, strerror(-a.err));
	}
	EXPECT_EQ(0, pp.b.err) {
		TH_LOG("B, round %lu: %s (%s)", pp.b.at, pp.b.what,
		       strerror(-pp.b.err));
	}
	EXPECT_EQ(pp.n, a.rounds);
	EXPECT_EQ(pp.n, pp.b.rounds);
	EXPECT_EQ(pp.n, SW_LOAD(self->wa));
	EXPECT_EQ(pp.n, SW_LOAD(self->wb));
	/* Each count is exactly the wake-ups the other side saw. */
	EXPECT_EQ(a.woken, SW_LOAD(&pp.blk_b->wake_seq));
	EXPECT_EQ(pp.b.woken, SW_LOAD(&self->blk->wake_seq));
}

/* 5,000 rounds each way: a few seconds on 6.1 under TCG. */
TEST_F_TIMEOUT(ho, ping_pong_one_cpu, 300)
{
	ping_pong(_metadata, self, false);
}

TEST_F_TIMEOUT(ho, ping_pong_two_cpus, 300)
{
	ping_pong(_metadata, self, true);
}

/* ------------------------------------------------------------------ */
/* errors found before the wake wake nobody                             */

TEST_F(ho, unknown_wake_queue_enoent)
{
	__u32 woken = 0;
	int64_t t0 = sw_now_ns();

	EXPECT_EQ(-ENOENT, sw_handoff(self->fd, 12345, 1, self->qa, 0,
				      SW_WATCHDOG_NS, NULL, &woken));
	EXPECT_EQ(SW_WOKEN_UNSET, woken);
	EXPECT_GT(2000 * MS, sw_now_ns() - t0);
	EXPECT_EQ(-ENOENT, sw_handoff(self->fd, SIGWAKE_NO_WQ, 1, self->qa, 0,
				      SW_WATCHDOG_NS, NULL, &woken));
	EXPECT_EQ(SW_WOKEN_UNSET, woken);
}

TEST_F(ho, unknown_wait_queue_wakes_nobody)
{
	struct sw_thread t;
	__u32 woken = 0;

	ASSERT_EQ(0, start_sleeper(&t, self->fd, &self->blk[1], self->qb));
	EXPECT_EQ(-ENOENT, sw_handoff(self->fd, self->qb, 1, 12345, 0,
				      SW_WATCHDOG_NS, NULL, &woken));
	EXPECT_EQ(SW_WOKEN_UNSET, woken);
	sw_sleep_ms(100);
	EXPECT_FALSE(SW_LOAD(&t.done));
	EXPECT_EQ(SIGWAKE_WAITING, sw_state(t.blk));
	ASSERT_EQ(0, sw_wake(self->fd, self->qb, 1, &woken));
	EXPECT_EQ(1, woken);
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	sw_thread_finish(&t);
}

/* A thread that is not registered cannot wait, so it does not wake. */
struct stranger {
	int fd;
	__u32 qa, qb;
	int err;
	__u32 woken;
};

static void *stranger_fn(void *arg)
{
	struct stranger *s = arg;

	s->err = sw_handoff(s->fd, s->qb, 1, s->qa, 0, SW_WATCHDOG_NS, NULL,
			    &s->woken);
	return NULL;
}

TEST_F(ho, unregistered_caller_wakes_nobody)
{
	struct stranger s = { .fd = self->fd, .qa = self->qa, .qb = self->qb };
	struct sw_thread t;
	pthread_t th;

	ASSERT_EQ(0, start_sleeper(&t, self->fd, &self->blk[1], self->qb));
	ASSERT_EQ(0, pthread_create(&th, NULL, stranger_fn, &s));
	pthread_join(th, NULL);
	EXPECT_EQ(-ENOENT, s.err);
	EXPECT_EQ(SW_WOKEN_UNSET, s.woken);
	sw_sleep_ms(100);
	EXPECT_EQ(SIGWAKE_WAITING, sw_state(t.blk));
	ASSERT_EQ(0, sw_wake(self->fd, self->qb, 1, NULL));
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	sw_thread_finish(&t);
}

TEST_F(ho, unknown_flag_einval)
{
	struct sigwake_wait_args a = {
		.size = sizeof(a), .wq = SIGWAKE_NO_WQ,
		.flags = SIGWAKE_WAIT_WAKE_FIRST | (1u << 5),
		.wake_wq = self->qb, .wake_nr = 1, .woken = SW_WOKEN_UNSET,
	};

	EXPECT_EQ(-EINVAL, sw_ioctl(self->fd, SIGWAKE_IOC_WAIT, &a));
	EXPECT_EQ(SW_WOKEN_UNSET, a.woken);
	a.flags = 1u << 31;
	EXPECT_EQ(-EINVAL, sw_ioctl(self->fd, SIGWAKE_IOC_WAIT, &a));
	EXPECT_EQ(0, SIGWAKE_WAIT_FLAGS_ALL &
		     ~(SIGWAKE_WAIT_ABSTIME | SIGWAKE_WAIT_WAKE_FIRST));
}

/* The wake's fields are strict without the flag, and pad3 always. */
TEST_F(ho, wake_fields_without_flag_einval)
{
	struct sigwake_wait_args a = {
		.size = sizeof(a), .wq = SIGWAKE_NO_WQ, .wake_wq = self->qb,
	};

	EXPECT_EQ(-EINVAL, sw_ioctl(self->fd, SIGWAKE_IOC_WAIT, &a));
	a.wake_wq = 0;
	a.wake_nr = 1;
	EXPECT_EQ(-EINVAL, sw_ioctl(self->fd, SIGWAKE_IOC_WAIT, &a));
	a.wake_nr = 0;
	a.pad3 = 1;
	EXPECT_EQ(-EINVAL, sw_ioctl(self->fd, SIGWAKE_IOC_WAIT, &a));
	a.flags = SIGWAKE_WAIT_WAKE_FIRST;
	a.wake_wq = self->qb;
	EXPECT_EQ(-EINVAL, sw_ioctl(self->fd, SIGWAKE_IOC_WAIT, &a));
	/* an output field is not input: any value goes in */
	a.flags = 0;
	a.wake_wq = 0;
	a.pad3 = 0;
	a.woken = 77;
	EXPECT_EQ(0, sw_ioctl(self->fd, SIGWAKE_IOC_WAIT, &a));
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, a.reason);
	EXPECT_EQ(77, a.woken);
}

/* The flag needs version 2 of the struct, where its fields are. */
TEST_F(ho, short_struct_einval)
{
	struct sigwake_wait_args a = {
		.flags = SIGWAKE_WAIT_WAKE_FIRST, .wq = SIGWAKE_NO_WQ,
		.wake_wq = self->qb, .wake_nr = 1,
	};
	struct sw_thread t;
	__u32 sizes[] = {
		SIGWAKE_WAIT_ARGS_SIZE_VER0, SIGWAKE_WAIT_ARGS_SIZE_VER1,
		SIGWAKE_WAIT_ARGS_SIZE_VER2 - 4,
	};
	unsigned int i;

	ASSERT_EQ(0, start_sleeper(&t, self->fd, &self->blk[1], self->qb));
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		a.size = sizes[i];
		EXPECT_EQ(-EINVAL, sw_ioctl(self->fd, SIGWAKE_IOC_WAIT, &a)) {
			TH_LOG("size %u", sizes[i]);
		}
	}
	sw_sleep_ms(100);
	EXPECT_EQ(SIGWAKE_WAITING, sw_state(t.blk));
	ASSERT_EQ(0, sw_wake(self->fd, self->qb, 1, NULL));
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	sw_thread_finish(&t);
}

/* ------------------------------------------------------------------ */
/* host signals: the wake is not repeated                               */

static int usr2_count;

static void usr2_handler(int sig, siginfo_t *si, void *uc)
{
	SW_ADD(&usr2_count, 1);
}

/*
 * Interrupts the test thread's hand-off once it sleeps; with @then_post,
 * waits for the restarted wait and ends it with a POST.
 */
struct poker {
	int fd;
	pthread_t target;
	__u32 target_handle;
	struct sigwake_thread_block *target_blk;
	bool then_post;
	int err;
	const char *what;
};

static void *poker_fn(void *arg)
{
	struct poker *p = arg;

	if (!SW_POLL(sw_state(p->target_blk) == SIGWAKE_WAITING, SW_LONG_MS)) {
		p->what = "the hand-off never slept";
		return NULL;
	}
	p->err = pthread_kill(p->target, SIGUSR2);
	if (p->err) {
		p->what = "pthread_kill";
		return NULL;
	}
	if (!p->then_post)
		return NULL;
	if (!SW_POLL(SW_LOAD(&usr2_count) == 1 &&
		     sw_state(p->target_blk) == SIGWAKE_WAITING, SW_LONG_MS)) {
		p->what = "the hand-off did not sleep again after the signal";
		return NULL;
	}
	p->err = sw_post(p->fd, p->target_handle, SW_SIG, NULL, NULL);
	if (p->err)
		p->what = "POST";
	return NULL;
}

/* Two sleepers on qb; the hand-off wakes one and waits, relative time. */
static void interrupted_handoff(struct __test_metadata *_metadata,
				FIXTURE_DATA(ho) *self, bool restart)
{
	struct sigwake_wait_args a = {
		.size = sizeof(a), .flags = SIGWAKE_WAIT_WAKE_FIRST,
		.wq = SIGWAKE_NO_WQ, .timeout_ns = SW_WATCHDOG_NS,
		.wake_wq = self->qb, .wake_nr = 1, .woken = SW_WOKEN_UNSET,
	};
	struct poker p = {
		.fd = self->fd, .target = pthread_self(),
		.target_handle = self->handle, .target_blk = self->blk,
		.then_post = restart,
	};
	struct sw_thread s[2];
	pthread_t th;
	int err, i, asleep;

	ASSERT_EQ(0, sw_sigaction(SIGUSR2, usr2_handler,
				  restart ? SA_RESTART : 0));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, start_sleeper(&s[i], self->fd, &self->blk[1 + i],
					   self->qb));
	ASSERT_EQ(0, pthread_create(&th, NULL, poker_fn, &p));
	err = sw_ioctl(self->fd, SIGWAKE_IOC_WAIT, &a);
	pthread_join(th, NULL);
	ASSERT_EQ(NULL, p.what) {
		TH_LOG("poker: %s (%s)", p.what, strerror(p.err));
	}
	EXPECT_EQ(1, SW_LOAD(&usr2_count));
	if (restart) {
		EXPECT_EQ(0, err);
		EXPECT_EQ(SIGWAKE_REASON_SIGNAL, a.reason);
	} else {
		EXPECT_EQ(-EINTR, err);
	}
	/* rewritten as a plain wait with the same deadline and count */
	EXPECT_EQ(1, a.woken);
	EXPECT_EQ(0, a.wake_wq);
	EXPECT_EQ(0, a.wake_nr);
	EXPECT_EQ(SIGWAKE_WAIT_ABSTIME, a.flags);
	if (!restart) {
		/* a retry with the same struct only waits */
		a.flags = 0;
		a.timeout_ns = 0;
		EXPECT_EQ(0, sw_ioctl(self->fd, SIGWAKE_IOC_WAIT, &a));
		EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, a.reason);
		EXPECT_EQ(1, a.woken);
	}

	/* exactly one sleeper woken, the other still asleep */
	ASSERT_TRUE(SW_POLL(SW_LOAD(&s[0].done) || SW_LOAD(&s[1].done),
			    SW_LONG_MS));
	sw_sleep_ms(100);
	asleep = (sw_state(s[0].blk) == SIGWAKE_WAITING) +
		 (sw_state(s[1].blk) == SIGWAKE_WAITING);
	EXPECT_EQ(1, asleep);
	ASSERT_EQ(0, sw_wake(self->fd, self->qb, 2, NULL));
	for (i = 0; i < 2; i++) {
		ASSERT_TRUE(sw_thread_done(&s[i], SW_LONG_MS));
		EXPECT_EQ(SIGWAKE_REASON_WAKE, s[i].args.reason);
		EXPECT_EQ(1, s[i].seq_after - s[i].seq_before);
		sw_thread_finish(&s[i]);
	}
}

TEST_F(ho, sa_restart_does_not_wake_again)
{
	interrupted_handoff(_metadata, self, true);
}

TEST_F(ho, eintr_retry_does_not_wake_again)
{
	interrupted_handoff(_metadata, self, false);
}

/* ------------------------------------------------------------------ */
/* the previous struct sizes                                            */

/*
 * Version 1 (48 bytes), the size a caller built before the hand-off
 * passes: accepted (the kernel's fast path copies 64 bytes and must not
 * read the caller's next bytes as fields), and nothing past it written.
 */
TEST_F(ho, ver1_struct_still_accepted)
{
	unsigned char buf[SIGWAKE_WAIT_ARGS_SIZE_VER2 + 16];
	struct sigwake_wait_args *a = (void *)buf;
	int i;

	memset(buf, 0xa5, sizeof(buf));
	memset(buf, 0, SIGWAKE_WAIT_ARGS_SIZE_VER1);
	a->size = SIGWAKE_WAIT_ARGS_SIZE_VER1;
	a->wq = SIGWAKE_NO_WQ;
	ASSERT_EQ(0, sw_ioctl(self->fd, SIGWAKE_IOC_WAIT, a));
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, a->reason);
	ASSERT_EQ(0, sw_post(self->fd, self->handle, SW_SIG, NULL, NULL));
	a->timeout_ns = SW_WATCHDOG_NS;
	ASSERT_EQ(0, sw_ioctl(self->fd, SIGWAKE_IOC_WAIT, a));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, a->reason);
	for (i = SIGWAKE_WAIT_ARGS_SIZE_VER1; i < (int)sizeof(buf); i++)
		EXPECT_EQ(0xa5, buf[i]) {
			TH_LOG("byte %d written", i);
		}
}

/*
 * Versions 0 and 1 ending at the end of a page, the next page unmapped:
 * a copy of the current size would fault; the call must not.
 */
TEST_F(ho, old_sizes_at_page_end)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	__u32 sizes[] = { SIGWAKE_WAIT_ARGS_SIZE_VER0,
			  SIGWAKE_WAIT_ARGS_SIZE_VER1 };
	struct sigwake_wait_args *a;
	unsigned int i;
	char *p;

	p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, munmap(p + pg, pg));
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		a = (void *)(p + pg - sizes[i]);
		memset(a, 0, sizes[i]);
		a->size = sizes[i];
		a->wq = self->qa;
		EXPECT_EQ(0, sw_ioctl(self->fd, SIGWAKE_IOC_WAIT, a)) {
			TH_LOG("size %u", sizes[i]);
		}
		EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, a->reason);
		SW_STORE(self->wa, 1);
		EXPECT_EQ(-EAGAIN, sw_ioctl(self->fd, SIGWAKE_IOC_WAIT, a));
		SW_STORE(self->wa, 0);
	}
	munmap(p, pg);
}

TEST_HARNESS_MAIN
