// SPDX-License-Identifier: GPL-2.0
/*
 * SIGWAKE_IOC_WAIT and SIGWAKE_IOC_WAKE: the pre-sleep checks and their
 * order, timeouts (relative, absolute, zero, forever), word-bound queues,
 * FIFO wakeups, and host signals during a wait (EINTR, SA_RESTART, deadline
 * never extended).
 *
 * Fixtures:
 *   thread  a domain with the test thread registered
 *   wq      the same plus a queue bound to a word (initially 0)
 *   pq      the same plus a plain queue (no word)
 */
#include "sigwake_test.h"

#define MS	SW_NSEC_PER_MSEC

FIXTURE(thread) {
	int fd;
	struct sigwake_thread_block *blk;	/* [0] is ours, [1..7] spare */
	__u32 handle;
};

FIXTURE_SETUP(thread)
{
	self->fd = -1;
	self->blk = sw_alloc_blocks(8);
	ASSERT_NE(NULL, self->blk);
	SW_OPEN_DOMAIN(self->fd);
	ASSERT_EQ(0, sw_register(self->fd, self->blk, NULL, 0, &self->handle));
}

FIXTURE_TEARDOWN(thread)
{
	if (self->fd >= 0)
		close(self->fd);
}

FIXTURE(wq) {
	int fd;
	struct sigwake_thread_block *blk;	/* [0] is ours, [1..7] spare */
	__u32 handle;
	__u32 *word;
	__u32 wq;
};

FIXTURE_SETUP(wq)
{
	self->fd = -1;
	self->blk = sw_alloc_blocks(8);
	ASSERT_NE(NULL, self->blk);
	self->word = sw_alloc_page();
	ASSERT_NE(NULL, self->word);
	SW_OPEN_DOMAIN(self->fd);
	ASSERT_EQ(0, sw_register(self->fd, self->blk, NULL, 0, &self->handle));
	ASSERT_EQ(0, sw_wq_create(self->fd, self->word, &self->wq));
}

FIXTURE_TEARDOWN(wq)
{
	if (self->fd >= 0)
		close(self->fd);
}

FIXTURE(pq) {
	int fd;
	struct sigwake_thread_block *blk;
	__u32 handle;
	__u32 wq;
};

FIXTURE_SETUP(pq)
{
	self->fd = -1;
	self->blk = sw_alloc_blocks(8);
	ASSERT_NE(NULL, self->blk);
	SW_OPEN_DOMAIN(self->fd);
	ASSERT_EQ(0, sw_register(self->fd, self->blk, NULL, 0, &self->handle));
	ASSERT_EQ(0, sw_wq_create(self->fd, NULL, &self->wq));
}

FIXTURE_TEARDOWN(pq)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* ------------------------------------------------------------------ */
/* timeouts                                                            */

TEST_F(thread, timeout_zero_polls)
{
	__u32 reason = 0;
	int64_t t0 = sw_now_ns();

	EXPECT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, 0, 0, &reason));
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, reason);
	EXPECT_GT(2000 * MS, sw_now_ns() - t0);
	EXPECT_EQ(SIGWAKE_RUNNING_IN_HOST, sw_state(self->blk));
}

TEST_F(thread, relative_timeout)
{
	__u32 reason = 0;
	int64_t t0 = sw_now_ns(), dt;

	EXPECT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, 50 * MS, 0, &reason));
	dt = sw_now_ns() - t0;
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, reason);
	EXPECT_LE(50 * MS, dt);
	EXPECT_GT(5000 * MS, dt);
	EXPECT_EQ(SIGWAKE_RUNNING_IN_HOST, sw_state(self->blk));
}

TEST_F(thread, abstime_timeout)
{
	__u32 reason = 0;
	int64_t deadline = sw_now_ns() + 80 * MS, t1;

	EXPECT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, deadline,
			     SIGWAKE_WAIT_ABSTIME, &reason));
	t1 = sw_now_ns();
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, reason);
	EXPECT_LE(deadline, t1);
	EXPECT_GT(deadline + 5000 * MS, t1);
}

