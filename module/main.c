// SPDX-License-Identifier: GPL-2.0
/*
 * sigwake: lossless delivery of asynchronous events to the guest threads of
 * user-space runtimes.  Module entry, the misc device and its parameters.
 */

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <net/genetlink.h>

#include "core.h"
#include "genl.h"

unsigned int sigwake_max_threads = 16384;
module_param_named(max_threads_per_domain, sigwake_max_threads, uint, 0644);
MODULE_PARM_DESC(max_threads_per_domain,
		 "Registered threads per domain (ENOSPC beyond)");

unsigned int sigwake_max_queues = 65536;
module_param_named(max_queues_per_domain, sigwake_max_queues, uint, 0644);
MODULE_PARM_DESC(max_queues_per_domain,
		 "Wait queues per domain (ENOSPC beyond)");

unsigned int sigwake_max_user_queues = 131072;
module_param_named(max_queues_per_user, sigwake_max_user_queues, uint, 0644);
MODULE_PARM_DESC(max_queues_per_user,
		 "Wait queues per user over all its domains (ENOSPC beyond)");

unsigned int sigwake_max_domains = 256;
module_param_named(max_domains_per_user, sigwake_max_domains, uint, 0644);
MODULE_PARM_DESC(max_domains_per_user,
		 "Open domains per user (open(2) fails with ENOSPC beyond)");

module_param_named(kick_retry_us, sigwake_kick_retry_us, uint, 0644);
MODULE_PARM_DESC(kick_retry_us,
		 "KICK with SIGWAKE_KICK_WAIT: re-kick interval in microseconds");

struct workqueue_struct *sigwake_reap_workqueue;
static struct tracepoint *sigwake_tp_exit;
static struct tracepoint *sigwake_tp_exec;
static struct tracepoint *sigwake_tp_signal;
bool sigwake_forward_available;

static int sigwake_open(struct inode *inode, struct file *file)
{
	struct sigwake_domain *dom;

	dom = sigwake_domain_create();
	if (IS_ERR(dom))
		return PTR_ERR(dom);
	file->private_data = dom;
	return stream_open(inode, file);
}

static int sigwake_flush(struct file *file, fl_owner_t id)
{
	struct sigwake_domain *dom = file->private_data;

	if (sigwake_domain_is_owner(dom))
		sigwake_domain_flush(dom);
	return 0;
}

static int sigwake_release(struct inode *inode, struct file *file)
{
	sigwake_domain_destroy(file->private_data);
	return 0;
}

static const struct file_operations sigwake_fops = {
	.owner = THIS_MODULE,
	.open = sigwake_open,
	.flush = sigwake_flush,
	.release = sigwake_release,
	.unlocked_ioctl = sigwake_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice sigwake_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "sigwake",
	.fops = &sigwake_fops,
	.mode = 0666,
};

static void sigwake_find_tracepoint(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "sched_process_exit"))
		sigwake_tp_exit = tp;
	else if (!strcmp(tp->name, "sched_process_exec"))
		sigwake_tp_exec = tp;
	else if (!strcmp(tp->name, "signal_generate"))
		sigwake_tp_signal = tp;
}

static int __init sigwake_init(void)
{
	int ret;

	for_each_kernel_tracepoint(sigwake_find_tracepoint, NULL);
	if (!sigwake_tp_exit || !sigwake_tp_exec) {
		pr_err("the kernel has no sched_process_exit or sched_process_exec tracepoint (CONFIG_TRACEPOINTS)\n");
		return -ENODEV;
	}

	/*
	 * Unbound: the work is queued from the CPU of an exiting or signalled
	 * thread, often one that an application keeps busy (or isolated) for
	 * its own threads; a bound work item would wait there for that CPU.
	 * Nothing in it depends on the CPU it runs on.  (From 7.2 on a
	 * workqueue must say WQ_PERCPU or WQ_UNBOUND.)
	 */
	sigwake_reap_workqueue = alloc_workqueue("sigwake_reap", WQ_UNBOUND, 0);
	if (!sigwake_reap_workqueue)
		return -ENOMEM;

	ret = sigwake_genl_init();
	if (ret)
		goto err_destroy_wq;

	ret = tracepoint_probe_register(sigwake_tp_exit,
					sigwake_thread_exit_probe, NULL);
	if (ret)
		goto err_genl;

	ret = tracepoint_probe_register(sigwake_tp_exec,
					sigwake_thread_exec_probe, NULL);
	if (ret)
		goto err_exit_probe;

	if (sigwake_tp_signal &&
	    !tracepoint_probe_register(sigwake_tp_signal,
				       sigwake_forward_probe, NULL))
		sigwake_forward_available = true;
	else
		pr_warn("no signal_generate tracepoint: SIGWAKE_IOC_FORWARD unavailable\n");

	sigwake_preempt_module_init();
	ret = misc_register(&sigwake_misc);
	if (ret)
		goto err_preempt_exit;

	sigwake_debugfs_init();
	pr_info("loaded: /dev/%s\n", sigwake_misc.name);
	return 0;

err_preempt_exit:
	sigwake_preempt_module_exit();
	if (sigwake_forward_available)
		tracepoint_probe_unregister(sigwake_tp_signal,
					    sigwake_forward_probe, NULL);
	tracepoint_probe_unregister(sigwake_tp_exec,
				    sigwake_thread_exec_probe, NULL);
err_exit_probe:
	tracepoint_probe_unregister(sigwake_tp_exit,
				    sigwake_thread_exit_probe, NULL);
	tracepoint_synchronize_unregister();
err_genl:
	sigwake_genl_exit();
err_destroy_wq:
	destroy_workqueue(sigwake_reap_workqueue);
	return ret;
}

static void __exit sigwake_exit(void)
{
	misc_deregister(&sigwake_misc);
	/*
	 * Before the workqueue goes: a netlink request holds no module
	 * reference, and the domain reference it drops may queue the free.
	 * Every file is closed by now, so no later work sends an event.
	 */
	sigwake_genl_exit();
	sigwake_debugfs_exit();
	sigwake_preempt_module_exit();
	if (sigwake_forward_available)
		tracepoint_probe_unregister(sigwake_tp_signal,
					    sigwake_forward_probe, NULL);
	tracepoint_probe_unregister(sigwake_tp_exec,
				    sigwake_thread_exec_probe, NULL);
	tracepoint_probe_unregister(sigwake_tp_exit,
				    sigwake_thread_exit_probe, NULL);
	tracepoint_synchronize_unregister();
	destroy_workqueue(sigwake_reap_workqueue);
	rcu_barrier();
}

module_init(sigwake_init);
module_exit(sigwake_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Lossless event delivery to the guest threads of user-space runtimes");
MODULE_AUTHOR("The sigwake authors");
MODULE_VERSION("0.1.0");
MODULE_ALIAS_GENL_FAMILY(SIGWAKE_GENL_NAME);
