// SPDX-License-Identifier: GPL-2.0
/*
 * Two events on one thread, back to back: no event is lost and none is
 * reported for what it did not do.
 *
 * The table: every ordered pair of the events that can reach one thread
 * (WAKE, POST, KICK, KICK_WAIT, close of a dup of the domain fd by the
 * owner, UNREGISTER of the thread, WQ_DESTROY of its queue, WAIT's own
 * deadline, a host signal whose handler lacks SA_RESTART, and a write that
 * makes a descriptor of the WAIT ready), sent to thread T while it sleeps
 * in SIGWAKE_IOC_WAIT; and every pair of POST, KICK and KICK_WAIT while T
 * runs in host or in guest code.  Each on one CPU (the sender at real-time
 * priority, so T cannot run between the two events) and on two (T's return
 * races with event 2).
 *
 * What T must observe is not written per variant: expect() derives it from
 * the contract's rules (uapi/linux/sigwake.h):
 *
 *  - WAKE, POST, KICK, KICK_WAIT, close, UNREGISTER and WQ_DESTROY act under
 *    the thread's lock: the first of them that finds T asleep ends the
 *    sleep and decides WAIT's return (REASON_WAKE, _SIGNAL, _KICK; EBADF,
 *    EIDRM, EIDRM) and reports it (WAKE: 1 woken; POST, KICK: POST_WOKEN);
 *  - the deadline, a host signal and a ready descriptor only make T look
 *    again when it runs: an event that came before it looks wins ("an
 *    event that raced with the host signal is never dropped: the call then
 *    returns it instead"; REASON_FD "only when no signal, kick or wake came
 *    first"), so on one CPU such an event 1 loses to a locked event 2; on
 *    two CPUs either may decide, and so between two of them;
 *  - an event that finds T woken already (or back in host) is recorded:
 *    WAKE counts 0, POST and KICK answer POST_RECORDED, the POST's bit
 *    stays in @pending, the KICK's SIGWAKE_TF_KICKED in @flags (so the next
 *    WAIT returns REASON_KICK at once);
 *  - after UNREGISTER, POST and KICK to the old handle and T's next WAIT
 *    answer ENOENT; after WQ_DESTROY, WAKE on the old queue answers ENOENT;
 *  - the host signal's handler runs once per signal (a queued real-time
 *    signal), and WAIT's EINTR is its only other trace;
 *  - a ready descriptor shows in @revents of every successful return
 *    (POLLIN) and makes the next WAIT return REASON_FD;
 *  - in host, POST and KICK answer POST_RECORDED; in guest, POST_KICKED
 *    with TF_KICKED, the kick byte and the kick signal; KICK_WAIT returns
 *    once T has seen that and left guest code;
 *  - nothing else appears: no other @pending bit, no TF_KICKED without a
 *    kick, no kick byte or kick signal for a thread not in guest code.
 *
 * A KICK right after a WAKE or a POST used to vanish: it answered WOKEN
 * and set nothing.
 */
#include "sigwake_test.h"

#include <poll.h>
#include <sys/syscall.h>

#define ROUNDS		100	/* the original WAKE/POST/KICK pairs */
#define ROUNDS_SMALL	10	/* other non-destructive pairs */
#define ROUNDS_SETUP	5	/* a pair that needs re-setup (close, unregister, destroy) */
#define ROUNDS_TIMEOUT	2	/* a pair that waits for WAIT's deadline */
#define SHORT_NS	(80 * SW_NSEC_PER_MSEC)	/* WAIT's deadline with TIMEOUT */
#define MARGIN_NS	(3 * SW_NSEC_PER_MSEC)	/* past it, for the timer */
#define KICK_WAIT_NS	(5 * SW_NSEC_PER_SEC)
#define SIG_FIRST	10
#define SIG_SECOND	12
#define HOST_SIG	(SIGRTMIN + 2)	/* queued: two of them run two handlers */
#define KICK_SIG	(SIGRTMIN + 3)