TEST_F(thread, abstime_in_the_past_returns_at_once)
{
	__u32 reason = 0;
	int64_t t0 = sw_now_ns();

	EXPECT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, 1,
			     SIGWAKE_WAIT_ABSTIME, &reason));
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, reason);
	EXPECT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, t0 - 10 * MS,
			     SIGWAKE_WAIT_ABSTIME, &reason));
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, reason);
	EXPECT_GT(2000 * MS, sw_now_ns() - t0);
}

/* timeout -1 sleeps until an event, however long that takes */
TEST_F(thread, timeout_none_waits_for_post)
{
	struct sw_thread t;
	__u32 outcome = 0, h = 0;

	sw_thread_init(&t, self->fd, &self->blk[1]);
	t.do_wait = true;
	t.timeout_ns = SIGWAKE_TIMEOUT_NONE;
	ASSERT_EQ(0, sw_thread_start(&t));
	ASSERT_TRUE(sw_thread_is_waiting(&t, SW_LONG_MS));
	sw_sleep_ms(300);
	EXPECT_FALSE(SW_LOAD(&t.done));
	EXPECT_EQ(SIGWAKE_WAITING, sw_state(t.blk));
	ASSERT_EQ(0, sw_post(self->fd, t.handle, SW_SIG, &h, &outcome));
	EXPECT_EQ(SIGWAKE_POST_WOKEN, outcome);
	EXPECT_EQ(t.handle, h);
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	EXPECT_EQ(0, t.wait_err);
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, t.args.reason);
	sw_thread_finish(&t);
}

/* ------------------------------------------------------------------ */
/* the pre-sleep checks and their order                                */

TEST_F(thread, pending_signal_returns_at_once)
{
	__u32 reason = 0;
	int64_t t0;

	ASSERT_EQ(0, sw_post(self->fd, self->handle, SW_SIG, NULL, NULL));
	t0 = sw_now_ns();
	EXPECT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, SW_WATCHDOG_NS, 0,
			     &reason));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, reason);
	EXPECT_GT(2000 * MS, sw_now_ns() - t0);
	/* the kernel sets pending; only the runtime takes it */
	EXPECT_EQ(SW_BIT(SW_SIG), SW_LOAD(&self->blk->pending));
	EXPECT_EQ(SIGWAKE_RUNNING_IN_HOST, sw_state(self->blk));
}

/* pending & ~blocked is what counts, read from the block at WAIT time */
TEST_F(thread, pending_set_by_runtime_returns_at_once)
{
	__u32 reason = 0;

	SW_STORE(&self->blk->pending, SW_BIT(33));
	EXPECT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, SW_WATCHDOG_NS, 0,
			     &reason));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, reason);
}

TEST_F(thread, blocked_pending_does_not_end_wait)
{
	__u32 reason = 0, outcome = 0;
	int64_t t0, dt;

	SW_STORE(&self->blk->blocked, SW_BIT(SW_SIG));
	ASSERT_EQ(0, sw_post(self->fd, self->handle, SW_SIG, NULL, &outcome));
	EXPECT_EQ(SIGWAKE_POST_RECORDED, outcome);
	t0 = sw_now_ns();
	EXPECT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, 100 * MS, 0, &reason));
	dt = sw_now_ns() - t0;
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, reason);
	EXPECT_LE(100 * MS, dt);
	EXPECT_EQ(SW_BIT(SW_SIG), SW_LOAD(&self->blk->pending));
}

TEST_F(thread, unblocking_then_wait_returns_signal)
{
	__u32 reason = 0;

	SW_STORE(&self->blk->blocked, SW_BIT(SW_SIG));
	ASSERT_EQ(0, sw_post(self->fd, self->handle, SW_SIG, NULL, NULL));
	ASSERT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, 0, 0, &reason));
	ASSERT_EQ(SIGWAKE_REASON_TIMEOUT, reason);
	SW_STORE(&self->blk->blocked, 0);
	EXPECT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, SW_WATCHDOG_NS, 0,
			     &reason));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, reason);
}

