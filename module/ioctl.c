// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl entry: a table of commands, each with its argument struct copied by
 * copy_struct_from_user().  A struct shorter than its first published
 * version gives EINVAL, an unknown non-zero tail E2BIG, an unknown command
 * ENOTTY.  The whole command is compared with the table's: type, number
 * and direction exactly, and the size bits must be at least the first
 * published version's (a newer header's larger struct is accepted: the
 * struct's own size field is what versions it, and its tail decides).
 */

#include <linux/fs.h>
#include <linux/nospec.h>
#include <linux/overflow.h>
#include <linux/uaccess.h>

#include "core.h"

struct sigwake_ucmd {
	void __user *ubuf;
	u32 user_size;
	void *cmd;
};

static int sigwake_respond(struct sigwake_ucmd *ucmd, size_t size)
{
	size_t len = min_t(size_t, size, ucmd->user_size);

	if (copy_to_user(ucmd->ubuf, ucmd->cmd, len))
		return -EFAULT;
	return 0;
}

static int sigwake_ioc_register(struct sigwake_domain *dom,
				struct sigwake_ucmd *ucmd)
{
	struct sigwake_register_args *args = ucmd->cmd;
	int ret;

	ret = sigwake_thread_register(dom, args);
	if (ret)
		return ret;
	ret = sigwake_respond(ucmd, sizeof(*args));
	/* Not by handle: another thread may hold that number by now. */
	if (ret)
		sigwake_thread_undo_register(dom, args->handle);
	return ret;
}

static int sigwake_ioc_unregister(struct sigwake_domain *dom,
				  struct sigwake_ucmd *ucmd)
{
	struct sigwake_unregister_args *args = ucmd->cmd;

	return sigwake_thread_unregister(dom, args->handle);
}

/*
 * @a + @b clamped to 0..KTIME_MAX: a time namespace's offset may be
 * negative, and a deadline may be as far as the caller likes.
 */
static ktime_t sigwake_ktime_add_clamp(ktime_t a, ktime_t b)
{
	ktime_t sum;

	if (check_add_overflow(a, b, &sum))
		return b < 0 ? 0 : KTIME_MAX;
	return sum < 0 ? 0 : sum;
}

/*
 * A host signal interrupted the wait.  Rewrite a relative timeout as the
 * absolute deadline in the caller's time namespace, so that neither the
 * automatic restart nor a retry with the same struct extends it.
 */
static int sigwake_wait_restart(struct sigwake_ucmd *ucmd, ktime_t deadline)
{
	struct sigwake_wait_args __user *uargs = ucmd->ubuf;
	struct sigwake_wait_args *args = ucmd->cmd;
	ktime_t offset = sigwake_timens_monotonic_offset();
	s64 abs_ns;

	abs_ns = ktime_to_ns(sigwake_ktime_add_clamp(deadline, offset));
	/*
	 * A struct the kernel cannot rewrite (read-only memory) cannot be
	 * restarted without waiting the whole timeout again: the caller gets
	 * EINTR instead and decides.  The flag goes first: should only it
	 * be written (a struct across a page boundary), a retry ends early,
	 * never late.
	 */
	if (put_user(args->flags | SIGWAKE_WAIT_ABSTIME, &uargs->flags) ||
	    put_user(abs_ns, &uargs->timeout_ns))
		return -EINTR;
	return -ERESTARTSYS;
}

static int sigwake_ioc_wait(struct sigwake_domain *dom,
			    struct sigwake_ucmd *ucmd)
{
	struct sigwake_wait_args *args = ucmd->cmd;
	/* A close(2) from now on ends this WAIT (sigwake_domain_flush()). */
	unsigned int flushes = READ_ONCE(dom->flushes);
	struct sigwake_fdwait fdwait = {}, *fw = NULL;
	struct sigwake_wq *wq = NULL;
	ktime_t deadline, *dl = NULL;
	int ret, err;

	if (args->flags & ~SIGWAKE_WAIT_FLAGS_ALL || args->pad || args->pad2)
		return -EINVAL;
	if (args->timeout_ns < 0 && args->timeout_ns != SIGWAKE_TIMEOUT_NONE)
		return -EINVAL;

	if (args->timeout_ns != SIGWAKE_TIMEOUT_NONE) {
		if (args->flags & SIGWAKE_WAIT_ABSTIME) {
			ktime_t offset = sigwake_timens_monotonic_offset();

			deadline = sigwake_ktime_add_clamp(args->timeout_ns,
							   -offset);
		} else {
			deadline = ktime_add_safe(ktime_get(),
						  ns_to_ktime(args->timeout_ns));
		}
		dl = &deadline;
	}

	if (args->nfds) {
		ret = sigwake_fdwait_prepare(&fdwait, args->fds, args->nfds);
		if (ret)
			return ret;
		fw = &fdwait;
	}

