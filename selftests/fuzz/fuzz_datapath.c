// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The BPF datapath under mutation, through BPF_PROG_TEST_RUN: valid packets
 * of every class (Ethernet with 0-2 VLAN tags, IPv4 with and without options,
 * IPv6 with and without extension headers, IPIP, VXLAN, TCP, UDP, ICMP,
 * ARP, WireGuard UDP on an underlay) mutated (bytes set, bits flipped,
 * "interesting" values, cut, extended) and run through egress and ingress.
 * Every run must give verdict -1 (TC_ACT_UNSPEC, "next") and leave the packet
 * byte for byte unchanged; a packet shorter than test_run takes must be
 * refused (-EINVAL) before the program.
 *
 *	fuzz_datapath [-n RUNS] [-t SECONDS] [-s SEED] [-o DIR] [FILE...]
 *
 * -n / -t bound the run (default 1,000,000 runs); a failing packet is written
 * to DIR (default selftests/fuzz/crashes/datapath) as a reproducer: one byte of
 * direction (0 egress, 1 ingress), one of interface mode (0 tunnel, 1
 * underlay), then the packet. FILE...: replay reproducers instead. Prints
 * "N passed, N failed" like test_progs.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include "datapath_check.h"
#include "status.h"
#include "test_progs.h"

#define TC_ACT_UNSPEC (-1)
#define MODE_TUNNEL 0
#define MODE_UNDERLAY 1
#define MAX_BASES 512

/* test_progs.h's asserts, for datapath_check.c: a failure is printed and counted. */
struct test_env env;
static int assert_failures;

bool test__assert_report(bool ok, const char *file, int line, const char *name, const char *fmt,
			 ...)
{
	va_list ap;

	if (ok)
		return true;
	assert_failures++;
	va_start(ap, fmt);
	test__print_failure(file, line, name, fmt, ap);
	va_end(ap);
	return false;
}

void test__fail(void)
{
	assert_failures++;
}

void test__printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

bool test__start_subtest(const char *name)
{
	return true;
}

struct base {
	struct pkt p;
	int dir;
	int mode;
	const char *cls;
};

static struct base bases[MAX_BASES];
static int nbases;

/* xorshift64*: the same sequence for the same seed on every machine. */
static __u64 rng_state;