TEST_F(thread, kick_flag_returns_at_once)
{
	__u32 reason = 0;

	SW_STORE(&self->blk->flags, SIGWAKE_TF_KICKED);
	EXPECT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, SW_WATCHDOG_NS, 0,
			     &reason));
	EXPECT_EQ(SIGWAKE_REASON_KICK, reason);
	/* the kernel never clears a flag */
	EXPECT_EQ(SIGWAKE_TF_KICKED, SW_LOAD(&self->blk->flags));
}

/* step 2 (signal) comes before step 3 (kick) */
TEST_F(thread, signal_checked_before_kick)
{
	__u32 reason = 0;

	ASSERT_EQ(0, sw_kick(self->fd, self->handle, NULL));
	ASSERT_EQ(0, sw_post(self->fd, self->handle, SW_SIG, NULL, NULL));
	EXPECT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, SW_WATCHDOG_NS, 0,
			     &reason));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, reason);
	/* once the runtime takes the signal, the kick is still there */
	sw_take_pending(self->blk);
	EXPECT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, SW_WATCHDOG_NS, 0,
			     &reason));
	EXPECT_EQ(SIGWAKE_REASON_KICK, reason);
	/* and once it clears the flag, nothing is left */
	sw_clear_flags(self->blk, SIGWAKE_TF_KICKED);
	EXPECT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, 0, 0, &reason));
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, reason);
}

/* steps 2 and 3 come before the word check (step 4) */
TEST_F(wq, signal_and_kick_checked_before_word)
{
	__u32 reason = 0;

	SW_STORE(self->word, 7);
	ASSERT_EQ(0, sw_post(self->fd, self->handle, SW_SIG, NULL, NULL));
	EXPECT_EQ(0, sw_wait(self->fd, self->wq, 8, SW_WATCHDOG_NS, 0, &reason));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, reason);
	sw_take_pending(self->blk);
	ASSERT_EQ(0, sw_kick(self->fd, self->handle, NULL));
	EXPECT_EQ(0, sw_wait(self->fd, self->wq, 8, SW_WATCHDOG_NS, 0, &reason));
	EXPECT_EQ(SIGWAKE_REASON_KICK, reason);
	sw_clear_flags(self->blk, SIGWAKE_TF_KICKED);
	EXPECT_EQ(-EAGAIN, sw_wait(self->fd, self->wq, 8, SW_WATCHDOG_NS, 0,
				   &reason));
}

TEST_F(thread, state_is_host_after_return)
{
	__u32 reason = 0;

	/* whatever the runtime left in state, WAIT returns in host */
	sw_set_state(self->blk, SIGWAKE_IN_SYSCALL);
	EXPECT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, 0, 0, &reason));
	EXPECT_EQ(SIGWAKE_RUNNING_IN_HOST, sw_state(self->blk));
	sw_set_state(self->blk, SIGWAKE_RUNNING_IN_GUEST);
	EXPECT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, 20 * MS, 0, &reason));
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, reason);
	EXPECT_EQ(SIGWAKE_RUNNING_IN_HOST, sw_state(self->blk));
}

/* ------------------------------------------------------------------ */
/* word-bound and plain queues                                         */

TEST_F(wq, word_mismatch_eagain)
{
	int64_t t0;

	SW_STORE(self->word, 5);
	t0 = sw_now_ns();
	EXPECT_EQ(-EAGAIN, sw_wait(self->fd, self->wq, 6, SW_WATCHDOG_NS, 0, NULL));
	EXPECT_EQ(-EAGAIN, sw_wait(self->fd, self->wq, 0, SIGWAKE_TIMEOUT_NONE, 0, NULL));
	EXPECT_GT(2000 * MS, sw_now_ns() - t0);
	EXPECT_EQ(SIGWAKE_RUNNING_IN_HOST, sw_state(self->blk));
}

