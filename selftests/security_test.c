// SPDX-License-Identifier: GPL-2.0
/*
 * The security claims of docs/security.md, one test each.
 *
 *   memlock_unprivileged     as uid 65534 with a small RLIMIT_MEMLOCK: N
 *                            distinct pages pin, N+1 is ENOMEM, a page
 *                            already pinned costs nothing; unregistering
 *                            gives the charge back
 *   pinned_vm_accounted      even with CAP_IPC_LOCK, pinned pages show in
 *                            the mm's pinned_vm (VmPin), each page once
 *   domains_per_user         max_domains_per_user bounds open(2) per uid
 *                            (ENOSPC), other users are not affected
 *   queues_per_user          max_queues_per_user bounds WQ_CREATE over all
 *                            of a uid's domains (ENOSPC); destroy and close
 *                            give slots back; other users are not affected
 *   kernel_addresses         block, kick_addr, word, fds and the argument
 *                            itself: EFAULT for kernel and non-canonical
 *                            addresses
 *   foreign_fork             a forked child: every command number EPERM;
 *                            its close does not disturb the owner
 *   foreign_scm_rights       a process that got the fd over a unix socket:
 *                            every command number EPERM
 *   foreign_after_exec       the opener after execve(2): EPERM
 *   no_kick_after_exec       a registered thread that execs: neither a
 *                            forwarded host signal nor its preemption
 *                            watch sends the kick signal to the new
 *                            program
 *   kick_signal_own_thread   the kick signal goes to the registered thread
 *                            itself, as tgkill from the poster (SI_TKILL)
 *   untrusted_block          garbage in the block (unknown state, all flag
 *                            bits, reserved words, a block rewritten all
 *                            the time) gives defined answers and hurts
 *                            nobody else
 *   forward_owner_only       FORWARD sees the owner's signals only
 *   netlink_visibility       generic netlink dumps show an unprivileged
 *                            user its own domains only; root sees all
 *   netlink_hides_setuid_domain  nor the domain of a setuid program it
 *                            started (real uid its own, not dumpable)
 */
#include <grp.h>
#include <sys/prctl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "sigwake_test.h"

#define SEC_NOBODY	65534
#define SEC_PAGE	((size_t)sysconf(_SC_PAGESIZE))

static char *sec_self_exe;

/* Become uid/gid 65534 without any capability. 0 or -errno. */
static int sec_drop_privileges(void)
{
	if (setgroups(0, NULL) || setresgid(SEC_NOBODY, SEC_NOBODY, SEC_NOBODY) ||
	    setresuid(SEC_NOBODY, SEC_NOBODY, SEC_NOBODY))
		return -errno;
	return 0;
}

/* Run fn in a forked child; its exit status (0 = pass, else a step). */
static int sec_in_child(int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(fn(arg));
	if (waitpid(pid, &status, 0) != pid)
		return -ECHILD;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* VmPin of this process, in kB; -1 if absent. */
static long sec_vmpin_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* A thread that registers one block and stays registered until released. */
struct sec_reg {
	int fd;
	void *block;
	int err;
	int state;		/* atomic: 1 tried, 2 released */
	__u32 handle;
	bool unregister;
	pthread_t th;
};

static void *sec_reg_fn(void *arg)
{
	struct sec_reg *r = arg;

	r->err = sw_register(r->fd, r->block, NULL, 0, &r->handle);
	SW_STORE(&r->state, 1);
	while (SW_LOAD(&r->state) != 2)
		usleep(1000);
	if (!r->err && r->unregister)
		sw_unregister(r->fd, r->handle);
	return NULL;
}

static int sec_reg_start(struct sec_reg *r, int fd, void *block)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->block = block;
	if (pthread_create(&r->th, NULL, sec_reg_fn, r))
		return -EAGAIN;
	while (!SW_LOAD(&r->state))
		usleep(500);
	return r->err;
}

static void sec_reg_stop(struct sec_reg *r)
{
	SW_STORE(&r->state, 2);
	pthread_join(r->th, NULL);
}

/* ------------------------------------------------------------------ */

#define SEC_MEMLOCK_PAGES	4

