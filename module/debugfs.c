// SPDX-License-Identifier: GPL-2.0
/*
 * Live-object counts, read-only in debugfs (sigwake/objects), so that stress
 * tests can check that everything a run created is gone at its end.
 */

#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include "core.h"

struct sigwake_live sigwake_live;

static struct dentry *sigwake_debugfs_dir;

static int sigwake_objects_show(struct seq_file *m, void *unused)
{
	seq_printf(m, "domains %ld\n", atomic_long_read(&sigwake_live.domains));
	seq_printf(m, "threads %ld\n", atomic_long_read(&sigwake_live.threads));
	seq_printf(m, "queues %ld\n", atomic_long_read(&sigwake_live.queues));
	seq_printf(m, "pinned_pages %ld\n",
		   atomic_long_read(&sigwake_live.pinned_pages));
	seq_printf(m, "preempt_watches %ld\n",
		   atomic_long_read(&sigwake_live.preempt_watches));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(sigwake_objects);

void sigwake_debugfs_init(void)
{
	sigwake_debugfs_dir = debugfs_create_dir("sigwake", NULL);
	debugfs_create_file("objects", 0444, sigwake_debugfs_dir, NULL,
			    &sigwake_objects_fops);
}

void sigwake_debugfs_exit(void)
{
	debugfs_remove_recursive(sigwake_debugfs_dir);
}
