// SPDX-License-Identifier: GPL-2.0
/*
 * Lifecycle: who may use a domain (fork, exec, SCM_RIGHTS -> EPERM), thread
 * exit without unregistering (ESRCH, handle freed by UNREGISTER, pages
 * released), thread exec (pages and RLIMIT_MEMLOCK charge released), queues destroyed and threads unregistered under a sleeper
 * (EIDRM), the domain closed under sleepers (EBADF), processes dying with
 * sleepers, RLIMIT_MEMLOCK accounting (ENOMEM), and module unload refused
 * while a domain is open.
 *
 * Fixtures:
 *   domain     an open domain, nothing registered
 *   thread     a domain with the test thread registered
 *   exit_race  a domain, and a table of (POST or KICK) x (one CPU or two)
 */
#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "sigwake_test.h"

#define MS	SW_NSEC_PER_MSEC

static char self_exe[4096];

FIXTURE(domain) {
	int fd;
	struct sigwake_thread_block *blk;	/* 8 blocks, one page */
};

FIXTURE_SETUP(domain)
{
	self->fd = -1;
	self->blk = sw_alloc_blocks(8);
	ASSERT_NE(NULL, self->blk);
	SW_OPEN_DOMAIN(self->fd);
}

FIXTURE_TEARDOWN(domain)
{
	if (self->fd >= 0)
		close(self->fd);
}

FIXTURE(thread) {
	int fd;
	struct sigwake_thread_block *blk;	/* [0] ours, [1..7] spare */
	__u32 handle;
	__u32 wq;
};

FIXTURE_SETUP(thread)
{
	self->fd = -1;
	self->blk = sw_alloc_blocks(8);
	ASSERT_NE(NULL, self->blk);
	SW_OPEN_DOMAIN(self->fd);
	ASSERT_EQ(0, sw_register(self->fd, self->blk, NULL, 0, &self->handle));
	ASSERT_EQ(0, sw_wq_create(self->fd, NULL, &self->wq));
}

FIXTURE_TEARDOWN(thread)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* Wait for a child up to ms; its status, or -1 (then it is killed). */
static int wait_child(pid_t pid, int ms)
{
	int status;

	if (!SW_POLL(waitpid(pid, &status, WNOHANG) == pid, ms)) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return -1;
	}
	return status;
}

/* 0 if the child exited 0; logs how it ended otherwise. */
#define EXPECT_CHILD_OK(pid, ms) do {					\
	int __st = wait_child((pid), (ms));				\
	EXPECT_TRUE(__st != -1 && WIFEXITED(__st) && WEXITSTATUS(__st) == 0) { \
		if (__st == -1)						\
			TH_LOG("child did not finish in %d ms", (ms));	\
		else if (WIFEXITED(__st))				\
			TH_LOG("child exited %d (failed checks, see above)", \
			       WEXITSTATUS(__st));			\
		else							\
			TH_LOG("child killed by signal %d", WTERMSIG(__st)); \
	}								\
} while (0)

/*
 * Every command on a domain this process does not own: EPERM.  Runs in a
 * child; returns the number of commands that answered otherwise (and says
 * which on stderr, as TAP comments).
 */
static int expect_eperm_everywhere(int fd, __u32 handle, __u32 wq,
				   const char *who)
{
	struct sigwake_thread_block *blk = sw_alloc_blocks(1);
	struct {
		const char *name;
		int err;
	} r[8];
	int bad = 0, i;

	r[0].name = "REGISTER";
	r[0].err = sw_register(fd, blk, NULL, 0, NULL);
	r[1].name = "UNREGISTER";
	r[1].err = sw_unregister(fd, handle);
	r[2].name = "WAIT";
	r[2].err = sw_wait(fd, SIGWAKE_NO_WQ, 0, 0, 0, NULL);
	r[3].name = "WAKE";
	r[3].err = sw_wake(fd, wq, 1, NULL);
	r[4].name = "POST";
	r[4].err = sw_post(fd, handle, SW_SIG, NULL, NULL);
	r[5].name = "KICK";
	r[5].err = sw_kick(fd, handle, NULL);
	r[6].name = "WQ_CREATE";
	r[6].err = sw_wq_create(fd, NULL, NULL);
	r[7].name = "WQ_DESTROY";
	r[7].err = sw_wq_destroy(fd, wq);
	for (i = 0; i < 8; i++) {
		if (r[i].err != -EPERM) {
			fprintf(stderr, "# %s: %s on a foreign domain returned %s, expected EPERM\n",
				who, r[i].name,
				r[i].err ? strerror(-r[i].err) : "success");
			bad++;
		}
	}
	return bad;
}

/* ------------------------------------------------------------------ */
/* fork, exec, SCM_RIGHTS                                              */

TEST_F(thread, fork_child_gets_eperm)
{
	__u32 outcome = 0;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(expect_eperm_everywhere(self->fd, self->handle, self->wq,
					      "fork child"));
	EXPECT_CHILD_OK(pid, SW_LONG_MS);
	/* the child changed nothing; the owner still has its domain */
	EXPECT_EQ(0, SW_LOAD(&self->blk->pending));
	EXPECT_EQ(0, SW_LOAD(&self->blk->flags));
	EXPECT_EQ(0, sw_post(self->fd, self->handle, SW_SIG, NULL, &outcome));
	EXPECT_EQ(SIGWAKE_POST_RECORDED, outcome);
	EXPECT_EQ(0, sw_wq_destroy(self->fd, self->wq));
}

