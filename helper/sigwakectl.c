// SPDX-License-Identifier: GPL-2.0
/*
 * sigwakectl: look at the domains and threads of the sigwake module, and
 * watch them come and go, over its generic netlink family
 * (Documentation/netlink/specs/sigwake.yaml).
 *
 *	sigwakectl [--json] list | show <pid|domain-id> | threads <domain-id>
 *			   | stats | monitor
 *
 * One libnl-genl socket for requests; "monitor" joins the multicast group on
 * a second one, as the netlink documentation recommends.  Extended acks are
 * requested and printed.
 *
 * Exit status: 0 ok, 1 error, 2 usage, 3 module not loaded, 4 permission.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include <linux/sigwake.h>

#include "sigwake_nl.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

#define PROG "sigwakectl"

enum {
	EXIT_OK = 0,
	EXIT_ERROR = 1,
	EXIT_USAGE = 2,
	EXIT_NOMODULE = 3,
	EXIT_PERM = 4,
};

static bool opt_json;

/* ------------------------------------------------------------ data */

static const char *const counter_names[SIGWAKE_NL_A_CNT_MAX + 1] = {
	[SIGWAKE_NL_A_CNT_POSTS] = "posts",
	[SIGWAKE_NL_A_CNT_WAKES] = "wakes",
	[SIGWAKE_NL_A_CNT_KICKS] = "kicks",
	[SIGWAKE_NL_A_CNT_WAITS] = "waits",
	[SIGWAKE_NL_A_CNT_TIMEOUTS] = "timeouts",
	[SIGWAKE_NL_A_CNT_INTERRUPTED] = "interrupted",
	[SIGWAKE_NL_A_CNT_FORWARDS] = "forwards",
	[SIGWAKE_NL_A_CNT_PREEMPTIONS] = "preemptions",
};

struct counters {
	uint64_t v[SIGWAKE_NL_A_CNT_MAX + 1];
};

struct domain {
	uint32_t id;
	uint32_t pid;
	uint32_t uid;
	uint32_t nr_threads;
	uint32_t nr_queues;
	uint64_t pinned;
	uint64_t queued;
	char comm[64];
	struct counters cnt;
};

struct thread {
	uint32_t domain;
	uint32_t handle;
	uint32_t tid;		/* 0: not known (exited) */
	uint32_t kick_signo;
	bool exited;
	bool waiting;
	bool has_block;
	uint32_t state;
	uint32_t flags;
	uint64_t pending;
	uint64_t blocked;
	uint64_t wake_seq;
	struct counters cnt;
};

/* A growable array of fixed-size records. */
struct vec {
	void *data;
	size_t len;
	size_t cap;
	size_t size;
};

static void *vec_push(struct vec *v)
{
	void *p;

	if (v->len == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 16;

		p = realloc(v->data, cap * v->size);
		if (!p)
			return NULL;
		v->data = p;
		v->cap = cap;
	}
	p = (char *)v->data + v->len++ * v->size;
	memset(p, 0, v->size);
	return p;
}

/* ------------------------------------------------------------ output */

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static const char *state_name(uint32_t state)
{
	switch (state) {
	case SIGWAKE_RUNNING_IN_HOST:	return "host";
	case SIGWAKE_RUNNING_IN_GUEST:	return "guest";
	case SIGWAKE_IN_SYSCALL:	return "syscall";
	case SIGWAKE_WAITING:		return "waiting";
	case SIGWAKE_WOKEN:		return "woken";
	default:			return NULL;
	}
}

/* "guest", or "7?" for a value the runtime wrote that has no name. */
static const char *state_str(uint32_t state, char *buf, size_t len)
{
	const char *name = state_name(state);

	if (name)
		return name;
	snprintf(buf, len, "%" PRIu32 "?", state);
	return buf;
}

static const char *flags_str(uint32_t flags, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	if (flags & SIGWAKE_TF_KICKED)
		n += snprintf(buf + n, len - n, "kicked");
	if (flags & SIGWAKE_TF_PREEMPTED)
		n += snprintf(buf + n, len - n, "%spreempted", n ? "," : "");
	if (flags & SIGWAKE_TF_KICK_REQUESTED)
		n += snprintf(buf + n, len - n, "%skick-requested",
			      n ? "," : "");
	flags &= ~(SIGWAKE_TF_KICKED | SIGWAKE_TF_PREEMPTED |
		   SIGWAKE_TF_KICK_REQUESTED);
	if (flags && n < len)
		n += snprintf(buf + n, len - n, "%s%#" PRIx32, n ? "," : "",
			      flags);
	if (!n)
		snprintf(buf, len, "-");
	return buf;
}

/* A signal set as ranges of signal numbers: "2,10-12"; "-" if empty. */
static const char *sigset_str(uint64_t set, char *buf, size_t len)
{
	size_t n = 0;
	int sig, end;

	buf[0] = '\0';
	for (sig = 1; sig <= SIGWAKE_NSIG && n < len; sig++) {
		if (!(set & (1ULL << (sig - 1))))
			continue;
		for (end = sig; end < SIGWAKE_NSIG &&
		     (set & (1ULL << end)); end++)
			;
		if (end == sig)
			n += snprintf(buf + n, len - n, "%s%d", n ? "," : "",
				      sig);
		else
			n += snprintf(buf + n, len - n, "%s%d-%d",
				      n ? "," : "", sig, end);
		sig = end;
	}
	if (!n)
		snprintf(buf, len, "-");
	return buf;
}