enum sw_event {
	EV_WAKE, EV_POST, EV_KICK, EV_KICK_WAIT, EV_CLOSE, EV_UNREGISTER,
	EV_WQ_DESTROY, EV_TIMEOUT, EV_HOST_SIGNAL, EV_FD_READY,
};

static const char *const ev_name[] = {
	"WAKE", "POST", "KICK", "KICK_WAIT", "close", "UNREGISTER",
	"WQ_DESTROY", "timeout", "host signal", "fd ready",
};

/* Where T is when the events come. */
enum sw_where { AT_WAIT, AT_HOST, AT_GUEST };

static const char *const where_name[] = { "in WAIT", "in host", "in guest" };

/* Ends the sleep when sent (under T's lock), not when T next looks. */
static bool ev_locked(enum sw_event ev)
{
	return ev != EV_TIMEOUT && ev != EV_HOST_SIGNAL && ev != EV_FD_READY;
}

static bool ev_is_kick(enum sw_event ev)
{
	return ev == EV_KICK || ev == EV_KICK_WAIT;
}

static int host_signals;	/* atomic */
static int kick_signals;	/* atomic */

static void on_host_signal(int sig, siginfo_t *si, void *uc)
{
	SW_ADD(&host_signals, 1);
}

static void on_kick_signal(int sig, siginfo_t *si, void *uc)
{
	SW_ADD(&kick_signals, 1);
}

struct sleeper {
	int fd;
	struct sigwake_thread_block *blk;
	unsigned char *kick_byte;
	int pipe_rd;
	int cpu;			/* -1: any */
	enum sw_where where;
	bool short_wait;		/* the pair includes WAIT's deadline */
	__u32 wq;			/* atomic: the queue of round @go */
	__u32 handle;			/* atomic: the registration of round @ready */
	int reg_err;
	int registered;			/* atomic: the first REGISTER returned */
	int ready;			/* atomic: registered, about to wait */
	int go;				/* atomic: the round to wait in */
	int sent;			/* atomic: both events of it are sent */
	int waited;			/* atomic: WAIT of that round returned */
	int done;			/* atomic: the round is recorded */
	int stop;			/* atomic */
	__s64 deadline;			/* atomic: WAIT's, with short_wait */
	/* per round, written before @done */
	int wait_err;
	__u32 reason;
	short revents;
	__u32 flags;
	__u64 pending;
	unsigned char kicked_byte;
	int host_sigs;
	int kick_sigs;
	int next_err;
	__u32 next_reason;
};

static int pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/* T's round in WAIT: its own deadline is short if the pair has one. */
static void sleeper_wait(struct sleeper *s)
{
	struct sigwake_pollfd pfd = { .fd = s->pipe_rd, .events = POLLIN };
	struct sigwake_wait_args w = {
		.size = sizeof(w), .wq = SW_LOAD(&s->wq),
		.timeout_ns = SW_WATCHDOG_NS,
		.fds = (__u64)(uintptr_t)&pfd, .nfds = 1,
	};

	if (s->short_wait) {
		w.flags = SIGWAKE_WAIT_ABSTIME;
		w.timeout_ns = sw_now_ns() + SHORT_NS;
		SW_STORE(&s->deadline, w.timeout_ns);
	}
	s->wait_err = sw_ioctl(s->fd, SIGWAKE_IOC_WAIT, &w);
	s->reason = s->wait_err ? 0 : w.reason;
	s->revents = s->wait_err ? 0 : pfd.revents;
}

/* T's round in host or guest code: until both events are sent. */
static void sleeper_run(struct sleeper *s, int r)
{
	bool in_guest = false;

	if (s->where == AT_GUEST)
		in_guest = sw_enter_guest(s->blk);
	else
		sw_set_state(s->blk, SIGWAKE_RUNNING_IN_HOST);
	while (SW_LOAD(&s->sent) < r && !SW_LOAD(&s->stop)) {
		/* Guest code that polls its kick byte, as KVM's run loop does. */
		if (in_guest && SW_LOAD(s->kick_byte)) {
			sw_set_state(s->blk, SIGWAKE_RUNNING_IN_HOST);
			in_guest = false;
		}
		sw_cpu_relax();
	}
	sw_set_state(s->blk, SIGWAKE_RUNNING_IN_HOST);
}

