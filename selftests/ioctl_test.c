// SPDX-License-Identifier: GPL-2.0
/*
 * sigwake ioctl contract: argument structs, flags, handles and every errno of
 * uapi/linux/sigwake.h, with raw ioctls.
 *
 * Fixtures, one per kind of handle:
 *   domain  an open /dev/sigwake, nothing registered
 *   thread  a domain with the test thread registered
 *   wq      a registered thread plus a queue bound to a word
 *   limits  a domain and the module parameters, restored afterwards
 */
#include <poll.h>
#include <stddef.h>
#include <linux/userfaultfd.h>

#include "sigwake_test.h"

/* ------------------------------------------------------------------ */

FIXTURE(domain) {
	int fd;
	struct sigwake_thread_block *blk;	/* 4 blocks, one page */
};

FIXTURE_SETUP(domain)
{
	self->fd = -1;
	self->blk = sw_alloc_blocks(4);
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
	struct sigwake_thread_block *blk;
	__u32 handle;
};

FIXTURE_SETUP(thread)
{
	self->fd = -1;
	self->blk = sw_alloc_blocks(4);
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
	struct sigwake_thread_block *blk;
	__u32 handle;
	__u32 *word;
	__u32 wq;
};

FIXTURE_SETUP(wq)
{
	self->fd = -1;
	self->blk = sw_alloc_blocks(1);
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

/* ------------------------------------------------------------------ */
/* struct-size and pointer semantics, every command                    */

struct cmd_desc {
	const char *name;
	unsigned long cmd;
	__u32 ver0;	/* shortest size the kernel accepts */
	__u32 size;	/* the struct as this header (and the kernel) knows it */
};

/* REGISTER first: the domain tests run it unregistered, then register. */
static const struct cmd_desc cmds[] = {
	{ "REGISTER", SIGWAKE_IOC_REGISTER, SIGWAKE_REGISTER_ARGS_SIZE_VER0,
	  sizeof(struct sigwake_register_args) },
	{ "UNREGISTER", SIGWAKE_IOC_UNREGISTER, SIGWAKE_UNREGISTER_ARGS_SIZE_VER0,
	  sizeof(struct sigwake_unregister_args) },
	{ "WAIT", SIGWAKE_IOC_WAIT, SIGWAKE_WAIT_ARGS_SIZE_VER0,
	  sizeof(struct sigwake_wait_args) },
	{ "WAKE", SIGWAKE_IOC_WAKE, SIGWAKE_WAKE_ARGS_SIZE_VER0,
	  sizeof(struct sigwake_wake_args) },
	{ "POST", SIGWAKE_IOC_POST, SIGWAKE_POST_ARGS_SIZE_VER0,
	  sizeof(struct sigwake_post_args) },
	{ "KICK", SIGWAKE_IOC_KICK, SIGWAKE_KICK_ARGS_SIZE_VER0,
	  sizeof(struct sigwake_kick_args) },
	{ "WQ_CREATE", SIGWAKE_IOC_WQ_CREATE, SIGWAKE_WQ_CREATE_ARGS_SIZE_VER0,
	  sizeof(struct sigwake_wq_create_args) },
	{ "WQ_DESTROY", SIGWAKE_IOC_WQ_DESTROY, SIGWAKE_WQ_DESTROY_ARGS_SIZE_VER0,
	  sizeof(struct sigwake_wq_destroy_args) },
};

/*
 * The uapi layout: every struct ends on an 8-byte boundary (no implicit
 * tail padding that differs between 32- and 64-bit), is at least its VER0
 * size, and VER0 ends where the first published version ended.
 */
TEST(uapi_struct_layout)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		EXPECT_LE(cmds[i].ver0, cmds[i].size) {
			TH_LOG("%s: VER0 %u, struct %u", cmds[i].name,
			       cmds[i].ver0, cmds[i].size);
		}
		EXPECT_EQ(0, cmds[i].size % 8) {
			TH_LOG("%s: struct size %u", cmds[i].name, cmds[i].size);
		}
	}
	EXPECT_EQ(SIGWAKE_WAIT_ARGS_SIZE_VER0,
		  offsetof(struct sigwake_wait_args, pad) + sizeof(__u32));
	EXPECT_EQ(SIGWAKE_KICK_ARGS_SIZE_VER0,
		  offsetof(struct sigwake_kick_args, timeout_ns) + sizeof(__s64));
	EXPECT_EQ(SIGWAKE_THREAD_BLOCK_SIZE, sizeof(struct sigwake_thread_block));
	EXPECT_EQ(0, offsetof(struct sigwake_thread_block, state));
	EXPECT_EQ(4, offsetof(struct sigwake_thread_block, flags));
	EXPECT_EQ(8, offsetof(struct sigwake_thread_block, pending));
	EXPECT_EQ(16, offsetof(struct sigwake_thread_block, blocked));
	EXPECT_EQ(24, offsetof(struct sigwake_thread_block, wake_seq));
}

/* A two-page zeroed buffer whose first __u32 is the size. */
static unsigned char *size_buf(void)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void set_size(unsigned char *buf, __u32 size)
{
	memcpy(buf, &size, sizeof(size));
}

TEST_F(domain, short_size_einval)
{
	unsigned char *buf = size_buf();
	__u32 sizes[] = { 0, 4, 0 /* ver0 - 1 */ };
	unsigned int i, j;

	ASSERT_NE(NULL, buf);
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		sizes[2] = cmds[i].ver0 - 1;
		for (j = 0; j < ARRAY_SIZE(sizes); j++) {
			memset(buf, 0, 64);
			set_size(buf, sizes[j]);
			EXPECT_EQ(-EINVAL, sw_ioctl(self->fd, cmds[i].cmd, buf)) {
				TH_LOG("%s with size %u", cmds[i].name, sizes[j]);
			}
		}
		if (i == 0)
			ASSERT_EQ(0, sw_register(self->fd, self->blk, NULL, 0, NULL));
	}
}

TEST_F(domain, nonzero_tail_e2big)
{
	unsigned char *buf = size_buf();
	unsigned int i;

	ASSERT_NE(NULL, buf);
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		memset(buf, 0, 128);
		set_size(buf, cmds[i].size + 8);
		buf[cmds[i].size + 5] = 0x40;
		EXPECT_EQ(-E2BIG, sw_ioctl(self->fd, cmds[i].cmd, buf)) {
			TH_LOG("%s with size %u, non-zero tail", cmds[i].name,
			       cmds[i].size + 8);
		}
		if (i == 0)
			ASSERT_EQ(0, sw_register(self->fd, self->blk, NULL, 0, NULL));
	}
}