/* EAGAIN without sleeping returns in host too, whatever state was left */
TEST_F(wq, word_mismatch_returns_in_host)
{
	static const __u32 states[] = {
		SIGWAKE_IN_SYSCALL, SIGWAKE_RUNNING_IN_GUEST,
		SIGWAKE_RUNNING_IN_HOST,
	};
	unsigned int i;

	SW_STORE(self->word, 5);
	for (i = 0; i < ARRAY_SIZE(states); i++) {
		sw_set_state(self->blk, states[i]);
		EXPECT_EQ(-EAGAIN, sw_wait(self->fd, self->wq, 6,
					   SW_WATCHDOG_NS, 0, NULL));
		EXPECT_EQ(SIGWAKE_RUNNING_IN_HOST, sw_state(self->blk));
	}
}

TEST_F(wq, word_match_sleeps)
{
	__u32 reason = 0;
	int64_t t0, dt;

	SW_STORE(self->word, 5);
	t0 = sw_now_ns();
	EXPECT_EQ(0, sw_wait(self->fd, self->wq, 5, 100 * MS, 0, &reason));
	dt = sw_now_ns() - t0;
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, reason);
	EXPECT_LE(100 * MS, dt);
}

/* a plain queue has no word: expected is ignored */
TEST_F(pq, plain_queue_ignores_expected)
{
	__u32 reason = 0;
	int64_t t0, dt;

	t0 = sw_now_ns();
	EXPECT_EQ(0, sw_wait(self->fd, self->wq, 0xabcdef, 60 * MS, 0, &reason));
	dt = sw_now_ns() - t0;
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, reason);
	EXPECT_LE(60 * MS, dt);
}

TEST_F(wq, wake_wakes_word_waiter)
{
	struct sw_thread t;
	__u32 woken = 0;

	sw_thread_init(&t, self->fd, &self->blk[1]);
	t.do_wait = true;
	t.wq = self->wq;
	t.expected = 0;
	ASSERT_EQ(0, sw_thread_start(&t));
	ASSERT_TRUE(sw_thread_is_waiting(&t, SW_LONG_MS));
	/* the futex pattern: change the word, then wake */
	SW_STORE(self->word, 1);
	ASSERT_EQ(0, sw_wake(self->fd, self->wq, 1, &woken));
	EXPECT_EQ(1, woken);
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	EXPECT_EQ(0, t.wait_err);
	EXPECT_EQ(SIGWAKE_REASON_WAKE, t.args.reason);
	EXPECT_EQ(t.seq_before + 1, t.seq_after);
	EXPECT_EQ(SIGWAKE_RUNNING_IN_HOST, t.state_after);
	EXPECT_EQ(0, t.pending_after);
	sw_thread_finish(&t);
}

/* A wait on no queue is not woken by a WAKE on some queue. */
TEST_F(pq, no_wq_waiter_ignores_wake)
{
	struct sw_thread t;
	__u32 woken = 99;

	sw_thread_init(&t, self->fd, &self->blk[1]);
	t.do_wait = true;
	t.timeout_ns = 300 * MS;
	ASSERT_EQ(0, sw_thread_start(&t));
	ASSERT_TRUE(sw_thread_is_waiting(&t, SW_LONG_MS));
	EXPECT_EQ(0, sw_wake(self->fd, self->wq, 10, &woken));
	EXPECT_EQ(0, woken);
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	EXPECT_EQ(0, t.wait_err);
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, t.args.reason);
	sw_thread_finish(&t);
}

#define NWAITERS 4

/*
 * WAKE n of m: waiters enter one after another (each confirmed WAITING
 * before the next starts); WAKE 2 wakes exactly the two oldest, each with
 * its state no longer WAITING and wake_seq bumped by the time WAKE returns;
 * the others sleep on.  Then the rest.
 */
