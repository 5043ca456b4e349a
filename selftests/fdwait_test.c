// SPDX-License-Identifier: GPL-2.0
/*
 * SIGWAKE_IOC_WAIT with file descriptors (struct sigwake_pollfd, version 1
 * of struct sigwake_wait_args): a ready descriptor returns REASON_FD at
 * once with revents; one that becomes ready while the thread sleeps wakes
 * it; guest signals, kicks and wakes come first and still fill in revents;
 * 64 descriptors; POLLHUP and POLLNVAL always count; a negative fd is
 * ignored; the limits and the errno paths (nfds, EFAULT, pad2); the old
 * 32-byte struct; a race of posts and writes that must lose nothing; and
 * REASON_FD only with a ready descriptor, whatever the wake-ups, which
 * never cost the thread a WAKE.
 *
 * Fixture:
 *   fdw   a domain with the test thread registered (blocks [0]), blocks
 *         [1..7] for helper threads, and a non-blocking pipe.
 */
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include "sigwake_test.h"

#define MS	SW_NSEC_PER_MSEC

FIXTURE(fdw) {
	int fd;
	struct sigwake_thread_block *blk;
	__u32 handle;
	int p[2];
};

FIXTURE_SETUP(fdw)
{
	self->fd = -1;
	self->blk = sw_alloc_blocks(8);
	ASSERT_NE(NULL, self->blk);
	ASSERT_EQ(0, pipe2(self->p, O_NONBLOCK | O_CLOEXEC));
	SW_OPEN_DOMAIN(self->fd);
	ASSERT_EQ(0, sw_register(self->fd, self->blk, NULL, 0, &self->handle));
}

FIXTURE_TEARDOWN(fdw)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* WAIT with descriptors; 0 or -errno, the reason in *reason. */
static int sw_wait_fds(int fd, __u32 wq, __u32 expected,
		       struct sigwake_pollfd *fds, __u32 nfds,
		       __s64 timeout_ns, __u32 *reason)
{
	struct sigwake_wait_args a = {
		.size = sizeof(a),
		.wq = wq,
		.expected = expected,
		.timeout_ns = timeout_ns,
		.fds = (__u64)(uintptr_t)fds,
		.nfds = nfds,
	};
	int ret;

	_Static_assert(sizeof(a) >= SIGWAKE_WAIT_ARGS_SIZE_VER1,
		       "struct sigwake_wait_args has version 1's fields");
	ret = sw_ioctl(fd, SIGWAKE_IOC_WAIT, &a);
	if (!ret && reason)
		*reason = a.reason;
	return ret;
}

static void put(int fd)
{
	(void)!write(fd, "x", 1);
}

/* ---- a helper thread that waits on descriptors --------------------- */

struct fdwaiter {
	int fd;
	struct sigwake_thread_block *blk;
	__u32 wq, expected;
	struct sigwake_pollfd *fds;
	__u32 nfds;
	__s64 timeout_ns;

	pthread_t th;
	__u32 handle;
	int reg_err, err;
	__u32 reason;
	int registered, waiting, done;	/* atomics */
	int64_t t_end;
};

static void *fdwaiter_fn(void *arg)
{
	struct fdwaiter *w = arg;

	w->reg_err = sw_register(w->fd, w->blk, NULL, 0, &w->handle);
	SW_STORE(&w->registered, 1);
	if (w->reg_err)
		return NULL;
	SW_STORE(&w->waiting, 1);
	w->err = sw_wait_fds(w->fd, w->wq, w->expected, w->fds, w->nfds,
			     w->timeout_ns, &w->reason);
	w->t_end = sw_now_ns();
	SW_STORE(&w->done, 1);
	return NULL;
}

/* Start it and wait until it sleeps in WAIT. */
static void fdwaiter_start(struct __test_metadata *_metadata,
			   struct fdwaiter *w, int fd,
			   struct sigwake_thread_block *blk,
			   struct sigwake_pollfd *fds, __u32 nfds)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->blk = blk;
	w->wq = SIGWAKE_NO_WQ;
	w->fds = fds;
	w->nfds = nfds;
	w->timeout_ns = SW_WATCHDOG_NS;
	ASSERT_EQ(0, pthread_create(&w->th, NULL, fdwaiter_fn, w));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&w->registered), SW_LONG_MS));
	ASSERT_EQ(0, w->reg_err);
	ASSERT_TRUE(SW_POLL(SW_LOAD(&w->waiting) &&
			    sw_state(blk) == SIGWAKE_WAITING, SW_LONG_MS));
}

static void fdwaiter_join(struct fdwaiter *w)
{
	pthread_join(w->th, NULL);
}

