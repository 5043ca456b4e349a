// SPDX-License-Identifier: GPL-2.0
/*
 * An ioctl held in a user page fault.
 *
 * The kernel touches user memory inside several ioctls: it pins a block,
 * kick byte or queue word, and copies a WAIT's descriptor array.  The
 * memory's owner decides how long such a fault takes (a userfaultfd
 * monitor, a FUSE server that never answers), so:
 *
 *  - no lock that other callers, or the reaper of exited threads, need may
 *    be held across the fault: REGISTER or WQ_CREATE stalled on its page
 *    must not stop another thread's REGISTER, UNREGISTER, WQ_CREATE,
 *    WQ_DESTROY, nor the release of an exited thread's pages;
 *  - what happens while a WAIT is stalled before its pre-sleep checks is
 *    not missed: a close(2) of the domain by its owner then ends the WAIT
 *    with EBADF, as it ends one that sleeps.
 *
 * userfaultfd stops the kernel at the chosen fault; the tests SKIP where it
 * cannot (no userfaultfd, or not root).
 */
#include "sigwake_test.h"

#define STALL_MS	3000

/* 1 if userfaultfd cannot stop kernel code here (the test SKIPs). */
static int uffd_open(struct sw_uffd *u)
{
	int err = sw_uffd_open(u);

	if (err == -ENOSYS || err == -EPERM || err == -EINVAL)
		return 1;
	return err;
}

/* --- an ioctl stalled in a fault, run by a helper thread --- */

struct stalled {
	int fd;
	bool wq;		/* WQ_CREATE with its word there, else REGISTER */
	void *addr;
	int err;
	__u32 handle;
	int done;		/* atomic */
};

static void *stalled_fn(void *arg)
{
	struct stalled *s = arg;

	if (s->wq)
		s->err = sw_wq_create(s->fd, s->addr, &s->handle);
	else
		s->err = sw_register(s->fd, s->addr, NULL, 0, &s->handle);
	SW_STORE(&s->done, 1);
	return NULL;
}

/* --- what other threads must still get done meanwhile --- */

struct bystander {
	int fd;
	struct sigwake_thread_block *blk;
	int err[4];
	int done;		/* atomic */
};

static void *bystander_fn(void *arg)
{
	struct bystander *b = arg;
	__u32 h = 0, wq = 0;

	b->err[0] = sw_register(b->fd, b->blk, NULL, 0, &h);
	b->err[1] = sw_wq_create(b->fd, NULL, &wq);
	b->err[2] = sw_wq_destroy(b->fd, wq);
	b->err[3] = sw_unregister(b->fd, h);
	SW_STORE(&b->done, 1);
	return NULL;
}

/*
 * A thread that registers, then exits when told: the reaper must release
 * its pages.
 */
static void *exiter_fn(void *arg)
{
	struct bystander *b = arg;
	__u32 h;

	b->err[0] = sw_register(b->fd, b->blk, NULL, 0, &h);
	SW_STORE(&b->err[1], 1);
	while (!SW_LOAD(&b->done))
		usleep(1000);
	return NULL;
}

FIXTURE(stall) {
	int fd;
	struct sw_uffd u;
	struct sigwake_thread_block *blk;
	void *fill;
};

FIXTURE_VARIANT(stall) {
	bool wq;
};

FIXTURE_VARIANT_ADD(stall, register_block) {
	.wq = false,
};

FIXTURE_VARIANT_ADD(stall, wq_create_word) {
	.wq = true,
};

FIXTURE_SETUP(stall)
{
	self->fd = -1;
	self->u.fd = -1;
	self->blk = sw_alloc_blocks(2);
	ASSERT_NE(NULL, self->blk);
	self->fill = sw_alloc_page();
	ASSERT_NE(NULL, self->fill);
	SW_OPEN_DOMAIN(self->fd);
}

