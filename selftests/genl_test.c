// SPDX-License-Identifier: GPL-2.0
/*
 * sigwake generic netlink family "sigwake": DOMAIN_GET (dump and doit),
 * THREAD_GET, strict validation with extended acks, visibility by user and
 * pid namespace, and the "monitor" multicast group.  libnl-genl, static.
 *
 * Fixture:
 *   genl  a domain with the test thread registered and two queues, a
 *         generic netlink socket with extended acks, and the domain's id
 *
 * Tests that change credentials or namespaces need root and SKIP without.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>

#include <linux/netlink.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include <grp.h>
#include <poll.h>

#include "sigwake_test.h"
#include "sigwake_nl.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

#define NOBODY		65534
#define NL_MAX_ITEMS	256

/* One message, attributes by type; u32 and u64 both land in val[]. */
struct nlitem {
	__u8 cmd;
	bool has[SIGWAKE_NL_A_MAX + 1];
	__u64 val[SIGWAKE_NL_A_MAX + 1];
	char comm[32];
	uint64_t cnt[SIGWAKE_NL_A_CNT_MAX + 1];
};

/* The answer to one request, or the events collected on a socket. */
struct nlres {
	struct sigwake_nl_ack ack;
	int n;
	struct nlitem item[NL_MAX_ITEMS];
};

static void nl_reset(struct nlres *r)
{
	memset(r, 0, sizeof(*r));
}

/* With helper/sigwake_nl.c, as sigwakectl parses it. */
static void nl_parse_item(struct nlmsghdr *nlh, struct nlitem *it)
{
	struct genlmsghdr *gh = nlmsg_data(nlh);
	struct nlattr *tb[SIGWAKE_NL_A_MAX + 1];
	int type;

	memset(it, 0, sizeof(*it));
	it->cmd = gh->cmd;
	if (sigwake_nl_parse(nlh, tb) < 0)
		return;		/* a malformed message: nothing in it */
	for (type = 1; type <= SIGWAKE_NL_A_MAX; type++) {
		struct nlattr *a = tb[type];

		if (!a)
			continue;
		it->has[type] = true;
		if (type == SIGWAKE_NL_A_COMM)
			snprintf(it->comm, sizeof(it->comm), "%s",
				 nla_get_string(a));
		else if (type == SIGWAKE_NL_A_COUNTERS)
			sigwake_nl_counters(a, it->cnt);
		else if (nla_len(a) == 4)
			it->val[type] = nla_get_u32(a);
		else if (nla_len(a) == 8)
			it->val[type] = nla_get_u64(a);
	}
}

static int nl_on_valid(struct nl_msg *msg, void *arg)
{
	struct nlres *r = arg;

	if (r->n < NL_MAX_ITEMS)
		nl_parse_item(nlmsg_hdr(msg), &r->item[r->n++]);
	return NL_OK;
}

/* A generic netlink socket with extended acks; *family < 0: no family. */
static struct nl_sock *nl_open(int *family)
{
	struct nl_sock *sk = nl_socket_alloc();
	int one = 1;

	*family = -1;
	if (!sk)
		return NULL;
	if (genl_connect(sk)) {
		nl_socket_free(sk);
		return NULL;
	}
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK, &one,
		   sizeof(one));
	*family = genl_ctrl_resolve(sk, SIGWAKE_GENL_NAME);
	return sk;
}

/* An attribute to put in a request: len 4 (u32), 8 (u64) or 0 (flag). */
struct nlput {
	int type;
	int len;
	__u64 val;
};

#define U32(t, v)	((struct nlput){ (t), 4, (v) })

/*
 * Send @cmd (a dump if @dump, else with NLM_F_ACK) with @n attributes and
 * the genl header's reserved byte set to @reserved; collect the answer.
 * Returns r->ack.err.
 */
static int nl_request(struct nl_sock *sk, int family, __u8 cmd, bool dump,
		      const struct nlput *attrs, int n, __u8 reserved,
		      struct nlres *r)
{
	struct nl_msg *msg = nlmsg_alloc();
	struct nl_cb *cb = nl_cb_alloc(NL_CB_CUSTOM);
	struct genlmsghdr *gh;
	int i, ret = 0;