TEST_F(domain, over_page_size_e2big)
{
	__u32 pg = (__u32)sysconf(_SC_PAGESIZE);
	unsigned char *buf = size_buf();
	unsigned int i;

	ASSERT_NE(NULL, buf);
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		memset(buf, 0, 2 * pg);
		set_size(buf, pg + 8);
		EXPECT_EQ(-E2BIG, sw_ioctl(self->fd, cmds[i].cmd, buf)) {
			TH_LOG("%s with size %u, all-zero tail", cmds[i].name,
			       pg + 8);
		}
		if (i == 0)
			ASSERT_EQ(0, sw_register(self->fd, self->blk, NULL, 0, NULL));
	}
}

static void bad_arg_pointer(struct __test_metadata *_metadata, int fd,
			    struct sigwake_thread_block *blk, void *arg,
			    const char *what)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		EXPECT_EQ(-EFAULT, sw_ioctl(fd, cmds[i].cmd, arg)) {
			TH_LOG("%s with a %s argument pointer", cmds[i].name,
			       what);
		}
		if (i == 0)
			ASSERT_EQ(0, sw_register(fd, blk, NULL, 0, NULL));
	}
}

TEST_F(domain, null_arg_efault)
{
	bad_arg_pointer(_metadata, self->fd, self->blk, NULL, "NULL");
}

TEST_F(domain, unmapped_arg_efault)
{
	void *p = sw_unmapped_addr();

	ASSERT_NE(NULL, p);
	bad_arg_pointer(_metadata, self->fd, self->blk, p, "unmapped");
}

TEST_F(domain, kernel_arg_efault)
{
	bad_arg_pointer(_metadata, self->fd, self->blk,
			(void *)(uintptr_t)SW_KERNEL_ADDR, "kernel");
}

/* WAKE writes woken back: a read-only argument struct cannot take it. */
TEST_F(wq, readonly_arg_efault)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	struct sigwake_wake_args *a;

	a = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	ASSERT_NE(MAP_FAILED, a);
	a->size = sizeof(*a);
	a->wq = self->wq;
	a->nr = 1;
	ASSERT_EQ(0, mprotect(a, pg, PROT_READ));
	EXPECT_EQ(-EFAULT, sw_ioctl(self->fd, SIGWAKE_IOC_WAKE, a));
}

/*
 * REGISTER and WQ_CREATE whose handle cannot be written back fail with
 * EFAULT and leave nothing behind: the thread may register again (not
 * EEXIST) and gets the same first handle, the queue's handle is free again.
 */
static void *args_page(size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0, len);
	return p;
}

TEST_F(domain, register_readonly_arg_efault_leaves_nothing)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	struct sigwake_register_args *a = args_page(sizeof(*a));
	__u32 h = 0;

	ASSERT_NE(NULL, a);
	a->size = sizeof(*a);
	a->block = (__u64)(uintptr_t)self->blk;
	ASSERT_EQ(0, mprotect(a, pg, PROT_READ));
	EXPECT_EQ(-EFAULT, sw_ioctl(self->fd, SIGWAKE_IOC_REGISTER, a));
	EXPECT_EQ(0, sw_register(self->fd, self->blk, NULL, 0, &h));
	EXPECT_EQ(1, h);
}

TEST_F(domain, wq_create_readonly_arg_efault_leaves_nothing)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	struct sigwake_wq_create_args *a = args_page(sizeof(*a));
	__u32 q = 0;

	ASSERT_NE(NULL, a);
	a->size = sizeof(*a);
	ASSERT_EQ(0, mprotect(a, pg, PROT_READ));
	EXPECT_EQ(-EFAULT, sw_ioctl(self->fd, SIGWAKE_IOC_WQ_CREATE, a));
	EXPECT_EQ(0, sw_wq_create(self->fd, NULL, &q));
	EXPECT_EQ(1, q);
}

/*
 * The undo of a failed copy-out must end the object the call made, not
 * whatever holds its handle by then.  Handles are reused lowest first, so
 * the window between creating the object and writing its handle back is
 * made wide with userfaultfd: the argument struct sits in a page that is
 * write-protected (UFFDIO_REGISTER_MODE_WP), so the kernel reads it, and
 * the copy-out blocks in the write-protect fault.  Meanwhile the test
 * destroys that handle and makes another object that gets the same
 * number, then fails the copy-out (the page is made read-only, then the
 * write protection lifted, which wakes the faulter).
 */
struct uffd_call {
	int fd;
	unsigned long cmd;
	void *arg;		/* in the write-protected page */
	int err;
	int done;		/* atomic */
};

static void *uffd_call_fn(void *arg)
{
	struct uffd_call *c = arg;

	c->err = sw_ioctl(c->fd, c->cmd, c->arg);
	SW_STORE(&c->done, 1);
	return NULL;
}

/*
 * A page whose contents are @len bytes of @src, write-protected through a
 * new userfaultfd: the descriptor, or -errno.  @page gets the page.
 */
static int uffd_wp_page(const void *src, size_t len, void **page)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_PAGEFAULT_FLAG_WP,
	};
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_WP };
	struct uffdio_writeprotect wp = { .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	void *p;
	int uffd, err;

	p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	memcpy(p, src, len);	/* populated: write protection needs a PTE */
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		return -errno;
	reg.range.start = wp.range.start = (__u64)(uintptr_t)p;
	reg.range.len = wp.range.len = pg;
	err = 0;
	if (ioctl(uffd, UFFDIO_API, &api))
		err = -errno;
	else if (!(api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP))
		err = -EOPNOTSUPP;
	else if (ioctl(uffd, UFFDIO_REGISTER, &reg) ||
		 ioctl(uffd, UFFDIO_WRITEPROTECT, &wp))
		err = -errno;
	if (err) {
		close(uffd);
		return err;
	}
	*page = p;
	return uffd;
}

/* Wait for the write-protect fault on @page: true once it is there. */
static bool uffd_wp_fault(int uffd, void *page, int ms)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	struct uffd_msg msg;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	uintptr_t addr;

	if (poll(&pfd, 1, ms) != 1 || read(uffd, &msg, sizeof(msg)) != sizeof(msg))
		return false;
	addr = (uintptr_t)msg.arg.pagefault.address;
	return msg.event == UFFD_EVENT_PAGEFAULT &&
	       (msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) &&
	       addr - (uintptr_t)page < pg;
}

/* Make the blocked copy-out fail: read-only, then lift the protection. */
static int uffd_fail_write(int uffd, void *page)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	struct uffdio_writeprotect wp = {
		.range = { .start = (__u64)(uintptr_t)page, .len = pg },
		.mode = 0,	/* and wake the faulter */
	};

	if (mprotect(page, pg, PROT_READ))
		return -errno;
	return ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) ? -errno : 0;
}

/*
 * Start @cmd with @args (of @len bytes) in a write-protected page on
 * another thread, and wait until its copy-out blocks.  SKIPs without
 * userfaultfd write protection.
 */
