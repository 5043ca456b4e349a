// SPDX-License-Identifier: GPL-2.0
/*
 * SIGWAKE_IOC_POST and SIGWAKE_IOC_KICK: outcome per target state (waiting,
 * host, guest, in a host syscall, blocking the signal), the kick (flag,
 * kick_addr byte, kick_signo on that very thread), POST from inside a host
 * signal handler, and process-directed selection (SIGWAKE_TARGET_ANY).
 *
 * Fixture:
 *   thread  a domain with the test thread registered (handle 1), with
 *           kick_signo SIGUSR1 and a kick byte, so that any kick the kernel
 *           sends it is seen.
 */
#include <poll.h>
#include <sys/resource.h>
#include <sys/time.h>

#include "sigwake_test.h"

#define MS	SW_NSEC_PER_MSEC
#define KICK_SIG	SIGUSR1

/* every SIGUSR1 delivery, process-wide, and where it landed */
static volatile sig_atomic_t kick_count;
static volatile pid_t kick_tid;
static volatile int kick_code;
static volatile pid_t kick_pid;

static void kick_handler(int sig, siginfo_t *si, void *uc)
{
	kick_tid = sw_gettid();
	kick_code = si->si_code;
	kick_pid = si->si_pid;
	kick_count++;
}

FIXTURE(thread) {
	int fd;
	struct sigwake_thread_block *blk;	/* [0] is ours, [1..7] spare */
	unsigned char *kick;			/* [0] is ours, [1..7] spare */
	__u32 handle;
};

FIXTURE_SETUP(thread)
{
	self->fd = -1;
	self->blk = sw_alloc_blocks(8);
	ASSERT_NE(NULL, self->blk);
	self->kick = sw_alloc_page();
	ASSERT_NE(NULL, self->kick);
	ASSERT_EQ(0, sw_sigaction(KICK_SIG, kick_handler, 0));
	SW_OPEN_DOMAIN(self->fd);
	ASSERT_EQ(0, sw_register(self->fd, self->blk, &self->kick[0], KICK_SIG,
				 &self->handle));
	ASSERT_EQ(1, self->handle);
}

FIXTURE_TEARDOWN(thread)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* A waiting helper thread with its own kick byte and kick_signo. */
static void waiter_init(struct sw_thread *t, FIXTURE_DATA(thread) *self,
			unsigned int i)
{
	sw_thread_init(t, self->fd, &self->blk[i]);
	t->kick_addr = &self->kick[i];
	t->kick_signo = KICK_SIG;
	t->do_wait = true;
}

/* ------------------------------------------------------------------ */
/* POST to a thread in each state                                      */

TEST_F(thread, post_to_waiting_thread_wakes_it)
{
	struct sw_thread t;
	__u32 h = 0, outcome = 0;

	waiter_init(&t, self, 1);
	ASSERT_EQ(0, sw_thread_start(&t));
	ASSERT_TRUE(sw_thread_is_waiting(&t, SW_LONG_MS));
	ASSERT_EQ(0, sw_post(self->fd, t.handle, SW_SIG, &h, &outcome));
	EXPECT_EQ(SIGWAKE_POST_WOKEN, outcome);
	EXPECT_EQ(t.handle, h);
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	EXPECT_EQ(0, t.wait_err);
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, t.args.reason);
	EXPECT_EQ(SIGWAKE_RUNNING_IN_HOST, t.state_after);
	EXPECT_EQ(t.seq_before + 1, t.seq_after);
	EXPECT_EQ(SW_BIT(SW_SIG), t.pending_after);
	/* a wakeup is not a kick: no host signal, no kick byte, no flag */
	EXPECT_EQ(0, kick_count);
	EXPECT_EQ(0, self->kick[1]);
	EXPECT_EQ(0, SW_LOAD(&t.blk->flags) & SIGWAKE_TF_KICKED);
	sw_thread_finish(&t);
}

TEST_F(thread, post_to_host_thread_recorded)
{
	__u32 outcome = 0, reason = 0;
	__u64 seq = SW_LOAD(&self->blk->wake_seq);

	ASSERT_EQ(0, sw_post(self->fd, self->handle, SW_SIG, NULL, &outcome));
	EXPECT_EQ(SIGWAKE_POST_RECORDED, outcome);
	EXPECT_EQ(SW_BIT(SW_SIG), SW_LOAD(&self->blk->pending));
	EXPECT_EQ(0, SW_LOAD(&self->blk->flags));
	EXPECT_EQ(0, self->kick[0]);
	EXPECT_EQ(0, kick_count);
	EXPECT_EQ(seq, SW_LOAD(&self->blk->wake_seq));
	/* its next WAIT returns the signal at once */
	EXPECT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, SW_WATCHDOG_NS, 0,
			     &reason));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, reason);
}