	nl_reset(r);
	if (!msg || !cb) {
		r->ack.err = -ENOMEM;
		goto out;
	}
	gh = genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0,
			 dump ? NLM_F_DUMP : NLM_F_ACK, cmd,
			 SIGWAKE_GENL_VERSION);
	if (!gh) {
		r->ack.err = -ENOMEM;
		goto out;
	}
	((struct genlmsghdr *)nlmsg_data(nlmsg_hdr(msg)))->reserved = reserved;
	for (i = 0; i < n; i++) {
		if (attrs[i].len == 4)
			ret = nla_put_u32(msg, attrs[i].type, (__u32)attrs[i].val);
		else if (attrs[i].len == 8)
			ret = nla_put_u64(msg, attrs[i].type, attrs[i].val);
		else
			ret = nla_put_flag(msg, attrs[i].type);
		if (ret) {
			r->ack.err = -ENOMEM;
			goto out;
		}
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, nl_on_valid, r);
	sigwake_nl_ack_cb(cb, &r->ack);
	if (nl_send_auto(sk, msg) < 0) {
		r->ack.err = -EIO;
		goto out;
	}
	while (!r->ack.done) {
		ret = nl_recvmsgs(sk, cb);
		if (ret < 0 && !r->ack.done) {
			r->ack.err = -EIO;
			break;
		}
	}
out:
	nl_cb_put(cb);
	nlmsg_free(msg);
	return r->ack.err;
}

static int nl_dump_domains(struct nl_sock *sk, int family, struct nlres *r)
{
	return nl_request(sk, family, SIGWAKE_NL_CMD_DOMAIN_GET, true, NULL,
			  0, 0, r);
}

static int nl_dump_threads(struct nl_sock *sk, int family, __u32 id,
			   struct nlres *r)
{
	struct nlput a = U32(SIGWAKE_NL_A_DOMAIN_ID, id);

	return nl_request(sk, family, SIGWAKE_NL_CMD_THREAD_GET, true, &a, 1,
			  0, r);
}

static struct nlitem *nl_find(struct nlres *r, int type, __u64 val)
{
	int i;

	for (i = 0; i < r->n; i++)
		if (r->item[i].has[type] && r->item[i].val[type] == val)
			return &r->item[i];
	return NULL;
}

/* A socket joined to the monitor group: 0, -ENOENT (no group), -errno. */
static int nl_monitor_open(struct nl_sock *ctl, struct nl_sock **evp)
{
	struct nl_sock *ev;
	int grp, fd;

	grp = genl_ctrl_resolve_grp(ctl, SIGWAKE_GENL_NAME,
				    SIGWAKE_NL_MCGRP_MONITOR);
	if (grp < 0)
		return -ENOENT;
	ev = nl_socket_alloc();
	if (!ev || genl_connect(ev)) {
		if (ev)
			nl_socket_free(ev);
		return -EIO;
	}
	fd = nl_socket_get_fd(ev);
	if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp,
		       sizeof(grp))) {
		int err = -errno;

		nl_socket_free(ev);
		return err;
	}
	nl_socket_disable_seq_check(ev);
	nl_socket_set_nonblocking(ev);
	*evp = ev;
	return 0;
}

static int nl_on_any_seq(struct nl_msg *msg, void *arg)
{
	return NL_OK;
}

/* Collect events until a DOMAIN_DEL of domain @id came, or @ms passed. */
static bool nl_collect_until_del(struct nl_sock *ev, __u32 id,
				 struct nlres *r, int ms)
{
	struct pollfd p = { .fd = nl_socket_get_fd(ev), .events = POLLIN };
	struct nl_cb *cb = nl_cb_alloc(NL_CB_CUSTOM);
	int64_t end = sw_now_ns() + (int64_t)ms * SW_NSEC_PER_MSEC;
	bool found = false;
	int i;

	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, nl_on_valid, r);
	/* Events carry sequence number 0. */
	nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, nl_on_any_seq, NULL);
	while (!found && sw_now_ns() < end) {
		if (poll(&p, 1, 100) <= 0)
			continue;
		nl_recvmsgs(ev, cb);
		for (i = 0; i < r->n; i++)
			if (r->item[i].cmd == SIGWAKE_NL_CMD_DOMAIN_DEL &&
			    r->item[i].val[SIGWAKE_NL_A_DOMAIN_ID] == id)
				found = true;
	}
	nl_cb_put(cb);
	return found;
}

static bool am_root(void)
{
	return geteuid() == 0;
}

/* In a child: become nobody, for good. */
static int become_nobody(void)
{
	if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY))
		return -errno;
	return 0;
}

/* ------------------------------------------------------------------ */

FIXTURE(genl) {
	int fd;
	struct sigwake_thread_block *blk;
	__u32 handle;
	__u32 wq[2];
	struct nl_sock *sk;
	int family;
	__u32 id;
	struct nlres *r;
};