#define UFFD_CALL_BLOCKED(c, th, uffd, fd_, cmd_, args, len) do {	\
	void *__page = NULL;						\
	(uffd) = uffd_wp_page((args), (len), &__page);			\
	if ((uffd) < 0)							\
		SKIP(return, "no userfaultfd write protection: %s",	\
		     strerror(-(uffd)));				\
	memset(&(c), 0, sizeof(c));					\
	(c).fd = (fd_);							\
	(c).cmd = (cmd_);						\
	(c).arg = __page;						\
	ASSERT_EQ(0, pthread_create(&(th), NULL, uffd_call_fn, &(c)));	\
	ASSERT_TRUE(uffd_wp_fault((uffd), __page, SW_LONG_MS)) {	\
		TH_LOG("the copy-out never blocked in the write-protect fault (call done %d: %s)", \
		       SW_LOAD(&(c).done), strerror(-(c).err));		\
	}								\
} while (0)

TEST_F(domain, register_efault_undo_spares_reused_handle)
{
	struct sigwake_register_args a = {
		.size = sizeof(a),
		.block = (__u64)(uintptr_t)&self->blk[0],
	};
	__u32 h = 0, outcome = 0;
	struct uffd_call c;
	pthread_t th;
	int uffd, err;

	UFFD_CALL_BLOCKED(c, th, uffd, self->fd, SIGWAKE_IOC_REGISTER, &a,
			  sizeof(a));
	/* the blocked thread is registered, as handle 1: end that, reuse 1 */
	EXPECT_EQ(0, sw_unregister(self->fd, 1));
	EXPECT_EQ(0, sw_register(self->fd, &self->blk[1], NULL, 0, &h));
	EXPECT_EQ(1, h);
	ASSERT_EQ(0, uffd_fail_write(uffd, c.arg));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&c.done), SW_LONG_MS)) {
		TH_LOG("the copy-out stayed blocked");
	}
	pthread_join(th, NULL);
	EXPECT_EQ(-EFAULT, c.err);
	/* our registration, under the reused handle, is intact */
	err = sw_post(self->fd, h, SW_SIG, NULL, &outcome);
	EXPECT_EQ(0, err) {
		TH_LOG("POST to the test thread's handle %u: %s (the failed REGISTER's undo ended it)",
		       h, strerror(-err));
	}
	EXPECT_EQ(SW_BIT(SW_SIG), SW_LOAD(&self->blk[1].pending));
	EXPECT_EQ(-EEXIST, sw_register(self->fd, &self->blk[2], NULL, 0, NULL));
	close(uffd);
}

TEST_F(domain, wq_create_efault_undo_spares_reused_handle)
{
	struct sigwake_wq_create_args a = { .size = sizeof(a) };
	__u32 q = 0, woken = 1;
	struct uffd_call c;
	pthread_t th;
	int uffd, err;

	UFFD_CALL_BLOCKED(c, th, uffd, self->fd, SIGWAKE_IOC_WQ_CREATE, &a,
			  sizeof(a));
	/* the blocked call made queue 1: destroy it, make another as 1 */
	EXPECT_EQ(0, sw_wq_destroy(self->fd, 1));
	EXPECT_EQ(0, sw_wq_create(self->fd, NULL, &q));
	EXPECT_EQ(1, q);
	ASSERT_EQ(0, uffd_fail_write(uffd, c.arg));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&c.done), SW_LONG_MS)) {
		TH_LOG("the copy-out stayed blocked");
	}
	pthread_join(th, NULL);
	EXPECT_EQ(-EFAULT, c.err);
	/* the queue made under the reused handle is intact */
	err = sw_wake(self->fd, q, 1, &woken);
	EXPECT_EQ(0, err) {
		TH_LOG("WAKE of the test's queue %u: %s (the failed WQ_CREATE's undo destroyed it)",
		       q, strerror(-err));
	}
	if (!err)
		EXPECT_EQ(0, woken);
	close(uffd);
}

/*
 * A caller with longer structs and zero tails keeps working, for every
 * command, and output fields come back.
 */
struct big_register { struct sigwake_register_args a; __u64 tail[2]; };
struct big_unregister { struct sigwake_unregister_args a; __u64 tail[2]; };
struct big_wait { struct sigwake_wait_args a; __u64 tail[2]; };
struct big_wake { struct sigwake_wake_args a; __u64 tail[2]; };
struct big_post { struct sigwake_post_args a; __u64 tail[2]; };
struct big_kick { struct sigwake_kick_args a; __u64 tail[2]; };
struct big_wq_create { struct sigwake_wq_create_args a; __u64 tail[2]; };
struct big_wq_destroy { struct sigwake_wq_destroy_args a; __u64 tail[2]; };

TEST_F(domain, larger_struct_zero_tail_ok)
{
	struct big_register reg = { .a = { .size = sizeof(reg),
		.block = (uintptr_t)self->blk } };
	struct big_wq_create wqc = { .a = { .size = sizeof(wqc) } };
	struct big_wait wt = { .a = { .size = sizeof(wt), .wq = SIGWAKE_NO_WQ,
		.timeout_ns = 0 } };
	struct big_wake wk = { .a = { .size = sizeof(wk), .nr = 1 } };
	struct big_post po = { .a = { .size = sizeof(po), .signo = SW_SIG } };
	struct big_kick ki = { .a = { .size = sizeof(ki) } };
	struct big_wq_destroy wqd = { .a = { .size = sizeof(wqd) } };
	struct big_unregister un = { .a = { .size = sizeof(un) } };

	ASSERT_EQ(0, sw_ioctl(self->fd, SIGWAKE_IOC_REGISTER, &reg));
	EXPECT_EQ(1, reg.a.handle);

	ASSERT_EQ(0, sw_ioctl(self->fd, SIGWAKE_IOC_WQ_CREATE, &wqc));
	EXPECT_LE(1, wqc.a.handle);

	EXPECT_EQ(0, sw_ioctl(self->fd, SIGWAKE_IOC_WAIT, &wt));
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, wt.a.reason);

	wk.a.wq = wqc.a.handle;
	wk.a.woken = 77;
	EXPECT_EQ(0, sw_ioctl(self->fd, SIGWAKE_IOC_WAKE, &wk));
	EXPECT_EQ(0, wk.a.woken);

	po.a.target = reg.a.handle;
	EXPECT_EQ(0, sw_ioctl(self->fd, SIGWAKE_IOC_POST, &po));
	EXPECT_EQ(reg.a.handle, po.a.handle);
	EXPECT_EQ(SIGWAKE_POST_RECORDED, po.a.outcome);

	ki.a.target = reg.a.handle;
	EXPECT_EQ(0, sw_ioctl(self->fd, SIGWAKE_IOC_KICK, &ki));
	EXPECT_EQ(SIGWAKE_POST_RECORDED, ki.a.outcome);

	wqd.a.handle = wqc.a.handle;
	EXPECT_EQ(0, sw_ioctl(self->fd, SIGWAKE_IOC_WQ_DESTROY, &wqd));

	un.a.handle = reg.a.handle;
	EXPECT_EQ(0, sw_ioctl(self->fd, SIGWAKE_IOC_UNREGISTER, &un));
}