TEST_F(pq, wake_fifo_n_of_m)
{
	struct sw_thread t[NWAITERS];
	__u64 seq0[NWAITERS];
	__u32 woken = 0, st;
	unsigned int i;

	for (i = 0; i < NWAITERS; i++) {
		sw_thread_init(&t[i], self->fd, &self->blk[1 + i]);
		t[i].do_wait = true;
		t[i].wq = self->wq;
		t[i].timeout_ns = 4 * SW_WATCHDOG_NS;
		ASSERT_EQ(0, sw_thread_start(&t[i]));
		ASSERT_TRUE(sw_thread_is_waiting(&t[i], SW_LONG_MS));
	}
	for (i = 0; i < NWAITERS; i++)
		seq0[i] = SW_LOAD(&t[i].blk->wake_seq);

	ASSERT_EQ(0, sw_wake(self->fd, self->wq, 2, &woken));
	EXPECT_EQ(2, woken);
	for (i = 0; i < NWAITERS; i++) {
		st = sw_state(t[i].blk);
		if (i < 2) {
			/* WOKEN, or already back in host */
			EXPECT_TRUE(st == SIGWAKE_WOKEN ||
				    st == SIGWAKE_RUNNING_IN_HOST) {
				TH_LOG("waiter %u state %u after WAKE", i, st);
			}
			EXPECT_EQ(seq0[i] + 1, SW_LOAD(&t[i].blk->wake_seq)) {
				TH_LOG("waiter %u: wake_seq not bumped before WAKE returned", i);
			}
		} else {
			EXPECT_EQ(SIGWAKE_WAITING, st) {
				TH_LOG("waiter %u (of the newer ones) state %u", i, st);
			}
			EXPECT_EQ(seq0[i], SW_LOAD(&t[i].blk->wake_seq));
		}
	}
	for (i = 0; i < 2; i++) {
		ASSERT_TRUE(sw_thread_done(&t[i], SW_LONG_MS));
		EXPECT_EQ(0, t[i].wait_err);
		EXPECT_EQ(SIGWAKE_REASON_WAKE, t[i].args.reason);
		EXPECT_EQ(SIGWAKE_RUNNING_IN_HOST, t[i].state_after);
	}
	sw_sleep_ms(200);
	for (i = 2; i < NWAITERS; i++) {
		EXPECT_FALSE(SW_LOAD(&t[i].done)) {
			TH_LOG("waiter %u woke although only 2 were woken", i);
		}
		EXPECT_EQ(SIGWAKE_WAITING, sw_state(t[i].blk));
	}

	woken = 0;
	ASSERT_EQ(0, sw_wake(self->fd, self->wq, 100, &woken));
	EXPECT_EQ(NWAITERS - 2, woken);
	for (i = 2; i < NWAITERS; i++) {
		ASSERT_TRUE(sw_thread_done(&t[i], SW_LONG_MS));
		EXPECT_EQ(0, t[i].wait_err);
		EXPECT_EQ(SIGWAKE_REASON_WAKE, t[i].args.reason);
		EXPECT_EQ(t[i].seq_before + 1, t[i].seq_after);
	}
	for (i = 0; i < NWAITERS; i++)
		sw_thread_finish(&t[i]);
}

/* FIFO order across wakes of one: the oldest waiter goes first each time. */
TEST_F(pq, wake_one_at_a_time_in_order)
{
	struct sw_thread t[3];
	unsigned int i, j;
	__u32 woken;

	for (i = 0; i < 3; i++) {
		sw_thread_init(&t[i], self->fd, &self->blk[1 + i]);
		t[i].do_wait = true;
		t[i].wq = self->wq;
		t[i].timeout_ns = 4 * SW_WATCHDOG_NS;
		ASSERT_EQ(0, sw_thread_start(&t[i]));
		ASSERT_TRUE(sw_thread_is_waiting(&t[i], SW_LONG_MS));
	}
	for (i = 0; i < 3; i++) {
		woken = 0;
		ASSERT_EQ(0, sw_wake(self->fd, self->wq, 1, &woken));
		EXPECT_EQ(1, woken);
		ASSERT_TRUE(sw_thread_done(&t[i], SW_LONG_MS)) {
			TH_LOG("wake %u did not wake waiter %u", i, i);
		}
		EXPECT_EQ(SIGWAKE_REASON_WAKE, t[i].args.reason);
		for (j = i + 1; j < 3; j++)
			EXPECT_EQ(SIGWAKE_WAITING, sw_state(t[j].blk));
	}
	for (i = 0; i < 3; i++)
		sw_thread_finish(&t[i]);
}