static void *sleeper_fn(void *arg)
{
	struct sleeper *s = arg;
	struct sigwake_pollfd pfd;
	struct sigwake_wait_args w;
	bool registered = false;
	char buf[16];
	int r;

	if (s->cpu >= 0)
		pin_to(s->cpu);
	/*
	 * T inherits the sender's SCHED_FIFO on one CPU.  Asleep that is
	 * harmless; spinning in host or guest code at the same priority it
	 * would never let the sender back on the CPU.
	 */
	if (s->where != AT_WAIT) {
		struct sched_param sp = { .sched_priority = 0 };

		pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp);
	}
	for (r = 1; ; r++) {
		/* A fresh registration after an UNREGISTER. */
		if (!registered) {
			__u32 h = 0;

			s->reg_err = sw_register(s->fd, s->blk, s->kick_byte,
						 KICK_SIG, &h);
			SW_STORE(&s->handle, h);
			SW_STORE(&s->registered, 1);
			if (s->reg_err)
				return NULL;
			registered = true;
		}
		while (SW_LOAD(&s->go) < r && !SW_LOAD(&s->stop))
			usleep(100);
		if (SW_LOAD(&s->stop))
			break;
		sw_set_state(s->blk, SIGWAKE_RUNNING_IN_HOST);
		SW_STORE(&s->host_sigs, 0);
		SW_STORE(&host_signals, 0);
		SW_STORE(&kick_signals, 0);
		SW_STORE(&s->ready, r);

		if (s->where == AT_WAIT) {
			sleeper_wait(s);
			SW_STORE(&s->waited, r);
		} else
			sleeper_run(s, r);

		/* What the events left, once the test says both were sent. */
		while (SW_LOAD(&s->sent) < r && !SW_LOAD(&s->stop))
			usleep(100);
		/* A system call: a host signal sent before @sent is handled. */
		syscall(SYS_getppid);
		s->flags = SW_LOAD(&s->blk->flags);
		s->pending = SW_XCHG(&s->blk->pending, 0);
		s->kicked_byte = SW_XCHG(s->kick_byte, 0);
		s->host_sigs = SW_LOAD(&host_signals);
		s->kick_sigs = SW_LOAD(&kick_signals);
		/* A kick flag or a ready fd must make the next WAIT return. */
		pfd = (struct sigwake_pollfd){ .fd = s->pipe_rd, .events = POLLIN };
		w = (struct sigwake_wait_args){
			.size = sizeof(w), .wq = SIGWAKE_NO_WQ, .timeout_ns = 0,
			.fds = (__u64)(uintptr_t)&pfd, .nfds = 1,
		};
		s->next_err = sw_ioctl(s->fd, SIGWAKE_IOC_WAIT, &w);
		s->next_reason = s->next_err ? 0 : w.reason;
		SW_AND(&s->blk->flags, ~(SIGWAKE_TF_KICKED |
					 SIGWAKE_TF_PREEMPTED |
					 SIGWAKE_TF_KICK_REQUESTED));
		while (read(s->pipe_rd, buf, sizeof(buf)) > 0)
			;
		if (s->next_err == -ENOENT)
			registered = false;
		SW_STORE(&s->done, r);
	}
	return NULL;
}

FIXTURE(pair) {
	int fd;
	int dup_fd[2];			/* one per close event */
	int pipe_fd[2];
	struct sigwake_thread_block *blk;
	struct sleeper s;
	pthread_t th;
	bool started;
	bool fifo;
	bool wq_gone;
};

FIXTURE_VARIANT(pair) {
	enum sw_event first;
	enum sw_event second;
	enum sw_where where;
	bool one_cpu;
};