static void json_sigset(uint64_t set)
{
	bool first = true;
	int sig;

	putchar('[');
	for (sig = 1; sig <= SIGWAKE_NSIG; sig++) {
		if (set & (1ULL << (sig - 1))) {
			printf("%s%d", first ? "" : ",", sig);
			first = false;
		}
	}
	putchar(']');
}

static void json_counters(const struct counters *c)
{
	int i;

	putchar('{');
	for (i = SIGWAKE_NL_A_CNT_POSTS; i <= SIGWAKE_NL_A_CNT_MAX; i++)
		printf("%s\"%s\":%" PRIu64, i == SIGWAKE_NL_A_CNT_POSTS ?
		       "" : ",", counter_names[i], c->v[i]);
	putchar('}');
}

static void json_domain_fields(const struct domain *d)
{
	printf("\"domain\":%" PRIu32 ",\"pid\":%" PRIu32 ",\"comm\":",
	       d->id, d->pid);
	json_str(d->comm);
	printf(",\"uid\":%" PRIu32 ",\"threads\":%" PRIu32
	       ",\"queues\":%" PRIu32 ",\"pinned_pages\":%" PRIu64
	       ",\"queued\":", d->uid, d->nr_threads, d->nr_queues,
	       d->pinned);
	json_sigset(d->queued);
	printf(",\"counters\":");
	json_counters(&d->cnt);
}

static void json_thread(const struct thread *t)
{
	char buf[16];

	printf("{\"domain\":%" PRIu32 ",\"handle\":%" PRIu32,
	       t->domain, t->handle);
	if (t->tid)
		printf(",\"tid\":%" PRIu32, t->tid);
	else
		printf(",\"tid\":null");
	printf(",\"kick_signo\":%" PRIu32 ",\"exited\":%s,\"waiting\":%s",
	       t->kick_signo, t->exited ? "true" : "false",
	       t->waiting ? "true" : "false");
	if (t->has_block) {
		printf(",\"state\":");
		json_str(state_str(t->state, buf, sizeof(buf)));
		printf(",\"flags\":%" PRIu32 ",\"pending\":", t->flags);
		json_sigset(t->pending);
		printf(",\"blocked\":");
		json_sigset(t->blocked);
		printf(",\"wake_seq\":%" PRIu64, t->wake_seq);
	}
	printf(",\"counters\":");
	json_counters(&t->cnt);
	putchar('}');
}

static void print_thread_header(void)
{
	printf("%7s %8s %-9s %-16s %-12s %-12s %8s %8s %8s %8s\n",
	       "HANDLE", "TID", "STATE", "FLAGS", "PENDING", "BLOCKED",
	       "WAKE_SEQ", "POSTS", "WAITS", "KICKS");
}

static void print_thread(const struct thread *t)
{
	char st[16], fl[40], pe[80], bl[80], tid[16], seq[24];

	if (t->tid)
		snprintf(tid, sizeof(tid), "%" PRIu32, t->tid);
	else
		snprintf(tid, sizeof(tid), "-");
	if (t->has_block) {
		snprintf(seq, sizeof(seq), "%" PRIu64, t->wake_seq);
		printf("%7" PRIu32 " %8s %-9s %-16s %-12s %-12s %8s",
		       t->handle, tid,
		       t->waiting ? "waiting" :
				state_str(t->state, st, sizeof(st)),
		       flags_str(t->flags, fl, sizeof(fl)),
		       sigset_str(t->pending, pe, sizeof(pe)),
		       sigset_str(t->blocked, bl, sizeof(bl)), seq);
	} else {
		printf("%7" PRIu32 " %8s %-9s %-16s %-12s %-12s %8s",
		       t->handle, tid, t->exited ? "exited" : "gone",
		       "-", "-", "-", "-");
	}
	printf(" %8" PRIu64 " %8" PRIu64 " %8" PRIu64 "\n",
	       t->cnt.v[SIGWAKE_NL_A_CNT_POSTS],
	       t->cnt.v[SIGWAKE_NL_A_CNT_WAITS],
	       t->cnt.v[SIGWAKE_NL_A_CNT_KICKS]);
}

/* ------------------------------------------------------------ netlink */

struct ctl {
	struct nl_sock *sk;
	int family;
};

/* The outcome of one request, and what to do with each answer. */
struct reply {
	struct sigwake_nl_ack ack;
	int (*parse)(struct nlattr **tb, void *arg);
	void *arg;
};

static uint32_t get_u32(struct nlattr **tb, int type)
{
	return tb[type] ? nla_get_u32(tb[type]) : 0;
}

static uint64_t get_u64(struct nlattr **tb, int type)
{
	return tb[type] ? nla_get_u64(tb[type]) : 0;
}

static void parse_counters(struct nlattr *nest, struct counters *c)
{
	sigwake_nl_counters(nest, c->v);
}