FIXTURE_SETUP(genl)
{
	struct nlitem *it;

	self->fd = -1;
	self->r = calloc(1, sizeof(*self->r));
	ASSERT_NE(NULL, self->r);
	self->blk = sw_alloc_blocks(4);
	ASSERT_NE(NULL, self->blk);
	SW_OPEN_DOMAIN(self->fd);
	ASSERT_EQ(0, sw_register(self->fd, self->blk, NULL, 0, &self->handle));
	ASSERT_EQ(0, sw_wq_create(self->fd, NULL, &self->wq[0]));
	ASSERT_EQ(0, sw_wq_create(self->fd, NULL, &self->wq[1]));

	self->sk = nl_open(&self->family);
	ASSERT_NE(NULL, self->sk);
	ASSERT_LE(0, self->family) {
		TH_LOG("generic netlink family '%s' not found: %s",
		       SIGWAKE_GENL_NAME, nl_geterror(self->family));
	}
	ASSERT_EQ(0, nl_dump_domains(self->sk, self->family, self->r));
	it = nl_find(self->r, SIGWAKE_NL_A_PID, getpid());
	ASSERT_NE(NULL, it) TH_LOG("the dump lacks our own domain");
	self->id = (__u32)it->val[SIGWAKE_NL_A_DOMAIN_ID];
	ASSERT_NE(0, self->id);
}

FIXTURE_TEARDOWN(genl)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->sk)
		nl_socket_free(self->sk);
	free(self->r);
}

TEST_F(genl, dump_reports_own_domain)
{
	char comm[16];
	struct nlitem *it;

	prctl(PR_GET_NAME, comm);
	ASSERT_EQ(0, nl_dump_domains(self->sk, self->family, self->r));
	it = nl_find(self->r, SIGWAKE_NL_A_DOMAIN_ID, self->id);
	ASSERT_NE(NULL, it);
	EXPECT_EQ(SIGWAKE_NL_CMD_DOMAIN_GET, it->cmd);
	EXPECT_EQ(getpid(), (pid_t)it->val[SIGWAKE_NL_A_PID]);
	EXPECT_STREQ(comm, it->comm);
	EXPECT_EQ(getuid(), (uid_t)it->val[SIGWAKE_NL_A_UID]);
	EXPECT_EQ(1, it->val[SIGWAKE_NL_A_NR_THREADS]);
	EXPECT_EQ(2, it->val[SIGWAKE_NL_A_NR_QUEUES]);
	EXPECT_EQ(1, it->val[SIGWAKE_NL_A_PINNED_PAGES]);
	EXPECT_TRUE(it->has[SIGWAKE_NL_A_QUEUED]);
	EXPECT_TRUE(it->has[SIGWAKE_NL_A_COUNTERS]);
	EXPECT_EQ(0, it->cnt[SIGWAKE_NL_A_CNT_POSTS]);
	EXPECT_EQ(0, it->cnt[SIGWAKE_NL_A_CNT_FORWARDS]);
	EXPECT_EQ(0, it->cnt[SIGWAKE_NL_A_CNT_PREEMPTIONS]);
}

TEST_F(genl, dump_filtered_by_domain_id)
{
	struct nlput a = U32(SIGWAKE_NL_A_DOMAIN_ID, self->id);

	ASSERT_EQ(0, nl_request(self->sk, self->family,
				SIGWAKE_NL_CMD_DOMAIN_GET, true, &a, 1, 0,
				self->r));
	ASSERT_EQ(1, self->r->n);
	EXPECT_EQ(self->id, self->r->item[0].val[SIGWAKE_NL_A_DOMAIN_ID]);
}

TEST_F(genl, doit_returns_one_domain)
{
	struct nlput a = U32(SIGWAKE_NL_A_DOMAIN_ID, self->id);

	ASSERT_EQ(0, nl_request(self->sk, self->family,
				SIGWAKE_NL_CMD_DOMAIN_GET, false, &a, 1, 0,
				self->r));
	ASSERT_EQ(1, self->r->n);
	EXPECT_EQ(SIGWAKE_NL_CMD_DOMAIN_GET, self->r->item[0].cmd);
	EXPECT_EQ(self->id, self->r->item[0].val[SIGWAKE_NL_A_DOMAIN_ID]);
	EXPECT_EQ(getpid(), (pid_t)self->r->item[0].val[SIGWAKE_NL_A_PID]);
	EXPECT_EQ(2, self->r->item[0].val[SIGWAKE_NL_A_NR_QUEUES]);
}

TEST_F(genl, doit_unknown_domain_is_enoent)
{
	struct nlput a = U32(SIGWAKE_NL_A_DOMAIN_ID, 0x7ffffff0);

	EXPECT_EQ(-ENOENT, nl_request(self->sk, self->family,
				      SIGWAKE_NL_CMD_DOMAIN_GET, false, &a, 1,
				      0, self->r));
	EXPECT_NE(NULL, strstr(self->r->ack.msg, "no such domain"))
		TH_LOG("extack: '%s'", self->r->ack.msg);
}