/* A waiter that a POST already woke is not counted by a later WAKE. */
TEST_F(pq, post_woken_waiter_not_counted_by_wake)
{
	struct sw_thread t;
	__u32 woken = 99, outcome = 0;

	sw_thread_init(&t, self->fd, &self->blk[1]);
	t.do_wait = true;
	t.wq = self->wq;
	ASSERT_EQ(0, sw_thread_start(&t));
	ASSERT_TRUE(sw_thread_is_waiting(&t, SW_LONG_MS));
	ASSERT_EQ(0, sw_post(self->fd, t.handle, SW_SIG, NULL, &outcome));
	EXPECT_EQ(SIGWAKE_POST_WOKEN, outcome);
	EXPECT_EQ(0, sw_wake(self->fd, self->wq, 1, &woken));
	EXPECT_EQ(0, woken);
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, t.args.reason);
	sw_thread_finish(&t);
}

/* ------------------------------------------------------------------ */
/* host signals during WAIT                                            */

static volatile sig_atomic_t usr2_count;

static void usr2_handler(int sig, siginfo_t *si, void *uc)
{
	usr2_count++;
}

TEST_F(thread, host_signal_without_restart_eintr)
{
	struct sw_thread t;

	ASSERT_EQ(0, sw_sigaction(SIGUSR2, usr2_handler, 0));
	sw_thread_init(&t, self->fd, &self->blk[1]);
	t.do_wait = true;
	ASSERT_EQ(0, sw_thread_start(&t));
	ASSERT_TRUE(sw_thread_is_waiting(&t, SW_LONG_MS));
	ASSERT_EQ(0, pthread_kill(t.th, SIGUSR2));
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	EXPECT_EQ(-EINTR, t.wait_err);
	EXPECT_EQ(1, usr2_count);
	EXPECT_GT(SW_WATCHDOG_NS / 2, t.t_end - t.t_start);
	EXPECT_EQ(SIGWAKE_RUNNING_IN_HOST, t.state_after);
	sw_thread_finish(&t);
}

/* After EINTR the struct holds the absolute deadline, ABSTIME set. */
TEST_F(thread, eintr_rewrites_relative_timeout)
{
	struct sw_thread t;

	ASSERT_EQ(0, sw_sigaction(SIGUSR2, usr2_handler, 0));
	sw_thread_init(&t, self->fd, &self->blk[1]);
	t.do_wait = true;
	ASSERT_EQ(0, sw_thread_start(&t));
	ASSERT_TRUE(sw_thread_is_waiting(&t, SW_LONG_MS));
	ASSERT_EQ(0, pthread_kill(t.th, SIGUSR2));
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	ASSERT_EQ(-EINTR, t.wait_err);
	EXPECT_EQ(SIGWAKE_WAIT_ABSTIME, t.args.flags);
	/* deadline = (entry time) + 10 s, entry between t_start and t_end */
	EXPECT_LE(t.t_start + SW_WATCHDOG_NS, t.args.timeout_ns);
	EXPECT_GE(t.t_end + SW_WATCHDOG_NS, t.args.timeout_ns);
	sw_thread_finish(&t);
}

TEST_F(thread, eintr_keeps_absolute_timeout)
{
	struct sw_thread t;
	int64_t deadline = sw_now_ns() + SW_WATCHDOG_NS;

	ASSERT_EQ(0, sw_sigaction(SIGUSR2, usr2_handler, 0));
	sw_thread_init(&t, self->fd, &self->blk[1]);
	t.do_wait = true;
	t.wait_flags = SIGWAKE_WAIT_ABSTIME;
	t.timeout_ns = deadline;
	ASSERT_EQ(0, sw_thread_start(&t));
	ASSERT_TRUE(sw_thread_is_waiting(&t, SW_LONG_MS));
	ASSERT_EQ(0, pthread_kill(t.th, SIGUSR2));
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	ASSERT_EQ(-EINTR, t.wait_err);
	EXPECT_EQ(SIGWAKE_WAIT_ABSTIME, t.args.flags);
	EXPECT_EQ(deadline, t.args.timeout_ns);
	sw_thread_finish(&t);
}

