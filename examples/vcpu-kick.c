// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vcpu-kick: kicking a vCPU thread out of guest code (Firecracker,
 * cloud-hypervisor, rust-vmm), on sigwake.
 *
 * A VMM that must pause a vCPU (to change its state, to stop the world,
 * to deliver an interrupt) sends the vCPU thread a signal (pthread_kill
 * with SIGRTMIN); the handler finds the thread's kvm_run through TLS and
 * sets immediate_exit, so a KVM_RUN that starts after the signal returns at
 * once.  Two gaps remain: the handler's TLS lookup (the thread may not have
 * a vCPU yet, or any more), and the fact that nobody knows when the vCPU
 * has really left guest code; a kick that races with the thread's own entry
 * can be lost.
 *
 * With sigwake the vCPU thread registers once with
 *	kick_signo = SIGRTMIN, kick_addr = &kvm_run->immediate_exit
 * and marks its guest entries with sigwake_enter_guest() (a store and a
 * barrier, no syscall).  SIGWAKE_IOC_KICK sets TF_KICKED, sets the kick
 * byte, then signals that one task; with SIGWAKE_KICK_WAIT it returns only
 * once the vCPU has left guest code, re-kicking it every kick_retry_us
 * (module parameter) while it stays there, and fails with ETIMEDOUT at the
 * caller's deadline: a kick either gets the vCPU out or is reported lost.
 *
 * The VMM here kicks to *pause* the vCPU, as Firecracker does before it
 * saves or changes vCPU state: it stores a pause request, kicks with
 * KICK_WAIT, and once the kick returns (the vCPU is out of guest code and
 * will see the request before it enters again: a kick that found it in
 * host code set TF_KICKED, which refuses the next entry) it waits for the
 * vCPU's acknowledgement and lets it resume.  The vCPU parks between
 * request and resume.  (KICK_WAIT looks at the state word: a vCPU that
 * left guest code and went straight back in, as for interrupt injection,
 * may be seen "still in guest code", re-kicked, and reported as ETIMEDOUT;
 * a pause is the case KICK_WAIT is for.)
 *
 * Scenarios (one summary line each):
 *   simulated vCPU  the "guest" is pause(2), a block that only a signal
 *                   ends (handler without SA_RESTART); the thread checks the
 *                   kick byte first, as KVM checks immediate_exit.  A kick
 *                   that lands between that check and pause() is exactly the
 *                   lost kick; KICK_WAIT's re-kick recovers it
 *   KVM_RUN         a real VM (/dev/kvm): one vCPU running "jmp $" in real
 *                   mode from a 4 KiB memory slot at 0x1000; kick_addr is
 *                   &kvm_run->immediate_exit; the kick signal's handler does
 *                   nothing (the signal makes KVM_RUN return EINTR with
 *                   KVM_EXIT_INTR; immediate_exit makes a late one return
 *                   at once).  Without /dev/kvm this part is SKIPPED and the
 *                   program exits 4: a skip is not a pass
 * Each sends its kicks at random points (at once, after a random spin, after
 * a yield, or once the vCPU is in guest code) with SIGWAKE_KICK_WAIT and a
 * 2 s deadline; ETIMEDOUT counts as a lost kick.
 *
 * Usage: vcpu-kick [-n kicks] [-k kvm-kicks] [-s seed] [-t seconds]
 *   100000 kicks each, but each part stops at the -t time limit (120 s):
 *   under TCG on a busy host a kick round trip can take milliseconds.  The
 *   summary says how many kicks ran.
 * Exit status: 0 no kick lost, 1 a kick lost or an error, 2 no sigwake,
 * 4 no kick lost but the KVM part was skipped (no /dev/kvm).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "libsigwake.h"

#define NSEC_PER_USEC		1000LL
#define NSEC_PER_MSEC		1000000LL
#define NSEC_PER_SEC		1000000000LL
/*
 * KICK_WAIT deadline: past it the kick counts as lost.  Generous: on a busy
 * host a TCG VM can stand still for a second or more, and the deadline
 * runs on the guest's clock meanwhile.
 */
#define KICK_TIMEOUT_NS		(10 * NSEC_PER_SEC)
#define PATIENCE_NS		(20 * NSEC_PER_SEC)
/* Guest code for the KVM vCPU: "jmp $" at this guest-physical address. */
#define GUEST_ADDR		0x1000
/* A parked vCPU yields this many times before it sleeps in WAIT. */
#define PARK_SPINS		200

static int dom;
static int failures;
static int kick_signo;
static unsigned long long seed = 1;

