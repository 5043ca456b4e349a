// SPDX-License-Identifier: GPL-2.0
/*
 * SIGWAKE_IOC_KICK with SIGWAKE_KICK_WAIT: the kicker returns only once the
 * target is no longer RUNNING_IN_GUEST; a target that misses the first
 * signal is re-kicked every kick_retry_us; a target that stays in guest
 * code gives ETIMEDOUT at the deadline (a zero timeout checks once); a
 * target in host code or asleep in WAIT returns at once; a target that
 * exits after the kick has left guest code (success); ESRCH, ENOENT; a host
 * signal interrupts the kicker (EINTR); flags and timeout errors (a
 * non-zero timeout without SIGWAKE_KICK_WAIT is EINVAL); many pause kicks
 * against a vCPU-like loop, and against a real KVM_RUN vCPU with kick_addr
 * = &kvm_run->immediate_exit (SKIP without /dev/kvm).
 *
 * Fixture:
 *   kw    a domain (nothing registered), blocks and kick bytes for the
 *         helper threads, the kick signal SIGUSR1 counted per thread.
 */
#include <linux/kvm.h>

#include "sigwake_test.h"

#define MS		SW_NSEC_PER_MSEC
#define KICK_SIG	SIGUSR1

/* ---- a vCPU-like target ---------------------------------------------- */

struct target {
	int fd;
	struct sigwake_thread_block *blk;
	unsigned char *kick;
	int kick_signo;
	int ignore_signals;	/* leave guest only at signal number N + 1 */
	bool ignore_byte;	/* never look at the kick byte */
	bool exit_on_kick;	/* leave by exiting the thread */

	pthread_t th;
	pid_t tid;
	__u32 handle;
	int reg_err;
	int registered, in_guest, left;		/* atomics */
	int release;		/* atomic: leave guest code now */
	int finish;		/* atomic: exit the thread */
	int64_t t_left;		/* when it stored RUNNING_IN_HOST */
	volatile sig_atomic_t signals;
};

static __thread struct target *cur;

static void kick_handler(int sig, siginfo_t *si, void *uc)
{
	if (cur)
		cur->signals++;
}

static void *target_fn(void *arg)
{
	struct target *t = arg;

	cur = t;
	t->tid = sw_gettid();
	t->reg_err = sw_register(t->fd, t->blk, t->kick, t->kick_signo,
				 &t->handle);
	SW_STORE(&t->registered, 1);
	if (t->reg_err)
		return NULL;
	SW_STORE(&t->blk->entry_seq, 1);
	while (!sw_enter_guest(t->blk))
		sw_clear_flags(t->blk, SIGWAKE_TF_KICKED);
	SW_STORE(&t->in_guest, 1);
	/* "guest code": until the kick gets through, or the release */
	for (;;) {
		if (t->signals > t->ignore_signals)
			break;
		if (!t->ignore_byte && !t->kick_signo && SW_LOAD(t->kick))
			break;
		if (SW_LOAD(&t->release))
			break;
		sw_cpu_relax();
	}
	if (t->exit_on_kick && !SW_LOAD(&t->release)) {
		/* leave guest code by exiting, state untouched */
		t->t_left = sw_now_ns();
		SW_STORE(&t->left, 1);
		return NULL;
	}
	t->t_left = sw_now_ns();
	sw_set_state(t->blk, SIGWAKE_RUNNING_IN_HOST);
	SW_STORE(&t->left, 1);
	while (!SW_LOAD(&t->finish))
		usleep(1000);
	return NULL;
}

static void target_init(struct target *t, int fd,
			struct sigwake_thread_block *blk, unsigned char *kick)
{
	memset(t, 0, sizeof(*t));
	t->fd = fd;
	t->blk = blk;
	t->kick = kick;
	t->kick_signo = KICK_SIG;
}

