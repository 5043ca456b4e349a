// SPDX-License-Identifier: GPL-2.0
/*
 * More lost-event races, bounded in time, and teardown churn.  Each race
 * hands one event at a time to a receiver and waits for its acknowledgement
 * before the next, with random delays on both sides; a receiver's bounded
 * watchdog (a WAIT timeout of 10 s, or 10 s spinning in guest code) that
 * expires is a lost event and fails the test.  The churn tests check that
 * threads exiting and queues destroyed under concurrent posts and sleepers
 * give only errnos of the contract (and feed KASAN and lockdep).
 *
 *   wake_wait               WAKE vs WAIT, word queue    SIGWAKE_RACE_ITERS / 2
 *   post_guest              POST vs guest entry         SIGWAKE_RACE_ITERS / 5
 *   post_any                TARGET_ANY vs two waiters   SIGWAKE_RACE_ITERS / 5
 *   post_host_signal        POST vs host signals        SIGWAKE_RACE_ITERS / 10
 *   churn_threads_vs_post   400 short-lived registered threads vs POST/KICK
 *   churn_wq_destroy_vs_wait  300 queues destroyed under a sleeper
 *
 * post_guest, post_any and post_host_signal also stop after 45-60 s (they
 * log how far they got); SIGWAKE_RACE_ITERS defaults to 100000.
 */
#include "sigwake_test.h"

#define MS	SW_NSEC_PER_MSEC
#define KICK_SIG	SIGUSR1
#define RACE_BUDGET_NS	(45 * SW_NSEC_PER_SEC)

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
	uint64_t rng;
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
			/* the next post may come before, in, or after the entry */
			sw_random_delay(&g->rng);
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
		.rng = 0x6a09e667f3bcc909ull ^ (uint64_t)getpid(),
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
	/*
	 * A KICKED outcome sends kick_signo; kicks that come while the last
	 * one is still undelivered coalesce, as standard signals do.
	 */
	if (outcomes[SIGWAKE_POST_KICKED])
		EXPECT_LT(0, kick_signals);
}

/* ------------------------------------------------------------------ */
/* TARGET_ANY vs two waiters                                           */

struct any_ctx {
	int fd;
	unsigned long received;	/* atomic */
	int stop;		/* atomic */
	int registered;		/* atomic count */
	struct any_waiter {
		struct any_ctx *c;
		struct sigwake_thread_block *blk;
		__u32 handle;
		int err;
		uint64_t rng;
		unsigned long got, errors, timeouts;
	} w[2];
};