/* The running kernel is older than @major.@minor. */
static bool kernel_before(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return false;
	return ma < major || (ma == major && mi < minor);
}

TEST_F(genl, doit_needs_domain_id)
{
	EXPECT_EQ(-EINVAL, nl_request(self->sk, self->family,
				      SIGWAKE_NL_CMD_DOMAIN_GET, false, NULL,
				      0, 0, self->r));
	/* Before 6.0 the ack cannot name it (no NLMSGERR_ATTR_MISS_TYPE). */
	if (kernel_before(6, 0)) {
		EXPECT_NE(NULL, strstr(self->r->ack.msg, "missing required attribute"))
			TH_LOG("extack: '%s'", self->r->ack.msg);
	} else {
		EXPECT_EQ(SIGWAKE_NL_A_DOMAIN_ID, self->r->ack.miss_type);
	}
}

TEST_F(genl, zero_domain_id_is_out_of_range)
{
	struct nlput a = U32(SIGWAKE_NL_A_DOMAIN_ID, 0);

	EXPECT_EQ(-ERANGE, nl_request(self->sk, self->family,
				      SIGWAKE_NL_CMD_DOMAIN_GET, false, &a, 1,
				      0, self->r));
	EXPECT_NE(0, self->r->ack.msg[0]) TH_LOG("no extack message");
}

/* Strict validation: anything the command does not list is EINVAL. */
TEST_F(genl, unknown_attributes_are_rejected)
{
	struct nlput known_elsewhere[] = {
		U32(SIGWAKE_NL_A_DOMAIN_ID, self->id),
		U32(SIGWAKE_NL_A_HANDLE, 1),
	};
	struct nlput beyond_max[] = {
		U32(SIGWAKE_NL_A_DOMAIN_ID, self->id),
		U32(SIGWAKE_NL_A_MAX + 10, 1),
	};
	struct nlput pad_only[] = {
		U32(SIGWAKE_NL_A_PAD, 0),
	};

	EXPECT_EQ(-EINVAL, nl_request(self->sk, self->family,
				      SIGWAKE_NL_CMD_DOMAIN_GET, false,
				      known_elsewhere, 2, 0, self->r));
	EXPECT_NE(0, self->r->ack.msg[0]) TH_LOG("no extack message");
	TH_LOG("doit, SIGWAKE_NL_A_HANDLE: %s", self->r->ack.msg);

	EXPECT_EQ(-EINVAL, nl_request(self->sk, self->family,
				      SIGWAKE_NL_CMD_DOMAIN_GET, false,
				      beyond_max, 2, 0, self->r));
	EXPECT_NE(0, self->r->ack.msg[0]) TH_LOG("no extack message");

	/* Dumps too, before they start: an NLMSG_ERROR, not a DONE. */
	EXPECT_EQ(-EINVAL, nl_request(self->sk, self->family,
				      SIGWAKE_NL_CMD_DOMAIN_GET, true,
				      known_elsewhere, 2, 0, self->r));
	EXPECT_EQ(0, self->r->n);
	EXPECT_NE(0, self->r->ack.msg[0]) TH_LOG("no extack message");

	EXPECT_EQ(-EINVAL, nl_request(self->sk, self->family,
				      SIGWAKE_NL_CMD_THREAD_GET, true,
				      beyond_max, 2, 0, self->r));
	EXPECT_NE(0, self->r->ack.msg[0]) TH_LOG("no extack message");

	EXPECT_EQ(-EINVAL, nl_request(self->sk, self->family,
				      SIGWAKE_NL_CMD_DOMAIN_GET, true,
				      pad_only, 1, 0, self->r));
}

TEST_F(genl, reserved_header_byte_is_rejected)
{
	struct nlput a = U32(SIGWAKE_NL_A_DOMAIN_ID, self->id);

	EXPECT_EQ(-EINVAL, nl_request(self->sk, self->family,
				      SIGWAKE_NL_CMD_DOMAIN_GET, false, &a, 1,
				      1, self->r));
}

TEST_F(genl, unknown_command_is_rejected)
{
	EXPECT_EQ(-EOPNOTSUPP, nl_request(self->sk, self->family,
					  SIGWAKE_NL_CMD_DOMAIN_NEW, false,
					  NULL, 0, 0, self->r));
	/* THREAD_GET is a dump only. */
	EXPECT_EQ(-EOPNOTSUPP, nl_request(self->sk, self->family,
					  SIGWAKE_NL_CMD_THREAD_GET, false,
					  NULL, 0, 0, self->r));
}