/* A forked child closing its copy of the fd is not the owner closing it. */
TEST_F(thread, fork_child_close_leaves_sleepers_alone)
{
	struct sw_thread t;
	__u32 outcome = 0;
	pid_t pid;

	sw_thread_init(&t, self->fd, &self->blk[1]);
	t.do_wait = true;
	t.wq = self->wq;
	ASSERT_EQ(0, sw_thread_start(&t));
	ASSERT_TRUE(sw_thread_is_waiting(&t, SW_LONG_MS));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(close(self->fd) ? 1 : 0);
	EXPECT_CHILD_OK(pid, SW_LONG_MS);
	sw_sleep_ms(200);
	EXPECT_FALSE(SW_LOAD(&t.done)) {
		TH_LOG("the wait ended (%s) when a forked child closed its fd",
		       strerror(-t.wait_err));
	}
	ASSERT_EQ(0, sw_post(self->fd, t.handle, SW_SIG, NULL, &outcome));
	EXPECT_EQ(SIGWAKE_POST_WOKEN, outcome);
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	EXPECT_EQ(0, t.wait_err);
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, t.args.reason);
	sw_thread_finish(&t);
}

/* The new image (argv: --exec-child fd handle wq) runs this. */
static int exec_child_main(int argc, char **argv)
{
	struct sigwake_thread_block *blk = sw_alloc_blocks(1);
	int fd, bad, fresh;
	__u32 h = 0;

	if (argc < 5)
		return 100;
	fd = atoi(argv[2]);
	bad = expect_eperm_everywhere(fd, (__u32)strtoul(argv[3], NULL, 0),
				      (__u32)strtoul(argv[4], NULL, 0),
				      "after exec");
	/* a domain of its own works */
	fresh = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
	if (fresh < 0 || sw_register(fresh, blk, NULL, 0, &h) || h != 1) {
		fprintf(stderr, "# after exec: a fresh domain does not work\n");
		bad++;
	}
	return bad;
}

TEST(exec_gets_eperm)
{
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct sigwake_thread_block *blk = sw_alloc_blocks(1);
		char fds[16], hs[16], wqs[16];
		__u32 h = 0, wq = 0;
		int fd;

		/* no O_CLOEXEC: the fd survives the exec */
		fd = open(SIGWAKE_DEVICE, O_RDWR);
		if (fd < 0 || sw_register(fd, blk, NULL, 0, &h) ||
		    sw_wq_create(fd, NULL, &wq))
			_exit(101);
		snprintf(fds, sizeof(fds), "%d", fd);
		snprintf(hs, sizeof(hs), "%u", h);
		snprintf(wqs, sizeof(wqs), "%u", wq);
		execl(self_exe, self_exe, "--exec-child", fds, hs, wqs, (char *)NULL);
		_exit(102);
	}
	EXPECT_CHILD_OK(pid, SW_LONG_MS);
}

/* The receiver never held the domain before: it gets it over a socket. */
TEST(scm_rights_gets_eperm)
{
	struct sigwake_thread_block *blk = sw_alloc_blocks(1);
	__u32 h = 0, wq = 0, outcome = 0;
	int sv[2], fd;
	char hw[8];
	pid_t pid;

	ASSERT_NE(NULL, blk);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int rfd;

		close(sv[0]);
		rfd = sw_recv_fd(sv[1]);
		if (rfd < 0 || read(sv[1], hw, 8) != 8)
			_exit(101);
		memcpy(&h, hw, 4);
		memcpy(&wq, hw + 4, 4);
		_exit(expect_eperm_everywhere(rfd, h, wq, "SCM_RIGHTS receiver"));
	}
	close(sv[1]);
	SW_OPEN_DOMAIN(fd);
	ASSERT_EQ(0, sw_register(fd, blk, NULL, 0, &h));
	ASSERT_EQ(0, sw_wq_create(fd, NULL, &wq));
	ASSERT_EQ(0, sw_send_fd(sv[0], fd));
	memcpy(hw, &h, 4);
	memcpy(hw + 4, &wq, 4);
	ASSERT_EQ(8, write(sv[0], hw, 8));
	EXPECT_CHILD_OK(pid, SW_LONG_MS);
	EXPECT_EQ(0, SW_LOAD(&blk->pending));
	EXPECT_EQ(0, sw_post(fd, h, SW_SIG, NULL, &outcome));
	EXPECT_EQ(SIGWAKE_POST_RECORDED, outcome);
	close(fd);
}

/* ------------------------------------------------------------------ */
/* a thread that exits without unregistering                           */

static void *register_and_exit(void *arg)
{
	struct sw_thread *t = arg;

	t->tid = sw_gettid();
	t->reg_err = sw_register(t->fd, t->blk, NULL, 0, &t->handle);
	return NULL;
}

/* true once the task is gone from the thread group (fully exited) */
static bool task_gone(pid_t tid, int ms)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d", (int)tid);
	return SW_POLL(access(path, F_OK) != 0, ms);
}

/*
 * A thread that registers and exits.  pthread_join() returns as soon as
 * the kernel clears the thread's tid (in exit_mm), before the rest of its
 * exit; these tests wait until the task is fully gone, so that they test
 * what happens after an exit, not the exit path itself (see
 * post_right_after_join_esrch for that).
 */
static int exited_thread(int fd, struct sigwake_thread_block *blk, __u32 *h)
{
	struct sw_thread t;

	sw_thread_init(&t, fd, blk);
	if (pthread_create(&t.th, NULL, register_and_exit, &t))
		return -EAGAIN;
	pthread_join(t.th, NULL);
	*h = t.handle;
	if (!t.reg_err && !task_gone(t.tid, SW_LONG_MS))
		return -ETIMEDOUT;
	return t.reg_err;
}

TEST_F(thread, exited_thread_post_esrch)
{
	__u32 h;

	ASSERT_EQ(0, exited_thread(self->fd, &self->blk[1], &h));
	EXPECT_EQ(-ESRCH, sw_post(self->fd, h, SW_SIG, NULL, NULL));
	/* repeatedly, until unregistered */
	EXPECT_EQ(-ESRCH, sw_post(self->fd, h, SW_SIG, NULL, NULL));
}