static void *any_waiter_fn(void *arg)
{
	struct any_waiter *w = arg;
	struct any_ctx *c = w->c;

	w->err = sw_register(c->fd, w->blk, NULL, 0, &w->handle);
	SW_ADD(&c->registered, 1);
	if (w->err)
		return NULL;
	while (!SW_LOAD(&c->stop)) {
		__u32 reason = 0;
		int err = sw_wait(c->fd, SIGWAKE_NO_WQ, 0, 1000 * MS, 0, &reason);

		if (err) {
			w->errors++;
			w->err = err;
			break;
		}
		if (reason == SIGWAKE_REASON_TIMEOUT)
			w->timeouts++;
		if (reason == SIGWAKE_REASON_KICK)
			sw_clear_flags(w->blk, SIGWAKE_TF_KICKED);
		if (sw_take_pending(w->blk) & SW_BIT(SW_SIG)) {
			w->got++;
			SW_ADD(&c->received, 1);
			/* sometimes still in host when the next post comes */
			sw_random_delay(&w->rng);
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(domain, post_any, 600)
{
	unsigned long iters = sw_race_iters(5), i, outcomes[5] = { 0 };
	unsigned long post_err = 0, bad_outcome = 0, bad_handle = 0, lost = 0;
	struct any_ctx c = { .fd = self->fd };
	bool budget = false;
	uint64_t rng = 0x853c49e6748fea9bull ^ (uint64_t)getpid();
	pthread_t th[2];
	int64_t t0;
	unsigned int k;

	for (k = 0; k < 2; k++) {
		c.w[k].c = &c;
		c.w[k].blk = &self->blk[k];
		c.w[k].rng = 0xbb67ae8584caa73bull * (k + 1) ^ (uint64_t)getpid();
		ASSERT_EQ(0, pthread_create(&th[k], NULL, any_waiter_fn, &c.w[k]));
		ASSERT_TRUE(SW_POLL(SW_LOAD(&c.registered) == (int)k + 1, SW_LONG_MS));
		ASSERT_EQ(0, c.w[k].err);
	}

	t0 = sw_now_ns();
	for (i = 0; i < iters; i++) {
		__u32 outcome = 0, h = 0;

		if (!sw_await_ulong(&c.received, i, NULL)) {
			lost++;
			break;
		}
		if (sw_now_ns() - t0 > RACE_BUDGET_NS) {
			budget = true;
			break;
		}
		sw_random_delay(&rng);
		if (sw_post(self->fd, SIGWAKE_TARGET_ANY, SW_SIG, &h, &outcome)) {
			post_err++;
			break;
		}
		if (h != c.w[0].handle && h != c.w[1].handle)
			bad_handle++;
		if (outcome == SIGWAKE_POST_RECORDED || outcome == SIGWAKE_POST_WOKEN)
			outcomes[outcome]++;
		else
			bad_outcome++;
	}
	if (!lost && !sw_await_ulong(&c.received, i, NULL))
		lost++;
	SW_STORE(&c.stop, 1);
	for (k = 0; k < 2; k++) {
		sw_kick(self->fd, c.w[k].handle, NULL);
		pthread_join(th[k], NULL);
	}
	TH_LOG("%lu process-directed posts%s in %.0f ms: %lu WOKEN, %lu RECORDED; received %lu + %lu",
	       (unsigned long)SW_LOAD(&c.received),
	       budget ? " (time budget)" : "", ms_since(t0),
	       outcomes[SIGWAKE_POST_WOKEN], outcomes[SIGWAKE_POST_RECORDED],
	       c.w[0].got, c.w[1].got);
	EXPECT_EQ(0, lost) {
		TH_LOG("LOST EVENT: post %lu was not received within 30 s", i);
	}
	EXPECT_EQ(0, post_err);
	EXPECT_EQ(0, bad_outcome);
	EXPECT_EQ(0, bad_handle);
	for (k = 0; k < 2; k++) {
		EXPECT_EQ(0, c.w[k].errors) {
			TH_LOG("waiter %u: %s", k, strerror(-c.w[k].err));
		}
	}
	EXPECT_EQ(i, SW_LOAD(&c.received));
}

/* ------------------------------------------------------------------ */
/* POST racing with host signals that interrupt the WAIT               */

static volatile sig_atomic_t usr2_count;

static void usr2_handler(int sig, siginfo_t *si, void *uc)
{
	usr2_count++;
}

static void *post_signal_receiver(void *arg)
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
		int err;

		/* retry the same struct after EINTR: the deadline holds */
		while ((err = sw_ioctl(r->fd, SIGWAKE_IOC_WAIT, &a)) == -EINTR)
			r->eintr++;
		if (err) {
			r->errors++;
			r->first_err = err;
			break;
		}
		if (SW_LOAD(&r->stop))
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

TEST_F_TIMEOUT(domain, post_host_signal, 600)
{
	unsigned long iters = sw_race_iters(10), i, post_err = 0, stalls = 0;
	struct receiver r = {
		.fd = self->fd,
		.blk = &self->blk[0],
		.iters = iters,
	};
	uint64_t rng = 0xda942042e4dd58b5ull ^ (uint64_t)getpid();
	bool budget = false;
	pthread_t th;
	int64_t t0;

	/* no SA_RESTART: every host signal that hits the wait gives EINTR */
	ASSERT_EQ(0, sw_sigaction(SIGUSR2, usr2_handler, 0));
	ASSERT_EQ(0, pthread_create(&th, NULL, post_signal_receiver, &r));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&r.registered), SW_LONG_MS));
	ASSERT_EQ(0, r.first_err);

	t0 = sw_now_ns();
	for (i = 0; i < iters; i++) {
		uint64_t x;

		if (!sw_await_ulong(&r.ack, i, &r.done)) {
			stalls++;
			break;
		}
		if (sw_now_ns() - t0 > RACE_BUDGET_NS) {
			budget = true;
			break;
		}
		x = sw_xorshift(&rng);
		sw_random_delay(&rng);
		if (x & 1)
			pthread_kill(th, SIGUSR2);
		if (sw_post(self->fd, r.handle, SW_SIG, NULL, NULL)) {
			post_err++;
			break;
		}
		if (x & 2)
			pthread_kill(th, SIGUSR2);
	}
	if (i < iters) {
		SW_STORE(&r.stop, 1);
		sw_kick(self->fd, r.handle, NULL);
	}
	pthread_join(th, NULL);
	TH_LOG("%lu iterations%s in %.0f ms, %d host signals, %lu EINTR",
	       r.ack, budget ? " (time budget)" : "", ms_since(t0),
	       (int)usr2_count, r.eintr);
	EXPECT_EQ(0, r.lost) {
		TH_LOG("LOST EVENT: a post racing with a host signal never ended the WAIT (iteration %lu)",
		       r.ack);
	}
	EXPECT_EQ(0, r.errors) {
		TH_LOG("WAIT failed: %s", strerror(-r.first_err));
	}
	EXPECT_EQ(0, r.bad_reason);
	EXPECT_EQ(0, r.missing);
	EXPECT_EQ(0, post_err);
	EXPECT_EQ(0, stalls);
	EXPECT_EQ(i, r.ack);
}

