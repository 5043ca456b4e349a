// SPDX-License-Identifier: GPL-2.0
/*
 * SIGWAKE_IOC_FORWARD: a host signal sent to the owning process becomes a
 * guest POST inside the kernel (kill(2) from another process, tgkill(2) to
 * one of its threads, a blocked host signal); the route's target (a thread,
 * SIGWAKE_TARGET_ANY), replacing and removing routes, the kernel's own kick
 * signals (never forwarded), the errno paths, and what happens on close.
 * Also the process-directed case where every thread blocks the guest
 * signal (SIGWAKE_POST_QUEUED): the thread that later unblocks it and
 * enters WAIT receives it, whether the signal came from a forward or from a
 * POST.  Forwarding goes on after the main thread called pthread_exit(),
 * and a timer's signal that interrupts a kick being sent on the same CPU is
 * forwarded (a statistical race, told apart from a slow forward by a
 * barrier signal).
 *
 * The host signals used (SIGINT, SIGUSR2) are set to SIG_IGN, as the header
 * tells a runtime to do: then a forwarded signal has no other effect.  The
 * timer race also routes SIGALRM (handled: the test waits for it) and
 * SIGVTALRM (ignored).
 *
 * Fixture:
 *   fwd   a domain with the test thread registered (blocks [0]), blocks
 *         [1..7] for helper threads, SIGINT and SIGUSR2 ignored.
 */
#include <poll.h>

#include "sigwake_test.h"

#define MS		SW_NSEC_PER_MSEC
#define GUEST_INT	2	/* guest SIGINT */
#define GUEST_RT	40	/* a guest real-time signal */
#define KICK_SIG	SIGUSR1
/* How long "nothing happens" is watched for. */
#define QUIET_MS	300

static volatile sig_atomic_t kick_count;
static volatile pid_t kick_tid;
static volatile int kick_code;

static void kick_handler(int sig, siginfo_t *si, void *uc)
{
	kick_tid = sw_gettid();
	kick_code = si->si_code;
	kick_count++;
}

FIXTURE(fwd) {
	int fd;
	struct sigwake_thread_block *blk;
	unsigned char *kick;
	__u32 handle;
};

FIXTURE_SETUP(fwd)
{
	self->fd = -1;
	self->blk = sw_alloc_blocks(8);
	ASSERT_NE(NULL, self->blk);
	self->kick = sw_alloc_page();
	ASSERT_NE(NULL, self->kick);
	ASSERT_NE(SIG_ERR, signal(SIGINT, SIG_IGN));
	ASSERT_NE(SIG_ERR, signal(SIGUSR2, SIG_IGN));
	ASSERT_EQ(0, sw_sigaction(KICK_SIG, kick_handler, 0));
	SW_OPEN_DOMAIN(self->fd);
	ASSERT_EQ(0, sw_register(self->fd, self->blk, NULL, 0, &self->handle));
}

FIXTURE_TEARDOWN(fwd)
{
	if (self->fd >= 0)
		close(self->fd);
}

static int sw_forward(int fd, __u32 flags, __u32 host, __u32 guest,
		      __u32 target)
{
	struct sigwake_forward_args a = {
		.size = sizeof(a),
		.flags = flags,
		.host_signo = host,
		.guest_signo = guest,
		.target = target,
	};

	return sw_ioctl(fd, SIGWAKE_IOC_FORWARD, &a);
}

/* Another process (a terminal, kill(1)) sends @sig to us.  0 or -1. */
static int kill_from_child(int sig)
{
	pid_t parent = getpid(), pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(kill(parent, sig) ? 1 : 0);
	/* @sig may have a handler here (without SA_RESTART) */
	while (waitpid(pid, &status, 0) != pid)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* A helper thread sleeping in WAIT (no queue) with guest mask @blocked. */
static void waiter_start(FIXTURE_DATA(fwd) *self, struct sw_thread *t,
			 unsigned int i, __u64 blocked,
			 struct __test_metadata *_metadata)
{
	sw_thread_init(t, self->fd, &self->blk[i]);
	t->do_wait = true;
	t->blocked = blocked;
	ASSERT_EQ(0, sw_thread_start(t));
	ASSERT_TRUE(sw_thread_is_waiting(t, SW_LONG_MS));
}

/* ------------------------------------------------------------------ */
/* the forward itself                                                   */

TEST_F(fwd, kill_from_other_process_wakes_waiter)
{
	struct sw_thread t;

	waiter_start(self, &t, 1, 0, _metadata);
	ASSERT_EQ(0, sw_forward(self->fd, 0, SIGINT, GUEST_INT, t.handle));
	ASSERT_EQ(0, kill_from_child(SIGINT));
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS)) {
		TH_LOG("kill(SIGINT) from another process did not wake the "
		       "target thread");
	}
	EXPECT_EQ(0, t.wait_err);
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, t.args.reason);
	EXPECT_EQ(SW_BIT(GUEST_INT), t.pending_after);
	EXPECT_EQ(SIGWAKE_RUNNING_IN_HOST, t.state_after);
	EXPECT_LT(t.seq_before, t.seq_after);
	/* nobody else got it */
	EXPECT_EQ(0, SW_LOAD(&self->blk[0].pending));
	sw_thread_finish(&t);
}

