// SPDX-License-Identifier: GPL-2.0
/*
 * sigwake-bench: sigwake side by side with the user-space techniques it
 * replaces, every pair measured in the same run, the techniques taking
 * turns iteration by iteration so that drift (frequency, noisy neighbours,
 * TCG's translation cache warming up) hits both sides of a comparison
 * alike.
 *
 *   roundtrip  two threads ping-pong: sigwake WAIT/WAKE on word-bound
 *              queues vs futex WAIT/WAKE vs eventfd vs a pipe, both threads
 *              pinned to one CPU, then to two
 *   post       a guest signal to a thread blocked in a wait, until that
 *              thread runs: POST vs LiteBox's technique (tgkill a host
 *              signal; the handler sets a pending bit, CASes WAITING->WOKEN
 *              and futex-wakes) vs tgkill + sigtimedwait
 *   entry      one guest entry plus exit with preemption armed: sigwake's
 *              state-word stores vs Shadow's setitimer(ITIMER_VIRTUAL) +
 *              sigprocmask on every enable and disable
 *   kick       KICK (and POST) to a thread spinning in RUNNING_IN_GUEST
 *              until its kick-signal handler runs vs pthread_kill + a TLS
 *              flag
 *   scaling    POST and WAKE cost with 1 .. 8192 registered threads, and
 *              the kernel memory one registration costs
 *   lost       lost events under one race load: the naive protocol (check
 *              a flag, then futex-wait without a value check) vs sigwake
 *   floor      one call of each primitive when nobody sleeps or wakes
 *              (WAKE vs FUTEX_WAKE, WAIT vs FUTEX_WAIT on a changed word,
 *              POST vs tgkill, the ioctl path vs a bare syscall), with a
 *              second thread alive as in the round trip, to take the others
 *              apart
 *
 * roundtrip, post, entry, kick and floor are repeated --runs times (5 by
 * default) in one process; every paired ratio is computed per run and
 * reported as the geometric mean of the per-run ratios with a 95%
 * confidence interval (Student's t over their logarithms, stats.h).
 * scaling and lost run once.
 *
 * Prints a table and writes a JSON file.  Speed is reported as ratios, never
 * as pass or fail; the exit status says only whether the run completed
 * (0), found sigwake missing (4, the baselines still ran), lost a sigwake
 * event (3), or failed (1).
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <getopt.h>
#include <limits.h>
#include <linux/futex.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "libsigwake.h"
#include "stats.h"

#ifndef BENCH_VERSION
#define BENCH_VERSION "unknown"
#endif

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define NSEC_PER_SEC	1000000000ull
#define NSEC_PER_MSEC	1000000ull

/* Host signals.  SIGRTMIN is a function in glibc: resolved in main(). */
static int sig_kick;		/* sigwake kick_signo; pthread_kill baseline */
static int sig_litebox;		/* LiteBox-style host signal */
static int sig_sigwait;		/* taken with sigtimedwait */
static int sig_nop;		/* an empty handler, for the floor */
#define SIG_PREEMPT	SIGVTALRM	/* Shadow's ITIMER_VIRTUAL signal */

/* Guest signals posted through sigwake. */
#define GSIG_POST	10

/* Preemption budget, the same for sigwake and the itimer technique. */
#define PREEMPT_BUDGET_NS	(10 * NSEC_PER_MSEC)

/* Bounded wait of the lost-event rounds: a sleep this long is a lost event. */
#define LOST_TIMEOUT_NS		(10 * NSEC_PER_MSEC)

/* ------------------------------------------------------------ options */

static const char *const bench_names[] = {
	"roundtrip", "post", "entry", "kick", "scaling", "lost", "floor",
};

#define MAX_RUNS	64

static struct {
	int quick;
	int runs;		/* 0: the default for the mode */
	long iterations;	/* 0: each benchmark's default */
	const char *json;
	unsigned int only;	/* bitmask over bench_names; 0: all */
	int max_threads;
} opt = {
	.json = "bench.json",
	.max_threads = 8192,
};

static int selected(const char *name)
{
	size_t i;

	if (!opt.only)
		return 1;
	for (i = 0; i < ARRAY_SIZE(bench_names); i++)
		if (!strcmp(bench_names[i], name))
			return !!(opt.only & (1u << i));
	return 0;
}

/* The repetitions of the repeated benchmarks, and the current one. */
static int nruns(void)
{
	if (opt.runs > 0)
		return opt.runs;
	return opt.quick ? 2 : 5;
}

static int cur_run;

/* Samples per technique and run: --iterations, else the mode's default. */
static size_t iters(size_t full, size_t quick)
{
	if (opt.iterations > 0)
		return (size_t)opt.iterations;
	return opt.quick ? quick : full;
}

/* ------------------------------------------------------------ helpers */

static void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "sigwake-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void note(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sigwake-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/*
 * Wait for another thread: spin briefly, then yield, so that a partner on
 * the same CPU gets to run.
 */
#define SPIN_UNTIL(cond)						\
	do {								\
		unsigned int spin_n_ = 0;				\
		while (!(cond)) {					\
			if (++spin_n_ > 100)				\
				sched_yield();				\
			else						\
				cpu_relax();				\
		}							\
	} while (0)

#define LOAD(p)		__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define STORE_SC(p, v)	__atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define INC(p)		__atomic_add_fetch((p), 1, __ATOMIC_ACQ_REL)

static pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static long futex_wait(uint32_t *uaddr, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, uaddr, FUTEX_WAIT_PRIVATE, val, ts, NULL, 0);
}

static long futex_wake(uint32_t *uaddr, int nr)
{
	return syscall(SYS_futex, uaddr, FUTEX_WAKE_PRIVATE, nr, NULL, NULL, 0);
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static pthread_t spawn(void *(*fn)(void *), void *arg, size_t stack)
{
	pthread_attr_t attr;
	pthread_t th;
	int err;

	pthread_attr_init(&attr);
	if (stack)
		pthread_attr_setstacksize(&attr, stack);
	err = pthread_create(&th, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	if (err)
		die("pthread_create: %s", strerror(err));
	return th;
}

/*
 * Two CPUs the process may run on, for benchmarks whose techniques each
 * have a thread of their own: pinned, every technique's wakeup crosses
 * between the same two CPUs, instead of whatever the scheduler happened to
 * pick for each.  One CPU only: both are that one.
 */
static void two_cpus(int *a, int *b)
{
	cpu_set_t set;
	int cpu, n = 0;

	*a = *b = 0;
	if (sched_getaffinity(0, sizeof(set), &set))
		return;
	for (cpu = 0; cpu < CPU_SETSIZE && n < 2; cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		if (n++ == 0)
			*a = *b = cpu;
		else
			*b = cpu;
	}
}

static void pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void install(int sig, void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL))
		die("sigaction(%d): %s", sig, strerror(errno));
}

/*
 * The scheduler state of a thread, from /proc: 'S' once it really sleeps
 * (a wait that only published "waiting" but has not called schedule() yet
 * still shows 'R').  The fd stays open; pread at 0 regenerates the text.
 */
static int proc_stat_open(pid_t tid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	return fd;
}

static char proc_state(int fd)
{
	char buf[512], *p;
	ssize_t n;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return '?';
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] && p[2] ? p[2] : '?';
}

static void wait_sleeping(int fd)
{
	while (proc_state(fd) != 'S')
		sched_yield();
}

static void wait_tid_sleeping(pid_t tid)
{
	int fd = proc_stat_open(tid);

	wait_sleeping(fd);
	close(fd);
}

/* ------------------------------------------------------------ results */

/*
 * One measured line.  @bench, @group and @key place it in the JSON
 * (benchmarks.<bench>[.<group>].<key>); @label is the table's text.
 */
struct row {
	const char *bench;
	const char *group;
	char key[32];
	char label[64];
	struct stats st;	/* over the samples of every run */
	double *all;		/* those samples, until finish_rows() */
	size_t nall;
	double run_med[MAX_RUNS];	/* the median of each run */
	int nrun;
	char note[96];
	int skipped;
};

static struct row rows[96];
static size_t nrows;

static struct row *add_row(const char *bench, const char *group,
			   const char *key, const char *label)
{
	struct row *r;

	if (nrows == ARRAY_SIZE(rows))
		die("too many result rows");
	r = &rows[nrows++];
	memset(r, 0, sizeof(*r));
	r->bench = bench;
	r->group = group;
	snprintf(r->key, sizeof(r->key), "%s", key);
	snprintf(r->label, sizeof(r->label), "%s", label);
	return r;
}

static struct row *lookup_row(const char *bench, const char *group,
			       const char *key)
{
	size_t i;

	for (i = 0; i < nrows; i++) {
		struct row *r = &rows[i];

		if (strcmp(r->bench, bench) || strcmp(r->key, key))
			continue;
		if (!group != !r->group || (group && strcmp(group, r->group)))
			continue;
		return r;
	}
	return NULL;
}

/* A row with samples, for the ratios. */
static const struct row *find_row(const char *bench, const char *group,
				  const char *key)
{
	const struct row *r = lookup_row(bench, group, key);

	return r && !r->skipped && r->nrun ? r : NULL;
}

/* The row of this technique: the one of an earlier run, or a new one. */
static struct row *run_row(const char *bench, const char *group,
			   const char *key, const char *label)
{
	struct row *r = lookup_row(bench, group, key);

	return r ? r : add_row(bench, group, key, label);
}

/* Add one run's @n samples to @r; @v is sorted. */
static void row_samples(struct row *r, double *v, size_t n)
{
	double *all;

	if (r->nrun == MAX_RUNS)
		die("too many runs");
	r->run_med[r->nrun++] = summarize(v, n).median;
	all = realloc(r->all, (r->nall + n + 1) * sizeof(double));
	if (!all)
		die("out of memory");
	memcpy(all + r->nall, v, n * sizeof(double));
	r->all = all;
	r->nall += n;
}

/* The statistics over every run's samples. */
static void finish_rows(void)
{
	size_t i;

	for (i = 0; i < nrows; i++) {
		struct row *r = &rows[i];

		if (r->all)
			r->st = summarize(r->all, r->nall);
		free(r->all);
		r->all = NULL;
	}
}

/*
 * A paired ratio: per run, the median of one row over the median of
 * another (or the other way round, for an aim "at least"), summarised as
 * the geometric mean of the runs' ratios with a 95% interval (stats.h);
 * compared with @limit unless it is a control.
 */
struct aim {
	char name[64];
	char expr[96];
	double limit;
	int at_most;		/* value <= limit, else value >= limit */
	int control;		/* a control's ratio: no aim, for reading */
	int have;
	struct ratio_ci ci;
	double run_ratio[MAX_RUNS];
	char note[160];
};

static struct aim aims[48];
static size_t naims;

static struct aim *add_aim(const char *name, double limit, int at_most)
{
	struct aim *a;

	if (naims == ARRAY_SIZE(aims))
		die("too many ratios");
	a = &aims[naims++];
	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->limit = limit;
	a->at_most = at_most;
	return a;
}

static int aim_met(const struct aim *a)
{
	return a->at_most ? a->ci.value <= a->limit : a->ci.value >= a->limit;
}

/*
 * Where the aim's limit lies against the interval: "met" (the whole
 * interval meets the aim), "missed" (none of it does), "unclear" (the
 * interval straddles the limit), or, with one run, the value's side.
 */
static const char *aim_verdict(const struct aim *a)
{
	double good, bad;

	if (isnan(a->ci.lo))
		return aim_met(a) ? "met (1 run)" : "missed (1 run)";
	good = a->at_most ? a->ci.hi : a->ci.lo;
	bad = a->at_most ? a->ci.lo : a->ci.hi;
	if (a->at_most ? good <= a->limit : good >= a->limit)
		return "met";
	if (a->at_most ? bad > a->limit : bad < a->limit)
		return "missed";
	return "unclear";
}

/* Lost-event counts, per technique. */
struct lost_res {
	const char *key;
	const char *label;
	size_t rounds, lost, late, woken, early;
	int ran;
};

static struct lost_res lost_res[2] = {
	{ .key = "naive_futex",
	  .label = "naive: check flag, then futex wait (no value check)" },
	{ .key = "sigwake", .label = "sigwake POST / WAIT" },
};
static uint64_t lost_delay_max_ns;

/* Kernel memory per registration, per thread count. */
struct mem_res {
	int n;
	long slab_kb, sunreclaim_kb, vmpin_kb;
	long slabinfo_bytes;	/* -1: /proc/slabinfo not readable */
};

static struct mem_res mem_res[8];
static size_t nmem;

/* ------------------------------------------------------------ environment */

static struct {
	struct utsname uts;
	char virt[64];
	char cpu_model[128];
	char clocksource[32];
	char runner[64];
	char runner_kernel[64];
	long cpus;
	double clock_ns;	/* cost of one now_ns() */
	char sigwake[128];	/* "available" or why not */
	char preempt[128];
	char post_cpus[64];
	long max_threads_per_domain;
	char date[32];
	char host_load[32];	/* the host's load average before the VM */
	char host_cpus[16];
	char trace_sigwake[16];	/* sigwake's trace events: off, on, unknown */
	char trace_enabled[512];	/* every enabled event, "instance:sys:event" */
} env;

/* Where the threads of each benchmark ran, for the JSON and the header. */
static struct {
	const char *bench;
	char text[96];
} placement[12];
static size_t nplacement;

static void set_placement(const char *bench, const char *fmt, ...)
{
	va_list ap;
	size_t i;

	for (i = 0; i < nplacement; i++)
		if (!strcmp(placement[i].bench, bench))
			break;
	if (i == ARRAY_SIZE(placement))
		return;
	if (i == nplacement)
		placement[nplacement++].bench = bench;
	va_start(ap, fmt);
	vsnprintf(placement[i].text, sizeof(placement[i].text), fmt, ap);
	va_end(ap);
}

