// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `test_progs --bench`, last part: what the kernel drop tracer
 * (bpf/drops.bpf.c) adds to every kfree_skb.
 *
 *   test_progs                             worker (forked, own netns, same CPU)
 *  +-------------------------------+  's'  +----------------------------------------+
 *  | tracer not loaded, or loaded  |-----> | lo up; DROPS_N UDP datagrams to        |
 *  | with private unpinned maps,   |       | 127.0.0.1:DROPS_PORT, no socket there: |
 *  | netns filter = the worker's,  | <-----| each is kfree_skb(NO_SOCKET) on lo;    |
 *  | lo (ifindex 1) watched or not |  ns   | CLOCK_MONOTONIC every DROPS_BATCH      |
 *  +-------------------------------+       +----------------------------------------+
 *
 * A measurement's time per datagram is that of its median batch: a batch in
 * which another task had the CPU (the machine may be busy; the clock runs on)
 * is an outlier and drops out. Three configurations are measured one after
 * the other in every round (the order rotating), DROPS_ROUNDS rounds after a
 * warm-up; a cell is the median of its rounds, a delta the median of the
 * rounds' differences to "not loaded" of the same round (slow drift cancels):
 *
 *   not loaded   no program on the tracepoint (unless someone else's: the
 *                links to kfree_skb are counted and printed)
 *   watched      the program finds lo in if_flags and in its namespace,
 *                counts (ifindex, reason), reads the IP header and attributes
 *                the drop to a peer (127.0.0.1 is one here): the longest path
 *   not watched  the program returns after the if_flags lookup: what every
 *                drop elsewhere on the node costs
 *
 * A datagram's time is the whole path (sendto, UDP/IP output, loopback,
 * receive, no socket, the drop; the ICMP port unreachable is rate limited),
 * the same in every configuration: the differences are the tracer's cost per
 * drop. The watched runs must count exactly DROPS_N drops each (printed, not
 * asserted: a benchmark prints). Last, a cross-check with the kernel's BPF
 * run-time stats: the program's own time per call.
 */
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include "drops.h"
#include "drops_fixture.h"
#include "netns_worker.h"
#include "test_progs.h"
#include "warmpath.h"

#define DROPS_N 10000 /* datagrams per measurement */
#define DROPS_BATCH 100 /* datagrams per clock reading */
#define DROPS_BATCHES (DROPS_N / DROPS_BATCH)
#define DROPS_ROUNDS 31
#define DROPS_PORT 7357
#define DROPS_LO_IFINDEX 1
#define DROPS_LO_PEER_ID 7
#define DROPS_WAIT_MS 2000

enum drops_config {
	DROPS_OFF,
	DROPS_WATCHED,
	DROPS_UNWATCHED,
	DROPS_NR_CONFIGS,
};

static const char *const config_names[DROPS_NR_CONFIGS] = {
	[DROPS_OFF] = "tracer not loaded",
	[DROPS_WATCHED] = "tracer loaded, lo watched",
	[DROPS_UNWATCHED] = "tracer loaded, lo not watched",
};

/* The child in its own network namespace that sends on request. */
struct drops_reply {
	int err; /* 0 or an errno */
	double ns; /* per datagram: the median batch, CLOCK_MONOTONIC */
};

struct drops_bench {
	struct netns_worker w;
	struct wp_drops *d; /* NULL: not loaded */
	const char *reason; /* the name the datagrams' drops count under */
	double ns[DROPS_NR_CONFIGS][DROPS_ROUNDS]; /* per datagram */
	int watched_exact; /* watched rounds that counted exactly DROPS_N */
	__u64 watched_min, watched_max; /* drops counted per watched round */
	__u64 watched_other; /* drops on lo under any other reason */
	__u64 watched_unattributed; /* drops not credited to the loopback peer */
	__u64 unwatched; /* drops counted while lo was not watched */
	int others_min, others_max; /* links to kfree_skb not ours */
};

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median_of(double *v, int n)
{
	qsort(v, n, sizeof(v[0]), cmp_double);
	return v[n / 2];
}

/*
 * DROPS_N datagrams, the clock read every DROPS_BATCH of them. The median
 * batch leaves out the batches in which another task had the CPU (the
 * machine may be busy with other work; the clock runs on meanwhile).
 */
static int send_batches(int fd, const struct sockaddr_in *to, double *ns)
{
	static double batch_ns[DROPS_BATCHES];
	__u64 t0, t1;
	int i, j;

	t0 = now_ns();
	for (i = 0; i < DROPS_BATCHES; i++) {
		for (j = 0; j < DROPS_BATCH; j++)
			if (sendto(fd, "x", 1, 0, (const struct sockaddr *)to, sizeof(*to)) != 1)
				return errno ?: EIO;
		t1 = now_ns();
		batch_ns[i] = (double)(t1 - t0) / DROPS_BATCH;
		t0 = t1;
	}
	*ns = median_of(batch_ns, DROPS_BATCHES);
	return 0;
}

