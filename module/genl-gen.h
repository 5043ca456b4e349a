/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/sigwake.yaml */
/* YNL-GEN kernel header */
/* To regenerate run: tools/net/ynl/ynl-regen.sh */

#ifndef _LINUX_SIGWAKE_GEN_H
#define _LINUX_SIGWAKE_GEN_H

#include <net/netlink.h>
#include <net/genetlink.h>

#include <uapi/linux/sigwake.h>
#include <linux/sigwake.h>

/* Global operation policy for sigwake */
extern const struct nla_policy sigwake_nl_policy[SIGWAKE_NL_A_DOMAIN_ID + 1];

/* Ops table for sigwake */
extern const struct genl_small_ops sigwake_nl_ops[2];

int sigwake_nl_domain_get_doit(struct sk_buff *skb, struct genl_info *info);
int sigwake_nl_domain_get_dumpit(struct sk_buff *skb,
				 struct netlink_callback *cb);
int sigwake_nl_thread_get_dumpit(struct sk_buff *skb,
				 struct netlink_callback *cb);

#endif /* _LINUX_SIGWAKE_GEN_H */