static void parse_domain(struct nlattr **tb, struct domain *d)
{
	d->id = get_u32(tb, SIGWAKE_NL_A_DOMAIN_ID);
	d->pid = get_u32(tb, SIGWAKE_NL_A_PID);
	d->uid = get_u32(tb, SIGWAKE_NL_A_UID);
	d->nr_threads = get_u32(tb, SIGWAKE_NL_A_NR_THREADS);
	d->nr_queues = get_u32(tb, SIGWAKE_NL_A_NR_QUEUES);
	d->pinned = get_u64(tb, SIGWAKE_NL_A_PINNED_PAGES);
	d->queued = get_u64(tb, SIGWAKE_NL_A_QUEUED);
	snprintf(d->comm, sizeof(d->comm), "%s",
		 tb[SIGWAKE_NL_A_COMM] ? nla_get_string(tb[SIGWAKE_NL_A_COMM]) :
					 "");
	parse_counters(tb[SIGWAKE_NL_A_COUNTERS], &d->cnt);
}

static void parse_thread(struct nlattr **tb, struct thread *t)
{
	t->domain = get_u32(tb, SIGWAKE_NL_A_DOMAIN_ID);
	t->handle = get_u32(tb, SIGWAKE_NL_A_HANDLE);
	t->tid = get_u32(tb, SIGWAKE_NL_A_TID);
	t->kick_signo = get_u32(tb, SIGWAKE_NL_A_KICK_SIGNO);
	t->exited = tb[SIGWAKE_NL_A_EXITED];
	t->waiting = tb[SIGWAKE_NL_A_WAITING];
	t->has_block = tb[SIGWAKE_NL_A_STATE];
	t->state = get_u32(tb, SIGWAKE_NL_A_STATE);
	t->flags = get_u32(tb, SIGWAKE_NL_A_FLAGS);
	t->pending = get_u64(tb, SIGWAKE_NL_A_PENDING);
	t->blocked = get_u64(tb, SIGWAKE_NL_A_BLOCKED);
	t->wake_seq = get_u64(tb, SIGWAKE_NL_A_WAKE_SEQ);
	parse_counters(tb[SIGWAKE_NL_A_COUNTERS], &t->cnt);
}

static int on_valid(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[SIGWAKE_NL_A_MAX + 1];
	struct reply *r = arg;

	if (sigwake_nl_parse(nlmsg_hdr(msg), tb) < 0) {
		fprintf(stderr, PROG ": skipping a malformed message\n");
		return NL_SKIP;
	}
	if (r->parse && r->parse(tb, r->arg) < 0) {
		r->ack.err = -ENOMEM;
		return NL_STOP;
	}
	return NL_OK;
}

/* Exit status for a failed request. */
static int errno_status(int err)
{
	return err == EPERM || err == EACCES ? EXIT_PERM : EXIT_ERROR;
}

static int report(const char *what, const struct reply *r)
{
	int err = -r->ack.err;

	/* The kernel's own words first, when it sent some. */
	if (r->ack.msg[0])
		fprintf(stderr, PROG ": %s: %s (%s)", what, r->ack.msg,
			strerror(err));
	else
		fprintf(stderr, PROG ": %s: %s", what, strerror(err));
	if (r->ack.miss_type)
		fprintf(stderr, " (missing attribute %d)", r->ack.miss_type);
	if (err == EPERM || err == EACCES)
		fprintf(stderr, " (permission denied: this needs CAP_SYS_ADMIN)");
	fputc('\n', stderr);
	return errno_status(err);
}

static void nl_socket_ext_ack(struct nl_sock *sk)
{
	int one = 1;

	/* Best effort: kernels without extended acks still answer. */
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK,
		   &one, sizeof(one));
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_CAP_ACK,
		   &one, sizeof(one));
}

static int ctl_open(struct ctl *c)
{
	int ret;

	c->sk = nl_socket_alloc();
	if (!c->sk) {
		fprintf(stderr, PROG ": out of memory\n");
		return EXIT_ERROR;
	}
	ret = genl_connect(c->sk);
	if (ret < 0) {
		fprintf(stderr, PROG ": cannot open a generic netlink socket: %s\n",
			nl_geterror(ret));
		return EXIT_ERROR;
	}
	nl_socket_ext_ack(c->sk);
	c->family = genl_ctrl_resolve(c->sk, SIGWAKE_GENL_NAME);
	if (c->family == -NLE_OBJ_NOTFOUND) {
		fprintf(stderr, PROG ": sigwake module not loaded (genetlink family '%s' not found)\n",
			SIGWAKE_GENL_NAME);
		return EXIT_NOMODULE;
	}
	if (c->family < 0) {
		fprintf(stderr, PROG ": cannot resolve genetlink family '%s': %s\n",
			SIGWAKE_GENL_NAME, nl_geterror(c->family));
		return c->family == -NLE_PERM ? EXIT_PERM : EXIT_ERROR;
	}
	return EXIT_OK;
}

static void ctl_close(struct ctl *c)
{
	nl_socket_free(c->sk);
	c->sk = NULL;
}

/*
 * Send one request (a dump if @dump) and feed each answer to r->parse.
 * Returns 0, or the exit status after printing why.
 */