/* Wall time of each phase, summed over the runs. */
static struct {
	const char *name;
	double seconds;
} phase[8];
static size_t nphase;

static void add_phase(const char *name, uint64_t t0)
{
	double sec = (double)(now_ns() - t0) / 1e9;
	size_t i;

	for (i = 0; i < nphase; i++)
		if (!strcmp(phase[i].name, name))
			break;
	if (i == ARRAY_SIZE(phase))
		return;
	if (i == nphase)
		phase[nphase++].name = name;
	phase[i].seconds += sec;
}

static void read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	buf[0] = 0;
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

/*
 * Append the enabled events of one tracefs instance (its set_event file)
 * to env.trace_enabled, and note whether one of them is sigwake's.
 */
static void trace_instance(const char *dir, const char *name, int *sigwake)
{
	char path[512], line[256];
	size_t len;
	FILE *f;

	snprintf(path, sizeof(path), "%s/set_event", dir);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (!line[0])
			continue;
		if (!strncmp(line, "sigwake:", 8))
			*sigwake = 1;
		len = strlen(env.trace_enabled);
		snprintf(env.trace_enabled + len,
			 sizeof(env.trace_enabled) - len, "%s%s:%s",
			 len ? " " : "", name, line);
	}
	fclose(f);
}

/*
 * Whether sigwake's trace events are on: a live tracepoint in WAIT, WAKE
 * and POST costs a call per event that futex does not pay.  tracefs shows
 * the events that trace instances enable (not perf's or BPF's).
 */