/* another thread in host: same outcome, and it is not disturbed */
TEST_F(thread, post_to_other_host_thread_recorded)
{
	struct sw_thread t;
	__u32 outcome = 0;

	sw_thread_init(&t, self->fd, &self->blk[1]);
	t.kick_addr = &self->kick[1];
	t.kick_signo = KICK_SIG;
	ASSERT_EQ(0, sw_thread_start(&t));
	ASSERT_EQ(0, sw_post(self->fd, t.handle, SW_SIG, NULL, &outcome));
	EXPECT_EQ(SIGWAKE_POST_RECORDED, outcome);
	EXPECT_EQ(SW_BIT(SW_SIG), SW_LOAD(&t.blk->pending));
	EXPECT_EQ(0, SW_LOAD(&self->blk->pending));
	sw_sleep_ms(50);
	EXPECT_EQ(0, kick_count);
	EXPECT_EQ(0, self->kick[1]);
	sw_thread_finish(&t);
}

/* state holds garbage: the kernel treats it as host */
TEST_F(thread, post_with_unknown_state_recorded)
{
	__u32 outcome = 0;

	sw_set_state(self->blk, 0xdead);
	ASSERT_EQ(0, sw_post(self->fd, self->handle, SW_SIG, NULL, &outcome));
	EXPECT_EQ(SIGWAKE_POST_RECORDED, outcome);
	EXPECT_EQ(SW_BIT(SW_SIG), SW_LOAD(&self->blk->pending));
	EXPECT_EQ(0, kick_count);
	sw_set_state(self->blk, SIGWAKE_RUNNING_IN_HOST);
}

TEST_F(thread, post_blocked_to_waiting_thread_no_wake)
{
	struct sw_thread t;
	__u32 outcome = 0;

	waiter_init(&t, self, 1);
	t.blocked = SW_BIT(SW_SIG);
	ASSERT_EQ(0, sw_thread_start(&t));
	ASSERT_TRUE(sw_thread_is_waiting(&t, SW_LONG_MS));
	ASSERT_EQ(0, sw_post(self->fd, t.handle, SW_SIG, NULL, &outcome));
	EXPECT_EQ(SIGWAKE_POST_RECORDED, outcome);
	EXPECT_EQ(SW_BIT(SW_SIG), SW_LOAD(&t.blk->pending));
	sw_sleep_ms(200);
	EXPECT_FALSE(SW_LOAD(&t.done));
	EXPECT_EQ(SIGWAKE_WAITING, sw_state(t.blk));
	/* an unblocked one does wake it, and both are pending */
	ASSERT_EQ(0, sw_post(self->fd, t.handle, SW_SIG + 1, NULL, &outcome));
	EXPECT_EQ(SIGWAKE_POST_WOKEN, outcome);
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, t.args.reason);
	EXPECT_EQ(SW_BIT(SW_SIG) | SW_BIT(SW_SIG + 1), t.pending_after);
	sw_thread_finish(&t);
}

/* ------------------------------------------------------------------ */
/* a thread "in guest code": spins until the kick reaches it          */

enum spin_until { UNTIL_SIGNAL, UNTIL_BYTE, UNTIL_RELEASE };

struct guest {
	struct sw_thread t;
	enum spin_until until;
	__u32 guest_state;	/* RUNNING_IN_GUEST or IN_SYSCALL */
	int entered;		/* atomic: 1 in guest, -1 refused to enter */
	int left;		/* atomic: left guest */
	bool watchdog;		/* spun 20 s without the kick */
};

static void *guest_fn(void *arg)
{
	struct guest *g = arg;
	struct sw_thread *t = &g->t;
	volatile unsigned char *byte = t->kick_addr;
	int64_t end;

	t->tid = sw_gettid();
	SW_STORE(&t->blk->blocked, t->blocked);
	t->reg_err = sw_register(t->fd, t->blk, t->kick_addr, t->kick_signo,
				 &t->handle);
	SW_STORE(&t->registered, 1);
	if (t->reg_err)
		return NULL;
	if (!sw_enter_guest(t->blk)) {
		SW_STORE(&g->entered, -1);
		goto out;
	}
	if (g->guest_state != SIGWAKE_RUNNING_IN_GUEST)
		sw_set_state(t->blk, g->guest_state);
	SW_STORE(&g->entered, 1);
	end = sw_now_ns() + SW_LONG_MS * MS;
	for (;;) {
		if (g->until == UNTIL_SIGNAL && kick_count)
			break;
		if (g->until == UNTIL_BYTE && *byte)
			break;
		if (SW_LOAD(&t->release))
			break;
		if (sw_now_ns() > end) {
			g->watchdog = true;
			break;
		}
		sw_cpu_relax();
	}
	sw_set_state(t->blk, SIGWAKE_RUNNING_IN_HOST);
	SW_STORE(&g->left, 1);
out:
	SW_STORE(&t->done, 1);
	while (!SW_LOAD(&t->release))
		usleep(1000);
	return NULL;
}

