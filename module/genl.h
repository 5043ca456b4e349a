/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Generic netlink family "sigwake": DOMAIN_GET, THREAD_GET and the
 * "monitor" multicast group (Documentation/netlink/specs/sigwake.yaml has
 * the protocol).
 *
 * The notifiers allocate with GFP_KERNEL: call them from process context
 * only.  Each is cheap when nobody listens.
 */
#ifndef _SIGWAKE_GENL_H
#define _SIGWAKE_GENL_H

#include <linux/types.h>
#include <linux/sigwake.h>

struct sigwake_domain;
struct sigwake_thread;

int sigwake_genl_init(void);
void sigwake_genl_exit(void);

void sigwake_genl_domain_new(struct sigwake_domain *dom);
void sigwake_genl_domain_del(struct sigwake_domain *dom);
void sigwake_genl_thread_new(struct sigwake_thread *t);
void sigwake_genl_thread_del(struct sigwake_thread *t, int why);
void sigwake_genl_forward_change(struct sigwake_domain *dom, u32 host_signo,
				 u32 guest_signo, u32 target, bool removed);

#endif /* _SIGWAKE_GENL_H */
