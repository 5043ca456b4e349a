// SPDX-License-Identifier: GPL-2.0
/*
 * Pinned user pages.  Thread blocks, kick bytes and wait-queue words live in
 * the runtime's memory, yet posts and wakes must update them from atomic
 * context, where a page fault is not allowed.  Each distinct page is pinned
 * once per domain (FOLL_LONGTERM) and reached through its kernel mapping; it
 * is charged to the opener's RLIMIT_MEMLOCK, as io_uring does, and to the
 * mm's pinned_vm.
 */

#include <linux/capability.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/slab.h>

#include "core.h"

struct sigwake_pin {
	struct page *page;
	unsigned int users;
};

static int sigwake_charge(struct sigwake_domain *dom, unsigned long nr)
{
	unsigned long limit, cur, new;

	if (dom->charge_memlock) {
		limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
		cur = atomic_long_read(&dom->user->locked_vm);
		do {
			new = cur + nr;
			if (new > limit)
				return -ENOMEM;
		} while (!atomic_long_try_cmpxchg(&dom->user->locked_vm,
						  &cur, new));
	}
	atomic64_add(nr, &dom->mm->pinned_vm);
	return 0;
}

static void sigwake_uncharge(struct sigwake_domain *dom, unsigned long nr)
{
	if (dom->charge_memlock)
		atomic_long_sub(nr, &dom->user->locked_vm);
	atomic64_sub(nr, &dom->mm->pinned_vm);
}

/**
 * sigwake_pin() - pin the user page holding @uaddr for the domain
 * @dom: the domain; the caller is its owner (current->mm is dom->mm)
 * @uaddr: a user address; the object there must not cross its page
 *
 * The page is looked up anew each time, and pins are kept per physical
 * page: after munmap() and a new mapping at the same address, an old pin
 * still held by an older object is not mistaken for the new page.
 *
 * Return: the kernel address that aliases @uaddr, or an ERR_PTR: -EFAULT
 * (not a mapped, writable user page), -ENOMEM (RLIMIT_MEMLOCK or memory).
 */
void *sigwake_pin(struct sigwake_domain *dom, unsigned long uaddr)
{
	struct sigwake_pin *pin;
	struct page *page;
	unsigned long index;
	int ret;

	ret = pin_user_pages_fast(uaddr & PAGE_MASK, 1,
				  FOLL_WRITE | FOLL_LONGTERM, &page);
	if (ret != 1)
		return ERR_PTR((ret == -ENOMEM || ret == -EINTR) ? ret : -EFAULT);
	if (!page_address(page)) {
		ret = -EFAULT;
		goto err_unpin;
	}
	index = page_to_pfn(page);

	mutex_lock(&dom->pin_lock);
	pin = xa_load(&dom->pins, index);
	if (pin) {
		/* Pinned already: that pin is the one we keep. */
		pin->users++;
		mutex_unlock(&dom->pin_lock);
		unpin_user_page(page);
		return page_address(page) + offset_in_page(uaddr);
	}

	pin = kzalloc(sizeof(*pin), GFP_KERNEL_ACCOUNT);
	if (!pin) {
		ret = -ENOMEM;
		goto err_unlock;
	}
	ret = sigwake_charge(dom, 1);
	if (ret)
		goto err_free_pin;
	pin->page = page;
	pin->users = 1;
	ret = xa_err(xa_store(&dom->pins, index, pin, GFP_KERNEL_ACCOUNT));
	if (ret)
		goto err_uncharge;
	dom->nr_pinned++;
	atomic_long_inc(&sigwake_live.pinned_pages);
	mutex_unlock(&dom->pin_lock);
	return page_address(page) + offset_in_page(uaddr);

err_uncharge:
	sigwake_uncharge(dom, 1);
err_free_pin:
	kfree(pin);
err_unlock:
	mutex_unlock(&dom->pin_lock);
err_unpin:
	unpin_user_page(page);
	return ERR_PTR(ret);
}

/**
 * sigwake_unpin() - drop one use of a pinned page
 * @dom: the domain
 * @kaddr: an address returned by a successful sigwake_pin()
 *
 * The caller guarantees that nobody reaches the page through the kernel
 * alias any more (the owning object is dead under its lock).
 */
void sigwake_unpin(struct sigwake_domain *dom, void *kaddr)
{
	unsigned long index = page_to_pfn(virt_to_page(kaddr));
	struct sigwake_pin *pin;

	mutex_lock(&dom->pin_lock);
	pin = xa_load(&dom->pins, index);
	if (WARN_ON_ONCE(!pin))
		goto out_unlock;
	if (--pin->users)
		goto out_unlock;
	xa_erase(&dom->pins, index);
	unpin_user_page(pin->page);
	sigwake_uncharge(dom, 1);
	dom->nr_pinned--;
	atomic_long_dec(&sigwake_live.pinned_pages);
	kfree(pin);
out_unlock:
	mutex_unlock(&dom->pin_lock);
}