static int guest_start(struct guest *g, FIXTURE_DATA(thread) *self,
		       unsigned int i, enum spin_until until)
{
	memset(g, 0, sizeof(*g));
	sw_thread_init(&g->t, self->fd, &self->blk[i]);
	g->t.kick_addr = &self->kick[i];
	g->t.kick_signo = until == UNTIL_BYTE ? 0 : KICK_SIG;
	g->until = until;
	g->guest_state = SIGWAKE_RUNNING_IN_GUEST;
	if (pthread_create(&g->t.th, NULL, guest_fn, g))
		return -EAGAIN;
	if (!SW_POLL(SW_LOAD(&g->t.registered), SW_LONG_MS))
		return -ETIMEDOUT;
	if (g->t.reg_err)
		return g->t.reg_err;
	if (!SW_POLL(SW_LOAD(&g->entered) != 0, SW_LONG_MS))
		return -ETIMEDOUT;
	return SW_LOAD(&g->entered) == 1 ? 0 : -EBUSY;
}

TEST_F(thread, kick_to_guest_thread)
{
	struct guest g;
	__u32 outcome = 0;

	ASSERT_EQ(0, guest_start(&g, self, 1, UNTIL_SIGNAL));
	ASSERT_EQ(SIGWAKE_RUNNING_IN_GUEST, sw_state(g.t.blk));
	ASSERT_EQ(0, sw_kick(self->fd, g.t.handle, &outcome));
	EXPECT_EQ(SIGWAKE_POST_KICKED, outcome);
	ASSERT_TRUE(SW_POLL(SW_LOAD(&g.left), SW_LONG_MS + 5000));
	EXPECT_FALSE(g.watchdog) {
		TH_LOG("the guest thread never got kick_signo");
	}
	EXPECT_EQ(1, kick_count);
	EXPECT_EQ(g.t.tid, kick_tid) {
		TH_LOG("kick_signo landed on tid %d, not the target %d",
		       (int)kick_tid, (int)g.t.tid);
	}
	EXPECT_EQ(SI_TKILL, kick_code);
	EXPECT_EQ(getpid(), kick_pid);
	EXPECT_EQ(1, self->kick[1]);
	EXPECT_EQ(SIGWAKE_TF_KICKED | SIGWAKE_TF_KICK_REQUESTED,
		  SW_LOAD(&g.t.blk->flags));
	EXPECT_EQ(0, SW_LOAD(&g.t.blk->pending));
	/* nobody else was touched */
	EXPECT_EQ(0, self->kick[0]);
	EXPECT_EQ(0, SW_LOAD(&self->blk->flags));
	sw_thread_finish(&g.t);
}

TEST_F(thread, post_to_guest_thread_kicks_it)
{
	struct guest g;
	__u32 outcome = 0, h = 0;

	ASSERT_EQ(0, guest_start(&g, self, 1, UNTIL_SIGNAL));
	ASSERT_EQ(0, sw_post(self->fd, g.t.handle, SW_SIG, &h, &outcome));
	EXPECT_EQ(SIGWAKE_POST_KICKED, outcome);
	EXPECT_EQ(g.t.handle, h);
	ASSERT_TRUE(SW_POLL(SW_LOAD(&g.left), SW_LONG_MS + 5000));
	EXPECT_FALSE(g.watchdog);
	EXPECT_EQ(1, kick_count);
	EXPECT_EQ(g.t.tid, kick_tid);
	EXPECT_EQ(SI_TKILL, kick_code);
	EXPECT_EQ(1, self->kick[1]);
	EXPECT_EQ(SIGWAKE_TF_KICKED, SW_LOAD(&g.t.blk->flags));
	EXPECT_EQ(SW_BIT(SW_SIG), SW_LOAD(&g.t.blk->pending));
	sw_thread_finish(&g.t);
}

/* kick_signo 0: the byte and the flag are the whole kick */
TEST_F(thread, kick_without_signo_sets_byte)
{
	struct guest g;
	__u32 outcome = 0;

	ASSERT_EQ(0, guest_start(&g, self, 1, UNTIL_BYTE));
	ASSERT_EQ(0, sw_kick(self->fd, g.t.handle, &outcome));
	EXPECT_EQ(SIGWAKE_POST_KICKED, outcome);
	ASSERT_TRUE(SW_POLL(SW_LOAD(&g.left), SW_LONG_MS + 5000));
	EXPECT_FALSE(g.watchdog);
	EXPECT_EQ(1, self->kick[1]);
	EXPECT_EQ(SIGWAKE_TF_KICKED | SIGWAKE_TF_KICK_REQUESTED, SW_LOAD(&g.t.blk->flags));
	EXPECT_EQ(0, kick_count);
	sw_thread_finish(&g.t);
}

/*
 * A real-time kick_signo sent with the poster's siginfo cannot be queued
 * past RLIMIT_SIGPENDING; the kick must arrive all the same (without its
 * siginfo, as a standard signal would).
 */