static int ctl_request(struct ctl *c, uint8_t cmd, bool dump,
		       uint32_t domain_id, struct reply *r, const char *what)
{
	struct nl_msg *msg;
	struct nl_cb *cb;
	int ret;

	msg = nlmsg_alloc();
	cb = nl_cb_alloc(NL_CB_CUSTOM);
	if (!msg || !cb) {
		fprintf(stderr, PROG ": out of memory\n");
		nlmsg_free(msg);
		nl_cb_put(cb);
		return EXIT_ERROR;
	}
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, c->family, 0,
			 dump ? NLM_F_DUMP : NLM_F_ACK, cmd,
			 SIGWAKE_GENL_VERSION) ||
	    (domain_id && nla_put_u32(msg, SIGWAKE_NL_A_DOMAIN_ID, domain_id))) {
		fprintf(stderr, PROG ": cannot build the request\n");
		ret = EXIT_ERROR;
		goto out;
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, r);
	sigwake_nl_ack_cb(cb, &r->ack);

	ret = nl_send_auto(c->sk, msg);
	if (ret < 0) {
		fprintf(stderr, PROG ": %s: %s\n", what, nl_geterror(ret));
		ret = EXIT_ERROR;
		goto out;
	}
	while (!r->ack.done && !r->ack.err) {
		ret = nl_recvmsgs(c->sk, cb);
		if (ret < 0 && !r->ack.err) {
			fprintf(stderr, PROG ": %s: %s\n", what,
				nl_geterror(ret));
			ret = ret == -NLE_PERM ? EXIT_PERM : EXIT_ERROR;
			goto out;
		}
	}
	ret = r->ack.err ? report(what, r) : EXIT_OK;
out:
	nl_cb_put(cb);
	nlmsg_free(msg);
	return ret;
}

static int add_domain(struct nlattr **tb, void *arg)
{
	struct domain *d = vec_push(arg);

	if (!d)
		return -1;
	parse_domain(tb, d);
	return 0;
}

static int add_thread(struct nlattr **tb, void *arg)
{
	struct thread *t = vec_push(arg);

	if (!t)
		return -1;
	parse_thread(tb, t);
	return 0;
}

static int get_domains(struct ctl *c, struct vec *out)
{
	struct reply r = { .parse = add_domain, .arg = out };

	out->size = sizeof(struct domain);
	return ctl_request(c, SIGWAKE_NL_CMD_DOMAIN_GET, true, 0, &r,
			   "domains");
}

static int get_threads(struct ctl *c, uint32_t domain, struct vec *out)
{
	struct reply r = { .parse = add_thread, .arg = out };
	char what[64];

	snprintf(what, sizeof(what), "threads of domain %" PRIu32, domain);
	out->size = sizeof(struct thread);
	return ctl_request(c, SIGWAKE_NL_CMD_THREAD_GET, true, domain, &r,
			   what);
}

/* ------------------------------------------------------------ commands */

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args;
	const char *operands;
	const char *summary;
	const char *help;
};

static const struct command *find_command(const char *name);

static int command_help(const struct command *cmd, FILE *f)
{
	fprintf(f, "Usage: " PROG " %s%s%s\n\n%s", cmd->name,
		cmd->args[0] ? " " : "", cmd->args, cmd->help);
	return f == stdout ? EXIT_OK : EXIT_USAGE;
}

/*
 * Options every listing takes (-j/--json, -h/--help) plus @extra.
 * Returns -1 to go on, or an exit status.
 */
static int parse_opts(const struct command *cmd, int argc, char **argv,
		      int *pid_only)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "pid", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "+jhp", opts, NULL)) != -1) {
		switch (o) {
		case 'j':
			opt_json = true;
			break;
		case 'h':
			return command_help(cmd, stdout);
		case 'p':
			if (pid_only) {
				*pid_only = 1;
				break;
			}
			/* fall through */
		default:
			fprintf(stderr, PROG " %s: unknown option '%s'\n\n",
				cmd->name, argv[optind - 1]);
			return command_help(cmd, stderr);
		}
	}
	return -1;
}