/* ------------------------------------------------------------------ */
/* readiness                                                            */

TEST_F(fdw, ready_fd_returns_at_once)
{
	struct sigwake_pollfd pfd = { .fd = self->p[0], .events = POLLIN,
				      .revents = 0x7fff };
	__u32 reason = 0;
	int64_t t0;

	put(self->p[1]);
	t0 = sw_now_ns();
	ASSERT_EQ(0, sw_wait_fds(self->fd, SIGWAKE_NO_WQ, 0, &pfd, 1,
				 SW_WATCHDOG_NS, &reason));
	EXPECT_EQ(SIGWAKE_REASON_FD, reason);
	EXPECT_EQ(POLLIN, pfd.revents);
	EXPECT_GT(2000 * MS, sw_now_ns() - t0);
	EXPECT_EQ(SIGWAKE_RUNNING_IN_HOST, sw_state(self->blk));
}

TEST_F(fdw, pollout_ready_at_once)
{
	struct sigwake_pollfd pfd = { .fd = self->p[1], .events = POLLOUT };
	__u32 reason = 0;

	ASSERT_EQ(0, sw_wait_fds(self->fd, SIGWAKE_NO_WQ, 0, &pfd, 1,
				 SW_WATCHDOG_NS, &reason));
	EXPECT_EQ(SIGWAKE_REASON_FD, reason);
	EXPECT_EQ(POLLOUT, pfd.revents);
}

TEST_F(fdw, becomes_ready_while_sleeping)
{
	struct sigwake_pollfd pfd = { .fd = self->p[0], .events = POLLIN };
	struct fdwaiter w;

	fdwaiter_start(_metadata, &w, self->fd, &self->blk[1], &pfd, 1);
	sw_sleep_ms(50);
	EXPECT_FALSE(SW_LOAD(&w.done));
	put(self->p[1]);
	ASSERT_TRUE(SW_POLL(SW_LOAD(&w.done), SW_LONG_MS));
	fdwaiter_join(&w);
	EXPECT_EQ(0, w.err);
	EXPECT_EQ(SIGWAKE_REASON_FD, w.reason);
	EXPECT_EQ(POLLIN, pfd.revents);
	EXPECT_EQ(SIGWAKE_RUNNING_IN_HOST, sw_state(&self->blk[1]));
}

TEST_F(fdw, eventfd_and_socket_become_ready)
{
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), sv[2];
	struct sigwake_pollfd pfd[2];
	struct fdwaiter w;
	__u64 one = 1;

	ASSERT_LE(0, efd);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pfd[0] = (struct sigwake_pollfd){ .fd = efd, .events = POLLIN };
	pfd[1] = (struct sigwake_pollfd){ .fd = sv[0], .events = POLLIN };

	fdwaiter_start(_metadata, &w, self->fd, &self->blk[1], pfd, 2);
	ASSERT_EQ(sizeof(one), write(efd, &one, sizeof(one)));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&w.done), SW_LONG_MS));
	fdwaiter_join(&w);
	EXPECT_EQ(SIGWAKE_REASON_FD, w.reason);
	EXPECT_EQ(POLLIN, pfd[0].revents);
	EXPECT_EQ(0, pfd[1].revents);

	ASSERT_EQ(sizeof(one), read(efd, &one, sizeof(one)));
	fdwaiter_start(_metadata, &w, self->fd, &self->blk[2], pfd, 2);
	ASSERT_EQ(1, write(sv[1], "s", 1));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&w.done), SW_LONG_MS));
	fdwaiter_join(&w);
	EXPECT_EQ(SIGWAKE_REASON_FD, w.reason);
	EXPECT_EQ(0, pfd[0].revents);
	EXPECT_EQ(POLLIN, pfd[1].revents);
	close(efd);
	close(sv[0]);
	close(sv[1]);
}

TEST_F(fdw, hup_always_counts)
{
	struct sigwake_pollfd pfd = { .fd = self->p[0], .events = 0 };
	__u32 reason = 0;

	/* no events asked for; the writer goes away: POLLHUP anyway */
	close(self->p[1]);
	ASSERT_EQ(0, sw_wait_fds(self->fd, SIGWAKE_NO_WQ, 0, &pfd, 1,
				 SW_WATCHDOG_NS, &reason));
	EXPECT_EQ(SIGWAKE_REASON_FD, reason);
	EXPECT_EQ(POLLHUP, pfd.revents);
}