FIXTURE_TEARDOWN(stall)
{
	sw_uffd_close(&self->u);
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(stall, fault_holds_no_domain_lock)
{
	struct stalled s = { .fd = self->fd, .wq = variant->wq };
	struct bystander b = { .fd = self->fd, .blk = &self->blk[0] };
	/* Its own page, so that its release shows in the pinned count. */
	struct bystander e = { .fd = self->fd, .blk = sw_alloc_blocks(1) };
	long before[SW_OBJ_COUNT], now[SW_OBJ_COUNT];
	pthread_t st, bt, et;
	bool bystander_done, reaped;
	int r;

	r = uffd_open(&self->u);
	if (r > 0)
		SKIP(return, "userfaultfd from kernel code is not available");
	ASSERT_EQ(0, r);
	ASSERT_NE(NULL, e.blk);
	ASSERT_TRUE(sw_read_objects(before));

	/* A thread that registered, and exits during the stall. */
	ASSERT_EQ(0, pthread_create(&et, NULL, exiter_fn, &e));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&e.err[1]), SW_LONG_MS));
	ASSERT_EQ(0, e.err[0]);

	s.addr = self->u.page;
	ASSERT_EQ(0, pthread_create(&st, NULL, stalled_fn, &s));
	if (!SW_POLL(sw_uffd_wait_fault(&self->u, 10) || SW_LOAD(&s.done),
		     SW_LONG_MS) || SW_LOAD(&s.done)) {
		pthread_join(st, NULL);
		SW_STORE(&e.done, 1);
		pthread_join(et, NULL);
		/*
		 * Before Linux 6.3 a long-term pin faults without the right
		 * to retry, and userfaultfd answers such a fault with
		 * SIGBUS: the pin fails with EFAULT at once.  (A FUSE file
		 * still stalls it there.)
		 */
		if (s.err == -EFAULT)
			SKIP(return, "long-term pins do not wait for userfaultfd here");
		ASSERT_TRUE(false) {
			TH_LOG("no fault, and the ioctl returned %d", s.err);
		}
	}
	/* The ioctl sits in the fault now, until the page is filled. */
	SW_STORE(&e.done, 1);
	pthread_join(et, NULL);
	ASSERT_EQ(0, pthread_create(&bt, NULL, bystander_fn, &b));
	bystander_done = SW_POLL(SW_LOAD(&b.done), STALL_MS);
	/* The exited thread's block page is released by the reaper. */
	reaped = SW_POLL(sw_read_objects(now) &&
			 now[SW_OBJ_PINNED_PAGES] <= before[SW_OBJ_PINNED_PAGES],
			 STALL_MS);
	EXPECT_FALSE(SW_LOAD(&s.done));

	/* Let everything finish, whatever the verdict. */
	ASSERT_EQ(0, sw_uffd_fill(&self->u, self->fill));
	pthread_join(st, NULL);
	pthread_join(bt, NULL);
	EXPECT_EQ(0, s.err);

	EXPECT_TRUE(bystander_done) {
		TH_LOG("REGISTER/WQ_CREATE/WQ_DESTROY/UNREGISTER of another thread waited for the stalled %s",
		       variant->wq ? "WQ_CREATE" : "REGISTER");
	}
	EXPECT_TRUE(reaped) {
		TH_LOG("an exited thread's pages stayed pinned while %s stalled",
		       variant->wq ? "WQ_CREATE" : "REGISTER");
	}
	for (r = 0; r < 4; r++)
		EXPECT_EQ(0, b.err[r]);
}

/* --- close(2) while a WAIT is held before its pre-sleep checks --- */

struct waiter {
	int fd;
	struct sigwake_thread_block *blk;
	struct sigwake_pollfd *fds;
	int reg_err;
	int err;
	__u32 reason;
	int64_t took_ns;
	int registered;		/* atomic */
	int done;		/* atomic */
};

static void *waiter_fn(void *arg)
{
	struct waiter *w = arg;
	struct sigwake_wait_args a = {
		.size = sizeof(a), .wq = SIGWAKE_NO_WQ,
		.timeout_ns = STALL_MS * SW_NSEC_PER_MSEC,
		.fds = (unsigned long)w->fds, .nfds = 1,
	};
	__u32 h;
	int64_t t0;

	w->reg_err = sw_register(w->fd, w->blk, NULL, 0, &h);
	SW_STORE(&w->registered, 1);
	if (w->reg_err)
		return NULL;
	t0 = sw_now_ns();
	w->err = sw_ioctl(w->fd, SIGWAKE_IOC_WAIT, &a);
	w->took_ns = sw_now_ns() - t0;
	w->reason = a.reason;
	SW_STORE(&w->done, 1);
	return NULL;
}

FIXTURE(wait_stall) {
	int fd;
	struct sw_uffd u;
	struct sigwake_thread_block *blk;
	void *fill;
};

FIXTURE_SETUP(wait_stall)
{
	self->fd = -1;
	self->u.fd = -1;
	self->blk = sw_alloc_blocks(1);
	ASSERT_NE(NULL, self->blk);
	self->fill = sw_alloc_page();
	ASSERT_NE(NULL, self->fill);
	SW_OPEN_DOMAIN(self->fd);
}

FIXTURE_TEARDOWN(wait_stall)
{
	sw_uffd_close(&self->u);
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(wait_stall, close_while_wait_copies_its_fds_ends_it)
{
	struct waiter w = { .fd = self->fd, .blk = &self->blk[0] };
	struct sigwake_pollfd *pfd = self->fill;
	pthread_t th;
	int pipefd[2], dup_fd, r;

	r = uffd_open(&self->u);
	if (r > 0)
		SKIP(return, "userfaultfd from kernel code is not available");
	ASSERT_EQ(0, r);
	ASSERT_EQ(0, pipe(pipefd));
	dup_fd = dup(self->fd);
	ASSERT_LE(0, dup_fd);

	w.fds = self->u.page;
	ASSERT_EQ(0, pthread_create(&th, NULL, waiter_fn, &w));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&w.registered), SW_LONG_MS));
	ASSERT_EQ(0, w.reg_err);
	/* The WAIT has started: it is copying its descriptor array. */
	ASSERT_TRUE(sw_uffd_wait_fault(&self->u, SW_LONG_MS));
	ASSERT_EQ(0, close(dup_fd));

	/* A pipe that never becomes readable. */
	pfd[0] = (struct sigwake_pollfd){ .fd = pipefd[0], .events = POLLIN };
	ASSERT_EQ(0, sw_uffd_fill(&self->u, self->fill));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&w.done), SW_LONG_MS));
	pthread_join(th, NULL);
	EXPECT_EQ(-EBADF, w.err) {
		TH_LOG("WAIT returned %d (reason %u) after %lld ms: the close was missed",
		       w.err, w.reason, (long long)(w.took_ns / SW_NSEC_PER_MSEC));
	}
	close(pipefd[0]);
	close(pipefd[1]);
}

TEST_HARNESS_MAIN
