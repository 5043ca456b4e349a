// SPDX-License-Identifier: GPL-2.0
/*
 * Lost-event races.  Each race hands exactly one event at a time from a
 * poster to a receiver and waits for the receiver to acknowledge it before
 * the next, with random delays so that the event lands before, during and
 * after the receiver's "check, then sleep" (or "enter guest, check").  An
 * event counts as lost when the receiver's bounded watchdog (a WAIT timeout
 * of 10 s, or 10 s of spinning in guest code) expires: that is
 * deterministic, and one such event fails the test.
 *
 *   post_wait   POST vs WAIT on no queue      SIGWAKE_RACE_ITERS (100000)
 *   wake_wait   WAKE vs WAIT on a word queue  SIGWAKE_RACE_ITERS / 2
 *   post_guest  POST vs entering guest code   SIGWAKE_RACE_ITERS / 5, or
 *                                             60 s, whichever comes first
 *
 * The acknowledgement is an atomic counter the poster spins on: a sleeping
 * hand-back costs a cross-vCPU wakeup per iteration, which under TCG is
 * 5-25 times slower (measured).
 */
#include "sigwake_test.h"

#define MS	SW_NSEC_PER_MSEC
#define KICK_SIG	SIGUSR1

static double ms_since(int64_t t0)
{
	return (double)(sw_now_ns() - t0) / 1e6;
}

FIXTURE(domain) {
	int fd;
	struct sigwake_thread_block *blk;	/* 8 blocks */
	unsigned char *kick;			/* kick bytes */
};

FIXTURE_SETUP(domain)
{
	self->fd = -1;
	self->blk = sw_alloc_blocks(8);
	ASSERT_NE(NULL, self->blk);
	self->kick = sw_alloc_page();
	ASSERT_NE(NULL, self->kick);
	SW_OPEN_DOMAIN(self->fd);
}

FIXTURE_TEARDOWN(domain)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* ------------------------------------------------------------------ */
/* POST vs WAIT                                                        */

struct receiver {
	int fd;
	struct sigwake_thread_block *blk;
	__u32 handle;
	__u32 wq;
	unsigned long iters;
	unsigned long ack;	/* atomic: events received */
	int registered;		/* atomic */
	int done;		/* atomic */
	int stop;		/* atomic: the poster gave up */
	pid_t tid;
	/* results */
	unsigned long lost, errors, bad_reason, missing, eintr, spurious;
	int first_err;
	__u32 bad_reason_val;
};

static void *post_wait_receiver(void *arg)
{
	struct receiver *r = arg;
	unsigned long i;

	r->tid = sw_gettid();
	r->first_err = sw_register(r->fd, r->blk, NULL, 0, &r->handle);
	SW_STORE(&r->registered, 1);
	if (r->first_err)
		goto out;
	for (i = 0; i < r->iters && !SW_LOAD(&r->stop); i++) {
		struct sigwake_wait_args a = {
			.size = sizeof(a),
			.wq = SIGWAKE_NO_WQ,
			.timeout_ns = SW_WATCHDOG_NS,
		};
		int err = sw_ioctl(r->fd, SIGWAKE_IOC_WAIT, &a);

		if (err) {
			r->errors++;
			r->first_err = err;
			break;
		}
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

TEST_F_TIMEOUT(domain, post_wait, 600)
{
	unsigned long iters = sw_race_iters(1), i, outcomes[5] = { 0 };
	unsigned long post_err = 0, bad_outcome = 0, stalls = 0;
	struct receiver r = {
		.fd = self->fd,
		.blk = &self->blk[0],
		.iters = iters,
	};
	uint64_t rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
	pthread_t th;
	int64_t t0;

	ASSERT_EQ(0, pthread_create(&th, NULL, post_wait_receiver, &r));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&r.registered), SW_LONG_MS));
	ASSERT_EQ(0, r.first_err);

	t0 = sw_now_ns();
	for (i = 0; i < iters; i++) {
		__u32 outcome = 0;
		int err;

		if (!sw_await_ulong(&r.ack, i, &r.done)) {
			stalls++;
			break;
		}
		sw_random_delay(&rng);
		err = sw_post(self->fd, r.handle, SW_SIG, NULL, &outcome);
		if (err) {
			post_err++;
			break;
		}
		if (outcome == SIGWAKE_POST_RECORDED || outcome == SIGWAKE_POST_WOKEN)
			outcomes[outcome]++;
		else
			bad_outcome++;
	}
	if (i < iters)
		SW_STORE(&r.stop, 1);
	pthread_join(th, NULL);
	TH_LOG("%lu iterations in %.0f ms: %lu posts found the waiter asleep (WOKEN), %lu before it slept (RECORDED)",
	       r.ack, ms_since(t0), outcomes[SIGWAKE_POST_WOKEN],
	       outcomes[SIGWAKE_POST_RECORDED]);
	EXPECT_EQ(0, r.lost) {
		TH_LOG("LOST EVENT: a posted signal did not end WAIT within 10 s (iteration %lu)",
		       r.ack);
	}
	EXPECT_EQ(0, r.errors) {
		TH_LOG("WAIT failed: %s", strerror(-r.first_err));
	}
	EXPECT_EQ(0, r.bad_reason) {
		TH_LOG("WAIT returned reason %u", r.bad_reason_val);
	}
	EXPECT_EQ(0, r.missing);
	EXPECT_EQ(0, post_err);
	EXPECT_EQ(0, bad_outcome);
	EXPECT_EQ(0, stalls);
	EXPECT_EQ(iters, r.ack);
}