TEST(kick_realtime_signal_past_sigpending_limit)
{
	struct rlimit old, none;
	struct sigwake_thread_block *blk = sw_alloc_blocks(1);
	struct timespec zero = { 0 };
	int fd, sig = SIGRTMIN + 3;
	__u32 handle, outcome = 0;
	sigset_t set;

	ASSERT_NE(NULL, blk);
	SW_OPEN_DOMAIN(fd);
	sigemptyset(&set);
	sigaddset(&set, sig);
	ASSERT_EQ(0, pthread_sigmask(SIG_BLOCK, &set, NULL));
	ASSERT_EQ(0, sw_register(fd, blk, NULL, sig, &handle));
	ASSERT_EQ(0, getrlimit(RLIMIT_SIGPENDING, &old));
	none = old;
	none.rlim_cur = 0;
	ASSERT_EQ(0, setrlimit(RLIMIT_SIGPENDING, &none));

	sw_set_state(blk, SIGWAKE_RUNNING_IN_GUEST);
	EXPECT_EQ(0, sw_kick(fd, handle, &outcome));
	sw_set_state(blk, SIGWAKE_RUNNING_IN_HOST);
	ASSERT_EQ(0, setrlimit(RLIMIT_SIGPENDING, &old));
	EXPECT_EQ(SIGWAKE_POST_KICKED, outcome);
	EXPECT_EQ(sig, sigtimedwait(&set, NULL, &zero));
	close(fd);
}

TEST_F(thread, post_blocked_to_guest_thread_no_kick)
{
	struct guest g;
	__u32 outcome = 0;

	memset(&g, 0, sizeof(g));
	sw_thread_init(&g.t, self->fd, &self->blk[1]);
	g.t.kick_addr = &self->kick[1];
	g.t.kick_signo = KICK_SIG;
	g.t.blocked = SW_BIT(SW_SIG);
	g.until = UNTIL_RELEASE;
	g.guest_state = SIGWAKE_RUNNING_IN_GUEST;
	ASSERT_EQ(0, pthread_create(&g.t.th, NULL, guest_fn, &g));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&g.entered) == 1, SW_LONG_MS));
	ASSERT_EQ(0, sw_post(self->fd, g.t.handle, SW_SIG, NULL, &outcome));
	EXPECT_EQ(SIGWAKE_POST_RECORDED, outcome);
	sw_sleep_ms(200);
	EXPECT_EQ(0, kick_count);
	EXPECT_EQ(0, self->kick[1]);
	EXPECT_EQ(0, SW_LOAD(&g.t.blk->flags));
	EXPECT_EQ(SW_BIT(SW_SIG), SW_LOAD(&g.t.blk->pending));
	EXPECT_FALSE(SW_LOAD(&g.left));
	sw_thread_finish(&g.t);
}

/* ------------------------------------------------------------------ */
/* IN_SYSCALL: the kick signal interrupts the host syscall             */

struct sysc {
	struct sw_thread t;
	int pipefd[2];
	int poll_ret, poll_errno;
	int64_t t0, t1;
};

static void *syscall_fn(void *arg)
{
	struct sysc *s = arg;
	struct sw_thread *t = &s->t;
	struct pollfd pfd = { .fd = s->pipefd[0], .events = POLLIN };
	struct timespec ts = { .tv_sec = 30 };

	t->tid = sw_gettid();
	t->reg_err = sw_register(t->fd, t->blk, t->kick_addr, t->kick_signo,
				 &t->handle);
	SW_STORE(&t->registered, 1);
	if (t->reg_err)
		return NULL;
	sw_set_state(t->blk, SIGWAKE_IN_SYSCALL);
	SW_STORE(&t->waiting, 1);
	s->t0 = sw_now_ns();
	s->poll_ret = ppoll(&pfd, 1, &ts, NULL);
	s->poll_errno = errno;
	s->t1 = sw_now_ns();
	sw_set_state(t->blk, SIGWAKE_RUNNING_IN_HOST);
	SW_STORE(&t->done, 1);
	return NULL;
}