static __u64 rnd(void)
{
	__u64 x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static void add_base(const struct pkt *p, int dir, int mode, const char *cls)
{
	if (nbases == MAX_BASES || p->overflow)
		return;
	bases[nbases].p = *p;
	bases[nbases].dir = dir;
	bases[nbases].mode = mode;
	bases[nbases].cls = cls;
	nbases++;
}

/* Every flow_spec class the datapath parses, both directions. */
static void add_flow_bases(void)
{
	static const int encaps[] = { FLOW_PLAIN, FLOW_IPIP, FLOW_VXLAN };
	static const int l4s[] = { FLOW_TCP, FLOW_UDP, FLOW_ICMP };
	struct flow_spec s;
	struct pkt p;

	for (int e = 0; e < 3; e++)
		for (int o = 4; o <= 6; o += 2)
			for (int in = 4; in <= 6; in += 2)
				for (int l = 0; l < 3; l++)
					for (int variant = 0; variant < 4; variant++)
						for (int dir = WP_DIR_TX; dir <= WP_DIR_RX; dir++) {
							if (encaps[e] == FLOW_PLAIN && in == 6)
								continue;
							memset(&s, 0, sizeof(s));
							s.encap = encaps[e];
							s.outer = o;
							s.inner = in;
							s.l4 = l4s[l];
							s.outer_vlans =
								variant & 1 ? 1 + (l & 1) : 0;
							s.inner_vlan = variant & 2;
							if (variant & 2) {
								s.outer_opts = o == 4 ? 8 : 0;
								s.outer_v6_ext = o == 6;
								s.inner_opts = in == 4 ? 4 : 0;
							}
							s.tcp_ts = variant == 3;
							s.payload = variant * 7;
							if (variant == 1)
								s.remote_port =
									WP_DEFAULT_PROBE_PORT;
							if (build_flow(&p, &s, dir))
								continue;
							add_base(&p, dir, MODE_TUNNEL, "flow");
						}
}

/* WireGuard messages (initiation 148, response 92, cookie 64, data) over UDP 51820. */
static void add_wireguard_bases(void)
{
	static const struct {
		__u8 type;
		size_t len;
	} msgs[] = { { 1, 148 }, { 2, 92 }, { 3, 64 }, { 4, 32 }, { 4, 96 } };
	struct pkt p;

	for (size_t m = 0; m < sizeof(msgs) / sizeof(msgs[0]); m++)
		for (int v6 = 0; v6 <= 1; v6++)
			for (int dir = WP_DIR_TX; dir <= WP_DIR_RX; dir++) {
				const char *local = v6 ? LOCAL6 : LOCAL4;
				const char *remote = v6 ? NODE_A6 : NODE_A4;
				size_t at;

				pkt_init(&p);
				pkt_eth(&p);
				if (v6)
					pkt_ipv6(&p, dir == WP_DIR_TX ? local : remote,
						 dir == WP_DIR_TX ? remote : local);
				else
					pkt_ipv4(&p, dir == WP_DIR_TX ? local : remote,
						 dir == WP_DIR_TX ? remote : local);
				pkt_udp(&p, WP_WIREGUARD_PORT, WP_WIREGUARD_PORT);
				at = p.len;
				pkt_payload(&p, msgs[m].len);
				if (pkt_finish(&p))
					continue;
				p.data[at] = msgs[m].type;
				p.data[at + 1] = p.data[at + 2] = p.data[at + 3] = 0;
				add_base(&p, dir, MODE_UNDERLAY, "wireguard");
				/* and the same on a tunnel interface, where it is just UDP */
				add_base(&p, dir, MODE_TUNNEL, "wireguard");
			}
}

static void add_other_bases(void)
{
	struct pkt p;

	pkt_init(&p);
	pkt_eth(&p);
	pkt_arp(&p);
	if (!pkt_finish(&p)) {
		add_base(&p, WP_DIR_TX, MODE_TUNNEL, "arp");
		add_base(&p, WP_DIR_RX, MODE_UNDERLAY, "arp");
	}
	pkt_init(&p);
	pkt_eth(&p);
	pkt_vlan(&p, ETH_P_8021AD, 100);
	pkt_vlan(&p, ETH_P_8021Q, 200);
	pkt_ipv6(&p, LOCAL6, NODE_A6);
	pkt_ipv6_frag(&p, 0, true);
	pkt_udp(&p, 40000, 53);
	pkt_payload(&p, 16);
	if (!pkt_finish(&p))
		add_base(&p, WP_DIR_TX, MODE_TUNNEL, "ipv6_frag");
}

/* One mutation of buf (len bytes, room for PKT_MAX_LEN). */
static void mutate(__u8 *buf, size_t *len)
{
	static const __u8 interesting[] = { 0x00, 0x01, 0x04, 0x05, 0x06, 0x08, 0x11, 0x29,
					    0x2c, 0x3a, 0x40, 0x45, 0x4f, 0x60, 0x7f, 0x80,
					    0x81, 0x86, 0x88, 0xa8, 0xdd, 0xfe, 0xff };
	size_t n = *len;

	switch (rnd() % 8) {
	case 0:
	case 1: /* a random byte */
		if (n)
			buf[rnd() % n] = rnd();
		break;
	case 2: /* a bit */
		if (n)
			buf[rnd() % n] ^= 1 << (rnd() % 8);
		break;
	case 3:
	case 4: /* an interesting value, mostly in the headers */
		if (n)
			buf[rnd() % (n < 80 ? n : 80)] = interesting[rnd() % sizeof(interesting)];
		break;
	case 5: /* cut */
		if (n > ETH_HLEN)
			*len = ETH_HLEN + rnd() % (n - ETH_HLEN);
		break;
	case 6: /* extend with random bytes */
		if (n < PKT_MAX_LEN) {
			size_t add = 1 + rnd() % (PKT_MAX_LEN - n < 64 ? PKT_MAX_LEN - n : 64);

			for (size_t i = 0; i < add; i++)
				buf[n + i] = rnd();
			*len = n + add;
		}
		break;
	default: /* a 16-bit field to 0, 0xffff or a small length */
		if (n >= 2) {
			size_t at = rnd() % (n - 1);
			__u16 v = (__u16[]){ 0, 0xffff, 8, 20, 40 }[rnd() % 5];

			buf[at] = v >> 8;
			buf[at + 1] = v;
		}
		break;
	}
}

static struct dp_fixture fx;
static int cur_mode = -1;
static const char *out_dir = "selftests/fuzz/crashes/datapath";

static int set_mode(int mode)
{
	if (mode == cur_mode)
		return 0;
	cur_mode = mode;
	return dp_set_iface(&fx, DP_TEST_IFINDEX,
			    mode == MODE_UNDERLAY ? WP_IF_UNDERLAY | WP_IF_L2 :
						    WP_IF_TUNNEL | WP_IF_L2);
}

static void save_reproducer(const __u8 *buf, size_t len, int dir, int mode)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/datapath-%d-%d-%08llx.bin", out_dir, dir, mode,
		 (unsigned long long)(rnd() & 0xffffffff));
	f = fopen(path, "w");
	if (!f)
		return;
	fputc(dir, f);
	fputc(mode, f);
	fwrite(buf, 1, len, f);
	fclose(f);
	printf("reproducer: %s\n", path);
}