TEST_F(fwd, guest_signo_is_the_routes)
{
	struct sw_thread t;

	waiter_start(self, &t, 1, 0, _metadata);
	ASSERT_EQ(0, sw_forward(self->fd, 0, SIGUSR2, GUEST_RT, t.handle));
	ASSERT_EQ(0, kill_from_child(SIGUSR2));
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, t.args.reason);
	EXPECT_EQ(SW_BIT(GUEST_RT), t.pending_after);
	sw_thread_finish(&t);
}

TEST_F(fwd, tgkill_to_any_thread_forwarded)
{
	struct sw_thread t;

	waiter_start(self, &t, 1, 0, _metadata);
	ASSERT_EQ(0, sw_forward(self->fd, 0, SIGINT, GUEST_INT, t.handle));
	/* to the test thread, not the target: the route still applies */
	ASSERT_EQ(0, syscall(SYS_tgkill, getpid(), sw_gettid(), SIGINT));
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, t.args.reason);
	EXPECT_EQ(SW_BIT(GUEST_INT), t.pending_after);
	sw_thread_finish(&t);
}

TEST_F(fwd, blocked_host_signal_still_forwarded)
{
	struct sw_thread t;
	sigset_t set, old;

	/* blocked by every thread: the waiter inherits the mask */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	ASSERT_EQ(0, pthread_sigmask(SIG_BLOCK, &set, &old));
	waiter_start(self, &t, 1, 0, _metadata);
	ASSERT_EQ(0, sw_forward(self->fd, 0, SIGUSR2, GUEST_RT, t.handle));
	ASSERT_EQ(0, kill_from_child(SIGUSR2));
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS)) {
		TH_LOG("a host signal every thread blocks was not forwarded");
	}
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, t.args.reason);
	EXPECT_EQ(SW_BIT(GUEST_RT), t.pending_after);
	sw_thread_finish(&t);
	/* SIG_IGN: unblocking discards the host signal */
	ASSERT_EQ(0, pthread_sigmask(SIG_SETMASK, &old, NULL));
}

TEST_F(fwd, to_guest_thread_kicks_it)
{
	struct sw_thread t;
	int64_t end;

	/* a helper "in guest code": registered, state RUNNING_IN_GUEST */
	sw_thread_init(&t, self->fd, &self->blk[1]);
	t.kick_addr = &self->kick[1];
	t.kick_signo = KICK_SIG;
	t.set_state = true;
	t.state = SIGWAKE_RUNNING_IN_GUEST;
	ASSERT_EQ(0, sw_thread_start(&t));
	ASSERT_EQ(0, sw_forward(self->fd, 0, SIGINT, GUEST_INT, t.handle));
	ASSERT_EQ(0, kill_from_child(SIGINT));
	end = sw_now_ns() + SW_LONG_MS * MS;
	while (!kick_count && sw_now_ns() < end)
		usleep(1000);
	ASSERT_EQ(1, kick_count) {
		TH_LOG("the forwarded post did not kick the guest thread");
	}
	EXPECT_EQ(t.tid, kick_tid);
	/* sent by a kernel worker, not on behalf of a process */
	EXPECT_EQ(SI_KERNEL, kick_code);
	EXPECT_EQ(1, self->kick[1]);
	EXPECT_EQ(SIGWAKE_TF_KICKED,
		  SW_LOAD(&self->blk[1].flags) & SIGWAKE_TF_KICKED);
	EXPECT_EQ(SW_BIT(GUEST_INT), SW_LOAD(&self->blk[1].pending));
	sw_thread_finish(&t);
}