static int sec_memlock_child(void *arg)
{
	struct rlimit rl = {
		SEC_MEMLOCK_PAGES * SEC_PAGE, SEC_MEMLOCK_PAGES * SEC_PAGE,
	};
	struct sec_reg r[SEC_MEMLOCK_PAGES + 2];
	unsigned char *pages;
	__u32 wq;
	int fd, i;

	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		return 2;
	if (sec_drop_privileges())
		return 3;
	pages = mmap(NULL, (SEC_MEMLOCK_PAGES + 2) * SEC_PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pages == MAP_FAILED)
		return 4;
	memset(pages, 0, (SEC_MEMLOCK_PAGES + 2) * SEC_PAGE);
	fd = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 5;
	/* N distinct pages: within the limit */
	for (i = 0; i < SEC_MEMLOCK_PAGES; i++)
		if (sec_reg_start(&r[i], fd, pages + i * SEC_PAGE))
			return 10 + i;
	if (sec_vmpin_kb() != (long)(SEC_MEMLOCK_PAGES * SEC_PAGE / 1024))
		return 20;
	/* page N+1: over the limit */
	if (sec_reg_start(&r[SEC_MEMLOCK_PAGES], fd,
			  pages + SEC_MEMLOCK_PAGES * SEC_PAGE) != -ENOMEM)
		return 21;
	if (sw_wq_create(fd, pages + (SEC_MEMLOCK_PAGES + 1) * SEC_PAGE, &wq) != -ENOMEM)
		return 22;
	/* a page pinned already counts once: another block, a word on it */
	if (sec_reg_start(&r[SEC_MEMLOCK_PAGES + 1], fd, pages + 64))
		return 23;
	if (sw_wq_create(fd, pages + SEC_PAGE + 128, &wq))
		return 24;
	if (sec_vmpin_kb() != (long)(SEC_MEMLOCK_PAGES * SEC_PAGE / 1024))
		return 25;
	/* unregistering the only user of page 3 gives its charge back */
	r[3].unregister = true;
	sec_reg_stop(&r[3]);
	sec_reg_stop(&r[SEC_MEMLOCK_PAGES]);
	if (sec_reg_start(&r[SEC_MEMLOCK_PAGES], fd,
			  pages + SEC_MEMLOCK_PAGES * SEC_PAGE))
		return 26;
	/* closing the domain unpins everything */
	for (i = 0; i < SEC_MEMLOCK_PAGES + 2; i++)
		if (i != 3)
			sec_reg_stop(&r[i]);
	close(fd);
	if (sec_vmpin_kb() != 0)
		return 27;
	return 0;
}

TEST(memlock_unprivileged)
{
	int fd;

	SW_OPEN_DOMAIN(fd);
	close(fd);
	EXPECT_EQ(0, sec_in_child(sec_memlock_child, NULL)) {
		TH_LOG("step: 2-5 setup, 1x register within the limit, 20 VmPin, 21 page N+1 not ENOMEM, 22 word on a new page not ENOMEM, 23/24 a pinned page refused, 25 VmPin after, 26 charge not given back, 27 VmPin after close");
	}
}