/*
 * A retry of the interrupted struct keeps the original deadline: wait 2 s,
 * interrupt after 1 s, retry; it must time out ~2 s after the start, not
 * ~3 s (which a relative timeout re-armed at the retry would give).
 */
struct retry_ctx {
	struct sw_thread *t;
	int first_err, second_err;
	__u32 reason;
	int64_t t0, t1;
};

static void *retry_fn(void *arg)
{
	struct retry_ctx *c = arg;
	struct sw_thread *t = c->t;
	struct sigwake_wait_args a = {
		.size = sizeof(a),
		.wq = SIGWAKE_NO_WQ,
		.timeout_ns = 2000 * MS,
	};

	t->tid = sw_gettid();
	t->reg_err = sw_register(t->fd, t->blk, NULL, 0, &t->handle);
	SW_STORE(&t->registered, 1);
	if (t->reg_err)
		return NULL;
	SW_STORE(&t->waiting, 1);
	c->t0 = sw_now_ns();
	c->first_err = sw_ioctl(t->fd, SIGWAKE_IOC_WAIT, &a);
	if (c->first_err == -EINTR)
		c->second_err = sw_ioctl(t->fd, SIGWAKE_IOC_WAIT, &a);
	c->t1 = sw_now_ns();
	c->reason = a.reason;
	SW_STORE(&t->done, 1);
	return NULL;
}

TEST_F(thread, eintr_retry_keeps_deadline)
{
	struct sw_thread t;
	struct retry_ctx c = { .t = &t };
	int64_t dt;

	ASSERT_EQ(0, sw_sigaction(SIGUSR2, usr2_handler, 0));
	sw_thread_init(&t, self->fd, &self->blk[1]);
	ASSERT_EQ(0, pthread_create(&t.th, NULL, retry_fn, &c));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&t.registered), SW_LONG_MS));
	ASSERT_EQ(0, t.reg_err);
	ASSERT_TRUE(sw_thread_is_waiting(&t, SW_LONG_MS));
	sw_sleep_ms(1000);
	if (SW_LOAD(&t.done) || sw_state(t.blk) != SIGWAKE_WAITING) {
		pthread_join(t.th, NULL);
		SKIP(return, "the machine is too slow: the 2 s wait was over before the interrupt at 1 s");
	}
	ASSERT_EQ(0, pthread_kill(t.th, SIGUSR2));
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	pthread_join(t.th, NULL);
	ASSERT_EQ(-EINTR, c.first_err);
	EXPECT_EQ(0, c.second_err);
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, c.reason);
	dt = c.t1 - c.t0;
	EXPECT_LE(2000 * MS, dt);
	EXPECT_GT(2800 * MS, dt) {
		TH_LOG("the retried wait ended %lld ms after the first began: deadline extended",
		       (long long)(dt / MS));
	}
}

/*
 * SA_RESTART: three host signals during a 2 s wait; the wait restarts
 * transparently each time and still ends with REASON_TIMEOUT at the
 * original deadline (a re-armed relative timeout would end >= 3.2 s).
 */
TEST_F(thread, sa_restart_keeps_deadline)
{
	struct sw_thread t;
	int64_t dt;
	int k;

	ASSERT_EQ(0, sw_sigaction(SIGUSR2, usr2_handler, SA_RESTART));
	sw_thread_init(&t, self->fd, &self->blk[1]);
	t.do_wait = true;
	t.timeout_ns = 2000 * MS;
	ASSERT_EQ(0, sw_thread_start(&t));
	for (k = 0; k < 3; k++) {
		ASSERT_TRUE(SW_POLL(usr2_count == k &&
				    sw_state(t.blk) == SIGWAKE_WAITING,
				    SW_LONG_MS));
		sw_sleep_ms(400);
		if (SW_LOAD(&t.done))
			break;
		ASSERT_EQ(0, pthread_kill(t.th, SIGUSR2));
	}
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	if (k < 3 && t.wait_err == 0 && t.args.reason == SIGWAKE_REASON_TIMEOUT &&
	    t.t_end - t.t_start < 2400 * MS) {
		sw_thread_finish(&t);
		SKIP(return, "the machine is too slow: only %d interrupts fit in the wait", k);
	}
	EXPECT_EQ(3, usr2_count);
	EXPECT_EQ(0, t.wait_err) {
		TH_LOG("SA_RESTART wait returned %s", strerror(-t.wait_err));
	}
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, t.args.reason);
	dt = t.t_end - t.t_start;
	EXPECT_LE(2000 * MS, dt);
	EXPECT_GT(3000 * MS, dt) {
		TH_LOG("restarted wait ended after %lld ms: deadline extended",
		       (long long)(dt / MS));
	}
	sw_thread_finish(&t);
}

