// SPDX-License-Identifier: GPL-2.0
/*
 * File descriptors in SIGWAKE_IOC_WAIT: sleep until a descriptor is ready,
 * a guest signal is posted, a wake, a kick or the deadline, atomically (the
 * QEMU linux-user race of 2011: a signal posted just before a blocking read
 * must not be missed).
 *
 * The descriptors are armed, as poll(2) arms them, before WAIT takes the
 * thread's lock for its pre-sleep checks.  A readiness callback that fires
 * from then on records fd_event under that lock and wakes the thread if it
 * already sleeps; the pre-sleep checks see fd_event otherwise.  After the
 * wait every descriptor is polled once more to report revents.  A wake-up
 * from a callback is only a hint: if that look finds nothing ready, the
 * thread goes back to sleep, as poll(2) does, so REASON_FD always comes
 * with the revents of a ready descriptor.
 */

#include <linux/file.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include "core.h"

struct sigwake_fdwait_entry {
	wait_queue_entry_t wait;
	wait_queue_head_t *head;
	struct sigwake_thread *t;
	__poll_t events;
	struct list_head node;
};

static __poll_t sigwake_pfd_events(const struct sigwake_pollfd *pfd)
{
	return demangle_poll(pfd->events) | EPOLLERR | EPOLLHUP;
}

static int sigwake_fdwait_wake(wait_queue_entry_t *wait, unsigned int mode,
			       int sync, void *key)
{
	struct sigwake_fdwait_entry *e;
	__poll_t mask = key_to_poll(key);

	e = container_of(wait, struct sigwake_fdwait_entry, wait);
	if (mask && !(mask & (e->events | POLLFREE)))
		return 0;
	sigwake_thread_fd_event(e->t);
	if (mask & POLLFREE) {
		/*
		 * The queue head is going away: leave it now, as epoll does.
		 * Once the release below is seen, disarm may free @e: it is
		 * the last access.
		 */
		list_del_init(&wait->entry);
		/* Pairs with the acquire in disarm: we are off the list. */
		smp_store_release(&e->head, NULL);
	}
	return 0;
}

static void sigwake_fdwait_queue(struct file *file, wait_queue_head_t *head,
				 poll_table *pt)
{
	struct sigwake_fdwait *fw = container_of(pt, struct sigwake_fdwait, pt);
	struct sigwake_fdwait_entry *e;

	e = kmalloc(sizeof(*e), GFP_KERNEL);
	if (!e) {
		fw->error = -ENOMEM;
		return;
	}
	init_waitqueue_func_entry(&e->wait, sigwake_fdwait_wake);
	e->head = head;
	e->t = fw->t;
	e->events = fw->cur_events;
	list_add_tail(&e->node, &fw->entries);
	add_wait_queue(head, &e->wait);
}

/**
 * sigwake_fdwait_prepare() - copy in the descriptors of a WAIT
 * @fw: zeroed by the caller
 * @ufds: user address of the struct sigwake_pollfd array
 * @nfds: its length, 1..SIGWAKE_WAIT_MAX_FDS
 *
 * Return: 0, -EINVAL, -EFAULT or -ENOMEM.
 */
int sigwake_fdwait_prepare(struct sigwake_fdwait *fw, u64 ufds, u32 nfds)
{
	if (!nfds || nfds > SIGWAKE_WAIT_MAX_FDS)
		return -EINVAL;
	fw->ufds = u64_to_user_ptr(ufds);
	fw->nfds = nfds;
	fw->pfds = memdup_user(fw->ufds, array_size(nfds, sizeof(*fw->pfds)));
	if (IS_ERR(fw->pfds)) {
		int ret = PTR_ERR(fw->pfds);

		fw->pfds = NULL;
		return ret;
	}
	fw->files = kcalloc(nfds, sizeof(*fw->files), GFP_KERNEL);
	if (!fw->files) {
		kfree(fw->pfds);
		fw->pfds = NULL;
		return -ENOMEM;
	}
	INIT_LIST_HEAD(&fw->entries);
	init_poll_funcptr(&fw->pt, sigwake_fdwait_queue);
	return 0;
}