TEST(pinned_vm_accounted)
{
	struct sec_reg a, b;
	unsigned char *pages = mmap(NULL, 2 * SEC_PAGE, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long before;
	int fd;

	ASSERT_NE(MAP_FAILED, pages);
	memset(pages, 0, 2 * SEC_PAGE);
	SW_OPEN_DOMAIN(fd);
	before = sec_vmpin_kb();
	ASSERT_LE(0, before);
	ASSERT_EQ(0, sec_reg_start(&a, fd, pages));
	ASSERT_EQ(0, sec_reg_start(&b, fd, pages + 64));
	EXPECT_EQ(before + (long)SEC_PAGE / 1024, sec_vmpin_kb());
	sec_reg_stop(&a);
	sec_reg_stop(&b);
	close(fd);
	EXPECT_EQ(before, sec_vmpin_kb());
}

/* ------------------------------------------------------------------ */

static int sec_domains_child(void *arg)
{
	int fds[4], i;

	if (sec_drop_privileges())
		return 2;
	for (i = 0; i < 3; i++) {
		fds[i] = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
		if (fds[i] < 0)
			return 10 + i;
	}
	fds[3] = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
	if (fds[3] >= 0 || errno != ENOSPC)
		return 20;
	close(fds[1]);
	fds[1] = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
	if (fds[1] < 0)
		return 21;
	return 0;
}

TEST(domains_per_user)
{
	long saved = sw_param_read("max_domains_per_user");
	int rc, fd[4], i;

	if (saved < 0 && sw_allow_skip())
		SKIP(return, "no module parameters");
	ASSERT_LT(0, saved);
	ASSERT_EQ(0, sw_param_write("max_domains_per_user", 3));
	rc = sec_in_child(sec_domains_child, NULL);
	/* root is another user: its own count, not nobody's */
	for (i = 0; i < 3; i++)
		fd[i] = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
	fd[3] = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
	i = errno;
	ASSERT_EQ(0, sw_param_write("max_domains_per_user", saved));
	EXPECT_EQ(0, rc) {
		TH_LOG("step: 1x the first three opens, 20 the fourth is not ENOSPC, 21 a close gives the slot back");
	}
	EXPECT_LE(0, fd[0]);
	EXPECT_LE(0, fd[2]);
	EXPECT_EQ(-1, fd[3]);
	EXPECT_EQ(ENOSPC, i);
}

/* ------------------------------------------------------------------ */

/* As nobody with max_queues_per_user = 4: two domains share the four. */
static int sec_queues_child(void *arg)
{
	__u32 h[4], extra;
	int a, b;

	if (sec_drop_privileges())
		return 2;
	a = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
	b = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
	if (a < 0 || b < 0)
		return 10;
	if (sw_wq_create(a, NULL, &h[0]) || sw_wq_create(a, NULL, &h[1]) ||
	    sw_wq_create(b, NULL, &h[2]) || sw_wq_create(b, NULL, &h[3]))
		return 11;
	if (sw_wq_create(a, NULL, &extra) != -ENOSPC ||
	    sw_wq_create(b, NULL, &extra) != -ENOSPC)
		return 20;
	if (sw_wq_destroy(b, h[3]) || sw_wq_create(a, NULL, &extra))
		return 21;
	if (sw_wq_create(b, NULL, &extra) != -ENOSPC)
		return 22;
	/* a holds three: closing it gives all three back */
	close(a);
	if (sw_wq_create(b, NULL, &h[0]) || sw_wq_create(b, NULL, &h[1]) ||
	    sw_wq_create(b, NULL, &h[3]))
		return 23;
	if (sw_wq_create(b, NULL, &extra) != -ENOSPC)
		return 24;
	close(b);
	return 0;
}

TEST(queues_per_user)
{
	long saved = sw_param_read("max_queues_per_user");
	__u32 h[5];
	int rc, fd, i, ret[5];

	if (saved < 0 && sw_allow_skip())
		SKIP(return, "no module parameters");
	ASSERT_LT(0, saved);
	ASSERT_EQ(0, sw_param_write("max_queues_per_user", 4));
	rc = sec_in_child(sec_queues_child, NULL);
	/* root is another user: four of its own, then ENOSPC */
	fd = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
	for (i = 0; i < 5; i++)
		ret[i] = fd < 0 ? -EBADF : sw_wq_create(fd, NULL, &h[i]);
	ASSERT_EQ(0, sw_param_write("max_queues_per_user", saved));
	EXPECT_EQ(0, rc) {
		TH_LOG("step: 10 open, 11 the first four, 20 the fifth is not ENOSPC, 21 destroy does not give a slot back, 22 the slot is given twice, 23 close does not give the slots back, 24 limit not kept after close");
	}
	EXPECT_LE(0, fd);
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0, ret[i]);
	EXPECT_EQ(-ENOSPC, ret[4]);
	if (fd >= 0)
		close(fd);
}

/* ------------------------------------------------------------------ */

TEST(kernel_addresses)
{
	static const __u64 bad[] = {
		SW_KERNEL_ADDR, 0xffffffffff600000ull, 0x0000800000000000ull,
		0xffffffffffffffc0ull,
	};
	struct sigwake_thread_block *blk = sw_alloc_blocks(1);
	struct sigwake_register_args reg = { .size = sizeof(reg) };
	struct sigwake_wq_create_args wqc = { .size = sizeof(wqc) };
	struct sigwake_wait_args w = { .size = sizeof(w), .wq = SIGWAKE_NO_WQ, .nfds = 1 };
	unsigned int i;
	__u32 h;
	int fd;

	ASSERT_NE(NULL, blk);
	SW_OPEN_DOMAIN(fd);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		reg.block = bad[i];
		reg.kick_addr = 0;
		EXPECT_EQ(-EFAULT, sw_ioctl(fd, SIGWAKE_IOC_REGISTER, &reg));
		reg.block = (__u64)(uintptr_t)blk;
		reg.kick_addr = bad[i];
		EXPECT_EQ(-EFAULT, sw_ioctl(fd, SIGWAKE_IOC_REGISTER, &reg));
		wqc.word = bad[i];
		EXPECT_EQ(-EFAULT, sw_ioctl(fd, SIGWAKE_IOC_WQ_CREATE, &wqc));
		/* the argument struct itself */
		EXPECT_EQ(-EFAULT, sw_ioctl(fd, SIGWAKE_IOC_POST, (void *)(uintptr_t)bad[i]));
	}
	ASSERT_EQ(0, sw_register(fd, blk, NULL, 0, &h));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		w.fds = bad[i];
		EXPECT_EQ(-EFAULT, sw_ioctl(fd, SIGWAKE_IOC_WAIT, &w));
	}
	close(fd);
}

/* ------------------------------------------------------------------ */

/* Every command number, with a plausible struct: EPERM for all. 0 or n+1. */
static int sec_try_all(int fd)
{
	union {
		__u32 size;
		unsigned char raw[64];
	} u;
	unsigned int nr;

	for (nr = 0; nr < 32; nr++) {
		memset(&u, 0, sizeof(u));
		u.size = 24;
		if (sw_ioctl(fd, _IOWR(SIGWAKE_IOC_MAGIC, nr, struct sigwake_post_args), &u) !=
		    -EPERM)
			return (int)nr + 1;
	}
	return 0;
}