TEST_F(fdw, hup_while_sleeping)
{
	struct sigwake_pollfd pfd = { .fd = self->p[0], .events = POLLIN };
	struct fdwaiter w;

	fdwaiter_start(_metadata, &w, self->fd, &self->blk[1], &pfd, 1);
	close(self->p[1]);
	ASSERT_TRUE(SW_POLL(SW_LOAD(&w.done), SW_LONG_MS));
	fdwaiter_join(&w);
	EXPECT_EQ(SIGWAKE_REASON_FD, w.reason);
	EXPECT_TRUE(pfd.revents & POLLHUP);
}

TEST_F(fdw, closed_fd_pollnval)
{
	int dead = dup(self->p[0]);
	struct sigwake_pollfd pfd[2];
	__u32 reason = 0;

	ASSERT_LE(0, dead);
	ASSERT_EQ(0, close(dead));
	pfd[0] = (struct sigwake_pollfd){ .fd = self->p[0], .events = POLLIN };
	pfd[1] = (struct sigwake_pollfd){ .fd = dead, .events = POLLIN };
	ASSERT_EQ(0, sw_wait_fds(self->fd, SIGWAKE_NO_WQ, 0, pfd, 2,
				 SW_WATCHDOG_NS, &reason));
	EXPECT_EQ(SIGWAKE_REASON_FD, reason);
	EXPECT_EQ(0, pfd[0].revents);
	EXPECT_EQ(POLLNVAL, pfd[1].revents);
}

TEST_F(fdw, negative_fd_ignored)
{
	struct sigwake_pollfd pfd[2] = {
		{ .fd = -1, .events = POLLIN, .revents = 0x55 },
		{ .fd = -42, .events = POLLOUT, .revents = 0x55 },
	};
	__u32 reason = 0;
	int64_t t0 = sw_now_ns();

	ASSERT_EQ(0, sw_wait_fds(self->fd, SIGWAKE_NO_WQ, 0, pfd, 2, 50 * MS,
				 &reason));
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, reason);
	EXPECT_LE(50 * MS, sw_now_ns() - t0);
	EXPECT_EQ(0, pfd[0].revents);
	EXPECT_EQ(0, pfd[1].revents);
}

TEST_F(fdw, timeout_with_fds)
{
	struct sigwake_pollfd pfd = { .fd = self->p[0], .events = POLLIN };
	__u32 reason = 0;
	int64_t t0 = sw_now_ns(), dt;

	ASSERT_EQ(0, sw_wait_fds(self->fd, SIGWAKE_NO_WQ, 0, &pfd, 1, 80 * MS,
				 &reason));
	dt = sw_now_ns() - t0;
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, reason);
	EXPECT_EQ(0, pfd.revents);
	EXPECT_LE(80 * MS, dt);
	EXPECT_GT(10000 * MS, dt);
	/* zero timeout: a poll */
	ASSERT_EQ(0, sw_wait_fds(self->fd, SIGWAKE_NO_WQ, 0, &pfd, 1, 0,
				 &reason));
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, reason);
	put(self->p[1]);
	ASSERT_EQ(0, sw_wait_fds(self->fd, SIGWAKE_NO_WQ, 0, &pfd, 1, 0,
				 &reason));
	EXPECT_EQ(SIGWAKE_REASON_FD, reason);
	EXPECT_EQ(POLLIN, pfd.revents);
}

/* ------------------------------------------------------------------ */
/* order: signal, kick and wake before the descriptors                  */

TEST_F(fdw, signal_posted_before_wait_wins)
{
	struct sigwake_pollfd pfd = { .fd = self->p[0], .events = POLLIN };
	__u32 reason = 0, outcome = 0;

	ASSERT_EQ(0, sw_post(self->fd, self->handle, SW_SIG, NULL, &outcome));
	EXPECT_EQ(SIGWAKE_POST_RECORDED, outcome);
	/* not ready: the signal */
	ASSERT_EQ(0, sw_wait_fds(self->fd, SIGWAKE_NO_WQ, 0, &pfd, 1,
				 SW_WATCHDOG_NS, &reason));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, reason);
	EXPECT_EQ(0, pfd.revents);
	/* ready too: still the signal first, and revents is filled in */
	put(self->p[1]);
	ASSERT_EQ(0, sw_wait_fds(self->fd, SIGWAKE_NO_WQ, 0, &pfd, 1,
				 SW_WATCHDOG_NS, &reason));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, reason);
	EXPECT_EQ(POLLIN, pfd.revents);
	EXPECT_EQ(SW_BIT(SW_SIG), sw_take_pending(self->blk));
	/* taken: now the descriptor */
	ASSERT_EQ(0, sw_wait_fds(self->fd, SIGWAKE_NO_WQ, 0, &pfd, 1,
				 SW_WATCHDOG_NS, &reason));
	EXPECT_EQ(SIGWAKE_REASON_FD, reason);
}