#define VARIANT(a, b, w, tag, one)					\
	FIXTURE_VARIANT_ADD(pair, a##_then_##b##tag) {			\
		.first = EV_##a, .second = EV_##b, .where = w,		\
		.one_cpu = one,						\
	}

/* T in WAIT: the names the table had before it grew. */
#define PAIR(a, b)							\
	VARIANT(a, b, AT_WAIT, _one_cpu, true);				\
	VARIANT(a, b, AT_WAIT, _two_cpus, false)

/* T in host or guest code: where the contract gives KICKED / RECORDED. */
#define RUNNING_PAIR(a, b)						\
	VARIANT(a, b, AT_HOST, _in_host_one_cpu, true);			\
	VARIANT(a, b, AT_HOST, _in_host_two_cpus, false);		\
	VARIANT(a, b, AT_GUEST, _in_guest_one_cpu, true);		\
	VARIANT(a, b, AT_GUEST, _in_guest_two_cpus, false)

/* Every second event but the deadline (one WAIT has one deadline). */
#define ROW_NO_TIMEOUT(a)						\
	PAIR(a, WAKE); PAIR(a, POST); PAIR(a, KICK); PAIR(a, KICK_WAIT); \
	PAIR(a, CLOSE); PAIR(a, UNREGISTER); PAIR(a, WQ_DESTROY);	\
	PAIR(a, HOST_SIGNAL); PAIR(a, FD_READY)

#define ROW(a)	ROW_NO_TIMEOUT(a); PAIR(a, TIMEOUT)

ROW(WAKE);
ROW(POST);
ROW(KICK);
ROW(KICK_WAIT);
ROW(CLOSE);
ROW(UNREGISTER);
ROW(WQ_DESTROY);
ROW_NO_TIMEOUT(TIMEOUT);
ROW(HOST_SIGNAL);
ROW(FD_READY);

RUNNING_PAIR(POST, POST);
RUNNING_PAIR(POST, KICK);
RUNNING_PAIR(POST, KICK_WAIT);
RUNNING_PAIR(KICK, POST);
RUNNING_PAIR(KICK, KICK);
RUNNING_PAIR(KICK, KICK_WAIT);
RUNNING_PAIR(KICK_WAIT, POST);
RUNNING_PAIR(KICK_WAIT, KICK);
RUNNING_PAIR(KICK_WAIT, KICK_WAIT);

FIXTURE_SETUP(pair)
{
	self->fd = self->dup_fd[0] = self->dup_fd[1] = -1;
	self->pipe_fd[0] = self->pipe_fd[1] = -1;
	self->blk = sw_alloc_blocks(1);
	ASSERT_NE(NULL, self->blk);
	SW_OPEN_DOMAIN(self->fd);
	ASSERT_EQ(0, pipe2(self->pipe_fd, O_NONBLOCK | O_CLOEXEC));
	memset(&self->s, 0, sizeof(self->s));
	self->s.fd = self->fd;
	self->s.blk = self->blk;
	self->s.kick_byte = sw_alloc_page();
	ASSERT_NE(NULL, self->s.kick_byte);
	self->s.pipe_rd = self->pipe_fd[0];
	self->s.where = variant->where;
	self->s.short_wait = variant->first == EV_TIMEOUT ||
			     variant->second == EV_TIMEOUT;
	ASSERT_EQ(0, sw_wq_create(self->fd, NULL, &self->s.wq));
	ASSERT_EQ(0, sw_sigaction(HOST_SIG, on_host_signal, 0));
	ASSERT_EQ(0, sw_sigaction(KICK_SIG, on_kick_signal, SA_RESTART));
}

FIXTURE_TEARDOWN(pair)
{
	if (self->started) {
		SW_STORE(&self->s.stop, 1);
		pthread_join(self->th, NULL);
	}
	if (self->fifo) {
		struct sched_param sp = { .sched_priority = 0 };

		pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp);
	}
	if (self->dup_fd[0] >= 0)
		close(self->dup_fd[0]);
	if (self->dup_fd[1] >= 0)
		close(self->dup_fd[1]);
	if (self->fd >= 0)
		close(self->fd);
	if (self->pipe_fd[0] >= 0)
		close(self->pipe_fd[0]);
	if (self->pipe_fd[1] >= 0)
		close(self->pipe_fd[1]);
}