/* ------------------------------------------------------------------ */
/* teardown churn: threads come and go while others post and kick     */

struct churn {
	int fd;
	struct sigwake_thread_block *blk;
	unsigned long rounds;
	__u32 published;	/* atomic: the latest handle */
	int done;		/* atomic */
	unsigned long reg_err;
	int reg_errno;
};

struct churn_one {
	struct churn *c;
	bool unregister;
};

static void *churn_one_fn(void *arg)
{
	struct churn_one *o = arg;
	__u32 h;
	int err = sw_register(o->c->fd, o->c->blk, NULL, 0, &h);

	if (err) {
		o->c->reg_err++;
		o->c->reg_errno = err;
		return NULL;
	}
	SW_STORE(&o->c->published, h);
	for (int i = 0; i < 3; i++)
		sched_yield();
	if (o->unregister)
		sw_unregister(o->c->fd, h);
	return NULL;
}

static void *churn_spawner(void *arg)
{
	struct churn *c = arg;
	unsigned long k;

	for (k = 0; k < c->rounds; k++) {
		struct churn_one o = { .c = c, .unregister = k & 1 };
		pthread_t th;

		if (pthread_create(&th, NULL, churn_one_fn, &o))
			break;
		pthread_join(th, NULL);
	}
	SW_STORE(&c->done, 1);
	return NULL;
}