TEST_F(fdw, blocked_signal_does_not_beat_fd)
{
	struct sigwake_pollfd pfd = { .fd = self->p[0], .events = POLLIN };
	__u32 reason = 0;

	SW_STORE(&self->blk->blocked, SW_BIT(SW_SIG));
	ASSERT_EQ(0, sw_post(self->fd, self->handle, SW_SIG, NULL, NULL));
	put(self->p[1]);
	ASSERT_EQ(0, sw_wait_fds(self->fd, SIGWAKE_NO_WQ, 0, &pfd, 1,
				 SW_WATCHDOG_NS, &reason));
	EXPECT_EQ(SIGWAKE_REASON_FD, reason);
}

TEST_F(fdw, kick_flag_before_fd)
{
	struct sigwake_pollfd pfd = { .fd = self->p[0], .events = POLLIN };
	__u32 reason = 0;

	put(self->p[1]);
	ASSERT_EQ(0, sw_kick(self->fd, self->handle, NULL));
	ASSERT_EQ(0, sw_wait_fds(self->fd, SIGWAKE_NO_WQ, 0, &pfd, 1,
				 SW_WATCHDOG_NS, &reason));
	EXPECT_EQ(SIGWAKE_REASON_KICK, reason);
	EXPECT_EQ(POLLIN, pfd.revents);
}

TEST_F(fdw, word_mismatch_before_fd)
{
	struct sigwake_pollfd pfd = { .fd = self->p[0], .events = POLLIN };
	__u32 *word = sw_alloc_page(), wq, reason = 0;

	ASSERT_NE(NULL, word);
	ASSERT_EQ(0, sw_wq_create(self->fd, word, &wq));
	*word = 5;
	put(self->p[1]);
	EXPECT_EQ(-EAGAIN, sw_wait_fds(self->fd, wq, 4, &pfd, 1,
				       SW_WATCHDOG_NS, &reason));
	ASSERT_EQ(0, sw_wait_fds(self->fd, wq, 5, &pfd, 1, SW_WATCHDOG_NS,
				 &reason));
	EXPECT_EQ(SIGWAKE_REASON_FD, reason);
}

TEST_F(fdw, post_while_sleeping_on_fd)
{
	struct sigwake_pollfd pfd = { .fd = self->p[0], .events = POLLIN };
	struct fdwaiter w;
	__u32 outcome = 0;

	fdwaiter_start(_metadata, &w, self->fd, &self->blk[1], &pfd, 1);
	ASSERT_EQ(0, sw_post(self->fd, w.handle, SW_SIG, NULL, &outcome));
	EXPECT_EQ(SIGWAKE_POST_WOKEN, outcome);
	ASSERT_TRUE(SW_POLL(SW_LOAD(&w.done), SW_LONG_MS));
	fdwaiter_join(&w);
	EXPECT_EQ(0, w.err);
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, w.reason);
	EXPECT_EQ(0, pfd.revents);
	EXPECT_EQ(SW_BIT(SW_SIG), SW_LOAD(&self->blk[1].pending));
}

TEST_F(fdw, kick_while_sleeping_on_fd)
{
	struct sigwake_pollfd pfd = { .fd = self->p[0], .events = POLLIN };
	struct fdwaiter w;
	__u32 outcome = 0;

	fdwaiter_start(_metadata, &w, self->fd, &self->blk[1], &pfd, 1);
	ASSERT_EQ(0, sw_kick(self->fd, w.handle, &outcome));
	EXPECT_EQ(SIGWAKE_POST_WOKEN, outcome);
	ASSERT_TRUE(SW_POLL(SW_LOAD(&w.done), SW_LONG_MS));
	fdwaiter_join(&w);
	EXPECT_EQ(SIGWAKE_REASON_KICK, w.reason);
}

TEST_F(fdw, wake_while_sleeping_on_queue_and_fd)
{
	struct sigwake_pollfd pfd = { .fd = self->p[0], .events = POLLIN };
	struct fdwaiter w;
	__u32 wq, woken = 0;

	ASSERT_EQ(0, sw_wq_create(self->fd, NULL, &wq));
	memset(&w, 0, sizeof(w));
	w.fd = self->fd;
	w.blk = &self->blk[1];
	w.wq = wq;
	w.fds = &pfd;
	w.nfds = 1;
	w.timeout_ns = SW_WATCHDOG_NS;
	ASSERT_EQ(0, pthread_create(&w.th, NULL, fdwaiter_fn, &w));
	ASSERT_TRUE(SW_POLL(sw_state(&self->blk[1]) == SIGWAKE_WAITING,
			    SW_LONG_MS));
	ASSERT_EQ(0, sw_wake(self->fd, wq, 1, &woken));
	EXPECT_EQ(1, woken);
	ASSERT_TRUE(SW_POLL(SW_LOAD(&w.done), SW_LONG_MS));
	fdwaiter_join(&w);
	EXPECT_EQ(SIGWAKE_REASON_WAKE, w.reason);
	EXPECT_EQ(0, pfd.revents);
}