static int kick_wait(int fd, __u32 target, __u32 *outcome)
{
	struct sigwake_kick_args a = {
		.size = sizeof(a), .flags = SIGWAKE_KICK_WAIT,
		.target = target, .timeout_ns = KICK_WAIT_NS,
	};
	int ret = sw_ioctl(fd, SIGWAKE_IOC_KICK, &a);

	if (!ret)
		*outcome = a.outcome;
	return ret;
}

/* Busy until WAIT's deadline has passed: on one CPU T must not run. */
static void spin_past(__s64 deadline)
{
	while (sw_now_ns() < deadline + MARGIN_NS)
		sw_cpu_relax();
}

/*
 * Send @ev to T; returns 0 or -errno, and in @out what the call reported
 * (woken or outcome; 0 for events that report nothing).
 */
static int send_event(FIXTURE_DATA(pair) *self, enum sw_event ev, int i,
		      __u32 handle, __u32 wq, __u32 *out)
{
	int signo = i ? SIG_SECOND : SIG_FIRST;
	int ret;

	*out = 0;
	switch (ev) {
	case EV_WAKE:
		return sw_wake(self->fd, wq, 1, out);
	case EV_POST:
		return sw_post(self->fd, handle, signo, NULL, out);
	case EV_KICK:
		return sw_kick(self->fd, handle, out);
	case EV_KICK_WAIT:
		return kick_wait(self->fd, handle, out);
	case EV_CLOSE:
		ret = close(self->dup_fd[i]) ? -errno : 0;
		self->dup_fd[i] = -1;
		return ret;
	case EV_UNREGISTER:
		return sw_unregister(self->fd, handle);
	case EV_WQ_DESTROY:
		ret = sw_wq_destroy(self->fd, wq);
		self->wq_gone = true;
		return ret;
	case EV_TIMEOUT:
		spin_past(SW_LOAD(&self->s.deadline));
		return 0;
	case EV_HOST_SIGNAL:
		return -pthread_kill(self->th, HOST_SIG);
	case EV_FD_READY:
		return write(self->pipe_fd[1], "x", 1) == 1 ? 0 : -errno;
	}
	return -EINVAL;
}

/* What one round must look like, derived from the contract. */
enum tri { NO, YES, ANY };

struct expect {
	int err[2];		/* each event's call */
	__u32 out[2];		/* its woken count or outcome */
	bool out_any[2];	/* either KICKED or RECORDED (two CPUs, guest) */
	int wait_err;		/* T's WAIT (AT_WAIT only) */
	__u32 reason;
	enum tri pollin;	/* POLLIN in WAIT's revents */
	__u64 pending;		/* exactly these bits */
	enum tri kicked;	/* SIGWAKE_TF_KICKED */
	bool kick_byte;		/* the kick byte and at least one kick signal */
	int host_sigs;		/* handler runs */
	bool unregistered;	/* the next WAIT answers ENOENT */
	bool fd_ready;		/* the next WAIT answers REASON_FD (no kick) */
};

/*
 * The contract's outcome of @v when event @decider (0 or 1) is the one
 * that ends T's sleep (AT_WAIT); @decider is unused in host and guest.
 */
static void expect(const FIXTURE_VARIANT(pair) *v, int decider,
		   struct expect *x)
{
	enum sw_event ev[2] = { v->first, v->second };
	bool wq_gone = false, left_guest = false;
	int i;