static void __attribute__((noreturn)) worker_main(int cmd, int ack, int setup_err)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(DROPS_PORT) };
	struct drops_reply rep = {};
	int fd = -1;
	char c;

	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (setup_err)
		rep.err = setup_err;
	else if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		rep.err = errno;
	(void)!write(ack, &rep, sizeof(rep));
	if (rep.err)
		_exit(1);
	while (read(cmd, &c, 1) == 1 && c == 's') {
		rep.err = send_batches(fd, &to, &rep.ns);
		if (write(ack, &rep, sizeof(rep)) != sizeof(rep))
			break;
	}
	_exit(0);
}

static int worker_reply(struct netns_worker *w, struct drops_reply *rep)
{
	if (read(w->ack_fd, rep, sizeof(*rep)) != sizeof(*rep))
		return -EIO;
	return rep->err ? -rep->err : 0;
}

static int worker_start(struct netns_worker *w)
{
	struct drops_reply rep;
	int err = netns_worker_fork(w, worker_main);

	if (err)
		return err;
	err = worker_reply(w, &rep);
	if (err)
		return err;
	return netns_worker_note_netns(w);
}

/* DROPS_N datagrams; *ns gets the time per datagram. */
static int worker_send(struct netns_worker *w, double *ns)
{
	struct drops_reply rep;
	int err;

	if (write(w->cmd_fd, "s", 1) != 1)
		return -EIO;
	err = worker_reply(w, &rep);
	if (err)
		return err;
	*ns = rep.ns;
	return 0;
}

/*
 * Links to the kfree_skb tracepoint (a tp_btf program is a raw tracepoint
 * link), ours included while loaded. The first call learns the link type
 * with an empty union: the kernel reads pointers from it for some types.
 */
static int kfree_skb_links(void)
{
	__u32 id = 0, len;
	int fd, n = 0;

	while (!bpf_link_get_next_id(id, &id)) {
		struct bpf_link_info info = {};
		char name[32] = "";

		fd = bpf_link_get_fd_by_id(id);
		if (fd < 0)
			continue;
		len = sizeof(info);
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
		    info.type == BPF_LINK_TYPE_RAW_TRACEPOINT) {
			memset(&info, 0, sizeof(info));
			info.raw_tracepoint.tp_name = (__u64)(unsigned long)name;
			info.raw_tracepoint.tp_name_len = sizeof(name);
			len = sizeof(info);
			if (!bpf_obj_get_info_by_fd(fd, &info, &len) && !strcmp(name, "kfree_skb"))
				n++;
		}
		close(fd);
	}
	return n;
}

/* Drops on lo under any reason. */
static __u64 lo_drops(struct wp_drops *d)
{
	int fd = wp_drops_map_fd(d, "drops");
	struct drop_key key, next, *prev = NULL;
	__u64 count, sum = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (key.ifindex == DROPS_LO_IFINDEX && !bpf_map_lookup_elem(fd, &key, &count))
			sum += count;
	}
	return sum;
}

static __u64 lo_peer_drops(struct wp_drops *d)
{
	struct peer_state ps = {};
	__u32 id = DROPS_LO_PEER_ID;

	if (bpf_map_lookup_elem(wp_drops_map_fd(d, "peers"), &id, &ps))
		return 0;
	return ps.kernel_drops;
}

/* Load (or unload) the tracer and set whether it watches lo. */
static int tracer_set(struct drops_bench *b, enum drops_config c)
{
	struct wp_drops_opts o = { .netns_ino = b->w.netns_ino };
	__u32 lo = DROPS_LO_IFINDEX, flags = c == DROPS_WATCHED ? WP_IF_TUNNEL | WP_IF_L2 : 0;
	char err[512] = "";
	int ret;

	if (c == DROPS_OFF) {
		wp_drops_close(b->d);
		b->d = NULL;
		return 0;
	}
	if (!b->d) {
		ret = wp_drops_open_opts(&b->d, &o, err, sizeof(err));
		if (ret) {
			fprintf(stderr, "bench: drop tracer not loaded: %s\n", err);
			return ret;
		}
		ret = drops_add_loopback_peer(b->d, DROPS_LO_PEER_ID);
		if (ret)
			return ret;
		b->reason = wp_drops_variant(b->d) == WP_DROPS_PLAIN ? WP_DROP_REASON_UNREPORTED :
								       "no_socket";
	}
	return bpf_map_update_elem(wp_drops_map_fd(b->d, "if_flags"), &lo, &flags, BPF_ANY) ?
		       -errno :
		       0;
}