/* "over a page" is E2BIG; exactly a page with a zero tail is not. */
TEST_F(wq, page_size_zero_tail_ok)
{
	__u32 pg = (__u32)sysconf(_SC_PAGESIZE);
	unsigned char *buf = size_buf();
	struct sigwake_wake_args a = {
		.size = pg,
		.wq = self->wq,
		.nr = 1,
		.woken = 99,
	};

	ASSERT_NE(NULL, buf);
	memcpy(buf, &a, sizeof(a));
	EXPECT_EQ(0, sw_ioctl(self->fd, SIGWAKE_IOC_WAKE, buf));
	memcpy(&a, buf, sizeof(a));
	EXPECT_EQ(0, a.woken);
}

TEST_F(domain, unknown_command_enotty)
{
	unsigned char *buf = size_buf();
	const unsigned long bad[] = {
		_IOWR(SIGWAKE_IOC_MAGIC, 0x1f, struct sigwake_wake_args),
		_IOWR(SIGWAKE_IOC_MAGIC, 0x7f, struct sigwake_wake_args),
		_IO(SIGWAKE_IOC_MAGIC, 0x1e),
		_IOWR(SIGWAKE_IOC_MAGIC + 1, SIGWAKE_CMD_WAKE, struct sigwake_wake_args),
		_IOWR('T', SIGWAKE_CMD_POST, struct sigwake_post_args),
	};
	unsigned int i;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, sw_register(self->fd, self->blk, NULL, 0, NULL));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		set_size(buf, 16);
		EXPECT_EQ(-ENOTTY, sw_ioctl(self->fd, bad[i], buf)) {
			TH_LOG("command %#lx", bad[i]);
		}
	}
}

/*
 * The whole command is compared: type, number, direction (_IOWR) and size
 * bits.  The size bits must be those of a struct some header published: at
 * least the first version's, and any larger one (a newer header's struct;
 * its size field versions it, as for a struct of the kernel's own size).
 */
static const struct {
	const char *name;
	unsigned long cmd;
	__u32 ver0;
} all_cmds[] = {
	{ "REGISTER", SIGWAKE_IOC_REGISTER, SIGWAKE_REGISTER_ARGS_SIZE_VER0 },
	{ "UNREGISTER", SIGWAKE_IOC_UNREGISTER, SIGWAKE_UNREGISTER_ARGS_SIZE_VER0 },
	{ "WAIT", SIGWAKE_IOC_WAIT, SIGWAKE_WAIT_ARGS_SIZE_VER0 },
	{ "WAKE", SIGWAKE_IOC_WAKE, SIGWAKE_WAKE_ARGS_SIZE_VER0 },
	{ "POST", SIGWAKE_IOC_POST, SIGWAKE_POST_ARGS_SIZE_VER0 },
	{ "KICK", SIGWAKE_IOC_KICK, SIGWAKE_KICK_ARGS_SIZE_VER0 },
	{ "WQ_CREATE", SIGWAKE_IOC_WQ_CREATE, SIGWAKE_WQ_CREATE_ARGS_SIZE_VER0 },
	{ "WQ_DESTROY", SIGWAKE_IOC_WQ_DESTROY, SIGWAKE_WQ_DESTROY_ARGS_SIZE_VER0 },
	{ "FORWARD", SIGWAKE_IOC_FORWARD, SIGWAKE_FORWARD_ARGS_SIZE_VER0 },
	{ "PREEMPT", SIGWAKE_IOC_PREEMPT, SIGWAKE_PREEMPT_ARGS_SIZE_VER0 },
};

static unsigned long with_dir(unsigned long cmd, unsigned long dir)
{
	return _IOC(dir, _IOC_TYPE(cmd), _IOC_NR(cmd), _IOC_SIZE(cmd));
}

static unsigned long with_size(unsigned long cmd, unsigned long size)
{
	return _IOC(_IOC_DIR(cmd), _IOC_TYPE(cmd), _IOC_NR(cmd), size);
}

/*
 * A real command with other direction bits is unknown.  The struct (size
 * field only, the rest zero, flags set to an unknown bit) would fail every
 * command's own checks anyway, so nothing changes whatever the answer.
 */
TEST_F(domain, wrong_direction_enotty)
{
	const unsigned long dirs[] = { _IOC_NONE, _IOC_READ, _IOC_WRITE };
	unsigned char *buf = size_buf();
	unsigned long cmd;
	unsigned int i, j;

	ASSERT_NE(NULL, buf);
	for (i = 0; i < ARRAY_SIZE(all_cmds); i++) {
		for (j = 0; j < ARRAY_SIZE(dirs); j++) {
			memset(buf, 0, 64);
			set_size(buf, all_cmds[i].ver0);
			buf[4] = 0x80;	/* flags (or a handle): unknown */
			cmd = with_dir(all_cmds[i].cmd, dirs[j]);
			EXPECT_EQ(-ENOTTY, sw_ioctl(self->fd, cmd, buf)) {
				TH_LOG("%s with direction %lu (%#lx)",
				       all_cmds[i].name, dirs[j], cmd);
			}
		}
	}
}

/* Size bits below the first published version: no header had them. */
TEST_F(domain, short_size_bits_enotty)
{
	unsigned char *buf = size_buf();
	unsigned long cmd, sizes[3];
	unsigned int i, j;

	ASSERT_NE(NULL, buf);
	for (i = 0; i < ARRAY_SIZE(all_cmds); i++) {
		sizes[0] = 0;
		sizes[1] = 4;
		sizes[2] = all_cmds[i].ver0 - 1;
		for (j = 0; j < ARRAY_SIZE(sizes); j++) {
			memset(buf, 0, 64);
			set_size(buf, all_cmds[i].ver0);
			buf[4] = 0x80;
			cmd = with_size(all_cmds[i].cmd, sizes[j]);
			EXPECT_EQ(-ENOTTY, sw_ioctl(self->fd, cmd, buf)) {
				TH_LOG("%s with size bits %lu (%#lx)",
				       all_cmds[i].name, sizes[j], cmd);
			}
		}
	}
}

/*
 * Size bits of the first version (WAIT was 32 bytes in the first header)
 * and of a newer header's larger struct are accepted.
 */