	if (args->wq != SIGWAKE_NO_WQ) {
		wq = sigwake_wq_get(dom, args->wq);
		if (!wq) {
			sigwake_fdwait_finish(&fdwait, false);
			return -ENOENT;
		}
	}

	ret = sigwake_thread_wait(dom, wq, args->expected, dl, fw, flushes);
	if (wq)
		sigwake_wq_put(wq);
	err = sigwake_fdwait_finish(&fdwait, ret > 0);
	if (ret > 0 && err)
		ret = err;

	if (ret == -ERESTARTSYS && dl && !(args->flags & SIGWAKE_WAIT_ABSTIME))
		ret = sigwake_wait_restart(ucmd, deadline);
	if (ret < 0)
		return ret;
	args->reason = ret;
	return sigwake_respond(ucmd, sizeof(*args));
}

static int sigwake_ioc_wake(struct sigwake_domain *dom,
			    struct sigwake_ucmd *ucmd)
{
	struct sigwake_wake_args *args = ucmd->cmd;
	struct sigwake_wq *wq;

	wq = sigwake_wq_get(dom, args->wq);
	if (!wq)
		return -ENOENT;
	args->woken = sigwake_wq_wake(wq, args->nr);
	sigwake_wq_put(wq);
	return sigwake_respond(ucmd, sizeof(*args));
}

static int sigwake_ioc_post(struct sigwake_domain *dom,
			    struct sigwake_ucmd *ucmd)
{
	struct sigwake_post_args *args = ucmd->cmd;
	int ret;

	if (args->flags)
		return -EINVAL;
	ret = sigwake_thread_post(dom, args->target, args->signo,
				  &args->handle);
	if (ret < 0)
		return ret;
	args->outcome = ret;
	return sigwake_respond(ucmd, sizeof(*args));
}

static int sigwake_ioc_kick(struct sigwake_domain *dom,
			    struct sigwake_ucmd *ucmd)
{
	struct sigwake_kick_args *args = ucmd->cmd;
	int ret, outcome;

	if (args->flags & ~SIGWAKE_KICK_FLAGS_ALL)
		return -EINVAL;
	if (args->flags & SIGWAKE_KICK_WAIT) {
		if (args->timeout_ns < 0 &&
		    args->timeout_ns != SIGWAKE_TIMEOUT_NONE)
			return -EINVAL;
		ret = sigwake_thread_kick_wait(dom, args->target,
					       args->timeout_ns, &outcome);
		if (ret)
			return ret;
		ret = outcome;
	} else {
		if (args->timeout_ns)
			return -EINVAL;
		ret = sigwake_thread_kick(dom, args->target);
		if (ret < 0)
			return ret;
	}
	args->outcome = ret;
	return sigwake_respond(ucmd, sizeof(*args));
}

static int sigwake_ioc_wq_create(struct sigwake_domain *dom,
				 struct sigwake_ucmd *ucmd)
{
	struct sigwake_wq_create_args *args = ucmd->cmd;
	struct sigwake_wq *wq;
	int ret;

	if (args->flags || args->pad)
		return -EINVAL;
	if (args->word && !IS_ALIGNED(args->word, sizeof(u32)))
		return -EINVAL;
	if (args->word && (args->word > ULONG_MAX ||
			   !access_ok(u64_to_user_ptr(args->word),
				      sizeof(u32))))
		return -EFAULT;

	wq = sigwake_wq_create(dom, args->word);
	if (IS_ERR(wq))
		return PTR_ERR(wq);
	args->handle = wq->handle;
	ret = sigwake_respond(ucmd, sizeof(*args));
	/* Not by handle: another thread may hold that number by now. */
	if (ret)
		sigwake_wq_undo_create(dom, wq);
	sigwake_wq_put(wq);
	return ret;
}

static int sigwake_ioc_wq_destroy(struct sigwake_domain *dom,
				  struct sigwake_ucmd *ucmd)
{
	struct sigwake_wq_destroy_args *args = ucmd->cmd;

	return sigwake_wq_destroy(dom, args->handle);
}

static int sigwake_ioc_forward(struct sigwake_domain *dom,
			       struct sigwake_ucmd *ucmd)
{
	return sigwake_forward_set(dom, ucmd->cmd);
}

static int sigwake_ioc_preempt(struct sigwake_domain *dom,
			       struct sigwake_ucmd *ucmd)
{
	return sigwake_preempt_set(dom, ucmd->cmd);
}

union sigwake_ioctl_buffer {
	struct sigwake_register_args reg;
	struct sigwake_unregister_args unreg;
	struct sigwake_wait_args wait;
	struct sigwake_wake_args wake;
	struct sigwake_post_args post;
	struct sigwake_kick_args kick;
	struct sigwake_wq_create_args wq_create;
	struct sigwake_wq_destroy_args wq_destroy;
	struct sigwake_forward_args forward;
	struct sigwake_preempt_args preempt;
};