TEST_F(thread, exited_thread_kick_esrch)
{
	__u32 h;

	ASSERT_EQ(0, exited_thread(self->fd, &self->blk[1], &h));
	EXPECT_EQ(-ESRCH, sw_kick(self->fd, h, NULL));
}

TEST_F(thread, exited_thread_unregister_frees_handle)
{
	__u32 h;

	ASSERT_EQ(0, exited_thread(self->fd, &self->blk[1], &h));
	EXPECT_EQ(0, sw_unregister(self->fd, h));
	EXPECT_EQ(-ENOENT, sw_post(self->fd, h, SW_SIG, NULL, NULL));
	EXPECT_EQ(-ENOENT, sw_unregister(self->fd, h));
}

TEST_F(thread, new_thread_registers_after_exit)
{
	struct sw_thread t;
	__u32 h, outcome = 0;

	ASSERT_EQ(0, exited_thread(self->fd, &self->blk[1], &h));
	/* a new thread, even with the same block */
	sw_thread_init(&t, self->fd, &self->blk[1]);
	ASSERT_EQ(0, sw_thread_start(&t));
	EXPECT_NE(h, t.handle);
	EXPECT_EQ(0, sw_post(self->fd, t.handle, SW_SIG, NULL, &outcome));
	EXPECT_EQ(SIGWAKE_POST_RECORDED, outcome);
	EXPECT_EQ(-ESRCH, sw_post(self->fd, h, SW_SIG, NULL, NULL));
	sw_thread_finish(&t);
}

/*
 * Once pthread_join() returned, the thread has exited as far as the
 * process can tell: a POST to it right away must already say ESRCH.
 */
TEST_F(thread, post_right_after_join_esrch)
{
	unsigned int i, n = 100, wrong = 0;
	int first_wrong = 1;

	for (i = 0; i < n; i++) {
		struct sw_thread t;
		int err;

		sw_thread_init(&t, self->fd, &self->blk[1 + (i & 3)]);
		ASSERT_EQ(0, pthread_create(&t.th, NULL, register_and_exit, &t));
		pthread_join(t.th, NULL);
		ASSERT_EQ(0, t.reg_err);
		err = sw_post(self->fd, t.handle, SW_SIG, NULL, NULL);
		if (err != -ESRCH) {
			if (!wrong++)
				first_wrong = err;
		}
		task_gone(t.tid, SW_LONG_MS);
		EXPECT_EQ(-ESRCH, sw_post(self->fd, t.handle, SW_SIG, NULL, NULL));
		EXPECT_EQ(0, sw_unregister(self->fd, t.handle));
	}
	EXPECT_EQ(0, wrong) {
		TH_LOG("%u of %u posts right after pthread_join() did not give ESRCH (first: %s)",
		       wrong, n, first_wrong ? strerror(-first_wrong) : "success");
	}
}

/*
 * A handle whose thread exits under a stream of POSTs, KICKs or
 * KICK_WAITs: every answer is success (not yet exited) or ESRCH (exited),
 * and once ESRCH, always ESRCH until it is unregistered.  The reaper swaps the
 * registration for its bare handle while the lookups run, and the last
 * reference goes with it: a lookup that loaded the registration just
 * before must not answer ENOENT for a handle that still exists.  Both
 * threads on one CPU (the lookup preempted mid-way) and on two.
 */
SW_DOMAIN_FIXTURE(exit_race, 8)

enum { RACE_POST, RACE_KICK, RACE_KICK_WAIT };

FIXTURE_VARIANT(exit_race) {
	int op;
	bool one_cpu;
};

#define EXIT_RACE(name, o, one)						\
	FIXTURE_VARIANT_ADD(exit_race, name) { .op = o, .one_cpu = one }

EXIT_RACE(post_one_cpu, RACE_POST, true);
EXIT_RACE(post_two_cpus, RACE_POST, false);
EXIT_RACE(kick_one_cpu, RACE_KICK, true);
EXIT_RACE(kick_two_cpus, RACE_KICK, false);
EXIT_RACE(kick_wait_one_cpu, RACE_KICK_WAIT, true);
EXIT_RACE(kick_wait_two_cpus, RACE_KICK_WAIT, false);

static int exit_race_op(int fd, int op, __u32 h)
{
	switch (op) {
	case RACE_POST:
		return sw_post(fd, h, SW_SIG, NULL, NULL);
	case RACE_KICK:
		return sw_kick(fd, h, NULL);
	default:
		return sw_kick_wait(fd, h, SIGWAKE_KICK_WAIT, SW_WATCHDOG_NS,
				    NULL);
	}
}

TEST_F(exit_race, answers_success_then_esrch)
{
	unsigned int i, rounds = 300, enoent = 0, back = 0, other = 0;
	int ncpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (!variant->one_cpu && ncpus < 2)
		SKIP(return, "one CPU online");
	ASSERT_EQ(0, sw_pin_tid(0, 0));
	for (i = 0; i < rounds; i++) {
		struct sw_thread t;
		bool esrch = false;
		int err, after = 0;
		char path[64];
		int64_t end;

		sw_thread_init(&t, self->fd, &self->blk[1 + (i & 3)]);
		ASSERT_EQ(0, sw_thread_start(&t));
		ASSERT_EQ(0, sw_pin_tid(t.tid, variant->one_cpu ? 0 : 1));
		SW_STORE(&t.release, 1);
		snprintf(path, sizeof(path), "/proc/self/task/%d", (int)t.tid);
		end = sw_now_ns() + SW_LONG_MS * SW_NSEC_PER_MSEC;
		/* Until well after the task is gone and the reaper ran. */
		while (after < 200 && sw_now_ns() < end) {
			err = exit_race_op(self->fd, variant->op, t.handle);
			if (err == -ESRCH)
				esrch = true;
			else if (err == -ENOENT)
				enoent++;
			else if (!err)
				back += esrch;
			else if (!other++)
				TH_LOG("round %u: %s", i, strerror(-err));
			if (after || (esrch && access(path, F_OK)))
				after++;
		}
		EXPECT_EQ(200, after);
		pthread_join(t.th, NULL);
		EXPECT_EQ(0, sw_unregister(self->fd, t.handle));
	}
	EXPECT_EQ(0, enoent) {
		TH_LOG("%u answers were ENOENT for a handle that exists", enoent);
	}
	EXPECT_EQ(0, back) {
		TH_LOG("%u answers were success after ESRCH", back);
	}
	EXPECT_EQ(0, other);
}

