/* SPDX-License-Identifier: GPL-2.0 */
/*
 * post_any.pml: a process-directed POST (SIGWAKE_TARGET_ANY) against
 * threads that enter SIGWAKE_IOC_WAIT, with no domain-wide lock between
 * them (module/post.c, module/wait.c).
 *
 * Two threads W0 and W1 each block the posted signal, may unblock it (a
 * store to their block, as user space does) and then enter one WAIT.  A
 * poster P makes one POST(SIGWAKE_TARGET_ANY) of that signal:
 *   1. the longest waiter that does not block it (sigwake_post_waiters()
 *      without queue): a lockless look at every wait stamp, then the one
 *      found is checked again under its lock (still not blocking it: it
 *      gets it, waiting or not; blocking it now: look again);
 *   2. any live thread that does not block it, each under its lock
 *      (the host/guest scan of sigwake_post_any());
 *   3. sigwake_post_waiters() with queue: the bit is added to the domain's
 *      queue (B), the stamps looked at; a waiter found means taking the
 *      bit back (fetch_andnot): gone, a WAIT claimed it; still there, the
 *      poster delivers it (or queues it again and looks again).
 * A WAIT (sigwake_waiter_enter() and the checks after it, under the
 * thread's lock): the stamp is stored (A), the queue read, unblocked
 * queued bits claimed with fetch_andnot; a pending unblocked signal ends
 * the WAIT, else the thread sleeps until a delivery wakes it.
 *
 * spin interleaves statements in sequential consistency: the barriers A
 * and B are what make the kernel's statements keep the model's order.
 * REVERT_ANY_ORDER reads the queue before the stamp is stored (no A);
 * REVERT_ANY_RESCAN queues without looking at the stamps again (step 3's
 * look left out): each must make spin find a lost signal.
 * REVERT_ANY_TAKE delivers to the waiter found in step 3 without taking
 * the bit back from the queue: spin must find it had twice.
 *
 * Properties:
 *   - the signal is had exactly once: at the end it is pending in one
 *     thread or queued, never both, never twice (assertions);
 *   - at quiescence no thread sleeps in WAIT with the signal unblocked
 *     while it is queued or pending for it (spin's timeout);
 *   - a delivery in step 1 or 3 goes to the waiter with the lowest stamp
 *     among those that did not block it and were waiting all along the
 *     poster's look (assertion);
 *   - no deadlock (pan's invalid end states).
 */

#define NT	2

bit tlock[NT];		/* t->lock */
byte seq;		/* dom->wait_seq */
bit queued;		/* the bit in dom->queued */
byte stamp[NT];		/* t->wait_stamp, 0 outside WAIT */
bit blocked[NT];	/* the bit in blk->blocked */
bit pending[NT];	/* the bit in blk->pending */
bit waiting[NT];	/* t->waiting: asleep, or about to sleep */
bit woken[NT];		/* t->wake set by a delivery */
bit returned[NT];	/* the WAIT returned */
byte delivered;		/* deliveries by P (to pending) */
byte claimed;		/* claims by a WAIT (queue to pending) */
bit posted;		/* P is done */

#define LOCK(l)		atomic { l == 0 -> l = 1 }
#define UNLOCK(l)	l = 0

/* The signal is had at most once: pending in one thread, or queued. */
inline had_once()
{
	assert(pending[0] + pending[1] + queued <= 1 && delivered + claimed <= 1)
}

/* sigwake_deliver() for a thread that does not block the bit: lock held */
inline deliver(i)
{
	pending[i] = 1;
	delivered++;
	had_once();
	if
	:: waiting[i] && !woken[i] -> woken[i] = 1
	:: else -> skip
	fi
}

