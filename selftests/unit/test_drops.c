// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The kernel drop tracer (bpf/drops.bpf.c, user/drops.c) on real drops, and
 * its reason names and feature probe on the running kernel's BTF and on
 * synthetic ones.
 *
 *   test_progs (this netns)       worker a (own netns)       worker b (own netns)
 *  +--------------------------+  +------------------------+  +------------------------+
 *  | tracer on kfree_skb,     |  | lo (ifindex 1) up      |  | lo (ifindex 1) up      |
 *  | private unpinned maps,   |  | UDP to 127.0.0.1:7357  |  | the same datagrams:    |
 *  | netns filter = a,        |  | (no socket: the kernel |  | ifindex 1 too, but not |
 *  | if_flags[1] = watched    |  |  drops it, no_socket)  |  | a's namespace: ignored |
 *  +--------------------------+  +------------------------+  +------------------------+
 *
 * Exactly N datagrams of worker a must count under (1, "no_socket") and for
 * the peer that owns 127.0.0.1; those sent while ifindex 1 is not watched,
 * and all of worker b's, must not count.
 *
 *	test_drops_reason_names   names from BTF, unknown_<n>, synthetic enums
 *	test_drops_variant        the kfree_skb feature probe
 *	test_drops_kfree_skb      the reason variant on real drops, metrics, JSON
 *	test_drops_kfree_skb_plain  the variant for kernels without the reason
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
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
#include <bpf/btf.h>
#include <jansson.h>
#include "drops.h"
#include "prom.h"
#include "drops_fixture.h"
#include "netns_worker.h"
#include "test_helpers.h"
#include "test_progs.h"
#include "warmpath.h"

#define CLOSED_PORT 7357
#define LO_IFINDEX 1
#define N_DROPS 5 /* datagrams sent while watched */
#define M_DROPS 3 /* datagrams that must not count */
#define LO_PEER_ID 7
#define WAIT_MS 2000

/* --- reason names -------------------------------------------------------------- */

/* The value of an enumerator of enum skb_drop_reason, read from a BTF. */
static int btf_reason_value(const struct btf *btf, const char *enumerator, __u32 *value)
{
	const struct btf_type *t;
	const struct btf_enum *m;
	int id;

	id = btf__find_by_name_kind(btf, "skb_drop_reason", BTF_KIND_ENUM);
	if (id < 0)
		return -ENOENT;
	t = btf__type_by_id(btf, id);
	m = btf_enum(t);
	for (int i = 0; i < btf_vlen(t); i++) {
		if (!strcmp(btf__name_by_offset(btf, m[i].name_off), enumerator)) {
			*value = m[i].val;
			return 0;
		}
	}
	return -ENOENT;
}

static bool assert_name(const struct wp_drop_reasons *t, __u32 v, const char *want,
			const char *name)
{
	char buf[32];
	const char *got = wp_drop_reason_name(t, v, buf, sizeof(buf));

	return test__assert_report(got && !strcmp(got, want), __FILE__, __LINE__, name,
				   "got=\"%s\" want=\"%s\"", got ? got : "(null)", want);
}