/* TARGET_ANY never picks a thread that has exited. */
TEST_F(domain, any_skips_exited_thread)
{
	struct sw_thread t;
	__u32 h_dead, h = 0, outcome = 0;

	ASSERT_EQ(0, exited_thread(self->fd, &self->blk[0], &h_dead));
	sw_thread_init(&t, self->fd, &self->blk[1]);
	ASSERT_EQ(0, sw_thread_start(&t));
	ASSERT_LT(h_dead, t.handle);
	ASSERT_EQ(0, sw_post(self->fd, SIGWAKE_TARGET_ANY, SW_SIG, &h, &outcome));
	EXPECT_EQ(t.handle, h);
	EXPECT_EQ(SIGWAKE_POST_RECORDED, outcome);
	EXPECT_EQ(SW_BIT(SW_SIG), SW_LOAD(&t.blk->pending));
	sw_thread_finish(&t);
}

/* ------------------------------------------------------------------ */
/* a registered thread that execs                                      */

/*
 * The new program of the exec tests (argv: --exec-hold fd ready hold): it
 * holds the domain fd (no O_CLOEXEC) and so the domain, says so on @ready,
 * and lives until @hold is closed.  Exit status 0, or 100 + what failed.
 */
static int exec_hold_main(int argc, char **argv)
{
	int fd, ready, hold;
	char c;

	if (argc < 5)
		return 100;
	fd = atoi(argv[2]);
	ready = atoi(argv[3]);
	hold = atoi(argv[4]);
	alarm(60);		/* the watchdog: the parent may die */
	if (fcntl(fd, F_GETFD) < 0)
		return 101;
	if (write(ready, "x", 1) != 1)
		return 102;
	while (read(hold, &c, 1) < 0 && errno == EINTR)
		;
	return 0;
}

struct exec_reg {
	int fd;
	struct sigwake_thread_block *blk;
	int ctl[2];		/* the thread (before exec) to the test */
	int go[2];		/* the test to the thread: exec now */
	int hold[2];		/* the new program lives while this is open */
};

/* In the child: register, report, wait for "go", exec.  Never returns. */
static void exec_reg_run(struct exec_reg *x)
{
	char fds[16], rs[16], hs[16], c;
	int err;

	err = sw_register(x->fd, x->blk, NULL, 0, NULL);
	c = err ? 'e' : 'r';
	if (write(x->ctl[1], &c, 1) != 1 || err)
		_exit(103);
	if (read(x->go[0], &c, 1) != 1)
		_exit(104);
	snprintf(fds, sizeof(fds), "%d", x->fd);
	snprintf(rs, sizeof(rs), "%d", x->ctl[1]);
	snprintf(hs, sizeof(hs), "%d", x->hold[0]);
	execl(self_exe, self_exe, "--exec-hold", fds, rs, hs, (char *)NULL);
	_exit(105);
}

static void *exec_reg_thread(void *arg)
{
	exec_reg_run(arg);
	return NULL;
}

/* Read one byte from @fd within @ms: the byte, or -1. */
static int read_byte(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&pfd, 1, ms) != 1 || read(fd, &c, 1) != 1)
		return -1;
	return c;
}

/*
 * A child opens a domain without O_CLOEXEC and registers a thread on a page
 * of its own; that thread (a non-leader, or the leader itself) execs a
 * program that keeps the fd, and so the domain, open.  The registration
 * belongs to a program that is gone: its page must be unpinned (and
 * uncharged) at once, not when the last copy of the fd is closed.
 */