TEST_F(fwd, target_any_picks_unblocking_thread)
{
	struct sw_thread a, b;

	waiter_start(self, &a, 1, SW_BIT(GUEST_INT), _metadata);
	waiter_start(self, &b, 2, 0, _metadata);
	/* the test thread (handle 1, in host) blocks it too */
	SW_STORE(&self->blk[0].blocked, SW_BIT(GUEST_INT));
	ASSERT_EQ(0, sw_forward(self->fd, 0, SIGINT, GUEST_INT,
				SIGWAKE_TARGET_ANY));
	ASSERT_EQ(0, kill_from_child(SIGINT));
	ASSERT_TRUE(sw_thread_done(&b, SW_LONG_MS));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, b.args.reason);
	EXPECT_EQ(SW_BIT(GUEST_INT), b.pending_after);
	sw_sleep_ms(QUIET_MS);
	EXPECT_FALSE(SW_LOAD(&a.done));
	EXPECT_EQ(0, SW_LOAD(&self->blk[1].pending));
	EXPECT_EQ(0, SW_LOAD(&self->blk[0].pending));
	SW_STORE(&a.release, 1);
	ASSERT_EQ(0, sw_kick(self->fd, a.handle, NULL));
	sw_thread_finish(&a);
	sw_thread_finish(&b);
}

TEST_F(fwd, later_forward_replaces_route)
{
	struct sw_thread a, b;

	waiter_start(self, &a, 1, 0, _metadata);
	waiter_start(self, &b, 2, 0, _metadata);
	ASSERT_EQ(0, sw_forward(self->fd, 0, SIGINT, GUEST_INT, a.handle));
	ASSERT_EQ(0, sw_forward(self->fd, 0, SIGINT, GUEST_RT, b.handle));
	ASSERT_EQ(0, kill_from_child(SIGINT));
	ASSERT_TRUE(sw_thread_done(&b, SW_LONG_MS));
	EXPECT_EQ(SW_BIT(GUEST_RT), b.pending_after);
	sw_sleep_ms(QUIET_MS);
	EXPECT_FALSE(SW_LOAD(&a.done)) {
		TH_LOG("the replaced route still delivered");
	}
	EXPECT_EQ(0, SW_LOAD(&self->blk[1].pending));
	ASSERT_EQ(0, sw_kick(self->fd, a.handle, NULL));
	sw_thread_finish(&a);
	sw_thread_finish(&b);
}

TEST_F(fwd, remove_stops_forwarding)
{
	struct sw_thread t;

	waiter_start(self, &t, 1, 0, _metadata);
	ASSERT_EQ(0, sw_forward(self->fd, 0, SIGINT, GUEST_INT, t.handle));
	ASSERT_EQ(0, sw_forward(self->fd, SIGWAKE_FORWARD_REMOVE, SIGINT,
				0, 0));
	ASSERT_EQ(0, kill_from_child(SIGINT));
	sw_sleep_ms(QUIET_MS);
	EXPECT_FALSE(SW_LOAD(&t.done));
	EXPECT_EQ(0, SW_LOAD(&self->blk[1].pending));
	/* gone: a second REMOVE has nothing to remove */
	EXPECT_EQ(-ENOENT, sw_forward(self->fd, SIGWAKE_FORWARD_REMOVE,
				      SIGINT, 0, 0));
	ASSERT_EQ(0, sw_kick(self->fd, t.handle, NULL));
	sw_thread_finish(&t);
}

TEST_F(fwd, remove_ignores_guest_signo_and_target)
{
	ASSERT_EQ(0, sw_forward(self->fd, 0, SIGINT, GUEST_INT, self->handle));
	EXPECT_EQ(0, sw_forward(self->fd, SIGWAKE_FORWARD_REMOVE, SIGINT,
				9999, 9999));
}

TEST_F(fwd, remove_of_none_enoent)
{
	EXPECT_EQ(-ENOENT, sw_forward(self->fd, SIGWAKE_FORWARD_REMOVE,
				      SIGINT, 0, 0));
	/* a route for another host signal does not count */
	ASSERT_EQ(0, sw_forward(self->fd, 0, SIGUSR2, GUEST_INT, self->handle));
	EXPECT_EQ(-ENOENT, sw_forward(self->fd, SIGWAKE_FORWARD_REMOVE,
				      SIGINT, 0, 0));
}

/* ------------------------------------------------------------------ */
/* errno paths                                                          */

TEST_F(fwd, sigkill_sigstop_einval)
{
	EXPECT_EQ(-EINVAL, sw_forward(self->fd, 0, SIGKILL, GUEST_INT,
				      self->handle));
	EXPECT_EQ(-EINVAL, sw_forward(self->fd, 0, SIGSTOP, GUEST_INT,
				      self->handle));
	EXPECT_EQ(-EINVAL, sw_forward(self->fd, SIGWAKE_FORWARD_REMOVE,
				      SIGKILL, 0, 0));
}