/* Start the target and wait until it runs guest code. */
static int target_start(struct target *t)
{
	if (pthread_create(&t->th, NULL, target_fn, t))
		return -EAGAIN;
	if (!SW_POLL(SW_LOAD(&t->registered), SW_LONG_MS))
		return -ETIMEDOUT;
	if (t->reg_err)
		return t->reg_err;
	if (!SW_POLL(SW_LOAD(&t->in_guest), SW_LONG_MS))
		return -ETIMEDOUT;
	return 0;
}

static void target_finish(struct target *t)
{
	SW_STORE(&t->release, 1);
	SW_STORE(&t->finish, 1);
	pthread_join(t->th, NULL);
}

FIXTURE(kw) {
	int fd;
	struct sigwake_thread_block *blk;
	unsigned char *kick;
};

FIXTURE_SETUP(kw)
{
	self->fd = -1;
	self->blk = sw_alloc_blocks(8);
	ASSERT_NE(NULL, self->blk);
	self->kick = sw_alloc_page();
	ASSERT_NE(NULL, self->kick);
	ASSERT_EQ(0, sw_sigaction(KICK_SIG, kick_handler, 0));
	SW_OPEN_DOMAIN(self->fd);
}

FIXTURE_TEARDOWN(kw)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* ------------------------------------------------------------------ */

TEST_F(kw, returns_once_target_left_guest)
{
	struct target t;
	__u32 outcome = 0;
	int64_t t_ret;

	target_init(&t, self->fd, &self->blk[0], &self->kick[0]);
	ASSERT_EQ(0, target_start(&t));
	ASSERT_EQ(0, sw_kick_wait(self->fd, t.handle, SIGWAKE_KICK_WAIT,
				  SW_WATCHDOG_NS, &outcome));
	t_ret = sw_now_ns();
	EXPECT_EQ(SIGWAKE_POST_KICKED, outcome);
	/* it had left when the kicker came back */
	EXPECT_EQ(1, SW_LOAD(&t.left));
	EXPECT_NE(SIGWAKE_RUNNING_IN_GUEST, sw_state(t.blk));
	EXPECT_LE(t.t_left, t_ret);
	EXPECT_LE(1, t.signals);
	EXPECT_EQ(1, self->kick[0]);
	EXPECT_TRUE(SW_LOAD(&t.blk->flags) & SIGWAKE_TF_KICKED);
	target_finish(&t);
}

TEST_F(kw, rekicks_a_target_that_missed_the_signal)
{
	struct target t;
	__u32 outcome = 0;
	long retry_us = sw_param_read("kick_retry_us");
	int64_t t0, dt;

	if (retry_us <= 0)
		retry_us = 1000;
	target_init(&t, self->fd, &self->blk[0], &self->kick[0]);
	t.ignore_signals = 2;	/* as if the first two were lost */
	ASSERT_EQ(0, target_start(&t));
	t0 = sw_now_ns();
	ASSERT_EQ(0, sw_kick_wait(self->fd, t.handle, SIGWAKE_KICK_WAIT,
				  SW_WATCHDOG_NS, &outcome));
	dt = sw_now_ns() - t0;
	EXPECT_EQ(SIGWAKE_POST_KICKED, outcome);
	EXPECT_EQ(1, SW_LOAD(&t.left));
	EXPECT_LE(3, t.signals) {
		TH_LOG("%d kick signals: no re-kick", (int)t.signals);
	}
	/* two re-kicks, each at least kick_retry_us after the previous */
	EXPECT_LE(2 * retry_us * 1000 * 9 / 10, dt);
	target_finish(&t);
}