/**
 * sigwake_fdwait_arm() - start watching the descriptors for thread @t
 * @fw: prepared descriptors
 * @t: the waiting thread (the caller holds a reference until disarm)
 *
 * Return: true if one is ready already (nothing more is armed then), or
 * if a wait entry could not be allocated (@fw->error is then -ENOMEM).
 */
bool sigwake_fdwait_arm(struct sigwake_fdwait *fw, struct sigwake_thread *t)
{
	bool ready = false;
	u32 i;

	fw->t = t;
	for (i = 0; i < fw->nfds; i++) {
		struct sigwake_pollfd *pfd = &fw->pfds[i];
		__poll_t mask;

		if (pfd->fd < 0)
			continue;
		fw->files[i] = fget(pfd->fd);
		if (!fw->files[i]) {
			ready = true;
			continue;
		}
		fw->cur_events = sigwake_pfd_events(pfd);
		fw->pt._key = fw->cur_events;
		mask = vfs_poll(fw->files[i],
				ready || fw->error ? NULL : &fw->pt);
		if (mask & fw->cur_events)
			ready = true;
	}
	return ready || fw->error;
}

/**
 * sigwake_fdwait_disarm() - stop watching; no callback runs after this
 * @fw: armed descriptors
 */
void sigwake_fdwait_disarm(struct sigwake_fdwait *fw)
{
	struct sigwake_fdwait_entry *e, *next;
	wait_queue_head_t *head;

	list_for_each_entry_safe(e, next, &fw->entries, node) {
		/* A head that saw POLLFREE is freed after an RCU period. */
		rcu_read_lock();
		/* Pairs with the release in the POLLFREE wake-up. */
		head = smp_load_acquire(&e->head);
		if (head)
			remove_wait_queue(head, &e->wait);
		rcu_read_unlock();
		list_del(&e->node);
		kfree(e);
	}
}

static __poll_t sigwake_fdwait_revents(struct sigwake_fdwait *fw, u32 i)
{
	struct sigwake_pollfd *pfd = &fw->pfds[i];

	if (pfd->fd < 0)
		return 0;
	if (!fw->files[i])
		return EPOLLNVAL;
	return vfs_poll(fw->files[i], NULL) & sigwake_pfd_events(pfd);
}

/**
 * sigwake_fdwait_poll() - look at every descriptor once, after a wake-up
 * @fw: armed descriptors
 *
 * A readiness callback is a hint, as it is for poll(2): the byte that
 * caused it may be read already by another thread, or it may come late
 * from a write the caller consumed before this WAIT.  Only this look says
 * whether a descriptor is ready.  If one is, the revents it saw are the
 * ones reported.
 *
 * Return: true if a descriptor is ready.
 */
bool sigwake_fdwait_poll(struct sigwake_fdwait *fw)
{
	bool ready = false;
	u32 i;

	for (i = 0; i < fw->nfds; i++) {
		__poll_t mask = sigwake_fdwait_revents(fw, i);

		fw->pfds[i].revents = mangle_poll(mask);
		if (mask)
			ready = true;
	}
	fw->polled = ready;
	return ready;
}

/**
 * sigwake_fdwait_finish() - report revents and release the descriptors
 * @fw: disarmed (or never armed) descriptors
 * @report: fill in and copy out revents
 *
 * Return: 0 or -EFAULT.
 */
int sigwake_fdwait_finish(struct sigwake_fdwait *fw, bool report)
{
	int ret = 0;
	u32 i;

	if (!fw->pfds)
		return 0;
	for (i = 0; i < fw->nfds; i++) {
		if (report && !fw->polled)
			fw->pfds[i].revents =
				mangle_poll(sigwake_fdwait_revents(fw, i));
		if (fw->files[i])
			fput(fw->files[i]);
	}
	if (report && copy_to_user(fw->ufds, fw->pfds,
				   array_size(fw->nfds, sizeof(*fw->pfds))))
		ret = -EFAULT;
	kfree(fw->files);
	kfree(fw->pfds);
	fw->pfds = NULL;
	return ret;
}