static bool parse_u32(const char *s, uint32_t *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

static void print_domain_header(void)
{
	printf("%6s %8s %-16s %6s %7s %6s %6s %10s %10s %10s\n",
	       "DOMAIN", "PID", "COMM", "UID", "THREADS", "QUEUES", "PINNED",
	       "POSTS", "WAKES", "WAITS");
}

static void print_domain_row(const struct domain *d)
{
	printf("%6" PRIu32 " %8" PRIu32 " %-16s %6" PRIu32 " %7" PRIu32
	       " %6" PRIu32 " %6" PRIu64 " %10" PRIu64 " %10" PRIu64
	       " %10" PRIu64 "\n",
	       d->id, d->pid, d->comm, d->uid, d->nr_threads, d->nr_queues,
	       d->pinned, d->cnt.v[SIGWAKE_NL_A_CNT_POSTS],
	       d->cnt.v[SIGWAKE_NL_A_CNT_WAKES],
	       d->cnt.v[SIGWAKE_NL_A_CNT_WAITS]);
}

static int cmd_list(int argc, char **argv)
{
	struct vec doms = { 0 };
	struct ctl c = { 0 };
	size_t i;
	int ret;

	ret = parse_opts(find_command("list"), argc, argv, NULL);
	if (ret >= 0)
		return ret;
	if (optind != argc)
		return command_help(find_command("list"), stderr);

	ret = ctl_open(&c);
	if (!ret)
		ret = get_domains(&c, &doms);
	if (c.sk)
		ctl_close(&c);
	if (ret)
		goto out;

	if (opt_json) {
		putchar('[');
		for (i = 0; i < doms.len; i++) {
			printf("%s{", i ? "," : "");
			json_domain_fields((struct domain *)doms.data + i);
			putchar('}');
		}
		printf("]\n");
	} else {
		print_domain_header();
		for (i = 0; i < doms.len; i++)
			print_domain_row((struct domain *)doms.data + i);
	}
out:
	free(doms.data);
	return ret;
}

static void print_domain_block(const struct domain *d,
			       const struct vec *threads)
{
	char q[80];
	size_t i;
	int k;

	printf("domain %" PRIu32 ": pid %" PRIu32 " (%s), uid %" PRIu32 "\n",
	       d->id, d->pid, d->comm, d->uid);
	printf("  threads %" PRIu32 ", queues %" PRIu32 ", pinned pages %"
	       PRIu64 ", queued signals %s\n", d->nr_threads, d->nr_queues,
	       d->pinned, sigset_str(d->queued, q, sizeof(q)));
	printf("  ");
	for (k = SIGWAKE_NL_A_CNT_POSTS; k <= SIGWAKE_NL_A_CNT_MAX; k++)
		printf("%s%s %" PRIu64, k == SIGWAKE_NL_A_CNT_POSTS ? "" : ", ",
		       counter_names[k], d->cnt.v[k]);
	printf("\n");
	if (!threads->len)
		return;
	printf("\n");
	print_thread_header();
	for (i = 0; i < threads->len; i++)
		print_thread((struct thread *)threads->data + i);
}

static int cmd_show(int argc, char **argv)
{
	const struct command *cmd = find_command("show");
	struct vec doms = { 0 };
	struct ctl c = { 0 };
	int pid_only = 0, ret, shown = 0;
	bool by_id = false;
	uint32_t n;
	size_t i;

	ret = parse_opts(cmd, argc, argv, &pid_only);
	if (ret >= 0)
		return ret;
	if (optind != argc - 1 || !parse_u32(argv[optind], &n))
		return command_help(cmd, stderr);

	ret = ctl_open(&c);
	if (!ret)
		ret = get_domains(&c, &doms);
	if (ret)
		goto out;

	/* A number is a domain id if one is visible, else a pid. */
	for (i = 0; i < doms.len && !pid_only; i++)
		by_id |= ((struct domain *)doms.data)[i].id == n;

	if (opt_json)
		putchar('[');
	for (i = 0; i < doms.len; i++) {
		struct domain *d = (struct domain *)doms.data + i;
		struct vec threads = { 0 };
		size_t j;

		if (by_id ? d->id != n : d->pid != n)
			continue;
		ret = get_threads(&c, d->id, &threads);
		if (ret) {
			free(threads.data);
			break;
		}
		if (opt_json) {
			printf("%s{", shown ? "," : "");
			json_domain_fields(d);
			printf(",\"thread_list\":[");
			for (j = 0; j < threads.len; j++) {
				if (j)
					putchar(',');
				json_thread((struct thread *)threads.data + j);
			}
			printf("]}");
		} else {
			if (shown)
				printf("\n");
			print_domain_block(d, &threads);
		}
		shown++;
		free(threads.data);
	}
	if (opt_json)
		printf("]\n");
	if (!ret && !shown) {
		fprintf(stderr, PROG ": no visible domain %s %" PRIu32 "\n",
			pid_only ? "of process" : "or process", n);
		ret = EXIT_ERROR;
	}
out:
	if (c.sk)
		ctl_close(&c);
	free(doms.data);
	return ret;
}

static int cmd_threads(int argc, char **argv)
{
	const struct command *cmd = find_command("threads");
	struct vec threads = { 0 };
	struct ctl c = { 0 };
	uint32_t id;
	size_t i;
	int ret;

	ret = parse_opts(cmd, argc, argv, NULL);
	if (ret >= 0)
		return ret;
	if (optind != argc - 1 || !parse_u32(argv[optind], &id))
		return command_help(cmd, stderr);

	ret = ctl_open(&c);
	if (!ret)
		ret = get_threads(&c, id, &threads);
	if (c.sk)
		ctl_close(&c);
	if (ret)
		goto out;

	if (opt_json) {
		putchar('[');
		for (i = 0; i < threads.len; i++) {
			if (i)
				putchar(',');
			json_thread((struct thread *)threads.data + i);
		}
		printf("]\n");
	} else {
		print_thread_header();
		for (i = 0; i < threads.len; i++)
			print_thread((struct thread *)threads.data + i);
	}
out:
	free(threads.data);
	return ret;
}

static int cmd_stats(int argc, char **argv)
{
	struct vec doms = { 0 };
	struct counters total = { { 0 } };
	struct ctl c = { 0 };
	size_t i;
	int k, ret;

	ret = parse_opts(find_command("stats"), argc, argv, NULL);
	if (ret >= 0)
		return ret;
	if (optind != argc)
		return command_help(find_command("stats"), stderr);

	ret = ctl_open(&c);
	if (!ret)
		ret = get_domains(&c, &doms);
	if (c.sk)
		ctl_close(&c);
	if (ret)
		goto out;

	for (i = 0; i < doms.len; i++)
		for (k = SIGWAKE_NL_A_CNT_POSTS; k <= SIGWAKE_NL_A_CNT_MAX; k++)
			total.v[k] += ((struct domain *)doms.data)[i].cnt.v[k];

	if (opt_json) {
		printf("{\"domains\":[");
		for (i = 0; i < doms.len; i++) {
			struct domain *d = (struct domain *)doms.data + i;

			printf("%s{\"domain\":%" PRIu32 ",\"pid\":%" PRIu32
			       ",\"comm\":", i ? "," : "", d->id, d->pid);
			json_str(d->comm);
			printf(",\"counters\":");
			json_counters(&d->cnt);
			putchar('}');
		}
		printf("],\"total\":");
		json_counters(&total);
		printf("}\n");
		goto out;
	}

	printf("%6s %-16s", "DOMAIN", "COMM");
	for (k = SIGWAKE_NL_A_CNT_POSTS; k <= SIGWAKE_NL_A_CNT_MAX; k++)
		printf(" %11s", counter_names[k]);
	printf("\n");
	for (i = 0; i < doms.len; i++) {
		struct domain *d = (struct domain *)doms.data + i;

		printf("%6" PRIu32 " %-16s", d->id, d->comm);
		for (k = SIGWAKE_NL_A_CNT_POSTS; k <= SIGWAKE_NL_A_CNT_MAX; k++)
			printf(" %11" PRIu64, d->cnt.v[k]);
		printf("\n");
	}
	printf("%6s %-16s", "total", "");
	for (k = SIGWAKE_NL_A_CNT_POSTS; k <= SIGWAKE_NL_A_CNT_MAX; k++)
		printf(" %11" PRIu64, total.v[k]);
	printf("\n");
out:
	free(doms.data);
	return ret;
}

/* ------------------------------------------------------------ monitor */

static volatile sig_atomic_t stop_signal;
static unsigned long events_seen;
static unsigned long events_max;
static bool opt_timestamps;

static void on_stop(int sig)
{
	stop_signal = sig;
}

static const char *event_name(uint8_t cmd)
{
	switch (cmd) {
	case SIGWAKE_NL_CMD_DOMAIN_NEW:		return "domain_new";
	case SIGWAKE_NL_CMD_DOMAIN_DEL:		return "domain_del";
	case SIGWAKE_NL_CMD_THREAD_NEW:		return "thread_new";
	case SIGWAKE_NL_CMD_THREAD_DEL:		return "thread_del";
	case SIGWAKE_NL_CMD_FORWARD_CHANGE:	return "forward_change";
	default:				return NULL;
	}
}

static const char *reason_name(uint32_t reason)
{
	switch (reason) {
	case SIGWAKE_NL_DEL_UNREGISTER:	return "unregister";
	case SIGWAKE_NL_DEL_EXIT:	return "exit";
	case SIGWAKE_NL_DEL_CLOSE:	return "close";
	default:			return "unknown";
	}
}

static void print_time(void)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	if (opt_json)
		printf("\"time\":\"%02d:%02d:%02d.%06ld\",", tm.tm_hour,
		       tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
	else
		printf("%02d:%02d:%02d.%06ld ", tm.tm_hour, tm.tm_min,
		       tm.tm_sec, ts.tv_nsec / 1000);
}

static void print_target(uint32_t target)
{
	if (target == SIGWAKE_TARGET_ANY)
		printf(opt_json ? "\"any\"" : "any");
	else
		printf("%" PRIu32, target);
}

static void print_event(uint8_t cmd, struct nlattr **tb)
{
	const char *name = event_name(cmd);
	struct domain d = { 0 };
	struct thread t = { 0 };
	uint32_t reason;
	int k;

	if (!name)
		return;
	if (opt_json)
		putchar('{');
	if (opt_timestamps)
		print_time();
	if (opt_json)
		printf("\"event\":\"%s\",", name);
	else
		printf("%-14s", name);

	switch (cmd) {
	case SIGWAKE_NL_CMD_DOMAIN_NEW:
	case SIGWAKE_NL_CMD_DOMAIN_DEL:
		parse_domain(tb, &d);
		if (opt_json) {
			json_domain_fields(&d);
			break;
		}
		printf(" domain=%" PRIu32 " pid=%" PRIu32 " comm=%s uid=%"
		       PRIu32, d.id, d.pid, d.comm, d.uid);
		if (cmd == SIGWAKE_NL_CMD_DOMAIN_DEL)
			for (k = SIGWAKE_NL_A_CNT_POSTS;
			     k <= SIGWAKE_NL_A_CNT_MAX; k++)
				printf(" %s=%" PRIu64, counter_names[k],
				       d.cnt.v[k]);
		break;
	case SIGWAKE_NL_CMD_THREAD_NEW:
	case SIGWAKE_NL_CMD_THREAD_DEL:
		parse_thread(tb, &t);
		reason = get_u32(tb, SIGWAKE_NL_A_REASON);
		if (opt_json) {
			printf("\"domain\":%" PRIu32 ",\"handle\":%" PRIu32
			       ",\"tid\":%" PRIu32 ",\"kick_signo\":%" PRIu32,
			       t.domain, t.handle, t.tid, t.kick_signo);
			if (cmd == SIGWAKE_NL_CMD_THREAD_DEL) {
				printf(",\"reason\":\"%s\",\"counters\":",
				       reason_name(reason));
				json_counters(&t.cnt);
			}
			break;
		}
		printf(" domain=%" PRIu32 " handle=%" PRIu32 " tid=%" PRIu32,
		       t.domain, t.handle, t.tid);
		if (cmd == SIGWAKE_NL_CMD_THREAD_DEL)
			printf(" reason=%s", reason_name(reason));
		else
			printf(" kick_signo=%" PRIu32, t.kick_signo);
		break;
	case SIGWAKE_NL_CMD_FORWARD_CHANGE:
		printf(opt_json ? "\"domain\":%" PRIu32 ",\"host_signo\":%"
				  PRIu32 : " domain=%" PRIu32 " host_signo=%"
				  PRIu32,
		       get_u32(tb, SIGWAKE_NL_A_DOMAIN_ID),
		       get_u32(tb, SIGWAKE_NL_A_HOST_SIGNO));
		if (tb[SIGWAKE_NL_A_FORWARD_REMOVED]) {
			printf(opt_json ? ",\"removed\":true" : " removed");
			break;
		}
		printf(opt_json ? ",\"removed\":false,\"guest_signo\":%" PRIu32
				  ",\"target\":" :
				  " guest_signo=%" PRIu32 " target=",
		       get_u32(tb, SIGWAKE_NL_A_GUEST_SIGNO));
		print_target(get_u32(tb, SIGWAKE_NL_A_TARGET));
		break;
	}
	printf(opt_json ? "}\n" : "\n");
	fflush(stdout);
	events_seen++;
}

static int on_event(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct nlattr *tb[SIGWAKE_NL_A_MAX + 1];
	struct genlmsghdr *gh = nlmsg_data(nlh);

	(void)arg;
	if (sigwake_nl_parse(nlh, tb) < 0)
		return NL_SKIP;
	print_event(gh->cmd, tb);
	if (events_max && events_seen >= events_max)
		return NL_STOP;
	return NL_OK;
}

static int cmd_monitor(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "count", required_argument, NULL, 'n' },
		{ "timestamps", no_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *cmd = find_command("monitor");
	struct sigaction sa = { .sa_handler = on_stop };
	struct nl_sock *ev = NULL;
	sigset_t block, orig;
	struct pollfd pfd;
	struct ctl c = { 0 };
	uint32_t count;
	int o, grp, ret;

	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "+jhn:t", opts, NULL)) != -1) {
		switch (o) {
		case 'j':
			opt_json = true;
			break;
		case 'h':
			return command_help(cmd, stdout);
		case 'n':
			if (!parse_u32(optarg, &count))
				return command_help(cmd, stderr);
			events_max = count;
			break;
		case 't':
			opt_timestamps = true;
			break;
		default:
			fprintf(stderr, PROG " monitor: unknown option '%s'\n\n",
				argv[optind - 1]);
			return command_help(cmd, stderr);
		}
	}
	if (optind != argc)
		return command_help(cmd, stderr);

	ret = ctl_open(&c);
	if (ret)
		goto out;
	grp = genl_ctrl_resolve_grp(c.sk, SIGWAKE_GENL_NAME,
				    SIGWAKE_NL_MCGRP_MONITOR);
	if (grp < 0) {
		fprintf(stderr, PROG ": this kernel's sigwake offers no '%s' group (%s)\n",
			SIGWAKE_NL_MCGRP_MONITOR, nl_geterror(grp));
		ret = EXIT_ERROR;
		goto out;
	}

	ev = nl_socket_alloc();
	if (!ev || genl_connect(ev) < 0) {
		fprintf(stderr, PROG ": cannot open the event socket\n");
		ret = EXIT_ERROR;
		goto out;
	}
	nl_socket_disable_seq_check(ev);
	nl_socket_modify_cb(ev, NL_CB_VALID, NL_CB_CUSTOM, on_event, NULL);
	ret = nl_socket_add_membership(ev, grp);
	if (ret < 0) {
		if (ret == -NLE_PERM) {
			fprintf(stderr, PROG ": joining the '%s' group: permission denied (it needs CAP_SYS_ADMIN)\n",
				SIGWAKE_NL_MCGRP_MONITOR);
			ret = EXIT_PERM;
		} else {
			fprintf(stderr, PROG ": joining the '%s' group: %s\n",
				SIGWAKE_NL_MCGRP_MONITOR, nl_geterror(ret));
			ret = EXIT_ERROR;
		}
		goto out;
	}
	nl_socket_set_nonblocking(ev);

	/* Signals are let in only while waiting in ppoll(). */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &orig);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (!opt_json) {
		fprintf(stderr, PROG ": watching '%s' events (Ctrl-C to stop)\n",
			SIGWAKE_NL_MCGRP_MONITOR);
	}

	pfd.fd = nl_socket_get_fd(ev);
	pfd.events = POLLIN;
	ret = EXIT_OK;
	while (!stop_signal && !(events_max && events_seen >= events_max)) {
		if (ppoll(&pfd, 1, NULL, &orig) < 0) {
			if (errno == EINTR)
				continue;
			perror(PROG ": poll");
			ret = EXIT_ERROR;
			break;
		}
		o = nl_recvmsgs_default(ev);
		if (o == -NLE_NOMEM) {
			/* ENOBUFS: the socket overflowed, events were lost. */
			fprintf(stderr, PROG ": events lost (receive buffer overrun)\n");
		} else if (o < 0 && o != -NLE_AGAIN) {
			fprintf(stderr, PROG ": receiving events: %s\n",
				nl_geterror(o));
			ret = EXIT_ERROR;
			break;
		}
	}
