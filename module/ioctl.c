// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl entry: a table of commands, each with its argument struct copied by
 * copy_struct_from_user().  A struct shorter than its first published
 * version gives EINVAL, an unknown non-zero tail E2BIG, an unknown command
 * ENOTTY.  The whole command is compared with the table's: type, number
 * and direction exactly, and the size bits must be at least the first
 * published version's (a newer header's larger struct is accepted: the
 * struct's own size field is what versions it, and its tail decides).
 *
 * The hot commands (WAIT, WAKE, POST, KICK) first try the size a caller
 * built against this header passes (and WAIT's previous one): the struct
 * read in 64-bit words in one user-access window, and no size read of its
 * own; on return they write their output fields only, as the conventions
 * allow ("output fields are written back"), not the whole struct.  A
 * string copy (copy_from_user() of 16 to 64 bytes) costs a startup on
 * hardware that a few loads do not, and under an emulator one iteration
 * per byte: for these structs it was most of what an EAGAIN WAIT cost.
 * Anything else (another size, or a copy that faults because a shorter
 * struct ends at an unmapped page) takes the general path, which gives
 * every size its errno exactly as before.
 */

#include <linux/fs.h>
#include <linux/nospec.h>
#include <linux/uaccess.h>

#include "core.h"

struct sigwake_ucmd {
	void __user *ubuf;
	u32 user_size;
	void *cmd;
};

/* Inline: @size is a constant, so is the copy of a full-size struct. */
static __always_inline int sigwake_respond(struct sigwake_ucmd *ucmd,
					   size_t size)
{
	size_t len = ucmd->user_size;

	if (len >= size)
		return copy_to_user(ucmd->ubuf, ucmd->cmd, size) ? -EFAULT : 0;
	return copy_to_user(ucmd->ubuf, ucmd->cmd, len) ? -EFAULT : 0;
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
 * A hot command's output field, at @offset in its struct, written in place.
 * Every caller's struct holds it: it is within the first published version
 * (WAIT's @woken within version 2, which the hand-off requires).
 */
static inline int sigwake_put_out(struct sigwake_ucmd *ucmd, size_t offset, u32 val)
{
	return put_user(val, (u32 __user *)(ucmd->ubuf + offset)) ? -EFAULT : 0;
}

static int sigwake_ioc_wait(struct sigwake_domain *dom,
			    struct sigwake_ucmd *ucmd)
{
	struct sigwake_wait_args *args = ucmd->cmd;
	int ret;

	/* The hand-off's fields, @woken included, are version 2's. */
	if (args->flags & SIGWAKE_WAIT_WAKE_FIRST &&
	    ucmd->user_size < SIGWAKE_WAIT_ARGS_SIZE_VER2)
		return -EINVAL;
	ret = sigwake_wait(dom, args, ucmd->ubuf);
	if (ret < 0)
		return ret;
	args->reason = ret;
	if (args->flags & SIGWAKE_WAIT_WAKE_FIRST &&
	    sigwake_put_out(ucmd, offsetof(struct sigwake_wait_args, woken),
			    args->woken))
		return -EFAULT;
	return sigwake_put_out(ucmd, offsetof(struct sigwake_wait_args, reason),
			       args->reason);
}

static int sigwake_ioc_wake(struct sigwake_domain *dom,
			    struct sigwake_ucmd *ucmd)
{
	struct sigwake_wake_args *args = ucmd->cmd;
	int woken;

	woken = sigwake_wq_wake_handle(dom, args->wq, args->nr);
	if (woken < 0)
		return woken;
	args->woken = woken;
	return sigwake_put_out(ucmd, offsetof(struct sigwake_wake_args, woken),
			       args->woken);
}

static int sigwake_ioc_post(struct sigwake_domain *dom,
			    struct sigwake_ucmd *ucmd)
{
	struct sigwake_post_args *args = ucmd->cmd;
	int ret;

	ret = sigwake_post(dom, args);
	if (ret)
		return ret;
	if (sigwake_put_out(ucmd, offsetof(struct sigwake_post_args, handle),
			    args->handle))
		return -EFAULT;
	return sigwake_put_out(ucmd, offsetof(struct sigwake_post_args, outcome),
			       args->outcome);
}

static int sigwake_ioc_kick(struct sigwake_domain *dom,
			    struct sigwake_ucmd *ucmd)
{
	struct sigwake_kick_args *args = ucmd->cmd;
	int ret;

	ret = sigwake_kick(dom, args);
	if (ret)
		return ret;
	return sigwake_put_out(ucmd, offsetof(struct sigwake_kick_args, outcome),
			       args->outcome);
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

/*
 * @size bytes (a constant multiple of 8: every hot struct's size is) from
 * user memory in 64-bit loads.  Returns false on a fault, with @dst
 * partly written.
 */
static __always_inline bool sigwake_get_words(void *dst,
					      const void __user *src,
					      size_t size)
{
	const u64 __user *s = src;
	u64 *d = dst;
	size_t i;

	BUILD_BUG_ON(size % sizeof(u64));
	if (!user_access_begin(src, size))
		return false;
	for (i = 0; i < size / sizeof(u64); i++)
		unsafe_get_user(d[i], &s[i], fault);
	user_access_end();
	return true;
fault:
	user_access_end();
	return false;
}

/*
 * Copy a struct of the kernel's size, @size (a constant), if that is the
 * size the caller gives: returns @size, else 0.  Nothing is decided on a
 * failure: the general path reads the struct again and gives the errno
 * its size calls for.
 */
static __always_inline u32 sigwake_copy_fast(void *buf,
					     const void __user *ubuf,
					     size_t size)
{
	return sigwake_get_words(buf, ubuf, size) && *(u32 *)buf == size ?
	       size : 0;
}

/*
 * WAIT also at its previous size, which callers built before the hand-off
 * pass: the bytes past it, copied with the rest, are not theirs and are
 * zeroed, as copy_struct_from_user() would.
 */
static u32 sigwake_copy_wait(struct sigwake_wait_args *args,
			     const void __user *ubuf)
{
	const size_t ver1 = SIGWAKE_WAIT_ARGS_SIZE_VER1;

	if (!sigwake_get_words(args, ubuf, sizeof(*args)))
		return 0;
	if (args->size == sizeof(*args))
		return sizeof(*args);
	if (args->size != ver1)
		return 0;
	memset((void *)args + ver1, 0, sizeof(*args) - ver1);
	return ver1;
}

/*
 * The hot commands at the size of this header: see the top of the file.
 * Returns the caller's size, or 0 for the general path.
 */
static u32 sigwake_copy_hot(unsigned int nr, union sigwake_ioctl_buffer *buf,
			    const void __user *ubuf)
{
	switch (nr) {
	case SIGWAKE_CMD_WAIT:
		return sigwake_copy_wait(&buf->wait, ubuf);
	case SIGWAKE_CMD_WAKE:
		return sigwake_copy_fast(buf, ubuf, sizeof(buf->wake));
	case SIGWAKE_CMD_POST:
		return sigwake_copy_fast(buf, ubuf, sizeof(buf->post));
	case SIGWAKE_CMD_KICK:
		return sigwake_copy_fast(buf, ubuf, sizeof(buf->kick));
	}
	return 0;
}

long sigwake_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct sigwake_domain *dom = file->private_data;
	const struct sigwake_ioctl_op *op;
	/* Written in full, or up to the size and zeroed after, before use. */
	union sigwake_ioctl_buffer buf __uninitialized;
	struct sigwake_ucmd ucmd = {};
	unsigned int nr;
	int ret;

	BUILD_BUG_ON(sizeof(struct sigwake_register_args) !=
		     SIGWAKE_REGISTER_ARGS_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct sigwake_wait_args) !=
		     SIGWAKE_WAIT_ARGS_SIZE_VER2);
	BUILD_BUG_ON(offsetofend(struct sigwake_wait_args, pad2) !=
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
	ucmd.cmd = &buf;
	ucmd.user_size = sigwake_copy_hot(nr, &buf, ucmd.ubuf);
	if (ucmd.user_size)
		return op->execute(dom, &ucmd);

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

	return op->execute(dom, &ucmd);
}
