// SPDX-License-Identifier: GPL-2.0
/*
 * sigwake_hold: a process that owns one sigwake domain, for the sigwakectl
 * and tracepoint tests (sigwakectl_test.sh) to look at.
 *
 *   sigwake_hold [-t THREADS] [-q QUEUES] [-e EXITED] [-p SIGNO] [-w]
 *                [-s SECONDS]
 *
 * Opens /dev/sigwake, registers THREADS threads (the main thread first, so
 * it gets handle 1; the others sleep), creates QUEUES plain wait queues,
 * registers EXITED more threads that exit without unregistering, posts
 * guest signal SIGNO to handle 1 if asked, with -w makes one extra thread
 * sleep in SIGWAKE_IOC_WAIT on the first queue, then prints
 * "ready pid=<pid>" and holds everything until SIGTERM, SIGINT, the end of
 * stdin (if it is not a terminal and not /dev/null) or SECONDS seconds.  It
 * then wakes the waiter (-w), unregisters the main thread and closes the
 * domain while the other threads still live, and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/sigwake.h>

static int fd;
static struct sigwake_thread_block *blocks;
static unsigned int next_block;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t stop;
static struct sigwake_thread_block *waiter_blk;

static void die(const char *what)
{
	fprintf(stderr, "sigwake_hold: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint32_t register_self(struct sigwake_thread_block **blk)
{
	struct sigwake_register_args a = { .size = sizeof(a) };

	pthread_mutex_lock(&lock);
	if (blk)
		*blk = &blocks[next_block];
	a.block = (uint64_t)(uintptr_t)&blocks[next_block++];
	if (ioctl(fd, SIGWAKE_IOC_REGISTER, &a) < 0)
		die("SIGWAKE_IOC_REGISTER");
	pthread_mutex_unlock(&lock);
	return a.handle;
}

static void *sleeper(void *arg)
{
	(void)arg;
	register_self(NULL);
	for (;;)
		pause();
	return NULL;
}

static void *exiter(void *arg)
{
	(void)arg;
	register_self(NULL);
	return NULL;
}

static void *waiter(void *arg)
{
	struct sigwake_wait_args a = {
		.size = sizeof(a),
		.wq = *(uint32_t *)arg,
		.timeout_ns = SIGWAKE_TIMEOUT_NONE,
	};
	struct sigwake_thread_block *blk;

	register_self(&blk);
	__atomic_store_n(&waiter_blk, blk, __ATOMIC_SEQ_CST);
	ioctl(fd, SIGWAKE_IOC_WAIT, &a);
	for (;;)
		pause();
	return NULL;
}

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

/* stdin is a pipe or a file that the caller may close to stop us. */
static int stdin_watchable(void)
{
	struct stat st;

	return !isatty(0) && !fstat(0, &st) && !S_ISCHR(st.st_mode);
}

int main(int argc, char **argv)
{
	unsigned int threads = 1, queues = 0, exited = 0, i;
	int o, signo = 0, seconds = 3600, do_wait = 0;
	struct sigaction sa = { .sa_handler = on_stop };
	uint32_t wq = 0, handle;
	pthread_t th;

	while ((o = getopt(argc, argv, "t:q:e:p:ws:")) != -1) {
		switch (o) {
		case 't': threads = (unsigned int)atoi(optarg); break;
		case 'q': queues = (unsigned int)atoi(optarg); break;
		case 'e': exited = (unsigned int)atoi(optarg); break;
		case 'p': signo = atoi(optarg); break;
		case 'w': do_wait = 1; break;
		case 's': seconds = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-t threads] [-q queues] [-e exited] [-p signo] [-w] [-s seconds]\n",
				argv[0]);
			return 2;
		}
	}
	if (threads < 1 || threads + exited + 1 > 64) {
		fprintf(stderr, "sigwake_hold: 1 to 63 threads\n");
		return 2;
	}

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	blocks = mmap(NULL, 64 * sizeof(*blocks), PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (blocks == MAP_FAILED)
		die("mmap");
	fd = open(SIGWAKE_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("open " SIGWAKE_DEVICE);

	handle = register_self(NULL);
	for (i = 1; i < threads; i++)
		if (pthread_create(&th, NULL, sleeper, NULL))
			die("pthread_create");
	for (i = 0; i < queues; i++) {
		struct sigwake_wq_create_args a = { .size = sizeof(a) };

		if (ioctl(fd, SIGWAKE_IOC_WQ_CREATE, &a) < 0)
			die("SIGWAKE_IOC_WQ_CREATE");
		if (!wq)
			wq = a.handle;
	}
	for (i = 0; i < exited; i++) {
		if (pthread_create(&th, NULL, exiter, NULL))
			die("pthread_create");
		pthread_join(th, NULL);
	}
	if (do_wait) {
		if (!wq) {
			fprintf(stderr, "sigwake_hold: -w needs a queue (-q)\n");
			return 2;
		}
		if (pthread_create(&th, NULL, waiter, &wq))
			die("pthread_create");
	}
	/* Wait until every thread registered. */
	for (;;) {
		pthread_mutex_lock(&lock);
		i = next_block;
		pthread_mutex_unlock(&lock);
		if (i >= threads + exited + (unsigned int)do_wait)
			break;
		usleep(1000);
	}
	while (do_wait) {
		struct sigwake_thread_block *b;

		b = __atomic_load_n(&waiter_blk, __ATOMIC_SEQ_CST);
		if (b && __atomic_load_n(&b->state, __ATOMIC_SEQ_CST) ==
			 SIGWAKE_WAITING)
			break;
		usleep(1000);
	}
	if (signo) {
		struct sigwake_post_args a = {
			.size = sizeof(a),
			.target = handle,
			.signo = (uint32_t)signo,
		};

		if (ioctl(fd, SIGWAKE_IOC_POST, &a) < 0)
			die("SIGWAKE_IOC_POST");
	}

	printf("ready pid=%d\n", (int)getpid());
	fflush(stdout);

	if (stdin_watchable()) {
		struct pollfd p = { .fd = 0, .events = POLLIN };
		char buf[64];

		while (!stop && seconds-- > 0) {
			if (poll(&p, 1, 1000) > 0 && read(0, buf, sizeof(buf)) <= 0)
				break;
		}
	} else {
		while (!stop && seconds-- > 0)
			sleep(1);
	}

	if (do_wait) {
		struct sigwake_wake_args w = {
			.size = sizeof(w),
			.wq = wq,
			.nr = 1,
		};

		if (ioctl(fd, SIGWAKE_IOC_WAKE, &w) < 0)
			die("SIGWAKE_IOC_WAKE");
	}
	struct sigwake_unregister_args u = {
		.size = sizeof(u),
		.handle = handle,
	};
	if (ioctl(fd, SIGWAKE_IOC_UNREGISTER, &u) < 0)
		die("SIGWAKE_IOC_UNREGISTER");
	close(fd);
	return 0;
}