TEST_F_TIMEOUT(domain, churn_threads_vs_post, 300)
{
	struct churn c = {
		.fd = self->fd,
		.blk = &self->blk[1],
		.rounds = 400,
	};
	unsigned long posts = 0, unexpected = 0, esrch = 0, unreg = 0;
	int bad_err = 0;
	pthread_t th;

	ASSERT_EQ(0, pthread_create(&th, NULL, churn_spawner, &c));
	while (!SW_LOAD(&c.done)) {
		__u32 h = SW_LOAD(&c.published);
		int err;

		if (!h) {
			sched_yield();
			continue;
		}
		err = sw_post(self->fd, h, SW_SIG, NULL, NULL);
		posts++;
		if (err == -ESRCH) {
			esrch++;
			err = sw_unregister(self->fd, h);
			if (!err)
				unreg++;
			else if (err != -ENOENT)
				unexpected++, bad_err = err;
		} else if (err && err != -ENOENT) {
			unexpected++;
			bad_err = err;
		}
		err = sw_kick(self->fd, h, NULL);
		if (err && err != -ENOENT && err != -ESRCH)
			unexpected++, bad_err = err;
	}
	pthread_join(th, NULL);
	TH_LOG("%lu registrations, %lu posts, %lu ESRCH, %lu exited threads unregistered",
	       c.rounds, posts, esrch, unreg);
	EXPECT_EQ(0, c.reg_err) {
		TH_LOG("register failed: %s", strerror(-c.reg_errno));
	}
	EXPECT_EQ(0, unexpected) {
		TH_LOG("errno outside the contract: %s", strerror(-bad_err));
	}
}

struct wq_churn {
	int fd;
	struct sigwake_thread_block *blk;
	__u32 cur;		/* atomic: the current queue */
	int stop;		/* atomic */
	int registered;		/* atomic */
	unsigned long waits, eidrm, enoent, unexpected, timeouts;
	int bad_err;
	__u32 bad_reason;
};

static void *wq_churn_waiter(void *arg)
{
	struct wq_churn *c = arg;
	int err = sw_register(c->fd, c->blk, NULL, 0, NULL);

	SW_STORE(&c->registered, 1);
	if (err) {
		c->unexpected++;
		c->bad_err = err;
		return NULL;
	}
	while (!SW_LOAD(&c->stop)) {
		__u32 wq = SW_LOAD(&c->cur), reason = 0;

		if (!wq) {
			sched_yield();
			continue;
		}
		err = sw_wait(c->fd, wq, 0, 500 * MS, 0, &reason);
		c->waits++;
		if (err == -EIDRM)
			c->eidrm++;
		else if (err == -ENOENT)
			c->enoent++;
		else if (err)
			c->unexpected++, c->bad_err = err;
		else if (reason == SIGWAKE_REASON_TIMEOUT)
			c->timeouts++;
		else if (reason != SIGWAKE_REASON_KICK)
			c->unexpected++, c->bad_reason = reason;
	}
	return NULL;
}

TEST_F_TIMEOUT(domain, churn_wq_destroy_vs_wait, 300)
{
	struct wq_churn c = { .fd = self->fd, .blk = &self->blk[2] };
	uint64_t rng = 0x1234567ull ^ (uint64_t)getpid();
	unsigned long k, destroy_err = 0;
	pthread_t th;

	ASSERT_EQ(0, pthread_create(&th, NULL, wq_churn_waiter, &c));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&c.registered), SW_LONG_MS));
	for (k = 0; k < 300; k++) {
		__u32 wq;

		ASSERT_EQ(0, sw_wq_create(self->fd, NULL, &wq));
		SW_STORE(&c.cur, wq);
		if (sw_xorshift(&rng) & 1)
			SW_POLL(sw_state(c.blk) == SIGWAKE_WAITING, 50);
		sw_random_delay(&rng);
		if (sw_wq_destroy(self->fd, wq))
			destroy_err++;
	}
	SW_STORE(&c.stop, 1);
	SW_STORE(&c.cur, 0);
	/* the waiter may sleep on the last queue: destroyed, so it wakes */
	pthread_join(th, NULL);
	TH_LOG("%lu waits: %lu EIDRM, %lu ENOENT, %lu timeouts",
	       c.waits, c.eidrm, c.enoent, c.timeouts);
	EXPECT_EQ(0, destroy_err);
	EXPECT_EQ(0, c.unexpected) {
		TH_LOG("unexpected: %s, reason %u", strerror(-c.bad_err), c.bad_reason);
	}
	EXPECT_LT(0, c.eidrm) {
		TH_LOG("no WAIT ever saw its queue destroyed under it");
	}
}

TEST_HARNESS_MAIN