/*
 * SA_RESTART with the WAIT struct in read-only memory: the kernel cannot
 * rewrite the timeout as a deadline, so a transparent restart would wait
 * the whole relative timeout again.  The wait ends with EINTR instead.
 */
struct ro_ctx {
	int fd;
	struct sigwake_thread_block *blk;
	struct sigwake_wait_args *args;	/* read-only */
	int reg_err, err;
	int64_t took;
	int waiting, done;		/* atomic */
};

static void *ro_fn(void *arg)
{
	struct ro_ctx *c = arg;
	__u32 h;
	int64_t t0;

	c->reg_err = sw_register(c->fd, c->blk, NULL, 0, &h);
	SW_STORE(&c->waiting, 1);
	if (!c->reg_err) {
		t0 = sw_now_ns();
		c->err = sw_ioctl(c->fd, SIGWAKE_IOC_WAIT, c->args);
		c->took = sw_now_ns() - t0;
	}
	SW_STORE(&c->done, 1);
	return NULL;
}

TEST_F(thread, sa_restart_with_readonly_args_eintr)
{
	struct ro_ctx c = { .fd = self->fd, .blk = &self->blk[1] };
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	pthread_t th;

	ASSERT_EQ(0, sw_sigaction(SIGUSR2, usr2_handler, SA_RESTART));
	c.args = mmap(NULL, pg, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, c.args);
	*c.args = (struct sigwake_wait_args){
		.size = sizeof(*c.args), .wq = SIGWAKE_NO_WQ,
		.timeout_ns = 2000 * MS,
	};
	ASSERT_EQ(0, mprotect(c.args, pg, PROT_READ));
	ASSERT_EQ(0, pthread_create(&th, NULL, ro_fn, &c));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&c.waiting) &&
			    sw_state(c.blk) == SIGWAKE_WAITING, SW_LONG_MS));
	ASSERT_EQ(0, pthread_kill(th, SIGUSR2));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&c.done), SW_LONG_MS));
	pthread_join(th, NULL);
	ASSERT_EQ(0, c.reg_err);
	EXPECT_EQ(-EINTR, c.err) {
		TH_LOG("WAIT returned %s after %lld ms", strerror(-c.err),
		       (long long)(c.took / MS));
	}
	munmap(c.args, pg);
}

/* SA_RESTART and then an event: the restarted wait returns the event. */
TEST_F(thread, sa_restart_then_post)
{
	struct sw_thread t;
	__u32 outcome = 0;

	ASSERT_EQ(0, sw_sigaction(SIGUSR2, usr2_handler, SA_RESTART));
	sw_thread_init(&t, self->fd, &self->blk[1]);
	t.do_wait = true;
	ASSERT_EQ(0, sw_thread_start(&t));
	ASSERT_TRUE(sw_thread_is_waiting(&t, SW_LONG_MS));
	ASSERT_EQ(0, pthread_kill(t.th, SIGUSR2));
	ASSERT_TRUE(SW_POLL(usr2_count == 1 &&
			    sw_state(t.blk) == SIGWAKE_WAITING, SW_LONG_MS));
	ASSERT_EQ(0, sw_post(self->fd, t.handle, SW_SIG, NULL, &outcome));
	EXPECT_EQ(SIGWAKE_POST_WOKEN, outcome);
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	EXPECT_EQ(0, t.wait_err);
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, t.args.reason);
	sw_thread_finish(&t);
}

TEST_HARNESS_MAIN