	memset(x, 0, sizeof(*x));
	x->kicked = NO;
	x->pollin = NO;
	for (i = 0; i < 2; i++) {
		bool decides = v->where == AT_WAIT && i == decider;
		int signo = i ? SIG_SECOND : SIG_FIRST;

		switch (ev[i]) {
		case EV_WAKE:
			if (wq_gone)
				x->err[i] = -ENOENT;
			else
				x->out[i] = decides;
			if (decides)
				x->reason = SIGWAKE_REASON_WAKE;
			break;
		case EV_POST:
		case EV_KICK:
		case EV_KICK_WAIT:
			if (x->unregistered) {
				x->err[i] = -ENOENT;
				break;
			}
			if (ev[i] == EV_POST)
				x->pending |= SW_BIT(signo);
			if (v->where == AT_GUEST && !left_guest) {
				/* Kicked out of guest code. */
				x->out[i] = SIGWAKE_POST_KICKED;
				x->kicked = YES;
				x->kick_byte = true;
				/* T may see the first kick before the second. */
				x->out_any[i] = i == 1 && !v->one_cpu;
				/* KICK_WAIT returns once T has left. */
				left_guest = ev[i] == EV_KICK_WAIT;
			} else if (decides) {
				x->out[i] = SIGWAKE_POST_WOKEN;
				x->reason = ev[i] == EV_POST ?
					    SIGWAKE_REASON_SIGNAL :
					    SIGWAKE_REASON_KICK;
				/* Waking kicks need not set the flag. */
				if (ev_is_kick(ev[i]) && x->kicked == NO)
					x->kicked = ANY;
			} else {
				x->out[i] = SIGWAKE_POST_RECORDED;
				if (ev_is_kick(ev[i]))
					x->kicked = YES;
			}
			break;
		case EV_CLOSE:
			if (decides)
				x->wait_err = -EBADF;
			break;
		case EV_UNREGISTER:
			if (x->unregistered)
				x->err[i] = -ENOENT;
			else if (decides)
				x->wait_err = -EIDRM;
			x->unregistered = true;
			break;
		case EV_WQ_DESTROY:
			if (wq_gone)
				x->err[i] = -ENOENT;
			else if (decides)
				x->wait_err = -EIDRM;
			wq_gone = true;
			break;
		case EV_TIMEOUT:
			if (decides)
				x->reason = SIGWAKE_REASON_TIMEOUT;
			break;
		case EV_HOST_SIGNAL:
			x->host_sigs++;
			if (decides)
				x->wait_err = -EINTR;
			break;
		case EV_FD_READY:
			x->fd_ready = true;
			/* Ready before WAIT returned: always if first, and on
			 * one CPU, where T runs only after both events. */
			x->pollin = i == 0 || v->one_cpu ? YES : ANY;
			if (decides)
				x->reason = SIGWAKE_REASON_FD;
			break;
		}
	}
}

/*
 * Which event may end the sleep: a locked event 1 always does; a deadline,
 * host signal or ready fd first loses to a locked event 2 on one CPU (T
 * looks only after both), and may win or lose on two; between two of the
 * unlocked ones the contract picks neither.
 */
static unsigned int deciders(const FIXTURE_VARIANT(pair) *v)
{
	if (v->where != AT_WAIT || ev_locked(v->first))
		return 1u << 0;
	if (ev_locked(v->second) && v->one_cpu)
		return 1u << 1;
	return (1u << 0) | (1u << 1);
}

struct observed {
	int err[2];
	__u32 out[2];
	int wait_err;
	__u32 reason;
	short revents;
	__u32 flags;
	__u64 pending;
	unsigned char kick_byte;
	int kick_sigs;
	int host_sigs;
	int next_err;
	__u32 next_reason;
};

static bool tri_ok(enum tri t, bool v)
{
	return t == ANY || (t == YES) == v;
}

