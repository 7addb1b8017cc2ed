// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Agent logic without sockets or attachment: the keep-alive decision, the UDP
 * probe wire format, peer parsing and the peers/prefixes map sync (on real BPF
 * maps created here, never pinned).
 */
#include <arpa/inet.h>
#include <endian.h>
#include <stdlib.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "keepalive.h"
#include "peers.h"
#include "probe.h"
#include "test_progs.h"
#include "util.h"

#define S(x) ((__u64)(x)*1000000000ull)
#define MS(x) ((__u64)(x)*1000000ull)

void test_keepalive_decide(void)
{
	struct ka_state st = {};
	__u64 iv = S(10), slack = MS(500);
	int probes = 0, suppressed = 0;

	if (test__start_subtest("observe_never_probes")) {
		memset(&st, 0, sizeof(st));
		ASSERT_EQ(keepalive_decide(WP_MODE_OBSERVE, &st, S(100), 0, 0, iv, slack, 0),
			  KA_NONE, "observe");
	}
	if (test__start_subtest("idle_never_seen_probes")) {
		memset(&st, 0, sizeof(st));
		ASSERT_EQ(keepalive_decide(WP_MODE_IDLE, &st, S(100), 0, 0, iv, slack, 0), KA_PROBE,
			  "never seen");
		st.inflight = true;
		ASSERT_EQ(keepalive_decide(WP_MODE_IDLE, &st, S(200), 0, 0, iv, slack, 0), KA_NONE,
			  "inflight waits");
	}
	if (test__start_subtest("idle_busy_pair_suppressed_once_per_interval")) {
		/* traffic every tick for 100 s: never a probe, one suppression per interval */
		memset(&st, 0, sizeof(st));
		probes = suppressed = 0;
		for (int t = 1; t <= 100; t++) {
			enum ka_action a = keepalive_decide(WP_MODE_IDLE, &st, S(t), S(t) - MS(3),
							    S(t) - MS(200), iv, slack, 0);
			probes += a == KA_PROBE;
			suppressed += a == KA_SUPPRESS;
		}
		ASSERT_EQ(probes, 0, "busy probes");
		ASSERT_EQ(suppressed, 10, "busy suppressed");
	}
	if (test__start_subtest("idle_pair_one_probe_per_interval")) {
		/* only our own probes refresh the pair: a probe every 10 ticks, no suppression */
		__u64 last = 0;

		memset(&st, 0, sizeof(st));
		probes = suppressed = 0;
		for (int t = 1; t <= 100; t++) {
			enum ka_action a =
				keepalive_decide(WP_MODE_IDLE, &st, S(t), last, last, iv, slack, 0);

			if (a == KA_PROBE) {
				probes++;
				last = S(t) + MS(1); /* the exchange, 1 ms later */
			}
			suppressed += a == KA_SUPPRESS;
		}
		ASSERT_EQ(probes, 10, "idle probes");
		ASSERT_EQ(suppressed, 0, "idle suppressed");
	}
	if (test__start_subtest("constant_probes_busy_pair")) {
		memset(&st, 0, sizeof(st));
		probes = 0;
		for (int t = 1; t <= 100; t++)
			probes += keepalive_decide(WP_MODE_CONSTANT, &st, S(t), S(t), S(t), iv,
						   slack, 0) == KA_PROBE;
		ASSERT_EQ(probes, 10, "constant probes");
	}
	if (test__start_subtest("idle_bypassed_probe_once_per_interval")) {
		/*
		 * The probes leave by an unwatched device: the maps never move, the pair
		 * stays idle. Each probe times out after a tick; still one per interval.
		 */
		memset(&st, 0, sizeof(st));
		probes = 0;
		for (int t = 1; t <= 100; t++) {
			st.inflight = false; /* the previous probe timed out */
			probes += keepalive_decide(WP_MODE_IDLE, &st, S(t), 0, 0, iv, slack, 0) ==
				  KA_PROBE;
		}
		ASSERT_EQ(probes, 10, "bypassed probes");
		memset(&st, 0, sizeof(st));
		probes = 0;
		for (int t = 1; t <= 100; t++) {
			st.inflight = false;
			probes += keepalive_decide(WP_MODE_IDLE, &st, S(t), S(1), S(1), iv, slack,
						   0) == KA_PROBE;
		}
		ASSERT_EQ(probes, 9, "stale-traffic probes"); /* idle from 11 s on */
	}
	if (test__start_subtest("idle_pair_tie_break")) {
		/*
		 * Both agents of an idle pair, ticking 1 s +-10 % each: an exchange by
		 * either refreshes both. The lower name probes at the interval, the
		 * other defers by 3 s: about one exchange per interval, not ~1.4.
		 */
		struct ka_state sa = {}, sb = {};
		__u64 last = 0, ta = MS(100), tb = MS(600), end = S(1000), defer = S(3);
		int ea = 0, eb = 0, gap_max = 0;

		srand(7);
		while (ta < end || tb < end) {
			bool a_turn = ta <= tb;
			__u64 now = a_turn ? ta : tb;
			enum ka_action act =
				keepalive_decide(WP_MODE_IDLE, a_turn ? &sa : &sb, now, last, last,
						 iv, slack, a_turn ? 0 : defer);

			if (act == KA_PROBE) {
				if (last && (int)((now - last) / MS(1)) > gap_max)
					gap_max = (now - last) / MS(1);
				last = now + MS(1);
				*(a_turn ? &ea : &eb) += 1;
			}
			*(a_turn ? &ta : &tb) += MS(900) + MS(rand() % 200);
		}
		ASSERT_TRUE(ea + eb >= 90 && ea + eb <= 105, "about one exchange per interval");
		ASSERT_EQ(eb, 0, "the deferring side never probes while the other lives");
		/* the lower side dies at 1000 s: the other keeps the path warm */
		eb = 0;
		for (__u64 t = end; t < end + S(1000); t += S(1)) {
			if (keepalive_decide(WP_MODE_IDLE, &sb, t, last, last, iv, slack, defer) ==
			    KA_PROBE) {
				last = t + MS(1);
				eb++;
			}
		}
		ASSERT_TRUE(eb >= 70 && eb <= 80, "survivor probes every interval + margin");
		ASSERT_EQ(keepalive_defer_ns("node-a", "node-b", 5), 0, "lower name probes");
		ASSERT_EQ(keepalive_defer_ns("node-b", "node-a", 5), 5, "higher name defers");
	}
}