TEST_F(genl, thread_dump_reports_the_block)
{
	struct nlitem *it;
	__u32 h, outcome;

	SW_STORE(&self->blk->blocked, SW_BIT(12));
	ASSERT_EQ(0, sw_post(self->fd, self->handle, 10, &h, &outcome));
	ASSERT_EQ(0, sw_post(self->fd, self->handle, 12, &h, &outcome));

	ASSERT_EQ(0, nl_dump_threads(self->sk, self->family, self->id,
				     self->r));
	ASSERT_EQ(1, self->r->n);
	it = &self->r->item[0];
	EXPECT_EQ(SIGWAKE_NL_CMD_THREAD_GET, it->cmd);
	EXPECT_EQ(self->id, it->val[SIGWAKE_NL_A_DOMAIN_ID]);
	EXPECT_EQ(self->handle, it->val[SIGWAKE_NL_A_HANDLE]);
	EXPECT_EQ(sw_gettid(), (pid_t)it->val[SIGWAKE_NL_A_TID]);
	EXPECT_TRUE(it->has[SIGWAKE_NL_A_STATE]);
	EXPECT_EQ(SIGWAKE_RUNNING_IN_HOST, it->val[SIGWAKE_NL_A_STATE]);
	EXPECT_EQ(SW_BIT(10) | SW_BIT(12), it->val[SIGWAKE_NL_A_PENDING]);
	EXPECT_EQ(SW_BIT(12), it->val[SIGWAKE_NL_A_BLOCKED]);
	EXPECT_EQ(0, it->val[SIGWAKE_NL_A_WAKE_SEQ]);
	EXPECT_FALSE(it->has[SIGWAKE_NL_A_WAITING]);
	EXPECT_FALSE(it->has[SIGWAKE_NL_A_EXITED]);
	EXPECT_EQ(2, it->cnt[SIGWAKE_NL_A_CNT_POSTS]);

	ASSERT_EQ(0, nl_dump_domains(self->sk, self->family, self->r));
	it = nl_find(self->r, SIGWAKE_NL_A_DOMAIN_ID, self->id);
	ASSERT_NE(NULL, it);
	EXPECT_EQ(2, it->cnt[SIGWAKE_NL_A_CNT_POSTS]);
}

TEST_F(genl, thread_dump_shows_a_waiter)
{
	struct sw_thread t;
	struct nlitem *it;
	__u32 woken;

	sw_thread_init(&t, self->fd, &self->blk[1]);
	t.do_wait = true;
	t.wq = self->wq[0];
	ASSERT_EQ(0, sw_thread_start(&t));
	ASSERT_TRUE(sw_thread_is_waiting(&t, SW_LONG_MS));

	ASSERT_EQ(0, nl_dump_threads(self->sk, self->family, self->id,
				     self->r));
	ASSERT_EQ(2, self->r->n);
	it = nl_find(self->r, SIGWAKE_NL_A_HANDLE, t.handle);
	ASSERT_NE(NULL, it);
	EXPECT_TRUE(it->has[SIGWAKE_NL_A_WAITING]);
	EXPECT_EQ(SIGWAKE_WAITING, it->val[SIGWAKE_NL_A_STATE]);
	EXPECT_EQ(t.tid, (pid_t)it->val[SIGWAKE_NL_A_TID]);

	ASSERT_EQ(0, sw_wake(self->fd, self->wq[0], 1, &woken));
	ASSERT_EQ(1, woken);
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));

	ASSERT_EQ(0, nl_dump_threads(self->sk, self->family, self->id,
				     self->r));
	it = nl_find(self->r, SIGWAKE_NL_A_HANDLE, t.handle);
	ASSERT_NE(NULL, it);
	EXPECT_FALSE(it->has[SIGWAKE_NL_A_WAITING]);
	EXPECT_EQ(SIGWAKE_RUNNING_IN_HOST, it->val[SIGWAKE_NL_A_STATE]);
	EXPECT_EQ(1, it->val[SIGWAKE_NL_A_WAKE_SEQ]);
	EXPECT_EQ(1, it->cnt[SIGWAKE_NL_A_CNT_WAITS]);
	EXPECT_EQ(1, it->cnt[SIGWAKE_NL_A_CNT_WAKES]);

	ASSERT_EQ(0, nl_dump_domains(self->sk, self->family, self->r));
	it = nl_find(self->r, SIGWAKE_NL_A_DOMAIN_ID, self->id);
	ASSERT_NE(NULL, it);
	EXPECT_EQ(1, it->cnt[SIGWAKE_NL_A_CNT_WAKES]);
	EXPECT_EQ(1, it->cnt[SIGWAKE_NL_A_CNT_WAITS]);
	sw_thread_finish(&t);
}

