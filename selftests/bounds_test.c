// SPDX-License-Identifier: GPL-2.0
/*
 * What a caller can make the kernel keep: an exited thread's registration
 * is freed, leaving only its handle.
 *
 * A registration of a thread that exits without unregistering is released
 * by the kernel (pages, charge, task reference), and its handle answers
 * ESRCH until it is unregistered or the domain is closed.  Only the handle
 * may stay: short-lived threads registering in many domains must not leave
 * a kernel object each behind (the live "threads" count of debugfs comes
 * back), and the handle still behaves as the contract says.
 */
#include "sigwake_test.h"

#define EXITERS	64

struct exiter {
	int fd;
	struct sigwake_thread_block *blk;
	int err;
	__u32 handle;
};

static void *exiter_fn(void *arg)
{
	struct exiter *e = arg;

	e->err = sw_register(e->fd, e->blk, NULL, 0, &e->handle);
	return NULL;
}

FIXTURE(exited) {
	int fd;
	struct sigwake_thread_block *blk;
	struct exiter e[EXITERS];
	long before[SW_OBJ_COUNT];
};

FIXTURE_SETUP(exited)
{
	pthread_t th;
	int i;

	self->fd = -1;
	self->blk = sw_alloc_blocks(EXITERS);
	ASSERT_NE(NULL, self->blk);
	SW_OPEN_DOMAIN(self->fd);
	ASSERT_TRUE(sw_read_objects(self->before));
	for (i = 0; i < EXITERS; i++) {
		self->e[i] = (struct exiter){ .fd = self->fd,
					      .blk = &self->blk[i] };
		ASSERT_EQ(0, pthread_create(&th, NULL, exiter_fn,
					    &self->e[i]));
		pthread_join(th, NULL);
		ASSERT_EQ(0, self->e[i].err);
	}
}

FIXTURE_TEARDOWN(exited)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* The objects go; the pinned page goes with them. */
TEST_F(exited, registrations_are_freed)
{
	long now[SW_OBJ_COUNT];
	bool freed;

	freed = SW_POLL(sw_read_objects(now) &&
			now[SW_OBJ_THREADS] <= self->before[SW_OBJ_THREADS] &&
			now[SW_OBJ_PINNED_PAGES] <=
				self->before[SW_OBJ_PINNED_PAGES],
			SW_LONG_MS);
	EXPECT_TRUE(freed) {
		TH_LOG("%d exited registrations: live threads %ld -> %ld, pinned pages %ld -> %ld",
		       EXITERS, self->before[SW_OBJ_THREADS],
		       now[SW_OBJ_THREADS], self->before[SW_OBJ_PINNED_PAGES],
		       now[SW_OBJ_PINNED_PAGES]);
	}
}

/* The handles stay, answer ESRCH, and unregister once. */
static void check_handles(struct __test_metadata *_metadata, int fd,
			  const struct exiter *e)
{
	__u32 outcome = 0, h = 0;
	int i;

	for (i = 0; i < EXITERS; i++) {
		EXPECT_EQ(-ESRCH, sw_post(fd, e[i].handle, SW_SIG, NULL,
					  &outcome));
		EXPECT_EQ(-ESRCH, sw_kick(fd, e[i].handle, &outcome));
	}
	/* FORWARD to an exited thread: refused, not silently useless. */
	{
		struct sigwake_forward_args f = {
			.size = sizeof(f), .host_signo = SIGUSR2,
			.guest_signo = SW_SIG, .target = e[0].handle,
		};

		EXPECT_EQ(-ESRCH, sw_ioctl(fd, SIGWAKE_IOC_FORWARD, &f));
	}
	/* Process-directed: no exited thread is picked. */
	EXPECT_EQ(0, sw_post(fd, SIGWAKE_TARGET_ANY, SW_SIG, &h, &outcome));
	EXPECT_EQ(SIGWAKE_POST_QUEUED, outcome);
	EXPECT_EQ(0, h);
	for (i = 0; i < EXITERS; i++) {
		EXPECT_EQ(0, sw_unregister(fd, e[i].handle));
		EXPECT_EQ(-ENOENT, sw_unregister(fd, e[i].handle));
		EXPECT_EQ(-ENOENT, sw_post(fd, e[i].handle, SW_SIG, NULL,
					   &outcome));
	}
}