/*
 * The tracer's program: the tracing program on kfree_skb whose maps include
 * our `drops` (other agents on this machine may run the same program). An
 * fd, or -1.
 */
static int tracer_prog_fd(struct wp_drops *d)
{
	struct bpf_map_info map = {};
	__u32 id = 0, len = sizeof(map), i;
	int fd;

	if (bpf_obj_get_info_by_fd(wp_drops_map_fd(d, "drops"), &map, &len))
		return -1;
	while (!bpf_prog_get_next_id(id, &id)) {
		struct bpf_prog_info info = {};
		__u32 map_ids[16];

		fd = bpf_prog_get_fd_by_id(id);
		if (fd < 0)
			continue;
		info.nr_map_ids = sizeof(map_ids) / sizeof(map_ids[0]);
		info.map_ids = (__u64)(unsigned long)map_ids;
		len = sizeof(info);
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
		    info.type == BPF_PROG_TYPE_TRACING) {
			for (i = 0; i < info.nr_map_ids && i < sizeof(map_ids) / sizeof(map_ids[0]);
			     i++)
				if (map_ids[i] == map.id)
					return fd;
		}
		close(fd);
	}
	return -1;
}

static int prog_run_stats(int fd, __u64 *run_ns, __u64 *runs)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*run_ns = info.run_time_ns;
	*runs = info.run_cnt;
	return 0;
}

/*
 * Cross-check outside the rounds: the program's own run time per call from
 * BPF_ENABLE_STATS (held by an fd: off again when it closes), watched and not
 * watched. It leaves out the tracepoint's dispatch to the program, and the
 * calls include drops elsewhere on the machine (few).
 */
static void drops_prog_stats(struct drops_bench *b)
{
	static const enum drops_config configs[] = { DROPS_WATCHED, DROPS_UNWATCHED };
	__u64 ns0, runs0, ns1, runs1;
	double per_call[2], ns;
	__u64 calls[2];
	int stats_fd = -1, prog_fd = -1;
	size_t i;

	if (tracer_set(b, DROPS_WATCHED))
		return;
	prog_fd = tracer_prog_fd(b->d);
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (prog_fd < 0 || stats_fd < 0) {
		printf("cross-check: no BPF run-time stats (%s)\n",
		       prog_fd < 0 ? "tracer program not found" : strerror(errno));
		goto out;
	}
	for (i = 0; i < 2; i++) {
		if (tracer_set(b, configs[i]) || prog_run_stats(prog_fd, &ns0, &runs0) ||
		    worker_send(&b->w, &ns) || prog_run_stats(prog_fd, &ns1, &runs1) ||
		    runs1 == runs0) {
			printf("cross-check: BPF run-time stats failed\n");
			goto out;
		}
		calls[i] = runs1 - runs0;
		per_call[i] = (double)(ns1 - ns0) / calls[i];
	}
	printf("cross-check, BPF run-time stats (the program alone, without the tracepoint's "
	       "dispatch): %.0f ns per drop watched (%llu calls), %.0f ns not watched (%llu "
	       "calls)\n",
	       per_call[0], (unsigned long long)calls[0], per_call[1],
	       (unsigned long long)calls[1]);
out:
	if (stats_fd >= 0)
		close(stats_fd);
	if (prog_fd >= 0)
		close(prog_fd);
}

/* Wait (briefly) until the tracer's count of the datagrams' reason reaches want. */
static __u64 wait_count(struct wp_drops *d, const char *reason, __u64 want)
{
	__u64 deadline = now_ns() + DROPS_WAIT_MS * 1000000ull;

	while (wp_drops_count(d, DROPS_LO_IFINDEX, reason) < want && now_ns() < deadline)
		usleep(1000);
	return wp_drops_count(d, DROPS_LO_IFINDEX, reason);
}

/* One measurement of config c; round r is kept unless it is DROPS_ROUNDS (warm-up). */
static int drops_measure(struct drops_bench *b, enum drops_config c, int r)
{
	__u64 count0 = 0, lo0 = 0, peer0 = 0, count;
	int err, links;
	double ns;

	err = tracer_set(b, c);
	if (err)
		return err;
	links = kfree_skb_links() - (c != DROPS_OFF);
	if (links < b->others_min)
		b->others_min = links;
	if (links > b->others_max)
		b->others_max = links;
	if (b->d) {
		count0 = wp_drops_count(b->d, DROPS_LO_IFINDEX, b->reason);
		lo0 = lo_drops(b->d);
		peer0 = lo_peer_drops(b->d);
	}
	err = worker_send(&b->w, &ns);
	if (err) {
		fprintf(stderr, "bench: sending datagrams failed: %s\n", strerror(-err));
		return err;
	}
	if (c == DROPS_WATCHED) {
		count = wait_count(b->d, b->reason, count0 + DROPS_N) - count0;
		b->watched_exact += count == DROPS_N;
		if (count < b->watched_min)
			b->watched_min = count;
		if (count > b->watched_max)
			b->watched_max = count;
		b->watched_other += lo_drops(b->d) - lo0 - count;
		b->watched_unattributed += count - (lo_peer_drops(b->d) - peer0);
	} else if (c == DROPS_UNWATCHED) {
		usleep(10000); /* a late count would show */
		b->unwatched += lo_drops(b->d) - lo0;
	}
	if (env.verbose)
		printf("  round %d %-32s %8.1f ns/datagram, %d other kfree_skb program(s)\n", r,
		       config_names[c], ns, links);
	if (r < DROPS_ROUNDS)
		b->ns[c][r] = ns;
	return 0;
}