TEST_F(genl, thread_dump_shows_an_exited_thread)
{
	struct sw_thread t;
	struct nlitem *it = NULL;
	bool seen;

	sw_thread_init(&t, self->fd, &self->blk[2]);
	ASSERT_EQ(0, sw_thread_start(&t));
	sw_thread_finish(&t);

	/*
	 * The kernel releases an exited thread from a work item.  Until then
	 * it is EXITED with its counters: from 6.16 the exit tracepoint runs
	 * before the joiner is woken, so a dump can see that state first.
	 * Released, only its handle is left, its counters went with
	 * THREAD_DEL.
	 */
	seen = SW_POLL(!nl_dump_threads(self->sk, self->family, self->id,
					self->r) &&
		       (it = nl_find(self->r, SIGWAKE_NL_A_HANDLE, t.handle)) &&
		       it->has[SIGWAKE_NL_A_EXITED] &&
		       !it->has[SIGWAKE_NL_A_COUNTERS], SW_LONG_MS);
	ASSERT_TRUE(seen);
	EXPECT_FALSE(it->has[SIGWAKE_NL_A_TID]);
	EXPECT_FALSE(it->has[SIGWAKE_NL_A_STATE]);
	EXPECT_FALSE(it->has[SIGWAKE_NL_A_PENDING]);
	EXPECT_TRUE(it->has[SIGWAKE_NL_A_KICK_SIGNO]);
}

TEST_F(genl, thread_dump_needs_domain_id)
{
	EXPECT_EQ(-EINVAL, nl_request(self->sk, self->family,
				      SIGWAKE_NL_CMD_THREAD_GET, true, NULL, 0,
				      0, self->r));
	EXPECT_EQ(0, self->r->n);
	/* NLMSG_DONE carries the message, not the missing type. */
	EXPECT_NE(NULL, strstr(self->r->ack.msg, "domain id"))
		TH_LOG("extack: '%s'", self->r->ack.msg);
}

TEST_F(genl, thread_dump_unknown_domain_is_enoent)
{
	EXPECT_EQ(-ENOENT, nl_dump_threads(self->sk, self->family, 0x7ffffff0,
					   self->r));
	EXPECT_NE(NULL, strstr(self->r->ack.msg, "no such domain"))
		TH_LOG("extack: '%s'", self->r->ack.msg);
}

TEST_F(genl, counters_follow_waits)
{
	struct nlitem *it;
	__u32 reason;

	ASSERT_EQ(0, sw_wait(self->fd, SIGWAKE_NO_WQ, 0, 0, 0, &reason));
	ASSERT_EQ(SIGWAKE_REASON_TIMEOUT, reason);

	ASSERT_EQ(0, nl_dump_domains(self->sk, self->family, self->r));
	it = nl_find(self->r, SIGWAKE_NL_A_DOMAIN_ID, self->id);
	ASSERT_NE(NULL, it);
	EXPECT_EQ(1, it->cnt[SIGWAKE_NL_A_CNT_WAITS]);
	EXPECT_EQ(1, it->cnt[SIGWAKE_NL_A_CNT_TIMEOUTS]);

	ASSERT_EQ(0, nl_dump_threads(self->sk, self->family, self->id,
				     self->r));
	it = nl_find(self->r, SIGWAKE_NL_A_HANDLE, self->handle);
	ASSERT_NE(NULL, it);
	EXPECT_EQ(1, it->cnt[SIGWAKE_NL_A_CNT_WAITS]);
	EXPECT_EQ(1, it->cnt[SIGWAKE_NL_A_CNT_TIMEOUTS]);
}

/*
 * Another user sees none of our domains, answers ENOENT for them, and sees
 * its own, with its uid.
 */