TEST_F(fwd, signo_range_einval)
{
	EXPECT_EQ(-EINVAL, sw_forward(self->fd, 0, 0, GUEST_INT, self->handle));
	EXPECT_EQ(-EINVAL, sw_forward(self->fd, 0, SIGWAKE_NSIG + 1, GUEST_INT,
				      self->handle));
	EXPECT_EQ(-EINVAL, sw_forward(self->fd, 0, SIGINT, 0, self->handle));
	EXPECT_EQ(-EINVAL, sw_forward(self->fd, 0, SIGINT, SIGWAKE_NSIG + 1,
				      self->handle));
	/* the edges are valid */
	EXPECT_EQ(0, sw_forward(self->fd, 0, SIGINT, 1, self->handle));
	EXPECT_EQ(0, sw_forward(self->fd, 0, SIGINT, SIGWAKE_NSIG,
				self->handle));
}

TEST_F(fwd, flags_and_pad_einval)
{
	struct sigwake_forward_args a = {
		.size = sizeof(a),
		.host_signo = SIGINT,
		.guest_signo = GUEST_INT,
		.target = self->handle,
		.pad = 1,
	};

	EXPECT_EQ(-EINVAL, sw_ioctl(self->fd, SIGWAKE_IOC_FORWARD, &a));
	a.pad = 0;
	a.flags = SIGWAKE_FORWARD_REMOVE << 1;
	EXPECT_EQ(-EINVAL, sw_ioctl(self->fd, SIGWAKE_IOC_FORWARD, &a));
	a.flags = 0;
	EXPECT_EQ(0, sw_ioctl(self->fd, SIGWAKE_IOC_FORWARD, &a));
}

TEST_F(fwd, unknown_target_enoent)
{
	EXPECT_EQ(-ENOENT, sw_forward(self->fd, 0, SIGINT, GUEST_INT, 999));
	EXPECT_EQ(-ENOENT, sw_forward(self->fd, 0, SIGINT, GUEST_INT,
				      self->handle + 1));
	/* nothing was installed */
	EXPECT_EQ(-ENOENT, sw_forward(self->fd, SIGWAKE_FORWARD_REMOVE,
				      SIGINT, 0, 0));
}

/*
 * A host signal that is also a kick signal can be forwarded, but the
 * kernel's own kick signals never are: kicking a thread in guest code does
 * not post to the route's target; a kill(2) of that signal does.
 */
TEST_F(fwd, kernel_kick_signals_not_forwarded)
{
	struct sw_thread g, w;
	__u32 outcome = 0;

	sw_thread_init(&g, self->fd, &self->blk[1]);
	g.kick_addr = &self->kick[1];
	g.kick_signo = KICK_SIG;
	g.set_state = true;
	g.state = SIGWAKE_RUNNING_IN_GUEST;
	ASSERT_EQ(0, sw_thread_start(&g));
	waiter_start(self, &w, 2, 0, _metadata);
	ASSERT_EQ(0, sw_forward(self->fd, 0, KICK_SIG, GUEST_RT, w.handle));

	ASSERT_EQ(0, sw_kick(self->fd, g.handle, &outcome));
	EXPECT_EQ(SIGWAKE_POST_KICKED, outcome);
	ASSERT_TRUE(SW_POLL(kick_count == 1, SW_LONG_MS));
	EXPECT_EQ(g.tid, kick_tid);
	sw_sleep_ms(QUIET_MS);
	EXPECT_FALSE(SW_LOAD(&w.done)) {
		TH_LOG("the kernel's kick signal was forwarded");
	}
	EXPECT_EQ(0, SW_LOAD(&self->blk[2].pending));

	/* the same signal from another process is forwarded */
	ASSERT_EQ(0, kill_from_child(KICK_SIG));
	ASSERT_TRUE(sw_thread_done(&w, SW_LONG_MS));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, w.args.reason);
	EXPECT_EQ(SW_BIT(GUEST_RT), w.pending_after);
	sw_thread_finish(&w);
	sw_thread_finish(&g);
}

