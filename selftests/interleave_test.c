// SPDX-License-Identifier: GPL-2.0
/*
 * Two events on one sleeping thread, back to back: no event is lost and
 * none is reported for what it did not do.
 *
 * Thread T sleeps in SIGWAKE_IOC_WAIT on a queue.  The test thread sends
 * event 1, which wakes it, then event 2 before T's WAIT has returned (on
 * one CPU, with the sender at real-time priority, T cannot run in between;
 * on two CPUs T's return races with event 2).  Every pair of WAKE, POST and
 * KICK is checked:
 *
 *  - event 1 finds T asleep: WAKE reports 1 woken, POST and KICK report
 *    SIGWAKE_POST_WOKEN, and T's WAIT returns that event's reason;
 *  - event 2 finds T already woken: WAKE reports 0 woken, POST and KICK
 *    report SIGWAKE_POST_RECORDED, and what they carry stays visible: the
 *    POST's bit in @pending, the KICK's SIGWAKE_TF_KICKED in @flags (so the
 *    next WAIT returns SIGWAKE_REASON_KICK at once).
 *
 * A KICK right after a WAKE or a POST used to vanish: it answered WOKEN
 * and set nothing.
 */
#include "sigwake_test.h"

#define ROUNDS		100
#define SIG_FIRST	10
#define SIG_SECOND	12

enum sw_event { EV_WAKE, EV_POST, EV_KICK };

static const char *const ev_name[] = { "WAKE", "POST", "KICK" };

struct sleeper {
	int fd;
	__u32 wq;
	struct sigwake_thread_block *blk;
	int cpu;			/* -1: any */
	__u32 handle;
	int reg_err;
	int go;				/* atomic: the round to wait in */
	int sent;			/* atomic: both events of it are sent */
	int done;			/* atomic: the round is recorded */
	int stop;			/* atomic */
	/* per round, written before @done */
	int wait_err;
	__u32 reason;
	__u32 flags;
	__u64 pending;
	int next_err;
	__u32 next_reason;
	int registered;			/* atomic */
};

static int pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

static void *sleeper_fn(void *arg)
{
	struct sleeper *s = arg;
	struct sigwake_wait_args w;
	int r;

	if (s->cpu >= 0)
		pin_to(s->cpu);
	s->reg_err = sw_register(s->fd, s->blk, NULL, 0, &s->handle);
	SW_STORE(&s->registered, 1);
	if (s->reg_err)
		return NULL;

	for (r = 1; ; r++) {
		while (SW_LOAD(&s->go) < r && !SW_LOAD(&s->stop))
			usleep(100);
		if (SW_LOAD(&s->stop))
			break;
		w = (struct sigwake_wait_args){
			.size = sizeof(w), .wq = s->wq,
			.timeout_ns = SW_WATCHDOG_NS,
		};
		s->wait_err = sw_ioctl(s->fd, SIGWAKE_IOC_WAIT, &w);
		s->reason = w.reason;
		/* What event 2 left, once the test says it was sent. */
		while (SW_LOAD(&s->sent) < r && !SW_LOAD(&s->stop))
			usleep(100);
		s->flags = SW_LOAD(&s->blk->flags);
		s->pending = SW_XCHG(&s->blk->pending, 0);
		/* A kick flag must make the next WAIT return at once. */
		w = (struct sigwake_wait_args){
			.size = sizeof(w), .wq = SIGWAKE_NO_WQ, .timeout_ns = 0,
		};
		s->next_err = sw_ioctl(s->fd, SIGWAKE_IOC_WAIT, &w);
		s->next_reason = w.reason;
		SW_AND(&s->blk->flags, ~(SIGWAKE_TF_KICKED |
					 SIGWAKE_TF_PREEMPTED));
		SW_STORE(&s->done, r);
	}
	return NULL;
}

FIXTURE(pair) {
	int fd;
	struct sigwake_thread_block *blk;
	struct sleeper s;
	pthread_t th;
	bool started;
	bool fifo;
};

FIXTURE_VARIANT(pair) {
	enum sw_event first;
	enum sw_event second;
	bool one_cpu;
};

#define PAIR(a, b)							\
	FIXTURE_VARIANT_ADD(pair, a##_then_##b##_one_cpu) {		\
		.first = EV_##a, .second = EV_##b, .one_cpu = true,	\
	};								\
	FIXTURE_VARIANT_ADD(pair, a##_then_##b##_two_cpus) {		\
		.first = EV_##a, .second = EV_##b, .one_cpu = false,	\
	}