struct sec_fork_arg {
	int fd;
};

static int sec_foreign_child(void *arg)
{
	struct sec_fork_arg *a = arg;
	int rc = sec_try_all(a->fd);

	if (rc)
		return rc;
	close(a->fd);	/* must not end the owner's WAIT */
	return 0;
}

TEST(foreign_fork)
{
	struct sigwake_thread_block *blk = sw_alloc_blocks(1);
	struct sw_thread t;
	struct sec_fork_arg a;
	int fd;

	ASSERT_NE(NULL, blk);
	SW_OPEN_DOMAIN(fd);
	sw_thread_init(&t, fd, blk);
	t.do_wait = true;
	t.timeout_ns = 5 * SW_NSEC_PER_SEC;
	ASSERT_EQ(0, sw_thread_start(&t));
	ASSERT_TRUE(sw_thread_is_waiting(&t, SW_LONG_MS));
	a.fd = fd;
	EXPECT_EQ(0, sec_in_child(sec_foreign_child, &a)) {
		TH_LOG("the child saw a command number (+ 1) that did not give EPERM");
	}
	/* the child's close did not end the owner's wait */
	EXPECT_EQ(SIGWAKE_WAITING, sw_state(blk));
	EXPECT_EQ(0, sw_kick(fd, t.handle, NULL));
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	EXPECT_EQ(0, t.wait_err);
	EXPECT_EQ(SIGWAKE_REASON_KICK, t.args.reason);
	/* and the owner itself still works (positive control) */
	EXPECT_EQ(0, sw_post(fd, t.handle, SW_SIG, NULL, NULL));
	sw_thread_finish(&t);
	close(fd);
}

TEST(foreign_scm_rights)
{
	int sv[2], fd, status, code;
	pid_t pid;

	/* the receiver exists before the domain does: it never had the fd */
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int rfd;

		close(sv[0]);
		rfd = sw_recv_fd(sv[1]);
		if (rfd < 0)
			_exit(100);
		_exit(sec_try_all(rfd));
	}
	close(sv[1]);
	SW_OPEN_DOMAIN(fd);
	ASSERT_EQ(0, sw_send_fd(sv[0], fd));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	code = WEXITSTATUS(status);
	EXPECT_EQ(0, code) {
		TH_LOG("%d: 100 the fd did not arrive, else command number + 1 that did not give EPERM",
		       code);
	}
	close(fd);
}

TEST(foreign_after_exec)
{
	int status, fd;
	pid_t pid;

	ASSERT_NE(NULL, sec_self_exe);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char num[16];

		fd = open(SIGWAKE_DEVICE, O_RDWR);	/* survives the exec */
		if (fd < 0 || sw_wq_create(fd, NULL, NULL))
			_exit(101);
		snprintf(num, sizeof(num), "%d", fd);
		execl(sec_self_exe, sec_self_exe, "--exec-probe", num, (char *)NULL);
		_exit(102);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) {
		TH_LOG("after exec: %d (101 setup, 102 exec, else command number + 1 that did not give EPERM)",
		       WEXITSTATUS(status));
	}
}

/*
 * The new program of no_kick_after_exec: count SIGUSR1 (the old image's
 * kick signal) while it burns CPU (for the old preemption watch) and the
 * test sends it SIGWINCH (the old image's forwarded signal).  A kick sent
 * while the old image was still exec'ing is the old image's own: it stays
 * pending across the exec (SIGUSR1 is blocked then) and is dropped here.
 * Exit status: the number of kicks after the exec, 0 expected.
 */
static volatile sig_atomic_t sec_victim_kicks;

static void sec_victim_handler(int sig)
{
	sec_victim_kicks++;
}

static int sec_exec_victim(int ready)
{
	struct timespec zero = { 0 };
	sigset_t set;
	int64_t end;

	signal(SIGUSR1, sec_victim_handler);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	while (sigtimedwait(&set, NULL, &zero) == SIGUSR1)
		;
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	if (write(ready, "r", 1) != 1)
		return 100;
	end = sw_now_ns() + 600 * SW_NSEC_PER_MSEC;
	while (sw_now_ns() < end)
		sw_cpu_relax();
	return sec_victim_kicks > 99 ? 99 : sec_victim_kicks;
}

