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
 *   post_any_queue_*        TARGET_ANY queued vs a WAIT SIGWAKE_RACE_ITERS / 5
 *                           that unblocks it, one CPU and two (10 s budget)
 *   post_host_signal        POST vs host signals        SIGWAKE_RACE_ITERS / 10
 *   churn_threads_vs_post   400 short-lived registered threads vs POST/KICK
 *   churn_guest_exit_vs_kick  300 short-lived threads that spin in guest
 *                           code with a PREEMPT budget and exit there, vs
 *                           POST/KICK with a kick signal
 *   churn_wq_destroy_vs_wait  300 queues destroyed under a sleeper
 *
 * post_guest, post_any and post_host_signal also stop after 45-60 s, or
 * after SIGWAKE_RACE_SECONDS if that is less (make check's lanes: 20 s);
 * they log how far they got.  SIGWAKE_RACE_ITERS defaults to 100000.
 *
 *   mixed                   every operation at once, 18 threads plus
 *                           short-lived ones and forked children, for
 *                           --seconds N (default 20), with per-receiver
 *                           accounting of every post
 *   mixed_objects_released  the debugfs live-object counts are back to 0
 *                           (SKIP without debugfs)
 *
 * Options (this program has its own main()):
 *   --seconds N   duration of "mixed" (also SIGWAKE_STRESS_SECONDS=N)
 *   --only P      run only the tests whose name starts with P
 * On the kernel command line, sigwake.stress=N sets --seconds N and
 * --only mixed: that is how "make stress" runs it in the VM.
 */
#include <poll.h>
#include <sys/time.h>

#include "sigwake_test.h"

#define MS	SW_NSEC_PER_MSEC
#define KICK_SIG	SIGUSR1
#define RACE_BUDGET_NS	(45 * SW_NSEC_PER_SEC)

/*
 * A race's time budget: @max_ns, or less under SIGWAKE_RACE_SECONDS
 * (make check sets it when VMs share the host, LANE_RACE_SECONDS): the
 * races then stop at that many seconds, or at their iteration count.
 */
static int64_t race_budget(int64_t max_ns)
{
	const char *secs = getenv("SIGWAKE_RACE_SECONDS");
	long s = secs && *secs ? strtol(secs, NULL, 10) : 0;

	if (s > 0 && s * SW_NSEC_PER_SEC < max_ns)
		return s * SW_NSEC_PER_SEC;
	return max_ns;
}

SW_DOMAIN_FIXTURE(domain, 8)

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
	       (unsigned long)SW_LOAD(pp.word), sw_ms_since(t0),
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
	struct sw_receiver r;
	volatile unsigned char *byte;
	uint64_t rng;
	unsigned long entries, refused, stale;
	unsigned long lost_pending;	/* watchdog with the signal pending */
};