static double median(const double *v)
{
	double sorted[DROPS_ROUNDS];

	memcpy(sorted, v, sizeof(sorted));
	return median_of(sorted, DROPS_ROUNDS);
}

int bench_drops(void)
{
	struct drops_bench b = {
		.w = NETNS_WORKER_INIT,
		.watched_min = ~0ull,
		.others_min = 1 << 30,
	};
	double delta[DROPS_NR_CONFIGS][DROPS_ROUNDS];
	long ns[DROPS_NR_CONFIGS], d[DROPS_NR_CONFIGS];
	enum drops_config c;
	int err, r, i;

	err = worker_start(&b.w);
	if (err) {
		fprintf(stderr, "bench: no worker in a new netns (root needed): %s\n",
			strerror(-err));
		goto cleanup;
	}
	printf("\nkernel drop tracer: %d UDP datagrams to a closed port on 127.0.0.1 (lo, own "
	       "netns) per measurement,\neach one kfree_skb(NO_SOCKET); ns per datagram: "
	       "CLOCK_MONOTONIC every %d datagrams, the median batch;\nmedian of %d interleaved "
	       "rounds; delta: median of the rounds' differences to \"not loaded\"\n\n",
	       DROPS_N, DROPS_BATCH, DROPS_ROUNDS);

	/* warm-up, not kept; then the rounds, the order of the configurations rotating */
	for (r = DROPS_ROUNDS, i = 0; i < DROPS_NR_CONFIGS; i++)
		if ((err = drops_measure(&b, i, r)))
			goto cleanup;
	b.watched_exact = 0;
	b.watched_min = ~0ull;
	b.watched_max = b.watched_other = b.watched_unattributed = b.unwatched = 0;
	for (r = 0; r < DROPS_ROUNDS; r++)
		for (i = 0; i < DROPS_NR_CONFIGS; i++)
			if ((err = drops_measure(&b, (r + i) % DROPS_NR_CONFIGS, r)))
				goto cleanup;

	/* the delta of a round against "not loaded" of the same round: drift cancels */
	for (c = 0; c < DROPS_NR_CONFIGS; c++) {
		for (r = 0; r < DROPS_ROUNDS; r++)
			delta[c][r] = b.ns[c][r] - b.ns[DROPS_OFF][r];
		ns[c] = lround(median(b.ns[c]));
		d[c] = lround(median(delta[c]));
	}
	printf("%-36s %12s %9s\n", "configuration", "ns/datagram", "delta ns");
	for (c = 0; c < DROPS_NR_CONFIGS; c++) {
		if (c == DROPS_OFF)
			printf("%-36s %12ld %9s\n", config_names[c], ns[c], "");
		else
			printf("%-36s %12ld %+9ld\n", config_names[c], ns[c], d[c]);
	}
	printf("\ndrop tracer: %+ld ns per drop (watched), %+ld ns (not watched)\n",
	       d[DROPS_WATCHED], d[DROPS_UNWATCHED]);
	printf("sanity: watched rounds counted exactly %d drops as %s in %d of %d rounds "
	       "(min %llu, max %llu; other reasons %llu, not attributed %llu); "
	       "not watched: %llu counted -> %s\n",
	       DROPS_N, b.reason, b.watched_exact, DROPS_ROUNDS, (unsigned long long)b.watched_min,
	       (unsigned long long)b.watched_max, (unsigned long long)b.watched_other,
	       (unsigned long long)b.watched_unattributed, (unsigned long long)b.unwatched,
	       b.watched_exact == DROPS_ROUNDS && !b.watched_other && !b.watched_unattributed &&
			       !b.unwatched ?
		       "ok" :
		       "MISMATCH");
	drops_prog_stats(&b);
	if (b.others_max)
		printf("note: other programs on kfree_skb, system-wide: %d to %d during the run; "
		       "they run in every configuration (\"not loaded\" too)\n",
		       b.others_min, b.others_max);
	err = 0;
cleanup:
	wp_drops_close(b.d);
	netns_worker_stop(&b.w);
	return err;
}