TEST(no_kick_after_exec)
{
	int pipefd[2], status, i;
	char byte;
	pid_t pid;

	ASSERT_NE(NULL, sec_self_exe);
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct sigwake_thread_block *blk = sw_alloc_blocks(1);
		struct sigwake_forward_args fwd = {
			.size = sizeof(fwd), .host_signo = SIGWINCH,
			.guest_signo = 5,
		};
		/* more than the exec takes, less than the new program burns */
		struct sigwake_preempt_args pre = {
			.size = sizeof(pre),
			.budget_ns = 100 * SW_NSEC_PER_MSEC,
		};
		sigset_t usr1;
		char num[16];
		__u32 handle;
		int fd, ret;

		close(pipefd[0]);
		fd = open(SIGWAKE_DEVICE, O_RDWR);	/* survives the exec */
		if (fd < 0 || !blk || sw_register(fd, blk, NULL, SIGUSR1, &handle))
			_exit(101);
		fwd.target = handle;
		pre.target = handle;
		if (sw_ioctl(fd, SIGWAKE_IOC_FORWARD, &fwd))
			_exit(102);
		ret = sw_ioctl(fd, SIGWAKE_IOC_PREEMPT, &pre);
		if (ret && ret != -EOPNOTSUPP)
			_exit(103);
		/* kicks until the exec is done are the old image's: hold them */
		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		sigprocmask(SIG_BLOCK, &usr1, NULL);
		/* the old image's last word: "in guest code" */
		sw_set_state(blk, SIGWAKE_RUNNING_IN_GUEST);
		snprintf(num, sizeof(num), "%d", pipefd[1]);
		execl(sec_self_exe, sec_self_exe, "--exec-victim", num, (char *)NULL);
		_exit(104);
	}
	close(pipefd[1]);
	/* no byte: the new program died (or exited) before it was ready */
	if (read(pipefd[0], &byte, 1) == 1) {
		for (i = 0; i < 20; i++) {
			kill(pid, SIGWINCH);
			usleep(10000);
		}
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	close(pipefd[0]);
	ASSERT_TRUE(WIFEXITED(status)) {
		TH_LOG("the new program died of signal %d",
		       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	}
	EXPECT_EQ(0, WEXITSTATUS(status)) {
		TH_LOG("%d: 101-104 setup (register, forward, preempt, exec), 100 pipe, else kicks the new program got",
		       WEXITSTATUS(status));
	}
}

/* ------------------------------------------------------------------ */

static pid_t sec_sig_tid;
static int sec_sig_code, sec_sig_pid, sec_sig_count;

static void sec_kick_handler(int sig, siginfo_t *si, void *uc)
{
	SW_STORE(&sec_sig_tid, sw_gettid());
	SW_STORE(&sec_sig_code, si->si_code);
	SW_STORE(&sec_sig_pid, si->si_pid);
	SW_ADD(&sec_sig_count, 1);
}

TEST(kick_signal_own_thread)
{
	struct sigwake_thread_block *blk = sw_alloc_blocks(1);
	struct sw_thread t;
	__u32 outcome = 0;
	int fd;

	ASSERT_NE(NULL, blk);
	ASSERT_EQ(0, sw_sigaction(SIGUSR1, sec_kick_handler, SA_RESTART));
	SW_OPEN_DOMAIN(fd);
	sw_thread_init(&t, fd, blk);
	t.kick_signo = SIGUSR1;
	t.set_state = true;
	t.state = SIGWAKE_RUNNING_IN_GUEST;
	ASSERT_EQ(0, sw_thread_start(&t));
	ASSERT_EQ(0, sw_post(fd, t.handle, SW_SIG, NULL, &outcome));
	EXPECT_EQ(SIGWAKE_POST_KICKED, outcome);
	ASSERT_TRUE(SW_POLL(SW_LOAD(&sec_sig_count) > 0, SW_LONG_MS));
	EXPECT_EQ(t.tid, sec_sig_tid);
	EXPECT_EQ(SI_TKILL, sec_sig_code);
	EXPECT_EQ(getpid(), sec_sig_pid);
	EXPECT_EQ(1, sec_sig_count);
	sw_thread_finish(&t);
	close(fd);
}

/* ------------------------------------------------------------------ */

struct sec_scribble {
	struct sigwake_thread_block *blk;
	int stop;
	unsigned long writes;
};

static void *sec_scribbler(void *arg)
{
	struct sec_scribble *s = arg;
	uint64_t rng = 0x2545f4914f6cdd1dull;
	uint64_t *w = (uint64_t *)s->blk;

	while (!SW_LOAD(&s->stop)) {
		SW_STORE(&w[sw_xorshift(&rng) % 8], sw_xorshift(&rng));
		s->writes++;
	}
	return NULL;
}

TEST(untrusted_block)
{
	struct sigwake_thread_block *blk = sw_alloc_blocks(2);
	struct sec_scribble sc = { .blk = &blk[1] };
	__u32 h, h2, outcome = 0, reason = 0;
	pthread_t th;
	unsigned int i;
	int fd, err, unexpected = 0;

	ASSERT_NE(NULL, blk);
	SW_OPEN_DOMAIN(fd);
	ASSERT_EQ(0, sw_register(fd, &blk[0], NULL, 0, &h));
	/* a state the kernel does not know, every flag, reserved words */
	blk[0].state = 0xdeadbeef;
	blk[0].flags = 0xfffffffe;	/* not TF_KICKED */
	blk[0].__reserved[0] = ~0ull;
	blk[0].blocked = 0;
	EXPECT_EQ(0, sw_post(fd, h, SW_SIG, NULL, &outcome));
	EXPECT_EQ(SIGWAKE_POST_RECORDED, outcome);
	EXPECT_EQ(0, sw_wait(fd, SIGWAKE_NO_WQ, 0, 0, 0, &reason));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, reason);
	EXPECT_EQ(SIGWAKE_RUNNING_IN_HOST, blk[0].state);
	EXPECT_EQ(~0ull, blk[0].__reserved[0]);
	/* everything blocked: the signal stays pending and wakes nobody */
	blk[0].pending = 0;
	blk[0].blocked = ~0ull;
	EXPECT_EQ(0, sw_post(fd, h, SW_SIG, NULL, &outcome));
	EXPECT_EQ(SIGWAKE_POST_RECORDED, outcome);
	EXPECT_EQ(0, sw_wait(fd, SIGWAKE_NO_WQ, 0, 0, 0, &reason));
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, reason);
	EXPECT_EQ(SW_BIT(SW_SIG), blk[0].pending);

	/* another block rewritten with random words all the time */
	ASSERT_EQ(0, pthread_create(&th, NULL, sec_scribbler, &sc));
	h2 = 0;
	{
		struct sec_reg r;

		ASSERT_EQ(0, sec_reg_start(&r, fd, &blk[1]));
		h2 = r.handle;
		for (i = 0; i < 2000; i++) {
			err = sw_post(fd, i & 1 ? h2 : SIGWAKE_TARGET_ANY,
				      1 + i % 64, NULL, &outcome);
			if (err || outcome < SIGWAKE_POST_RECORDED ||
			    outcome > SIGWAKE_POST_QUEUED)
				unexpected++;
			err = sw_kick(fd, h2, &outcome);
			if (err || outcome < SIGWAKE_POST_RECORDED ||
			    outcome > SIGWAKE_POST_KICKED)
				unexpected++;
		}
		SW_STORE(&sc.stop, 1);
		pthread_join(th, NULL);
		sec_reg_stop(&r);
	}
	EXPECT_EQ(0, unexpected);
	TH_LOG("%lu random writes to a registered block during 4000 posts and kicks",
	       sc.writes);
	/* the well-behaved thread was not disturbed by the garbage next door */
	EXPECT_EQ(0, sw_wait(fd, SIGWAKE_NO_WQ, 0, 0, 0, &reason));
	close(fd);
}