TEST_F(kw, etimedout_when_target_stays_in_guest_signal_ignored)
{
	struct target t;
	int64_t t0, dt;

	/* the kick signal is ignored: nothing ever reaches the target */
	ASSERT_NE(SIG_ERR, signal(SIGUSR2, SIG_IGN));
	target_init(&t, self->fd, &self->blk[0], &self->kick[0]);
	t.kick_signo = SIGUSR2;
	t.ignore_byte = true;
	ASSERT_EQ(0, target_start(&t));
	t0 = sw_now_ns();
	EXPECT_EQ(-ETIMEDOUT, sw_kick_wait(self->fd, t.handle,
					   SIGWAKE_KICK_WAIT, 200 * MS, NULL));
	dt = sw_now_ns() - t0;
	EXPECT_LE(200 * MS, dt);
	EXPECT_GT(10000 * MS, dt);
	/* it was kicked all the same, and is still in guest code */
	EXPECT_EQ(SIGWAKE_RUNNING_IN_GUEST, sw_state(t.blk));
	EXPECT_FALSE(SW_LOAD(&t.left));
	EXPECT_TRUE(SW_LOAD(&t.blk->flags) & SIGWAKE_TF_KICKED);
	EXPECT_EQ(1, self->kick[0]);
	target_finish(&t);
}

TEST_F(kw, etimedout_without_kick_signo)
{
	struct target t;

	target_init(&t, self->fd, &self->blk[0], &self->kick[0]);
	t.kick_signo = 0;
	t.ignore_byte = true;
	ASSERT_EQ(0, target_start(&t));
	EXPECT_EQ(-ETIMEDOUT, sw_kick_wait(self->fd, t.handle,
					   SIGWAKE_KICK_WAIT, 100 * MS, NULL));
	EXPECT_EQ(SIGWAKE_RUNNING_IN_GUEST, sw_state(t.blk));
	target_finish(&t);
}

TEST_F(kw, timeout_zero_checks_once)
{
	struct target t;
	__u32 outcome = 0;
	int64_t t0;

	target_init(&t, self->fd, &self->blk[0], &self->kick[0]);
	t.kick_signo = 0;
	t.ignore_byte = true;
	ASSERT_EQ(0, target_start(&t));
	t0 = sw_now_ns();
	EXPECT_EQ(-ETIMEDOUT, sw_kick_wait(self->fd, t.handle,
					   SIGWAKE_KICK_WAIT, 0, NULL));
	EXPECT_GT(10000 * MS, sw_now_ns() - t0);	/* prompt, even on a stalled TCG host */
	EXPECT_EQ(1, self->kick[0]);	/* it did kick */
	/* out of guest now: a zero timeout succeeds */
	SW_STORE(&t.release, 1);
	ASSERT_TRUE(SW_POLL(SW_LOAD(&t.left), SW_LONG_MS));
	ASSERT_EQ(0, sw_kick_wait(self->fd, t.handle, SIGWAKE_KICK_WAIT, 0,
				  &outcome));
	EXPECT_EQ(SIGWAKE_POST_RECORDED, outcome);
	target_finish(&t);
}

static void *release_later(void *arg)
{
	struct target *t = arg;

	sw_sleep_ms(300);
	SW_STORE(&t->release, 1);
	return NULL;
}

TEST_F(kw, timeout_none_waits_until_it_leaves)
{
	struct target t;
	pthread_t th;
	int64_t t0;

	target_init(&t, self->fd, &self->blk[0], &self->kick[0]);
	t.kick_signo = 0;
	t.ignore_byte = true;
	ASSERT_EQ(0, target_start(&t));
	t0 = sw_now_ns();
	/* another thread lets it leave guest code 300 ms from now */
	ASSERT_EQ(0, pthread_create(&th, NULL, release_later, &t));
	EXPECT_EQ(0, sw_kick_wait(self->fd, t.handle, SIGWAKE_KICK_WAIT,
				  SIGWAKE_TIMEOUT_NONE, NULL));
	pthread_join(th, NULL);
	EXPECT_LE(300 * MS, sw_now_ns() - t0);
	EXPECT_EQ(1, SW_LOAD(&t.left));
	target_finish(&t);
}