TEST_F(domain, published_size_bits_accepted)
{
	struct sigwake_register_args reg = {
		.size = sizeof(reg),
		.block = (uintptr_t)self->blk,
	};
	struct sigwake_wait_args wait = {
		.size = SIGWAKE_WAIT_ARGS_SIZE_VER0,
		.wq = SIGWAKE_NO_WQ,
		.timeout_ns = 0,
	};
	struct sigwake_post_args post = {
		.size = sizeof(post),
		.signo = SW_SIG,
	};

	ASSERT_EQ(0, sw_ioctl(self->fd, with_size(SIGWAKE_IOC_REGISTER, 200),
			      &reg));
	EXPECT_EQ(1, reg.handle);
	EXPECT_EQ(0, sw_ioctl(self->fd,
			      with_size(SIGWAKE_IOC_WAIT,
					SIGWAKE_WAIT_ARGS_SIZE_VER0), &wait));
	EXPECT_EQ(SIGWAKE_REASON_TIMEOUT, wait.reason);
	post.target = reg.handle;
	EXPECT_EQ(0, sw_ioctl(self->fd,
			      with_size(SIGWAKE_IOC_POST, sizeof(post) + 8),
			      &post));
	EXPECT_EQ(SIGWAKE_POST_RECORDED, post.outcome);
	EXPECT_EQ(SW_BIT(SW_SIG), SW_LOAD(&self->blk->pending));
}

/* Output fields are written back only on success. */
TEST_F(thread, outputs_untouched_on_error)
{
	struct sigwake_post_args post = {
		.size = sizeof(post),
		.target = self->handle,
		.signo = 0,
		.handle = 0xdeadbeef,
		.outcome = 0xcafe,
	};
	struct sigwake_wait_args wait = {
		.size = sizeof(wait),
		.flags = 0x80000000u,
		.wq = SIGWAKE_NO_WQ,
		.reason = 0xbeef,
	};

	EXPECT_EQ(-EINVAL, sw_ioctl(self->fd, SIGWAKE_IOC_POST, &post));
	EXPECT_EQ(0xdeadbeef, post.handle);
	EXPECT_EQ(0xcafe, post.outcome);
	EXPECT_EQ(-EINVAL, sw_ioctl(self->fd, SIGWAKE_IOC_WAIT, &wait));
	EXPECT_EQ(0xbeef, wait.reason);
	EXPECT_EQ(0x80000000u, wait.flags);
}

/* ------------------------------------------------------------------ */
/* REGISTER                                                            */

TEST_F(domain, register_first_handle_is_1)
{
	__u32 h = 0;

	ASSERT_EQ(0, sw_register(self->fd, self->blk, NULL, 0, &h));
	EXPECT_EQ(1, h);
}

TEST_F(domain, register_leaves_block_untouched)
{
	struct sigwake_thread_block before;
	__u32 h;

	self->blk->state = SIGWAKE_RUNNING_IN_GUEST;
	self->blk->flags = SIGWAKE_TF_PREEMPTED;
	self->blk->pending = 0x1234;
	self->blk->blocked = 0xf0f0;
	self->blk->wake_seq = 42;
	memcpy(&before, self->blk, sizeof(before));
	ASSERT_EQ(0, sw_register(self->fd, self->blk, NULL, 0, &h));
	EXPECT_EQ(0, memcmp(&before, self->blk, sizeof(before)));
}

TEST_F(domain, register_twice_eexist)
{
	ASSERT_EQ(0, sw_register(self->fd, &self->blk[0], NULL, 0, NULL));
	EXPECT_EQ(-EEXIST, sw_register(self->fd, &self->blk[1], NULL, 0, NULL));
	EXPECT_EQ(-EEXIST, sw_register(self->fd, &self->blk[0], NULL, 0, NULL));
}

static void *register_in_thread(void *arg)
{
	struct sw_thread *t = arg;

	t->reg_err = sw_register(t->fd, t->blk, NULL, 0, &t->handle);
	return NULL;
}

TEST_F(domain, register_threads_get_distinct_handles)
{
	struct sw_thread t[3];
	unsigned int i;

	for (i = 0; i < 3; i++) {
		sw_thread_init(&t[i], self->fd, &self->blk[i]);
		ASSERT_EQ(0, pthread_create(&t[i].th, NULL, register_in_thread, &t[i]));
		ASSERT_EQ(0, pthread_join(t[i].th, NULL));
		ASSERT_EQ(0, t[i].reg_err);
		EXPECT_LE(1, t[i].handle);
	}
	EXPECT_NE(t[0].handle, t[1].handle);
	EXPECT_NE(t[0].handle, t[2].handle);
	EXPECT_NE(t[1].handle, t[2].handle);
}

TEST_F(domain, register_unknown_flag_einval)
{
	__u32 bad[] = { 1u << 0, 1u << 7, 1u << 31 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		struct sigwake_register_args a = {
			.size = sizeof(a),
			.flags = bad[i],
			.block = (uintptr_t)self->blk,
		};

		EXPECT_EQ(-EINVAL, sw_ioctl(self->fd, SIGWAKE_IOC_REGISTER, &a)) {
			TH_LOG("flags %#x", bad[i]);
		}
	}
}

TEST_F(domain, register_null_block_einval)
{
	EXPECT_EQ(-EINVAL, sw_register(self->fd, NULL, NULL, 0, NULL));
}

TEST_F(domain, register_misaligned_block_einval)
{
	const size_t off[] = { 1, 4, 8, 32, 63 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(off); i++) {
		EXPECT_EQ(-EINVAL, sw_register(self->fd,
					       (char *)self->blk + off[i],
					       NULL, 0, NULL)) {
			TH_LOG("block at page offset %zu", off[i]);
		}
	}
	/* and the aligned one still works afterwards */
	EXPECT_EQ(0, sw_register(self->fd, &self->blk[1], NULL, 0, NULL));
}

TEST_F(domain, register_unmapped_block_efault)
{
	void *p = sw_unmapped_addr();

	ASSERT_NE(NULL, p);
	EXPECT_EQ(-EFAULT, sw_register(self->fd, p, NULL, 0, NULL));
}

TEST_F(domain, register_readonly_block_efault)
{
	void *p = sw_readonly_page();

	ASSERT_NE(NULL, p);
	EXPECT_EQ(-EFAULT, sw_register(self->fd, p, NULL, 0, NULL));
}

TEST_F(domain, register_kernel_block_efault)
{
	EXPECT_EQ(-EFAULT, sw_register(self->fd,
				       (void *)(uintptr_t)SW_KERNEL_ADDR,
				       NULL, 0, NULL));
}

TEST_F(domain, register_bad_kick_addr_efault)
{
	void *unmapped = sw_unmapped_addr();
	void *ro = sw_readonly_page();

	ASSERT_NE(NULL, unmapped);
	ASSERT_NE(NULL, ro);
	EXPECT_EQ(-EFAULT, sw_register(self->fd, self->blk, unmapped, SIGUSR1, NULL));
	EXPECT_EQ(-EFAULT, sw_register(self->fd, self->blk, ro, SIGUSR1, NULL));
	EXPECT_EQ(-EFAULT, sw_register(self->fd, self->blk,
				       (void *)(uintptr_t)(SW_KERNEL_ADDR + 3),
				       SIGUSR1, NULL));
	/* a failed registration leaves nothing behind */
	EXPECT_EQ(0, sw_register(self->fd, self->blk, NULL, 0, NULL));
}