out:
	if (ev)
		nl_socket_free(ev);
	if (c.sk)
		ctl_close(&c);
	return ret;
}

/* ------------------------------------------------------------ main */

static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
	{ "list", cmd_list, "[--json]", "",
	  "the domains you can see, one per line",
	  "List every sigwake domain visible to you: its id, owning process\n"
	  "(pid and name), user, registered threads, wait queues, pinned\n"
	  "pages and main counters.  You see the domains your user opened,\n"
	  "in your pid namespace; with CAP_SYS_ADMIN, every domain.\n\n"
	  "  -j, --json   one JSON array of domain objects\n" },
	{ "show", cmd_show, "[--json] [--pid] <domain-id|pid>",
	  "<domain-id|pid>",
	  "one domain, or every domain of a process, with its threads",
	  "Show a domain in full: counters, and each registered thread with\n"
	  "its state, flags, pending and blocked guest signals, wake sequence\n"
	  "and counters.  The number is a domain id if such a domain is\n"
	  "visible, else a process id (all its domains are shown).\n\n"
	  "  -p, --pid    the number is a process id\n"
	  "  -j, --json   a JSON array of domain objects, each with a\n"
	  "               \"thread_list\" array\n" },
	{ "threads", cmd_threads, "[--json] <domain-id>", "<domain-id>",
	  "the threads of a domain",
	  "List the threads registered in a domain.  STATE is the state the\n"
	  "runtime published in the thread block (\"waiting\" when the kernel\n"
	  "holds the thread in SIGWAKE_IOC_WAIT); a thread that exited\n"
	  "without unregistering shows as \"exited\".  PENDING and BLOCKED are\n"
	  "guest signal numbers.\n\n"
	  "  -j, --json   one JSON array of thread objects\n" },
	{ "stats", cmd_stats, "[--json]", "",
	  "event counters of every domain, with totals",
	  "Print every counter (posts, wakes, kicks, waits, timeouts,\n"
	  "interrupted waits, forwarded host signals, preemptions) of each\n"
	  "visible domain, and their totals.\n\n"
	  "  -j, --json   {\"domains\": [...], \"total\": {...}}\n" },
	{ "monitor", cmd_monitor, "[--json] [--timestamps] [--count N]", "",
	  "domain and thread events as they happen, until Ctrl-C",
	  "Join the \"monitor\" multicast group and print each event as it\n"
	  "comes: domain_new, domain_del (with the final counters),\n"
	  "thread_new, thread_del (reason unregister, exit or close) and\n"
	  "forward_change.  Needs CAP_SYS_ADMIN; pids are those of the\n"
	  "initial pid namespace.\n\n"
	  "  -j, --json         one JSON object per line\n"
	  "  -t, --timestamps   prefix each event with the time of day\n"
	  "  -n, --count N      exit after N events\n" },
	{ "help", cmd_help, "[<command>]", "[<command>]",
	  "this text, or the help of one command",
	  "Print the list of commands, or the help of one command.\n" },
};

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static int usage(FILE *f)
{
	size_t i;
	char left[40];

	fprintf(f,
		"Usage: " PROG " [--json] <command> [<args>]\n\n"
		"Looks at the domains and threads of the sigwake module over its\n"
		"generic netlink family.\n\n"
		"Commands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		snprintf(left, sizeof(left), "%s %s", commands[i].name,
			 commands[i].operands);
		fprintf(f, "  %-22s %s\n", left, commands[i].summary);
	}
	fprintf(f,
		"\n`" PROG " <command> --help` describes a command.  Exit status:\n"
		"0 ok, 1 error, 2 usage, 3 module not loaded, 4 permission denied.\n");
	return f == stdout ? EXIT_OK : EXIT_USAGE;
}