TEST_F(kw, target_in_host_returns_at_once)
{
	struct sw_thread t;
	__u32 outcome = 0;

	sw_thread_init(&t, self->fd, &self->blk[0]);
	t.kick_addr = &self->kick[0];
	t.kick_signo = KICK_SIG;
	ASSERT_EQ(0, sw_thread_start(&t));
	ASSERT_EQ(0, sw_kick_wait(self->fd, t.handle, SIGWAKE_KICK_WAIT,
				  SW_WATCHDOG_NS, &outcome));
	EXPECT_EQ(SIGWAKE_POST_RECORDED, outcome);
	EXPECT_EQ(SIGWAKE_TF_KICKED | SIGWAKE_TF_KICK_REQUESTED, SW_LOAD(&self->blk[0].flags));
	sw_thread_finish(&t);
}

TEST_F(kw, target_waiting_returns_at_once)
{
	struct sw_thread t;
	__u32 outcome = 0;

	sw_thread_init(&t, self->fd, &self->blk[0]);
	t.do_wait = true;
	ASSERT_EQ(0, sw_thread_start(&t));
	ASSERT_TRUE(sw_thread_is_waiting(&t, SW_LONG_MS));
	ASSERT_EQ(0, sw_kick_wait(self->fd, t.handle, SIGWAKE_KICK_WAIT,
				  SW_WATCHDOG_NS, &outcome));
	EXPECT_EQ(SIGWAKE_POST_WOKEN, outcome);
	ASSERT_TRUE(sw_thread_done(&t, SW_LONG_MS));
	EXPECT_EQ(SIGWAKE_REASON_KICK, t.args.reason);
	sw_thread_finish(&t);
}

TEST_F(kw, target_exiting_after_kick_is_success)
{
	struct target t;
	__u32 outcome = 0;

	target_init(&t, self->fd, &self->blk[0], &self->kick[0]);
	t.exit_on_kick = true;
	ASSERT_EQ(0, target_start(&t));
	EXPECT_EQ(0, sw_kick_wait(self->fd, t.handle, SIGWAKE_KICK_WAIT,
				  SW_WATCHDOG_NS, &outcome));
	EXPECT_EQ(SIGWAKE_POST_KICKED, outcome);
	pthread_join(t.th, NULL);
}

TEST_F(kw, exited_target_esrch)
{
	struct sw_thread t;

	sw_thread_init(&t, self->fd, &self->blk[0]);
	ASSERT_EQ(0, sw_thread_start(&t));
	sw_thread_finish(&t);
	ASSERT_TRUE(SW_POLL(sw_kick_wait(self->fd, t.handle, SIGWAKE_KICK_WAIT,
					 SW_WATCHDOG_NS, NULL) == -ESRCH,
			    SW_LONG_MS));
	/* unregistered: ENOENT */
	ASSERT_EQ(0, sw_unregister(self->fd, t.handle));
	EXPECT_EQ(-ENOENT, sw_kick_wait(self->fd, t.handle, SIGWAKE_KICK_WAIT,
					0, NULL));
}

TEST_F(kw, unknown_target_enoent)
{
	EXPECT_EQ(-ENOENT, sw_kick_wait(self->fd, 999, SIGWAKE_KICK_WAIT,
					SW_WATCHDOG_NS, NULL));
	EXPECT_EQ(-ENOENT, sw_kick_wait(self->fd, 1, SIGWAKE_KICK_WAIT, 0,
					NULL));
}

static volatile sig_atomic_t alarm_count;

static void alarm_handler(int sig, siginfo_t *si, void *uc)
{
	alarm_count++;
}

struct alarm_arg {
	pid_t tid;
	int ms;
};

static void *alarm_fn(void *arg)
{
	struct alarm_arg *a = arg;

	sw_sleep_ms(a->ms);
	syscall(SYS_tgkill, getpid(), a->tid, SIGALRM);
	return NULL;
}