/* One run; true when every invariant held. */
static bool run_one(const __u8 *buf, size_t len, int dir, int mode, bool save)
{
	struct dp_run_result r;
	const char *why = NULL;

	if (set_mode(mode)) {
		printf("cannot configure the test interface\n");
		return false;
	}
	dp_run(dir == WP_DIR_TX ? fx.egress_fd : fx.ingress_fd, buf, len, DP_TEST_IFINDEX, 1, &r);
	if (len < dp_test_run_min_len(buf, len)) {
		if (r.err != -EINVAL)
			why = "short packet not refused";
	} else if (r.err) {
		why = "test_run failed";
	} else if (r.retval != TC_ACT_UNSPEC) {
		why = "verdict not -1";
	} else if (r.data_size_out != len || memcmp(r.data_out, buf, len)) {
		why = "packet changed";
	}
	if (!why)
		return true;
	printf("FAIL %s: dir %d mode %d len %zu err %d retval %d\n", why, dir, mode, len, r.err,
	       r.retval);
	if (save)
		save_reproducer(buf, len, dir, mode);
	return false;
}

static int replay(int argc, char **argv)
{
	int passed = 0, failed = 0;

	for (int i = 0; i < argc; i++) {
		__u8 buf[PKT_MAX_LEN + 2];
		size_t len;
		FILE *f = fopen(argv[i], "r");

		if (!f) {
			printf("%s: %s\n", argv[i], strerror(errno));
			failed++;
			continue;
		}
		len = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		if (len < 2 || buf[0] > WP_DIR_RX || buf[1] > MODE_UNDERLAY) {
			printf("%s: not a reproducer\n", argv[i]);
			failed++;
			continue;
		}
		if (run_one(buf + 2, len - 2, buf[0], buf[1], false))
			passed++;
		else
			failed++;
	}
	printf("replayed %d reproducers\n%d passed, %d failed\n", argc, passed, failed);
	return failed ? 1 : 0;
}

static double now_s(void)
{
	return dp_now_ns() / 1e9;
}