TEST_F(fwd, other_process_eperm)
{
	pid_t pid = fork();
	int status;

	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(sw_forward(self->fd, 0, SIGINT, GUEST_INT,
				 self->handle) == -EPERM ? 0 : 1);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ------------------------------------------------------------------ */
/* close                                                                */

/*
 * Forwards end when the domain is closed: host signals sent right after
 * (and while) the domain goes away reach nothing and break nothing (KASAN
 * watches the debug kernel), and a new domain forwards afresh.
 */
TEST_F(fwd, forward_ends_on_close)
{
	struct sigwake_thread_block *blk2 = sw_alloc_blocks(2);
	struct sw_thread t;
	int i, fd2;

	ASSERT_NE(NULL, blk2);
	ASSERT_EQ(0, sw_forward(self->fd, 0, SIGINT, GUEST_INT, self->handle));
	/* a signal in flight while the domain closes */
	ASSERT_EQ(0, syscall(SYS_tgkill, getpid(), sw_gettid(), SIGINT));
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	for (i = 0; i < 100; i++)
		ASSERT_EQ(0, kill(getpid(), SIGINT));
	ASSERT_EQ(0, kill_from_child(SIGINT));
	sw_sleep_ms(100);
	/* nothing of the old domain's block changed after the close */
	EXPECT_EQ(0, SW_LOAD(&self->blk[0].flags));

	/* many open/forward/kill/close rounds */
	for (i = 0; i < 50; i++) {
		fd2 = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fd2);
		ASSERT_EQ(0, sw_forward(fd2, 0, SIGINT, GUEST_INT,
					SIGWAKE_TARGET_ANY));
		kill(getpid(), SIGINT);
		close(fd2);
	}

	/* a new domain with a fresh route works */
	fd2 = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd2);
	sw_thread_init(&t, fd2, &blk2[0]);
	t.do_wait = true;
	ASSERT_EQ(0, sw_thread_start(&t));
	ASSERT_TRUE(sw_thread_is_waiting(&t, SW_LONG_MS));
	ASSERT_EQ(0, sw_forward(fd2, 0, SIGINT, GUEST_INT, t.handle));
	ASSERT_EQ(0, kill_from_child(SIGINT));
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, t.args.reason);
	EXPECT_EQ(SW_BIT(GUEST_INT), t.pending_after);
	sw_thread_finish(&t);
	close(fd2);
}

/* Closing the domain with a sleeper and a route: the sleeper gets EBADF. */
TEST_F(fwd, close_with_route_and_sleeper)
{
	struct sw_thread t;

	waiter_start(self, &t, 1, 0, _metadata);
	ASSERT_EQ(0, sw_forward(self->fd, 0, SIGINT, GUEST_INT, t.handle));
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	EXPECT_EQ(-EBADF, t.wait_err);
	ASSERT_EQ(0, kill_from_child(SIGINT));
	sw_sleep_ms(100);
	EXPECT_EQ(0, SW_LOAD(&self->blk[1].pending));
	sw_thread_finish(&t);
}

/* A burst: deliveries coalesce but the last kill is never lost. */
TEST_F(fwd, burst_coalesces_last_delivered)
{
	struct sw_thread t;
	int i;

	waiter_start(self, &t, 1, 0, _metadata);
	ASSERT_EQ(0, sw_forward(self->fd, 0, SIGINT, GUEST_INT, t.handle));
	for (i = 0; i < 1000; i++)
		ASSERT_EQ(0, kill(getpid(), SIGINT));
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, t.args.reason);
	EXPECT_EQ(SW_BIT(GUEST_INT), t.pending_after);
	sw_thread_finish(&t);
}

/* ------------------------------------------------------------------ */
/* process-directed, every thread blocking it                           */

/*
 * Every thread blocks the guest signal: a forwarded host signal is queued
 * for the domain (nobody's pending bit, nobody woken); the thread that
 * unblocks it and enters WAIT gets it, once.
 */
TEST_F(fwd, all_blocked_forward_queued_until_unblocked)
{
	struct sw_thread a;
	__u32 reason = 0;

	waiter_start(self, &a, 1, SW_BIT(GUEST_INT), _metadata);
	SW_STORE(&self->blk[0].blocked, SW_BIT(GUEST_INT));
	ASSERT_EQ(0, sw_forward(self->fd, 0, SIGINT, GUEST_INT,
				SIGWAKE_TARGET_ANY));
	ASSERT_EQ(0, kill_from_child(SIGINT));
	sw_sleep_ms(QUIET_MS);
	EXPECT_FALSE(SW_LOAD(&a.done));
	EXPECT_EQ(0, SW_LOAD(&self->blk[1].pending));
	EXPECT_EQ(0, SW_LOAD(&self->blk[0].pending));
	/* still queued: a poll with it blocked gets nothing */
	ASSERT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, 0, 0, &reason));
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, reason);
	/* the test thread unblocks and polls */
	SW_STORE(&self->blk[0].blocked, 0);
	ASSERT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, 0, 0, &reason));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, reason);
	EXPECT_EQ(SW_BIT(GUEST_INT), sw_take_pending(&self->blk[0]));
	/* delivered once */
	ASSERT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, 0, 0, &reason));
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, reason);
	EXPECT_FALSE(SW_LOAD(&a.done));
	EXPECT_EQ(0, SW_LOAD(&self->blk[1].pending));
	ASSERT_EQ(0, sw_kick(self->fd, a.handle, NULL));
	sw_thread_finish(&a);
}

/*
 * A helper thread that sleeps in WAIT with the guest signal blocked; when
 * kicked it unblocks the signal (the runtime changing the guest's mask) and
 * waits again: that WAIT claims the signal queued for the domain.
 */