static void reason_names_vmlinux(void)
{
	struct wp_drop_reasons *t = NULL;
	struct btf *btf = NULL;
	__u32 no_socket, v, max = 0;
	char want[32];

	btf = btf__load_vmlinux_btf();
	if (!ASSERT_OK_PTR(btf, "btf__load_vmlinux_btf"))
		return;
	t = wp_drop_reasons_new(NULL);
	if (!ASSERT_OK_PTR(t, "wp_drop_reasons_new"))
		goto cleanup;
	if (!ASSERT_OK(btf_reason_value(btf, "SKB_DROP_REASON_NO_SOCKET", &no_socket),
		       "kernel has SKB_DROP_REASON_NO_SOCKET"))
		goto cleanup;
	assert_name(t, no_socket, "no_socket", "NO_SOCKET -> no_socket");
	ASSERT_OK(wp_drop_reason_value(t, "no_socket", &v), "no_socket has a value");
	ASSERT_EQ(v, no_socket, "no_socket value from BTF");
	if (!btf_reason_value(btf, "SKB_CONSUMED", &v))
		assert_name(t, v, "consumed", "SKB_CONSUMED -> consumed");
	if (!btf_reason_value(btf, "SKB_DROP_REASON_NOT_SPECIFIED", &v))
		assert_name(t, v, "not_specified", "NOT_SPECIFIED -> not_specified");
	/* the bound of the enum and anything past it are no reason */
	ASSERT_EQ(wp_drop_reason_value(t, "max", &v), -ENOENT, "MAX is not a reason");
	if (!btf_reason_value(btf, "SKB_DROP_REASON_MAX", &max)) {
		snprintf(want, sizeof(want), "unknown_%u", max);
		assert_name(t, max, want, "SKB_DROP_REASON_MAX -> unknown_<n>");
		snprintf(want, sizeof(want), "unknown_%u", max + 1000);
		assert_name(t, max + 1000, want, "beyond the enum -> unknown_<n>");
	}
	assert_name(t, 0xfffffffe, "unknown_4294967294", "huge value -> unknown_<n>");
	ASSERT_GT(wp_drop_reasons_count(t), 10, "many reasons");
cleanup:
	wp_drop_reasons_free(t);
	btf__free(btf);
}

/* A BTF whose enum skb_drop_reason numbers nothing like any kernel. */
static struct btf *synthetic_reasons_btf(void)
{
	struct btf *btf = btf__new_empty();

	if (!btf)
		return NULL;
	if (btf__add_enum(btf, "skb_drop_reason", 4) < 0 ||
	    btf__add_enum_value(btf, "SKB_NOT_DROPPED_YET", 0) ||
	    btf__add_enum_value(btf, "SKB_CONSUMED", 1) ||
	    btf__add_enum_value(btf, "SKB_DROP_REASON_NO_SOCKET", 7) ||
	    btf__add_enum_value(btf, "SKB_DROP_REASON_TCP_CSUM", 9) ||
	    btf__add_enum_value(btf, "SKB_DROP_REASON_MAX", 10)) {
		btf__free(btf);
		return NULL;
	}
	return btf;
}

static void reason_names_synthetic(void)
{
	struct btf *btf = synthetic_reasons_btf(), *empty = btf__new_empty();
	struct wp_drop_reasons *t = NULL, *none = NULL;
	__u32 v = 0;

	if (!ASSERT_OK_PTR(btf, "synthetic btf") || !ASSERT_OK_PTR(empty, "empty btf"))
		goto cleanup;
	t = wp_drop_reasons_new(btf);
	if (!ASSERT_OK_PTR(t, "wp_drop_reasons_new"))
		goto cleanup;
	ASSERT_EQ(wp_drop_reasons_count(t), 4, "4 reasons (MAX is none)");
	assert_name(t, 0, "not_dropped_yet", "0 -> not_dropped_yet");
	assert_name(t, 1, "consumed", "1 -> consumed");
	assert_name(t, 7, "no_socket", "7 -> no_socket (the number from BTF)");
	assert_name(t, 9, "tcp_csum", "9 -> tcp_csum");
	assert_name(t, 3, "unknown_3", "3 -> unknown_3 (a hole)");
	assert_name(t, 10, "unknown_10", "10 -> unknown_10 (MAX)");
	ASSERT_OK(wp_drop_reason_value(t, "tcp_csum", &v), "tcp_csum by name");
	ASSERT_EQ(v, 9, "tcp_csum value");
	ASSERT_EQ(wp_drop_reason_value(t, "TCP_CSUM", &v), -ENOENT, "names are lower case");

	/* a kernel from before drop reasons: an empty table, every number unknown */
	none = wp_drop_reasons_new(empty);
	if (ASSERT_OK_PTR(none, "no enum: a table")) {
		ASSERT_EQ(wp_drop_reasons_count(none), 0, "no enum: no names");
		assert_name(none, 7, "unknown_7", "no enum: 7 -> unknown_7");
	}
	assert_name(NULL, 2, "unknown_2", "no table: unknown_2");
cleanup:
	wp_drop_reasons_free(t);
	wp_drop_reasons_free(none);
	btf__free(btf);
	btf__free(empty);
}

