// SPDX-License-Identifier: GPL-2.0
/*
 * The user-space side of the "sigwake" generic netlink family: see
 * sigwake_nl.h.
 */
#include <string.h>
#include <stdio.h>

#include <linux/netlink.h>
#include <netlink/genl/genl.h>

#include "sigwake_nl.h"

/* The reply attributes, as the spec types them. */
static struct nla_policy sigwake_nl_policy[SIGWAKE_NL_A_MAX + 1] = {
	[SIGWAKE_NL_A_DOMAIN_ID] = { .type = NLA_U32 },
	[SIGWAKE_NL_A_PID] = { .type = NLA_U32 },
	[SIGWAKE_NL_A_COMM] = { .type = NLA_STRING },
	[SIGWAKE_NL_A_UID] = { .type = NLA_U32 },
	[SIGWAKE_NL_A_NR_THREADS] = { .type = NLA_U32 },
	[SIGWAKE_NL_A_NR_QUEUES] = { .type = NLA_U32 },
	[SIGWAKE_NL_A_PINNED_PAGES] = { .type = NLA_U64 },
	[SIGWAKE_NL_A_QUEUED] = { .type = NLA_U64 },
	[SIGWAKE_NL_A_COUNTERS] = { .type = NLA_NESTED },
	[SIGWAKE_NL_A_HANDLE] = { .type = NLA_U32 },
	[SIGWAKE_NL_A_TID] = { .type = NLA_U32 },
	[SIGWAKE_NL_A_KICK_SIGNO] = { .type = NLA_U32 },
	[SIGWAKE_NL_A_EXITED] = { .type = NLA_FLAG },
	[SIGWAKE_NL_A_WAITING] = { .type = NLA_FLAG },
	[SIGWAKE_NL_A_STATE] = { .type = NLA_U32 },
	[SIGWAKE_NL_A_FLAGS] = { .type = NLA_U32 },
	[SIGWAKE_NL_A_PENDING] = { .type = NLA_U64 },
	[SIGWAKE_NL_A_BLOCKED] = { .type = NLA_U64 },
	[SIGWAKE_NL_A_WAKE_SEQ] = { .type = NLA_U64 },
	[SIGWAKE_NL_A_REASON] = { .type = NLA_U32 },
	[SIGWAKE_NL_A_HOST_SIGNO] = { .type = NLA_U32 },
	[SIGWAKE_NL_A_GUEST_SIGNO] = { .type = NLA_U32 },
	[SIGWAKE_NL_A_TARGET] = { .type = NLA_U32 },
	[SIGWAKE_NL_A_FORWARD_REMOVED] = { .type = NLA_FLAG },
};

int sigwake_nl_parse(struct nlmsghdr *nlh,
		     struct nlattr *tb[SIGWAKE_NL_A_MAX + 1])
{
	return genlmsg_parse(nlh, 0, tb, SIGWAKE_NL_A_MAX, sigwake_nl_policy);
}

void sigwake_nl_counters(struct nlattr *nest,
			 uint64_t cnt[SIGWAKE_NL_A_CNT_MAX + 1])
{
	struct nlattr *tb[SIGWAKE_NL_A_CNT_MAX + 1];
	int i;

	memset(cnt, 0, sizeof(cnt[0]) * (SIGWAKE_NL_A_CNT_MAX + 1));
	if (!nest || nla_parse_nested(tb, SIGWAKE_NL_A_CNT_MAX, nest, NULL))
		return;
	for (i = SIGWAKE_NL_A_CNT_POSTS; i <= SIGWAKE_NL_A_CNT_MAX; i++)
		if (tb[i] && nla_len(tb[i]) == (int)sizeof(uint64_t))
			cnt[i] = nla_get_u64(tb[i]);
}

/* The extended-ack attributes that follow an error code at @tlvs. */
static void sigwake_nl_extack(struct sigwake_nl_ack *ack, void *tlvs, int len)
{
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];

	if (len <= 0 || nla_parse(tb, NLMSGERR_ATTR_MAX, tlvs, len, NULL))
		return;
	if (tb[NLMSGERR_ATTR_MSG])
		snprintf(ack->msg, sizeof(ack->msg), "%s",
			 nla_get_string(tb[NLMSGERR_ATTR_MSG]));
	if (tb[NLMSGERR_ATTR_MISS_TYPE])
		ack->miss_type = (int)nla_get_u32(tb[NLMSGERR_ATTR_MISS_TYPE]);
}

static int sigwake_nl_on_error(struct sockaddr_nl *nla, struct nlmsgerr *e,
			       void *arg)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)e - 1;
	struct sigwake_nl_ack *ack = arg;
	int off;

	(void)nla;
	ack->err = e->error;
	ack->done = true;
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		/* The request is echoed unless the kernel capped the ack. */
		off = NLMSG_HDRLEN + sizeof(*e);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - NLMSG_HDRLEN;
		sigwake_nl_extack(ack, (char *)nlh + off,
				  (int)nlh->nlmsg_len - off);
	}
	return NL_STOP;
}

/* NLMSG_DONE carries the error of a dump that failed, and its ack TLVs. */
static int sigwake_nl_on_finish(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct sigwake_nl_ack *ack = arg;
	int code = 0;

	ack->done = true;
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(int)))
		return NL_STOP;
	memcpy(&code, nlmsg_data(nlh), sizeof(code));
	if (code < 0)
		ack->err = code;
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS)
		sigwake_nl_extack(ack, (char *)nlmsg_data(nlh) +
				  NLMSG_ALIGN(sizeof(int)),
				  (int)nlh->nlmsg_len -
				  NLMSG_LENGTH(sizeof(int)));
	return NL_STOP;
}

static int sigwake_nl_on_ack(struct nl_msg *msg, void *arg)
{
	struct sigwake_nl_ack *ack = arg;

	(void)msg;
	ack->done = true;
	return NL_STOP;
}

void sigwake_nl_ack_cb(struct nl_cb *cb, struct sigwake_nl_ack *ack)
{
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, sigwake_nl_on_finish, ack);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, sigwake_nl_on_ack, ack);
	nl_cb_err(cb, NL_CB_CUSTOM, sigwake_nl_on_error, ack);
}