TEST_F(exited, handles_answer_esrch_until_unregistered)
{
	long now[SW_OBJ_COUNT];

	ASSERT_TRUE(SW_POLL(sw_read_objects(now) &&
			    now[SW_OBJ_THREADS] <=
				self->before[SW_OBJ_THREADS], SW_LONG_MS));
	check_handles(_metadata, self->fd, self->e);
}

/* An exited thread's handle still counts toward max_threads_per_domain. */
TEST_F(exited, handles_count_until_unregistered)
{
	long saved = sw_param_read("max_threads_per_domain");
	long now[SW_OBJ_COUNT];
	__u32 h;

	if (saved == -EACCES || geteuid())
		SKIP(return, "needs root to lower max_threads_per_domain");
	ASSERT_LT(0, saved);
	ASSERT_TRUE(SW_POLL(sw_read_objects(now) &&
			    now[SW_OBJ_THREADS] <=
				self->before[SW_OBJ_THREADS], SW_LONG_MS));
	ASSERT_EQ(0, sw_param_write("max_threads_per_domain", EXITERS));
	EXPECT_EQ(-ENOSPC, sw_register(self->fd, &self->blk[0], NULL, 0, &h));
	EXPECT_EQ(0, sw_unregister(self->fd, self->e[0].handle));
	EXPECT_EQ(0, sw_register(self->fd, &self->blk[0], NULL, 0, &h));
	/* Handles are reused lowest first. */
	EXPECT_EQ(self->e[0].handle, h);
	EXPECT_EQ(0, sw_param_write("max_threads_per_domain", saved));
}

/*
 * Exited threads' handles are left in the table that a process-directed
 * POST walks without the domain's lock: threads that register and exit in
 * a loop while another thread posts to TARGET_ANY.  Every post must end
 * with a valid outcome (and nothing may oops).
 */
struct churn {
	int fd;
	struct sigwake_thread_block *blk;
	int stop;		/* atomic */
	unsigned long posts, bad;
	int last_err;
};

static void *churn_exiter(void *arg)
{
	struct churn *c = arg;
	__u32 h;

	if (!sw_register(c->fd, c->blk, NULL, 0, &h))
		sw_set_state(c->blk, SIGWAKE_RUNNING_IN_HOST);
	return NULL;
}

static void *churn_poster(void *arg)
{
	struct churn *c = arg;
	__u32 h, outcome;
	int err;

	while (!SW_LOAD(&c->stop)) {
		err = sw_post(c->fd, SIGWAKE_TARGET_ANY, SW_SIG, &h, &outcome);
		c->posts++;
		if (err || outcome < SIGWAKE_POST_RECORDED ||
		    outcome > SIGWAKE_POST_QUEUED) {
			c->bad++;
			c->last_err = err;
		}
	}
	return NULL;
}

TEST_F(exited, post_any_while_threads_exit)
{
	struct churn c = { .fd = self->fd };
	int64_t end = sw_now_ns() + 2 * SW_NSEC_PER_SEC;
	unsigned long exits = 0;
	pthread_t poster, th;
	__u32 i;

	c.blk = sw_alloc_blocks(64);
	ASSERT_NE(NULL, c.blk);
	ASSERT_EQ(0, pthread_create(&poster, NULL, churn_poster, &c));
	for (i = 0; sw_now_ns() < end; i++) {
		struct churn one = c;

		one.blk = &c.blk[i % 64];
		if (pthread_create(&th, NULL, churn_exiter, &one))
			break;
		pthread_join(th, NULL);
		exits++;
		/* Keep the handle table from filling up: unregister some. */
		if (i % 64 == 63) {
			__u32 h;

			for (h = 1; h <= 64 + EXITERS; h++)
				sw_unregister(self->fd, h);
		}
	}
	SW_STORE(&c.stop, 1);
	pthread_join(poster, NULL);
	TH_LOG("%lu threads exited under %lu TARGET_ANY posts", exits, c.posts);
	EXPECT_LT(0, exits);
	EXPECT_LT(0, c.posts);
	EXPECT_EQ(0, c.bad) {
		TH_LOG("last error %d", c.last_err);
	}
}

TEST_HARNESS_MAIN