void test_drops_reason_names(void)
{
	if (test__start_subtest("vmlinux"))
		reason_names_vmlinux();
	if (test__start_subtest("synthetic"))
		reason_names_synthetic();
}

/* --- feature probe --------------------------------------------------------------- */

/*
 * typedef void (*btf_trace_kfree_skb)(void *, struct sk_buff *, void *
 *                                     [, enum skb_drop_reason, struct sock *]);
 * with nparams of those parameters (no typedef at all for 0).
 */
static struct btf *tracepoint_btf(int nparams, bool reason_is_enum)
{
	struct btf *btf = btf__new_empty();
	int void_ptr, skb_ptr, reason, sk_ptr, i32, proto, fn_ptr;
	int params[5];

	if (!btf)
		return NULL;
	i32 = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
	void_ptr = btf__add_ptr(btf, 0);
	skb_ptr = btf__add_ptr(btf, btf__add_fwd(btf, "sk_buff", BTF_FWD_STRUCT));
	sk_ptr = btf__add_ptr(btf, btf__add_fwd(btf, "sock", BTF_FWD_STRUCT));
	reason = btf__add_enum(btf, "skb_drop_reason", 4);
	btf__add_enum_value(btf, "SKB_DROP_REASON_NO_SOCKET", 3);
	params[0] = void_ptr;
	params[1] = skb_ptr;
	params[2] = void_ptr;
	params[3] = reason_is_enum ? reason : i32;
	params[4] = sk_ptr;
	if (!nparams)
		return btf;
	proto = btf__add_func_proto(btf, 0);
	for (int i = 0; i < nparams; i++)
		btf__add_func_param(btf, NULL, params[i]);
	fn_ptr = btf__add_ptr(btf, proto);
	if (btf__add_typedef(btf, "btf_trace_kfree_skb", fn_ptr) < 0) {
		btf__free(btf);
		return NULL;
	}
	return btf;
}

static void assert_variant(int nparams, bool reason_is_enum, enum wp_drops_variant want,
			   const char *name)
{
	struct btf *btf = tracepoint_btf(nparams, reason_is_enum);

	if (!ASSERT_OK_PTR(btf, name))
		return;
	ASSERT_EQ(wp_drops_probe_variant(btf), want, name);
	btf__free(btf);
}

void test_drops_variant(void)
{
	if (test__start_subtest("synthetic")) {
		assert_variant(5, true, WP_DROPS_REASON, "5 params (6.11+): reason");
		assert_variant(4, true, WP_DROPS_REASON, "4 params (5.17+): reason");
		assert_variant(4, false, WP_DROPS_PLAIN, "4th param not the enum: plain");
		assert_variant(3, true, WP_DROPS_PLAIN, "3 params (< 5.17): plain");
		assert_variant(2, true, WP_DROPS_NONE, "2 params: none");
		assert_variant(0, true, WP_DROPS_NONE, "no typedef: none");
	}
	if (test__start_subtest("vmlinux")) {
		enum wp_drops_variant v = wp_drops_probe_variant(NULL);

		ASSERT_NEQ(v, WP_DROPS_NONE, "this kernel has kfree_skb");
		test__printf("variant %s\n", wp_drops_variant_name(v));
	}
}

/* --- real drops in namespaces ---------------------------------------------------------- */

/* A child in a fresh network namespace that sends datagrams on request. */
/* @n datagrams to 127.0.0.1 at a port no socket is bound to. */
static int send_to_closed_port(int n)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(CLOSED_PORT) };
	int fd, ret = 0;

	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	for (int i = 0; i < n && !ret; i++)
		if (sendto(fd, "x", 1, 0, (struct sockaddr *)&to, sizeof(to)) != 1)
			ret = -1;
	close(fd);
	return ret;
}