static void detect_trace(void)
{
	static const char *const roots[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	const char *root = NULL;
	char path[512];
	struct dirent *d;
	int sigwake = 0;
	size_t i;
	DIR *dir;

	for (i = 0; i < ARRAY_SIZE(roots) && !root; i++) {
		snprintf(path, sizeof(path), "%s/set_event", roots[i]);
		if (!access(path, R_OK))
			root = roots[i];
	}
	if (!root) {
		snprintf(env.trace_sigwake, sizeof(env.trace_sigwake),
			 "unknown");
		return;
	}
	trace_instance(root, "top", &sigwake);
	snprintf(path, sizeof(path), "%s/instances", root);
	dir = opendir(path);
	while (dir && (d = readdir(dir))) {
		char sub[512];

		if (d->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/instances/%s", root, d->d_name);
		trace_instance(sub, d->d_name, &sigwake);
	}
	if (dir)
		closedir(dir);
	snprintf(env.trace_sigwake, sizeof(env.trace_sigwake), "%s",
		 sigwake ? "on" : "off");
}

static void detect_env(void)
{
	char line[1024], *p;
	int hypervisor = 0;
	double v[64];
	const char *s;
	FILE *f;
	size_t i;
	time_t t;

	uname(&env.uts);
	env.cpus = sysconf(_SC_NPROCESSORS_ONLN);
	f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (!env.cpu_model[0] && !strncmp(line, "model name", 10) &&
		    (p = strchr(line, ':'))) {
			p += 1 + (p[1] == ' ');
			p[strcspn(p, "\n")] = 0;
			snprintf(env.cpu_model, sizeof(env.cpu_model), "%s", p);
		}
		if (!strncmp(line, "flags", 5) && strstr(line, " hypervisor"))
			hypervisor = 1;
	}
	if (f)
		fclose(f);
	if (strstr(env.cpu_model, "TCG"))
		snprintf(env.virt, sizeof(env.virt), "qemu-tcg");
	else if (hypervisor)
		snprintf(env.virt, sizeof(env.virt), "virtualized");
	else
		snprintf(env.virt, sizeof(env.virt), "native");
	read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource",
		  env.clocksource, sizeof(env.clocksource));
	s = getenv("SIGWAKE_VM");
	snprintf(env.runner, sizeof(env.runner), "%s", s ? s : "");
	s = getenv("SIGWAKE_KERNEL");
	snprintf(env.runner_kernel, sizeof(env.runner_kernel), "%s", s ? s : "");
	s = getenv("SIGWAKE_HOST_LOAD");
	snprintf(env.host_load, sizeof(env.host_load), "%s", s ? s : "");
	s = getenv("SIGWAKE_HOST_CPUS");
	snprintf(env.host_cpus, sizeof(env.host_cpus), "%s", s ? s : "");
	read_line("/sys/module/sigwake/parameters/max_threads_per_domain",
		  line, sizeof(line));
	env.max_threads_per_domain = line[0] ? atol(line) : -1;

	for (i = 0; i < ARRAY_SIZE(v); i++) {
		uint64_t t0 = now_ns(), t1;
		int k;

		for (k = 0; k < 16; k++)
			t1 = now_ns();
		v[i] = (double)(t1 - t0) / 16;
	}
	env.clock_ns = summarize(v, ARRAY_SIZE(v)).median;

	t = time(NULL);
	strftime(env.date, sizeof(env.date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
}

/* ------------------------------------------------------------ sigwake */

static int sw_fd = -1;
static struct sigwake_self *main_self;

static int sw_ok(void)
{
	return sw_fd >= 0;
}

static struct sigwake_self *sw_register(int kick_signo)
{
	struct sigwake_self *self;
	int r = sigwake_register(sw_fd, kick_signo, NULL, &self);

	if (r < 0)
		die("sigwake_register: %s", strerror(-r));
	return self;
}

/* Forget stale kicks and signals after a WAIT that did not end in a wake. */
static void sw_absorb(struct sigwake_self *self, int reason)
{
	if (reason == SIGWAKE_REASON_KICK)
		sigwake_take_flags(self->block);
	else if (reason == SIGWAKE_REASON_SIGNAL)
		sigwake_take_pending(self->block);
}

/*
 * The kick handler: the time it ran and a TLS flag, as a VMM's vCPU thread
 * sets kvm_run->immediate_exit through TLS.  Shared by sigwake's kick signal
 * and the pthread_kill baseline, so both pay for the same handler.
 */
static __thread volatile sig_atomic_t tls_kicked;
static uint64_t kick_handler_ns;

static void kick_handler(int sig)
{
	(void)sig;
	STORE(&kick_handler_ns, now_ns());
	tls_kicked = 1;
}

static void nop_handler(int sig)
{
	(void)sig;
}

static unsigned long preempt_fired;

static void preempt_handler(int sig)
{
	(void)sig;
	__atomic_add_fetch(&preempt_fired, 1, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------ series */

/*
 * The samples of one technique.  The techniques of a benchmark take turns
 * iteration by iteration, on the same threads where they can, so that what
 * disturbs the machine (under TCG on a busy host, a great deal) disturbs
 * each of them alike.
 */
struct series {
	const char *key;
	const char *label;
	int sigwake;		/* needs the module */
	double *v;
	size_t n;
};

static void series_alloc(struct series *s, size_t ns, size_t cap)
{
	size_t i;

	for (i = 0; i < ns; i++) {
		s[i].v = calloc(cap + 1, sizeof(double));
		if (!s[i].v)
			die("out of memory");
		s[i].n = 0;
	}
}

/* One run's samples of each technique into the rows of @bench[.@group]. */
static void series_rows(const char *bench, const char *group,
			struct series *s, size_t ns)
{
	size_t i;

	for (i = 0; i < ns; i++) {
		struct row *r = run_row(bench, group, s[i].key, s[i].label);

		if (s[i].sigwake && !sw_ok()) {
			r->skipped = 1;
			snprintf(r->note, sizeof(r->note), "sigwake unavailable");
		} else {
			row_samples(r, s[i].v, s[i].n);
		}
		free(s[i].v);
		s[i].v = NULL;
	}
}

/* The techniques that can run: all, or all but sigwake's. */
static size_t series_active(const struct series *s, size_t ns, int *act)
{
	size_t i, n = 0;

	for (i = 0; i < ns; i++)
		if (!s[i].sigwake || sw_ok())
			act[n++] = (int)i;
	return n;
}

/* Warm-up rounds of each benchmark: not recorded. */
static size_t warmup(size_t n)
{
	size_t w = n / 10 + 2;

	return w > 50 ? 50 : w;
}

/*
 * Hand-offs that are not measured sleep rather than spin: a spinning vCPU
 * takes the host CPU that the measured thread needs.
 */
static void await_change(uint32_t *w, uint32_t old)
{
	int spin;

	for (spin = 0; spin < 200; spin++) {
		if (LOAD(w) != old)
			return;
		cpu_relax();
	}
	while (LOAD(w) == old)
		futex_wait(w, old, NULL);
}

static void publish(uint32_t *w, uint32_t v)
{
	STORE_SC(w, v);
	futex_wake(w, INT_MAX);
}

/* ------------------------------------------------------------ 1. roundtrip */

enum { RT_SIGWAKE, RT_HANDOFF, RT_FUTEX, RT_EVENTFD, RT_PIPE, RT_N };

struct pingpong {
	/* Per mechanism and side, each on its own cache line. */
	uint32_t word[RT_N][2][16] __attribute__((aligned(64)));
	int wq[RT_N][2];	/* RT_SIGWAKE's and RT_HANDOFF's */
	int efd[2];
	int pfd[2][2];
	int act[RT_N];
	size_t nact;
	size_t total;		/* round trips, all mechanisms together */
	int echo_cpu;
};

#define PP_WORD(pp, k, s)	(&(pp)->word[k][s][0])

/* Hand the turn to side @s by mechanism @k; its word becomes @v. */
static void pp_signal(struct pingpong *pp, int k, int s, uint32_t v)
{
	uint64_t one = 1;
	char c = 'x';

	switch (k) {
	case RT_SIGWAKE:
	case RT_HANDOFF:
		STORE_SC(PP_WORD(pp, k, s), v);
		sigwake_wake(sw_fd, pp->wq[k][s], 1);
		break;
	case RT_FUTEX:
		STORE_SC(PP_WORD(pp, k, s), v);
		futex_wake(PP_WORD(pp, k, s), 1);
		break;
	case RT_EVENTFD:
		if (write(pp->efd[s], &one, sizeof(one)) != sizeof(one))
			die("eventfd write: %s", strerror(errno));
		break;
	case RT_PIPE:
		if (write(pp->pfd[s][1], &c, 1) != 1)
			die("pipe write: %s", strerror(errno));
		break;
	}
}

/* Wait for side @s's turn by mechanism @k: its word moves from @old. */
static void pp_wait(struct pingpong *pp, int k, int s, uint32_t old,
		    struct sigwake_self *self)
{
	uint64_t val;
	char c;
	int r;

	switch (k) {
	case RT_SIGWAKE:
	case RT_HANDOFF:
		while (LOAD(PP_WORD(pp, k, s)) == old) {
			r = sigwake_wait(sw_fd, pp->wq[k][s], old,
					 SIGWAKE_TIMEOUT_NONE, 0);
			if (r < 0 && r != -EAGAIN && r != -EINTR)
				die("sigwake_wait: %s", strerror(-r));
			sw_absorb(self, r);
		}
		break;
	case RT_FUTEX:
		while (LOAD(PP_WORD(pp, k, s)) == old)
			futex_wait(PP_WORD(pp, k, s), old, NULL);
		break;
	case RT_EVENTFD:
		while (read(pp->efd[s], &val, sizeof(val)) != sizeof(val))
			if (errno != EINTR)
				die("eventfd read: %s", strerror(errno));
		break;
	case RT_PIPE:
		while (read(pp->pfd[s][0], &c, 1) != 1)
			if (errno != EINTR)
				die("pipe read: %s", strerror(errno));
		break;
	}
}

/*
 * The hand-off: the turn to side !@s (its word becomes @v) and the wait
 * for side @s's turn (its word moves from @old) in one call, where the
 * other techniques make two.
 */
static void pp_handoff(struct pingpong *pp, int s, uint32_t v, uint32_t old,
		       struct sigwake_self *self)
{
	int r;

	STORE_SC(PP_WORD(pp, RT_HANDOFF, !s), v);
	r = sigwake_handoff(sw_fd, pp->wq[RT_HANDOFF][!s], 1,
			    pp->wq[RT_HANDOFF][s], old, SIGWAKE_TIMEOUT_NONE,
			    0, NULL);
	if (r < 0 && r != -EAGAIN && r != -EINTR)
		die("sigwake_handoff: %s", strerror(-r));
	sw_absorb(self, r);
	/* EINTR: the wake is done; what is left is a plain wait. */
	pp_wait(pp, RT_HANDOFF, s, old, self);
}

/*
 * The techniques take turns block by block, not round trip by round trip:
 * at the first round trip of a block the echo thread is still on its way
 * out of the previous technique's signal call, and whichever technique
 * comes next may find it not yet asleep.  That round trip is not recorded;
 * the others measure each technique's own steady ping-pong.
 */
#define RT_BLOCK	50

static void *pp_echo(void *arg)
{
	struct pingpong *pp = arg;
	struct sigwake_self *self;
	uint32_t cnt[RT_N] = { 0 };
	int waited = 0;
	size_t i;

	pin_self(pp->echo_cpu);
	self = sw_ok() ? sw_register(sig_kick) : NULL;
	for (i = 0; i < pp->total; i++) {
		int k = pp->act[i / RT_BLOCK % pp->nact];

		cnt[k]++;
		if (!waited)
			pp_wait(pp, k, 1, cnt[k] - 1, self);
		/*
		 * A hand-off gives the turn back and waits for the next one,
		 * while the next is a hand-off too (not at a block's end).
		 */
		waited = k == RT_HANDOFF && i + 1 < pp->total &&
			 (i + 1) % RT_BLOCK;
		if (waited)
			pp_handoff(pp, 1, cnt[k], cnt[k], self);
		else
			pp_signal(pp, k, 0, cnt[k]);
	}
	if (self)
		sigwake_unregister(self);
	return NULL;
}

/*
 * One run of the ping-pong with both threads pinned: @cross, the caller on
 * one CPU and the echo thread on another, else both on one CPU (every wake
 * then switches to the woken thread when the waker sleeps).
 */
static void roundtrip_pinned(int cross)
{
	struct series s[RT_N] = {
		[RT_SIGWAKE] = { "sigwake", "sigwake WAIT/WAKE (word-bound queue)",
				 1 },
		[RT_HANDOFF] = { "sigwake_handoff",
				 "sigwake hand-off (WAIT_WAKE_FIRST)", 1 },
		[RT_FUTEX] = { "futex", "futex WAIT/WAKE", 0 },
		[RT_EVENTFD] = { "eventfd", "eventfd read/write", 0 },
		[RT_PIPE] = { "pipe", "pipe read/write", 0 },
	};
	const char *group = cross ? "cross_cpu" : "same_cpu";
	size_t n = iters(2000, 150), w = warmup(n), i, per;
	uint32_t cnt[RT_N] = { 0 };
	size_t skip[RT_N];
	struct pingpong *pp;
	int side, cpu_a, cpu_b;
	cpu_set_t saved;
	pthread_t th;

	two_cpus(&cpu_a, &cpu_b);
	if (cross && cpu_a == cpu_b) {
		for (i = 0; i < RT_N; i++) {
			struct row *r = run_row("wake_roundtrip", group,
						s[i].key, s[i].label);

			r->skipped = 1;
			snprintf(r->note, sizeof(r->note), "only one CPU");
		}
		return;
	}
	if (!cross)
		cpu_b = cpu_a;
	set_placement(cross ? "wake_roundtrip.cross_cpu" :
			      "wake_roundtrip.same_cpu",
		      "caller on CPU %d, echo thread on CPU %d", cpu_a, cpu_b);
	pp = aligned_alloc(64, sizeof(*pp));
	if (!pp)
		die("out of memory");
	memset(pp, 0, sizeof(*pp));
	pp->echo_cpu = cpu_b;
	sched_getaffinity(0, sizeof(saved), &saved);
	pin_self(cpu_a);
	pp->nact = series_active(s, RT_N, pp->act);
	for (i = 0; i < RT_N; i++)
		skip[i] = w;
	/* Per technique: whole blocks, n + w of their round trips recorded. */
	per = (w + n + RT_BLOCK - 2) / (RT_BLOCK - 1) * RT_BLOCK;
	pp->total = per * pp->nact;
	series_alloc(s, RT_N, n);
	for (side = 0; side < 2; side++) {
		for (i = 0; i < RT_N && sw_ok(); i++) {
			if (i != RT_SIGWAKE && i != RT_HANDOFF)
				continue;
			pp->wq[i][side] = sigwake_wq_create(sw_fd,
					PP_WORD(pp, i, side));
			if (pp->wq[i][side] < 0)
				die("sigwake_wq_create: %s",
				    strerror(-pp->wq[i][side]));
		}
		pp->efd[side] = eventfd(0, EFD_CLOEXEC);
		if (pp->efd[side] < 0 || pipe2(pp->pfd[side], O_CLOEXEC))
			die("eventfd/pipe: %s", strerror(errno));
	}

	th = spawn(pp_echo, pp, 0);
	for (i = 0; i < pp->total; i++) {
		int k = pp->act[i / RT_BLOCK % pp->nact];
		uint64_t t0 = now_ns(), t1;

		cnt[k]++;
		if (k == RT_HANDOFF) {
			pp_handoff(pp, 0, cnt[k], cnt[k] - 1, main_self);
		} else {
			pp_signal(pp, k, 1, cnt[k]);
			pp_wait(pp, k, 0, cnt[k] - 1, main_self);
		}
		t1 = now_ns();
		if (i % RT_BLOCK == 0)
			continue;
		if (skip[k]) {
			skip[k]--;
			continue;
		}
		if (s[k].n < n)
			s[k].v[s[k].n++] = (double)(t1 - t0);
	}
	pthread_join(th, NULL);

	for (side = 0; side < 2; side++) {
		if (sw_ok()) {
			sigwake_wq_destroy(sw_fd, pp->wq[RT_SIGWAKE][side]);
			sigwake_wq_destroy(sw_fd, pp->wq[RT_HANDOFF][side]);
		}
		close(pp->efd[side]);
		close(pp->pfd[side][0]);
		close(pp->pfd[side][1]);
	}
	free(pp);
	sched_setaffinity(0, sizeof(saved), &saved);
	series_rows("wake_roundtrip", group, s, RT_N);
}

static void bench_roundtrip(void)
{
	/* Alternating which goes first, run by run. */
	roundtrip_pinned(cur_run & 1);
	roundtrip_pinned(!(cur_run & 1));
}

/* ------------------------------------------------------------ 2. post */

enum { PW_SIGWAKE, PW_LITEBOX, PW_SIGWAIT, PW_N };

enum { LB_RUNNING_IN_HOST, LB_WAITING, LB_WOKEN };

/* LiteBox's per-thread wait state, reached from the handler through TLS. */
struct lb_thread {
	uint32_t state;
	uint64_t pending;
};

static __thread struct lb_thread *tls_lb;

static void litebox_handler(int sig)
{
	struct lb_thread *lb = tls_lb;
	uint32_t expect = LB_WAITING;

	if (!lb)
		return;
	__atomic_or_fetch(&lb->pending, 1ull << (sig - 1), __ATOMIC_SEQ_CST);
	if (__atomic_compare_exchange_n(&lb->state, &expect, LB_WOKEN, 0,
					__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		futex_wake(&lb->state, 1);
}

/* One waiting target per technique. */
struct postwait {
	int kind;
	int cpu;
	pid_t tid;
	__u32 handle;
	int statfd;
	pthread_t th;
	uint32_t ready;		/* the target is set up */
	uint32_t done;		/* events the target has run after */
	uint32_t stop;
	uint64_t t_run;		/* when the target ran, for the last event */
};

static void *pw_target(void *arg)
{
	struct postwait *pw = arg;
	struct sigwake_self *self = NULL;
	struct lb_thread lb = { 0 };
	sigset_t set;
	siginfo_t si;
	int r;

	pw->tid = gettid_();
	pin_self(pw->cpu);
	switch (pw->kind) {
	case PW_SIGWAKE:
		self = sw_register(sig_kick);
		pw->handle = self->handle;
		break;
	case PW_LITEBOX:
		tls_lb = &lb;
		break;
	case PW_SIGWAIT:
		sigemptyset(&set);
		sigaddset(&set, sig_sigwait);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		break;
	}
	publish(&pw->ready, 1);

	for (;;) {
		uint64_t t;

		switch (pw->kind) {
		case PW_SIGWAKE:
			r = sigwake_wait(sw_fd, SIGWAKE_NO_WQ, 0,
					 SIGWAKE_TIMEOUT_NONE, 0);
			t = now_ns();
			if (r < 0 && r != -EINTR)
				die("sigwake_wait: %s", strerror(-r));
			sigwake_take_flags(self->block);
			if (r != SIGWAKE_REASON_SIGNAL)
				continue;
			sigwake_take_pending(self->block);
			break;
		case PW_LITEBOX:
			STORE_SC(&lb.state, LB_WAITING);
			if (!LOAD(&lb.pending))
				while (LOAD(&lb.state) == LB_WAITING)
					futex_wait(&lb.state, LB_WAITING, NULL);
			t = now_ns();
			STORE(&lb.state, LB_RUNNING_IN_HOST);
			if (!__atomic_exchange_n(&lb.pending, 0,
						 __ATOMIC_ACQ_REL))
				continue;
			break;
		default: {
			struct timespec ts = { .tv_sec = 3600 };

			r = sigtimedwait(&set, &si, &ts);
			t = now_ns();
			if (r != sig_sigwait)
				continue;
			break;
		}
		}
		if (LOAD(&pw->stop))
			break;
		STORE(&pw->t_run, t);
		publish(&pw->done, LOAD(&pw->done) + 1);
	}
	tls_lb = NULL;
	if (self)
		sigwake_unregister(self);
	return NULL;
}

static void pw_send(const struct postwait *pw, pid_t pid)
{
	int r;

	switch (pw->kind) {
	case PW_SIGWAKE:
		r = sigwake_post(sw_fd, pw->handle, GSIG_POST, NULL);
		if (r < 0)
			die("sigwake_post: %s", strerror(-r));
		break;
	case PW_LITEBOX:
		syscall(SYS_tgkill, pid, pw->tid, sig_litebox);
		break;
	default:
		syscall(SYS_tgkill, pid, pw->tid, sig_sigwait);
		break;
	}
}

static void bench_post(void)
{
	struct series s[PW_N] = {
		[PW_SIGWAKE] = { "sigwake_post",
				 "sigwake POST to a WAITing thread", 1 },
		[PW_LITEBOX] = { "litebox",
				 "LiteBox: tgkill, handler CAS + futex wake", 0 },
		[PW_SIGWAIT] = { "tgkill_sigtimedwait", "tgkill + sigtimedwait",
				 0 },
	};
	size_t n = iters(400, 50), w = warmup(n), nact, i;
	struct postwait pw[PW_N];
	pid_t pid = getpid();
	int act[PW_N], cpu_sender, cpu_target;
	cpu_set_t saved;

	nact = series_active(s, PW_N, act);
	series_alloc(s, PW_N, n);
	memset(pw, 0, sizeof(pw));
	two_cpus(&cpu_sender, &cpu_target);
	snprintf(env.post_cpus, sizeof(env.post_cpus),
		 "sender on CPU %d, targets on CPU %d", cpu_sender, cpu_target);
	set_placement("post_to_waiter", "%s", env.post_cpus);
	sched_getaffinity(0, sizeof(saved), &saved);
	pin_self(cpu_sender);
	for (i = 0; i < nact; i++) {
		struct postwait *p = &pw[act[i]];

		p->kind = act[i];
		p->cpu = cpu_target;
		p->th = spawn(pw_target, p, 0);
		await_change(&p->ready, 0);
		p->statfd = proc_stat_open(p->tid);
	}
	for (i = 0; i < (w + n) * nact; i++) {
		struct postwait *p = &pw[act[i % nact]];
		uint32_t done;
		uint64_t t0;

		/* The target really sleeps: not just published "waiting". */
		wait_sleeping(p->statfd);
		done = LOAD(&p->done);
		t0 = now_ns();
		pw_send(p, pid);
		await_change(&p->done, done);
		if (i >= w * nact)
			s[p->kind].v[s[p->kind].n++] =
				(double)(LOAD(&p->t_run) - t0);
	}
	for (i = 0; i < nact; i++) {
		struct postwait *p = &pw[act[i]];

		STORE(&p->stop, 1);
		wait_sleeping(p->statfd);
		pw_send(p, pid);
		pthread_join(p->th, NULL);
		close(p->statfd);
	}
	sched_setaffinity(0, sizeof(saved), &saved);
	series_rows("post_to_waiter", NULL, s, PW_N);
}

/* ------------------------------------------------------------ 3. entry */

#define ENTRY_BATCH_SW		2000
#define ENTRY_BATCH_ITIMER	50

enum { EN_SIGWAKE, EN_ITIMER, EN_N };

static int preempt_armed;
static unsigned long entry_refused;

/* Arm (or, with budget 0, disarm) sigwake's preemption for @self. */
static int sw_preempt(struct sigwake_self *self, uint64_t budget_ns)
{
#ifdef SIGWAKE_IOC_PREEMPT
	struct sigwake_preempt_args pa;

	memset(&pa, 0, sizeof(pa));
	pa.size = sizeof(pa);
	pa.target = self->handle;
	pa.budget_ns = budget_ns;
	if (ioctl(sw_fd, SIGWAKE_IOC_PREEMPT, &pa))
		return -errno;
	return 0;
#else
	(void)self;
	(void)budget_ns;
	return -ENOTTY;
#endif
}

/* One batch of sigwake guest entries and exits: ns per pair. */
static double entry_sigwake(struct sigwake_thread_block *b)
{
	uint64_t t0 = now_ns();
	int k;

	for (k = 0; k < ENTRY_BATCH_SW; k++) {
		if (sigwake_enter_guest(b)) {
			/* Preempted or kicked: deliver, go on. */
			sigwake_take_pending(b);
			sigwake_take_flags(b);
			entry_refused++;
			continue;
		}
		__asm__ __volatile__("" ::: "memory");
		sigwake_leave_guest(b);
	}
	return (double)(now_ns() - t0) / ENTRY_BATCH_SW;
}

static void itimer_set(uint64_t ns)
{
	struct itimerval it;

	it.it_value.tv_sec = (time_t)(ns / NSEC_PER_SEC);
	it.it_value.tv_usec = (suseconds_t)(ns % NSEC_PER_SEC / 1000);
	it.it_interval = it.it_value;
	if (setitimer(ITIMER_VIRTUAL, &it, NULL))
		die("setitimer: %s", strerror(errno));
}

/* One batch of Shadow-style enables and disables: ns per pair. */
static double entry_itimer(const sigset_t *set)
{
	uint64_t t0 = now_ns();
	int k;

	for (k = 0; k < ENTRY_BATCH_ITIMER; k++) {
		/* enable */
		itimer_set(PREEMPT_BUDGET_NS);
		sigprocmask(SIG_UNBLOCK, set, NULL);
		__asm__ __volatile__("" ::: "memory");
		/* disable */
		itimer_set(0);
		sigprocmask(SIG_BLOCK, set, NULL);
	}
	return (double)(now_ns() - t0) / ENTRY_BATCH_ITIMER;
}

struct entry_run {
	struct series *s;
	size_t n, w;
};

/*
 * Both techniques in one thread of its own, taking turns batch by batch.
 * Its own thread, because arming PREEMPT leaves a preempt notifier on the
 * thread until it exits, which would tax every later context switch of the
 * main thread.
 */
static void *entry_thread(void *arg)
{
	struct entry_run *er = arg;
	struct sigwake_self *self = NULL;
	int act[EN_N], r = -ENODEV;
	size_t nact, i;
	sigset_t set;

	nact = series_active(er->s, EN_N, act);
	if (sw_ok()) {
		self = sw_register(sig_kick);
		r = sw_preempt(self, PREEMPT_BUDGET_NS);
	}
	preempt_armed = !r;
	if (!sw_ok())
		snprintf(env.preempt, sizeof(env.preempt),
			 "not measured: sigwake unavailable");
	else if (!r)
		snprintf(env.preempt, sizeof(env.preempt),
			 "armed (SIGWAKE_IOC_PREEMPT, budget %llu ms)",
			 (unsigned long long)(PREEMPT_BUDGET_NS / NSEC_PER_MSEC));
	else
#ifdef SIGWAKE_IOC_PREEMPT
		snprintf(env.preempt, sizeof(env.preempt),
			 "not armed: SIGWAKE_IOC_PREEMPT failed (%s)",
			 strerror(-r));
#else
		snprintf(env.preempt, sizeof(env.preempt),
			 "not armed: no SIGWAKE_IOC_PREEMPT in <linux/sigwake.h>");
#endif

	sigemptyset(&set);
	sigaddset(&set, SIG_PREEMPT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	for (i = 0; i < (er->w + er->n) * nact; i++) {
		int k = act[i % nact];
		double v = k == EN_SIGWAKE ? entry_sigwake(self->block) :
					     entry_itimer(&set);

		if (i >= er->w * nact)
			er->s[k].v[er->s[k].n++] = v;
	}
	if (self) {
		if (preempt_armed)
			sw_preempt(self, 0);
		sigwake_unregister(self);
	}
	return NULL;
}

static void bench_entry(void)
{
	struct series s[EN_N] = {
		[EN_SIGWAKE] = { "sigwake_state_word",
				 "sigwake enter_guest + leave_guest (state word)",
				 1 },
		[EN_ITIMER] = { "shadow_itimer",
				"Shadow: setitimer(VIRTUAL) + sigprocmask, x2",
				0 },
	};
	struct entry_run er = { .s = s, .n = iters(40, 10) };
	struct row *r;

	er.w = warmup(er.n);
	series_alloc(s, EN_N, er.n);
	set_placement("entry_exit", "one thread, unpinned");
	pthread_join(spawn(entry_thread, &er, 0), NULL);
	series_rows("entry_exit", NULL, s, EN_N);
	r = lookup_row("entry_exit", NULL, s[EN_SIGWAKE].key);
	if (sw_ok() && r)
		snprintf(r->note, sizeof(r->note), "%s",
			 preempt_armed ? "PREEMPT armed" : "PREEMPT not armed");
}

/* ------------------------------------------------------------ 4. kick */

enum { KK_SIGWAKE_KICK, KK_SIGWAKE_POST, KK_PTHREAD_KILL, KK_N };

/*
 * One target thread spins in "guest code" (RUNNING_IN_GUEST when sigwake is
 * there) until the kick handler sets its TLS flag; the kicker takes turns
 * between the techniques, which differ only in how the signal is sent.
 */
struct kick {
	struct sigwake_self *self;
	uint32_t ready;		/* round the target is spinning in */
	uint32_t done;		/* rounds the target came out of */
	uint32_t stop;
};

static void *kick_target(void *arg)
{
	struct kick *kk = arg;
	struct sigwake_thread_block *b = NULL;
	uint32_t round = 0;

	if (sw_ok()) {
		kk->self = sw_register(sig_kick);
		b = kk->self->block;
	}
	while (!LOAD(&kk->stop)) {
		if (b && sigwake_enter_guest(b)) {
			sigwake_take_pending(b);
			sigwake_take_flags(b);
			continue;
		}
		publish(&kk->ready, ++round);
		/* "Guest code": runs until the kick handler says stop. */
		while (!tls_kicked && !LOAD(&kk->stop))
			cpu_relax();
		if (b) {
			sigwake_leave_guest(b);
			sigwake_take_pending(b);
			sigwake_take_flags(b);
		}
		tls_kicked = 0;
		publish(&kk->done, round);
	}
	if (kk->self)
		sigwake_unregister(kk->self);
	return NULL;
}

static void bench_kick(void)
{
	struct series s[KK_N] = {
		[KK_SIGWAKE_KICK] = { "sigwake_kick",
				      "sigwake KICK, thread in guest", 1 },
		[KK_SIGWAKE_POST] = { "sigwake_post",
				      "sigwake POST, thread in guest", 1 },
		[KK_PTHREAD_KILL] = { "pthread_kill_tls",
				      "pthread_kill + TLS flag", 0 },
	};
	size_t n = iters(400, 50), w = warmup(n), nact, i;
	struct kick kk = { 0 };
	int act[KK_N], r;
	pthread_t th;

	nact = series_active(s, KK_N, act);
	series_alloc(s, KK_N, n);
	set_placement("kick", "kicker and target unpinned");
	th = spawn(kick_target, &kk, 0);
	for (i = 1; i <= (w + n) * nact; i++) {
		int k = act[(i - 1) % nact];
		uint64_t t0;

		await_change(&kk.ready, (uint32_t)i - 1);
		STORE(&kick_handler_ns, 0);
		t0 = now_ns();
		switch (k) {
		case KK_SIGWAKE_KICK:
			r = sigwake_kick(sw_fd, kk.self->handle);
			break;
		case KK_SIGWAKE_POST:
			r = sigwake_post(sw_fd, kk.self->handle, GSIG_POST,
					 NULL);
			break;
		default:
			r = -pthread_kill(th, sig_kick);
			break;
		}
		if (r < 0)
			die("kick: %s", strerror(-r));
		await_change(&kk.done, (uint32_t)i - 1);
		if (i > w * nact)
			s[k].v[s[k].n++] =
				(double)(LOAD(&kick_handler_ns) - t0);
	}
	STORE(&kk.stop, 1);
	pthread_join(th, NULL);
	series_rows("kick", NULL, s, KK_N);
}

/* ------------------------------------------------------------ 5. scaling */

#define SC_STACK	(64 * 1024)

enum { PH_WAIT = 1, PH_FUTEX, PH_HOST, PH_EXIT };

#define NOBODY	UINT32_MAX

static const int sc_counts[] = { 1, 64, 1024, 8192 };

/* The lines of the scaling table, per N. */
enum {
	SL_WAKE_FIFO, SL_WAKE_PROBE, SL_POST_WAITING, SL_POST_WAITING_PROBE,
	SL_FUTEX_WAITING, SL_POST_HOST, SL_POST_HOST_PROBE, SL_TGKILL_HOST,
	SL_N
};

static const struct {
	const char *group;
	const char *label;
} sc_lines[SL_N] = {
	[SL_WAKE_FIFO] = { "wake_fifo", "WAKE oldest of N waiters" },
	[SL_WAKE_PROBE] = { "wake_probe", "WAKE probe's queue, N others" },
	[SL_POST_WAITING] = { "post_waiting", "POST to random 1 of N waiting" },
	[SL_POST_WAITING_PROBE] = { "post_waiting_probe",
				    "POST to waiting probe, N others" },
	[SL_FUTEX_WAITING] = { "control_futex_wake",
			       "control: FUTEX_WAKE random 1 of N" },
	[SL_POST_HOST] = { "post_host", "POST to random 1 of N in host" },
	[SL_POST_HOST_PROBE] = { "post_host_probe",
				 "POST to probe in host, N others" },
	[SL_TGKILL_HOST] = { "control_tgkill",
			     "control: tgkill random 1 of N (blocked)" },
};

/* Samples of one line at one N, gathered over the visits to that N. */
struct sc_acc {
	double *v;
	size_t n;
	unsigned long bad;
};

static struct sc_acc sc_acc[ARRAY_SIZE(sc_counts)][SL_N];

struct sc_worker {
	struct scaling *sc;
	int idx;
	pid_t tid;
	pthread_t th;
	struct sigwake_self *self;
	uint32_t fword;		/* PH_FUTEX: this worker's futex */
} __attribute__((aligned(64)));

/*
 * N workers wait on one queue (or on futexes of their own, or sleep in host
 * code), and one more, the probe, waits alone on a queue of its own: the
 * probe is the same target whatever N, which takes sigwake's own cost apart
 * from the cache and TLB misses, and the remote wakeups, of reaching a
 * different one of N threads on every call.  The control lines do the same
 * to random threads without sigwake.
 */
struct scaling {
	int n;			/* workers; the probe is w[n] */
	int wq;			/* the workers' queue */
	int wq_probe;		/* the probe's queue */
	uint32_t go;		/* futex: workers may register */
	uint32_t phase;		/* the word both queues are bound to */
	uint32_t host_word;	/* futex of the PH_HOST sleep */
	int started, registered, in_futex, in_host, failed, err;
	uint32_t last_woken;	/* index of the worker a wake woke last */
	struct sc_worker *w;
};

static void *sc_worker(void *arg)
{
	struct sc_worker *w = arg;
	struct scaling *sc = w->sc;
	int wq = w->idx == sc->n ? sc->wq_probe : sc->wq;
	uint32_t ph, seen;
	sigset_t set;
	int r;

	/* The tgkill control sends SIGUSR2, which stays pending. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	w->tid = gettid_();
	INC(&sc->started);
	while (!LOAD(&sc->go))
		futex_wait(&sc->go, 0, NULL);
	r = sigwake_register(sw_fd, 0, NULL, &w->self);
	if (r < 0) {
		STORE(&sc->err, -r);
		INC(&sc->failed);
		INC(&sc->registered);
		return NULL;
	}
	INC(&sc->registered);
	while ((ph = LOAD(&sc->phase)) != PH_EXIT) {
		if (ph == PH_WAIT) {
			r = sigwake_wait(sw_fd, (__u32)wq, PH_WAIT,
					 SIGWAKE_TIMEOUT_NONE, 0);
			if (r == SIGWAKE_REASON_WAKE ||
			    r == SIGWAKE_REASON_SIGNAL) {
				sigwake_take_pending(w->self->block);
				publish(&sc->last_woken, (uint32_t)w->idx);
			} else {
				sw_absorb(w->self, r);
			}
			continue;
		}
		if (ph == PH_FUTEX) {
			INC(&sc->in_futex);
			seen = LOAD(&w->fword);
			while (LOAD(&sc->phase) == PH_FUTEX) {
				futex_wait(&w->fword, seen, NULL);
				if (LOAD(&w->fword) == seen)
					continue;
				seen = LOAD(&w->fword);
				publish(&sc->last_woken, (uint32_t)w->idx);
			}
			continue;
		}
		INC(&sc->in_host);
		while (!LOAD(&sc->host_word))
			futex_wait(&sc->host_word, 0, NULL);
		break;
	}
	sigwake_unregister(w->self);
	return NULL;
}

/* /proc/meminfo "Slab:" and "SUnreclaim:", /proc/self/status "VmPin:". */
static long kb_field(const char *path, const char *key)
{
	char line[256];
	size_t len = strlen(key);
	long v = -1;
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len)) {
			v = atol(line + len);
			break;
		}
	if (f)
		fclose(f);
	return v;
}

/* Bytes in active slab objects, from /proc/slabinfo; -1 if unreadable. */
static long slabinfo_bytes(void)
{
	char line[512], name[64];
	long active, total, size, sum = 0;
	FILE *f = fopen("/proc/slabinfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %ld %ld %ld", name, &active, &total,
			   &size) == 4)
			sum += active * size;
	fclose(f);
	return sum;
}

struct memsnap {
	long slab, sunreclaim, vmpin, slabinfo;
};

static struct memsnap memsnap(void)
{
	struct memsnap m;

	/* Let RCU-deferred frees of earlier phases land first. */
	usleep(100000);
	m.slab = kb_field("/proc/meminfo", "Slab:");
	m.sunreclaim = kb_field("/proc/meminfo", "SUnreclaim:");
	m.vmpin = kb_field("/proc/self/status", "VmPin:");
	m.slabinfo = slabinfo_bytes();
	return m;
}

/* Every worker and the probe sleep in WAIT. */
static void sc_all_asleep(struct scaling *sc)
{
	int i;

	for (i = 0; i <= sc->n; i++) {
		SPIN_UNTIL(sigwake_state(sc->w[i].self->block) ==
			   SIGWAKE_WAITING);
		wait_tid_sleeping(sc->w[i].tid);
	}
}

/* The thread that the last call woke is asleep again. */
static void sc_rewaited(struct scaling *sc, int in_sigwake)
{
	uint32_t idx;

	await_change(&sc->last_woken, NOBODY);
	idx = LOAD(&sc->last_woken);
	if (in_sigwake)
		SPIN_UNTIL(sigwake_state(sc->w[idx].self->block) ==
			   SIGWAKE_WAITING);
	wait_tid_sleeping(sc->w[idx].tid);
}

/*
 * Add @samples timed calls (the caller's side) of line @line at count
 * index @ci.  A call that woke a thread waits, untimed, until that thread
 * sleeps again.
 */
static void sc_measure(struct scaling *sc, size_t ci, int line,
		       size_t samples, uint64_t *seed)
{
	struct sc_acc *acc = &sc_acc[ci][line];
	size_t w = warmup(samples), i;
	pid_t pid = getpid();

	for (i = 0; i < w + samples; i++) {
		int idx = (int)(xorshift(seed) % (uint64_t)sc->n);
		int r, expect = SIGWAKE_POST_WOKEN, wakes = 1;
		struct sc_worker *t = &sc->w[idx];
		uint64_t t0;

		STORE_SC(&sc->last_woken, NOBODY);
		t0 = now_ns();
		switch (line) {
		case SL_WAKE_FIFO:
			r = sigwake_wake(sw_fd, (__u32)sc->wq, 1);
			expect = 1;
			break;
		case SL_WAKE_PROBE:
			r = sigwake_wake(sw_fd, (__u32)sc->wq_probe, 1);
			expect = 1;
			break;
		case SL_POST_WAITING:
			r = sigwake_post(sw_fd, t->self->handle, GSIG_POST,
					 NULL);
			break;
		case SL_POST_WAITING_PROBE:
			r = sigwake_post(sw_fd, sc->w[sc->n].self->handle,
					 GSIG_POST, NULL);
			break;
		case SL_FUTEX_WAITING:
			STORE_SC(&t->fword, t->fword + 1);
			r = (int)futex_wake(&t->fword, 1);
			expect = 1;
			break;
		case SL_POST_HOST:
			r = sigwake_post(sw_fd, t->self->handle, GSIG_POST,
					 NULL);
			expect = SIGWAKE_POST_RECORDED;
			wakes = 0;
			break;
		case SL_POST_HOST_PROBE:
			r = sigwake_post(sw_fd, sc->w[sc->n].self->handle,
					 GSIG_POST, NULL);
			expect = SIGWAKE_POST_RECORDED;
			wakes = 0;
			break;
		default:
			r = (int)syscall(SYS_tgkill, pid, t->tid, SIGUSR2);
			expect = 0;
			wakes = 0;
			break;
		}
		if (i >= w)
			acc->v[acc->n++] = (double)(now_ns() - t0);
		if (r != expect)
			acc->bad++;
		else if (wakes)
			sc_rewaited(sc, line != SL_FUTEX_WAITING);
	}
}

/* Wake every worker out of the futex phase, into @next. */
static void sc_leave_futex(struct scaling *sc, uint32_t next)
{
	int k;

	STORE_SC(&sc->phase, next);
	for (k = 0; k <= sc->n; k++) {
		STORE_SC(&sc->w[k].fword, sc->w[k].fword + 1);
		futex_wake(&sc->w[k].fword, 1);
	}
}

/* One visit to N = sc_counts[@ci]: every line, @samples samples each. */
static void sc_run(size_t ci, size_t samples, int measure_memory, int cpu)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)ci ^
			((uint64_t)samples << 32);
	int n = sc_counts[ci], k, all, line;
	struct memsnap m0, m1;
	struct scaling *sc;
	cpu_set_t cpus;

	sc = calloc(1, sizeof(*sc));
	if (!sc)
		die("out of memory");
	sc->n = n;
	CPU_ZERO(&cpus);
	CPU_SET(cpu, &cpus);
	sc->phase = PH_WAIT;
	sc->last_woken = NOBODY;
	sc->wq = sigwake_wq_create(sw_fd, &sc->phase);
	sc->wq_probe = sigwake_wq_create(sw_fd, &sc->phase);
	if (sc->wq < 0 || sc->wq_probe < 0)
		die("sigwake_wq_create: %s",
		    strerror(-(sc->wq < 0 ? sc->wq : sc->wq_probe)));
	sc->w = aligned_alloc(64, ((size_t)n + 1) * sizeof(*sc->w));
	if (!sc->w)
		die("out of memory");
	memset(sc->w, 0, ((size_t)n + 1) * sizeof(*sc->w));

	for (all = 0; all <= n; all++) {
		pthread_attr_t attr;
		int err;

		sc->w[all].sc = sc;
		sc->w[all].idx = all;
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, SC_STACK);
		pthread_attr_setaffinity_np(&attr, sizeof(cpus), &cpus);
		err = pthread_create(&sc->w[all].th, &attr, sc_worker,
				     &sc->w[all]);
		pthread_attr_destroy(&attr);
		if (err) {
			note("scaling: N=%d: thread %d: %s; skipping N=%d", n,
			     all, strerror(err), n);
			goto out;
		}
	}
	SPIN_UNTIL(LOAD(&sc->started) == all);
	for (k = 0; k < all; k++)
		wait_tid_sleeping(sc->w[k].tid);

	/* Kernel memory of the registrations alone: threads exist already. */
	m0 = memsnap();
	STORE(&sc->go, 1);
	futex_wake(&sc->go, INT_MAX);
	SPIN_UNTIL(LOAD(&sc->registered) == all);
	if (sc->failed) {
		note("scaling: N=%d: %d registrations failed (%s); skipping",
		     n, sc->failed, strerror(sc->err));
		goto out;
	}
	sc_all_asleep(sc);
	if (measure_memory) {
		m1 = memsnap();
		mem_res[nmem++] = (struct mem_res){
			.n = all,
			.slab_kb = m1.slab - m0.slab,
			.sunreclaim_kb = m1.sunreclaim - m0.sunreclaim,
			.vmpin_kb = m1.vmpin - m0.vmpin,
			.slabinfo_bytes = m0.slabinfo < 0 ? -1 :
					  m1.slabinfo - m0.slabinfo,
		};
	}

	for (line = SL_WAKE_FIFO; line <= SL_POST_WAITING_PROBE; line++)
		sc_measure(sc, ci, line, samples, &seed);

	/* The futex control: every worker sleeps on a futex of its own. */
	STORE_SC(&sc->phase, PH_FUTEX);
	sigwake_wake(sw_fd, (__u32)sc->wq, INT_MAX);
	sigwake_wake(sw_fd, (__u32)sc->wq_probe, INT_MAX);
	SPIN_UNTIL(LOAD(&sc->in_futex) == all);
	for (k = 0; k < all; k++)
		wait_tid_sleeping(sc->w[k].tid);
	sc_measure(sc, ci, SL_FUTEX_WAITING, samples, &seed);

	/* Everybody to host code: posts are recorded, nobody wakes. */
	sc_leave_futex(sc, PH_HOST);
	SPIN_UNTIL(LOAD(&sc->in_host) == all);
	for (line = SL_POST_HOST; line <= SL_TGKILL_HOST; line++)
		sc_measure(sc, ci, line, samples, &seed);

out:
	STORE_SC(&sc->host_word, 1);
	STORE_SC(&sc->go, 1);
	futex_wake(&sc->go, INT_MAX);
	futex_wake(&sc->host_word, INT_MAX);
	sc_leave_futex(sc, PH_EXIT);
	sigwake_wake(sw_fd, (__u32)sc->wq, INT_MAX);
	sigwake_wake(sw_fd, (__u32)sc->wq_probe, INT_MAX);
	for (k = 0; k < all; k++)
		pthread_join(sc->w[k].th, NULL);
	sigwake_wq_destroy(sw_fd, (__u32)sc->wq);
	sigwake_wq_destroy(sw_fd, (__u32)sc->wq_probe);
	free(sc->w);
	free(sc);
}

/*
 * The counts are visited up and back down (1, 64, 1024, 8192, 1024, 64, 1),
 * each visit taking its share of the samples, so that a load that drifts
 * during the run weighs on every N alike.  The caller and the workers are
 * pinned to two CPUs: every wakeup crosses between them, whichever thread
 * it wakes.
 */
static void bench_scaling(void)
{
	size_t samples = iters(2000, 100), nc = 0, i, v, ci;
	size_t order[2 * ARRAY_SIZE(sc_counts)], visits[ARRAY_SIZE(sc_counts)];
	int line, cpu_caller, cpu_workers;
	struct rlimit rl;
	cpu_set_t saved;
	long limit;

	if (!sw_ok()) {
		add_row("scaling", NULL, "all", "scaling (sigwake only)")
			->skipped = 1;
		snprintf(rows[nrows - 1].note, sizeof(rows[0].note),
			 "sigwake unavailable");
		return;
	}
	/* 64 blocks share a page; the pages count against RLIMIT_MEMLOCK. */
	if (!getrlimit(RLIMIT_MEMLOCK, &rl) && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_MEMLOCK, &rl);
	}
	limit = env.max_threads_per_domain > 0 ?
		env.max_threads_per_domain - 4 : LONG_MAX;
	for (ci = 0; ci < ARRAY_SIZE(sc_counts); ci++) {
		int n = sc_counts[ci];

		if (n > opt.max_threads || (opt.quick && n > 64 &&
					    opt.max_threads == 8192))
			break;
		if (n + 1 > limit) {
			note("scaling: N=%d is over max_threads_per_domain",
			     n);
			break;
		}
		nc = ci + 1;
	}
	for (i = 0; i < nc; i++)
		order[i] = i;
	for (i = 1; i < nc; i++)
		order[nc - 1 + i] = nc - 1 - i;
	memset(visits, 0, sizeof(visits));
	for (i = 0; i < 2 * nc - 1; i++)
		visits[order[i]]++;
	for (ci = 0; ci < nc; ci++)
		for (line = 0; line < SL_N; line++) {
			sc_acc[ci][line].v = calloc(samples + visits[ci],
						    sizeof(double));
			if (!sc_acc[ci][line].v)
				die("out of memory");
		}
	two_cpus(&cpu_caller, &cpu_workers);
	set_placement("scaling", "caller on CPU %d, workers on CPU %d",
		      cpu_caller, cpu_workers);
	sched_getaffinity(0, sizeof(saved), &saved);
	pin_self(cpu_caller);
	for (i = 0; i < 2 * nc - 1; i++) {
		ci = order[i];
		for (v = 0; v < i && order[v] != ci; v++)
			;
		sc_run(ci, (samples + visits[ci] - 1) / visits[ci], v == i,
		       cpu_workers);
	}
	sched_setaffinity(0, sizeof(saved), &saved);
	for (ci = 0; ci < nc; ci++)
		for (line = 0; line < SL_N; line++) {
			struct sc_acc *acc = &sc_acc[ci][line];
			char key[32], text[64];
			struct row *r;

			snprintf(key, sizeof(key), "%d", sc_counts[ci]);
			snprintf(text, sizeof(text), "%s, N=%d",
				 sc_lines[line].label, sc_counts[ci]);
			r = add_row("scaling", sc_lines[line].group, key, text);
			row_samples(r, acc->v, acc->n);
			if (acc->bad)
				snprintf(r->note, sizeof(r->note),
					 "%lu unexpected outcomes", acc->bad);
			free(acc->v);
			acc->v = NULL;
		}
}

/* ------------------------------------------------------------ 6. lost */

enum { LT_NAIVE, LT_SIGWAKE };

struct race {
	size_t rounds;		/* all protocols together */
	uint32_t kind;		/* protocol of the current round */
	uint32_t round;		/* the waiter's current round */
	uint32_t posted;	/* the poster's last finished round */
	uint32_t flag;		/* naive: the event */
	uint32_t word;		/* naive: futex word, never changes */
	uint64_t t_posted;	/* when the last post had finished */
	__u32 handle;
	uint64_t seed;
};

/*
 * The poster spins (it must start right when the round opens, to hit the
 * waiter's window), waits a random delay, posts, and notes when its post
 * had finished.
 */
static void *race_poster(void *arg)
{
	struct race *rc = arg;
	uint32_t r;

	for (r = 1; r <= rc->rounds; r++) {
		uint64_t until;

		SPIN_UNTIL(LOAD(&rc->round) == r);
		until = now_ns() + xorshift(&rc->seed) % lost_delay_max_ns;
		while (now_ns() < until)
			cpu_relax();
		if (LOAD(&rc->kind) == LT_NAIVE) {
			STORE_SC(&rc->flag, 1);
			futex_wake(&rc->word, 1);
		} else {
			sigwake_post(sw_fd, rc->handle, GSIG_POST, NULL);
		}
		STORE(&rc->t_posted, now_ns());
		STORE(&rc->posted, r);
	}
	return NULL;
}

/*
 * Race rounds, the protocols taking turns round by round.  Each round the
 * waiter checks for the event and, seeing none, sleeps with a bounded
 * timeout while the poster posts after a random delay that straddles the
 * check.  A sleep that times out although the post had finished before its
 * deadline slept through a recorded event: a lost event.
 */
static void bench_lost(void)
{
	size_t per = iters(20000, 1000), i;
	struct sigwake_thread_block *b = NULL;
	const uint64_t bit = sigwake_sigbit(GSIG_POST);
	int nkinds = sw_ok() ? 2 : 1;
	struct race rc = { .seed = 0x2545f4914f6cdd1dull };
	uint32_t dummy = 1, r;
	double v[200];
	pthread_t th;

	/*
	 * The poster's delay: uniform in [0, 2 x the longer of a futex wake
	 * and a sigwake poll), so that it straddles the waiter's check and
	 * its entry into the sleep, for both protocols alike.
	 */
	for (i = 0; i < ARRAY_SIZE(v); i++) {
		uint64_t t0 = now_ns();

		futex_wake(&dummy, 1);
		v[i] = (double)(now_ns() - t0);
	}
	lost_delay_max_ns = (uint64_t)summarize(v, ARRAY_SIZE(v)).median;
	if (sw_ok()) {
		double m;

		for (i = 0; i < ARRAY_SIZE(v); i++) {
			uint64_t t0 = now_ns();

			sigwake_poll(sw_fd);
			v[i] = (double)(now_ns() - t0);
		}
		m = summarize(v, ARRAY_SIZE(v)).median;
		if (m > (double)lost_delay_max_ns)
			lost_delay_max_ns = (uint64_t)m;
		b = main_self->block;
		rc.handle = main_self->handle;
		sigwake_take_pending(b);
		sigwake_take_flags(b);
	}
	lost_delay_max_ns = 2 * lost_delay_max_ns + 1;

	rc.rounds = per * (size_t)nkinds;
	th = spawn(race_poster, &rc, 0);
	for (r = 1; r <= rc.rounds; r++) {
		int kind = nkinds == 2 ? (int)(r & 1) : LT_NAIVE;
		struct lost_res *res = &lost_res[kind];
		uint64_t deadline = 0;
		int timed_out = 0, ret;

		if (kind == LT_NAIVE)
			STORE_SC(&rc.flag, 0);
		else
			sigwake_take_pending(b);
		STORE(&rc.kind, (uint32_t)kind);
		STORE_SC(&rc.round, r);

		if (kind == LT_NAIVE) {
			if (!LOAD(&rc.flag)) {
				struct timespec ts = {
					.tv_nsec = LOST_TIMEOUT_NS,
				};

				deadline = now_ns() + LOST_TIMEOUT_NS;
				ret = (int)futex_wait(&rc.word, 0, &ts);
				timed_out = ret < 0 && errno == ETIMEDOUT;
			}
		} else if (!(__atomic_load_n(&b->pending, __ATOMIC_SEQ_CST) &
			     bit)) {
			deadline = now_ns() + LOST_TIMEOUT_NS;
			ret = sigwake_wait(sw_fd, SIGWAKE_NO_WQ, 0,
					   LOST_TIMEOUT_NS, 0);
			timed_out = ret == SIGWAKE_REASON_TIMEOUT;
			if (ret == SIGWAKE_REASON_KICK)
				sigwake_take_flags(b);
		}
		SPIN_UNTIL(LOAD(&rc.posted) == r);
		if (!deadline)
			res->early++;
		else if (!timed_out)
			res->woken++;
		else if (LOAD(&rc.t_posted) < deadline)
			res->lost++;
		else
			res->late++;
		res->rounds++;
		res->ran = 1;
	}
	pthread_join(th, NULL);
	if (b)
		sigwake_take_pending(b);
}

/* ------------------------------------------------------------ 7. floor */

/*
 * Diagnostic: what one call of each primitive costs when nobody sleeps or
 * wakes, so that the round-trip and post numbers can be taken apart into
 * syscall paths and scheduler work.  Batches, taking turns batch by batch.
 */
enum {
	FL_GETPPID, FL_PIPE_IOCTL, FL_SW_ENOTTY, FL_SW_ENOENT, FL_SW_WAKE,
	FL_FUTEX_WAKE, FL_SW_WAIT, FL_FUTEX_WAIT, FL_SW_POST, FL_TGKILL,
	FL_SIGNAL_SELF, FL_N
};

#define FLOOR_BATCH	100

static double floor_batch(int k, uint32_t *word, int wq, int pipefd)
{
	pid_t pid = getpid(), tid = gettid_();
	struct sigwake_wake_args wa;
	int i, avail, r, wait_r = -EAGAIN;
	uint64_t t0;

	t0 = now_ns();

	for (i = 0; i < FLOOR_BATCH; i++) {
		switch (k) {
		case FL_SW_WAKE:
			sigwake_wake(sw_fd, (__u32)wq, 1);
			break;
		case FL_FUTEX_WAKE:
			futex_wake(word, 1);
			break;
		case FL_SW_WAIT:
			/* The word is not what we expect: EAGAIN. */
			r = sigwake_wait(sw_fd, (__u32)wq, *word + 1,
					 SIGWAKE_TIMEOUT_NONE, 0);
			if (r != -EAGAIN)
				wait_r = r;
			break;
		case FL_FUTEX_WAIT:
			futex_wait(word, *word + 1, NULL);
			break;
		case FL_SW_POST:
			/* To the caller itself, in host code: recorded. */
			sigwake_post(sw_fd, main_self->handle, GSIG_POST, NULL);
			break;
		case FL_TGKILL:
			/* To the caller itself, which blocks the signal. */
			syscall(SYS_tgkill, pid, tid, sig_sigwait);
			break;
		case FL_SIGNAL_SELF:
			/* Delivered: frame, empty handler, sigreturn. */
			syscall(SYS_tgkill, pid, tid, sig_nop);
			break;
		case FL_PIPE_IOCTL:
			ioctl(pipefd, FIONREAD, &avail);
			break;
		case FL_SW_ENOTTY:
			/* Stops after the owner check and the table lookup. */
			ioctl(sw_fd, _IOWR(SIGWAKE_IOC_MAGIC, 0x1f,
					   struct sigwake_wake_args), &wa);
			break;
		case FL_SW_ENOENT:
			/* Stops after the struct copy and the queue lookup. */
			memset(&wa, 0, sizeof(wa));
			wa.size = sizeof(wa);
			wa.wq = 0x7ffffff0;
			wa.nr = 1;
			ioctl(sw_fd, SIGWAKE_IOC_WAKE, &wa);
			break;
		default:
			getppid();
			break;
		}
	}
	t0 = now_ns() - t0;
	/* A row that timed another outcome would measure another path. */
	if (wait_r != -EAGAIN)
		die("floor: WAIT on a changed word returned %d, not -EAGAIN",
		    wait_r);
	return (double)t0 / FLOOR_BATCH;
}

/* The process has one thread: every other one has gone through exit_files(). */
static void wait_single_threaded(void)
{
	char line[64];
	FILE *f;
	int n;

	for (;;) {
		n = 0;
		f = fopen("/proc/self/status", "r");
		while (f && fgets(line, sizeof(line), f))
			if (!strncmp(line, "Threads:", 8))
				n = atoi(line + 8);
		if (f)
			fclose(f);
		if (n <= 1)
			return;
		usleep(1000);
	}
}

/* The idle second thread of the floor: sleeps until told to go. */
static void *floor_sleeper(void *arg)
{
	uint32_t *go = arg;

	await_change(go, 0);
	return NULL;
}

struct floor_ctx {
	uint32_t word;
	int wq, pfd[2];
	sigset_t set;
};

/* One run of the techniques @kind[0..ns) taking turns, batch by batch. */
static void floor_turns(struct floor_ctx *fc, struct series *s,
			const int *kind, size_t ns, size_t n)
{
	size_t w = warmup(n), nact, i;
	struct timespec zero = { 0 };
	int act[FL_N];
	siginfo_t si;

	nact = series_active(s, ns, act);
	series_alloc(s, ns, n);
	for (i = 0; i < (w + n) * nact; i++) {
		int j = act[i % nact], k = kind[j];
		double v = floor_batch(k, &fc->word, fc->wq, fc->pfd[0]);

		if (i >= w * nact)
			s[j].v[s[j].n++] = v;
		/* Real-time signals queue: drain them. */
		if (k == FL_TGKILL)
			while (sigtimedwait(&fc->set, &si, &zero) > 0)
				;
	}
}

/*
 * Every primitive with a second thread alive, as in the round trip and the
 * post benchmarks: with one thread, fdget() skips the file's reference
 * count and a sigwake ioctl looks cheaper than it is in a runtime.  A few
 * lines are measured single-threaded too, beforehand, to show that part.
 */
static void bench_floor(void)
{
	struct series s[FL_N] = {
		[FL_SW_WAKE] = { "sigwake_wake", "sigwake WAKE, no waiter", 1 },
		[FL_FUTEX_WAKE] = { "futex_wake", "FUTEX_WAKE, no waiter", 0 },
		[FL_SW_WAIT] = { "sigwake_wait_eagain",
				 "sigwake WAIT, word changed (EAGAIN)", 1 },
		[FL_FUTEX_WAIT] = { "futex_wait_eagain",
				    "FUTEX_WAIT, word changed (EAGAIN)", 0 },
		[FL_SW_POST] = { "sigwake_post_host",
				 "sigwake POST, target in host (recorded)", 1 },
		[FL_TGKILL] = { "tgkill_blocked",
				"tgkill, target blocks it (queued)", 0 },
		[FL_SIGNAL_SELF] = { "signal_self_handler",
				     "tgkill to self, empty handler runs", 0 },
		[FL_GETPPID] = { "getppid", "getppid (bare syscall)", 0 },
		[FL_PIPE_IOCTL] = { "pipe_fionread",
				    "ioctl FIONREAD on a pipe (VFS ioctl)", 0 },
		[FL_SW_ENOTTY] = { "sigwake_enotty",
				   "sigwake ioctl, unknown command (ENOTTY)", 1 },
		[FL_SW_ENOENT] = { "sigwake_wake_enoent",
				   "sigwake WAKE, unknown queue (ENOENT)", 1 },
	};
	struct series s1[] = {
		{ .key = "getppid", .label = "getppid (bare syscall), 1 thread" },
		{ .key = "pipe_fionread",
		  .label = "ioctl FIONREAD on a pipe, 1 thread" },
		{ .key = "sigwake_enotty",
		  .label = "sigwake ioctl, ENOTTY, 1 thread", .sigwake = 1 },
	};
	static const int kind1[] = { FL_GETPPID, FL_PIPE_IOCTL, FL_SW_ENOTTY };
	int kind[FL_N], cpu_a, cpu_b;
	size_t n = iters(100, 15), i;
	struct floor_ctx fc = { .word = 7, .wq = -1 };
	uint32_t go = 0;
	cpu_set_t saved;
	sigset_t old;
	pthread_t th;

	for (i = 0; i < FL_N; i++)
		kind[i] = (int)i;
	if (sw_ok()) {
		fc.wq = sigwake_wq_create(sw_fd, &fc.word);
		if (fc.wq < 0)
			die("sigwake_wq_create: %s", strerror(-fc.wq));
		/*
		 * The POST rows leave GSIG_POST pending on this thread: blocked,
		 * so that the WAIT rows still see a changed word (EAGAIN), not a
		 * pending signal, which the WAIT checks first.
		 */
		sigwake_set_blocked(main_self->block, sigwake_sigbit(GSIG_POST));
	}
	if (pipe2(fc.pfd, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	sigemptyset(&fc.set);
	sigaddset(&fc.set, sig_sigwait);
	pthread_sigmask(SIG_BLOCK, &fc.set, &old);
	two_cpus(&cpu_a, &cpu_b);
	set_placement("syscall_floor",
		      "caller on CPU %d; a second thread sleeps in FUTEX_WAIT on CPU %d",
		      cpu_a, cpu_b);
	set_placement("syscall_floor_1thread",
		      "caller on CPU %d, the only thread of the process", cpu_a);
	sched_getaffinity(0, sizeof(saved), &saved);
	pin_self(cpu_a);

	/* The table shows the two-thread lines first. */
	for (i = 0; i < FL_N; i++)
		run_row("syscall_floor", NULL, s[i].key, s[i].label);
	wait_single_threaded();
	floor_turns(&fc, s1, kind1, ARRAY_SIZE(s1), n);
	series_rows("syscall_floor_1thread", NULL, s1, ARRAY_SIZE(s1));

	th = spawn(floor_sleeper, &go, 0);
	{
		cpu_set_t one;

		CPU_ZERO(&one);
		CPU_SET(cpu_b, &one);
		pthread_setaffinity_np(th, sizeof(one), &one);
	}
	floor_turns(&fc, s, kind, FL_N, n);
	publish(&go, 1);
	pthread_join(th, NULL);
	series_rows("syscall_floor", NULL, s, FL_N);

	sched_setaffinity(0, sizeof(saved), &saved);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(fc.pfd[0]);
	close(fc.pfd[1]);
	if (sw_ok()) {
		sigwake_take_pending(main_self->block);
		sigwake_set_blocked(main_self->block, 0);
		sigwake_wq_destroy(sw_fd, (__u32)fc.wq);
	}
}

/* ------------------------------------------------------------ aims */

static struct aim *ratio_aim(const char *name, const char *bench,
			     const char *group, const char *num,
			     const char *den, double limit, int at_most,
			     const char *expr)
{
	const struct row *a = find_row(bench, group, num);
	const struct row *b = find_row(bench, group, den);
	struct aim *x = add_aim(name, limit, at_most);
	int i, n;

	snprintf(x->expr, sizeof(x->expr), "%s", expr);
	if (!a || !b) {
		snprintf(x->note, sizeof(x->note), "not measured");
		return x;
	}
	/* The runs pair up: both rows took turns in each of them. */
	n = a->nrun < b->nrun ? a->nrun : b->nrun;
	for (i = 0; i < n; i++) {
		double num_v = a->run_med[i], den_v = b->run_med[i];

		x->run_ratio[i] = at_most ? num_v / den_v : den_v / num_v;
	}
	x->ci = ratio_ci(x->run_ratio, n);
	if (isnan(x->ci.value)) {
		snprintf(x->note, sizeof(x->note), "a median was 0");
		return x;
	}
	x->have = 1;
	return x;
}

/* A ratio to read the others by, with no aim. */
static void control_ratio(const char *name, const char *bench,
			  const char *group, const char *num, const char *den,
			  const char *expr)
{
	ratio_aim(name, bench, group, num, den, 0, 1, expr)->control = 1;
}

static void compute_aims(void)
{
	/*
	 * The probe lines first: sigwake's own cost; then those that reach a
	 * different thread every time, with their controls.
	 */
	const char *groups[] = {
		"post_host_probe", "post_waiting_probe", "wake_probe",
		"post_host", "post_waiting", "wake_fifo",
		"control_tgkill", "control_futex_wake",
	};
	const char *names[] = {
		"POST, same thread in host", "POST, same waiting thread",
		"WAKE, probe's queue", "POST, random thread in host",
		"POST, random waiting thread", "WAKE, oldest of N waiters",
		"control: tgkill, random thread", "control: FUTEX_WAKE, random",
	};
	static const char *const pins[][2] = {
		{ "same_cpu", "same CPU" }, { "cross_cpu", "cross CPU" },
	};
	char name[64];
	struct aim *a;
	size_t g;

	if (selected("roundtrip")) {
		for (g = 0; g < ARRAY_SIZE(pins); g++) {
			snprintf(name, sizeof(name), "round trip, %s",
				 pins[g][1]);
			ratio_aim(name, "wake_roundtrip", pins[g][0],
				  "sigwake", "futex", 1.0, 1,
				  "sigwake WAIT/WAKE / futex WAIT/WAKE");
			snprintf(name, sizeof(name),
				 "control: eventfd round trip, %s", pins[g][1]);
			control_ratio(name, "wake_roundtrip", pins[g][0],
				      "eventfd", "futex", "eventfd / futex");
			snprintf(name, sizeof(name),
				 "control: pipe round trip, %s", pins[g][1]);
			control_ratio(name, "wake_roundtrip", pins[g][0],
				      "pipe", "futex", "pipe / futex");
		}
		for (g = 0; g < ARRAY_SIZE(pins); g++) {
			snprintf(name, sizeof(name),
				 "hand-off round trip, %s", pins[g][1]);
			ratio_aim(name, "wake_roundtrip", pins[g][0],
				  "sigwake_handoff", "futex", 0.7, 1,
				  "sigwake hand-off / futex WAIT/WAKE");
		}
	}
	if (selected("post"))
		ratio_aim("post to a waiting thread", "post_to_waiter", NULL,
			  "sigwake_post", "litebox", 0.5, 1,
			  "sigwake POST / LiteBox technique");
	if (selected("entry"))
		ratio_aim("guest entry + exit", "entry_exit", NULL,
			  "sigwake_state_word", "shadow_itimer", 100, 0,
			  "Shadow itimer / sigwake state word");
	if (selected("kick")) {
		ratio_aim("kick latency (KICK)", "kick", NULL, "sigwake_kick",
			  "pthread_kill_tls", 1.0, 1,
			  "sigwake KICK / pthread_kill + TLS");
		ratio_aim("kick latency (POST)", "kick", NULL, "sigwake_post",
			  "pthread_kill_tls", 1.0, 1,
			  "sigwake POST / pthread_kill + TLS");
	}
	if (selected("floor")) {
		ratio_aim("WAIT, word changed (EAGAIN)", "syscall_floor", NULL,
			  "sigwake_wait_eagain", "futex_wait_eagain", 1.5, 1,
			  "sigwake WAIT EAGAIN / FUTEX_WAIT EAGAIN");
		ratio_aim("WAKE, no waiter", "syscall_floor", NULL,
			  "sigwake_wake", "futex_wake", 1.5, 1,
			  "sigwake WAKE / FUTEX_WAKE, nobody waiting");
		control_ratio("floor: ioctl ENOTTY vs syscall", "syscall_floor",
			      NULL, "sigwake_enotty", "getppid",
			      "sigwake ENOTTY / getppid, 2 threads");
		control_ratio("floor: VFS ioctl vs syscall", "syscall_floor",
			      NULL, "pipe_fionread", "getppid",
			      "FIONREAD on a pipe / getppid, 2 threads");
		control_ratio("floor: WAKE ENOENT vs ENOTTY", "syscall_floor",
			      NULL, "sigwake_wake_enoent", "sigwake_enotty",
			      "WAKE unknown queue / ENOTTY, 2 threads");
		control_ratio("floor: POST in host vs tgkill", "syscall_floor",
			      NULL, "sigwake_post_host", "tgkill_blocked",
			      "POST recorded / tgkill queued");
		control_ratio("floor, 1 thread: ENOTTY vs syscall",
			      "syscall_floor_1thread", NULL, "sigwake_enotty",
			      "getppid", "sigwake ENOTTY / getppid, 1 thread");
	}
	if (selected("scaling")) {
		for (g = 0; g < ARRAY_SIZE(groups); g++) {
			char n_hi[16];
			int hi = 1;
			size_t i;

			for (i = 0; i < nrows; i++)
				if (!strcmp(rows[i].bench, "scaling") &&
				    rows[i].group &&
				    !strcmp(rows[i].group, groups[g]) &&
				    atoi(rows[i].key) > hi)
					hi = atoi(rows[i].key);
			snprintf(n_hi, sizeof(n_hi), "%d", hi);
			a = ratio_aim("", "scaling", groups[g], n_hi, "1", 1.1,
				      1, "");
			snprintf(a->name, sizeof(a->name),
				 hi > 1 ? "scaling: %s, N=%d vs 1" : "scaling: %s",
				 names[g], hi);
			snprintf(a->expr, sizeof(a->expr),
				 "median at N=%d / median at N=1", hi);
			a->control = !strncmp(groups[g], "control", 7);
			if (hi == 1) {
				a->have = 0;
				snprintf(a->note, sizeof(a->note),
					 "only N=1 measured");
			}
		}
	}
	if (selected("lost") && lost_res[LT_SIGWAKE].ran) {
		a = add_aim("lost events (sigwake)", 0, 1);
		snprintf(a->expr, sizeof(a->expr),
			 "sigwake lost events (naive protocol: %zu of %zu rounds)",
			 lost_res[LT_NAIVE].lost, lost_res[LT_NAIVE].rounds);
		a->ci.value = (double)lost_res[LT_SIGWAKE].lost;
		a->ci.lo = a->ci.hi = NAN;
		a->ci.n = 1;
		a->have = 1;
	}
}

/* ------------------------------------------------------------ output */

static void fmt_ns(double ns, char *buf, size_t len)
{
	if (ns < 1000)
		snprintf(buf, len, "%.1f ns", ns);
	else if (ns < 1e6)
		snprintf(buf, len, "%.2f us", ns / 1e3);
	else
		snprintf(buf, len, "%.2f ms", ns / 1e6);
}

static const char *bench_title(const char *bench)
{
	static const char *const map[][2] = {
		{ "wake_roundtrip", "1. wake round trip (two threads ping-pong, pinned)" },
		{ "post_to_waiter", "2. guest signal to a thread waiting on another CPU, until it runs" },
		{ "entry_exit", "3. guest entry + exit, preemption armed (per pair)" },
		{ "kick", "4. kick a thread in guest code, until its handler runs" },
		{ "scaling", "5. scaling with registered threads (cost of the ioctl; one run)" },
		{ "syscall_floor", "7. floor: one call, nobody sleeps or wakes, a second thread alive (per call)" },
		{ "syscall_floor_1thread", "7b. floor, single-threaded process (fdget's fast path; per call)" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(map); i++)
		if (!strcmp(map[i][0], bench))
			return map[i][1];
	return bench;
}

static void print_header(FILE *f)
{
	size_t i;

	fprintf(f, "sigwake-bench %s: kernel %s (%s), %s, %s, %ld CPUs%s\n",
		BENCH_VERSION, env.uts.release, env.uts.machine, env.virt,
		env.cpu_model[0] ? env.cpu_model : "unknown CPU", env.cpus,
		opt.quick ? ", --quick" : "");
	if (env.runner[0])
		fprintf(f, "  runner: %s, kernel %s; host: %s CPUs, load %s before the run\n",
			env.runner, env.runner_kernel,
			env.host_cpus[0] ? env.host_cpus : "?",
			env.host_load[0] ? env.host_load : "unknown");
	fprintf(f, "  clocksource %s, clock_gettime %.0f ns; sigwake: %s; preemption: %s\n",
		env.clocksource[0] ? env.clocksource : "?", env.clock_ns,
		env.sigwake, env.preempt[0] ? env.preempt : "not measured");
	fprintf(f, "  sigwake trace events: %s; enabled trace events: %s\n",
		env.trace_sigwake,
		env.trace_enabled[0] ? env.trace_enabled : "none");
	fprintf(f, "  runs: %d in this process (roundtrip post entry kick floor; scaling and lost once)\n",
		nruns());
	for (i = 0; i < nplacement; i++)
		fprintf(f, "  pinning, %s: %s\n", placement[i].bench,
			placement[i].text);
}

/* "a-b", the range of a row's run medians. */
static void fmt_runs(const struct row *r, char *buf, size_t len)
{
	double lo = r->run_med[0], hi = r->run_med[0];
	char a[32], b[32];
	int i;

	if (r->nrun < 2) {
		snprintf(buf, len, "-");
		return;
	}
	for (i = 1; i < r->nrun; i++) {
		if (r->run_med[i] < lo)
			lo = r->run_med[i];
		if (r->run_med[i] > hi)
			hi = r->run_med[i];
	}
	fmt_ns(lo, a, sizeof(a));
	fmt_ns(hi, b, sizeof(b));
	snprintf(buf, len, "%s..%s", a, b);
}

static void print_aims(void)
{
	size_t i;

	printf("\nratios: geometric mean of the per-run ratios of medians, [95%% CI]\n"
	       "(Student's t over the log ratios; informative, never pass/fail;\n"
	       " met/missed: the whole interval is on that side of the aim)\n");
	for (i = 0; i < naims; i++) {
		const struct aim *a = &aims[i];
		char ci[40];

		if (!a->have) {
			printf("  %-48s %-8s %s\n", a->name, "n/a", a->note);
			continue;
		}
		if (!strcmp(a->name, "lost events (sigwake)")) {
			printf("  %-48s %-8.0f aim 0: %-6s  %s\n", a->name,
			       a->ci.value, aim_met(a) ? "met" : "MISSED",
			       a->expr);
			continue;
		}
		if (isnan(a->ci.lo))
			snprintf(ci, sizeof(ci), "(%d run)", a->ci.n);
		else
			snprintf(ci, sizeof(ci), "[%.2f, %.2f]", a->ci.lo,
				 a->ci.hi);
		if (a->control)
			printf("  %-48s %6.2fx %-16s (control, no aim)  %s\n",
			       a->name, a->ci.value, ci, a->expr);
		else
			printf("  %-48s %6.2fx %-16s aim %s %gx: %-14s %s\n",
			       a->name, a->ci.value, ci,
			       a->at_most ? "<=" : ">=", a->limit,
			       aim_verdict(a), a->expr);
	}
}

static void print_table(void)
{
	const char *cur = "", *grp = NULL;
	char med[32], p99[32], runs[80];
	size_t i;

	printf("\n");
	print_header(stdout);
	for (i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];

		if (strcmp(cur, r->bench)) {
			cur = r->bench;
			grp = NULL;
			printf("\n%s\n", bench_title(cur));
			printf("  %-46s %11s %11s %7s %21s\n", "technique",
			       "median", "p99", "n", "run medians");
		}
		if (r->group && strcmp(cur, "scaling") &&
		    (!grp || strcmp(grp, r->group))) {
			grp = r->group;
			printf("  [%s]\n", grp);
		}
		if (r->skipped) {
			printf("  %-46s %11s %11s %7s %21s  (%s)\n", r->label,
			       "-", "-", "-", "-", r->note);
			continue;
		}
		fmt_ns(r->st.median, med, sizeof(med));
		fmt_ns(r->st.p99, p99, sizeof(p99));
		fmt_runs(r, runs, sizeof(runs));
		printf("  %-46s %11s %11s %7zu %21s%s%s\n", r->label, med, p99,
		       r->st.n, runs, r->note[0] ? "  " : "", r->note);
	}
	if (nmem) {
		printf("\n5b. kernel memory per registered thread\n");
		printf("  %8s %14s %14s %14s %14s\n", "threads", "slabinfo B/thr",
		       "SUnreclaim B/thr", "Slab B/thr", "pinned pages");
		for (i = 0; i < nmem; i++) {
			const struct mem_res *m = &mem_res[i];
			char si[32];

			if (m->slabinfo_bytes < 0)
				snprintf(si, sizeof(si), "n/a");
			else
				snprintf(si, sizeof(si), "%.0f",
					 (double)m->slabinfo_bytes / m->n);
			printf("  %8d %14s %14.0f %14.0f %14ld\n", m->n, si,
			       m->sunreclaim_kb * 1024.0 / m->n,
			       m->slab_kb * 1024.0 / m->n, m->vmpin_kb / 4);
		}
	}
	if (lost_res[0].ran || lost_res[1].ran) {
		printf("\n6. lost events under one race load (poster delay 0..%llu ns, timeout %llu ms)\n",
		       (unsigned long long)lost_delay_max_ns,
		       (unsigned long long)(LOST_TIMEOUT_NS / NSEC_PER_MSEC));
		printf("  %-50s %8s %8s %8s %8s %8s\n", "protocol", "rounds",
		       "LOST", "woken", "seen", "late");
		for (i = 0; i < ARRAY_SIZE(lost_res); i++) {
			const struct lost_res *l = &lost_res[i];

			if (!l->ran) {
				printf("  %-50s  (not run)\n", l->label);
				continue;
			}
			printf("  %-50s %8zu %8zu %8zu %8zu %8zu\n", l->label,
			       l->rounds, l->lost, l->woken, l->early, l->late);
		}
	}
	if (naims)
		print_aims();
	if (nphase) {
		printf("\nwall time per benchmark (all runs):");
		for (i = 0; i < nphase; i++)
			printf(" %s %.0f s%s", phase[i].name, phase[i].seconds,
			       i + 1 < nphase ? "," : "");
		printf("\n");
	}
	printf("\n");
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/* A number, or null for NaN and infinities (JSON has neither). */
static void json_num(FILE *f, const char *fmt, double v)
{
	if (isnan(v) || isinf(v))
		fprintf(f, "null");
	else
		fprintf(f, fmt, v);
}

static void json_doubles(FILE *f, const char *key, const double *v, int n,
			 const char *fmt)
{
	int i;

	fprintf(f, ", \"%s\": [", key);
	for (i = 0; i < n; i++) {
		if (i)
			fprintf(f, ", ");
		json_num(f, fmt, v[i]);
	}
	fprintf(f, "]");
}

static void json_stats(FILE *f, const struct row *r)
{
	fprintf(f, "{\"label\": ");
	json_str(f, r->label);
	if (r->skipped) {
		fprintf(f, ", \"skipped\": ");
		json_str(f, r->note);
		fprintf(f, "}");
		return;
	}
	fprintf(f, ", \"n\": %zu, \"median_ns\": %.1f, \"p99_ns\": %.1f, "
		"\"mean_ns\": %.1f, \"min_ns\": %.1f, \"max_ns\": %.1f",
		r->st.n, r->st.median, r->st.p99, r->st.mean, r->st.min,
		r->st.max);
	json_doubles(f, "run_medians_ns", r->run_med, r->nrun, "%.1f");
	if (r->note[0]) {
		fprintf(f, ", \"note\": ");
		json_str(f, r->note);
	}
	fprintf(f, "}");
}

static void write_json(const char *path, int complete)
{
	const char *bench = NULL, *group = NULL;
	size_t i;
	FILE *f;

	f = fopen(path, "w");
	if (!f)
		die("%s: %s", path, strerror(errno));
	fprintf(f, "{\n  \"tool\": \"sigwake-bench\",\n  \"version\": ");
	json_str(f, BENCH_VERSION);
	fprintf(f, ",\n  \"complete\": %s,\n", complete ? "true" : "false");
	fprintf(f, "  \"sigwake_lost_events\": %zd,\n",
		lost_res[LT_SIGWAKE].ran ? (ssize_t)lost_res[LT_SIGWAKE].lost :
					   (ssize_t)-1);
	fprintf(f, "  \"env\": {\"kernel\": ");
	json_str(f, env.uts.release);
	fprintf(f, ", \"kernel_version\": ");
	json_str(f, env.uts.version);
	fprintf(f, ", \"machine\": ");
	json_str(f, env.uts.machine);
	fprintf(f, ", \"virt\": ");
	json_str(f, env.virt);
	fprintf(f, ", \"cpu_model\": ");
	json_str(f, env.cpu_model);
	fprintf(f, ", \"cpus\": %ld, \"clocksource\": ", env.cpus);
	json_str(f, env.clocksource);
	fprintf(f, ", \"clock_gettime_ns\": %.1f, \"runner\": ", env.clock_ns);
	json_str(f, env.runner);
	fprintf(f, ", \"runner_kernel\": ");
	json_str(f, env.runner_kernel);
	fprintf(f, ", \"sigwake\": ");
	json_str(f, env.sigwake);
	fprintf(f, ", \"preempt\": ");
	json_str(f, env.preempt);
	fprintf(f, ", \"post_cpus\": ");
	json_str(f, env.post_cpus);
	fprintf(f, ", \"preempt_armed\": %s, \"preempt_budget_ns\": %llu, "
		"\"preempt_refused_entries\": %lu, \"itimer_fired\": %lu",
		preempt_armed ? "true" : "false",
		(unsigned long long)PREEMPT_BUDGET_NS, entry_refused,
		preempt_fired);
	fprintf(f, ", \"max_threads_per_domain\": %ld, \"quick\": %s, "
		"\"iterations\": %ld, \"runs\": %d, \"date\": ",
		env.max_threads_per_domain, opt.quick ? "true" : "false",
		opt.iterations, nruns());
	json_str(f, env.date);
	fprintf(f, ",\n          \"host_load_before\": ");
	if (env.host_load[0])
		json_str(f, env.host_load);
	else
		fprintf(f, "null");
	fprintf(f, ", \"host_cpus\": ");
	if (env.host_cpus[0])
		json_str(f, env.host_cpus);
	else
		fprintf(f, "null");
	fprintf(f, ",\n          \"trace_events\": {\"sigwake\": ");
	json_str(f, env.trace_sigwake);
	fprintf(f, ", \"enabled\": [");
	{
		char buf[sizeof(env.trace_enabled)], *tok, *save = NULL;
		int first = 1;

		snprintf(buf, sizeof(buf), "%s", env.trace_enabled);
		for (tok = strtok_r(buf, " ", &save); tok;
		     tok = strtok_r(NULL, " ", &save)) {
			fprintf(f, "%s", first ? "" : ", ");
			json_str(f, tok);
			first = 0;
		}
	}
	fprintf(f, "]},\n          \"pinning\": {");
	for (i = 0; i < nplacement; i++) {
		fprintf(f, "%s", i ? ", " : "");
		json_str(f, placement[i].bench);
		fprintf(f, ": ");
		json_str(f, placement[i].text);
	}
	fprintf(f, "},\n          \"wall_seconds\": {");
	for (i = 0; i < nphase; i++) {
		fprintf(f, "%s", i ? ", " : "");
		json_str(f, phase[i].name);
		fprintf(f, ": %.1f", phase[i].seconds);
	}
	fprintf(f, "}},\n  \"ratio_method\": ");
	json_str(f, "per run: median(a) / median(b); value: geometric mean "
		    "over runs; ci95: exp(mean(ln r) +- t(0.975, runs-1) * "
		    "sd(ln r) / sqrt(runs))");
	fprintf(f, ",\n  \"benchmarks\": {");

	for (i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];

		if (!bench || strcmp(bench, r->bench)) {
			if (bench)
				fprintf(f, "%s\n    }", group ? "\n      }" : "");
			fprintf(f, "%s\n    ", bench ? "," : "");
			json_str(f, r->bench);
			fprintf(f, ": {");
			bench = r->bench;
			group = NULL;
			if (r->group) {
				fprintf(f, "\n      ");
				json_str(f, r->group);
				fprintf(f, ": {");
				group = r->group;
			}
		} else if (r->group && (!group || strcmp(group, r->group))) {
			fprintf(f, "%s,\n      ", group ? "\n      }" : "");
			json_str(f, r->group);
			fprintf(f, ": {");
			group = r->group;
		} else {
			fprintf(f, ",");
		}
		fprintf(f, "\n%s", group ? "        " : "      ");
		json_str(f, r->key);
		fprintf(f, ": ");
		json_stats(f, r);
	}
	if (bench)
		fprintf(f, "%s\n    }", group ? "\n      }" : "");
	if (nmem) {
		fprintf(f, "%s\n    \"memory_per_thread\": {", bench ? "," : "");
		for (i = 0; i < nmem; i++) {
			const struct mem_res *m = &mem_res[i];

			fprintf(f, "%s\n      \"%d\": {\"slabinfo_bytes\": %.1f, "
				"\"sunreclaim_bytes\": %.1f, \"slab_bytes\": %.1f, "
				"\"pinned_pages_total\": %ld, \"pinned_bytes\": %.1f}",
				i ? "," : "", m->n,
				m->slabinfo_bytes < 0 ? -1.0 :
				(double)m->slabinfo_bytes / m->n,
				m->sunreclaim_kb * 1024.0 / m->n,
				m->slab_kb * 1024.0 / m->n, m->vmpin_kb / 4,
				m->vmpin_kb * 1024.0 / m->n);
		}
		fprintf(f, "\n    }");
		bench = "memory";
	}
	if (lost_res[0].ran || lost_res[1].ran) {
		fprintf(f, "%s\n    \"lost_events\": {\"timeout_ns\": %llu, "
			"\"poster_delay_max_ns\": %llu",
			bench ? "," : "",
			(unsigned long long)LOST_TIMEOUT_NS,
			(unsigned long long)lost_delay_max_ns);
		for (i = 0; i < ARRAY_SIZE(lost_res); i++) {
			const struct lost_res *l = &lost_res[i];

			if (!l->ran)
				continue;
			fprintf(f, ",\n      \"%s\": {\"label\": ", l->key);
			json_str(f, l->label);
			fprintf(f, ", \"rounds\": %zu, \"lost\": %zu, "
				"\"woken\": %zu, \"seen_before_wait\": %zu, "
				"\"late\": %zu}",
				l->rounds, l->lost, l->woken, l->early,
				l->late);
		}
		fprintf(f, "\n    }");
	}
	fprintf(f, "\n  },\n  \"aims\": [");
	for (i = 0; i < naims; i++) {
		const struct aim *a = &aims[i];

		fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
		json_str(f, a->name);
		fprintf(f, ", \"expr\": ");
		json_str(f, a->expr);
		if (a->control)
			fprintf(f, ", \"aim\": null, \"control\": true");
		else
			fprintf(f, ", \"aim\": \"%s %g\"",
				a->at_most ? "<=" : ">=", a->limit);
		if (!a->have) {
			fprintf(f, ", \"value\": null, \"note\": ");
			json_str(f, a->note);
			fprintf(f, "}");
			continue;
		}
		fprintf(f, ", \"value\": ");
		json_num(f, "%.4f", a->ci.value);
		fprintf(f, ", \"ci95\": ");
		if (isnan(a->ci.lo)) {
			fprintf(f, "null");
		} else {
			fprintf(f, "[%.4f, %.4f]", a->ci.lo, a->ci.hi);
		}
		fprintf(f, ", \"runs\": %d", a->ci.n);
		if (strcmp(a->name, "lost events (sigwake)"))
			json_doubles(f, "run_ratios", a->run_ratio, a->ci.n,
				     "%.4f");
		if (!a->control) {
			fprintf(f, ", \"within_aim\": %s, \"verdict\": ",
				aim_met(a) ? "true" : "false");
			json_str(f, aim_verdict(a));
		}
		fprintf(f, "}");
	}
	fprintf(f, "\n  ]\n}\n");
	if (fclose(f))
		die("%s: %s", path, strerror(errno));
}

/* ------------------------------------------------------------ main */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sigwake-bench [--quick | --full] [--runs N] [--iterations N]\n"
		"                     [--only NAME[,NAME]] [--max-threads N] [--json PATH | PATH]\n"
		"\n"
		"  --quick          a short smoke run: 2 runs, few iterations, scaling up to 64\n"
		"  --full           5 runs, every iteration (the default)\n"
		"  --runs N         repetitions of roundtrip post entry kick floor (at most %d)\n"
		"  --iterations N   samples per technique and run (rounds for 'lost')\n"
		"  --only NAMES     run only these: roundtrip post entry kick scaling lost floor\n"
		"  --max-threads N  largest thread count of 'scaling' (default 8192)\n"
		"  --json PATH      where to write the JSON results (default ./bench.json)\n"
		"\n"
		"Exit status: 0 complete; 3 sigwake lost an event; 4 /dev/sigwake\n"
		"unavailable (the baselines ran); 1 error.  Speed never fails a run.\n",
		MAX_RUNS);
}

static void parse_only(char *arg)
{
	char *tok, *save = NULL;
	size_t i;

	for (tok = strtok_r(arg, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < ARRAY_SIZE(bench_names); i++)
			if (!strcmp(tok, bench_names[i]))
				break;
		if (i == ARRAY_SIZE(bench_names)) {
			usage(stderr);
			die("unknown benchmark '%s'", tok);
		}
		opt.only |= 1u << i;
	}
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "full", no_argument, NULL, 'f' },
		{ "iterations", required_argument, NULL, 'i' },
		{ "runs", required_argument, NULL, 'r' },
		{ "json", required_argument, NULL, 'j' },
		{ "only", required_argument, NULL, 'o' },
		{ "max-threads", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct {
		const char *name;
		void (*fn)(void);
	} repeated[] = {
		{ "roundtrip", bench_roundtrip }, { "post", bench_post },
		{ "entry", bench_entry }, { "kick", bench_kick },
		{ "floor", bench_floor },
	};
	int c, status = 0;
	uint64_t t0;
	size_t i;

	while ((c = getopt_long(argc, argv, "qfi:r:j:o:m:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'q':
			opt.quick = 1;
			break;
		case 'f':
			opt.quick = 0;
			break;
		case 'i':
			opt.iterations = atol(optarg);
			if (opt.iterations < 1)
				die("--iterations must be at least 1");
			break;
		case 'r':
			opt.runs = atoi(optarg);
			if (opt.runs < 1 || opt.runs > MAX_RUNS)
				die("--runs must be 1 to %d", MAX_RUNS);
			break;
		case 'j':
			opt.json = optarg;
			break;
		case 'o':
			parse_only(optarg);
			break;
		case 'm':
			opt.max_threads = atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind < argc)
		opt.json = argv[optind++];
	if (optind < argc) {
		usage(stderr);
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Thousands of threads: keep malloc from giving each an arena. */
	mallopt(M_ARENA_MAX, 2);

	sig_kick = SIGRTMIN;
	sig_litebox = SIGRTMIN + 1;
	sig_sigwait = SIGRTMIN + 2;
	sig_nop = SIGRTMIN + 3;
	install(sig_kick, kick_handler);
	install(sig_litebox, litebox_handler);
	install(sig_sigwait, nop_handler);
	install(sig_nop, nop_handler);
	install(SIG_PREEMPT, preempt_handler);

	detect_env();
	detect_trace();
	sw_fd = sigwake_open();
	if (sw_fd < 0) {
		snprintf(env.sigwake, sizeof(env.sigwake),
			 "unavailable (%s: %s)", SIGWAKE_DEVICE,
			 strerror(-sw_fd));
		note("%s %s: only the baselines run", SIGWAKE_DEVICE,
		     strerror(-sw_fd));
	} else {
		snprintf(env.sigwake, sizeof(env.sigwake), "available");
		main_self = sw_register(sig_kick);
	}
	print_header(stderr);

	/* The repeated benchmarks, run after run, in the same order. */
	for (cur_run = 0; cur_run < nruns(); cur_run++)
		for (i = 0; i < ARRAY_SIZE(repeated); i++) {
			if (!selected(repeated[i].name))
				continue;
			note("run %d of %d: %s", cur_run + 1, nruns(),
			     repeated[i].name);
			t0 = now_ns();
			repeated[i].fn();
			add_phase(repeated[i].name, t0);
		}
	if (selected("scaling")) {
		note("scaling");
		t0 = now_ns();
		bench_scaling();
		add_phase("scaling", t0);
	}
	if (selected("lost")) {
		note("lost events");
		t0 = now_ns();
		bench_lost();
		add_phase("lost", t0);
	}

	finish_rows();
	compute_aims();
	print_table();
	write_json(opt.json, 1);
	printf("JSON: %s\n", opt.json);

	if (!sw_ok())
		status = 4;
	else if (lost_res[LT_SIGWAKE].lost)
		status = 3;
	if (main_self)
		sigwake_unregister(main_self);
	if (sw_fd >= 0)
		close(sw_fd);
	return status;
}