struct unblocker {
	struct sw_thread t;
	__u32 reasons[4];
	int nreasons;
	__u64 taken;
};

static void *unblocker_fn(void *arg)
{
	struct unblocker *u = arg;
	struct sw_thread *t = &u->t;

	t->tid = sw_gettid();
	SW_STORE(&t->blk->blocked, t->blocked);
	t->reg_err = sw_register(t->fd, t->blk, NULL, 0, &t->handle);
	SW_STORE(&t->registered, 1);
	if (t->reg_err)
		goto out;
	while (u->nreasons < 4) {
		__u32 reason = 0;

		SW_STORE(&t->waiting, 1);
		t->wait_err = sw_wait(t->fd, SIGWAKE_NO_WQ, 0, SW_WATCHDOG_NS,
				      0, &reason);
		if (t->wait_err)
			break;
		u->reasons[u->nreasons++] = reason;
		if (reason == SIGWAKE_REASON_KICK) {
			sw_clear_flags(t->blk, SIGWAKE_TF_KICKED);
			SW_STORE(&t->blk->blocked, 0);
			continue;
		}
		u->taken = sw_take_pending(t->blk);
		break;
	}
out:
	SW_STORE(&t->done, 1);
	while (!SW_LOAD(&t->release))
		usleep(1000);
	return NULL;
}

/* The same with POST(ANY): QUEUED, handle 0; the unblocker's WAIT gets it. */
TEST_F(fwd, all_blocked_post_queued_unblocker_takes_it)
{
	struct unblocker u;
	__u32 outcome = 0, h = 99, reason = 0;

	memset(&u, 0, sizeof(u));
	sw_thread_init(&u.t, self->fd, &self->blk[1]);
	u.t.blocked = SW_BIT(GUEST_INT);
	SW_STORE(&self->blk[0].blocked, SW_BIT(GUEST_INT));
	ASSERT_EQ(0, pthread_create(&u.t.th, NULL, unblocker_fn, &u));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&u.t.registered), SW_LONG_MS));
	ASSERT_EQ(0, u.t.reg_err);
	ASSERT_TRUE(sw_thread_is_waiting(&u.t, SW_LONG_MS));

	ASSERT_EQ(0, sw_post(self->fd, SIGWAKE_TARGET_ANY, GUEST_INT, &h,
			     &outcome));
	EXPECT_EQ(SIGWAKE_POST_QUEUED, outcome);
	EXPECT_EQ(0, h);
	EXPECT_EQ(0, SW_LOAD(&self->blk[0].pending));
	EXPECT_EQ(0, SW_LOAD(&self->blk[1].pending));
	/* a second one coalesces with the queued one */
	ASSERT_EQ(0, sw_post(self->fd, SIGWAKE_TARGET_ANY, GUEST_INT, &h,
			     &outcome));
	EXPECT_EQ(SIGWAKE_POST_QUEUED, outcome);
	sw_sleep_ms(100);
	EXPECT_FALSE(SW_LOAD(&u.t.done));

	/* the helper unblocks it and waits again: it receives it */
	ASSERT_EQ(0, sw_kick(self->fd, u.t.handle, NULL));
	ASSERT_TRUE(sw_thread_done(&u.t, SW_LONG_MS));
	EXPECT_EQ(0, u.t.wait_err);
	ASSERT_EQ(2, u.nreasons);
	EXPECT_EQ(SIGWAKE_REASON_KICK, u.reasons[0]);
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, u.reasons[1]);
	EXPECT_EQ(SW_BIT(GUEST_INT), u.taken);
	/* once: the test thread, unblocking now, finds nothing queued */
	SW_STORE(&self->blk[0].blocked, 0);
	ASSERT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, 0, 0, &reason));
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, reason);
	EXPECT_EQ(0, SW_LOAD(&self->blk[0].pending));
	sw_thread_finish(&u.t);
}

/* ------------------------------------------------------------------ */
/* the thread group leader has exited                                   */

/* What the worker of zombie_leader_child() reports through the pipe. */
struct zombie_report {
	int stage;		/* 0: WAIT ran, else the step that failed */
	int wait_err;
	__u32 reason;
	__u64 pending;
};

struct zombie_worker {
	int fd;
	int pipe;
	pid_t leader;
	struct sigwake_thread_block *blk;
};

/* Is thread @tid of this process a zombie (it called pthread_exit())? */
static bool thread_is_zombie(pid_t tid)
{
	char path[64], buf[256], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'Z';
}