TEST_F(genl, other_user_sees_none_of_ours)
{
	struct nlput a = U32(SIGWAKE_NL_A_DOMAIN_ID, self->id);
	pid_t parent = getpid(), pid;
	int status;

	if (!am_root())
		SKIP(return, "needs root to become another user");

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct nlres *r = calloc(1, sizeof(*r));
		struct nl_sock *sk;
		struct nlitem *it;
		int family, fd, i, bad = 0;

		if (!r || become_nobody())
			_exit(100);
		sk = nl_open(&family);
		if (!sk || family < 0)
			_exit(101);
		if (nl_dump_domains(sk, family, r))
			_exit(102);
		for (i = 0; i < r->n; i++) {
			if (r->item[i].val[SIGWAKE_NL_A_UID] != NOBODY ||
			    r->item[i].val[SIGWAKE_NL_A_PID] == (__u64)parent) {
				fprintf(stderr, "# nobody sees domain %llu of uid %llu\n",
					r->item[i].val[SIGWAKE_NL_A_DOMAIN_ID],
					r->item[i].val[SIGWAKE_NL_A_UID]);
				bad |= 1;
			}
		}
		if (nl_request(sk, family, SIGWAKE_NL_CMD_DOMAIN_GET, false,
			       &a, 1, 0, r) != -ENOENT)
			bad |= 2;
		if (nl_dump_threads(sk, family, self->id, r) != -ENOENT)
			bad |= 4;
		fd = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			_exit(103);
		if (nl_dump_domains(sk, family, r))
			_exit(104);
		it = nl_find(r, SIGWAKE_NL_A_PID, getpid());
		if (!it || it->val[SIGWAKE_NL_A_UID] != NOBODY ||
		    it->val[SIGWAKE_NL_A_NR_THREADS] != 0)
			bad |= 8;
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child failed with code %d (1: saw a foreign domain, 2: doit, 4: thread dump, 8: own domain, >=100: setup)",
		       WEXITSTATUS(status));
}

/* In a new pid namespace the owner of our domain is not visible. */
TEST_F(genl, other_pid_namespace_sees_none_of_ours)
{
	pid_t pid;
	int status;

	if (!am_root())
		SKIP(return, "needs root for a pid namespace");

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		pid_t inner;

		if (unshare(CLONE_NEWPID))
			_exit(100);
		inner = fork();
		if (inner < 0)
			_exit(101);
		if (inner == 0) {
			struct nlres *r = calloc(1, sizeof(*r));
			struct nl_sock *sk;
			struct nlitem *it;
			int family, fd, bad = 0;

			sk = nl_open(&family);
			if (!r || !sk || family < 0)
				_exit(102);
			if (nl_dump_domains(sk, family, r))
				_exit(103);
			if (r->n)
				bad |= 1;
			fd = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
			if (fd < 0 || nl_dump_domains(sk, family, r))
				_exit(104);
			it = nl_find(r, SIGWAKE_NL_A_PID, 1);
			if (r->n != 1 || !it)
				bad |= 2;
			_exit(bad);
		}
		if (waitpid(inner, &status, 0) != inner || !WIFEXITED(status))
			_exit(105);
		_exit(WEXITSTATUS(status));
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child failed with code %d (1: saw a domain of the parent namespace, 2: own domain not as pid 1)",
		       WEXITSTATUS(status));
}

/* ------------------------------------------------------------------ */

static struct nlitem *ev_find(struct nlres *r, int from, __u8 cmd,
			      __u32 id, __u32 handle, int *at)
{
	int i;

	for (i = from; i < r->n; i++) {
		struct nlitem *it = &r->item[i];

		if (it->cmd != cmd || it->val[SIGWAKE_NL_A_DOMAIN_ID] != id)
			continue;
		if (handle && it->val[SIGWAKE_NL_A_HANDLE] != handle)
			continue;
		if (at)
			*at = i;
		return it;
	}
	return NULL;
}