static int cmd_help(int argc, char **argv)
{
	const struct command *cmd;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return usage(stdout);
	cmd = find_command(argv[1]);
	if (!cmd) {
		fprintf(stderr, PROG ": unknown command '%s'\n\n", argv[1]);
		return usage(stderr);
	}
	return command_help(cmd, stdout);
}

int main(int argc, char **argv)
{
	const struct command *cmd;

	while (argc > 1 && argv[1][0] == '-') {
		if (!strcmp(argv[1], "--json") || !strcmp(argv[1], "-j")) {
			opt_json = true;
		} else if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
			return usage(stdout);
		} else if (!strcmp(argv[1], "--version")) {
			printf(PROG " 0.1.0 (genetlink family %s, version %d)\n",
			       SIGWAKE_GENL_NAME, SIGWAKE_GENL_VERSION);
			return EXIT_OK;
		} else {
			fprintf(stderr, PROG ": unknown option '%s'\n\n", argv[1]);
			return usage(stderr);
		}
		argc--;
		argv++;
	}
	if (argc < 2)
		return usage(stderr);

	cmd = find_command(argv[1]);
	if (!cmd) {
		fprintf(stderr, PROG ": unknown command '%s'\n\n", argv[1]);
		return usage(stderr);
	}
	return cmd->fn(argc - 1, argv + 1);
}