static void *zombie_worker_fn(void *arg)
{
	struct zombie_worker *w = arg;
	struct zombie_report r = { .stage = 1 };
	char ready = 'r';
	__u32 handle;

	if (sw_register(w->fd, w->blk, NULL, 0, &handle))
		goto out;
	r.stage = 2;
	if (!SW_POLL(thread_is_zombie(w->leader), SW_LONG_MS))
		goto out;
	r.stage = 3;
	if (write(w->pipe, &ready, 1) != 1)
		goto out;
	r.stage = 0;
	r.wait_err = sw_wait(w->fd, SIGWAKE_NO_WQ, 0, SW_WATCHDOG_NS, 0,
			     &r.reason);
	r.pending = SW_LOAD(&w->blk->pending);
out:
	if (write(w->pipe, &r, sizeof(r)) != sizeof(r))
		_exit(2);
	_exit(0);
	return NULL;
}

/*
 * The child process: route SIGINT to TARGET_ANY, start the worker, and end
 * the main thread with pthread_exit(), leaving a zombie group leader.
 */
static void zombie_leader_child(int wpipe)
{
	static struct zombie_worker w;
	pthread_t th;

	w.pipe = wpipe;
	w.leader = getpid();
	w.blk = sw_alloc_blocks(1);
	if (!w.blk || signal(SIGINT, SIG_IGN) == SIG_ERR)
		_exit(10);
	w.fd = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
	if (w.fd < 0)
		_exit(11);
	if (sw_forward(w.fd, 0, SIGINT, SIGUSR2, SIGWAKE_TARGET_ANY))
		_exit(12);
	if (pthread_create(&th, NULL, zombie_worker_fn, &w))
		_exit(13);
	pthread_exit(NULL);
}

/* Read exactly @len bytes from @fd within @ms: true if it did. */
static bool read_within(int fd, void *buf, size_t len, int ms)
{
	int64_t end = sw_now_ns() + (int64_t)ms * MS;
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = (end - sw_now_ns()) / MS;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return false;
		n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

/*
 * After the main thread called pthread_exit(), a kill(2) of the process is
 * still forwarded: the signal_generate tracepoint names the group leader,
 * a zombie without an mm, while a live thread of the group runs the
 * domain's program.
 */
TEST(forward_after_leader_pthread_exit)
{
	struct zombie_report r;
	int p[2], status;
	char ready;
	pid_t pid;

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(p[0]);
		zombie_leader_child(p[1]);
	}
	close(p[1]);
	if (!read_within(p[0], &ready, 1, SW_LONG_MS)) {
		memset(&r, 0, sizeof(r));
		read_within(p[0], &r, sizeof(r), 100);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		ASSERT_TRUE(false) {
			TH_LOG("child setup failed: stage %d, status 0x%x",
			       r.stage, status);
		}
	}
	/* process-directed, from another process */
	ASSERT_EQ(0, kill(pid, SIGINT));
	/* the WAIT's own watchdog bounds this */
	ASSERT_TRUE(read_within(p[0], &r, sizeof(r),
				SW_WATCHDOG_NS / MS + SW_LONG_MS)) {
		kill(pid, SIGKILL);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	close(p[0]);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ASSERT_EQ(0, r.stage);
	EXPECT_EQ(0, r.wait_err);
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, r.reason) {
		TH_LOG("kill(SIGINT) after the main thread's pthread_exit() "
		       "was not forwarded (reason %u)", r.reason);
	}
	EXPECT_EQ(SW_BIT(SIGUSR2), r.pending);
}

/* ------------------------------------------------------------------ */
/* a real signal raised while the kernel sends a kick                   */

#define TIMER_SIG	SIGALRM
#define BARRIER_SIG	SIGVTALRM	/* a higher number: posted after */
#define GUEST_TIMER	41
#define GUEST_BARRIER	42

static volatile sig_atomic_t timer_seen;

static void timer_handler(int sig, siginfo_t *si, void *uc)
{
	timer_seen++;
}

/*
 * A POSIX timer's signal raised by its interrupt on the CPU where this
 * thread is sending a kick signal (KICK of a thread in guest code, in a
 * loop) is forwarded: the kernel's "this is our own kick" mark must not
 * cover an interrupt nested in the kick.
 *
 * Per round: a one-shot timer aimed at this thread (SIGEV_THREAD_ID, so its
 * interrupt lands on this CPU) with a random expiry; KICK until the host
 * handler has seen the timer signal; then tgkill() a second routed signal,
 * the barrier.  Both go through the same pending set and the barrier's
 * number is higher, so once the barrier's guest bit is there, a forwarded
 * timer signal's bit is there too: a round without it lost the forward.
 */