static void exec_releases_pins(struct __test_metadata *_metadata,
			       bool from_thread)
{
	long v0[SW_OBJ_COUNT], v1[SW_OBJ_COUNT], v2[SW_OBJ_COUNT];
	struct exec_reg x;
	int64_t t0;
	bool released;
	pid_t pid;

	if (!sw_read_objects(v0) || v0[SW_OBJ_PINNED_PAGES] < 0)
		SKIP(return, "no %s (debugfs)", SW_OBJECTS);
	memset(&x, 0, sizeof(x));
	ASSERT_EQ(0, pipe(x.ctl));
	ASSERT_EQ(0, pipe(x.go));
	ASSERT_EQ(0, pipe(x.hold));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		pthread_t th;

		close(x.ctl[0]);
		close(x.go[1]);
		close(x.hold[1]);
		x.blk = sw_alloc_blocks(1);
		/* no O_CLOEXEC: the fd survives the exec */
		x.fd = open(SIGWAKE_DEVICE, O_RDWR);
		if (!x.blk || x.fd < 0)
			_exit(101);
		if (!from_thread)
			exec_reg_run(&x);
		if (pthread_create(&th, NULL, exec_reg_thread, &x))
			_exit(102);
		pthread_join(th, NULL);	/* the exec ends this thread */
		_exit(106);
	}
	close(x.ctl[1]);
	close(x.go[0]);
	close(x.hold[0]);

	ASSERT_EQ('r', read_byte(x.ctl[0], SW_LONG_MS)) {
		TH_LOG("the child did not register (status %#x)",
		       wait_child(pid, SW_LONG_MS));
	}
	ASSERT_TRUE(sw_read_objects(v1));
	ASSERT_EQ(v0[SW_OBJ_PINNED_PAGES] + 1, v1[SW_OBJ_PINNED_PAGES]);
	ASSERT_EQ(1, write(x.go[1], "g", 1));
	ASSERT_EQ('x', read_byte(x.ctl[0], SW_LONG_MS)) {
		TH_LOG("the new program did not start (status %#x)",
		       wait_child(pid, SW_LONG_MS));
	}

	/* the module may unpin from a work item: allow it 2 s */
	t0 = sw_now_ns();
	released = SW_POLL(sw_read_objects(v2) &&
			   v2[SW_OBJ_PINNED_PAGES] == v0[SW_OBJ_PINNED_PAGES],
			   2000);
	EXPECT_TRUE(released) {
		TH_LOG("after the %s exec'd, %ld pages are still pinned (%ld before it registered, %ld after; threads %ld, %ld, %ld)",
		       from_thread ? "thread" : "leader",
		       v2[SW_OBJ_PINNED_PAGES], v0[SW_OBJ_PINNED_PAGES],
		       v1[SW_OBJ_PINNED_PAGES], v0[SW_OBJ_THREADS],
		       v1[SW_OBJ_THREADS], v2[SW_OBJ_THREADS]);
	}
	if (released)
		TH_LOG("unpinned %lld ms after the exec",
		       (long long)((sw_now_ns() - t0) / MS));
	close(x.hold[1]);
	EXPECT_CHILD_OK(pid, SW_LONG_MS);
}

TEST(exec_by_thread_releases_registration)
{
	exec_releases_pins(_metadata, true);
}

TEST(exec_by_leader_releases_registration)
{
	exec_releases_pins(_metadata, false);
}

/* ------------------------------------------------------------------ */
/* sleepers and the objects they sleep on                              */

TEST_F(thread, wq_destroy_wakes_sleepers_eidrm)
{
	struct sw_thread t[2];
	unsigned int i;

	for (i = 0; i < 2; i++) {
		sw_thread_init(&t[i], self->fd, &self->blk[1 + i]);
		t[i].do_wait = true;
		t[i].wq = self->wq;
		ASSERT_EQ(0, sw_thread_start(&t[i]));
		ASSERT_TRUE(sw_thread_is_waiting(&t[i], SW_LONG_MS));
	}
	ASSERT_EQ(0, sw_wq_destroy(self->fd, self->wq));
	for (i = 0; i < 2; i++) {
		ASSERT_TRUE(sw_thread_done(&t[i], SW_LONG_MS)) {
			TH_LOG("waiter %u still asleep on a destroyed queue", i);
		}
		EXPECT_EQ(-EIDRM, t[i].wait_err);
		EXPECT_GT(SW_WATCHDOG_NS / 2, t[i].t_end - t[i].t_start);
	}
	EXPECT_EQ(-ENOENT, sw_wake(self->fd, self->wq, 1, NULL));
	/* the threads are still registered and usable */
	EXPECT_EQ(0, sw_post(self->fd, t[0].handle, SW_SIG, NULL, NULL));
	for (i = 0; i < 2; i++)
		sw_thread_finish(&t[i]);
}

struct rereg {
	struct sw_thread t;
	int rereg_err;
};

static void *wait_then_reregister(void *arg)
{
	struct rereg *r = arg;
	struct sw_thread *t = &r->t;

	t->reg_err = sw_register(t->fd, t->blk, NULL, 0, &t->handle);
	SW_STORE(&t->registered, 1);
	if (t->reg_err)
		return NULL;
	SW_STORE(&t->waiting, 1);
	t->t_start = sw_now_ns();
	t->wait_err = sw_wait(t->fd, SIGWAKE_NO_WQ, 0, SW_WATCHDOG_NS, 0, NULL);
	t->t_end = sw_now_ns();
	r->rereg_err = sw_register(t->fd, t->blk, NULL, 0, NULL);
	SW_STORE(&t->done, 1);
	return NULL;
}

TEST_F(thread, unregister_sleeper_eidrm)
{
	struct rereg r;

	memset(&r, 0, sizeof(r));
	sw_thread_init(&r.t, self->fd, &self->blk[1]);
	ASSERT_EQ(0, pthread_create(&r.t.th, NULL, wait_then_reregister, &r));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&r.t.registered), SW_LONG_MS));
	ASSERT_EQ(0, r.t.reg_err);
	ASSERT_TRUE(sw_thread_is_waiting(&r.t, SW_LONG_MS));
	ASSERT_EQ(0, sw_unregister(self->fd, r.t.handle));
	ASSERT_TRUE(sw_thread_done(&r.t, SW_LONG_MS));
	pthread_join(r.t.th, NULL);
	EXPECT_EQ(-EIDRM, r.t.wait_err);
	EXPECT_GT(SW_WATCHDOG_NS / 2, r.t.t_end - r.t.t_start);
	/* and it may register again */
	EXPECT_EQ(0, r.rereg_err);
}