void test_probe_wire(void)
{
	static const __u8 nonce[WP_PROBE_NONCE_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	struct wp_probe_msg m, out;
	struct wp_probe_msg_v1 v1 = {}, v1out;
	char buf[128];

	probe_msg_build(&m, WP_PROBE_REQUEST, 7, nonce,
			"a-node-name-longer-than-thirty-two-bytes-for-sure", NULL);
	ASSERT_EQ(sizeof(m), 96, "wire size");
	ASSERT_EQ(sizeof(v1), 56, "v1 wire size");
	ASSERT_EQ(probe_msg_parse(&m, sizeof(m), NULL, &out, NULL), WP_PROBE_OK, "roundtrip");
	ASSERT_EQ(out.version, 2, "version 2");
	ASSERT_EQ(be64toh(out.counter), 7, "counter");
	ASSERT_OK(memcmp(out.nonce, nonce, sizeof(nonce)), "nonce");
	ASSERT_EQ(ntohs(out.flags), 0, "no MAC flag without a key");
	ASSERT_EQ(strlen(out.sender), WP_PROBE_SENDER_LEN - 1, "sender truncated, terminated");
	ASSERT_EQ(probe_msg_parse(&m, sizeof(m) - 1, NULL, &out, NULL), WP_PROBE_BAD_LENGTH,
		  "short");
	memcpy(buf, &m, sizeof(m));
	ASSERT_EQ(probe_msg_parse(buf, sizeof(m) + 1, NULL, &out, NULL), WP_PROBE_BAD_LENGTH,
		  "long");
	buf[0] ^= 0xff;
	ASSERT_EQ(probe_msg_parse(buf, sizeof(m), NULL, &out, NULL), WP_PROBE_BAD_MAGIC, "magic");
	memcpy(buf, &m, sizeof(m));
	buf[4] = 9;
	ASSERT_EQ(probe_msg_parse(buf, sizeof(m), NULL, &out, NULL), WP_PROBE_BAD_VERSION,
		  "version");
	memcpy(buf, &m, sizeof(m));
	buf[5] = 9;
	ASSERT_EQ(probe_msg_parse(buf, sizeof(m), NULL, &out, NULL), WP_PROBE_BAD_TYPE, "type");
	/* a v1 request (an agent not yet updated): recognised, answerable without a key */
	v1.magic = htonl(WP_PROBE_MAGIC);
	v1.version = 1;
	v1.type = WP_PROBE_REQUEST;
	v1.seq = htonl(5);
	ASSERT_EQ(probe_msg_parse(&v1, sizeof(v1), NULL, &out, &v1out), WP_PROBE_V1, "v1 request");
	ASSERT_EQ(ntohl(v1out.seq), 5, "v1 seq");
	ASSERT_EQ(probe_msg_parse(&v1, sizeof(v1) + 1, NULL, &out, &v1out), WP_PROBE_BAD_LENGTH,
		  "v1 long");
	ASSERT_EQ(probe_http_status("HTTP/1.1 200 OK\r\n", 17), 200, "http 200");
	ASSERT_EQ(probe_http_status("HTTP/1.0 503 x", 14), 503, "http 503");
	ASSERT_EQ(probe_http_status("HTTP/1.1 2", 10), -1, "http partial");
	ASSERT_EQ(probe_http_status("SSH-2.0-OpenSSH", 15), -1, "not http");
}

void test_peer_parse(void)
{
	char err[256], path[] = "/tmp/wp-peers-XXXXXX";
	struct wp_peer_set set = {};
	struct wp_peer p;
	FILE *f;
	int fd;

	ASSERT_OK(peer_parse_spec("b=10.0.0.2,192.168.2.0/24,fd00::/64", &p, err, sizeof(err)),
		  "spec");
	ASSERT_EQ(p.nprefixes, 3, "prefixes");
	ASSERT_EQ(p.prefixes[0].len, 128, "addr is /32 mapped");
	ASSERT_EQ(p.prefixes[1].len, 96 + 24, "v4 cidr mapped");
	ASSERT_EQ(p.prefixes[2].len, 64, "v6 cidr");
	ASSERT_EQ(peer_parse_spec("b=10.0.0.300", &p, err, sizeof(err)), -EINVAL, "bad addr");
	ASSERT_TRUE(strstr(err, "10.0.0.300") != NULL, "error names the address");
	ASSERT_EQ(peer_parse_spec("b=10.0.0.2,10.1.0.0/33", &p, err, sizeof(err)), -EINVAL,
		  "bad prefix len");
	ASSERT_TRUE(strstr(err, "10.1.0.0/33") != NULL, "error names the prefix");
	ASSERT_EQ(peer_parse_spec("=10.0.0.2", &p, err, sizeof(err)), -EINVAL, "no name");
	ASSERT_EQ(peer_parse_spec("b c=10.0.0.2", &p, err, sizeof(err)), -EINVAL, "bad name");
	ASSERT_EQ(peer_parse_spec("b", &p, err, sizeof(err)), -EINVAL, "no address");

	fd = mkstemp(path);
	if (!ASSERT_GE(fd, 0, "mkstemp"))
		return;
	f = fdopen(fd, "w");
	fprintf(f, "# comment\n\nnode-b 10.0.0.2 192.168.2.0/24 # trailing\n"
		   "node-c\tfd00::3\n");
	fclose(f);
	ASSERT_OK(peers_file_load(path, &set, err, sizeof(err)), "file");
	ASSERT_EQ(set.n, 2, "file peers");
	f = fopen(path, "a");
	fprintf(f, "node-d 10.0.0.4\nnode-e 10.0.0.5 192.168.2.0/24\n");
	fclose(f);
	peer_set_free(&set);
	ASSERT_EQ(peers_file_load(path, &set, err, sizeof(err)), -EEXIST, "prefix claimed twice");
	ASSERT_TRUE(strstr(err, ":6:") != NULL, "error names the line");
	peer_set_free(&set);
	f = fopen(path, "w");
	fprintf(f, "node-b\n");
	fclose(f);
	ASSERT_EQ(peers_file_load(path, &set, err, sizeof(err)), -EINVAL, "missing address");
	ASSERT_TRUE(strstr(err, ":1:") != NULL, "error names line 1");
	peer_set_free(&set);
	unlink(path);
	ASSERT_EQ(peers_file_load(path, &set, err, sizeof(err)), -ENOENT, "missing file");
}

void test_peer_map_sync(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, lpm_opts, .map_flags = BPF_F_NO_PREALLOC);
	struct wp_peer_set set = {};
	struct peer_state ps;
	struct prefix_key key = {};
	struct prefix_val val;
	struct wp_peer p;
	char err[256];
	int peers_fd, pfx_fd, count = 0;
	__u32 id_b, id_c;

	peers_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "t_peers", 4, sizeof(struct peer_state),
				  WP_MAX_PEERS, NULL);
	pfx_fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "t_prefixes", sizeof(struct prefix_key),
				sizeof(struct prefix_val), 1024, &lpm_opts);
	if (!ASSERT_GE(peers_fd, 0, "peers map") || !ASSERT_GE(pfx_fd, 0, "prefixes map"))
		goto out;

	peer_parse_spec("b=10.0.0.2,192.168.2.0/24", &p, err, sizeof(err));
	peer_set_add(&set, &p, err, sizeof(err));
	peer_parse_spec("c=10.0.0.3", &p, err, sizeof(err));
	peer_set_add(&set, &p, err, sizeof(err));
	ASSERT_OK(peers_sync_maps(peers_fd, pfx_fd, &set, err, sizeof(err)), "sync 1");
	id_b = set.peers[0].id;
	id_c = set.peers[1].id;
	ASSERT_NEQ(id_b, id_c, "distinct ids");

	/* the datapath counts on c's slot; a reload must keep it */
	bpf_map_lookup_elem(peers_fd, &id_c, &ps);
	ps.tx_packets = 42;
	bpf_map_update_elem(peers_fd, &id_c, &ps, BPF_ANY);

	/* reload: b removed, c kept, d added */
	peer_set_free(&set);
	peer_parse_spec("c=10.0.0.3", &p, err, sizeof(err));
	peer_set_add(&set, &p, err, sizeof(err));
	peer_parse_spec("d=10.0.0.4", &p, err, sizeof(err));
	peer_set_add(&set, &p, err, sizeof(err));
	ASSERT_OK(peers_sync_maps(peers_fd, pfx_fd, &set, err, sizeof(err)), "sync 2");
	ASSERT_EQ(set.peers[0].id, id_c, "c keeps its slot");
	bpf_map_lookup_elem(peers_fd, &id_c, &ps);
	ASSERT_EQ(ps.tx_packets, 42, "c keeps its counters");
	bpf_map_lookup_elem(peers_fd, &id_b, &ps);
	ASSERT_EQ(ps.name[0] == '\0' || !strcmp(ps.name, "d"), 1, "b's slot cleared or reused");
	ASSERT_NEQ(strcmp(ps.name, "b"), 0, "b gone");

	/* prefixes: exactly c's and d's addresses, b's /24 gone */
	WP_MAP_FOR_EACH_KEY(pfx_fd, &key)
	count++;
	ASSERT_EQ(count, 2, "two prefixes left");
	key.prefixlen = 128;
	memset(key.addr, 0, 16);
	key.addr[10] = key.addr[11] = 0xff;
	inet_pton(AF_INET, "192.168.2.9", &key.addr[12]);
	ASSERT_NEQ(bpf_map_lookup_elem(pfx_fd, &key, &val), 0, "b's /24 no longer matches");
	inet_pton(AF_INET, "10.0.0.4", &key.addr[12]);
	ASSERT_OK(bpf_map_lookup_elem(pfx_fd, &key, &val), "d matches");
	ASSERT_EQ(val.peer_id, set.peers[1].id, "d's id");
out:
	peer_set_free(&set);
	if (peers_fd >= 0)
		close(peers_fd);
	if (pfx_fd >= 0)
		close(pfx_fd);
}