TEST_F(domain, register_bad_kick_signo_einval)
{
	const __u32 bad[] = { SIGKILL, SIGSTOP, 65, 1000, 0x80000000u };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, sw_register(self->fd, self->blk, NULL,
					       (int)bad[i], NULL)) {
			TH_LOG("kick_signo %u", bad[i]);
		}
	}
}

TEST_F(domain, register_valid_kick_signo_ok)
{
	const int good[] = { 0, SIGUSR1, SIGURG, SIGRTMIN, 64 };
	unsigned char *kick = sw_alloc_page();
	unsigned int i;
	__u32 h;

	ASSERT_NE(NULL, kick);
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		EXPECT_EQ(0, sw_register(self->fd, self->blk, kick, good[i], &h)) {
			TH_LOG("kick_signo %d", good[i]);
			continue;
		}
		EXPECT_EQ(0, sw_unregister(self->fd, h));
	}
	EXPECT_EQ(0, kick[0]);
}

/* ------------------------------------------------------------------ */
/* UNREGISTER                                                          */

TEST_F(thread, unregister_ok_then_enoent)
{
	EXPECT_EQ(0, sw_unregister(self->fd, self->handle));
	EXPECT_EQ(-ENOENT, sw_unregister(self->fd, self->handle));
	EXPECT_EQ(-ENOENT, sw_post(self->fd, self->handle, SW_SIG, NULL, NULL));
}

TEST_F(thread, unregister_unknown_enoent)
{
	EXPECT_EQ(-ENOENT, sw_unregister(self->fd, 0));
	EXPECT_EQ(-ENOENT, sw_unregister(self->fd, self->handle + 1000));
	EXPECT_EQ(-ENOENT, sw_unregister(self->fd, 0xffffffffu));
}

TEST_F(thread, register_again_after_unregister)
{
	__u32 h = 0;

	ASSERT_EQ(0, sw_unregister(self->fd, self->handle));
	EXPECT_EQ(0, sw_register(self->fd, &self->blk[1], NULL, 0, &h));
	EXPECT_LE(1, h);
	EXPECT_EQ(0, sw_post(self->fd, h, SW_SIG, NULL, NULL));
	EXPECT_EQ(SW_BIT(SW_SIG), SW_LOAD(&self->blk[1].pending));
	EXPECT_EQ(0, SW_LOAD(&self->blk[0].pending));
}

/* Any thread of the domain may unregister any other. */
TEST_F(thread, unregister_other_thread)
{
	struct sw_thread t;

	sw_thread_init(&t, self->fd, &self->blk[1]);
	ASSERT_EQ(0, sw_thread_start(&t));
	EXPECT_EQ(0, sw_unregister(self->fd, t.handle));
	EXPECT_EQ(-ENOENT, sw_post(self->fd, t.handle, SW_SIG, NULL, NULL));
	/* the thread itself can register again */
	sw_thread_finish(&t);
	sw_thread_init(&t, self->fd, &self->blk[1]);
	EXPECT_EQ(0, sw_thread_start(&t));
	sw_thread_finish(&t);
}

/* ------------------------------------------------------------------ */
/* WAIT argument checks                                                */

TEST_F(domain, wait_unregistered_thread_enoent)
{
	EXPECT_EQ(-ENOENT, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, 0, 0, NULL));
	EXPECT_EQ(-ENOENT, sw_wait(self->fd, SIGWAKE_NO_WQ, 0,
				   SIGWAKE_TIMEOUT_NONE, 0, NULL));
}

/* The domain has a registered thread, but not this one. */
static void *wait_unregistered_fn(void *arg)
{
	struct sw_thread *t = arg;

	t->wait_err = sw_wait(t->fd, SIGWAKE_NO_WQ, 0, 0, 0, NULL);
	return NULL;
}

TEST_F(thread, wait_from_other_unregistered_thread_enoent)
{
	struct sw_thread t;

	sw_thread_init(&t, self->fd, NULL);
	ASSERT_EQ(0, pthread_create(&t.th, NULL, wait_unregistered_fn, &t));
	ASSERT_EQ(0, pthread_join(t.th, NULL));
	EXPECT_EQ(-ENOENT, t.wait_err);
}

TEST_F(thread, wait_unknown_flag_einval)
{
	const __u32 bad[] = { 1u << 2, 1u << 8, 1u << 31 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, 0,
					   bad[i], NULL)) {
			TH_LOG("flags %#x", bad[i]);
		}
	}
}

TEST_F(thread, wait_nonzero_pad_einval)
{
	struct sigwake_wait_args a = {
		.size = sizeof(a),
		.wq = SIGWAKE_NO_WQ,
		.timeout_ns = 0,
		.pad = 1,
	};

	EXPECT_EQ(-EINVAL, sw_ioctl(self->fd, SIGWAKE_IOC_WAIT, &a));
}

TEST_F(thread, wait_bad_timeout_einval)
{
	const __s64 bad[] = { -2, -1000000000LL, INT64_MIN };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, bad[i],
					   0, NULL)) {
			TH_LOG("relative timeout %lld", (long long)bad[i]);
		}
		EXPECT_EQ(-EINVAL, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, bad[i],
					   SIGWAKE_WAIT_ABSTIME, NULL)) {
			TH_LOG("absolute timeout %lld", (long long)bad[i]);
		}
	}
}

TEST_F(thread, wait_unknown_wq_enoent)
{
	EXPECT_EQ(-ENOENT, sw_wait(self->fd, 0, 0, 0, 0, NULL));
	EXPECT_EQ(-ENOENT, sw_wait(self->fd, 4242, 0, 0, 0, NULL));
}

/* ------------------------------------------------------------------ */
/* WAKE, POST, KICK argument checks                                    */

TEST_F(thread, wake_unknown_wq_enoent)
{
	EXPECT_EQ(-ENOENT, sw_wake(self->fd, 0, 1, NULL));
	EXPECT_EQ(-ENOENT, sw_wake(self->fd, 4242, 1, NULL));
	EXPECT_EQ(-ENOENT, sw_wake(self->fd, SIGWAKE_NO_WQ, 1, NULL));
}

TEST_F(wq, wake_empty_queue_zero)
{
	__u32 woken = 1234;

	EXPECT_EQ(0, sw_wake(self->fd, self->wq, 5, &woken));
	EXPECT_EQ(0, woken);
	woken = 1234;
	EXPECT_EQ(0, sw_wake(self->fd, self->wq, 0, &woken));
	EXPECT_EQ(0, woken);
}