/* The owner closes the domain fd while threads sleep in it: EBADF. */
TEST_F(thread, close_with_sleepers_ebadf)
{
	struct sw_thread t[2];
	unsigned int i;

	for (i = 0; i < 2; i++) {
		sw_thread_init(&t[i], self->fd, &self->blk[1 + i]);
		t[i].do_wait = true;
		t[i].wq = i ? self->wq : SIGWAKE_NO_WQ;
		ASSERT_EQ(0, sw_thread_start(&t[i]));
		ASSERT_TRUE(sw_thread_is_waiting(&t[i], SW_LONG_MS));
	}
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	for (i = 0; i < 2; i++) {
		ASSERT_TRUE(sw_thread_done(&t[i], SW_LONG_MS)) {
			TH_LOG("waiter %u still asleep after the domain fd was closed", i);
		}
		EXPECT_EQ(-EBADF, t[i].wait_err) {
			TH_LOG("waiter %u: %s", i,
			       t[i].wait_err ? strerror(-t[i].wait_err) : "success");
		}
		EXPECT_GT(SW_WATCHDOG_NS / 2, t[i].t_end - t[i].t_start) {
			TH_LOG("waiter %u took %lld ms to notice", i,
			       (long long)((t[i].t_end - t[i].t_start) / MS));
		}
	}
	for (i = 0; i < 2; i++)
		sw_thread_finish(&t[i]);
}

/* closing the domain ends every registration: the same threads start over */
TEST_F(thread, close_then_reopen_registers_again)
{
	__u32 h = 0;

	ASSERT_EQ(0, close(self->fd));
	SW_OPEN_DOMAIN(self->fd);
	EXPECT_EQ(0, sw_register(self->fd, self->blk, NULL, 0, &h));
	EXPECT_EQ(1, h);
}

/*
 * Processes that die with sleepers, registrations, queues and pins: the
 * exit completes, and the next process starts from a clean slate.
 */
static void *child_sleeper(void *arg)
{
	struct sw_thread *t = arg;

	sw_register(t->fd, t->blk, NULL, 0, NULL);
	sw_wait(t->fd, t->wq, 0, SIGWAKE_TIMEOUT_NONE, 0, NULL);
	return NULL;
}

static void child_with_sleepers(int how, int ready_fd)
{
	struct sigwake_thread_block *blk = sw_alloc_blocks(4);
	struct sw_thread t[3];
	__u32 wq = 0;
	int fd, i;

	fd = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0 || !blk)
		_exit(101);
	if (sw_register(fd, &blk[3], NULL, 0, NULL) ||
	    sw_wq_create(fd, NULL, &wq))
		_exit(102);
	for (i = 0; i < 3; i++) {
		sw_thread_init(&t[i], fd, &blk[i]);
		t[i].wq = i ? wq : SIGWAKE_NO_WQ;
		if (pthread_create(&t[i].th, NULL, child_sleeper, &t[i]))
			_exit(103);
	}
	for (i = 0; i < 3; i++)
		if (!SW_POLL(sw_state(&blk[i]) == SIGWAKE_WAITING, SW_LONG_MS))
			_exit(104);
	if (how == 0)
		_exit(0);	/* exit_group with three sleepers */
	if (write(ready_fd, "r", 1) != 1)
		_exit(106);
	pause();		/* the parent kills us */
	_exit(105);
}

TEST(process_exit_with_sleepers)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0)
		child_with_sleepers(0, -1);
	EXPECT_CHILD_OK(pid, 2 * SW_LONG_MS);
}

TEST(process_killed_with_sleepers)
{
	struct pollfd pfd;
	int status, p[2];
	pid_t pid;

	ASSERT_EQ(0, pipe(p));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		child_with_sleepers(1, p[1]);
	close(p[1]);
	/* wait until its sleepers are in place */
	pfd.fd = p[0];
	pfd.events = POLLIN;
	EXPECT_EQ(1, poll(&pfd, 1, 2 * SW_LONG_MS)) {
		TH_LOG("the child never got its three threads asleep");
	}
	ASSERT_EQ(0, kill(pid, SIGKILL));
	status = wait_child(pid, 2 * SW_LONG_MS);
	ASSERT_NE(-1, status) {
		TH_LOG("a SIGKILLed process with sleepers did not die");
	}
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
		TH_LOG("child ended with status %#x before it was killed", status);
	}
}

/* a registered block unmapped under the kernel: nothing breaks */
TEST_F(domain, unmapped_block_stays_safe)
{
	struct sigwake_thread_block *blk = sw_alloc_blocks(1);
	__u32 h = 0, reason = 0;
	int err;

	ASSERT_NE(NULL, blk);
	ASSERT_EQ(0, sw_register(self->fd, blk, NULL, 0, &h));
	ASSERT_EQ(0, munmap(blk, (size_t)sysconf(_SC_PAGESIZE)));
	err = sw_post(self->fd, h, SW_SIG, NULL, NULL);
	EXPECT_TRUE(err == 0 || err == -EFAULT) {
		TH_LOG("POST: %s", strerror(-err));
	}
	err = sw_kick(self->fd, h, NULL);
	EXPECT_TRUE(err == 0 || err == -EFAULT) {
		TH_LOG("KICK: %s", strerror(-err));
	}
	err = sw_wait(self->fd, SIGWAKE_NO_WQ, 0, 0, 0, &reason);
	EXPECT_TRUE(err == 0 || err == -EFAULT) {
		TH_LOG("WAIT: %s", strerror(-err));
	}
	/* new memory at the same address is not the pinned page */
	blk = mmap(blk, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (blk != MAP_FAILED) {
		EXPECT_EQ(0, sw_post(self->fd, h, SW_SIG + 1, NULL, NULL));
		EXPECT_EQ(0, SW_LOAD(&blk->pending));
	}
	EXPECT_EQ(0, sw_unregister(self->fd, h));
}

/*
 * A page unmapped while a queue word still pins it, and new memory mapped
 * at the same address: a block registered there must be the new page, not
 * the old pinned one.
 */
TEST_F(domain, remapped_page_is_pinned_anew)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	char *p = sw_alloc_page(), *q;
	struct sigwake_thread_block *blk;
	__u32 wq, h = 0, outcome = 0;

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, sw_wq_create(self->fd, p, &wq));
	ASSERT_EQ(0, munmap(p, page));
	q = mmap(p, page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (q == MAP_FAILED)
		SKIP(return, "could not map the address again: %s", strerror(errno));
	ASSERT_EQ(p, q);
	blk = (struct sigwake_thread_block *)(q + SIGWAKE_THREAD_BLOCK_SIZE);
	ASSERT_EQ(0, sw_register(self->fd, blk, NULL, 0, &h));
	ASSERT_EQ(0, sw_post(self->fd, h, SW_SIG, NULL, &outcome));
	EXPECT_EQ(SIGWAKE_POST_RECORDED, outcome);
	EXPECT_EQ(SW_BIT(SW_SIG), SW_LOAD(&blk->pending)) {
		TH_LOG("the post went to the page that was unmapped");
	}
	EXPECT_EQ(0, sw_unregister(self->fd, h));
	EXPECT_EQ(0, sw_wq_destroy(self->fd, wq));
}