static __u16 inet_csum(const void *data, size_t len)
{
	const __u16 *p = data;
	__u32 sum = 0;

	for (; len > 1; len -= 2)
		sum += *p++;
	if (len)
		sum += *(const __u8 *)p;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/*
 * @n ICMP echo replies to 127.0.0.1 and @n ICMPv6 echo replies to ::1 from a
 * raw socket, the way a raw-socket ping receives its replies: the raw socket
 * gets a clone, then the kernel frees the original with no ping socket for it
 * (SKB_DROP_REASON_NO_SOCKET on 5.17+). Not a drop anyone cares about.
 */
static int send_echo_replies(int n)
{
	struct sockaddr_in to4 = { .sin_family = AF_INET };
	struct sockaddr_in6 to6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct {
		__u8 type, code;
		__u16 csum, id, seq;
		char payload[8];
	} msg = { .id = htons(0x5750), .payload = "warmpath" };
	int fd4, fd6, ret = 0;

	to4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd4 = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	fd6 = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
	if (fd4 < 0 || fd6 < 0)
		ret = -1;
	for (int i = 0; i < n && !ret; i++) {
		msg.type = 0; /* ICMP_ECHOREPLY */
		msg.seq = htons(i);
		msg.csum = 0;
		msg.csum = inet_csum(&msg, sizeof(msg));
		if (sendto(fd4, &msg, sizeof(msg), 0, (struct sockaddr *)&to4, sizeof(to4)) !=
		    sizeof(msg))
			ret = -1;
		msg.type = 129; /* ICMPV6_ECHO_REPLY; the kernel computes the checksum */
		msg.csum = 0;
		if (!ret && sendto(fd6, &msg, sizeof(msg), 0, (struct sockaddr *)&to6,
				   sizeof(to6)) != sizeof(msg))
			ret = -1;
	}
	if (fd4 >= 0)
		close(fd4);
	if (fd6 >= 0)
		close(fd6);
	return ret;
}

static void __attribute__((noreturn)) worker_main(int cmd, int ack, int setup_err)
{
	unsigned char c, n;

	if (setup_err) {
		(void)!write(ack, "E", 1);
		_exit(1);
	}
	(void)!write(ack, "R", 1);
	for (;;) {
		if (read(cmd, &c, 1) != 1 || (c != 's' && c != 'e') || read(cmd, &n, 1) != 1)
			_exit(0);
		if (c == 'e')
			(void)!write(ack, send_echo_replies(n) ? "E" : "D", 1);
		else
			(void)!write(ack, send_to_closed_port(n) ? "E" : "D", 1);
	}
}

static int worker_ack(struct netns_worker *w, char want)
{
	char c = 0;

	if (read(w->ack_fd, &c, 1) != 1)
		return -EIO;
	return c == want ? 0 : -EIO;
}

static int worker_start(struct netns_worker *w)
{
	int err = netns_worker_fork(w, worker_main);

	if (err)
		return err;
	if (worker_ack(w, 'R'))
		return -EIO;
	return netns_worker_note_netns(w);
}

static int worker_request(struct netns_worker *w, char what, int n)
{
	unsigned char req[2] = { what, n };

	if (write(w->cmd_fd, req, 2) != 2)
		return -EIO;
	return worker_ack(w, 'D');
}

/* @n datagrams to a closed port of 127.0.0.1: @n kernel drops. */
static int worker_send(struct netns_worker *w, int n)
{
	return worker_request(w, 's', n);
}

static __u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

/*
 * The count of (ifindex, reason) once it reached @want (or the wait ran
 * out), then after a pause in which a late, surplus drop would show.
 */
static __u64 wait_count(struct wp_drops *d, __u32 ifindex, const char *reason, __u64 want)
{
	__u64 deadline = now_ms() + WAIT_MS;

	while (wp_drops_count(d, ifindex, reason) < want && now_ms() < deadline)
		usleep(10000);
	usleep(100000);
	return wp_drops_count(d, ifindex, reason);
}

static __u64 peer_kernel_drops(struct wp_drops *d, __u32 peer_id)
{
	struct peer_state ps = {};

	if (bpf_map_lookup_elem(wp_drops_map_fd(d, "peers"), &peer_id, &ps))
		return ~0ull;
	return ps.kernel_drops;
}

/* Every key of the drops map on stdout (on failure). */
static void dump_drops(struct wp_drops *d)
{
	int fd = wp_drops_map_fd(d, "drops");
	struct drop_key key, next;
	char buf[32];
	__u64 count;

	for (int more = !bpf_map_get_next_key(fd, NULL, &next); more;
	     more = !bpf_map_get_next_key(fd, &key, &next)) {
		key = next;
		if (!bpf_map_lookup_elem(fd, &key, &count))
			test__printf("drops[ifindex %u, %s] = %llu\n", key.ifindex,
				     wp_drop_reason_name(wp_drops_reasons(d), key.reason, buf,
							 sizeof(buf)),
				     (unsigned long long)count);
	}
}

static int set_watched(struct wp_drops *d, __u32 ifindex, __u32 flags)
{
	return bpf_map_update_elem(wp_drops_map_fd(d, "if_flags"), &ifindex, &flags, BPF_ANY) ?
		       -errno :
		       0;
}

static const char *name_lo(void *ctx, __u32 ifindex)
{
	return ifindex == LO_IFINDEX ? "lo" : NULL;
}

static void check_metrics(struct wp_drops *d, const char *reason, __u64 want)
{
	struct prom_buf b;
	char line[160];
	json_t *j, *row;

	prom_buf_init(&b);
	ASSERT_OK(wp_drops_emit_metrics(d, &b, name_lo, NULL), "emit_metrics");
	snprintf(line, sizeof(line),
		 "warmpath_kernel_drops_total{interface=\"lo\",reason=\"%s\"} %llu\n", reason,
		 (unsigned long long)want);
	assert_contains(b.data, line, "metric: kernel drops of lo");
	assert_contains(b.data, "warmpath_kernel_drop_tracer_up 1\n", "metric: tracer up");
	snprintf(line, sizeof(line),
		 "warmpath_kernel_drop_attribution_total{result=\"peer\"} %llu\n",
		 (unsigned long long)want);
	assert_contains(b.data, line, "metric: attributed to a peer");
	assert_contains(b.data, "# TYPE warmpath_interface_rx_dropped_total counter\n",
			"metric: interface counters declared");
	if (!access(PROMTOOL, X_OK)) /* test_prom_promtool fails when it is missing */
		ASSERT_EQ(promtool_check(b.data ? b.data : "", false), 0,
			  "metric: promtool check metrics");
	prom_buf_free(&b);

	/* the JSON view names the interface from the (empty) ifaces map: if1 */
	j = wp_drops_json(d);
	if (!ASSERT_OK_PTR(j, "wp_drops_json"))
		return;
	ASSERT_TRUE(json_is_true(json_object_get(json_object_get(j, "tracer"), "up")),
		    "json: tracer.up");
	row = json_array_get(json_object_get(j, "drops"), 0);
	ASSERT_EQ(json_array_size(json_object_get(j, "drops")), 1, "json: one drop row");
	ASSERT_EQ(json_integer_value(json_object_get(row, "ifindex")), LO_IFINDEX, "json: ifindex");
	ASSERT_TRUE(json_is_string(json_object_get(row, "reason")) &&
			    !strcmp(json_string_value(json_object_get(row, "reason")), reason),
		    "json: reason");
	ASSERT_EQ(json_integer_value(json_object_get(row, "count")), want, "json: count");
	ASSERT_EQ(json_integer_value(json_object_get(json_object_get(j, "counters"), "attributed")),
		  want, "json: counters.attributed");
	json_decref(j);
}

/*
 * The whole scenario with one program variant: @reason is the label its
 * drops must carry.
 */
static void run_kfree_skb(enum wp_drops_variant variant, const char *reason)
{
	struct netns_worker a = NETNS_WORKER_INIT;
	struct netns_worker b = NETNS_WORKER_INIT;
	struct wp_drops_opts o = { .variant = variant };
	struct wp_drops *d = NULL;
	char err[512] = "";
	__u64 got;

	if (!ASSERT_OK(worker_start(&a), "worker a in a new netns") ||
	    !ASSERT_OK(worker_start(&b), "worker b in a new netns"))
		goto cleanup;
	ASSERT_NEQ(a.netns_ino, b.netns_ino, "two namespaces");
	o.netns_ino = a.netns_ino;
	if (!ASSERT_OK(wp_drops_open_opts(&d, &o, err, sizeof(err)), "wp_drops_open_opts")) {
		test__printf("%s\n", err);
		goto cleanup;
	}
	ASSERT_TRUE(wp_drops_up(d), "tracer up");
	ASSERT_EQ(wp_drops_variant(d), variant, "variant");
	if (!ASSERT_OK(drops_add_loopback_peer(d, LO_PEER_ID), "peer for 127.0.0.1"))
		goto cleanup;

	/* not watched yet: nothing counts */
	ASSERT_OK(worker_send(&a, M_DROPS), "a sends while lo is not watched");
	got = wait_count(d, LO_IFINDEX, reason, 0);
	ASSERT_EQ(got, 0, "not watched: no drop counted");

	/* watched: exactly a's datagrams; b's lo is ifindex 1 too, in another namespace */
	if (!ASSERT_OK(set_watched(d, LO_IFINDEX, WP_IF_TUNNEL | WP_IF_L2), "watch ifindex 1"))
		goto cleanup;
	ASSERT_OK(worker_send(&b, N_DROPS), "b sends (other namespace)");
	ASSERT_OK(worker_send(&a, N_DROPS), "a sends while watched");
	got = wait_count(d, LO_IFINDEX, reason, N_DROPS);
	if (!ASSERT_EQ(got, N_DROPS, "watched: exactly the datagrams of a"))
		dump_drops(d);
	ASSERT_EQ(peer_kernel_drops(d, LO_PEER_ID), N_DROPS, "peer of 127.0.0.1: kernel_drops");
	check_metrics(d, reason, N_DROPS);

	/* echo replies a raw socket received, freed with no ping socket: not drops */
	ASSERT_OK(worker_request(&a, 'e', N_DROPS), "a: ICMP and ICMPv6 echo replies");
	got = wait_count(d, LO_IFINDEX, reason, N_DROPS + 1);
	if (!ASSERT_EQ(got, N_DROPS, "echo replies to a raw socket: not counted"))
		dump_drops(d);
	ASSERT_EQ(peer_kernel_drops(d, LO_PEER_ID), N_DROPS, "echo replies: peer kernel_drops");
	{
		json_t *j = wp_drops_json(d);
		json_t *c = json_object_get(json_object_get(j, "counters"), "echo_replies_ignored");

		ASSERT_EQ(json_integer_value(c), 2 * N_DROPS,
			  "echo replies: json counters.echo_replies_ignored (ICMP + ICMPv6)");
		json_decref(j);
	}

	/* unwatched again: no more counts */
	set_watched(d, LO_IFINDEX, 0);
	ASSERT_OK(worker_send(&a, M_DROPS), "a sends after unwatch");
	ASSERT_EQ(wait_count(d, LO_IFINDEX, reason, N_DROPS), N_DROPS, "unwatched: count stays");
cleanup:
	wp_drops_close(d);
	netns_worker_stop(&a);
	netns_worker_stop(&b);
}

void test_drops_kfree_skb(void)
{
	struct prom_buf b;
	json_t *j;

	if (test__start_subtest("reason"))
		run_kfree_skb(WP_DROPS_REASON, "no_socket");
	if (test__start_subtest("tracer_down")) {
		/* no tracer: the views say so and carry on */
		prom_buf_init(&b);
		ASSERT_OK(wp_drops_emit_metrics(NULL, &b, NULL, NULL), "emit without tracer");
		assert_contains(b.data, "warmpath_kernel_drop_tracer_up 0\n", "tracer_up 0");
		prom_buf_free(&b);
		j = wp_drops_json(NULL);
		if (ASSERT_OK_PTR(j, "json without tracer")) {
			ASSERT_TRUE(
				json_is_false(json_object_get(json_object_get(j, "tracer"), "up")),
				"json: tracer.up false");
			json_decref(j);
		}
		ASSERT_EQ(wp_drops_count(NULL, LO_IFINDEX, "no_socket"), 0, "count without tracer");
	}
}

void test_drops_kfree_skb_plain(void)
{
	run_kfree_skb(WP_DROPS_PLAIN, WP_DROP_REASON_UNREPORTED);
}