/* 'S' once the thread sleeps in the kernel */
static char task_state(pid_t tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return '?';
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

TEST_F(thread, post_to_in_syscall_thread_interrupts_it)
{
	struct sysc s;
	__u32 outcome = 0;

	memset(&s, 0, sizeof(s));
	ASSERT_EQ(0, pipe(s.pipefd));
	sw_thread_init(&s.t, self->fd, &self->blk[1]);
	s.t.kick_addr = &self->kick[1];
	s.t.kick_signo = KICK_SIG;
	ASSERT_EQ(0, pthread_create(&s.t.th, NULL, syscall_fn, &s));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&s.t.waiting), SW_LONG_MS));
	ASSERT_EQ(0, s.t.reg_err);
	ASSERT_TRUE(SW_POLL(task_state(s.t.tid) == 'S', SW_LONG_MS)) {
		TH_LOG("the thread never slept in ppoll (state %c)",
		       task_state(s.t.tid));
	}
	ASSERT_EQ(SIGWAKE_IN_SYSCALL, sw_state(s.t.blk));
	ASSERT_EQ(0, sw_post(self->fd, s.t.handle, SW_SIG, NULL, &outcome));
	EXPECT_EQ(SIGWAKE_POST_KICKED, outcome);
	ASSERT_TRUE(sw_thread_done(&s.t, SW_LONG_MS));
	pthread_join(s.t.th, NULL);
	EXPECT_EQ(-1, s.poll_ret);
	EXPECT_EQ(EINTR, s.poll_errno);
	EXPECT_GT(20000 * MS, s.t1 - s.t0);
	EXPECT_EQ(1, kick_count);
	EXPECT_EQ(s.t.tid, kick_tid);
	EXPECT_EQ(1, self->kick[1]);
	EXPECT_EQ(SIGWAKE_TF_KICKED, SW_LOAD(&s.t.blk->flags));
	EXPECT_EQ(SW_BIT(SW_SIG), SW_LOAD(&s.t.blk->pending));
}

/* ------------------------------------------------------------------ */
/* KICK to a thread in host and to a waiting thread                    */

TEST_F(thread, kick_to_host_thread_recorded)
{
	__u32 outcome = 0, reason = 0;
	int64_t t0;

	ASSERT_EQ(0, sw_kick(self->fd, self->handle, &outcome));
	EXPECT_EQ(SIGWAKE_POST_RECORDED, outcome);
	EXPECT_EQ(SIGWAKE_TF_KICKED | SIGWAKE_TF_KICK_REQUESTED, SW_LOAD(&self->blk->flags));
	EXPECT_EQ(0, SW_LOAD(&self->blk->pending));
	EXPECT_EQ(0, kick_count);
	/* the kick is not lost: the next WAIT returns it at once */
	t0 = sw_now_ns();
	EXPECT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, SW_WATCHDOG_NS, 0,
			     &reason));
	EXPECT_EQ(SIGWAKE_REASON_KICK, reason);
	EXPECT_GT(2000 * MS, sw_now_ns() - t0);
}

TEST_F(thread, kick_to_waiting_thread_wakes_it)
{
	struct sw_thread t;
	__u32 outcome = 0;

	waiter_init(&t, self, 1);
	ASSERT_EQ(0, sw_thread_start(&t));
	ASSERT_TRUE(sw_thread_is_waiting(&t, SW_LONG_MS));
	ASSERT_EQ(0, sw_kick(self->fd, t.handle, &outcome));
	EXPECT_EQ(SIGWAKE_POST_WOKEN, outcome);
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	EXPECT_EQ(0, t.wait_err);
	EXPECT_EQ(SIGWAKE_REASON_KICK, t.args.reason);
	EXPECT_EQ(t.seq_before + 1, t.seq_after);
	EXPECT_EQ(SIGWAKE_RUNNING_IN_HOST, t.state_after);
	EXPECT_EQ(0, t.pending_after);
	EXPECT_EQ(0, kick_count);
	sw_thread_finish(&t);
}

/* KICK to a thread on a word queue ends that wait too */
TEST_F(thread, kick_to_queue_waiter_wakes_it)
{
	__u32 *word = sw_alloc_page();
	struct sw_thread t;
	__u32 wq, outcome = 0, woken = 9;

	ASSERT_NE(NULL, word);
	ASSERT_EQ(0, sw_wq_create(self->fd, word, &wq));
	waiter_init(&t, self, 1);
	t.wq = wq;
	ASSERT_EQ(0, sw_thread_start(&t));
	ASSERT_TRUE(sw_thread_is_waiting(&t, SW_LONG_MS));
	ASSERT_EQ(0, sw_kick(self->fd, t.handle, &outcome));
	EXPECT_EQ(SIGWAKE_POST_WOKEN, outcome);
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	EXPECT_EQ(SIGWAKE_REASON_KICK, t.args.reason);
	EXPECT_EQ(0, sw_wake(self->fd, wq, 1, &woken));
	EXPECT_EQ(0, woken);
	sw_thread_finish(&t);
}

/* ------------------------------------------------------------------ */
/* POST from a host signal handler                                     */

static int g_fd;
static __u32 g_target;
static volatile int alarm_ret = 1;
static volatile __u32 alarm_outcome;
static volatile sig_atomic_t alarm_count;
static volatile pid_t alarm_tid;

static void alarm_handler(int sig, siginfo_t *si, void *uc)
{
	__u32 outcome = 0;
	int saved = errno;

	alarm_tid = sw_gettid();
	alarm_ret = sw_post(g_fd, g_target, SW_SIG, NULL, &outcome);
	alarm_outcome = outcome;
	alarm_count++;
	errno = saved;
}