TEST_F(kw, host_signal_interrupts_kicker_eintr)
{
	struct alarm_arg aa = { .tid = sw_gettid(), .ms = 200 };
	struct target t;
	pthread_t th;
	int64_t t0, dt;

	ASSERT_EQ(0, sw_sigaction(SIGALRM, alarm_handler, 0));	/* no SA_RESTART */
	target_init(&t, self->fd, &self->blk[0], &self->kick[0]);
	t.kick_signo = 0;
	t.ignore_byte = true;
	ASSERT_EQ(0, target_start(&t));
	/*
	 * Before the alarm thread starts: its 200 ms sleep may begin before
	 * pthread_create() returns here.
	 */
	t0 = sw_now_ns();
	ASSERT_EQ(0, pthread_create(&th, NULL, alarm_fn, &aa));
	EXPECT_EQ(-EINTR, sw_kick_wait(self->fd, t.handle, SIGWAKE_KICK_WAIT,
				       SW_WATCHDOG_NS, NULL));
	dt = sw_now_ns() - t0;
	pthread_join(th, NULL);
	EXPECT_EQ(1, alarm_count);
	EXPECT_LE(200 * MS, dt);
	EXPECT_GT(SW_WATCHDOG_NS, dt);
	target_finish(&t);
}

TEST_F(kw, flags_and_timeout_einval)
{
	struct sw_thread t;

	sw_thread_init(&t, self->fd, &self->blk[0]);
	ASSERT_EQ(0, sw_thread_start(&t));
	/* a timeout without SIGWAKE_KICK_WAIT */
	EXPECT_EQ(-EINVAL, sw_kick_wait(self->fd, t.handle, 0, 5, NULL));
	EXPECT_EQ(-EINVAL, sw_kick_wait(self->fd, t.handle, 0,
					SIGWAKE_TIMEOUT_NONE, NULL));
	EXPECT_EQ(-EINVAL, sw_kick_wait(self->fd, t.handle, 0, SW_WATCHDOG_NS,
					NULL));
	/* unknown flag bits */
	EXPECT_EQ(-EINVAL, sw_kick_wait(self->fd, t.handle,
					SIGWAKE_KICK_WAIT << 1, 0, NULL));
	EXPECT_EQ(-EINVAL, sw_kick_wait(self->fd, t.handle, 0x80000000u, 0,
					NULL));
	/* a negative timeout other than SIGWAKE_TIMEOUT_NONE */
	EXPECT_EQ(-EINVAL, sw_kick_wait(self->fd, t.handle, SIGWAKE_KICK_WAIT,
					-2, NULL));
	/* none of them kicked */
	EXPECT_EQ(0, SW_LOAD(&self->blk[0].flags));
	/* the plain forms work */
	EXPECT_EQ(0, sw_kick_wait(self->fd, t.handle, 0, 0, NULL));
	EXPECT_EQ(0, sw_kick_wait(self->fd, t.handle, SIGWAKE_KICK_WAIT, 0,
				  NULL));
	sw_thread_finish(&t);
}

/* Many kicks with KICK_WAIT against a target that re-enters after each. */
struct vcpu {
	struct target t;
	__u32 request, ack, resume;	/* the pause protocol */
	int stop;
	long exits;
};

/*
 * The vCPU's side of the pause protocol, out of guest code: acknowledge a
 * new request and stay parked until it is resumed.  True if it paused.
 */
static bool vcpu_paused(struct vcpu *v)
{
	__u32 req = SW_LOAD(&v->request);

	if (req == v->ack)
		return false;
	SW_STORE(&v->ack, req);
	while (SW_LOAD(&v->resume) != req && !SW_LOAD(&v->stop))
		sched_yield();
	return true;
}

static void *vcpu_fn(void *arg)
{
	struct vcpu *v = arg;
	struct target *t = &v->t;

	cur = t;
	t->reg_err = sw_register(t->fd, t->blk, t->kick, t->kick_signo,
				 &t->handle);
	SW_STORE(&t->registered, 1);
	if (t->reg_err)
		return NULL;
	while (!SW_LOAD(&v->stop)) {
		if (vcpu_paused(v))
			continue;
		SW_STORE(&t->blk->entry_seq, SW_LOAD(&t->blk->entry_seq) + 1);
		if (!sw_enter_guest(t->blk)) {
			sw_clear_flags(t->blk, SIGWAKE_TF_KICKED);
			SW_STORE(t->kick, 0);
			continue;
		}
		/* guest code: until the kick byte or a kick signal */
		{
			int s0 = t->signals;

			while (!SW_LOAD(t->kick) && t->signals == s0 &&
			       !SW_LOAD(&v->stop))
				sw_cpu_relax();
		}
		sw_set_state(t->blk, SIGWAKE_RUNNING_IN_HOST);
		SW_STORE(t->kick, 0);
		sw_clear_flags(t->blk, SIGWAKE_TF_KICKED);
		v->exits++;
	}
	return NULL;
}