TEST_F(thread, post_bad_signo_einval)
{
	const __u32 bad[] = { 0, 65, 1000, 0xffffffffu };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, sw_post(self->fd, self->handle, bad[i],
					   NULL, NULL)) {
			TH_LOG("signo %u", bad[i]);
		}
		EXPECT_EQ(-EINVAL, sw_post(self->fd, SIGWAKE_TARGET_ANY,
					   bad[i], NULL, NULL)) {
			TH_LOG("signo %u, TARGET_ANY", bad[i]);
		}
	}
	EXPECT_EQ(0, SW_LOAD(&self->blk->pending));
}

TEST_F(thread, post_signo_bounds)
{
	__u32 outcome = 0;

	EXPECT_EQ(0, sw_post(self->fd, self->handle, 1, NULL, &outcome));
	EXPECT_EQ(SIGWAKE_POST_RECORDED, outcome);
	EXPECT_EQ(0, sw_post(self->fd, self->handle, 64, NULL, &outcome));
	EXPECT_EQ(SIGWAKE_POST_RECORDED, outcome);
	EXPECT_EQ(SW_BIT(1) | SW_BIT(64), SW_LOAD(&self->blk->pending));
}

TEST_F(thread, post_unknown_flag_einval)
{
	struct sigwake_post_args a = {
		.size = sizeof(a),
		.flags = 1,
		.target = self->handle,
		.signo = SW_SIG,
	};

	EXPECT_EQ(-EINVAL, sw_ioctl(self->fd, SIGWAKE_IOC_POST, &a));
	a.flags = 0x80000000u;
	EXPECT_EQ(-EINVAL, sw_ioctl(self->fd, SIGWAKE_IOC_POST, &a));
	EXPECT_EQ(0, SW_LOAD(&self->blk->pending));
}

TEST_F(thread, post_unknown_target_enoent)
{
	EXPECT_EQ(-ENOENT, sw_post(self->fd, 0, SW_SIG, NULL, NULL));
	EXPECT_EQ(-ENOENT, sw_post(self->fd, self->handle + 1000, SW_SIG,
				   NULL, NULL));
}

TEST_F(thread, kick_unknown_flag_einval)
{
	struct sigwake_kick_args a = {
		.size = sizeof(a),
		.flags = 1u << 31,
		.target = self->handle,
	};

	EXPECT_EQ(-EINVAL, sw_ioctl(self->fd, SIGWAKE_IOC_KICK, &a));
	a.flags = 1u << 5;
	EXPECT_EQ(-EINVAL, sw_ioctl(self->fd, SIGWAKE_IOC_KICK, &a));
	EXPECT_EQ(0, SW_LOAD(&self->blk->flags));
}

TEST_F(thread, kick_nonzero_timeout_einval)
{
	struct sigwake_kick_args a = {
		.size = sizeof(a),
		.target = self->handle,
		.timeout_ns = 1000,
	};

	EXPECT_EQ(-EINVAL, sw_ioctl(self->fd, SIGWAKE_IOC_KICK, &a));
	EXPECT_EQ(0, SW_LOAD(&self->blk->flags));
}

TEST_F(thread, kick_unknown_target_enoent)
{
	EXPECT_EQ(-ENOENT, sw_kick(self->fd, 0, NULL));
	EXPECT_EQ(-ENOENT, sw_kick(self->fd, self->handle + 1000, NULL));
	EXPECT_EQ(-ENOENT, sw_kick(self->fd, SIGWAKE_TARGET_ANY, NULL));
}

/* ------------------------------------------------------------------ */
/* WQ_CREATE / WQ_DESTROY                                              */

TEST_F(domain, wq_first_handle_is_1)
{
	__u32 h = 0;

	ASSERT_EQ(0, sw_wq_create(self->fd, NULL, &h));
	EXPECT_EQ(1, h);
}

TEST_F(domain, wq_create_word_and_plain)
{
	__u32 *word = sw_alloc_page();
	__u32 h1 = 0, h2 = 0;

	ASSERT_NE(NULL, word);
	ASSERT_EQ(0, sw_wq_create(self->fd, NULL, &h1));
	ASSERT_EQ(0, sw_wq_create(self->fd, &word[1], &h2));
	EXPECT_LE(1, h1);
	EXPECT_LE(1, h2);
	EXPECT_NE(h1, h2);
}

TEST_F(domain, wq_create_unknown_flag_einval)
{
	struct sigwake_wq_create_args a = {
		.size = sizeof(a),
		.flags = 1,
	};

	EXPECT_EQ(-EINVAL, sw_ioctl(self->fd, SIGWAKE_IOC_WQ_CREATE, &a));
	a.flags = 1u << 31;
	EXPECT_EQ(-EINVAL, sw_ioctl(self->fd, SIGWAKE_IOC_WQ_CREATE, &a));
}

TEST_F(domain, wq_create_nonzero_pad_einval)
{
	struct sigwake_wq_create_args a = {
		.size = sizeof(a),
		.pad = 1,
	};

	EXPECT_EQ(-EINVAL, sw_ioctl(self->fd, SIGWAKE_IOC_WQ_CREATE, &a));
}

TEST_F(domain, wq_create_misaligned_word_einval)
{
	char *page = sw_alloc_page();
	unsigned int off;

	ASSERT_NE(NULL, page);
	for (off = 1; off < 4; off++) {
		EXPECT_EQ(-EINVAL, sw_wq_create(self->fd, page + off, NULL)) {
			TH_LOG("word at page offset %u", off);
		}
	}
}

TEST_F(domain, wq_create_bad_word_efault)
{
	void *p = sw_unmapped_addr();

	ASSERT_NE(NULL, p);
	EXPECT_EQ(-EFAULT, sw_wq_create(self->fd, p, NULL));
	EXPECT_EQ(-EFAULT, sw_wq_create(self->fd,
					(void *)(uintptr_t)SW_KERNEL_ADDR, NULL));
}

TEST_F(wq, wq_destroy_then_enoent)
{
	EXPECT_EQ(0, sw_wq_destroy(self->fd, self->wq));
	EXPECT_EQ(-ENOENT, sw_wq_destroy(self->fd, self->wq));
	EXPECT_EQ(-ENOENT, sw_wake(self->fd, self->wq, 1, NULL));
	EXPECT_EQ(-ENOENT, sw_wait(self->fd, self->wq, 0, 0, 0, NULL));
}

TEST_F(wq, wq_destroy_unknown_enoent)
{
	EXPECT_EQ(-ENOENT, sw_wq_destroy(self->fd, 0));
	EXPECT_EQ(-ENOENT, sw_wq_destroy(self->fd, self->wq + 1000));
}

/* Thread handles and queue handles are separate objects. */
TEST_F(wq, thread_handle_is_not_a_queue)
{
	__u32 other;

	/* a queue handle never posts, a thread handle never wakes */
	ASSERT_EQ(0, sw_wq_create(self->fd, NULL, &other));
	if (other != self->handle)
		EXPECT_EQ(-ENOENT, sw_post(self->fd, other, SW_SIG, NULL, NULL));
	if (self->handle != self->wq && self->handle != other)
		EXPECT_EQ(-ENOENT, sw_wake(self->fd, self->handle, 1, NULL));
	EXPECT_EQ(0, sw_post(self->fd, self->handle, SW_SIG, NULL, NULL));
}