proctype W(byte i)
{
	byte q, s;

	/* user space: unblock the signal, or keep it blocked */
	if
	:: blocked[i] = 0
	:: skip
	fi;

	/* SIGWAKE_IOC_WAIT: the first locked section */
	LOCK(tlock[i]);
#ifdef REVERT_ANY_ORDER
	q = queued;
	atomic { seq++; s = seq };	/* atomic64_inc_return() */
	stamp[i] = s;
#else
	atomic { seq++; s = seq };	/* atomic64_inc_return() */
	stamp[i] = s;
	/* A: smp_mb() */
	q = queued;
#endif
	if
	:: q && !blocked[i] ->
		/* atomic64_fetch_andnot(): the bit is ours if it was set */
		atomic {
			if
			:: queued -> queued = 0; pending[i] = 1; claimed++;
				had_once()
			:: else -> skip
			fi
		}
	:: else -> skip
	fi;
	if
	:: pending[i] && !blocked[i] ->
		/* SIGWAKE_REASON_SIGNAL: returns at once */
		stamp[i] = 0;
		UNLOCK(tlock[i])
	:: else ->
		waiting[i] = 1;
		UNLOCK(tlock[i]);
		/* asleep until a delivery; may sleep forever if it blocks */
end_sleep:	woken[i] == 1;
		LOCK(tlock[i]);
		waiting[i] = 0;
		woken[i] = 0;
		UNLOCK(tlock[i]);
		stamp[i] = 0
	fi;
	returned[i] = 1
}

/*
 * sigwake_longest_waiter(): the lowest stamp among the threads that do
 * not block the bit, read without locks, one thread at a time.
 */
inline longest(best, bs)
{
	j = 0;
	do
	:: j < NT -> stamp0[j] = stamp[j]; j++
	:: else -> break
	od;
	j = 0;
	best = NT;
	bs = 0;
	do
	:: j < NT ->
		s = stamp[j];
		if
		:: s != 0 && !blocked[j] && (bs == 0 || s < bs) ->
			best = j;
			bs = s
		:: else -> skip
		fi;
		j++
	:: else -> break
	od
}

/*
 * The stamp-order property, when @i is chosen with stamp @bs: no other
 * thread that was asleep in the same WAIT all along the look, with the
 * bit unblocked, has a lower stamp.
 */
inline check_longest(i, bs)
{
	k = 0;
	do
	:: k < NT ->
		assert(k == i || stamp0[k] == 0 || stamp[k] != stamp0[k] ||
		       !waiting[k] || woken[k] || blocked[k] || stamp[k] > bs);
		k++
	:: else -> break
	od
}

proctype P()
{
	byte j, k, s, best, bs, stamp0[NT];
	bit mine;

	/* 1. the longest waiter, without queueing */
step1:
	longest(best, bs);
	if
	:: best < NT ->
		LOCK(tlock[best]);
		if
		:: !blocked[best] ->
			check_longest(best, bs);
			deliver(best);
			UNLOCK(tlock[best]);
			goto done
		:: else ->
			UNLOCK(tlock[best]);
			goto step1
		fi
	:: else -> skip
	fi;

	/* 2. any thread that does not block it, each under its lock */
	k = 0;
	do
	:: k < NT ->
		LOCK(tlock[k]);
		if
		:: !blocked[k] ->
			deliver(k);
			UNLOCK(tlock[k]);
			goto done
		:: else -> UNLOCK(tlock[k])
		fi;
		k++
	:: else -> break
	od;

	/* 3. queue it, then look again */
step3:
	queued = 1;
	/* B: smp_mb__after_atomic() */
#ifdef REVERT_ANY_RESCAN
	goto done;
#endif
	longest(best, bs);
	if
	:: best == NT -> goto done		/* SIGWAKE_POST_QUEUED */
	:: else -> skip
	fi;
#ifdef REVERT_ANY_TAKE
	mine = 1;
#else
	atomic { mine = queued; queued = 0 }
#endif
	if
	:: !mine -> goto done			/* a WAIT claimed it */
	:: else -> skip
	fi;
	LOCK(tlock[best]);
	if
	:: !blocked[best] ->
		check_longest(best, bs);
		deliver(best);
		UNLOCK(tlock[best])
	:: else ->
		UNLOCK(tlock[best]);
		goto step3
	fi;
done:
	posted = 1
}

init
{
	atomic {
		blocked[0] = 1;
		blocked[1] = 1;
		run W(0);
		run W(1);
		run P()
	}
}

/*
 * At quiescence (nothing can move): the signal was not lost, and no thread
 * sleeps with it unblocked while it is queued or pending for it.
 */
active proctype Quiet()
{
	timeout ->
	assert(posted);
	assert(pending[0] + pending[1] + queued == 1);
	assert(!(waiting[0] && !woken[0] && !blocked[0] && (queued || pending[0])));
	assert(!(waiting[1] && !woken[1] && !blocked[1] && (queued || pending[1])))
}