int main(int argc, char **argv)
{
	unsigned long long runs = 1000000, done = 0, fails = 0;
	unsigned long long per_class[2][2] = {};
	double seconds = 0, t0;
	__u64 seed = 0x5eedda7a;
	struct dp_expect e;
	struct pkt good;
	int opt, ret = 0, wg_first, wg_end;

	while ((opt = getopt(argc, argv, "n:t:s:o:")) != -1) {
		switch (opt) {
		case 'n':
			runs = strtoull(optarg, NULL, 0);
			break;
		case 't':
			seconds = strtod(optarg, NULL);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'o':
			out_dir = optarg;
			break;
		default:
			fprintf(stderr,
				"usage: %s [-n RUNS] [-t SECONDS] [-s SEED] [-o DIR] [FILE...]\n",
				argv[0]);
			return 2;
		}
	}
	rng_state = seed ? seed : 1;
	if (!setup_datapath(&fx, NULL)) {
		printf("cannot load the datapath\n0 passed, 1 failed\n");
		return 1;
	}
	if (optind < argc) {
		ret = replay(argc - optind, argv + optind);
		dp_fixture_close(&fx);
		return ret;
	}
	add_flow_bases();
	wg_first = nbases;
	add_wireguard_bases();
	wg_end = nbases;
	add_other_bases();
	if (wg_end == wg_first) {
		printf("no WireGuard packets built\n0 passed, 1 failed\n");
		return 1;
	}

	t0 = now_s();
	while (done < runs && (!seconds || now_s() - t0 < seconds)) {
		/* a quarter of the runs on WireGuard bases, which are few */
		const struct base *b = rnd() % 4 ? &bases[rnd() % nbases] :
						   &bases[wg_first + rnd() % (wg_end - wg_first)];
		__u8 buf[PKT_MAX_LEN];
		size_t len = b->p.len;
		int muts = 1 + rnd() % 6;
		int dir = rnd() % 8 ? b->dir : !b->dir;

		memcpy(buf, b->p.data, len);
		for (int m = 0; m < muts; m++)
			mutate(buf, &len);
		per_class[b->mode][dir]++;
		if (!run_one(buf, len, dir, b->mode, fails < 20))
			fails++;
		done++;
	}
	t0 = now_s() - t0;
	printf("fuzz_datapath: %llu mutated packets from %d bases in %.1f s (%.0f/s), seed 0x%llx: "
	       "tunnel egress %llu ingress %llu, underlay egress %llu ingress %llu; %llu failed\n",
	       done, nbases, t0, done / (t0 > 0 ? t0 : 1), (unsigned long long)seed,
	       per_class[0][0], per_class[0][1], per_class[1][0], per_class[1][1], fails);

	/* how the datapath classified them: every class reached */
	{
		__u64 stats[WP_STAT_MAX];

		if (!dp_read_stats(&fx, stats)) {
			printf("classified:");
			for (int i = 0; i < WP_STAT_MAX; i++)
				if (stats[i])
					printf(" %s=%llu", wp_stat_names[i],
					       (unsigned long long)stats[i]);
			printf("\n");
		}
	}

	/* after all that, a good packet is still counted exactly */
	set_mode(MODE_TUNNEL);
	{
		struct flow_spec s = { .encap = FLOW_VXLAN,
				       .outer = 4,
				       .inner = 4,
				       .l4 = FLOW_UDP,
				       .remote_port = WP_DEFAULT_PROBE_PORT };

		if (!build_flow(&good, &s, WP_DIR_TX)) {
			e = expect_matched(WP_DIR_TX, PEER_A, WP_STAT_ENCAP_VXLAN, true);
			check_pkt(&fx, &good, &e, "still_counts_after_fuzz");
		}
	}
	dp_fixture_close(&fx);
	printf("%d passed, %d failed\n", (fails == 0) + (assert_failures == 0),
	       (fails != 0) + (assert_failures != 0));
	return fails || assert_failures ? 1 : 0;
}