/* NULL if @o is what @x says, else what differs first. */
static const char *mismatch(const FIXTURE_VARIANT(pair) *v,
			    const struct expect *x, const struct observed *o)
{
	bool kicked = o->flags & SIGWAKE_TF_KICKED;
	int i;

	for (i = 0; i < 2; i++) {
		if (o->err[i] != x->err[i])
			return i ? "event 2's errno" : "event 1's errno";
		if (!x->err[i] && o->out[i] != x->out[i] &&
		    !(x->out_any[i] && o->out[i] == SIGWAKE_POST_RECORDED))
			return i ? "event 2's woken/outcome" :
				   "event 1's woken/outcome";
	}
	if (v->where == AT_WAIT) {
		if (o->wait_err != x->wait_err)
			return "WAIT's errno";
		if (!x->wait_err && o->reason != x->reason)
			return "WAIT's reason";
		if (!x->wait_err && !tri_ok(x->pollin, o->revents & POLLIN))
			return "WAIT's revents";
		if (!x->wait_err && (o->revents & ~POLLIN))
			return "WAIT's revents (other bits)";
	}
	if (o->pending != x->pending)
		return "pending";
	if (!tri_ok(x->kicked, kicked))
		return "TF_KICKED";
	if (o->kick_byte != x->kick_byte || (o->kick_sigs > 0) != x->kick_byte)
		return "kick byte or kick signal";
	if (o->host_sigs != x->host_sigs)
		return "host signal handler runs";
	if (x->unregistered) {
		if (o->next_err != -ENOENT)
			return "next WAIT after UNREGISTER";
	} else if (o->next_err ||
		   o->next_reason != (kicked ? SIGWAKE_REASON_KICK :
				      x->fd_ready ? SIGWAKE_REASON_FD :
				      SIGWAKE_REASON_TIMEOUT)) {
		return "next WAIT";
	}
	return NULL;
}

static unsigned int rounds_of(const FIXTURE_VARIANT(pair) *v)
{
	enum sw_event e[2] = { v->first, v->second };
	unsigned int n = ROUNDS;
	int i;

	for (i = 0; i < 2; i++) {
		if (e[i] == EV_TIMEOUT)
			return ROUNDS_TIMEOUT;
		if (e[i] == EV_CLOSE || e[i] == EV_UNREGISTER ||
		    e[i] == EV_WQ_DESTROY)
			n = ROUNDS_SETUP;
		else if (e[i] > EV_KICK && n > ROUNDS_SMALL)
			n = ROUNDS_SMALL;
	}
	if (v->where != AT_WAIT && n > ROUNDS_SMALL)
		n = ROUNDS_SMALL;
	return n;
}