static int arm_alarm_ms(int ms)
{
	struct itimerval it = {
		.it_value = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 },
	};

	return setitimer(ITIMER_REAL, &it, NULL);
}

/* SIGALRM lands on the main thread, whose handler posts to a sleeper. */
TEST_F(thread, post_from_signal_handler_wakes_waiter)
{
	struct sw_thread t;
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGALRM);
	waiter_init(&t, self, 1);
	t.sigmask = &mask;	/* the waiter never takes SIGALRM */
	ASSERT_EQ(0, sw_sigaction(SIGALRM, alarm_handler, SA_RESTART));
	ASSERT_EQ(0, sw_thread_start(&t));
	ASSERT_TRUE(sw_thread_is_waiting(&t, SW_LONG_MS));
	g_fd = self->fd;
	g_target = t.handle;
	ASSERT_EQ(0, arm_alarm_ms(50));
	ASSERT_TRUE(SW_POLL(alarm_count > 0, SW_LONG_MS));
	EXPECT_EQ(getpid(), alarm_tid);
	EXPECT_EQ(0, alarm_ret);
	EXPECT_EQ(SIGWAKE_POST_WOKEN, alarm_outcome);
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	EXPECT_EQ(0, t.wait_err);
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, t.args.reason);
	EXPECT_EQ(SW_BIT(SW_SIG), t.pending_after);
	sw_thread_finish(&t);
}

/*
 * The handler runs on the waiting thread itself and posts to it: the wait
 * (SA_RESTART) restarts, sees the signal and returns it.
 */
TEST_F(thread, post_from_own_signal_handler)
{
	__u32 reason = 0;
	int64_t t0;
	int ret;

	ASSERT_EQ(0, sw_sigaction(SIGALRM, alarm_handler, SA_RESTART));
	g_fd = self->fd;
	g_target = self->handle;
	ASSERT_EQ(0, arm_alarm_ms(200));
	t0 = sw_now_ns();
	ret = sw_wait(self->fd, SIGWAKE_NO_WQ, 0, SW_WATCHDOG_NS, 0, &reason);
	EXPECT_EQ(0, ret);
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, reason);
	EXPECT_EQ(1, alarm_count);
	EXPECT_EQ(0, alarm_ret);
	EXPECT_TRUE(alarm_outcome == SIGWAKE_POST_RECORDED ||
		    alarm_outcome == SIGWAKE_POST_WOKEN) {
		TH_LOG("outcome %u", alarm_outcome);
	}
	EXPECT_GT(SW_WATCHDOG_NS / 2, sw_now_ns() - t0);
	EXPECT_EQ(SW_BIT(SW_SIG), SW_LOAD(&self->blk->pending));
}

/* ------------------------------------------------------------------ */
/* SIGWAKE_TARGET_ANY: process-directed selection                      */

/* an idle helper in host (does not wait) */
static int start_host(struct sw_thread *t, FIXTURE_DATA(thread) *self,
		      unsigned int i, __u64 blocked)
{
	sw_thread_init(t, self->fd, &self->blk[i]);
	t->blocked = blocked;
	return sw_thread_start(t);
}

static int start_waiting(struct sw_thread *t, FIXTURE_DATA(thread) *self,
			 unsigned int i, __u64 blocked)
{
	int err;

	sw_thread_init(t, self->fd, &self->blk[i]);
	t->do_wait = true;
	t->timeout_ns = 4 * SW_WATCHDOG_NS;
	t->blocked = blocked;
	err = sw_thread_start(t);
	if (!err && !sw_thread_is_waiting(t, SW_LONG_MS))
		err = -ETIMEDOUT;
	return err;
}

TEST_F(thread, any_prefers_waiting_thread)
{
	struct sw_thread t;
	__u32 h = 0, outcome = 0;

	/* us: handle 1, in host; the helper: handle 2, waiting */
	ASSERT_EQ(0, start_waiting(&t, self, 1, 0));
	ASSERT_EQ(0, sw_post(self->fd, SIGWAKE_TARGET_ANY, SW_SIG, &h, &outcome));
	EXPECT_EQ(t.handle, h);
	EXPECT_EQ(SIGWAKE_POST_WOKEN, outcome);
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, t.args.reason);
	EXPECT_EQ(SW_BIT(SW_SIG), t.pending_after);
	EXPECT_EQ(0, SW_LOAD(&self->blk->pending));
	sw_thread_finish(&t);
}