TEST_F(kw, many_pause_kicks_none_lost)
{
	struct vcpu v;
	int lost = 0, i, n = 2000;

	memset(&v, 0, sizeof(v));
	target_init(&v.t, self->fd, &self->blk[0], &self->kick[0]);
	ASSERT_EQ(0, pthread_create(&v.t.th, NULL, vcpu_fn, &v));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&v.t.registered), SW_LONG_MS));
	ASSERT_EQ(0, v.t.reg_err);
	for (i = 0; i < n && lost < 3; i++) {
		__u32 seq = (__u32)i + 1;
		int r;

		if (i & 1)
			SW_POLL(sw_state(v.t.blk) == SIGWAKE_RUNNING_IN_GUEST, 5);
		SW_STORE(&v.request, seq);
		r = sw_kick_wait(self->fd, v.t.handle, SIGWAKE_KICK_WAIT,
				 2000 * MS, NULL);
		if (r == -ETIMEDOUT)
			lost++;
		else
			ASSERT_EQ(0, r);
		ASSERT_TRUE(SW_POLL(SW_LOAD(&v.ack) == seq, SW_LONG_MS));
		SW_STORE(&v.resume, seq);
	}
	SW_STORE(&v.stop, 1);
	pthread_join(v.t.th, NULL);
	EXPECT_EQ(0, lost);
	TH_LOG("%d pause kicks, %ld guest exits, %d kick signals", i, v.exits,
	       (int)v.t.signals);
}

/* ---- a real KVM vCPU ----------------------------------------------------- */

struct kvcpu {
	struct vcpu v;
	int vcpufd;
	struct kvm_run *run;
	long intr_exits, at_once_exits, other_exits;
	__u32 other_reason;
	int run_err;
};