/* ------------------------------------------------------------------ */
/* many descriptors, limits                                             */

TEST_F(fdw, sixty_four_fds)
{
	struct sigwake_pollfd pfd[64];
	int pipes[64][2], i;
	struct fdwaiter w;
	__u32 reason = 0;

	for (i = 0; i < 64; i++) {
		ASSERT_EQ(0, pipe2(pipes[i], O_NONBLOCK | O_CLOEXEC));
		pfd[i] = (struct sigwake_pollfd){ .fd = pipes[i][0],
						  .events = POLLIN };
	}
	/* one ready before: at once, only its revents */
	put(pipes[37][1]);
	ASSERT_EQ(0, sw_wait_fds(self->fd, SIGWAKE_NO_WQ, 0, pfd, 64,
				 SW_WATCHDOG_NS, &reason));
	EXPECT_EQ(SIGWAKE_REASON_FD, reason);
	for (i = 0; i < 64; i++)
		EXPECT_EQ(i == 37 ? POLLIN : 0, pfd[i].revents);
	/* the last one becomes ready while sleeping */
	{
		char c;

		ASSERT_EQ(1, read(pipes[37][0], &c, 1));
	}
	fdwaiter_start(_metadata, &w, self->fd, &self->blk[1], pfd, 64);
	put(pipes[63][1]);
	ASSERT_TRUE(SW_POLL(SW_LOAD(&w.done), SW_LONG_MS));
	fdwaiter_join(&w);
	EXPECT_EQ(SIGWAKE_REASON_FD, w.reason);
	for (i = 0; i < 64; i++)
		EXPECT_EQ(i == 63 ? POLLIN : 0, pfd[i].revents);
	for (i = 0; i < 64; i++) {
		close(pipes[i][0]);
		close(pipes[i][1]);
	}
}

TEST_F(fdw, same_fd_twice)
{
	struct sigwake_pollfd pfd[2] = {
		{ .fd = self->p[0], .events = POLLIN },
		{ .fd = self->p[0], .events = POLLIN },
	};
	__u32 reason = 0;

	put(self->p[1]);
	ASSERT_EQ(0, sw_wait_fds(self->fd, SIGWAKE_NO_WQ, 0, pfd, 2,
				 SW_WATCHDOG_NS, &reason));
	EXPECT_EQ(SIGWAKE_REASON_FD, reason);
	EXPECT_EQ(POLLIN, pfd[0].revents);
	EXPECT_EQ(POLLIN, pfd[1].revents);
}

TEST_F(fdw, max_fds_ok_and_over_einval)
{
	struct sigwake_pollfd *pfd;
	__u32 reason = 0, i;

	pfd = calloc(SIGWAKE_WAIT_MAX_FDS + 1, sizeof(*pfd));
	ASSERT_NE(NULL, pfd);
	for (i = 0; i <= SIGWAKE_WAIT_MAX_FDS; i++)
		pfd[i] = (struct sigwake_pollfd){ .fd = -1 };
	pfd[SIGWAKE_WAIT_MAX_FDS - 1].fd = self->p[1];
	pfd[SIGWAKE_WAIT_MAX_FDS - 1].events = POLLOUT;
	ASSERT_EQ(0, sw_wait_fds(self->fd, SIGWAKE_NO_WQ, 0, pfd,
				 SIGWAKE_WAIT_MAX_FDS, SW_WATCHDOG_NS, &reason));
	EXPECT_EQ(SIGWAKE_REASON_FD, reason);
	EXPECT_EQ(POLLOUT, pfd[SIGWAKE_WAIT_MAX_FDS - 1].revents);
	EXPECT_EQ(-EINVAL, sw_wait_fds(self->fd, SIGWAKE_NO_WQ, 0, pfd,
				       SIGWAKE_WAIT_MAX_FDS + 1, 0, &reason));
	EXPECT_EQ(-EINVAL, sw_wait_fds(self->fd, SIGWAKE_NO_WQ, 0, pfd,
				       0xffffffffu, 0, &reason));
	free(pfd);
}