/* ------------------------------------------------------------------ */
/* domains                                                             */

TEST_F(thread, second_domain_is_independent)
{
	__u32 h2 = 0, outcome = 0;
	int fd2;

	SW_OPEN_DOMAIN(fd2);
	/* the same thread, registered in a second domain with its own block */
	ASSERT_EQ(0, sw_register(fd2, &self->blk[1], NULL, 0, &h2));
	EXPECT_EQ(1, h2);
	EXPECT_EQ(0, sw_post(fd2, h2, SW_SIG, NULL, &outcome));
	EXPECT_EQ(SIGWAKE_POST_RECORDED, outcome);
	EXPECT_EQ(SW_BIT(SW_SIG), SW_LOAD(&self->blk[1].pending));
	EXPECT_EQ(0, SW_LOAD(&self->blk[0].pending));
	/* a handle of one domain means nothing in the other */
	EXPECT_EQ(-ENOENT, sw_post(fd2, h2 + 1, SW_SIG, NULL, NULL));
	close(fd2);
	/* closing the second domain leaves the first alone */
	EXPECT_EQ(0, sw_post(self->fd, self->handle, 3, NULL, &outcome));
	EXPECT_EQ(SW_BIT(3), SW_LOAD(&self->blk[0].pending));
}

TEST_F(thread, reopened_domain_starts_fresh)
{
	__u32 h = 0;

	close(self->fd);
	SW_OPEN_DOMAIN(self->fd);
	EXPECT_EQ(0, sw_register(self->fd, self->blk, NULL, 0, &h));
	EXPECT_EQ(1, h);
}

/* ------------------------------------------------------------------ */
/* limits (module parameters)                                          */

static const char *const param_names[] = {
	"max_threads_per_domain",
	"max_queues_per_domain",
	"max_domains_per_user",
	"max_queues_per_user",
};
#define NPARAMS ARRAY_SIZE(param_names)

/* Saved by main() before any test, restored at exit whatever happened. */
static long saved_params[NPARAMS] = { -1, -1, -1, -1 };

static void restore_params(void)
{
	unsigned int i;

	for (i = 0; i < NPARAMS; i++)
		if (saved_params[i] >= 0)
			sw_param_write(param_names[i], saved_params[i]);
}

FIXTURE(limits) {
	int fd;
	long saved[NPARAMS];
};

FIXTURE_SETUP(limits)
{
	unsigned int i;
	int err;

	self->fd = -1;
	for (i = 0; i < NPARAMS; i++)
		self->saved[i] = -1;
	SW_OPEN_DOMAIN(self->fd);
	for (i = 0; i < NPARAMS; i++) {
		long v = sw_param_read(param_names[i]);

		if (v < 0 && sw_allow_skip())
			SKIP({ fflush(NULL); _exit(255); },
			     "module parameter %s: %s", param_names[i],
			     strerror((int)-v));
		ASSERT_LE(0, v) {
			TH_LOG("cannot read " SW_PARAM_DIR "%s: %s",
			       param_names[i], strerror((int)-v));
		}
		err = sw_param_write(param_names[i], v);
		if (err == -EACCES || err == -EPERM)
			SKIP({ fflush(NULL); _exit(255); },
			     "changing module parameters needs root");
		ASSERT_EQ(0, err) {
			TH_LOG("cannot write %s: %s", param_names[i],
			       strerror(-err));
		}
		self->saved[i] = v;
	}
}

FIXTURE_TEARDOWN(limits)
{
	unsigned int i;

	for (i = 0; i < NPARAMS; i++)
		if (self->saved[i] >= 0)
			EXPECT_EQ(0, sw_param_write(param_names[i], self->saved[i]));
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(limits, max_threads_enospc)
{
	struct sigwake_thread_block *blk = sw_alloc_blocks(2);
	struct sw_thread t;

	ASSERT_NE(NULL, blk);
	ASSERT_EQ(0, sw_param_write("max_threads_per_domain", 1));
	ASSERT_EQ(0, sw_register(self->fd, &blk[0], NULL, 0, NULL));
	sw_thread_init(&t, self->fd, &blk[1]);
	EXPECT_EQ(-ENOSPC, sw_thread_start(&t));
	sw_thread_finish(&t);
}

TEST_F(limits, max_threads_slot_freed_by_unregister)
{
	struct sigwake_thread_block *blk = sw_alloc_blocks(2);
	struct sw_thread t;
	__u32 h;

	ASSERT_NE(NULL, blk);
	ASSERT_EQ(0, sw_param_write("max_threads_per_domain", 1));
	ASSERT_EQ(0, sw_register(self->fd, &blk[0], NULL, 0, &h));
	ASSERT_EQ(0, sw_unregister(self->fd, h));
	sw_thread_init(&t, self->fd, &blk[1]);
	EXPECT_EQ(0, sw_thread_start(&t));
	sw_thread_finish(&t);
}

TEST_F(limits, max_queues_enospc)
{
	__u32 h[3];

	ASSERT_EQ(0, sw_param_write("max_queues_per_domain", 2));
	ASSERT_EQ(0, sw_wq_create(self->fd, NULL, &h[0]));
	ASSERT_EQ(0, sw_wq_create(self->fd, NULL, &h[1]));
	EXPECT_EQ(-ENOSPC, sw_wq_create(self->fd, NULL, &h[2]));
	/* destroying one makes room for one */
	ASSERT_EQ(0, sw_wq_destroy(self->fd, h[0]));
	EXPECT_EQ(0, sw_wq_create(self->fd, NULL, &h[2]));
	EXPECT_EQ(-ENOSPC, sw_wq_create(self->fd, NULL, NULL));
}

TEST_F(limits, max_domains_enospc)
{
	int fd2;

	/* this user already holds self->fd */
	ASSERT_EQ(0, sw_param_write("max_domains_per_user", 1));
	fd2 = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
	EXPECT_EQ(-1, fd2);
	EXPECT_EQ(ENOSPC, errno);
	if (fd2 >= 0)
		close(fd2);
	/* closing our domain gives the slot back */
	close(self->fd);
	self->fd = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
	EXPECT_LE(0, self->fd) {
		TH_LOG("open after close: %s", strerror(errno));
	}
}

int main(int argc, char **argv)
{
	unsigned int i;

	for (i = 0; i < NPARAMS; i++)
		saved_params[i] = sw_param_read(param_names[i]);
	atexit(restore_params);
	return test_harness_run(argc, argv);
}

static void __attribute__((constructor)) __constructor_order_last(void)
{
	if (!__constructor_order)
		__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD;
}