/* ------------------------------------------------------------------ */

TEST(forward_owner_only)
{
	struct sigwake_thread_block *blk = sw_alloc_blocks(1);
	struct sigwake_forward_args a = {
		.size = sizeof(a), .host_signo = SIGUSR2, .guest_signo = SW_SIG,
	};
	int fd, err, status;
	pid_t other;

	ASSERT_NE(NULL, blk);
	SW_OPEN_DOMAIN(fd);
	signal(SIGUSR2, SIG_IGN);
	ASSERT_EQ(0, sw_register(fd, blk, NULL, 0, &a.target));
	err = sw_ioctl(fd, SIGWAKE_IOC_FORWARD, &a);
	if (err == -EOPNOTSUPP)
		SKIP(return, "FORWARD is not available");
	ASSERT_EQ(0, err);
	/* another process of the same user gets the host signal: no post */
	other = fork();
	ASSERT_LE(0, other);
	if (other == 0) {
		sw_sleep_ms(3000);
		_exit(0);
	}
	ASSERT_EQ(0, kill(other, SIGUSR2));
	sw_sleep_ms(300);
	EXPECT_EQ(0, SW_LOAD(&blk->pending));
	kill(other, SIGKILL);
	waitpid(other, &status, 0);
	/* the owner gets it: posted */
	ASSERT_EQ(0, kill(getpid(), SIGUSR2));
	EXPECT_TRUE(SW_POLL(SW_LOAD(&blk->pending) & SW_BIT(SW_SIG), SW_LONG_MS));
	close(fd);
}

/* ------------------------------------------------------------------ */
/* generic netlink, raw                                                */

struct sec_nl {
	int sock;
	__u16 family;
	__u32 seq;
};

#define SEC_NLA_OK(nla, len) ((len) >= (int)sizeof(struct nlattr) && \
			      (nla)->nla_len >= sizeof(struct nlattr) && \
			      (nla)->nla_len <= (len))
