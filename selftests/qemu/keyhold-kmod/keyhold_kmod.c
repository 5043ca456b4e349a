// SPDX-License-Identifier: GPL-2.0
/*
 * keyhold_kmod: switch the kernel's preempt notifiers on for the life of a
 * test VM in which KVM cannot load, so that sigwake's insmod and rmmod only
 * count the static key instead of live-patching __schedule().
 *
 * /bin/keyhold (keyhold.c) does this with an empty KVM virtual machine.
 * Where KVM refuses to load under TCG (PREEMPT_RT 7.x: "RT requires
 * X86_FEATURE_CONSTANT_TSC"), /init loads this module instead, while the
 * VM is quiet, and never unloads it.  Test-only: it is built next to
 * sigwake.ko for the VM and is not part of the product.
 */
#include <linux/module.h>
#include <linux/preempt.h>

static int __init keyhold_init(void)
{
#ifdef CONFIG_PREEMPT_NOTIFIERS
	preempt_notifier_inc();
	return 0;
#else
	return -EOPNOTSUPP;
#endif
}

static void __exit keyhold_exit(void)
{
#ifdef CONFIG_PREEMPT_NOTIFIERS
	preempt_notifier_dec();
#endif
}

module_init(keyhold_init);
module_exit(keyhold_exit);
MODULE_DESCRIPTION("sigwake test VM: hold the preempt notifier static key");
MODULE_LICENSE("GPL");