TEST(monitor_sees_domains_and_threads_come_and_go)
{
	struct sigwake_thread_block *blk = sw_alloc_blocks(4);
	struct nlres *r = calloc(1, sizeof(*r));
	struct nl_sock *sk, *ev = NULL;
	struct sw_thread a, b;
	struct nlitem *it;
	__u32 id, me;
	int family, fd, ret, at_new = -1, at, at_b_new, at_del = -1;

	ASSERT_NE(NULL, blk);
	ASSERT_NE(NULL, r);
	if (!am_root())
		SKIP(return, "the monitor group needs CAP_SYS_ADMIN");
	sk = nl_open(&family);
	ASSERT_NE(NULL, sk);
	ASSERT_LE(0, family);
	ret = nl_monitor_open(sk, &ev);
	if (ret == -ENOENT)
		SKIP(return, "this kernel cannot restrict multicast groups: no monitor group");
	ASSERT_EQ(0, ret);

	SW_OPEN_DOMAIN(fd);

	/* a: registers, is unregistered; b: registers, exits. */
	sw_thread_init(&a, fd, &blk[0]);
	ASSERT_EQ(0, sw_thread_start(&a));
	ASSERT_EQ(0, sw_unregister(fd, a.handle));
	sw_thread_finish(&a);
	sw_thread_init(&b, fd, &blk[1]);
	ASSERT_EQ(0, sw_thread_start(&b));
	sw_thread_finish(&b);
	/* me: still registered when the domain is closed. */
	ASSERT_EQ(0, sw_register(fd, &blk[2], NULL, SIGUSR1, &me));

	ASSERT_EQ(0, nl_dump_domains(sk, family, r));
	it = nl_find(r, SIGWAKE_NL_A_PID, getpid());
	ASSERT_NE(NULL, it);
	id = (__u32)it->val[SIGWAKE_NL_A_DOMAIN_ID];
	/* pthread_join() may return before the kernel saw b exit. */
	ASSERT_TRUE(SW_POLL(!nl_dump_threads(sk, family, id, r) &&
			    (it = nl_find(r, SIGWAKE_NL_A_HANDLE, b.handle)) &&
			    it->has[SIGWAKE_NL_A_EXITED], SW_LONG_MS));
	close(fd);

	nl_reset(r);
	ASSERT_TRUE(nl_collect_until_del(ev, id, r, SW_LONG_MS))
		TH_LOG("no DOMAIN_DEL for domain %u (%d events)", id, r->n);

	it = ev_find(r, 0, SIGWAKE_NL_CMD_DOMAIN_NEW, id, 0, &at_new);
	ASSERT_NE(NULL, it);
	EXPECT_EQ(getpid(), (pid_t)it->val[SIGWAKE_NL_A_PID]);
	EXPECT_EQ(0, it->val[SIGWAKE_NL_A_UID]);
	ev_find(r, 0, SIGWAKE_NL_CMD_DOMAIN_DEL, id, 0, &at_del);
	EXPECT_LT(at_new, at_del);

	it = ev_find(r, 0, SIGWAKE_NL_CMD_THREAD_NEW, id, a.handle, &at);
	ASSERT_NE(NULL, it);
	EXPECT_EQ(a.tid, (pid_t)it->val[SIGWAKE_NL_A_TID]);
	it = ev_find(r, at, SIGWAKE_NL_CMD_THREAD_DEL, id, a.handle, &at);
	ASSERT_NE(NULL, it);
	EXPECT_EQ(SIGWAKE_NL_DEL_UNREGISTER, it->val[SIGWAKE_NL_A_REASON]);
	EXPECT_TRUE(it->has[SIGWAKE_NL_A_COUNTERS]);

	/* Handles are reused: b may have a's; look after a's events. */
	it = ev_find(r, at + 1, SIGWAKE_NL_CMD_THREAD_NEW, id, b.handle, &at);
	ASSERT_NE(NULL, it);
	EXPECT_EQ(b.tid, (pid_t)it->val[SIGWAKE_NL_A_TID]);
	at_b_new = at;
	it = ev_find(r, at, SIGWAKE_NL_CMD_THREAD_DEL, id, b.handle, &at);
	ASSERT_NE(NULL, it);
	EXPECT_EQ(SIGWAKE_NL_DEL_EXIT, it->val[SIGWAKE_NL_A_REASON]);
	EXPECT_EQ(b.tid, (pid_t)it->val[SIGWAKE_NL_A_TID]);
	EXPECT_LT(at, at_del);

	it = ev_find(r, at_b_new + 1, SIGWAKE_NL_CMD_THREAD_NEW, id, me, &at);
	ASSERT_NE(NULL, it);
	EXPECT_EQ(SIGUSR1, it->val[SIGWAKE_NL_A_KICK_SIGNO]);
	EXPECT_EQ(sw_gettid(), (pid_t)it->val[SIGWAKE_NL_A_TID]);
	it = ev_find(r, at, SIGWAKE_NL_CMD_THREAD_DEL, id, me, &at);
	ASSERT_NE(NULL, it);
	EXPECT_EQ(SIGWAKE_NL_DEL_CLOSE, it->val[SIGWAKE_NL_A_REASON]);
	EXPECT_LT(at, at_del);

	nl_socket_free(ev);
	nl_socket_free(sk);
	free(r);
}

TEST(monitor_needs_cap_sys_admin)
{
	struct nl_sock *sk;
	int family, grp, status;
	pid_t pid;

	if (!am_root())
		SKIP(return, "needs root to become another user");
	sk = nl_open(&family);
	ASSERT_NE(NULL, sk);
	ASSERT_LE(0, family);
	grp = genl_ctrl_resolve_grp(sk, SIGWAKE_GENL_NAME,
				    SIGWAKE_NL_MCGRP_MONITOR);
	nl_socket_free(sk);
	if (grp < 0)
		SKIP(return, "this kernel cannot restrict multicast groups: no monitor group");

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd;

		if (become_nobody())
			_exit(100);
		fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
			    NETLINK_GENERIC);
		if (fd < 0)
			_exit(101);
		if (!setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp,
				sizeof(grp)))
			_exit(1);
		_exit(errno == EPERM ? 0 : 2);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("code %d (1: nobody joined the group, 2: not EPERM)",
		       WEXITSTATUS(status));
}

TEST_HARNESS_MAIN