TEST_F(fdw, bad_fds_pointer_efault)
{
	void *gone = sw_unmapped_addr();
	__u32 reason = 0;

	ASSERT_NE(NULL, gone);
	EXPECT_EQ(-EFAULT, sw_wait_fds(self->fd, SIGWAKE_NO_WQ, 0, gone, 1, 0,
				       &reason));
	EXPECT_EQ(-EFAULT, sw_wait_fds(self->fd, SIGWAKE_NO_WQ, 0, NULL, 1, 0,
				       &reason));
	EXPECT_EQ(-EFAULT, sw_wait_fds(self->fd, SIGWAKE_NO_WQ, 0,
				       (void *)(uintptr_t)SW_KERNEL_ADDR, 1, 0,
				       &reason));
	/* a readable but read-only array: revents cannot be written back */
	{
		struct sigwake_pollfd *ro = sw_readonly_page();

		ASSERT_NE(NULL, ro);
		/* fd 0 of a zero page: ready or not, the result is EFAULT */
		EXPECT_EQ(-EFAULT, sw_wait_fds(self->fd, SIGWAKE_NO_WQ, 0, ro,
					       1, 0, &reason));
	}
	/* the thread is usable afterwards */
	ASSERT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, 0, 0, &reason));
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, reason);
	EXPECT_EQ(SIGWAKE_RUNNING_IN_HOST, sw_state(self->blk));
}

TEST_F(fdw, nonzero_pad2_einval)
{
	struct sigwake_pollfd pfd = { .fd = self->p[0], .events = POLLIN };
	struct sigwake_wait_args a = {
		.size = sizeof(a),
		.wq = SIGWAKE_NO_WQ,
		.fds = (__u64)(uintptr_t)&pfd,
		.nfds = 1,
		.pad2 = 1,
	};

	EXPECT_EQ(-EINVAL, sw_ioctl(self->fd, SIGWAKE_IOC_WAIT, &a));
}

/* ------------------------------------------------------------------ */
/* the old struct                                                       */

TEST_F(fdw, old_32_byte_struct_still_works)
{
	/* version 0: 32 bytes, then a sentinel the kernel must not touch */
	unsigned char buf[SIGWAKE_WAIT_ARGS_SIZE_VER1 + 16];
	struct sigwake_wait_args *a = (void *)buf;
	__u32 reason;
	int i;

	memset(buf, 0xa5, sizeof(buf));
	memset(buf, 0, SIGWAKE_WAIT_ARGS_SIZE_VER0);
	a->size = SIGWAKE_WAIT_ARGS_SIZE_VER0;
	a->wq = SIGWAKE_NO_WQ;
	a->timeout_ns = 0;
	ASSERT_EQ(0, sw_ioctl(self->fd, SIGWAKE_IOC_WAIT, a));
	memcpy(&reason, &a->reason, sizeof(reason));
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, reason);
	for (i = SIGWAKE_WAIT_ARGS_SIZE_VER0; i < (int)sizeof(buf); i++)
		EXPECT_EQ(0xa5, buf[i]);

	/* a posted signal still wakes a version-0 waiter */
	ASSERT_EQ(0, sw_post(self->fd, self->handle, SW_SIG, NULL, NULL));
	a->timeout_ns = SW_WATCHDOG_NS;
	a->reason = 0;
	ASSERT_EQ(0, sw_ioctl(self->fd, SIGWAKE_IOC_WAIT, a));
	EXPECT_EQ(SIGWAKE_REASON_SIGNAL, a->reason);
	for (i = SIGWAKE_WAIT_ARGS_SIZE_VER0; i < (int)sizeof(buf); i++)
		EXPECT_EQ(0xa5, buf[i]);
	/* version 0 cannot name descriptors: a ready pipe does not count */
	sw_take_pending(self->blk);
	put(self->p[1]);
	a->timeout_ns = 0;
	ASSERT_EQ(0, sw_ioctl(self->fd, SIGWAKE_IOC_WAIT, a));
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, a->reason);
}

TEST_F(fdw, nfds_zero_is_a_plain_wait)
{
	__u32 reason = 0;

	put(self->p[1]);
	ASSERT_EQ(0, sw_wait_fds(self->fd, SIGWAKE_NO_WQ, 0, NULL, 0, 0,
				 &reason));
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, reason);
}

/* ------------------------------------------------------------------ */
/* the 2011 race: posts and writes at random moments, nothing lost     */

struct racer {
	int fd, wfd;
	__u32 target;
	int iters;
	__u32 start, done;	/* atomics: iteration + 1 */
	unsigned long long rs;
};

