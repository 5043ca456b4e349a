/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The user-space side of the "sigwake" generic netlink family (libnl-genl),
 * shared by sigwakectl and selftests/genl_test.c: the attribute policy,
 * message and counter parsing, and the acks, errors and extended acks of
 * a request.  Documentation/netlink/specs/sigwake.yaml is the protocol.
 */
#ifndef _SIGWAKE_NL_H
#define _SIGWAKE_NL_H

#include <stdbool.h>
#include <stdint.h>

#include <netlink/attr.h>
#include <netlink/handlers.h>
#include <netlink/msg.h>

#include <linux/sigwake.h>

/* How a request ended: its error and the kernel's extended ack. */
struct sigwake_nl_ack {
	int err;		/* 0 or -errno, as the kernel sent it */
	char msg[256];		/* NLMSGERR_ATTR_MSG, or "" */
	int miss_type;		/* NLMSGERR_ATTR_MISS_TYPE, or 0 */
	bool done;		/* the ack, the error or NLMSG_DONE came */
};

/*
 * Point @cb's ack, error and NLMSG_DONE handlers at @ack (the valid-message
 * handler is the caller's).
 */
void sigwake_nl_ack_cb(struct nl_cb *cb, struct sigwake_nl_ack *ack);

/*
 * Parse one message of the family into @tb, checking each attribute's type
 * against the spec's.  Returns 0 or a negative libnl error.
 */
int sigwake_nl_parse(struct nlmsghdr *nlh,
		     struct nlattr *tb[SIGWAKE_NL_A_MAX + 1]);

/* The counters nested in @nest (NULL: none) into @cnt, others zero. */
void sigwake_nl_counters(struct nlattr *nest,
			 uint64_t cnt[SIGWAKE_NL_A_CNT_MAX + 1]);

#endif /* _SIGWAKE_NL_H */