/* A VM with one vCPU in real mode running "jmp $" at 0x1000. 0 or -errno. */
static int kvm_vcpu_create(struct kvcpu *k)
{
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int kvm, vm, size;
	unsigned char *mem;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return -errno;
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return -errno;
	ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000ul);
	mem = sw_alloc_page();
	if (!mem)
		return -ENOMEM;
	mem[0] = 0xeb;	/* jmp $ */
	mem[1] = 0xfe;
	region = (struct kvm_userspace_memory_region){
		.slot = 0,
		.guest_phys_addr = 0x1000,
		.memory_size = (__u64)sysconf(_SC_PAGESIZE),
		.userspace_addr = (__u64)(uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return -errno;
	k->vcpufd = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (k->vcpufd < 0)
		return -errno;
	size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(*k->run))
		return -EINVAL;
	k->run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      k->vcpufd, 0);
	if (k->run == MAP_FAILED)
		return -errno;
	if (ioctl(k->vcpufd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(k->vcpufd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;
	memset(&regs, 0, sizeof(regs));
	regs.rip = 0x1000;
	regs.rflags = 0x2;
	if (ioctl(k->vcpufd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

static void *kvcpu_fn(void *arg)
{
	struct kvcpu *k = arg;
	struct vcpu *v = &k->v;
	struct target *t = &v->t;

	cur = t;
	t->reg_err = sw_register(t->fd, t->blk, &k->run->immediate_exit,
				 t->kick_signo, &t->handle);
	SW_STORE(&t->registered, 1);
	if (t->reg_err)
		return NULL;
	while (!SW_LOAD(&v->stop)) {
		int r;

		if (vcpu_paused(v))
			continue;
		SW_STORE(&t->blk->entry_seq, SW_LOAD(&t->blk->entry_seq) + 1);
		if (!sw_enter_guest(t->blk)) {
			sw_clear_flags(t->blk, SIGWAKE_TF_KICKED);
			SW_STORE(&k->run->immediate_exit, 0);
			continue;
		}
		k->run->exit_reason = KVM_EXIT_UNKNOWN;
		r = ioctl(k->vcpufd, KVM_RUN, 0);
		if (r < 0)
			r = -errno;
		sw_set_state(t->blk, SIGWAKE_RUNNING_IN_HOST);
		SW_STORE(&k->run->immediate_exit, 0);
		sw_clear_flags(t->blk, SIGWAKE_TF_KICKED);
		if (r == -EINTR) {
			if (k->run->exit_reason == KVM_EXIT_INTR)
				k->intr_exits++;
			else
				k->at_once_exits++;
		} else if (r < 0) {
			k->run_err = r;
			break;
		} else {
			k->other_exits++;
			k->other_reason = k->run->exit_reason;
			break;
		}
	}
	return NULL;
}

TEST_F(kw, kvm_run_vcpu_pause_kicks)
{
	struct kvcpu k;
	int lost = 0, i, n = 300, r;
	__u32 outcome;

	memset(&k, 0, sizeof(k));
	r = kvm_vcpu_create(&k);
	if (r == -ENOENT || r == -ENXIO || r == -ENODEV)
		SKIP(return, "no /dev/kvm (%s): the KVM_RUN kick is not tested",
		     strerror(-r));
	ASSERT_EQ(0, r) {
		TH_LOG("creating a KVM vCPU: %s", strerror(-r));
	}
	target_init(&k.v.t, self->fd, &self->blk[0], NULL);
	ASSERT_EQ(0, pthread_create(&k.v.t.th, NULL, kvcpu_fn, &k));
	ASSERT_TRUE(SW_POLL(SW_LOAD(&k.v.t.registered), SW_LONG_MS));
	ASSERT_EQ(0, k.v.t.reg_err) {
		TH_LOG("REGISTER with kick_addr = &kvm_run->immediate_exit");
	}
	for (i = 0; i < n && lost < 3; i++) {
		__u32 seq = (__u32)i + 1;

		/* every other kick once it is in KVM_RUN's guest state */
		if (i & 1)
			SW_POLL(sw_state(k.v.t.blk) == SIGWAKE_RUNNING_IN_GUEST,
				5);
		SW_STORE(&k.v.request, seq);
		outcome = 0;
		r = sw_kick_wait(self->fd, k.v.t.handle, SIGWAKE_KICK_WAIT,
				 SW_WATCHDOG_NS, &outcome);
		if (r == -ETIMEDOUT)
			lost++;
		else
			ASSERT_EQ(0, r);
		ASSERT_TRUE(SW_POLL(SW_LOAD(&k.v.ack) == seq, SW_LONG_MS));
		SW_STORE(&k.v.resume, seq);
		if (k.run_err || k.other_exits)
			break;
	}
	SW_STORE(&k.v.stop, 1);
	sw_kick_wait(self->fd, k.v.t.handle, SIGWAKE_KICK_WAIT,
		     SW_WATCHDOG_NS, NULL);
	pthread_join(k.v.t.th, NULL);
	EXPECT_EQ(0, lost);
	EXPECT_EQ(0, k.run_err);
	EXPECT_EQ(0, k.other_exits) {
		TH_LOG("unexpected KVM exit, exit_reason %u", k.other_reason);
	}
	/* the signal took it out of a running guest at least once */
	EXPECT_LT(0, k.intr_exits);
	TH_LOG("%d pause kicks: %ld KVM_EXIT_INTR exits, %ld at once on "
	       "immediate_exit, %d kick signals", i, k.intr_exits,
	       k.at_once_exits, (int)k.v.t.signals);
}

TEST_HARNESS_MAIN