TEST_F(thread, any_prefers_host_over_guest)
{
	struct sw_thread t;
	__u32 h = 0, outcome = 0;

	/* us: handle 1, "in guest"; the helper: handle 2, in host */
	ASSERT_EQ(0, start_host(&t, self, 1, 0));
	sw_set_state(self->blk, SIGWAKE_RUNNING_IN_GUEST);
	ASSERT_EQ(0, sw_post(self->fd, SIGWAKE_TARGET_ANY, SW_SIG, &h, &outcome));
	sw_set_state(self->blk, SIGWAKE_RUNNING_IN_HOST);
	EXPECT_EQ(t.handle, h);
	EXPECT_EQ(SIGWAKE_POST_RECORDED, outcome);
	EXPECT_EQ(SW_BIT(SW_SIG), SW_LOAD(&t.blk->pending));
	EXPECT_EQ(0, SW_LOAD(&self->blk->pending));
	EXPECT_EQ(0, SW_LOAD(&self->blk->flags));
	EXPECT_EQ(0, self->kick[0]);
	sw_thread_finish(&t);
}

TEST_F(thread, any_guest_thread_is_kicked_last)
{
	struct guest g;
	__u32 h = 0, outcome = 0;

	/* us: blocking it; the helper: in guest, the only candidate */
	SW_STORE(&self->blk->blocked, SW_BIT(SW_SIG));
	ASSERT_EQ(0, guest_start(&g, self, 1, UNTIL_SIGNAL));
	ASSERT_EQ(0, sw_post(self->fd, SIGWAKE_TARGET_ANY, SW_SIG, &h, &outcome));
	EXPECT_EQ(g.t.handle, h);
	EXPECT_EQ(SIGWAKE_POST_KICKED, outcome);
	ASSERT_TRUE(SW_POLL(SW_LOAD(&g.left), SW_LONG_MS + 5000));
	EXPECT_EQ(g.t.tid, kick_tid);
	EXPECT_EQ(SW_BIT(SW_SIG), SW_LOAD(&g.t.blk->pending));
	EXPECT_EQ(0, SW_LOAD(&self->blk->pending));
	sw_thread_finish(&g.t);
}

TEST_F(thread, any_lowest_handle_within_class)
{
	struct sw_thread t[2];
	__u32 h = 0, outcome = 0;

	SW_STORE(&self->blk->blocked, SW_BIT(SW_SIG));
	ASSERT_EQ(0, start_waiting(&t[0], self, 1, 0));
	ASSERT_EQ(0, start_waiting(&t[1], self, 2, 0));
	ASSERT_LT(t[0].handle, t[1].handle);
	ASSERT_EQ(0, sw_post(self->fd, SIGWAKE_TARGET_ANY, SW_SIG, &h, &outcome));
	EXPECT_EQ(t[0].handle, h);
	EXPECT_EQ(SIGWAKE_POST_WOKEN, outcome);
	ASSERT_TRUE(sw_thread_done(&t[0], SW_LONG_MS));
	sw_sleep_ms(100);
	EXPECT_FALSE(SW_LOAD(&t[1].done));
	EXPECT_EQ(0, SW_LOAD(&t[1].blk->pending));
	/* now t[0] is in host and t[1] waits: the waiting one wins */
	ASSERT_EQ(0, sw_post(self->fd, SIGWAKE_TARGET_ANY, SW_SIG + 1, &h, &outcome));
	EXPECT_EQ(t[1].handle, h);
	EXPECT_EQ(SIGWAKE_POST_WOKEN, outcome);
	ASSERT_TRUE(sw_thread_done(&t[1], SW_LONG_MS));
	sw_thread_finish(&t[0]);
	sw_thread_finish(&t[1]);
}

TEST_F(thread, any_skips_threads_that_block_it)
{
	struct sw_thread w, hst;
	__u32 h = 0, outcome = 0;

	/* us: host, blocking; w: waiting, blocking; hst: host, not blocking */
	SW_STORE(&self->blk->blocked, SW_BIT(SW_SIG));
	ASSERT_EQ(0, start_waiting(&w, self, 1, SW_BIT(SW_SIG)));
	ASSERT_EQ(0, start_host(&hst, self, 2, 0));
	ASSERT_EQ(0, sw_post(self->fd, SIGWAKE_TARGET_ANY, SW_SIG, &h, &outcome));
	EXPECT_EQ(hst.handle, h);
	EXPECT_EQ(SIGWAKE_POST_RECORDED, outcome);
	EXPECT_EQ(SW_BIT(SW_SIG), SW_LOAD(&hst.blk->pending));
	EXPECT_EQ(0, SW_LOAD(&w.blk->pending));
	EXPECT_EQ(0, SW_LOAD(&self->blk->pending));
	EXPECT_FALSE(SW_LOAD(&w.done));
	ASSERT_EQ(0, sw_kick(self->fd, w.handle, NULL));
	sw_thread_finish(&w);
	sw_thread_finish(&hst);
}