/* ------------------------------------------------------------------ */
/* WAKE vs WAIT: ping-pong over a word-bound queue                     */

struct pingpong {
	int fd;
	__u32 wq;
	__u32 *word;
	unsigned long n;
	int ready;		/* atomic: threads registered */
	int stop;		/* atomic */
	struct pp_thread {
		struct pingpong *pp;
		struct sigwake_thread_block *blk;
		unsigned int parity;
		int err;
		unsigned long lost, errors, bad_reason, eagain, waits, woken;
		__u32 bad_reason_val;
	} t[2];
};

static void pp_abort(struct pingpong *pp)
{
	SW_STORE(&pp->stop, 1);
	SW_STORE(pp->word, (__u32)pp->n + 2);
	sw_wake(pp->fd, pp->wq, 2, NULL);
}

static void *pp_fn(void *arg)
{
	struct pp_thread *t = arg;
	struct pingpong *pp = t->pp;

	t->err = sw_register(pp->fd, t->blk, NULL, 0, NULL);
	SW_ADD(&pp->ready, 1);
	if (t->err)
		return NULL;
	while (SW_LOAD(&pp->ready) < 2)
		sched_yield();

	for (;;) {
		__u32 v = SW_LOAD(pp->word), woken = 0;

		if (v >= pp->n || SW_LOAD(&pp->stop))
			break;
		if ((v & 1) != t->parity) {
			struct sigwake_wait_args a = {
				.size = sizeof(a),
				.wq = pp->wq,
				.expected = v,
				.timeout_ns = SW_WATCHDOG_NS,
			};
			int err = sw_ioctl(pp->fd, SIGWAKE_IOC_WAIT, &a);

			t->waits++;
			if (err == -EAGAIN) {
				t->eagain++;
				continue;
			}
			if (err) {
				t->errors++;
				t->err = err;
				pp_abort(pp);
				break;
			}
			if (a.reason == SIGWAKE_REASON_TIMEOUT) {
				t->lost++;
				pp_abort(pp);
				break;
			}
			if (a.reason != SIGWAKE_REASON_WAKE) {
				t->bad_reason++;
				t->bad_reason_val = a.reason;
			}
			continue;
		}
		/* our turn: hand over, then wake the other side */
		SW_STORE(pp->word, v + 1);
		if (sw_wake(pp->fd, pp->wq, 1, &woken)) {
			t->errors++;
			pp_abort(pp);
			break;
		}
		t->woken += woken;
	}
	return NULL;
}

TEST_F_TIMEOUT(domain, wake_wait, 600)
{
	struct pingpong pp = {
		.fd = self->fd,
		.n = sw_race_iters(2),
	};
	pthread_t th[2];
	int64_t t0;
	unsigned int i;

	pp.word = sw_alloc_page();
	ASSERT_NE(NULL, pp.word);
	ASSERT_EQ(0, sw_wq_create(self->fd, pp.word, &pp.wq));
	t0 = sw_now_ns();
	for (i = 0; i < 2; i++) {
		pp.t[i].pp = &pp;
		pp.t[i].blk = &self->blk[i];
		pp.t[i].parity = i;
		ASSERT_EQ(0, pthread_create(&th[i], NULL, pp_fn, &pp.t[i]));
	}
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	TH_LOG("%lu hand-overs in %.0f ms: %lu+%lu waits (%lu+%lu EAGAIN), %lu+%lu woken by WAKE",
	       (unsigned long)SW_LOAD(pp.word), ms_since(t0),
	       pp.t[0].waits, pp.t[1].waits, pp.t[0].eagain, pp.t[1].eagain,
	       pp.t[0].woken, pp.t[1].woken);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(0, pp.t[i].lost) {
			TH_LOG("LOST WAKEUP: thread %u slept 10 s on word %u", i,
			       SW_LOAD(pp.word));
		}
		EXPECT_EQ(0, pp.t[i].errors) {
			TH_LOG("thread %u: %s", i, strerror(-pp.t[i].err));
		}
		EXPECT_EQ(0, pp.t[i].bad_reason) {
			TH_LOG("thread %u: reason %u", i, pp.t[i].bad_reason_val);
		}
	}
	EXPECT_EQ(pp.n, SW_LOAD(pp.word));
}

/* ------------------------------------------------------------------ */
/* POST vs entering guest code (the Dekker handshake)                 */

static pid_t guest_tid;
static volatile sig_atomic_t kick_signals, kick_wrong_tid;