static void *racer_fn(void *arg)
{
	struct racer *r = arg;

	for (int i = 0; i < r->iters; i++) {
		if (!SW_POLL(SW_LOAD(&r->start) == (__u32)i + 1, SW_LONG_MS))
			return NULL;
		r->rs ^= r->rs << 13;
		r->rs ^= r->rs >> 7;
		r->rs ^= r->rs << 17;
		switch (r->rs % 4) {
		case 0:
			break;
		case 1:
			sched_yield();
			break;
		default: {
			int64_t end = sw_now_ns() + (int64_t)(r->rs % 100) * 1000;

			while (sw_now_ns() < end)
				;
		}
		}
		if (r->rs & 16)
			sw_post(r->fd, r->target, SW_SIG, NULL, NULL);
		else
			put(r->wfd);
		if (!SW_POLL(SW_LOAD(&r->done) == (__u32)i + 1, SW_LONG_MS))
			return NULL;
	}
	return NULL;
}

TEST_F(fdw, race_posts_and_writes_lose_nothing)
{
	struct sigwake_pollfd pfd = { .fd = self->p[0], .events = POLLIN };
	struct racer r = {
		.fd = self->fd, .wfd = self->p[1], .target = self->handle,
		.iters = 2000, .rs = 0x9e3779b97f4a7c15ull,
	};
	int sigs = 0, fds = 0, lost = 0;
	pthread_t th;

	ASSERT_EQ(0, pthread_create(&th, NULL, racer_fn, &r));
	for (int i = 0; i < r.iters && lost < 3; i++) {
		__u32 reason = 0;
		char c;

		SW_STORE(&r.start, (__u32)i + 1);
		ASSERT_EQ(0, sw_wait_fds(self->fd, SIGWAKE_NO_WQ, 0, &pfd, 1,
					 SW_WATCHDOG_NS, &reason));
		switch (reason) {
		case SIGWAKE_REASON_SIGNAL:
			sigs++;
			EXPECT_EQ(SW_BIT(SW_SIG), sw_take_pending(self->blk));
			break;
		case SIGWAKE_REASON_FD:
			fds++;
			EXPECT_EQ(POLLIN, pfd.revents);
			EXPECT_EQ(1, read(self->p[0], &c, 1));
			break;
		default:
			lost++;
			TH_LOG("iteration %d: reason %u (lost event)", i, reason);
		}
		SW_STORE(&r.done, (__u32)i + 1);
	}
	pthread_join(th, NULL);
	EXPECT_EQ(0, lost);
	EXPECT_EQ(r.iters, sigs + fds);
	TH_LOG("%d signals, %d descriptor wakes", sigs, fds);
}

/*
 * A pipe whose byte a third thread steals: a readiness callback may come
 * from a write whose byte is gone by the time the waiter looks, or late,
 * from a write the waiter already consumed.  As with poll(2), neither may
 * end the wait: REASON_FD means a descriptor is ready, and its revents
 * say which, from the same look.
 */
struct thief {
	int rfd, wfd;
	__u32 stop;	/* atomic */
	long writes;
};

static void *thief_write_fn(void *arg)
{
	struct thief *t = arg;

	while (!SW_LOAD(&t->stop)) {
		if (write(t->wfd, "x", 1) == 1)
			t->writes++;
		sched_yield();
	}
	return NULL;
}

static void *thief_read_fn(void *arg)
{
	struct thief *t = arg;
	char buf[64];

	while (!SW_LOAD(&t->stop))
		(void)!read(t->rfd, buf, sizeof(buf));
	return NULL;
}

TEST_F(fdw, fd_reason_always_has_revents)
{
	struct thief t = { .rfd = self->p[0], .wfd = self->p[1] };
	int64_t end = sw_now_ns() + 3 * SW_NSEC_PER_SEC;
	int fds = 0, timeouts = 0, empty = 0, i;
	pthread_t wr, rd;

	ASSERT_EQ(0, pthread_create(&wr, NULL, thief_write_fn, &t));
	ASSERT_EQ(0, pthread_create(&rd, NULL, thief_read_fn, &t));
	for (i = 0; i < 20000 && sw_now_ns() < end; i++) {
		struct sigwake_pollfd pfd = {
			.fd = self->p[0], .events = POLLIN, .revents = -1,
		};
		__u32 reason = 0;

		ASSERT_EQ(0, sw_wait_fds(self->fd, SIGWAKE_NO_WQ, 0, &pfd, 1,
					 MS, &reason));
		if (reason == SIGWAKE_REASON_TIMEOUT) {
			timeouts++;
			continue;
		}
		ASSERT_EQ(SIGWAKE_REASON_FD, reason);
		fds++;
		if (pfd.revents != POLLIN && empty++ < 3)
			TH_LOG("wait %d: REASON_FD with revents %#x", i,
			       pfd.revents);
	}
	SW_STORE(&t.stop, 1);
	pthread_join(wr, NULL);
	pthread_join(rd, NULL);
	TH_LOG("%d waits: %d REASON_FD, %d timeouts, %ld writes", i, fds,
	       timeouts, t.writes);
	EXPECT_EQ(0, empty);
	/* The race was run: the writer got through and woke the waiter. */
	EXPECT_LT(0, fds);
}