PAIR(WAKE, WAKE);
PAIR(WAKE, POST);
PAIR(WAKE, KICK);
PAIR(POST, WAKE);
PAIR(POST, POST);
PAIR(POST, KICK);
PAIR(KICK, WAKE);
PAIR(KICK, POST);
PAIR(KICK, KICK);

FIXTURE_SETUP(pair)
{
	self->fd = -1;
	self->blk = sw_alloc_blocks(1);
	ASSERT_NE(NULL, self->blk);
	SW_OPEN_DOMAIN(self->fd);
	memset(&self->s, 0, sizeof(self->s));
	self->s.fd = self->fd;
	self->s.blk = self->blk;
	ASSERT_EQ(0, sw_wq_create(self->fd, NULL, &self->s.wq));
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
	if (self->fd >= 0)
		close(self->fd);
}

/* Send @ev to the sleeper; returns what the call reported (woken/outcome). */
static int send_event(FIXTURE_DATA(pair) *self, enum sw_event ev, int signo,
		      __u32 *out)
{
	switch (ev) {
	case EV_WAKE:
		return sw_wake(self->fd, self->s.wq, 1, out);
	case EV_POST:
		return sw_post(self->fd, self->s.handle, signo, NULL, out);
	case EV_KICK:
		return sw_kick(self->fd, self->s.handle, out);
	}
	return -EINVAL;
}

static __u32 ev_reason(enum sw_event ev)
{
	return ev == EV_WAKE ? SIGWAKE_REASON_WAKE :
	       ev == EV_POST ? SIGWAKE_REASON_SIGNAL : SIGWAKE_REASON_KICK;
}

TEST_F(pair, second_event_is_kept_and_reported_truly)
{
	unsigned int bad_first = 0, bad_second = 0, lost = 0, r;
	int e1, e2;
	__u32 out1, out2;

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

	for (r = 1; r <= ROUNDS; r++) {
		SW_STORE(&self->s.go, r);
		ASSERT_TRUE(SW_POLL(sw_state(self->blk) == SIGWAKE_WAITING,
				    SW_LONG_MS));
		out1 = out2 = 99;
		e1 = send_event(self, variant->first, SIG_FIRST, &out1);
		e2 = send_event(self, variant->second, SIG_SECOND, &out2);
		SW_STORE(&self->s.sent, r);
		ASSERT_TRUE(SW_POLL(SW_LOAD(&self->s.done) == (int)r,
				    SW_LONG_MS));
		ASSERT_EQ(0, e1);
		ASSERT_EQ(0, e2);
		ASSERT_EQ(0, self->s.wait_err);
		ASSERT_EQ(0, self->s.next_err);

		/* Event 1 woke the sleeper, and its WAIT says so. */
		if (out1 != (variant->first == EV_WAKE ? 1 :
			     SIGWAKE_POST_WOKEN) ||
		    self->s.reason != ev_reason(variant->first)) {
			if (!bad_first++)
				TH_LOG("round %u: %s reported %u, WAIT returned %u",
				       r, ev_name[variant->first], out1,
				       self->s.reason);
		}
		/* Event 2 found it woken already: it woke nobody. */
		if (out2 != (variant->second == EV_WAKE ? 0 :
			     SIGWAKE_POST_RECORDED)) {
			if (!bad_second++)
				TH_LOG("round %u: second %s reported %u",
				       r, ev_name[variant->second], out2);
		}
		/* ... and what it carries is still there. */
		if ((variant->second == EV_POST &&
		     !(self->s.pending & SW_BIT(SIG_SECOND))) ||
		    (variant->second == EV_KICK &&
		     (!(self->s.flags & SIGWAKE_TF_KICKED) ||
		      self->s.next_reason != SIGWAKE_REASON_KICK))) {
			if (!lost++)
				TH_LOG("round %u: second %s lost (flags %#x, pending %#llx, next WAIT %u)",
				       r, ev_name[variant->second],
				       self->s.flags,
				       (unsigned long long)self->s.pending,
				       self->s.next_reason);
		}
	}
	TH_LOG("%s then %s, %s: %u rounds, %u bad first, %u bad second, %u lost",
	       ev_name[variant->first], ev_name[variant->second],
	       variant->one_cpu ? "one CPU" : "two CPUs", ROUNDS, bad_first,
	       bad_second, lost);
	EXPECT_EQ(0, bad_first);
	EXPECT_EQ(0, bad_second);
	EXPECT_EQ(0, lost);
}

TEST_HARNESS_MAIN