static void *guest_receiver(void *arg)
{
	struct guest_rx *g = arg;
	struct sw_receiver *r = &g->r;
	unsigned long received = 0;

	guest_tid = sw_gettid();
	if (!sw_receiver_register(r, (void *)g->byte, KICK_SIG))
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
	SW_START_RECEIVER(th, guest_receiver, &g, &g.r);

	t0 = sw_now_ns();
	for (i = 0; i < iters; i++) {
		__u32 outcome = 0;

		if (!sw_await_ulong(&g.r.ack, i, &g.r.done)) {
			stalls++;
			break;
		}
		if (sw_now_ns() - t0 > race_budget(60 * SW_NSEC_PER_SEC)) {
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
	       g.r.ack, budget ? " (time budget)" : "", sw_ms_since(t0), outcomes[SIGWAKE_POST_KICKED],
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

/*
 * One WAIT of a TARGET_ANY receiver, on no queue: counts a timeout in
 * *@timeouts, clears a kick.  Returns a negative errno, 1 if SW_SIG was
 * taken from the block, 0 if not.
 */
static int any_wait_once(int fd, struct sigwake_thread_block *blk,
			 int64_t timeout_ns, unsigned long *timeouts)
{
	__u32 reason = 0;
	int err = sw_wait(fd, SIGWAKE_NO_WQ, 0, timeout_ns, 0, &reason);

	if (err)
		return err;
	if (reason == SIGWAKE_REASON_TIMEOUT)
		(*timeouts)++;
	if (reason == SIGWAKE_REASON_KICK)
		sw_clear_flags(blk, SIGWAKE_TF_KICKED);
	return !!(sw_take_pending(blk) & SW_BIT(SW_SIG));
}

static void *any_waiter_fn(void *arg)
{
	struct any_waiter *w = arg;
	struct any_ctx *c = w->c;

	w->err = sw_register(c->fd, w->blk, NULL, 0, &w->handle);
	SW_ADD(&c->registered, 1);
	if (w->err)
		return NULL;
	while (!SW_LOAD(&c->stop)) {
		int got = any_wait_once(c->fd, w->blk, 1000 * MS, &w->timeouts);

		if (got < 0) {
			w->errors++;
			w->err = got;
			break;
		}
		if (got) {
			w->got++;
			SW_ADD(&c->received, 1);
			/* sometimes still in host when the next post comes */
			sw_random_delay(&w->rng);
		}
	}
	return NULL;
}

/*
 * One process-directed post of a race: await the acknowledgement of post
 * @i in @received, stop at @budget_ns after @t0, store i + 1 in *@announce
 * (if not NULL), post SW_SIG after a random delay.  Returns 0 with *@h and
 * *@outcome set, or ANY_LOST, ANY_BUDGET or ANY_POST_ERR.
 */
enum { ANY_POSTED, ANY_LOST, ANY_BUDGET, ANY_POST_ERR };

static int any_post_step(int fd, unsigned long *received, unsigned long i,
			 unsigned long *announce, int64_t t0, int64_t budget_ns,
			 uint64_t *rng, __u32 *h, __u32 *outcome)
{
	if (!sw_await_ulong(received, i, NULL))
		return ANY_LOST;
	if (sw_now_ns() - t0 > budget_ns)
		return ANY_BUDGET;
	if (announce)
		SW_STORE(announce, i + 1);
	sw_random_delay(rng);
	if (sw_post(fd, SIGWAKE_TARGET_ANY, SW_SIG, h, outcome))
		return ANY_POST_ERR;
	return ANY_POSTED;
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
		int step = any_post_step(self->fd, &c.received, i, NULL, t0,
					 race_budget(RACE_BUDGET_NS), &rng, &h,
					 &outcome);

		lost += step == ANY_LOST;
		budget = step == ANY_BUDGET;
		post_err += step == ANY_POST_ERR;
		if (step != ANY_POSTED)
			break;
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
	       budget ? " (time budget)" : "", sw_ms_since(t0),
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
/* TARGET_ANY queued vs a waiter that unblocks it and enters WAIT      */

/*
 * The only registered thread blocks the signal for a random while, then
 * unblocks it and WAITs for up to 60 s; the poster (not registered) posts
 * it with TARGET_ANY at a random moment (every other round, the waiter
 * stays blocked until the poster is about to post, so that both sides of
 * the race are reached whatever the CPUs' relative speeds).  Blocked, the
 * post is QUEUED and the WAIT that follows must collect it; unblocked, it
 * is RECORDED or WOKEN.  The race is the post's "nobody takes it, queue
 * it" against the WAIT's entry, which no lock orders (model/post_any.pml):
 * a post queued just after the WAIT looked at the queue, and not seen by
 * the post's second look at the waiters, sleeps 60 s and is a lost event
 * after 30.
 * Run with both threads on one CPU and on two.
 */
#define ANYQ_BUDGET_NS	(10 * SW_NSEC_PER_SEC)

static void gchurn_pin(int cpu);

struct anyq_ctx {
	int fd;
	int cpu;		/* the waiter's CPU */
	struct sigwake_thread_block *blk;
	__u32 handle;
	unsigned long received;	/* atomic */
	unsigned long announced; /* atomic: the post about to be sent, + 1 */
	int ready;		/* atomic */
	int stop;		/* atomic */
	int err;
	uint64_t rng;
	unsigned long timeouts;
};

static void *anyq_waiter_fn(void *arg)
{
	struct anyq_ctx *c = arg;

	gchurn_pin(c->cpu);
	c->err = sw_register(c->fd, c->blk, NULL, 0, &c->handle);
	SW_STORE(&c->ready, 1);
	if (c->err)
		return NULL;
	while (!SW_LOAD(&c->stop)) {
		unsigned long r = SW_LOAD(&c->received);
		int got;

		SW_STORE(&c->blk->blocked, SW_BIT(SW_SIG));
		/*
		 * Every other round, stay blocked until the poster is about
		 * to post: both then go through a random delay, one to post,
		 * the other to unblock and WAIT, so the post lands on either
		 * side of the WAIT's entry whatever the two CPUs' speeds.
		 * Free running, a poster slower to notice the last receipt
		 * than the waiter is blocked only ever posts to a WAIT.
		 */
		if ((r & 1) && !sw_await_ulong(&c->announced, r + 1, &c->stop))
			break;
		sw_random_delay(&c->rng);
		SW_STORE(&c->blk->blocked, 0);
		got = any_wait_once(c->fd, c->blk, 60000 * MS, &c->timeouts);
		if (got < 0) {
			c->err = got;
			break;
		}
		if (got)
			SW_ADD(&c->received, 1);
	}
	return NULL;
}

/* The poster on CPU 0, the waiter on @cpu (if there are two CPUs). */
static void anyq_race(struct __test_metadata *_metadata, int fd,
		      struct sigwake_thread_block *blk, int cpu)
{
	unsigned long iters = sw_race_iters(5), i, outcomes[5] = { 0 };
	unsigned long post_err = 0, bad_outcome = 0, lost = 0;
	struct anyq_ctx c = { .fd = fd, .cpu = cpu, .blk = blk };
	uint64_t rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
	bool budget = false;
	pthread_t th;
	int64_t t0;

	c.rng = 0x3c6ef372fe94f82bull ^ (uint64_t)getpid();
	gchurn_pin(0);
	ASSERT_EQ(0, pthread_create(&th, NULL, anyq_waiter_fn, &c));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&c.ready), SW_LONG_MS));
	ASSERT_EQ(0, c.err);

	t0 = sw_now_ns();
	for (i = 0; i < iters; i++) {
		__u32 outcome = 0, h = 0;
		int step = any_post_step(fd, &c.received, i, &c.announced, t0,
					 race_budget(ANYQ_BUDGET_NS), &rng, &h,
					 &outcome);

		lost += step == ANY_LOST;
		budget = step == ANY_BUDGET;
		post_err += step == ANY_POST_ERR;
		if (step != ANY_POSTED)
			break;
		if (outcome == SIGWAKE_POST_RECORDED ||
		    outcome == SIGWAKE_POST_WOKEN ||
		    outcome == SIGWAKE_POST_QUEUED)
			outcomes[outcome]++;
		else
			bad_outcome++;
	}
	if (!lost && !sw_await_ulong(&c.received, i, NULL))
		lost++;
	SW_STORE(&c.stop, 1);
	sw_kick(fd, c.handle, NULL);
	pthread_join(th, NULL);
	TH_LOG("%lu posts%s in %.0f ms: %lu WOKEN, %lu RECORDED, %lu QUEUED; %lu received",
	       i, budget ? " (time budget)" : "", sw_ms_since(t0),
	       outcomes[SIGWAKE_POST_WOKEN], outcomes[SIGWAKE_POST_RECORDED],
	       outcomes[SIGWAKE_POST_QUEUED],
	       (unsigned long)SW_LOAD(&c.received));
	EXPECT_EQ(0, lost) {
		TH_LOG("LOST EVENT: post %lu was not received within 30 s", i);
	}
	EXPECT_EQ(0, post_err);
	EXPECT_EQ(0, bad_outcome);
	EXPECT_EQ(0, c.err) {
		TH_LOG("waiter: %s", strerror(-c.err));
	}
	EXPECT_EQ(0, c.timeouts);
	EXPECT_EQ(i, SW_LOAD(&c.received));
	/* both sides of the race were reached */
	EXPECT_NE(0, outcomes[SIGWAKE_POST_QUEUED]);
	EXPECT_NE(0, outcomes[SIGWAKE_POST_RECORDED] +
		     outcomes[SIGWAKE_POST_WOKEN]);
}

TEST_F_TIMEOUT(domain, post_any_queue_two_cpus, 300)
{
	anyq_race(_metadata, self->fd, &self->blk[0], 1);
}

TEST_F_TIMEOUT(domain, post_any_queue_one_cpu, 300)
{
	anyq_race(_metadata, self->fd, &self->blk[0], 0);
}

/* ------------------------------------------------------------------ */
/* POST racing with host signals that interrupt the WAIT               */

static volatile sig_atomic_t usr2_count;

static void usr2_handler(int sig, siginfo_t *si, void *uc)
{
	usr2_count++;
}

TEST_F_TIMEOUT(domain, post_host_signal, 600)
{
	unsigned long iters = sw_race_iters(10), i, post_err = 0, stalls = 0;
	/* host_signals: WAIT retried with the same struct after EINTR */
	struct sw_receiver r = {
		.fd = self->fd,
		.blk = &self->blk[0],
		.iters = iters,
		.host_signals = true,
	};
	uint64_t rng = 0xda942042e4dd58b5ull ^ (uint64_t)getpid();
	bool budget = false;
	pthread_t th;
	int64_t t0;

	/* no SA_RESTART: every host signal that hits the wait gives EINTR */
	ASSERT_EQ(0, sw_sigaction(SIGUSR2, usr2_handler, 0));
	SW_START_RECEIVER(th, sw_post_receiver, &r, &r);

	t0 = sw_now_ns();
	for (i = 0; i < iters; i++) {
		uint64_t x;

		if (!sw_await_ulong(&r.ack, i, &r.done)) {
			stalls++;
			break;
		}
		if (sw_now_ns() - t0 > race_budget(RACE_BUDGET_NS)) {
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
	       r.ack, budget ? " (time budget)" : "", sw_ms_since(t0),
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

/*
 * Threads that exit in guest code, with a kick signal, a kick byte and a
 * PREEMPT budget: their exit (probe in atomic context: marks the thread
 * dead, removes the preemption watch whose timer runs and whose kick may
 * be in flight) meets POSTs and KICKs that take the thread's lock and send
 * it the kick signal.  On PREEMPT_RT, where spinlock_t and the siglock
 * sleep, any of these taken with preemption off is a "scheduling while
 * atomic"; elsewhere this feeds KASAN and lockdep.  Each thread must be
 * preempted at least once in a while (it spins past 5 budgets), or the
 * watch's timer is not running: at least a quarter of the rounds.
 */
#define GCHURN_ROUNDS	300

static volatile sig_atomic_t gchurn_signals;

/* The calling thread on @cpu only, if there are two CPUs or more. */
static void gchurn_pin(int cpu)
{
	cpu_set_t set;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void gchurn_kick_handler(int sig, siginfo_t *si, void *uc)
{
	gchurn_signals++;
}

struct gchurn {
	int fd;
	struct sigwake_thread_block *blk;	/* 4 blocks, one per round */
	unsigned char *kick;			/* 4 kick bytes */
	__u32 published;	/* atomic: the latest handle */
	int done;		/* atomic */
	unsigned long reg_err, preempt_err, preempted_rounds;
	int bad_errno;
};

struct gchurn_one {
	struct gchurn *c;
	unsigned int slot;
	int64_t spin_ns;
	__u32 handle;
	bool preempted;
};

static void *gchurn_one_fn(void *arg)
{
	struct gchurn_one *o = arg;
	struct gchurn *c = o->c;
	struct sigwake_thread_block *b = &c->blk[o->slot];
	struct sigwake_preempt_args pa = {
		.size = sizeof(pa),
		.budget_ns = SIGWAKE_PREEMPT_MIN_BUDGET_NS,
	};
	int64_t end;
	int err;

	/* a CPU of its own: the poster spins on the other one */
	gchurn_pin(1);
	memset(b, 0, sizeof(*b));
	SW_STORE(&c->kick[o->slot], 0);
	err = sw_register(c->fd, b, &c->kick[o->slot], KICK_SIG, &o->handle);
	if (err) {
		c->reg_err++;
		c->bad_errno = err;
		return NULL;
	}
	pa.target = o->handle;
	err = sw_ioctl(c->fd, SIGWAKE_IOC_PREEMPT, &pa);
	if (err) {
		c->preempt_err++;
		c->bad_errno = err;
	}
	SW_STORE(&c->published, o->handle);
	end = sw_now_ns() + o->spin_ns;
	while (sw_now_ns() < end) {
		/*
		 * A new stint each time.  No handshake: the posts would end
		 * every stint before the budget.  POST and KICK only mark the
		 * block and signal the thread; it stays until preempted.
		 */
		SW_STORE(&b->entry_seq, SW_LOAD(&b->entry_seq) + 1);
		sw_set_state(b, SIGWAKE_RUNNING_IN_GUEST);
		while (sw_now_ns() < end &&
		       !(SW_LOAD(&b->flags) & SIGWAKE_TF_PREEMPTED))
			sw_cpu_relax();
		if (sw_now_ns() >= end)
			break;	/* exit in guest code */
		sw_set_state(b, SIGWAKE_RUNNING_IN_HOST);
		if (SW_XCHG(&b->flags, 0) & SIGWAKE_TF_PREEMPTED)
			o->preempted = true;
		SW_STORE(&c->kick[o->slot], 0);
		sw_take_pending(b);
	}
	if (SW_LOAD(&b->flags) & SIGWAKE_TF_PREEMPTED)
		o->preempted = true;
	return NULL;
}

static void *gchurn_spawner(void *arg)
{
	struct gchurn *c = arg;
	uint64_t rng = 0x2545f4914f6cdd1dull;
	unsigned int k;

	for (k = 0; k < GCHURN_ROUNDS; k++) {
		struct gchurn_one o = {
			.c = c,
			.slot = k % 4,
			/* 5 to 20 budgets */
			.spin_ns = 5 * SIGWAKE_PREEMPT_MIN_BUDGET_NS +
				   sw_xorshift(&rng) % (15 * SIGWAKE_PREEMPT_MIN_BUDGET_NS),
		};
		pthread_t th;

		if (pthread_create(&th, NULL, gchurn_one_fn, &o))
			break;
		pthread_join(th, NULL);
		if (o.preempted)
			c->preempted_rounds++;
		/* its handle, unless the poster unregistered it already */
		if (o.handle)
			sw_unregister(c->fd, o.handle);
	}
	SW_STORE(&c->done, 1);
	return NULL;
}

TEST_F_TIMEOUT(domain, churn_guest_exit_vs_kick, 300)
{
	struct gchurn c = {
		.fd = self->fd,
		.blk = &self->blk[4],
		.kick = self->kick,
	};
	unsigned long posts = 0, kicks = 0, esrch = 0, unexpected = 0;
	int bad_err = 0;
	cpu_set_t all;
	pthread_t th;

	ASSERT_EQ(0, sw_sigaction(KICK_SIG, gchurn_kick_handler, SA_RESTART));
	ASSERT_EQ(0, sched_getaffinity(0, sizeof(all), &all));
	ASSERT_EQ(0, pthread_create(&th, NULL, gchurn_spawner, &c));
	gchurn_pin(0);
	while (!SW_LOAD(&c.done)) {
		__u32 h = SW_LOAD(&c.published), outcome = 0;
		int err;

		if (!h) {
			sched_yield();
			continue;
		}
		err = sw_post(self->fd, h, SW_SIG, NULL, NULL);
		posts++;
		if (err == -ESRCH)
			esrch++;
		else if (err && err != -ENOENT)
			unexpected++, bad_err = err;
		err = sw_kick(self->fd, h, &outcome);
		kicks++;
		if (err && err != -ENOENT && err != -ESRCH)
			unexpected++, bad_err = err;
	}
	pthread_join(th, NULL);
	sched_setaffinity(0, sizeof(all), &all);
	if (c.preempt_err && c.bad_errno == -EOPNOTSUPP)
		SKIP(return, "PREEMPT is not available");
	TH_LOG("%d threads, %lu preempted, %lu posts, %lu kicks, %lu ESRCH, %d kick signals",
	       GCHURN_ROUNDS, c.preempted_rounds, posts, kicks, esrch,
	       (int)gchurn_signals);
	EXPECT_EQ(0, c.reg_err) {
		TH_LOG("register failed: %s", strerror(-c.bad_errno));
	}
	EXPECT_EQ(0, c.preempt_err) {
		TH_LOG("PREEMPT failed: %s", strerror(-c.bad_errno));
	}
	EXPECT_EQ(0, unexpected) {
		TH_LOG("errno outside the contract: %s", strerror(-bad_err));
	}
	/*
	 * The watch must fire at all in threads that exit in guest code
	 * (on PREEMPT_RT it never did).  How many of them it reaches before
	 * they exit depends on the host's load (140 of 300 idle, 24 under
	 * a load of 20 on two cores): a count aim would test the host.
	 */
	EXPECT_LE(1, c.preempted_rounds) {
		TH_LOG("the preemption watch fired in none of %d threads",
		       GCHURN_ROUNDS);
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

/* ------------------------------------------------------------------ */
/* mixed: every operation at once                                      */
/*
 * Who does what (all in one domain, "the main domain", except the forked
 * children, which open their own):
 *
 *   6 receivers   registered for the whole run; WAIT on no queue, on plain
 *                 and word-bound queues, with file descriptors; simulated
 *                 guest stints (kicked out by posts and kicks); change
 *                 their guest signal mask; take what is posted to them
 *   3 posters     targeted posts to receivers, TARGET_ANY posts, posts to
 *                 short-lived threads (ENOENT/ESRCH are valid there)
 *   1 kicker      KICK and KICK_WAIT with 1-5 ms timeouts
 *   2 wakers      WAKE on random queues, bumping the word of bound ones
 *   1 queue churner  destroys and creates the queues the others use
 *   2 spawners    each runs short-lived threads that register and then
 *                 unregister, or exit without unregistering
 *   1 signaller   host signals: SIGUSR2 by tgkill to receivers (handler
 *                 without SA_RESTART, which posts), SIGUSR1 and SIGWINCH
 *                 forwarded by SIGWAKE_IOC_FORWARD
 *   1 fd writer   makes the receivers' pipes readable
 *   1 forker      forked children open their own domain, put threads to
 *                 sleep in it and close it or exit under them
 *   SIGALRM       setitimer, handler with SA_RESTART, posts (from whatever
 *                 thread it interrupts)
 *
 * Accounting: guest signals 1..40 are posted only to receivers, 49..64
 * only with TARGET_ANY.  A poster owns an "in flight" flag per (receiver,
 * signal) or per process-directed signal, taken before the post, so no two
 * accounted posts ever coalesce; whoever takes the bit from a block clears
 * the flag.  At the end every flag still set must be a bit still pending
 * in some block, and posts == observed + pending at the end.  Signals 41-44
 * go to the short-lived threads, 45 and 46 come from FORWARD: not counted.
 */

#define MX_RECV		6
#define MX_POSTERS	3
#define MX_WAKERS	2
#define MX_SPAWNERS	2
#define MX_QSLOTS	8
#define MX_ABANDON	32	/* exited, never unregistered, per spawner */
#define MX_TGT_MAX	40	/* targeted, accounted: 1..40 */
#define MX_CHURN_SIG	41	/* 41..44: to short-lived threads */
#define MX_FWD_ANY_SIG	45	/* SIGUSR1 forwarded to TARGET_ANY */
#define MX_FWD_R0_SIG	46	/* SIGWINCH forwarded to receiver 0 */
#define MX_ANY_MIN	49	/* process-directed, accounted: 49..64 */
#define MX_KICK_SIG	SIGURG
#define MX_BADLOG	32

#define MX_TGT_MASK	((1ull << MX_TGT_MAX) - 1)
#define MX_ANY_MASK	(~0ull << (MX_ANY_MIN - 1))

struct mx_bad {
	const char *what;
	int err;
	unsigned int aux;
};

struct mx_recv {
	struct mx *m;
	int idx;
	struct sigwake_thread_block *blk;
	__u32 handle;
	pid_t tid;
	int pipe[2];
	pthread_t th;
	int registered;		/* atomic */
	uint64_t rng;
	unsigned long ops, waits, returned, eintr, eidrm, eagain, fd_events;
	unsigned long stints, kicked_out;
};

struct mx {
	int fd;
	int64_t end_ns;
	int stop;		/* atomic: producers stop */
	int stop_recv;		/* atomic: receivers drain and leave */
	int h_off;		/* atomic: signal handlers stop posting */
	int h_inflight;		/* atomic: handlers inside their post */
	unsigned long h_seq;	/* atomic: handler random stream */
	bool fwd;		/* FORWARD is available */

	struct mx_recv recv[MX_RECV];
	unsigned char tflag[MX_RECV][SIGWAKE_NSIG + 1];	/* atomic */
	unsigned char aflag[SIGWAKE_NSIG + 1];			/* atomic */

	__u32 qslot[MX_QSLOTS];		/* atomic: live queue handles */
	__u32 *words;			/* word of each odd slot */
	unsigned char *kick;		/* receivers' kick bytes, 64 apart */
	__u32 churn_handle[MX_SPAWNERS];	/* atomic */
	struct sigwake_thread_block *churn_blk[MX_SPAWNERS];	/* pools */
	unsigned int abandoned[MX_SPAWNERS];

	/* counters, all atomic */
	unsigned long posts, observed, pending_end, spurious, lost;
	unsigned long posts_any, queued, handler_posts, churn_posts;
	unsigned long kicks, kick_waits, kick_timeouts, wakes, woken;
	unsigned long wq_created, wq_destroyed, registrations, unregisters;
	unsigned long exits_registered, abandoned_total;
	unsigned long host_signals, forwards_sent, fwd_r0_seen, fwd_any_seen;
	unsigned long children, children_bad, alarms;

	unsigned long nbad;
	struct mx_bad badlog[MX_BADLOG];
};

static struct mx *MX;

static void mx_bad(struct mx *m, const char *what, int err, unsigned int aux)
{
	unsigned long i = SW_ADD(&m->nbad, 1) - 1;

	if (i < MX_BADLOG) {
		m->badlog[i].what = what;
		m->badlog[i].err = err;
		m->badlog[i].aux = aux;
	}
}

static bool mx_stopped(struct mx *m)
{
	return SW_LOAD(&m->stop) || sw_now_ns() > m->end_ns;
}

static unsigned int mx_rand(uint64_t *rng, unsigned int n)
{
	return (unsigned int)(sw_xorshift(rng) >> 11) % n;
}

static void mx_short_pause(uint64_t *rng)
{
	unsigned int r = mx_rand(rng, 16);

	if (r < 10)
		sched_yield();
	else
		usleep(100 + mx_rand(rng, 900));
}

/*
 * Account for the bits taken from a block: owner is the receiver index, or
 * -1 for a short-lived thread's block.  at_end: the bits were still pending
 * when everything had stopped.
 */
static void mx_credit(struct mx *m, int owner, __u64 bits, bool at_end)
{
	unsigned long *cnt = at_end ? &m->pending_end : &m->observed;

	while (bits) {
		int s = __builtin_ctzll(bits) + 1;

		bits &= bits - 1;
		if (s <= MX_TGT_MAX) {
			if (owner >= 0 && SW_XCHG(&m->tflag[owner][s], 0))
				SW_ADD(cnt, 1);
			else
				SW_ADD(&m->spurious, 1), mx_bad(m, "spurious targeted signal", 0, s);
		} else if (s >= MX_ANY_MIN) {
			if (SW_XCHG(&m->aflag[s], 0))
				SW_ADD(cnt, 1);
			else
				SW_ADD(&m->spurious, 1), mx_bad(m, "spurious process-directed signal", 0, s);
		} else if (s == MX_FWD_R0_SIG) {
			SW_ADD(&m->fwd_r0_seen, 1);
		} else if (s == MX_FWD_ANY_SIG) {
			SW_ADD(&m->fwd_any_seen, 1);
		}
	}
}

/* A POST or KICK outcome that the header allows. */
static bool mx_outcome_ok(__u32 outcome, bool any)
{
	return outcome == SIGWAKE_POST_RECORDED || outcome == SIGWAKE_POST_WOKEN ||
	       outcome == SIGWAKE_POST_KICKED ||
	       (any && outcome == SIGWAKE_POST_QUEUED);
}

/* One accounted post: targeted at receiver r, or process-directed (r < 0). */
static void mx_post_accounted(struct mx *m, int r, unsigned int pick)
{
	__u32 outcome = 0, h = 0;
	unsigned char *flag;
	int s, err;

	if (r >= 0) {
		s = 1 + pick % MX_TGT_MAX;
		flag = &m->tflag[r][s];
	} else {
		s = MX_ANY_MIN + pick % (SIGWAKE_NSIG - MX_ANY_MIN + 1);
		flag = &m->aflag[s];
	}
	if (SW_XCHG(flag, 1))
		return;		/* in flight already: would coalesce */
	err = sw_post(m->fd, r >= 0 ? m->recv[r].handle : SIGWAKE_TARGET_ANY,
		      s, &h, &outcome);
	if (err) {
		SW_STORE(flag, 0);
		mx_bad(m, r >= 0 ? "POST to a receiver" : "POST TARGET_ANY", err, s);
		return;
	}
	SW_ADD(&m->posts, 1);
	if (r < 0) {
		SW_ADD(&m->posts_any, 1);
		if (outcome == SIGWAKE_POST_QUEUED) {
			SW_ADD(&m->queued, 1);
			if (h != 0)
				mx_bad(m, "QUEUED with a handle", 0, h);
		}
	}
	if (!mx_outcome_ok(outcome, r < 0))
		mx_bad(m, "POST outcome", 0, outcome);
}

/* --- host signal handlers ----------------------------------------- */

static void mx_handler_post(void)
{
	struct mx *m = MX;
	uint64_t x;
	int saved = errno;

	if (!m)
		return;
	SW_ADD(&m->h_inflight, 1);
	if (!SW_LOAD(&m->h_off)) {
		x = SW_ADD(&m->h_seq, 1) * 0x9e3779b97f4a7c15ull;
		x ^= x >> 29;
		if (x & 1)
			mx_post_accounted(m, -1, (unsigned int)(x >> 8));
		else
			mx_post_accounted(m, (int)((x >> 1) % MX_RECV),
					  (unsigned int)(x >> 8));
		SW_ADD(&m->handler_posts, 1);
	}
	SW_ADD(&m->h_inflight, -1);
	errno = saved;
}

static void mx_alarm(int sig, siginfo_t *si, void *uc)
{
	if (MX)
		SW_ADD(&MX->alarms, 1);
	mx_handler_post();
}

static void mx_usr2(int sig, siginfo_t *si, void *uc)
{
	mx_handler_post();
}

static void mx_kick_handler(int sig, siginfo_t *si, void *uc)
{
}

/* --- receivers ---------------------------------------------------- */

/* Take the signals this receiver does not block and account for them. */
static void mx_take(struct mx_recv *rv)
{
	__u64 blocked = SW_LOAD(&rv->blk->blocked);
	__u64 old = __atomic_fetch_and(&rv->blk->pending, blocked,
				       __ATOMIC_SEQ_CST);

	mx_credit(rv->m, rv->idx, old & ~blocked, false);
}

static void mx_drain_pipe(int fd)
{
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static void mx_recv_wait(struct mx_recv *rv, unsigned int kind)
{
	struct mx *m = rv->m;
	struct sigwake_pollfd pfd = { .fd = rv->pipe[0], .events = POLLIN };
	struct sigwake_wait_args a = {
		.size = sizeof(a),
		.wq = SIGWAKE_NO_WQ,
		.timeout_ns = (__s64)mx_rand(&rv->rng, 30) * MS,
	};
	bool on_q = false, word = false, fds = false;
	unsigned int slot;
	int err;

	switch (kind) {
	case 1:	/* a queue, plain or bound to a word */
		slot = mx_rand(&rv->rng, MX_QSLOTS);
		a.wq = SW_LOAD(&m->qslot[slot]);
		if (!a.wq)
			return;
		on_q = true;
		word = slot & 1;
		if (word) {
			a.expected = SW_LOAD(&m->words[slot]);
			if (mx_rand(&rv->rng, 8) == 0)
				a.expected++;	/* EAGAIN, or the queue moved on */
		}
		break;
	case 2:	/* file descriptors */
		a.fds = (__u64)(uintptr_t)&pfd;
		a.nfds = 1;
		fds = true;
		break;
	default:
		break;
	}

	rv->waits++;
	err = sw_ioctl(m->fd, SIGWAKE_IOC_WAIT, &a);
	rv->returned++;
	if (!err) {
		switch (a.reason) {
		case SIGWAKE_REASON_SIGNAL:
		case SIGWAKE_REASON_KICK:
		case SIGWAKE_REASON_TIMEOUT:
			break;
		case SIGWAKE_REASON_WAKE:
			if (!on_q)
				mx_bad(m, "WAIT woken without a queue", 0, a.reason);
			break;
		case SIGWAKE_REASON_FD:
			rv->fd_events++;
			if (!fds)
				mx_bad(m, "WAIT REASON_FD without descriptors", 0, a.reason);
			break;
		default:
			mx_bad(m, "WAIT reason", 0, a.reason);
		}
		if (a.reason == SIGWAKE_REASON_KICK)
			sw_clear_flags(rv->blk, SIGWAKE_TF_KICKED);
	} else if (err == -EINTR) {
		rv->eintr++;
	} else if (on_q && err == -EIDRM) {
		rv->eidrm++;
	} else if (on_q && err == -ENOENT) {
		/* the queue was destroyed before the call */
	} else if (word && err == -EAGAIN) {
		rv->eagain++;
	} else {
		mx_bad(m, "WAIT", err, kind);
	}
	if (fds)
		mx_drain_pipe(rv->pipe[0]);
}

/* A stint "in guest code": spin until a signal, a kick or the kick byte. */
static void mx_recv_guest(struct mx_recv *rv, unsigned char *kick_byte)
{
	unsigned int n = 200 + mx_rand(&rv->rng, 20000), i;

	rv->stints++;
	SW_STORE(kick_byte, 0);
	if (!sw_enter_guest(rv->blk))
		return;
	__atomic_add_fetch(&rv->blk->entry_seq, 1, __ATOMIC_RELAXED);
	for (i = 0; i < n; i++) {
		if (SW_LOAD(kick_byte) ||
		    (SW_LOAD(&rv->blk->flags) & SIGWAKE_TF_KICKED) ||
		    (SW_LOAD(&rv->blk->pending) & ~SW_LOAD(&rv->blk->blocked))) {
			rv->kicked_out++;
			break;
		}
		sw_cpu_relax();
	}
	sw_set_state(rv->blk, SIGWAKE_RUNNING_IN_HOST);
	sw_clear_flags(rv->blk, SIGWAKE_TF_KICKED);
}

static void *mx_receiver(void *arg)
{
	struct mx_recv *rv = arg;
	struct mx *m = rv->m;
	unsigned char *kick_byte = &m->kick[rv->idx * 64];
	__u64 mask;
	int err;

	rv->tid = sw_gettid();
	err = sw_register(m->fd, rv->blk, kick_byte, MX_KICK_SIG, &rv->handle);
	if (err)
		mx_bad(m, "REGISTER receiver", err, rv->idx);
	SW_STORE(&rv->registered, err ? -1 : 1);
	if (err)
		return NULL;

	while (!SW_LOAD(&m->stop_recv)) {
		unsigned int r = mx_rand(&rv->rng, 100);

		rv->ops++;
		if (r < 30)
			mx_recv_wait(rv, 0);
		else if (r < 55)
			mx_recv_wait(rv, 1);
		else if (r < 70)
			mx_recv_wait(rv, 2);
		else if (r < 90)
			mx_recv_guest(rv, kick_byte);
		else {
			mask = mx_rand(&rv->rng, 3) ? 0 :
			       sw_xorshift(&rv->rng) & MX_TGT_MASK;
			SW_STORE(&rv->blk->blocked, mask);
		}
		mx_take(rv);
	}

	/* drain: unblock everything, collect what was queued, take it all */
	SW_STORE(&rv->blk->blocked, 0);
	err = sw_wait(m->fd, SIGWAKE_NO_WQ, 0, 0, 0, NULL);
	if (err && err != -EINTR)
		mx_bad(m, "final WAIT poll", err, rv->idx);
	mx_take(rv);
	/* half of them leave registered: the domain's close releases them */
	if (rv->idx & 1) {
		err = sw_unregister(m->fd, rv->handle);
		if (err)
			mx_bad(m, "UNREGISTER receiver", err, rv->idx);
	} else {
		SW_ADD(&m->exits_registered, 1);
	}
	return NULL;
}

/* --- posters, kicker, wakers, queue churner ----------------------- */

struct mx_worker {
	struct mx *m;
	int idx;
	uint64_t rng;
	pthread_t th;
	bool started;
};

static __u32 mx_some_churn_handle(struct mx *m, uint64_t *rng)
{
	return SW_LOAD(&m->churn_handle[mx_rand(rng, MX_SPAWNERS)]);
}

static void *mx_poster(void *arg)
{
	struct mx_worker *w = arg;
	struct mx *m = w->m;

	while (!mx_stopped(m)) {
		unsigned int r = mx_rand(&w->rng, 100);

		if (r < 50) {
			mx_post_accounted(m, (int)mx_rand(&w->rng, MX_RECV),
					  (unsigned int)sw_xorshift(&w->rng));
		} else if (r < 80) {
			mx_post_accounted(m, -1, (unsigned int)sw_xorshift(&w->rng));
		} else {
			__u32 h = mx_some_churn_handle(m, &w->rng), outcome = 0;
			int err;

			if (!h)
				continue;
			err = sw_post(m->fd, h, MX_CHURN_SIG + mx_rand(&w->rng, 4),
				      NULL, &outcome);
			SW_ADD(&m->churn_posts, 1);
			if (err && err != -ENOENT && err != -ESRCH)
				mx_bad(m, "POST to a short-lived thread", err, h);
			else if (!err && !mx_outcome_ok(outcome, false))
				mx_bad(m, "POST outcome (short-lived)", 0, outcome);
		}
		if (mx_rand(&w->rng, 4) == 0)
			mx_short_pause(&w->rng);
	}
	return NULL;
}

static void *mx_kicker(void *arg)
{
	struct mx_worker *w = arg;
	struct mx *m = w->m;

	while (!mx_stopped(m)) {
		unsigned int r = mx_rand(&w->rng, 100);
		bool churn = r & 1;
		__u32 h = churn ? mx_some_churn_handle(m, &w->rng) :
			  m->recv[mx_rand(&w->rng, MX_RECV)].handle;
		struct sigwake_kick_args a = { .size = sizeof(a), .target = h };
		int err;

		if (!h)
			continue;
		if (r < 40) {
			a.flags = SIGWAKE_KICK_WAIT;
			a.timeout_ns = (1 + mx_rand(&w->rng, 5)) * MS;
			SW_ADD(&m->kick_waits, 1);
		}
		err = sw_ioctl(m->fd, SIGWAKE_IOC_KICK, &a);
		SW_ADD(&m->kicks, 1);
		if (err == -ETIMEDOUT && a.flags) {
			SW_ADD(&m->kick_timeouts, 1);
		} else if (err == -EINTR && a.flags) {
			/* SIGALRM hit the kicker's wait */
		} else if (churn && (err == -ENOENT || err == -ESRCH)) {
			/* the short-lived thread is gone */
		} else if (err) {
			mx_bad(m, a.flags ? "KICK_WAIT" : "KICK", err, h);
		} else if (!mx_outcome_ok(a.outcome, false)) {
			mx_bad(m, "KICK outcome", 0, a.outcome);
		}
		mx_short_pause(&w->rng);
	}
	return NULL;
}

static void *mx_waker(void *arg)
{
	struct mx_worker *w = arg;
	struct mx *m = w->m;

	while (!mx_stopped(m)) {
		unsigned int slot = mx_rand(&w->rng, MX_QSLOTS);
		__u32 h = SW_LOAD(&m->qslot[slot]), woken = 0;
		int err;

		if (h) {
			if (slot & 1)
				SW_ADD(&m->words[slot], 1);
			err = sw_wake(m->fd, h, mx_rand(&w->rng, 4) ? 1 + mx_rand(&w->rng, 3) :
				      0xffffffffu, &woken);
			SW_ADD(&m->wakes, 1);
			if (!err)
				SW_ADD(&m->woken, woken);
			else if (err != -ENOENT)
				mx_bad(m, "WAKE", err, h);
		}
		mx_short_pause(&w->rng);
	}
	return NULL;
}

static void *mx_queue_churner(void *arg)
{
	struct mx_worker *w = arg;
	struct mx *m = w->m;

	while (!mx_stopped(m)) {
		unsigned int slot = mx_rand(&w->rng, MX_QSLOTS);
		__u32 old = SW_XCHG(&m->qslot[slot], 0), h = 0;
		int err;

		if (old) {
			/* others may be asleep on it: they get EIDRM */
			err = sw_wq_destroy(m->fd, old);
			if (err)
				mx_bad(m, "WQ_DESTROY", err, old);
			else
				SW_ADD(&m->wq_destroyed, 1);
		}
		err = sw_wq_create(m->fd, (slot & 1) ? &m->words[slot] : NULL, &h);
		if (err)
			mx_bad(m, "WQ_CREATE", err, slot);
		else
			SW_ADD(&m->wq_created, 1), SW_STORE(&m->qslot[slot], h);
		usleep(1000 + mx_rand(&w->rng, 4000));
	}
	return NULL;
}

/* --- short-lived threads ------------------------------------------ */

enum { MX_UNREG_SELF, MX_EXIT_THEN_UNREG, MX_EXIT_ABANDON };

struct mx_churn {
	struct mx *m;
	int spawner;
	int mode;
	struct sigwake_thread_block *blk;
	uint64_t rng;
	__u32 handle;
	int err;
};

static void *mx_churn_thread(void *arg)
{
	struct mx_churn *c = arg;
	struct mx *m = c->m;
	unsigned int i;
	int err;

	c->err = sw_register(m->fd, c->blk, NULL,
			     mx_rand(&c->rng, 2) ? MX_KICK_SIG : 0, &c->handle);
	if (c->err) {
		mx_bad(m, "REGISTER short-lived", c->err, c->spawner);
		return NULL;
	}
	SW_ADD(&m->registrations, 1);
	SW_STORE(&m->churn_handle[c->spawner], c->handle);
	switch (mx_rand(&c->rng, 3)) {
	case 0:
		err = sw_wait(m->fd, SIGWAKE_NO_WQ, 0,
			      (__s64)mx_rand(&c->rng, 2000) * 1000, 0, NULL);
		if (err && err != -EINTR)
			mx_bad(m, "WAIT short-lived", err, 0);
		break;
	case 1:
		if (sw_enter_guest(c->blk)) {
			for (i = mx_rand(&c->rng, 5000); i; i--)
				sw_cpu_relax();
			sw_set_state(c->blk, SIGWAKE_RUNNING_IN_HOST);
		}
		break;
	default:
		sched_yield();
	}
	if (c->mode == MX_UNREG_SELF) {
		err = sw_unregister(m->fd, c->handle);
		if (err)
			mx_bad(m, "UNREGISTER self (short-lived)", err, c->handle);
		else
			SW_ADD(&m->unregisters, 1);
	}
	return NULL;
}

static void *mx_spawner(void *arg)
{
	struct mx_worker *w = arg;
	struct mx *m = w->m;
	while (!mx_stopped(m)) {
		struct mx_churn c = {
			.m = m,
			.spawner = w->idx,
			.mode = (int)mx_rand(&w->rng, 3),
			.rng = sw_xorshift(&w->rng) | 1,
		};
		pthread_t th;
		int err;

		if (c.mode == MX_EXIT_ABANDON && m->abandoned[w->idx] >= MX_ABANDON)
			c.mode = MX_EXIT_THEN_UNREG;
		/* block 0 is reused; blocks 1.. are left to exited threads */
		c.blk = &m->churn_blk[w->idx][c.mode == MX_EXIT_ABANDON ?
					      1 + m->abandoned[w->idx] : 0];
		if (pthread_create(&th, NULL, mx_churn_thread, &c)) {
			usleep(1000);
			continue;
		}
		pthread_join(th, NULL);
		SW_STORE(&m->churn_handle[w->idx], 0);
		if (c.err)
			continue;
		if (c.mode == MX_EXIT_ABANDON) {
			m->abandoned[w->idx]++;
			SW_ADD(&m->abandoned_total, 1);
			continue;	/* scanned after the domain is closed */
		}
		if (c.mode == MX_EXIT_THEN_UNREG) {
			/* the thread is gone: its handle answers until this */
			err = sw_unregister(m->fd, c.handle);
			if (err)
				mx_bad(m, "UNREGISTER exited thread", err, c.handle);
			else
				SW_ADD(&m->unregisters, 1);
		}
		/* unregistered: the kernel no longer writes the block */
		mx_credit(m, -1, SW_XCHG(&c.blk->pending, 0), false);
		memset(c.blk, 0, sizeof(*c.blk));
	}
	return NULL;
}

/* --- host signals, FORWARD, descriptors --------------------------- */

static int mx_forward(struct mx *m, int host, int guest, __u32 target)
{
	struct sigwake_forward_args a = {
		.size = sizeof(a),
		.host_signo = (__u32)host,
		.guest_signo = (__u32)guest,
		.target = target,
	};

	return sw_ioctl(m->fd, SIGWAKE_IOC_FORWARD, &a);
}

static void *mx_signaller(void *arg)
{
	struct mx_worker *w = arg;
	struct mx *m = w->m;
	pid_t pid = getpid();

	while (!mx_stopped(m)) {
		unsigned int r = mx_rand(&w->rng, 100);
		struct mx_recv *rv = &m->recv[mx_rand(&w->rng, MX_RECV)];
		int err;

		if (r < 60) {
			syscall(SYS_tgkill, pid, rv->tid, SIGUSR2);
			SW_ADD(&m->host_signals, 1);
		} else if (m->fwd && r < 75) {
			kill(pid, SIGUSR1);
			SW_ADD(&m->forwards_sent, 1);
		} else if (m->fwd && r < 95) {
			syscall(SYS_tgkill, pid, rv->tid, SIGWINCH);
			SW_ADD(&m->forwards_sent, 1);
		} else if (m->fwd) {
			/* replace the route with itself: a FORWARD_CHANGE */
			err = mx_forward(m, SIGUSR1, MX_FWD_ANY_SIG, SIGWAKE_TARGET_ANY);
			if (err)
				mx_bad(m, "FORWARD replace", err, SIGUSR1);
		}
		usleep(500 + mx_rand(&w->rng, 2500));
	}
	return NULL;
}

static void *mx_fd_writer(void *arg)
{
	struct mx_worker *w = arg;
	struct mx *m = w->m;

	while (!mx_stopped(m)) {
		struct mx_recv *rv = &m->recv[mx_rand(&w->rng, MX_RECV)];
		char c = 1;

		if (write(rv->pipe[1], &c, 1) < 0 && errno != EAGAIN)
			mx_bad(m, "pipe write", -errno, rv->idx);
		usleep(1000 + mx_rand(&w->rng, 3000));
	}
	return NULL;
}

/* --- forked children: a domain closed or abandoned under sleepers -- */

struct mx_child_thread {
	int fd;
	struct sigwake_thread_block *blk;
	__u32 wq;
	int pipe_rd;
	int kind;
	int err;
	__u32 reason;
	int registered;		/* atomic */
	int done;		/* atomic */
};

static void *mx_child_sleeper(void *arg)
{
	struct mx_child_thread *ct = arg;
	struct sigwake_pollfd pfd = { .fd = ct->pipe_rd, .events = POLLIN };
	struct sigwake_wait_args a = {
		.size = sizeof(a),
		.wq = ct->kind == 1 ? ct->wq : SIGWAKE_NO_WQ,
		.timeout_ns = 20 * SW_NSEC_PER_SEC,
	};

	if (ct->kind == 2) {
		a.fds = (__u64)(uintptr_t)&pfd;
		a.nfds = 1;
	}
	ct->err = sw_register(ct->fd, ct->blk, NULL, 0, NULL);
	SW_STORE(&ct->registered, 1);
	if (!ct->err) {
		ct->err = sw_ioctl(ct->fd, SIGWAKE_IOC_WAIT, &a);
		ct->reason = a.reason;
	}
	SW_STORE(&ct->done, 1);
	return NULL;
}

/*
 * The child: its inherited copy of the main domain must give EPERM (and
 * closing it must not disturb the parent); its own domain is closed, or
 * the child exits, while three threads sleep in it.  Exit status 0: all
 * as the header says.
 */
static int mx_child(int main_fd, uint64_t seed)
{
	struct mx_child_thread ct[3];
	struct sigwake_thread_block *blk = sw_alloc_blocks(3);
	uint64_t rng = seed | 1;
	pthread_t th[3];
	int fd, p[2], mode, i;
	__u32 wq;

	MX = NULL;	/* no handler of the parent's posts from here */
	if (sw_post(main_fd, 1, 1, NULL, NULL) != -EPERM)
		return 10;
	close(main_fd);
	fd = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 11;
	if (!blk || pipe(p) || sw_wq_create(fd, NULL, &wq))
		return 12;
	for (i = 0; i < 3; i++) {
		ct[i] = (struct mx_child_thread){
			.fd = fd, .blk = &blk[i], .wq = wq, .pipe_rd = p[0],
			.kind = i,
		};
		if (pthread_create(&th[i], NULL, mx_child_sleeper, &ct[i]))
			return 13;
	}
	for (i = 0; i < 3; i++) {
		if (!SW_POLL(SW_LOAD(&ct[i].registered), SW_LONG_MS) || ct[i].err)
			return 14;
		if (!SW_POLL(sw_state(&blk[i]) == SIGWAKE_WAITING ||
			     SW_LOAD(&ct[i].done), SW_LONG_MS))
			return 15;
	}
	mode = (int)mx_rand(&rng, 3);
	if (mode == 0)
		_exit(0);	/* exit with everybody asleep */
	if (mode == 2) {
		/* events racing with the close */
		sw_post(fd, 1, 5, NULL, NULL);
		sw_kick(fd, 2, NULL);
	}
	close(fd);
	for (i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 3; i++) {
		if (ct[i].err == -EBADF)
			continue;
		if (mode == 2 && !ct[i].err &&
		    (ct[i].reason == SIGWAKE_REASON_SIGNAL ||
		     ct[i].reason == SIGWAKE_REASON_KICK))
			continue;
		return 20 + i;
	}
	return 0;
}

static void *mx_forker(void *arg)
{
	struct mx_worker *w = arg;
	struct mx *m = w->m;

	while (!mx_stopped(m)) {
		uint64_t seed = sw_xorshift(&w->rng);
		int64_t deadline;
		int status = 0;
		pid_t pid, r;

		pid = fork();
		if (pid < 0) {
			usleep(10000);
			continue;
		}
		if (pid == 0)
			_exit(mx_child(m->fd, seed));
		SW_ADD(&m->children, 1);
		deadline = sw_now_ns() + 60 * SW_NSEC_PER_SEC;
		while ((r = waitpid(pid, &status, WNOHANG)) == 0 &&
		       sw_now_ns() < deadline)
			usleep(2000);
		if (r == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			mx_bad(m, "forked child stuck (60 s)", 0, (unsigned int)pid);
			SW_ADD(&m->children_bad, 1);
		} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			mx_bad(m, "forked child (exit code: where it failed)", 0,
			       WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status));
			SW_ADD(&m->children_bad, 1);
		}
		usleep(20000 + mx_rand(&w->rng, 80000));
	}
	return NULL;
}

/* --- the test ------------------------------------------------------ */

static int mx_seconds = -1;

static int mx_duration(void)
{
	const char *s = getenv("SIGWAKE_STRESS_SECONDS");

	if (mx_seconds > 0)
		return mx_seconds;
	if (s && atoi(s) > 0)
		return atoi(s);
	return 20;
}

/* Join with a deadline; false if the thread is still running then. */
static bool mx_join(pthread_t th, int seconds)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += seconds;
	return pthread_timedjoin_np(th, NULL, &ts) == 0;
}

TEST(mixed)
{
	struct mx *m;
	struct mx_worker wk[MX_POSTERS + MX_WAKERS + MX_SPAWNERS + 5];
	void *(*fn[ARRAY_SIZE(wk)])(void *);
	struct itimerval itv = { .it_interval = { 0, 3000 }, .it_value = { 0, 3000 } };
	struct itimerval off = { 0 };
	struct sigwake_thread_block *rblk;
	uint64_t seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() ^ (uint64_t)sw_now_ns();
	unsigned long recv_waits = 0, recv_returned = 0, eintr = 0, eidrm = 0;
	unsigned long eagain = 0, fd_events = 0, stints = 0, kicked_out = 0;
	unsigned int nw = 0, i, r, s, stuck = 0, k;
	int seconds = mx_duration(), err, threads;
	int64_t t0;

	m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, m);
	m->words = sw_alloc_page();
	ASSERT_NE(NULL, m->words);
	m->kick = sw_alloc_page();
	ASSERT_NE(NULL, m->kick);
	rblk = sw_alloc_blocks(MX_RECV);
	ASSERT_NE(NULL, rblk);
	for (i = 0; i < MX_SPAWNERS; i++) {
		m->churn_blk[i] = sw_alloc_blocks(MX_ABANDON + 1);
		ASSERT_NE(NULL, m->churn_blk[i]);
	}
	SW_OPEN_DOMAIN(m->fd);
	TH_LOG("seed 0x%llx, %d s", (unsigned long long)seed, seconds);

	ASSERT_EQ(0, sw_sigaction(SIGALRM, mx_alarm, SA_RESTART));
	ASSERT_EQ(0, sw_sigaction(SIGUSR2, mx_usr2, 0));
	ASSERT_EQ(0, sw_sigaction(MX_KICK_SIG, mx_kick_handler, SA_RESTART));
	signal(SIGUSR1, SIG_IGN);
	signal(SIGWINCH, SIG_IGN);
	MX = m;

	for (i = 0; i < MX_QSLOTS; i++) {
		ASSERT_EQ(0, sw_wq_create(m->fd, (i & 1) ? &m->words[i] : NULL,
					  &m->qslot[i]));
	}
	for (i = 0; i < MX_RECV; i++) {
		struct mx_recv *rv = &m->recv[i];

		rv->m = m;
		rv->idx = (int)i;
		rv->blk = &rblk[i];
		rv->rng = sw_xorshift(&seed) | 1;
		ASSERT_EQ(0, pipe2(rv->pipe, O_NONBLOCK | O_CLOEXEC));
		ASSERT_EQ(0, pthread_create(&rv->th, NULL, mx_receiver, rv));
		ASSERT_TRUE(SW_POLL(SW_LOAD(&rv->registered), SW_LONG_MS));
		ASSERT_EQ(1, rv->registered);
	}

	err = mx_forward(m, SIGUSR1, MX_FWD_ANY_SIG, SIGWAKE_TARGET_ANY);
	if (err == -EOPNOTSUPP) {
		TH_LOG("FORWARD is not available on this kernel: not exercised");
	} else {
		ASSERT_EQ(0, err);
		ASSERT_EQ(0, mx_forward(m, SIGWINCH, MX_FWD_R0_SIG, m->recv[0].handle));
		m->fwd = true;
	}

	for (i = 0; i < MX_POSTERS; i++)
		fn[nw++] = mx_poster;
	for (i = 0; i < MX_WAKERS; i++)
		fn[nw++] = mx_waker;
	for (i = 0; i < MX_SPAWNERS; i++)
		fn[nw++] = mx_spawner;
	fn[nw++] = mx_kicker;
	fn[nw++] = mx_queue_churner;
	fn[nw++] = mx_signaller;
	fn[nw++] = mx_fd_writer;
	fn[nw++] = mx_forker;

	t0 = sw_now_ns();
	m->end_ns = t0 + (int64_t)seconds * SW_NSEC_PER_SEC;
	for (i = 0, k = 0; i < nw; i++) {
		/* each kind numbers its threads from 0 (spawner index) */
		k = (i > 0 && fn[i] == fn[i - 1]) ? k + 1 : 0;
		wk[i] = (struct mx_worker){ .m = m, .idx = (int)k,
					    .rng = sw_xorshift(&seed) | 1 };
		ASSERT_EQ(0, pthread_create(&wk[i].th, NULL, fn[i], &wk[i]));
		wk[i].started = true;
	}
	threads = MX_RECV + (int)nw;
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &itv, NULL));

	while (sw_now_ns() < m->end_ns)
		sw_sleep_ms(100);

	/* 1. producers stop; no handler posts any more */
	SW_STORE(&m->stop, 1);
	setitimer(ITIMER_REAL, &off, NULL);
	SW_STORE(&m->h_off, 1);
	ASSERT_TRUE(SW_POLL(SW_LOAD(&m->h_inflight) == 0, SW_LONG_MS));
	for (i = 0; i < nw; i++) {
		if (!mx_join(wk[i].th, 90)) {
			TH_LOG("worker %u did not finish within 90 s", i);
			stuck++;
		}
	}
	/* 2. receivers drain and leave (every WAIT of theirs is bounded) */
	SW_STORE(&m->stop_recv, 1);
	for (i = 0; i < MX_RECV; i++) {
		struct mx_recv *rv = &m->recv[i];

		if (!mx_join(rv->th, 60)) {
			TH_LOG("receiver %u did not finish within 60 s: a WAIT never returned", i);
			stuck++;
		}
		recv_waits += rv->waits;
		recv_returned += rv->returned;
		eintr += rv->eintr;
		eidrm += rv->eidrm;
		eagain += rv->eagain;
		fd_events += rv->fd_events;
		stints += rv->stints;
		kicked_out += rv->kicked_out;
	}
	ASSERT_EQ(0, stuck);

	/* 3. close the domain: what is still pending now stays in the blocks */
	ASSERT_EQ(0, close(m->fd));
	MX = NULL;
	for (i = 0; i < MX_RECV; i++)
		mx_credit(m, (int)i, SW_XCHG(&rblk[i].pending, 0), true);
	for (i = 0; i < MX_SPAWNERS; i++)
		for (k = 1; k <= m->abandoned[i]; k++)
			mx_credit(m, -1, SW_XCHG(&m->churn_blk[i][k].pending, 0), true);
	for (r = 0; r < MX_RECV; r++)
		for (s = 1; s <= SIGWAKE_NSIG; s++)
			if (m->tflag[r][s])
				m->lost++, mx_bad(m, "LOST targeted post (receiver, signo)", r, s);
	for (s = 1; s <= SIGWAKE_NSIG; s++)
		if (m->aflag[s])
			m->lost++, mx_bad(m, "LOST process-directed post (signo)", 0, s);

	TH_LOG("%d threads for %.1f s: %lu accounted posts (%lu TARGET_ANY, %lu QUEUED, %lu from handlers), %lu observed, %lu pending at the end",
	       threads, sw_ms_since(t0) / 1000.0, m->posts, m->posts_any, m->queued,
	       m->handler_posts, m->observed, m->pending_end);
	TH_LOG("receivers: %lu waits (%lu returned; %lu EINTR, %lu EIDRM, %lu EAGAIN, %lu REASON_FD), %lu guest stints (%lu left early)",
	       recv_waits, recv_returned, eintr, eidrm, eagain, fd_events, stints, kicked_out);
	TH_LOG("%lu kicks (%lu KICK_WAIT, %lu timed out), %lu wakes (%lu woken), queues %lu created / %lu destroyed",
	       m->kicks, m->kick_waits, m->kick_timeouts, m->wakes, m->woken,
	       m->wq_created, m->wq_destroyed);
	TH_LOG("short-lived: %lu registered, %lu unregistered, %lu left exited until close, %lu posts to them",
	       m->registrations, m->unregisters, m->abandoned_total, m->churn_posts);
	TH_LOG("host: %lu SIGALRM, %lu SIGUSR2; forward: %lu sent, seen %lu (receiver 0) + %lu (any); %lu forked children",
	       m->alarms, m->host_signals, m->forwards_sent, m->fwd_r0_seen,
	       m->fwd_any_seen, m->children);
	for (i = 0; i < m->nbad && i < MX_BADLOG; i++)
		TH_LOG("unexpected: %s: %s (%u)", m->badlog[i].what,
		       m->badlog[i].err ? strerror(-m->badlog[i].err) : "-",
		       m->badlog[i].aux);

	EXPECT_EQ(0, m->nbad);
	EXPECT_EQ(0, m->lost);
	EXPECT_EQ(0, m->spurious);
	EXPECT_EQ(m->posts, m->observed + m->pending_end);
	EXPECT_EQ(recv_waits, recv_returned);
	EXPECT_EQ(0, m->children_bad);
	EXPECT_LT(0, m->posts);
	EXPECT_LT(0, m->registrations);
	EXPECT_LT(0, m->children);
	if (m->fwd && m->forwards_sent > 20)
		EXPECT_LT(0, m->fwd_r0_seen + m->fwd_any_seen);
	munmap(m, sizeof(*m));
}


/* The live counts, and "name value, ..." of them in @text. */
static bool mx_read_objects(long v[SW_OBJ_COUNT], char *text, size_t len)
{
	size_t used = 0;
	int i;

	text[0] = '\0';
	if (!sw_read_objects(v))
		return false;
	for (i = 0; i < SW_OBJ_COUNT && used < len; i++)
		used += (size_t)snprintf(text + used, len - used, "%s %ld, ",
					 sw_obj_names[i], v[i]);
	return true;
}

/*
 * After "mixed" (its process is gone, its domains closed): thread-exit
 * reaping and domain freeing run from a workqueue, so poll for a while.
 */
TEST(mixed_objects_released)
{
	long v[SW_OBJ_COUNT];
	char text[256];
	bool zero = false;
	int64_t end = sw_now_ns() + 10 * SW_NSEC_PER_SEC;
	int i;

	if (!mx_read_objects(v, text, sizeof(text)))
		SKIP(return, "no " SW_OBJECTS " (debugfs not mounted or module without it)");
	while (!zero) {
		ASSERT_TRUE(mx_read_objects(v, text, sizeof(text)));
		zero = true;
		for (i = 0; i < SW_OBJ_COUNT; i++)
			if (v[i] != 0)
				zero = false;
		if (zero || sw_now_ns() > end)
			break;
		sw_sleep_ms(100);
	}
	TH_LOG("live objects: %s", text);
	EXPECT_TRUE(zero) {
		TH_LOG("objects still alive 10 s after everything was closed");
	}
}

/* --- main: options, then the harness ------------------------------ */

static void __attribute__((constructor)) mx_constructor_order_last(void)
{
	if (!__constructor_order)
		__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD;
}

/* Keep only the tests whose name starts with @prefix. */
static void mx_filter_tests(const char *prefix)
{
	struct __fixture_metadata *f;

	for (f = __fixture_list; f; f = f->next) {
		struct __test_metadata *t, *next, *head = NULL, *tail = NULL;

		for (t = f->tests; t; t = next) {
			next = t->next;
			if (strncmp(t->name, prefix, strlen(prefix)))
				continue;
			t->next = NULL;
			if (!head) {
				head = t;
			} else {
				tail->next = t;
				t->prev = tail;
			}
			tail = t;
		}
		if (head)
			head->prev = tail;
		f->tests = head;
	}
}

static int mx_cmdline_seconds(void)
{
	char buf[4096], *p;
	FILE *f = fopen("/proc/cmdline", "re");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strstr(buf, "sigwake.stress=");
	return p ? atoi(p + strlen("sigwake.stress=")) : -1;
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	int i, cs = mx_cmdline_seconds();

	if (cs > 0) {
		mx_seconds = cs;
		only = "mixed";
	}
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			mx_seconds = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
			only = argv[++i];
		} else {
			fprintf(stderr, "usage: %s [--seconds N] [--only PREFIX]\n",
				argv[0]);
			return 2;
		}
	}
	if (only)
		mx_filter_tests(only);
	/* the harness kills a test after .timeout seconds */
	_mixed_object.timeout = mx_duration() + 300;
	return test_harness_run(argc, argv);
}