/*
 * A hint that finds nothing ready must not take the thread off its queue:
 * a WAKE that lands while it looks still wakes it.  The hints here are
 * real: a signalfd's queue is woken, with no key, by every signal sent to
 * the process, here a blocked real-time signal the signalfd does not
 * accept.  So the descriptor is never ready and every WAKE must count.
 */
struct hinted {
	int fd, sfd;
	struct sigwake_thread_block *blk;
	__u32 wq, rounds;
	pid_t tid;
	__u32 registered, returned, stop, done;	/* atomics */
	__u32 wakes, others, last_reason;
	int err;
};

#define HINT_SIGNO	(SIGRTMIN + 5)

static void *hinted_fn(void *arg)
{
	struct hinted *h = arg;
	struct timespec zero = { 0 };
	sigset_t set;
	__u32 handle;

	sigemptyset(&set);
	sigaddset(&set, HINT_SIGNO);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	h->tid = sw_gettid();
	h->err = sw_register(h->fd, h->blk, NULL, 0, &handle);
	SW_STORE(&h->registered, 1);
	for (__u32 i = 0; !h->err && i < h->rounds && !SW_LOAD(&h->stop);
	     i++) {
		struct sigwake_pollfd pfd = { .fd = h->sfd, .events = POLLIN };
		__u32 reason = 0;

		h->err = sw_wait_fds(h->fd, h->wq, 0, &pfd, 1,
				     SW_WATCHDOG_NS, &reason);
		if (reason == SIGWAKE_REASON_WAKE) {
			h->wakes++;
		} else {
			h->others++;
			h->last_reason = reason;
		}
		while (sigtimedwait(&set, NULL, &zero) == HINT_SIGNO)
			;
		SW_STORE(&h->returned, i + 1);
	}
	SW_STORE(&h->done, 1);
	return NULL;
}

TEST_F(fdw, wake_during_fd_hint_is_not_lost)
{
	struct hinted h = {
		.fd = self->fd, .blk = &self->blk[1], .rounds = 1000,
	};
	__u32 zero_wakes = 0;
	sigset_t other;
	pthread_t th;

	sigemptyset(&other);
	sigaddset(&other, SIGUSR2);
	h.sfd = signalfd(-1, &other, SFD_CLOEXEC | SFD_NONBLOCK);
	ASSERT_LE(0, h.sfd);
	ASSERT_EQ(0, sw_wq_create(self->fd, NULL, &h.wq));
	ASSERT_EQ(0, pthread_create(&th, NULL, hinted_fn, &h));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&h.registered), SW_LONG_MS));
	ASSERT_EQ(0, h.err);
	for (__u32 i = 0; i < h.rounds; i++) {
		__u32 woken = 0;

		if (!SW_POLL(SW_LOAD(&h.returned) == i &&
			     sw_state(h.blk) == SIGWAKE_WAITING, SW_LONG_MS))
			break;
		/* Two hints, then the WAKE, while the thread may be looking. */
		syscall(SYS_tgkill, getpid(), h.tid, HINT_SIGNO);
		syscall(SYS_tgkill, getpid(), h.tid, HINT_SIGNO);
		if (i & 1)
			sched_yield();
		ASSERT_EQ(0, sw_wake(self->fd, h.wq, 1, &woken));
		if (!woken && zero_wakes++ < 3)
			TH_LOG("round %u: WAKE found no waiter", i);
		if (!woken)
			break;
	}
	/* Stop it, whether it sleeps now or not. */
	SW_STORE(&h.stop, 1);
	while (!SW_POLL(SW_LOAD(&h.done), 10))
		sw_wake(self->fd, h.wq, 1, NULL);
	pthread_join(th, NULL);
	close(h.sfd);
	EXPECT_EQ(0, h.err);
	EXPECT_EQ(0, zero_wakes);
	EXPECT_EQ(h.rounds, SW_LOAD(&h.returned));
	EXPECT_EQ(h.rounds, h.wakes);
	EXPECT_EQ(0, h.others) {
		TH_LOG("last other reason %u", h.last_reason);
	}
}

TEST_HARNESS_MAIN