#define SEC_NLA_NEXT(nla, len) ((len) -= NLA_ALIGN((nla)->nla_len), \
				(struct nlattr *)((char *)(nla) + NLA_ALIGN((nla)->nla_len)))

static int sec_nl_send(struct sec_nl *nl, __u16 type, __u16 flags, __u8 cmd,
		       __u16 attr, const void *data, __u16 len)
{
	struct {
		struct nlmsghdr n;
		struct genlmsghdr g;
		char buf[64];
	} req;
	struct nlattr *na = (struct nlattr *)req.buf;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	memset(&req, 0, sizeof(req));
	req.n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	req.n.nlmsg_type = type;
	req.n.nlmsg_flags = NLM_F_REQUEST | flags;
	req.n.nlmsg_seq = ++nl->seq;
	req.g.cmd = cmd;
	req.g.version = 1;
	if (attr) {
		na->nla_type = attr;
		na->nla_len = (__u16)(NLA_HDRLEN + len);
		memcpy((char *)na + NLA_HDRLEN, data, len);
		req.n.nlmsg_len += NLA_ALIGN(na->nla_len);
	}
	return sendto(nl->sock, &req, req.n.nlmsg_len, 0, (struct sockaddr *)&sa,
		      sizeof(sa)) < 0 ? -errno : 0;
}

static int sec_nl_open(struct sec_nl *nl)
{
	char buf[8192];
	int len;
	struct nlmsghdr *n;

	memset(nl, 0, sizeof(*nl));
	nl->sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (nl->sock < 0)
		return -errno;
	if (sec_nl_send(nl, GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY, CTRL_ATTR_FAMILY_NAME,
			SIGWAKE_GENL_NAME, sizeof(SIGWAKE_GENL_NAME)))
		return -EIO;
	len = (int)recv(nl->sock, buf, sizeof(buf), 0);
	n = (struct nlmsghdr *)buf;
	if (len < (int)NLMSG_HDRLEN || !NLMSG_OK(n, (unsigned int)len) ||
	    n->nlmsg_type == NLMSG_ERROR)
		return -ENOENT;
	{
		struct nlattr *na = (struct nlattr *)((char *)NLMSG_DATA(n) + GENL_HDRLEN);
		int alen = (int)n->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);

		for (; SEC_NLA_OK(na, alen); na = SEC_NLA_NEXT(na, alen))
			if (na->nla_type == CTRL_ATTR_FAMILY_ID)
				memcpy(&nl->family, (char *)na + NLA_HDRLEN, 2);
	}
	return nl->family ? 0 : -ENOENT;
}

/* Dump the visible domains: owner pids into pids[], their count or -errno. */
static int sec_nl_domains(struct sec_nl *nl, pid_t *pids, int max)
{
	char buf[16384];
	int count = 0;

	if (sec_nl_send(nl, nl->family, NLM_F_DUMP, SIGWAKE_NL_CMD_DOMAIN_GET, 0, NULL, 0))
		return -EIO;
	for (;;) {
		int len = (int)recv(nl->sock, buf, sizeof(buf), 0);
		struct nlmsghdr *n = (struct nlmsghdr *)buf;

		if (len < 0)
			return -errno;
		for (; NLMSG_OK(n, (unsigned int)len); n = NLMSG_NEXT(n, len)) {
			struct nlattr *na;
			int alen;

			if (n->nlmsg_type == NLMSG_DONE)
				return count;
			if (n->nlmsg_type == NLMSG_ERROR)
				return -EPROTO;
			na = (struct nlattr *)((char *)NLMSG_DATA(n) + GENL_HDRLEN);
			alen = (int)n->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
			for (; SEC_NLA_OK(na, alen); na = SEC_NLA_NEXT(na, alen)) {
				__u32 v;

				if ((na->nla_type & NLA_TYPE_MASK) != SIGWAKE_NL_A_PID)
					continue;
				memcpy(&v, (char *)na + NLA_HDRLEN, sizeof(v));
				if (count < max)
					pids[count] = (pid_t)v;
				count++;
			}
		}
	}
}