/* ------------------------------------------------------------------ */
/* RLIMIT_MEMLOCK: checked in a child that dropped root (CAP_IPC_LOCK)  */

#define NOBODY	65534

/* Drop to an unprivileged user with RLIMIT_MEMLOCK = bytes. */
static int become_nobody(rlim_t bytes)
{
	struct rlimit rl = { .rlim_cur = bytes, .rlim_max = bytes };

	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		return 1;
	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		return 2;
	return 0;
}

static void need_root(struct __test_metadata *_metadata)
{
	if (geteuid() != 0)
		SKIP({ fflush(NULL); _exit(255); },
		     "needs root to drop to an unprivileged user");
}

/* each page of memory the child registers from */
static struct sigwake_thread_block *page_blocks(int pages)
{
	return sw_alloc_blocks((unsigned int)pages * 64);
}

#define BLOCKS_PER_PAGE	((int)(sysconf(_SC_PAGESIZE) / SIGWAKE_THREAD_BLOCK_SIZE))

TEST(memlock_zero_enomem)
{
	pid_t pid;

	need_root(_metadata);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct sigwake_thread_block *blk = page_blocks(1);
		int fd, err;

		if (become_nobody(0))
			_exit(101);
		fd = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "# nobody cannot open %s: %s\n",
				SIGWAKE_DEVICE, strerror(errno));
			_exit(102);
		}
		err = sw_register(fd, blk, NULL, 0, NULL);
		if (err != -ENOMEM) {
			fprintf(stderr, "# REGISTER with RLIMIT_MEMLOCK 0: %s, expected ENOMEM\n",
				err ? strerror(-err) : "success");
			_exit(1);
		}
		_exit(0);
	}
	EXPECT_CHILD_OK(pid, SW_LONG_MS);
}

static void *register_only(void *arg)
{
	struct sw_thread *t = arg;

	t->reg_err = sw_register(t->fd, t->blk, NULL, 0, &t->handle);
	SW_STORE(&t->registered, 1);
	while (!SW_LOAD(&t->release))
		usleep(1000);
	return NULL;
}

/* Register from another (live) thread: 0 or -errno. */
static int register_live(struct sw_thread *t, int fd,
			 struct sigwake_thread_block *blk)
{
	sw_thread_init(t, fd, blk);
	if (pthread_create(&t->th, NULL, register_only, t))
		return -EAGAIN;
	while (!SW_LOAD(&t->registered))
		usleep(1000);
	return t->reg_err;
}

/* One page of budget: blocks sharing a page are charged once. */
TEST(memlock_same_page_charged_once)
{
	pid_t pid;

	need_root(_metadata);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct sigwake_thread_block *blk = page_blocks(2);
		struct sw_thread t[2];
		int fd, err, bad = 0;

		if (become_nobody((rlim_t)sysconf(_SC_PAGESIZE)))
			_exit(101);
		fd = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			_exit(102);
		err = sw_register(fd, &blk[0], NULL, 0, NULL);
		if (err) {
			fprintf(stderr, "# first block with one page of RLIMIT_MEMLOCK: %s\n",
				strerror(-err));
			bad++;
		}
		err = register_live(&t[0], fd, &blk[1]);
		if (err) {
			fprintf(stderr, "# second block on the same page: %s, expected success\n",
				strerror(-err));
			bad++;
		}
		err = register_live(&t[1], fd, &blk[BLOCKS_PER_PAGE]);
		if (err != -ENOMEM) {
			fprintf(stderr, "# block on a second page: %s, expected ENOMEM\n",
				err ? strerror(-err) : "success");
			bad++;
		}
		_exit(bad);
	}
	EXPECT_CHILD_OK(pid, SW_LONG_MS);
}

/* The pages of a thread that exits are released at once (and uncharged). */
TEST(memlock_released_on_thread_exit)
{
	pid_t pid;

	need_root(_metadata);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct sigwake_thread_block *blk = page_blocks(2);
		struct sw_thread t;
		__u32 h = 0;
		int fd, err;

		if (become_nobody((rlim_t)sysconf(_SC_PAGESIZE)))
			_exit(101);
		fd = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			_exit(102);
		int64_t t0;

		sw_thread_init(&t, fd, &blk[0]);
		if (pthread_create(&t.th, NULL, register_and_exit, &t))
			_exit(103);
		pthread_join(t.th, NULL);
		if (t.reg_err) {
			fprintf(stderr, "# register: %s\n", strerror(-t.reg_err));
			_exit(104);
		}
		/* the exited thread's handle lives on, its page does not */
		if (!task_gone(t.tid, SW_LONG_MS))
			_exit(105);
		t0 = sw_now_ns();
		err = sw_register(fd, &blk[BLOCKS_PER_PAGE], NULL, 0, &h);
		if (err == -ENOMEM) {
			/* the module may unpin from a work item: allow it 2 s */
			SW_POLL((err = sw_register(fd, &blk[BLOCKS_PER_PAGE], NULL,
						   0, &h)) != -ENOMEM, 2000);
			fprintf(stderr, "# the page was still charged after the thread was gone%s (%lld ms)\n",
				err ? "" : "; released later",
				(long long)((sw_now_ns() - t0) / MS));
		}
		if (err) {
			fprintf(stderr, "# block on another page after the first thread exited: %s\n",
				strerror(-err));
			_exit(1);
		}
		_exit(0);
	}
	EXPECT_CHILD_OK(pid, SW_LONG_MS);
}