TEST_F(thread, any_all_blocking_queued)
{
	struct sw_thread t;
	__u32 h = 77, outcome = 0, reason = 0;

	SW_STORE(&self->blk->blocked, SW_BIT(SW_SIG));
	ASSERT_EQ(0, start_host(&t, self, 1, SW_BIT(SW_SIG)));
	ASSERT_EQ(0, sw_post(self->fd, SIGWAKE_TARGET_ANY, SW_SIG, &h, &outcome));
	EXPECT_EQ(SIGWAKE_POST_QUEUED, outcome);
	EXPECT_EQ(0, h);
	/* pending for the domain, not for any thread */
	EXPECT_EQ(0, SW_LOAD(&self->blk->pending));
	EXPECT_EQ(0, SW_LOAD(&t.blk->pending));
	/* we unblock it and WAIT: it comes to us at once */
	SW_STORE(&self->blk->blocked, 0);
	EXPECT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, SW_WATCHDOG_NS, 0,
			     &reason));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, reason);
	EXPECT_EQ(SW_BIT(SW_SIG), SW_LOAD(&self->blk->pending));
	EXPECT_EQ(0, SW_LOAD(&t.blk->pending));
	sw_thread_finish(&t);
}

/* delivered once; a poll (timeout 0) is enough to pick it up */
TEST_F(thread, any_queued_delivered_once_by_poll)
{
	__u32 outcome = 0, reason = 0;

	SW_STORE(&self->blk->blocked, SW_BIT(SW_SIG));
	ASSERT_EQ(0, sw_post(self->fd, SIGWAKE_TARGET_ANY, SW_SIG, NULL, &outcome));
	ASSERT_EQ(SIGWAKE_POST_QUEUED, outcome);
	/* coalesces with the one already queued */
	ASSERT_EQ(0, sw_post(self->fd, SIGWAKE_TARGET_ANY, SW_SIG, NULL, &outcome));
	EXPECT_EQ(SIGWAKE_POST_QUEUED, outcome);
	/* still blocked: a poll does not take it */
	EXPECT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, 0, 0, &reason));
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, reason);
	EXPECT_EQ(0, SW_LOAD(&self->blk->pending));
	SW_STORE(&self->blk->blocked, 0);
	EXPECT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, 0, 0, &reason));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, reason);
	EXPECT_EQ(SW_BIT(SW_SIG), sw_take_pending(self->blk));
	EXPECT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, 0, 0, &reason));
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, reason);
}

/* a thread that still blocks it does not take the queued signal */
TEST_F(thread, any_queued_skips_blocking_waiter)
{
	struct sw_thread t;
	__u32 outcome = 0, reason = 0;

	SW_STORE(&self->blk->blocked, SW_BIT(SW_SIG));
	ASSERT_EQ(0, sw_post(self->fd, SIGWAKE_TARGET_ANY, SW_SIG, NULL, &outcome));
	ASSERT_EQ(SIGWAKE_POST_QUEUED, outcome);
	/* a new thread blocking it waits briefly: nothing for it */
	sw_thread_init(&t, self->fd, &self->blk[1]);
	t.do_wait = true;
	t.timeout_ns = 50 * MS;
	t.blocked = SW_BIT(SW_SIG);
	ASSERT_EQ(0, sw_thread_start(&t));
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	EXPECT_EQ(0, t.wait_err);
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, t.args.reason);
	EXPECT_EQ(0, t.pending_after);
	/* it is still queued for us */
	SW_STORE(&self->blk->blocked, 0);
	EXPECT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, 0, 0, &reason));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, reason);
	EXPECT_EQ(SW_BIT(SW_SIG), SW_LOAD(&self->blk->pending));
	sw_thread_finish(&t);
}

/*
 * The queue is looked at before the word (check 1 before check 4): a WAIT
 * whose word changed still takes the queued signal and returns SIGNAL,
 * not EAGAIN, on the lockless early-EAGAIN path as on the locked one.
 */
TEST_F(thread, any_queued_taken_before_word_check)
{
	__u32 *word = sw_alloc_page();
	__u32 wq, outcome = 0, reason = 0;

	ASSERT_NE(NULL, word);
	ASSERT_EQ(0, sw_wq_create(self->fd, word, &wq));
	SW_STORE(&self->blk->blocked, SW_BIT(SW_SIG));
	ASSERT_EQ(0, sw_post(self->fd, SIGWAKE_TARGET_ANY, SW_SIG, NULL, &outcome));
	ASSERT_EQ(SIGWAKE_POST_QUEUED, outcome);
	SW_STORE(word, 1);
	/* still blocked: the queue has nothing for us, the word decides */
	EXPECT_EQ(-EAGAIN, sw_wait(self->fd, wq, 0, SW_WATCHDOG_NS, 0, &reason));
	EXPECT_EQ(0, SW_LOAD(&self->blk->pending));
	SW_STORE(&self->blk->blocked, 0);
	EXPECT_EQ(0, sw_wait(self->fd, wq, 0, SW_WATCHDOG_NS, 0, &reason));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, reason);
	EXPECT_EQ(SW_BIT(SW_SIG), SW_LOAD(&self->blk->pending));
	EXPECT_EQ(0, sw_wq_destroy(self->fd, wq));
}

TEST_HARNESS_MAIN