static bool sec_has(const pid_t *pids, int n, pid_t pid)
{
	int i;

	for (i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

struct sec_vis {
	pid_t root_pid;
	int to_parent[2], to_child[2];
};

/*
 * Become uid 65534, open @nl and dump: 0 if @hidden's domain is not shown,
 * else the failed step (2-4 setup, 5 @hidden's domain visible).
 */
static int sec_nobody_misses(struct sec_nl *nl, pid_t hidden)
{
	pid_t pids[256];
	int n;

	if (sec_drop_privileges())
		return 2;
	if (sec_nl_open(nl))
		return 3;
	n = sec_nl_domains(nl, pids, 256);
	if (n < 0)
		return 4;
	return sec_has(pids, n < 256 ? n : 256, hidden) ? 5 : 0;
}

static int sec_vis_child(void *arg)
{
	struct sec_vis *v = arg;
	struct sec_nl nl;
	pid_t pids[256];
	char c = 0;
	int n, fd;

	/* root's domain is not visible to nobody */
	n = sec_nobody_misses(&nl, v->root_pid);
	if (n)
		return n;
	fd = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 6;
	n = sec_nl_domains(&nl, pids, 256);
	if (n < 0 || !sec_has(pids, n < 256 ? n : 256, getpid()))
		return 7;	/* its own not visible */
	if (write(v->to_parent[1], "r", 1) != 1 || read(v->to_child[0], &c, 1) != 1)
		return 8;
	close(fd);
	return c == 'k' ? 0 : 9;
}

TEST(netlink_visibility)
{
	struct sec_vis v = { .root_pid = getpid() };
	struct sec_nl nl;
	pid_t pids[256], child;
	int fd, n, status, err;
	char c;

	SW_OPEN_DOMAIN(fd);
	err = sec_nl_open(&nl);
	if (err == -ENOENT)
		SKIP(return, "no generic netlink family \"sigwake\"");
	ASSERT_EQ(0, err);
	n = sec_nl_domains(&nl, pids, 256);
	ASSERT_LT(0, n);
	ASSERT_TRUE(sec_has(pids, n, getpid()));
	ASSERT_EQ(0, pipe(v.to_parent));
	ASSERT_EQ(0, pipe(v.to_child));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0)
		_exit(sec_vis_child(&v));
	/* once the child has its domain: root (CAP_SYS_ADMIN) sees it */
	c = 0;
	if (read(v.to_parent[0], &c, 1) == 1 && c == 'r') {
		n = sec_nl_domains(&nl, pids, 256);
		EXPECT_TRUE(n > 0 && sec_has(pids, n, child));
	}
	EXPECT_EQ(1, write(v.to_child[1], "k", 1));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) {
		TH_LOG("step: 2-4 setup, 5 root's domain visible to uid 65534, 7 its own domain not visible, 8/9 handshake");
	}
	close(nl.sock);
	close(fd);
}

/*
 * A setuid-root program started by uid 65534 (real uid 65534, effective and
 * saved 0, not dumpable) opens a domain: uid 65534 must not see it, as it
 * may not read that program's memory.  Root still does.
 */
static int sec_setuid_owner(int ready, int go)
{
	char c = 0;
	int fd;

	if (setresuid(SEC_NOBODY, 0, 0) || prctl(PR_SET_DUMPABLE, 0))
		return 2;
	fd = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 3;
	if (write(ready, "r", 1) != 1 || read(go, &c, 1) != 1)
		return 4;
	close(fd);
	return 0;
}

static int sec_setuid_viewer(void *arg)
{
	struct sec_nl nl;

	return sec_nobody_misses(&nl, *(pid_t *)arg);
}

TEST(netlink_hides_setuid_domain)
{
	int to_parent[2], to_child[2], status, err, n;
	struct sec_nl nl;
	pid_t owner, pids[256];
	char c = 0;

	err = sec_nl_open(&nl);
	if (err == -ENOENT)
		SKIP(return, "no generic netlink family \"sigwake\"");
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, pipe(to_parent));
	ASSERT_EQ(0, pipe(to_child));
	owner = fork();
	ASSERT_LE(0, owner);
	if (owner == 0)
		_exit(sec_setuid_owner(to_parent[1], to_child[0]));
	ASSERT_EQ(1, read(to_parent[0], &c, 1));
	/* root sees it ... */
	n = sec_nl_domains(&nl, pids, 256);
	EXPECT_TRUE(n > 0 && sec_has(pids, n < 256 ? n : 256, owner));
	/* ... the user who started it does not */
	EXPECT_EQ(0, sec_in_child(sec_setuid_viewer, &owner)) {
		TH_LOG("step: 2-4 setup, 5 the setuid program's domain is visible to uid 65534");
	}
	EXPECT_EQ(1, write(to_child[1], "k", 1));
	ASSERT_EQ(owner, waitpid(owner, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	close(nl.sock);
}

static void __attribute__((constructor)) sec_constructor_order_last(void)
{
	if (!__constructor_order)
		__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD;
}

int main(int argc, char **argv)
{
	static char exe[4096];
	ssize_t n;

	/* the far side of foreign_after_exec */
	if (argc == 3 && !strcmp(argv[1], "--exec-probe"))
		return sec_try_all(atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "--exec-victim"))
		return sec_exec_victim(atoi(argv[2]));
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		sec_self_exe = exe;
	}
	return test_harness_run(argc, argv);
}