struct sigwake_ioctl_op {
	unsigned int size;
	unsigned int min_size;
	unsigned int ioctl_num;
	int (*execute)(struct sigwake_domain *dom, struct sigwake_ucmd *ucmd);
};

/*
 * SIGWAKE_IOC_<_name> runs @_fn with struct @_type.  @_last is the last
 * member of the struct's first published version: its end is the shortest
 * size accepted, SIGWAKE_<_name>_ARGS_SIZE_VER0 (checked at build time).
 */
#define SIGWAKE_OP(_name, _fn, _type, _last)				\
	[SIGWAKE_CMD_##_name] = {					\
		.size = sizeof(_type),					\
		.min_size = SIGWAKE_##_name##_ARGS_SIZE_VER0 +		\
			    BUILD_BUG_ON_ZERO(offsetofend(_type, _last) != \
					      SIGWAKE_##_name##_ARGS_SIZE_VER0), \
		.ioctl_num = SIGWAKE_IOC_##_name,			\
		.execute = _fn,						\
	}

static const struct sigwake_ioctl_op sigwake_ioctl_ops[] = {
	SIGWAKE_OP(REGISTER, sigwake_ioc_register,
		   struct sigwake_register_args, handle),
	SIGWAKE_OP(UNREGISTER, sigwake_ioc_unregister,
		   struct sigwake_unregister_args, handle),
	SIGWAKE_OP(WAIT, sigwake_ioc_wait, struct sigwake_wait_args, pad),
	SIGWAKE_OP(WAKE, sigwake_ioc_wake, struct sigwake_wake_args, woken),
	SIGWAKE_OP(POST, sigwake_ioc_post, struct sigwake_post_args, outcome),
	SIGWAKE_OP(KICK, sigwake_ioc_kick, struct sigwake_kick_args,
		   timeout_ns),
	SIGWAKE_OP(WQ_CREATE, sigwake_ioc_wq_create,
		   struct sigwake_wq_create_args, pad),
	SIGWAKE_OP(WQ_DESTROY, sigwake_ioc_wq_destroy,
		   struct sigwake_wq_destroy_args, handle),
	SIGWAKE_OP(FORWARD, sigwake_ioc_forward, struct sigwake_forward_args,
		   pad),
	SIGWAKE_OP(PREEMPT, sigwake_ioc_preempt, struct sigwake_preempt_args,
		   budget_ns),
};

/*
 * Type, number and direction as published; size bits of some header's
 * struct, so at least the first version's.
 */
static bool sigwake_ioctl_num_ok(const struct sigwake_ioctl_op *op,
				 unsigned int cmd)
{
	const unsigned int size_bits = _IOC_SIZEMASK << _IOC_SIZESHIFT;

	return (cmd & ~size_bits) == (op->ioctl_num & ~size_bits) &&
	       _IOC_SIZE(cmd) >= op->min_size;
}

long sigwake_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct sigwake_domain *dom = file->private_data;
	const struct sigwake_ioctl_op *op;
	union sigwake_ioctl_buffer buf;
	struct sigwake_ucmd ucmd = {};
	unsigned int nr;
	int ret;

	BUILD_BUG_ON(sizeof(struct sigwake_register_args) !=
		     SIGWAKE_REGISTER_ARGS_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct sigwake_wait_args) !=
		     SIGWAKE_WAIT_ARGS_SIZE_VER1);
	BUILD_BUG_ON(sizeof(struct sigwake_kick_args) !=
		     SIGWAKE_KICK_ARGS_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct sigwake_wq_create_args) !=
		     SIGWAKE_WQ_CREATE_ARGS_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct sigwake_thread_block) !=
		     SIGWAKE_THREAD_BLOCK_SIZE);

	if (!sigwake_domain_is_owner(dom))
		return -EPERM;
	if (_IOC_TYPE(cmd) != SIGWAKE_IOC_MAGIC)
		return -ENOTTY;
	nr = _IOC_NR(cmd);
	if (nr >= ARRAY_SIZE(sigwake_ioctl_ops))
		return -ENOTTY;
	op = &sigwake_ioctl_ops[array_index_nospec(nr,
				ARRAY_SIZE(sigwake_ioctl_ops))];
	if (!op->execute || !sigwake_ioctl_num_ok(op, cmd))
		return -ENOTTY;

	ucmd.ubuf = (void __user *)arg;
	ret = get_user(ucmd.user_size, (u32 __user *)ucmd.ubuf);
	if (ret)
		return ret;
	if (ucmd.user_size < op->min_size)
		return -EINVAL;
	if (ucmd.user_size > PAGE_SIZE)
		return -E2BIG;
	ret = copy_struct_from_user(&buf, op->size, ucmd.ubuf,
				    ucmd.user_size);
	if (ret)
		return ret;

	ucmd.cmd = &buf;
	return op->execute(dom, &ucmd);
}