/*
 * The new program of memlock_released_on_thread_exec (argv: --exec-memlock
 * fd), with the domain of the program before the exec still open and
 * RLIMIT_MEMLOCK of one page: a block on a page of its own in a new domain
 * fits only if that page was uncharged.  Exit status 0, 1, or 100 + setup.
 */
static int exec_memlock_main(int argc, char **argv)
{
	struct sigwake_thread_block *blk = page_blocks(1);
	int64_t t0 = sw_now_ns();
	int fd, err;

	if (argc < 3 || !blk)
		return 100;
	if (fcntl(atoi(argv[2]), F_GETFD) < 0)
		return 101;
	fd = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 102;
	/* the module may uncharge from a work item: allow it 2 s */
	SW_POLL((err = sw_register(fd, blk, NULL, 0, NULL)) != -ENOMEM, 2000);
	if (err) {
		fprintf(stderr, "# after the exec, a block on a new page: %s after %lld ms (the exec'd registration still holds its charge)\n",
			strerror(-err), (long long)((sw_now_ns() - t0) / MS));
		return 1;
	}
	return 0;
}

static void *register_then_exec_memlock(void *arg)
{
	struct sw_thread *t = arg;
	char fds[16];

	t->reg_err = sw_register(t->fd, t->blk, NULL, 0, &t->handle);
	if (t->reg_err) {
		fprintf(stderr, "# register: %s\n", strerror(-t->reg_err));
		_exit(104);
	}
	snprintf(fds, sizeof(fds), "%d", t->fd);
	execl(self_exe, self_exe, "--exec-memlock", fds, (char *)NULL);
	_exit(105);
}

/* A thread that execs gives its pages' RLIMIT_MEMLOCK charge back at once. */
TEST(memlock_released_on_thread_exec)
{
	pid_t pid;

	need_root(_metadata);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct sigwake_thread_block *blk = page_blocks(1);
		struct sw_thread t;
		int fd;

		if (become_nobody((rlim_t)sysconf(_SC_PAGESIZE)))
			_exit(101);
		/* no O_CLOEXEC: the new program keeps the domain open */
		fd = open(SIGWAKE_DEVICE, O_RDWR);
		if (fd < 0 || !blk)
			_exit(102);
		sw_thread_init(&t, fd, blk);
		if (pthread_create(&t.th, NULL, register_then_exec_memlock, &t))
			_exit(103);
		pthread_join(t.th, NULL);	/* the exec ends this thread */
		_exit(106);
	}
	EXPECT_CHILD_OK(pid, SW_LONG_MS);
}

TEST(memlock_released_on_unregister)
{
	pid_t pid;

	need_root(_metadata);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct sigwake_thread_block *blk = page_blocks(2);
		__u32 h = 0;
		int fd, err;

		if (become_nobody((rlim_t)sysconf(_SC_PAGESIZE)))
			_exit(101);
		fd = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			_exit(102);
		if (sw_register(fd, &blk[0], NULL, 0, &h) || sw_unregister(fd, h))
			_exit(103);
		err = sw_register(fd, &blk[BLOCKS_PER_PAGE], NULL, 0, &h);
		if (err) {
			fprintf(stderr, "# block on another page after unregistering: %s\n",
				strerror(-err));
			_exit(1);
		}
		_exit(0);
	}
	EXPECT_CHILD_OK(pid, SW_LONG_MS);
}

/* ------------------------------------------------------------------ */
/* module unload                                                       */

/*
 * delete_module(2) must refuse while a domain is open.  Only the refusal is
 * tested: the runner unloads the module itself after the last program.
 */
TEST_F(domain, module_unload_refused_while_open)
{
	long ret;
	int err;

	ret = syscall(SYS_delete_module, "sigwake", O_NONBLOCK);
	err = errno;
	if (ret && err == EPERM)
		SKIP(return, "needs CAP_SYS_MODULE");
	if (ret && err == ENOENT && sw_allow_skip())
		SKIP(return, "sigwake is not a loadable module here");
	ASSERT_NE(0, ret) {
		TH_LOG("MODULE UNLOADED with a domain open: later tests will fail");
	}
	EXPECT_TRUE(err == EBUSY || err == EWOULDBLOCK) {
		TH_LOG("delete_module: %s, expected EBUSY or EWOULDBLOCK",
		       strerror(err));
	}
	/* and the domain still works */
	EXPECT_EQ(0, sw_register(self->fd, self->blk, NULL, 0, NULL));
}

int main(int argc, char **argv)
{
	ssize_t n;

	if (argc > 1 && !strcmp(argv[1], "--exec-child"))
		return exec_child_main(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "--exec-hold"))
		return exec_hold_main(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "--exec-memlock"))
		return exec_memlock_main(argc, argv);
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n > 0)
		self_exe[n] = '\0';
	else
		snprintf(self_exe, sizeof(self_exe), "%s", argv[0]);
	return test_harness_run(argc, argv);
}

static void __attribute__((constructor)) __constructor_order_last(void)
{
	if (!__constructor_order)
		__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD;
}
