// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/sigwake.yaml */
/* YNL-GEN kernel source */
/* To regenerate run: tools/net/ynl/ynl-regen.sh */

#include <net/netlink.h>
#include <net/genetlink.h>

#include "genl-gen.h"

#include <uapi/linux/sigwake.h>
#include <linux/sigwake.h>

/* Global operation policy for sigwake */
const struct nla_policy sigwake_nl_policy[SIGWAKE_NL_A_DOMAIN_ID + 1] = {
	[SIGWAKE_NL_A_DOMAIN_ID] = NLA_POLICY_MIN(NLA_U32, 1),
};

/* Ops table for sigwake */
const struct genl_small_ops sigwake_nl_ops[2] = {
	{
		.cmd	= SIGWAKE_NL_CMD_DOMAIN_GET,
		.doit	= sigwake_nl_domain_get_doit,
		.dumpit	= sigwake_nl_domain_get_dumpit,
	},
	{
		.cmd	= SIGWAKE_NL_CMD_THREAD_GET,
		.dumpit	= sigwake_nl_thread_get_dumpit,
	},
};