/* ---- small helpers ---------------------------------------------------- */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* "412 us", "23.10 ms", "1.20 s" */
static const char *fmt_ns(char *buf, size_t len, int64_t ns)
{
	if (ns < 10 * NSEC_PER_MSEC)
		snprintf(buf, len, "%lld us", (long long)(ns / NSEC_PER_USEC));
	else if (ns < NSEC_PER_SEC)
		snprintf(buf, len, "%.2f ms", ns / 1e6);
	else
		snprintf(buf, len, "%.2f s", ns / 1e9);
	return buf;
}
#define T(ns)	fmt_ns((char[32]){ 0 }, 32, (ns))

#define FAIL(...) do {							\
	printf("  FAIL: " __VA_ARGS__);					\
	printf("\n");							\
	failures++;							\
} while (0)

/* xorshift64* */
static unsigned long long rnd(unsigned long long *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static void spin_ns(int64_t ns)
{
	int64_t end = now_ns() + ns;

	while (now_ns() < end)
		;
}

/* SIGWAKE_IOC_KICK with SIGWAKE_KICK_WAIT: the first kick's outcome or -errno. */
static int kick_wait(__u32 target, __s64 timeout_ns)
{
	return sigwake_kick_wait(dom, target, timeout_ns);
}

/* ---- the vCPU thread ---------------------------------------------------- */

struct vcpu {
	const char *name;
	pthread_t th;
	struct sigwake_self *self;
	__u32 handle;
	/* the kick byte: a plain byte, or &kvm_run->immediate_exit */
	volatile unsigned char *kick_byte;
	int vcpufd;			/* KVM: the vCPU; -1: simulated */
	struct kvm_run *run;
	int ready;			/* registered (1), failed (-1) */
	int stop;
	int err;
	/* the pause protocol */
	__u32 request;			/* VMM: "pause", a sequence number */
	__u32 ack;			/* vCPU: the request it has seen */
	__u32 resume;			/* VMM: "resume", word of park_wq */
	__u32 park_wq;
	long parks;
	/* counters, written by the vCPU thread */
	long entries;			/* entered guest code */
	long refused;			/* entry refused: kicked before it */
	long exits_running;		/* a kick interrupted the running guest */
	long exits_at_once;		/* the kick byte was set at entry */
	long other_exits;		/* KVM: any other exit (unexpected) */
	__u32 last_exit_reason;
};

static long kick_signals;	/* handler runs, all vCPU threads */

/*
 * The kick signal's handler does nothing: the signal's only job is to
 * interrupt the blocking call (pause() or KVM_RUN) with EINTR, and the kick
 * byte, set by the kernel before the signal, covers the case where the
 * signal came before the call.  It counts, so re-kicks can be reported.
 */
static void on_kick(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	__atomic_add_fetch(&kick_signals, 1, __ATOMIC_RELAXED);
}

/*
 * Run guest code once: returns 0 when it came back because of a kick, or
 * -errno.  Simulated: check the kick byte, then pause().  KVM: KVM_RUN,
 * which does the same check on immediate_exit itself.
 */
static int run_guest(struct vcpu *v)
{
	if (v->vcpufd < 0) {
		if (*v->kick_byte) {
			v->exits_at_once++;	/* "immediate_exit" */
			return 0;
		}
		pause();	/* a kick signal ends it (EINTR) */
		v->exits_running++;
		return 0;
	}
	v->run->exit_reason = KVM_EXIT_UNKNOWN;
	if (ioctl(v->vcpufd, KVM_RUN, 0) < 0) {
		if (errno != EINTR)
			return -errno;
		if (v->run->exit_reason == KVM_EXIT_INTR)
			v->exits_running++;
		else
			v->exits_at_once++;	/* immediate_exit */
		return 0;
	}
	/* "jmp $" never exits by itself: anything else is a surprise */
	v->other_exits++;
	v->last_exit_reason = v->run->exit_reason;
	return -EPROTO;
}

static void *vcpu_main(void *arg)
{
	struct vcpu *v = arg;
	struct sigwake_thread_block *b;
	int r;

	r = sigwake_register(dom, kick_signo, v->kick_byte, &v->self);
	if (r < 0) {
		v->err = r;
		__atomic_store_n(&v->ready, -1, __ATOMIC_RELEASE);
		return NULL;
	}
	b = v->self->block;
	v->handle = v->self->handle;
	__atomic_store_n(&v->ready, 1, __ATOMIC_RELEASE);

	while (!__atomic_load_n(&v->stop, __ATOMIC_ACQUIRE)) {
		__u32 req = __atomic_load_n(&v->request, __ATOMIC_ACQUIRE), w;

		/*
		 * The VMM asked for a pause: acknowledge, then park until it
		 * says resume: spin a little (the VMM is usually quick), then
		 * sleep in WAIT on the resume word (futex semantics).
		 */
		if (req != v->ack) {
			int spins = 0;

			__atomic_store_n(&v->ack, req, __ATOMIC_RELEASE);
			v->parks++;
			while ((w = __atomic_load_n(&v->resume,
						    __ATOMIC_ACQUIRE)) != req &&
			       !__atomic_load_n(&v->stop, __ATOMIC_ACQUIRE)) {
				if (spins++ < PARK_SPINS) {
					sched_yield();
					continue;
				}
				r = sigwake_wait(dom, v->park_wq, w,
						 SIGWAKE_TIMEOUT_NONE, 0);
				if (r == SIGWAKE_REASON_KICK)
					sigwake_take_flags(b);
				else if (r < 0 && r != -EAGAIN && r != -EINTR) {
					v->err = r;
					goto out;
				}
			}
			continue;
		}
		/* The Dekker entry: RUNNING_IN_GUEST, barrier, re-check. */
		if (sigwake_enter_guest(b)) {
			sigwake_take_pending(b);
			sigwake_take_flags(b);
			*v->kick_byte = 0;
			v->refused++;
			continue;
		}
		v->entries++;
		r = run_guest(v);
		/* Out of guest code: this is what KICK_WAIT waits for. */
		sigwake_leave_guest(b);
		*v->kick_byte = 0;
		sigwake_take_flags(b);
		if (r) {
			v->err = r;
			break;
		}
	}
out:
	sigwake_unregister(v->self);
	return NULL;
}

static int vcpu_start(struct vcpu *v)
{
	int64_t end = now_ns() + PATIENCE_NS;
	int r = sigwake_wq_create(dom, &v->resume);

	if (r < 0)
		return r;
	v->park_wq = (__u32)r;
	if (pthread_create(&v->th, NULL, vcpu_main, v))
		return -EAGAIN;
	while (!__atomic_load_n(&v->ready, __ATOMIC_ACQUIRE) && now_ns() < end)
		sched_yield();
	if (__atomic_load_n(&v->ready, __ATOMIC_ACQUIRE) == 1)
		return 0;
	pthread_join(v->th, NULL);
	return v->err ? v->err : -ETIMEDOUT;
}

/* ---- the kicker --------------------------------------------------------- */

/* A random point in the vCPU's loop. */
static void random_moment(struct vcpu *v, unsigned long long *rs)
{
	switch (rnd(rs) % 4) {
	case 0:		/* right after the previous kick came back */
		break;
	case 1:
		spin_ns((int64_t)(rnd(rs) % 30) * NSEC_PER_USEC);
		break;
	case 2:
		sched_yield();
		break;
	case 3:		/* once it is in guest code, then a little more */
		{
			int64_t end = now_ns() + NSEC_PER_MSEC;

			while (sigwake_state(v->self->block) !=
			       SIGWAKE_RUNNING_IN_GUEST && now_ns() < end)
				;
			spin_ns((int64_t)(rnd(rs) % 10) * NSEC_PER_USEC);
		}
		break;
	}
}

static int time_limit_s = 120;

static void kick_run(struct vcpu *v, long n)
{
	unsigned long long rs = seed * 6364136223846793005ULL + 1442695040888963407ULL;
	long outcome[SIGWAKE_POST_QUEUED + 1] = { 0 }, lost = 0, errs = 0;
	long unacked = 0, done = 0;
	long sig0 = __atomic_load_n(&kick_signals, __ATOMIC_RELAXED), sigs;
	int64_t t0 = now_ns(), worst = 0, end;
	int64_t t_limit = t0 + (int64_t)time_limit_s * NSEC_PER_SEC;
	int r = 0, stop_kick;

	for (long i = 0; i < n && !__atomic_load_n(&v->err, __ATOMIC_RELAXED); i++) {
		__u32 seq = (__u32)i + 1;
		int64_t t1, end_ack;

		if (now_ns() > t_limit)
			break;
		done++;
		random_moment(v, &rs);
		/* Pause: ask, kick, and wait until the vCPU is out. */
		t1 = now_ns();
		__atomic_store_n(&v->request, seq, __ATOMIC_RELEASE);
		r = kick_wait(v->handle, KICK_TIMEOUT_NS);
		t1 = now_ns() - t1;
		if (t1 > worst)
			worst = t1;
		if (r == -ETIMEDOUT) {
			lost++;
			if (lost <= 3)
				printf("  kick %ld: the vCPU was still in guest "
				       "code after %s (lost; state %u, flags "
				       "%#x, kick byte %u, %ld entries, %ld kick "
				       "signals)\n", i + 1, T(KICK_TIMEOUT_NS),
				       sigwake_state(v->self->block),
				       v->self->block->flags, *v->kick_byte,
				       v->entries, kick_signals);
			if (lost >= 10)
				break;
		} else if (r < 0) {
			errs++;
			if (errs <= 3)
				printf("  kick %ld: %s\n", i + 1, strerror(-r));
			if (errs >= 10)
				break;
		} else if (r <= SIGWAKE_POST_QUEUED) {
			outcome[r]++;
		}
		/*
		 * Out of guest code, it cannot run guest code again before it
		 * sees the request: wait for its acknowledgement, then resume.
		 */
		t1 = now_ns();
		end_ack = t1 + PATIENCE_NS;
		while (__atomic_load_n(&v->ack, __ATOMIC_ACQUIRE) != seq &&
		       !__atomic_load_n(&v->err, __ATOMIC_RELAXED)) {
			if (now_ns() > end_ack) {
				unacked++;
				break;
			}
			sched_yield();
		}
		if (r == -ETIMEDOUT && lost <= 3)
			printf("  kick %ld: the vCPU acknowledged the pause %s "
			       "after the deadline\n", i + 1, T(now_ns() - t1));
		__atomic_store_n(&v->resume, seq, __ATOMIC_RELEASE);
		sigwake_wake(dom, v->park_wq, 1);
	}
	/* Stop the vCPU: the stop flag, a resume, one more kick. */
	__atomic_store_n(&v->stop, 1, __ATOMIC_RELEASE);
	__atomic_add_fetch(&v->resume, 1, __ATOMIC_RELEASE);
	sigwake_wake(dom, v->park_wq, 1);
	end = now_ns() + PATIENCE_NS;
	while ((stop_kick = kick_wait(v->handle, KICK_TIMEOUT_NS)) ==
	       -ETIMEDOUT && now_ns() < end)
		;
	pthread_join(v->th, NULL);
	/* Signals beyond one per kick that found the vCPU in guest code. */
	sigs = __atomic_load_n(&kick_signals, __ATOMIC_RELAXED) - sig0 -
	       outcome[SIGWAKE_POST_KICKED] -
	       (stop_kick == SIGWAKE_POST_KICKED);

	if (lost)
		FAIL("%s: %ld of %ld kicks lost (KICK_WAIT: ETIMEDOUT)",
		     v->name, lost, done);
	if (errs)
		FAIL("%s: %ld kicks failed (last: %s)", v->name, errs,
		     strerror(-r));
	if (unacked)
		FAIL("%s: %ld pauses never acknowledged by the vCPU", v->name,
		     unacked);
	if (v->err)
		FAIL("%s: the vCPU loop failed: %s%s", v->name,
		     strerror(-v->err), v->other_exits ? " (unexpected exit)" : "");
	if (v->other_exits)
		FAIL("%s: %ld unexpected KVM exits (last exit_reason %u)",
		     v->name, v->other_exits, v->last_exit_reason);
	printf("%s: %ld kicks (pause requests) at random points with "
	       "SIGWAKE_KICK_WAIT: %ld of %ld returned with the vCPU out of "
	       "guest code, %ld lost; the first kick found it in guest code %ld "
	       "times, in host code %ld, parked %ld; it left guest code %ld "
	       "times because the kick interrupted %s, %ld at once on the "
	       "kick byte%s, and refused %ld entries (TF_KICKED); %ld "
	       "re-kicks; slowest kick %s; in %s%s\n",
	       v->name, done, done - lost - errs, done, lost,
	       outcome[SIGWAKE_POST_KICKED],
	       outcome[SIGWAKE_POST_RECORDED], outcome[SIGWAKE_POST_WOKEN],
	       v->exits_running,
	       v->vcpufd < 0 ? "pause()" : "KVM_RUN (KVM_EXIT_INTR)",
	       v->exits_at_once,
	       v->vcpufd < 0 ? "" : " (immediate_exit)", v->refused,
	       sigs > 0 ? sigs : 0, T(worst), T(now_ns() - t0),
	       done < n ? " (stopped early at the -t time limit)" : "");
}

/* ---- scenario 1: a simulated vCPU --------------------------------------- */

static unsigned char sim_kick_byte;

static void scenario_simulated(long n)
{
	struct vcpu v = {
		.name = "simulated vCPU (pause)",
		.kick_byte = &sim_kick_byte,
		.vcpufd = -1,
	};
	int r = vcpu_start(&v);

	if (r) {
		FAIL("%s: %s", v.name, strerror(-r));
		return;
	}
	kick_run(&v, n);
}

/* ---- scenario 2: a real KVM vCPU ----------------------------------------- */

/*
 * A VM with one vCPU in real mode at GUEST_ADDR, where a 4 KiB memory slot
 * holds "jmp $" (eb fe).  Returns 0, -ENODEV (no /dev/kvm: skip) or -errno.
 */
static int kvm_setup(struct vcpu *v, const char **what)
{
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int kvm, vm, fd, size;
	unsigned char *mem;

	*what = "open /dev/kvm";
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return errno == ENOENT || errno == ENXIO || errno == ENODEV ?
		       -ENODEV : -errno;
	*what = "KVM_GET_API_VERSION";
	if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return -EPROTO;
	*what = "KVM_CREATE_VM";
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return -errno;
	/* Needed for real mode on Intel without unrestricted guest. */
	ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000ul);

	*what = "guest memory";
	mem = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -errno;
	mem[0] = 0xeb;		/* jmp $ */
	mem[1] = 0xfe;
	region = (struct kvm_userspace_memory_region){
		.slot = 0,
		.guest_phys_addr = GUEST_ADDR,
		.memory_size = 0x1000,
		.userspace_addr = (__u64)(uintptr_t)mem,
	};
	*what = "KVM_SET_USER_MEMORY_REGION";
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return -errno;

	*what = "KVM_CREATE_VCPU";
	fd = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (fd < 0)
		return -errno;
	*what = "KVM_GET_VCPU_MMAP_SIZE";
	size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(struct kvm_run))
		return size < 0 ? -errno : -EPROTO;
	*what = "mmap kvm_run";
	v->run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      fd, 0);
	if (v->run == MAP_FAILED)
		return -errno;

	*what = "KVM_GET_SREGS / KVM_SET_SREGS";
	if (ioctl(fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;
	memset(&regs, 0, sizeof(regs));
	regs.rip = GUEST_ADDR;
	regs.rflags = 0x2;
	*what = "KVM_SET_REGS";
	if (ioctl(fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	v->vcpufd = fd;
	v->kick_byte = &v->run->immediate_exit;
	return 0;
}

/* Returns false if it was skipped. */
static bool scenario_kvm(long n)
{
	struct vcpu v = { .name = "KVM_RUN vCPU", .vcpufd = -1 };
	const char *what = "";
	int r = kvm_setup(&v, &what);

	if (r == -ENODEV) {
		printf("KVM_RUN vCPU: SKIPPED: /dev/kvm does not exist here "
		       "(no KVM: the real KVM_RUN part did not run; this is "
		       "not a pass)\n");
		return false;
	}
	if (r) {
		FAIL("KVM_RUN vCPU: %s: %s", what, strerror(-r));
		return true;
	}
	r = vcpu_start(&v);
	if (r) {
		FAIL("KVM_RUN vCPU: register with kick_addr = "
		     "&kvm_run->immediate_exit: %s", strerror(-r));
		return true;
	}
	kick_run(&v, n);
	return true;
}

int main(int argc, char **argv)
{
	long n = 100000, nkvm = 100000;
	struct sigaction sa;
	bool kvm_ran = true;
	int opt;

	while ((opt = getopt(argc, argv, "n:k:s:t:h")) != -1) {
		switch (opt) {
		case 't':
			time_limit_s = atoi(optarg);
			break;
		case 'n':
			n = strtol(optarg, NULL, 0);
			break;
		case 'k':
			nkvm = strtol(optarg, NULL, 0);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: vcpu-kick [-n kicks] "
				"[-k kvm-kicks] [-s seed] [-t seconds]\n");
			return 2;
		}
	}
	if (!seed)
		seed = 1;
	setvbuf(stdout, NULL, _IOLBF, 0);

	dom = sigwake_open();
	if (dom < 0) {
		printf("vcpu-kick: sigwake_open: %s\n",
		       sigwake_open_error(dom));
		return 2;
	}
	/* The kick signal, as rust-vmm: SIGRTMIN, no SA_RESTART. */
	kick_signo = SIGRTMIN;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_kick;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(kick_signo, &sa, NULL);

	if (n > 0)
		scenario_simulated(n);
	if (nkvm > 0)
		kvm_ran = scenario_kvm(nkvm);
	close(dom);
	if (failures) {
		printf("vcpu-kick: %d failure(s)\n", failures);
		return 1;
	}
	return kvm_ran ? 0 : 4;
}