TEST_F(pair, second_event_is_kept_and_reported_truly)
{
	unsigned int bad = 0, late = 0, judged = 0, want = rounds_of(variant);
	unsigned int tries, dec_seen[2] = { 0, 0 }, r;
	unsigned int allowed = deciders(variant);
	__u32 want_state = variant->where == AT_WAIT ? SIGWAKE_WAITING :
			   variant->where == AT_GUEST ?
			   SIGWAKE_RUNNING_IN_GUEST : SIGWAKE_RUNNING_IN_HOST;
	struct observed o;
	struct expect x;
	const char *why, *why0 = NULL;
	__u32 handle, wq;
	int d;

	if (variant->one_cpu) {
		struct sched_param sp = { .sched_priority = 1 };

		ASSERT_EQ(0, pin_to(0));
		self->s.cpu = 0;
		/* The sender must not be preempted by the thread it wakes. */
		if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp))
			SKIP(return, "SCHED_FIFO not permitted");
		self->fifo = true;
	} else {
		if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
			SKIP(return, "needs two CPUs");
		ASSERT_EQ(0, pin_to(0));
		self->s.cpu = 1;
	}
	ASSERT_EQ(0, pthread_create(&self->th, NULL, sleeper_fn, &self->s));
	self->started = true;
	ASSERT_TRUE(SW_POLL(SW_LOAD(&self->s.registered), SW_LONG_MS));
	ASSERT_EQ(0, self->s.reg_err);

	/*
	 * A round in which T's short deadline passed before the sender saw T
	 * asleep, or before an event meant to come first, proves nothing:
	 * it is counted apart and run again.
	 */
	for (r = 1, tries = 0; judged < want && tries < 4 * want;
	     r++, tries++) {
		bool is_late = false;
		int i;

		/* Re-setup what the last round destroyed. */
		if (self->wq_gone) {
			ASSERT_EQ(0, sw_wq_create(self->fd, NULL, &wq));
			SW_STORE(&self->s.wq, wq);
			self->wq_gone = false;
		}
		for (i = 0; i < 2; i++) {
			if ((i ? variant->second : variant->first) != EV_CLOSE ||
			    self->dup_fd[i] >= 0)
				continue;
			self->dup_fd[i] = fcntl(self->fd, F_DUPFD_CLOEXEC, 0);
			ASSERT_LE(0, self->dup_fd[i]);
		}
		wq = SW_LOAD(&self->s.wq);
		SW_STORE(&self->s.go, r);
		ASSERT_TRUE(SW_POLL(SW_LOAD(&self->s.ready) == (int)r &&
				    (sw_state(self->blk) == want_state ||
				     SW_LOAD(&self->s.waited) == (int)r),
				    SW_LONG_MS)) {
			TH_LOG("round %u: T never got %s (reg %d)", r,
			       where_name[variant->where], self->s.reg_err);
		}
		ASSERT_EQ(0, self->s.reg_err);
		handle = SW_LOAD(&self->s.handle);
		memset(&o, 0, sizeof(o));
		if (variant->where == AT_WAIT &&
		    SW_LOAD(&self->s.waited) == (int)r) {
			is_late = true;	/* its deadline, before we looked */
		} else {
			o.err[0] = send_event(self, variant->first, 0, handle,
					      wq, &o.out[0]);
			/* Event 1 must come before the deadline it pairs with. */
			if (variant->second == EV_TIMEOUT &&
			    sw_now_ns() >= SW_LOAD(&self->s.deadline))
				is_late = true;
			o.err[1] = send_event(self, variant->second, 1, handle,
					      wq, &o.out[1]);
		}
		SW_STORE(&self->s.sent, r);
		ASSERT_TRUE(SW_POLL(SW_LOAD(&self->s.done) == (int)r,
				    SW_LONG_MS));
		if (is_late) {
			late++;
			/* It may have run UNREGISTER or WQ_DESTROY all the same. */
			continue;
		}
		judged++;
		o.wait_err = self->s.wait_err;
		o.reason = self->s.reason;
		o.revents = self->s.revents;
		o.flags = self->s.flags;
		o.pending = self->s.pending;
		o.kick_byte = self->s.kicked_byte;
		o.kick_sigs = self->s.kick_sigs;
		o.host_sigs = self->s.host_sigs;
		o.next_err = self->s.next_err;
		o.next_reason = self->s.next_reason;

		why = "no decider";
		for (d = 0; d < 2; d++) {
			if (!(allowed & (1u << d)))
				continue;
			expect(variant, d, &x);
			why = mismatch(variant, &x, &o);
			if (!why) {
				dec_seen[d]++;
				break;
			}
		}
		if (!why)
			continue;
		if (!bad++) {
			why0 = why;
			TH_LOG("round %u: %s differs: errs %d %d, outs %u %u, WAIT %d reason %u revents %#x, flags %#x, pending %#llx, kick byte %u sigs %d, host sigs %d, next WAIT %d reason %u",
			       r, why, o.err[0], o.err[1], o.out[0], o.out[1],
			       o.wait_err, o.reason, o.revents, o.flags,
			       (unsigned long long)o.pending, o.kick_byte,
			       o.kick_sigs, o.host_sigs, o.next_err,
			       o.next_reason);
		}
	}
	TH_LOG("%s then %s, %s, %s: %u rounds (%u past the deadline), %u ended by event 1, %u by event 2, %u bad%s%s",
	       ev_name[variant->first], ev_name[variant->second],
	       where_name[variant->where],
	       variant->one_cpu ? "one CPU" : "two CPUs", judged, late,
	       dec_seen[0], dec_seen[1], bad, why0 ? ": first " : "",
	       why0 ? why0 : "");
	EXPECT_EQ(want, judged);
	EXPECT_EQ(0, bad);
}

TEST_HARNESS_MAIN
