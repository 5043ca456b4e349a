/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sigwake.pml: the per-thread protocol of the sigwake module, for spin.
 *
 * One registered thread T (the runtime's thread: guest entry with the
 * uapi handshake, and SIGWAKE_IOC_WAIT) against the events that can reach
 * it, each an ioctl or callback of another thread.  model/README.md maps
 * every step to the function of module/ it stands for and lists what is
 * left out.  A scenario selects the events (cpp -D, see the Makefile's
 * "model" target):
 *
 *   WAKE_KICK   WAKE on T's queue (word changed first), KICK, POST
 *   CLOSE       close(2) flush, UNREGISTER, WQ_DESTROY, POST
 *   FD          descriptor hints (a write and a stray callback), host
 *               signal, KICK
 *   KICKWAIT    KICK_WAIT, POST, thread exit
 *   NO_POST     (with one of the above) leave POST out
 *
 * Switches that put a fixed defect back (each must make spin fail):
 *   REVERT_WAKE_KICK  issue 11 #1: sigwake_deliver() returned WOKEN for a
 *                     waiting thread even when __sigwake_wake() did not
 *                     wake it (somebody had), recording nothing
 *   REVERT_CLOSE      issue 11 #7: no flush counter; the flush woke only
 *                     threads that were waiting already
 *   REVERT_EARLY_LIST WAIT lists itself on its queue only after reading
 *                     the word, while WAKE returns without the lock when
 *                     nobody is listed: the wake-up is lost
 *   REVERT_WQ_TAKE    WAKE and WQ_DESTROY take T off the queue before they
 *                     take T's lock to decide, while T after its sleep
 *                     takes the queue's lock only while listed: the
 *                     decision lands in T's next WAIT, on no queue
 *   REVERT_EARLY_ORDER the early EAGAIN (sigwake_word_changed()) reads the
 *                     word after the checks that come before it: a POST
 *                     landing between them is answered with EAGAIN
 *
 * Properties:
 *   - invariant (any state): no WAIT sleeps, with nothing to end its sleep,
 *     after a close that came after the WAIT started, after its thread's
 *     UNREGISTER or after its queue's WQ_DESTROY;
 *   - at quiescence (spin's timeout: nothing can move any more): no wake
 *     that WAKE counted and no kick is lost (each was observed by T or is
 *     still recorded in its block); T neither sleeps nor runs guest code
 *     forever while a reason to stop is pending;
 *   - a WAKE or WQ_DESTROY ends only the WAIT it found on its queue, never
 *     a later one of the same thread (assertion in the waker);
 *   - no deadlock between the locks (pan's invalid end states).
 */

#define ROUNDS	2	/* guest entries or WAITs by T */

/* struct sigwake_thread_block.state */
#define HOST	0
#define GUEST	1
#define WAITING	3
#define WOKEN	4

/* What WAIT returns: SIGWAKE_REASON_* and the errnos. */
#define R_NONE		0
#define R_WAKE		1
#define R_SIGNAL	2
#define R_KICK		3
#define R_TIMEOUT	4
#define R_FD		5
#define E_BADF		6
#define E_IDRM		7
#define E_AGAIN		8
#define E_RESTART	9
#define E_NOENT		10

/* Locks: struct sigwake_thread.lock, sigwake_wq.lock, sigwake_domain.lock */
bit tlock, wqlock, domlock;
#define LOCK(l)		atomic { l == 0 -> l = 1 }
#define UNLOCK(l)	l = 0

/* struct sigwake_thread (the kernel's own view) */
bit waiting;		/* t->waiting */
byte wake;		/* t->wake: the reason a waker set */
bit dead;		/* t->dead */
bit exited;		/* t->exited */
bit fd_event;		/* t->fd_event */
bit on_wq;		/* t->wq_node is on wq->waiters */
bit unregistered;	/* the @threads entry is gone (not LIVE) */

/* struct sigwake_thread_block (shared with the runtime) */
byte blkstate = HOST;	/* blk->state */
bit kicked;		/* blk->flags & SIGWAKE_TF_KICKED */
bit pending;		/* blk->pending (one guest signal, never blocked) */
bit kick_byte;		/* *t->kick_byte; stands for the kick signal too */

/* Domain and queue */
byte flushes;		/* dom->flushes */
bit wq_gone;		/* the queue's handle is erased (lookup fails) */
bit wq_dead;		/* wq->dead */
bit word;		/* *wq->kword; T's WAIT expects 0 */

/* A watched descriptor */
bit fd_ready;		/* a poll of it would say ready */
bit fd_armed;		/* T's wait entry is on its wait queue head */

bit hostsig;		/* a host signal is pending for T's task */

/* Ghost state for the properties (not in the module) */
byte g_flushes;		/* close(2) calls, counted even with REVERT_CLOSE */
bit flush_done, destroy_done;
bit kick_owed;		/* a KICK returned and T has not seen a kick since */
bit wake_owed;		/* WAKE counted T and T's WAIT has not returned it */
bit t_asleep;		/* T is in sigwake_sleep()'s wait */
bit t_in_guest;		/* T runs guest code */
bit t_can_leave;	/* ... and may leave it on its own */
bit t_has_wq, t_has_fd, t_dl;	/* the current WAIT's arguments */
byte t_gsnap;		/* g_flushes when the current WAIT started */
bit t_in_wait;		/* T is inside SIGWAKE_IOC_WAIT */
byte t_gen;		/* T's WAITs so far: the current one's number */
byte listed_gen;	/* the WAIT that listed T on the queue (read while on_wq) */
bit early_ok;		/* at the early EAGAIN's read of the word: would the
			   locked checks have said EAGAIN at that moment? */

/*
 * __sigwake_wake(): end T's sleep for @why unless it is not waiting or
 * somebody woke it already.  Called with tlock held; @ok gets the result.
 */
inline wake_thread(why, ok)
{
	if
	:: waiting && wake == R_NONE ->
		wake = why;
		if
		:: !dead -> blkstate = WOKEN
		:: else
		fi;
		ok = 1
	:: else -> ok = 0
	fi
}

/*
 * sigwake_deliver() for a bare kick (KICK, KICK_WAIT), tlock held, T not
 * dead.  @out: 2 WOKEN, 3 KICKED, 1 RECORDED.
 */
inline deliver_kick(out)
{
#ifdef REVERT_WAKE_KICK
	/* The old code: a thread still "waiting" was reported woken. */
	if
	:: waiting ->
		atomic {
			kick_owed = 1;
			wake_thread(R_KICK, ok);
			out = 2
		}
	:: else ->
#endif
	if
	:: atomic { waiting && wake == R_NONE ->
		wake_thread(R_KICK, ok); kick_owed = 1; out = 2 }
	:: else ->
		/* TF_KICKED, then (full barrier) read the state */
		atomic { kicked = 1; kick_owed = 1 };
		if
		:: blkstate == GUEST -> kicked = 1; kick_byte = 1; out = 3
		:: else -> out = 1
		fi
	fi
#ifdef REVERT_WAKE_KICK
	fi
#endif
}

/* sigwake_deliver() for a guest signal (POST), tlock held, T not dead. */
inline deliver_signal(out)
{
	pending = 1;	/* atomic64_or, smp_mb__after_atomic */
#ifdef REVERT_WAKE_KICK
	if
	:: waiting -> wake_thread(R_SIGNAL, ok); out = 2
	:: else ->
#endif
	if
	:: waiting && wake == R_NONE -> wake_thread(R_SIGNAL, ok); out = 2
	:: else ->
		if
		:: blkstate == GUEST -> kicked = 1; kick_byte = 1; out = 3
		:: else -> out = 1
		fi
	fi
#ifdef REVERT_WAKE_KICK
	fi
#endif
}

/* What the runtime does with the block after guest code or a WAIT. */
inline take_block()
{
	atomic {
		if
		:: kicked -> kicked = 0; kick_owed = 0
		:: else
		fi;
		pending = 0;
		kick_byte = 0
	}
}

/* sigwake_fd_ready(): clear the hint under the lock, then poll. */
inline fd_look(r)
{
	LOCK(tlock);
	fd_event = 0;
	UNLOCK(tlock);
	r = fd_ready
}

/* The registered thread: the runtime's loop and its WAITs. */
active proctype T()
{
	byte i, ret, slept, snap;
	bit ok, r, t_lwq;

	do
	:: i < ROUNDS -> i++;
		if
		:: /* Guest entry: store RUNNING_IN_GUEST, full barrier, re-read */
			blkstate = GUEST;
			if
			:: pending || kicked -> skip	/* do not enter */
			:: else ->
				if
				:: t_can_leave = 1
				:: t_can_leave = 0
				fi;
				t_in_guest = 1;
end_guest:			/* guest code, until the kick (byte/signal) */
				if
				:: kick_byte -> skip
				:: t_can_leave -> skip
				fi;
				t_in_guest = 0
			fi;
			blkstate = HOST;
			take_block()

		:: /* SIGWAKE_IOC_WAIT (sigwake_wait, sigwake_thread_wait) */
			atomic {
				t_in_wait = 1;
				t_gen++;
				snap = flushes;
				t_gsnap = g_flushes;
				ret = R_NONE
			};
			/* the arguments: a deadline or none, a queue, descriptors */
			if :: t_dl = 0 :: t_dl = 1 fi;
#if defined(WAKE_KICK) || defined(CLOSE)
			if :: t_has_wq = 1 :: t_has_wq = 0 fi;
#endif
#ifdef FD
			t_has_fd = 1;
#endif
			/* lookups: sigwake_thread_self(), sigwake_wq_get() */
			if
			:: unregistered -> ret = E_NOENT
			:: t_has_wq && wq_gone -> ret = E_NOENT
			:: else
			fi;
			if
			:: ret == R_NONE && t_has_fd ->
				/* sigwake_set_fd_event(false); sigwake_fdwait_arm() */
				LOCK(tlock);
				fd_event = 0;
				UNLOCK(tlock);
				atomic {
					fd_armed = 1;
					r = fd_ready
				};
				if
				:: r -> LOCK(tlock); fd_event = 1; UNLOCK(tlock)
				:: else
				fi
			:: else
			fi;
			/*
			 * sigwake_word_changed(): EAGAIN before any lock or list,
			 * when the word differs and the checks that come before
			 * the word's find nothing; each read is a step of its own.
			 * The word first (REVERT_EARLY_ORDER: last); early_ok is
			 * what the header's order says at the word's read.
			 */
			if
			:: ret == R_NONE && t_has_wq ->
				r = 1;
#ifndef REVERT_EARLY_ORDER
				atomic {
					r = word;
					early_ok = (flushes == snap && !dead &&
						    !wq_dead && !pending && !kicked)
				};
#endif
				if :: r && flushes != snap -> r = 0 :: else fi;
				if :: r && dead -> r = 0 :: else fi;
				if :: r && wq_dead -> r = 0 :: else fi;
				if :: r && pending -> r = 0 :: else fi;
				if :: r && kicked -> r = 0 :: else fi;
#ifdef REVERT_EARLY_ORDER
				atomic {
					r = r && word;
					early_ok = (flushes == snap && !dead &&
						    !wq_dead && !pending && !kicked)
				};
#endif
				if
				:: r ->
					assert(early_ok);
					ret = E_AGAIN;
					LOCK(tlock);
					if
					:: !dead -> blkstate = HOST
					:: else
					fi;
					UNLOCK(tlock)
				:: else
				fi
			:: else
			fi;
again:
			if
			:: ret == R_NONE ->
				/* sigwake_lock_wait() */
				if
				:: t_has_wq -> LOCK(wqlock)
				:: else
				fi;
				LOCK(tlock);
#ifndef REVERT_EARLY_LIST
				/* listed before the word is read (WAKE's early exit) */
				on_wq = t_has_wq;
				listed_gen = t_gen;
#endif
				/* sigwake_wait_check(), in the uapi header's order */
				if
#ifndef REVERT_CLOSE
				:: flushes != snap -> ret = E_BADF
#endif
				:: else ->
				if
				:: dead -> ret = E_IDRM
				:: else ->
				if
				:: t_has_wq && wq_dead -> ret = E_IDRM
				:: else ->
				if
				:: pending -> ret = R_SIGNAL
				:: else ->
				if
				:: kicked -> ret = R_KICK
				:: else ->
				if
				:: t_has_wq && word != 0 -> ret = E_AGAIN
				:: else ->
				if
				:: fd_event -> ret = R_FD
				:: else ->
				if
				:: t_dl -> ret = R_TIMEOUT	/* deadline passed */
				:: t_dl -> skip			/* not yet */
				:: else
				fi
				fi fi fi fi fi fi fi;
				if
				:: ret == R_NONE ->
					wake = R_NONE;
					waiting = 1;
					on_wq = t_has_wq;
					listed_gen = t_gen;
					blkstate = WAITING
				:: else ->
					on_wq = 0;
					if
					:: !dead -> blkstate = HOST
					:: else
					fi
				fi;
				UNLOCK(tlock);
				if
				:: t_has_wq -> UNLOCK(wqlock)
				:: else
				fi;
				if
				:: ret == R_FD ->
					fd_look(r);
					if
					:: !r -> ret = R_NONE; goto again
					:: else
					fi
				:: else
				fi
			:: else
			fi;

			do
			:: ret != R_NONE -> break
			:: else ->
				/* sigwake_sleep() */
				t_asleep = 1;
end_sleep:
				if
				:: wake != R_NONE || fd_event -> slept = R_NONE
				:: hostsig -> slept = E_RESTART
				:: t_dl -> slept = R_TIMEOUT
				fi;
				t_asleep = 0;
				r = 0;
				if
				:: fd_event && wake == R_NONE -> fd_look(r)
				:: else
				fi;
				/* the queue's lock only while still listed */
				if
				:: t_has_wq && on_wq -> LOCK(wqlock); t_lwq = 1
				:: else -> t_lwq = 0
				fi;
				LOCK(tlock);
				if
				:: r -> wake_thread(R_FD, ok)
				:: else
				fi;
				/* An event that raced with the timeout or a host signal wins. */
				if
				:: wake != R_NONE -> ret = wake
				:: else -> ret = slept
				fi;
				if
				:: ret != R_NONE ->
					waiting = 0;
					wake = R_NONE;
					on_wq = 0;
					if
					:: !dead -> blkstate = HOST
					:: else
					fi
				:: else
				fi;
				UNLOCK(tlock);
				if
				:: t_lwq -> UNLOCK(wqlock)
				:: else
				fi
			od;

			/* sigwake_fdwait_disarm(); what the runtime does next */
			atomic {
				fd_armed = 0;
				t_in_wait = 0;
				t_has_wq = 0;
				t_has_fd = 0;
				t_dl = 0;
				if
				:: ret == R_WAKE -> wake_owed = 0
				:: ret == R_KICK -> kick_owed = 0
				:: ret == E_RESTART -> hostsig = 0	/* its handler ran */
				:: else
				fi
			};
			if
			:: ret == R_SIGNAL || ret == R_KICK -> take_block()
			:: else
			fi
		fi
	:: i == ROUNDS -> break
	od;

#ifdef KICKWAIT
	/* thread exit: sigwake_thread_exit_probe() -> sigwake_thread_gone() */
	if
	:: LOCK(tlock);
		dead = 1;
		exited = 1;
		UNLOCK(tlock)
	:: skip
	fi
#endif
}

#ifdef WAKE_KICK
/* The futex protocol: change the word, then WAKE(wq, 1). */
active proctype Waker()
{
	bit ok;
	byte seen;

	word = 1;
	/* sigwake_wq_wake(): nobody listed, no lock (the smp_mb() pair) */
	if
	:: !on_wq -> goto waker_done
	:: else
	fi;
	LOCK(wqlock);
	if
	:: on_wq ->
		seen = listed_gen;
#ifdef REVERT_WQ_TAKE
		on_wq = 0;
#endif
		/* sigwake_wq_take(): off the queue and decided under tlock */
		LOCK(tlock);
		atomic {
			wake_thread(R_WAKE, ok);
			if
			:: ok -> wake_owed = 1	/* counted in woken */
			:: else
			fi;
			assert(!ok || t_gen == seen);
			on_wq = 0
		};
		UNLOCK(tlock)
	:: else
	fi;
	UNLOCK(wqlock);
waker_done:
	skip
}
#endif

#if defined(WAKE_KICK) || defined(FD)
/* KICK: sigwake_thread_kick() -> sigwake_post_one(dom, target, 0) */
active proctype Kicker()
{
	byte out;
	bit ok;

	LOCK(tlock);
	if
	:: dead -> skip			/* ENOENT / ESRCH */
	:: else -> deliver_kick(out)
	fi;
	UNLOCK(tlock)
	/* sigwake_finish_kick(): the signal; kick_byte stands for it */
}
#endif

#if (defined(WAKE_KICK) || defined(CLOSE) || defined(KICKWAIT)) && !defined(NO_POST)
/* POST to T: sigwake_thread_post() -> sigwake_post_one() */
active proctype Poster()
{
	byte out;
	bit ok;

	LOCK(tlock);
	if
	:: dead -> skip
	:: else -> deliver_signal(out)
	fi;
	UNLOCK(tlock)
}
#endif

#ifdef CLOSE
/* close(2) by the owner: sigwake_flush() -> sigwake_domain_flush() */
active proctype Closer()
{
	bit ok;

	LOCK(domlock);
	atomic {
#ifndef REVERT_CLOSE
		flushes++;
#endif
		g_flushes++
	};
	if
	:: !unregistered ->
		LOCK(tlock);
		wake_thread(E_BADF, ok);
		UNLOCK(tlock)
	:: else
	fi;
	UNLOCK(domlock);
	flush_done = 1
}

/* UNREGISTER: sigwake_thread_unregister() -> sigwake_thread_release() */
active proctype Unregister()
{
	bit ok;

	LOCK(domlock);
	unregistered = 1;	/* xa_erase(&dom->threads) */
	LOCK(tlock);
	wake_thread(E_IDRM, ok);
	dead = 1;
	UNLOCK(tlock);
	UNLOCK(domlock)
}

/* WQ_DESTROY: sigwake_wq_destroy() -> sigwake_wq_kill() */
active proctype Destroyer()
{
	bit ok;
	byte seen;

	LOCK(domlock);
	wq_gone = 1;		/* xa_erase(&dom->wqs) */
	UNLOCK(domlock);
	LOCK(wqlock);
	wq_dead = 1;
	if
	:: on_wq ->
		seen = listed_gen;
#ifdef REVERT_WQ_TAKE
		on_wq = 0;
#endif
		/* sigwake_wq_take() */
		LOCK(tlock);
		atomic {
			wake_thread(E_IDRM, ok);
			assert(!ok || t_gen == seen);
			on_wq = 0
		};
		UNLOCK(tlock)
	:: else
	fi;
	UNLOCK(wqlock);
	destroy_done = 1
}
#endif

#ifdef FD
/* sigwake_thread_fd_event(), from sigwake_fdwait_wake() */
inline fd_callback()
{
	LOCK(tlock);
	fd_event = 1;	/* wake_up_process() if waiting && !wake */
	UNLOCK(tlock)
}

/* Another program writes to the descriptor: data, then the wake-up. */
active proctype FdWriter()
{
	bit cb;

	atomic {
		fd_ready = 1;
		cb = fd_armed	/* the entry is on the head's list */
	};
	if
	:: cb -> fd_callback()
	:: else
	fi
}

/* A late or stray callback: a hint with nothing ready behind it. */
active proctype FdStray()
{
	if
	:: fd_armed -> fd_callback()
	:: skip
	fi
}

/* A host signal for T's task (signal_pending() in sigwake_sleep()). */
active proctype HostSignal()
{
	hostsig = 1
}
#endif

#ifdef KICKWAIT
/* KICK with SIGWAKE_KICK_WAIT: sigwake_thread_kick_wait() */
active proctype KickWaiter()
{
	byte out;
	bit ok, first = 1, in_guest;

	do
	::
		LOCK(tlock);
		if
		:: dead -> UNLOCK(tlock); break	/* ENOENT/ESRCH, or 0 */
		:: else
		fi;
		/* sigwake_in_guest(); the retry interval is abstracted away */
		in_guest = (!dead && !waiting && blkstate == GUEST);
		if
		:: first || in_guest -> deliver_kick(out); first = 0
		:: else
		fi;
		in_guest = (!dead && !waiting && blkstate == GUEST);
		UNLOCK(tlock);
		if
		:: !in_guest -> break
		:: else
		fi
	od
}
#endif

/* Safety, in every state: nothing to end a sleep that must end. */
#define SLEEPS_ON	(t_asleep && wake == R_NONE)
#define SLEEPS_AFTER_CLOSE	(SLEEPS_ON && flush_done && t_gsnap != g_flushes)
#define SLEEPS_AFTER_UNREGISTER	(SLEEPS_ON && dead && !exited)
#define SLEEPS_AFTER_DESTROY	(SLEEPS_ON && t_has_wq && destroy_done)

active proctype Invariants()
{
end_inv:
	atomic {
		(SLEEPS_AFTER_CLOSE || SLEEPS_AFTER_UNREGISTER ||
		 SLEEPS_AFTER_DESTROY) ->
		assert(!SLEEPS_AFTER_CLOSE);
		assert(!SLEEPS_AFTER_UNREGISTER);
		assert(!SLEEPS_AFTER_DESTROY)
	}
}

/* At quiescence: nothing lost, nobody blocked with a reason to go on. */
active proctype Quiescence()
{
end_q:
	timeout ->
	/* A wake that WAKE counted is what WAIT returned. */
	assert(!wake_owed);
	/* A kick was seen (WAIT's KICK, TF_KICKED taken) or is still recorded. */
	assert(exited || !kick_owed || kicked);
	/* No sleep forever with a reason to wake pending. */
	assert(!(t_asleep &&
		 (pending || kicked || dead ||
		  t_gsnap != g_flushes ||
		  (t_has_wq && (wq_dead || word != 0)) ||
		  (t_has_fd && fd_ready))));
	/* No guest code forever with a signal or kick recorded. */
	assert(!(t_in_guest && (pending || kicked)))
}