TEST_F(fwd, timer_signal_during_kick_forwarded)
{
	unsigned long rounds = sw_race_iters(200), i, lost = 0, stuck = 0;
	unsigned long kicks = 0;
	struct sigevent sev;
	struct itimerspec its;
	struct sw_thread g;
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	timer_t timer;
	int cpu, ncpu;
	__u64 got;

	ASSERT_NE(SIG_ERR, signal(BARRIER_SIG, SIG_IGN));
	ASSERT_EQ(0, sw_sigaction(TIMER_SIG, timer_handler, SA_RESTART));
	cpu = sched_getcpu();
	ASSERT_LE(0, cpu);
	ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	ASSERT_EQ(0, sw_pin_tid(0, cpu));

	/* a helper "in guest code", kicked with KICK_SIG (counted) */
	sw_thread_init(&g, self->fd, &self->blk[1]);
	g.kick_addr = &self->kick[1];
	g.kick_signo = KICK_SIG;
	g.set_state = true;
	g.state = SIGWAKE_RUNNING_IN_GUEST;
	ASSERT_EQ(0, sw_thread_start(&g));
	if (ncpu > 1)
		sw_pin_tid(g.tid, (cpu + 1) % ncpu);

	ASSERT_EQ(0, sw_forward(self->fd, 0, TIMER_SIG, GUEST_TIMER,
				self->handle));
	ASSERT_EQ(0, sw_forward(self->fd, 0, BARRIER_SIG, GUEST_BARRIER,
				self->handle));

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = TIMER_SIG;
	sev._sigev_un._tid = sw_gettid();
	ASSERT_EQ(0, timer_create(CLOCK_MONOTONIC, &sev, &timer));

	for (i = 0; i < rounds; i++) {
		int64_t end;

		timer_seen = 0;
		sw_take_pending(&self->blk[0]);
		memset(&its, 0, sizeof(its));
		its.it_value.tv_nsec = 20000 + (long)(sw_xorshift(&rng) % 500000);
		ASSERT_EQ(0, timer_settime(timer, 0, &its, NULL));
		end = sw_now_ns() + SW_LONG_MS * MS;
		while (!timer_seen && sw_now_ns() < end) {
			ASSERT_EQ(0, sw_kick(self->fd, g.handle, NULL));
			kicks++;
		}
		ASSERT_TRUE(timer_seen) {
			TH_LOG("round %lu: the timer signal never arrived", i);
		}

		ASSERT_EQ(0, syscall(SYS_tgkill, getpid(), sw_gettid(),
				     BARRIER_SIG));
		if (!SW_POLL(SW_LOAD(&self->blk[0].pending) &
			     SW_BIT(GUEST_BARRIER), SW_LONG_MS)) {
			stuck++;
			break;
		}
		got = SW_LOAD(&self->blk[0].pending);
		if (!(got & SW_BIT(GUEST_TIMER)))
			lost++;
	}
	timer_delete(timer);
	sw_thread_finish(&g);

	TH_LOG("%lu rounds, %lu timer signals not forwarded, %lu KICKs", i,
	       lost, kicks);
	EXPECT_EQ(0, stuck) {
		TH_LOG("the barrier signal was not forwarded");
	}
	EXPECT_EQ(0, lost) {
		TH_LOG("timer signals raised during a kick were not forwarded");
	}
}

/*
 * A forwarded post to SIGWAKE_TARGET_ANY whose chosen thread is in guest
 * code kicks it with SI_KERNEL too: no process sent it.
 */
TEST_F(fwd, any_to_guest_thread_kicks_si_kernel)
{
	struct sw_thread t;

	sw_thread_init(&t, self->fd, &self->blk[1]);
	t.kick_addr = &self->kick[1];
	t.kick_signo = KICK_SIG;
	t.set_state = true;
	t.state = SIGWAKE_RUNNING_IN_GUEST;
	ASSERT_EQ(0, sw_thread_start(&t));
	/* the test thread (in host) blocks it: the guest thread is chosen */
	SW_STORE(&self->blk[0].blocked, SW_BIT(GUEST_INT));
	ASSERT_EQ(0, sw_forward(self->fd, 0, SIGINT, GUEST_INT,
				SIGWAKE_TARGET_ANY));
	ASSERT_EQ(0, kill_from_child(SIGINT));
	ASSERT_TRUE(SW_POLL(kick_count, SW_LONG_MS)) {
		TH_LOG("the forwarded post did not kick the guest thread");
	}
	EXPECT_EQ(1, kick_count);
	EXPECT_EQ(t.tid, kick_tid);
	EXPECT_EQ(SI_KERNEL, kick_code);
	EXPECT_EQ(SW_BIT(GUEST_INT), SW_LOAD(&self->blk[1].pending));
	EXPECT_EQ(0, SW_LOAD(&self->blk[0].pending));
	sw_thread_finish(&t);
}

TEST_HARNESS_MAIN