static void kick_handler(int sig, siginfo_t *si, void *uc)
{
	if (sw_gettid() != guest_tid)
		kick_wrong_tid++;
	kick_signals++;
}

struct guest_rx {
	struct receiver r;
	volatile unsigned char *byte;
	unsigned long entries, refused, stale;
	unsigned long lost_pending;	/* watchdog with the signal pending */
};

static void *guest_receiver(void *arg)
{
	struct guest_rx *g = arg;
	struct receiver *r = &g->r;
	unsigned long received = 0;

	r->tid = guest_tid = sw_gettid();
	r->first_err = sw_register(r->fd, r->blk, (void *)g->byte, KICK_SIG,
				   &r->handle);
	SW_STORE(&r->registered, 1);
	if (r->first_err)
		goto out;
	while (received < r->iters && !SW_LOAD(&r->stop)) {
		__u64 p;

		if (sw_enter_guest(r->blk)) {
			int64_t end = 0;
			unsigned int n = 0;

			g->entries++;
			/* "guest code": watches only the kick byte */
			while (!*g->byte) {
				sw_cpu_relax();
				if (++n < 4096)
					continue;
				n = 0;
				if (!end) {
					end = sw_now_ns() + SW_WATCHDOG_NS;
				} else if (sw_now_ns() > end) {
					if (SW_LOAD(&r->blk->pending) & SW_BIT(SW_SIG))
						g->lost_pending++;
					else
						r->lost++;
					break;
				}
				if (SW_LOAD(&r->stop))
					break;
			}
			if (g->lost_pending)
				break;
			*g->byte = 0;
			sw_set_state(r->blk, SIGWAKE_RUNNING_IN_HOST);
		} else {
			g->refused++;
		}
		sw_clear_flags(r->blk, SIGWAKE_TF_KICKED);
		p = sw_take_pending(r->blk);
		if (p & SW_BIT(SW_SIG)) {
			received++;
			SW_STORE(&r->ack, received);
		} else {
			g->stale++;
		}
	}
out:
	sw_set_state(r->blk, SIGWAKE_RUNNING_IN_HOST);
	SW_STORE(&r->done, 1);
	return NULL;
}

TEST_F_TIMEOUT(domain, post_guest, 600)
{
	unsigned long iters = sw_race_iters(5), i, outcomes[5] = { 0 };
	unsigned long post_err = 0, bad_outcome = 0, stalls = 0;
	bool budget = false;
	struct guest_rx g = {
		.r = { .fd = self->fd, .blk = &self->blk[0], .iters = iters },
		.byte = &self->kick[0],
	};
	uint64_t rng = 0x2545f4914f6cdd1dull ^ (uint64_t)getpid();
	pthread_t th;
	int64_t t0;

	ASSERT_EQ(0, sw_sigaction(KICK_SIG, kick_handler, SA_RESTART));
	ASSERT_EQ(0, pthread_create(&th, NULL, guest_receiver, &g));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&g.r.registered), SW_LONG_MS));
	ASSERT_EQ(0, g.r.first_err);

	t0 = sw_now_ns();
	for (i = 0; i < iters; i++) {
		__u32 outcome = 0;

		if (!sw_await_ulong(&g.r.ack, i, &g.r.done)) {
			stalls++;
			break;
		}
		if (sw_now_ns() - t0 > 60 * SW_NSEC_PER_SEC) {
			budget = true;
			break;
		}
		sw_random_delay(&rng);
		if (sw_post(self->fd, g.r.handle, SW_SIG, NULL, &outcome)) {
			post_err++;
			break;
		}
		if (outcome == SIGWAKE_POST_RECORDED || outcome == SIGWAKE_POST_KICKED)
			outcomes[outcome]++;
		else
			bad_outcome++;
	}
	if (i < iters)
		SW_STORE(&g.r.stop, 1);
	pthread_join(th, NULL);
	TH_LOG("%lu iterations%s in %.0f ms: %lu KICKED, %lu RECORDED; %lu guest entries, %lu refused by the handshake, %lu kick signals",
	       g.r.ack, budget ? " (60 s budget)" : "", ms_since(t0), outcomes[SIGWAKE_POST_KICKED],
	       outcomes[SIGWAKE_POST_RECORDED], g.entries, g.refused,
	       (unsigned long)kick_signals);
	EXPECT_EQ(0, g.lost_pending) {
		TH_LOG("LOST KICK: 10 s in guest code with the signal pending (iteration %lu)",
		       g.r.ack);
	}
	EXPECT_EQ(0, g.r.lost);
	EXPECT_EQ(0, kick_wrong_tid) {
		TH_LOG("%d kick signals landed on another thread", (int)kick_wrong_tid);
	}
	EXPECT_EQ(0, post_err);
	EXPECT_EQ(0, bad_outcome);
	EXPECT_EQ(0, stalls);
	EXPECT_EQ(i, g.r.ack);
	/* a KICKED outcome always sends the signal */
	EXPECT_LE(outcomes[SIGWAKE_POST_KICKED], (unsigned long)kick_signals);
}

TEST_HARNESS_MAIN
