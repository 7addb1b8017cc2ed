// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * WireGuard: the datapath's handshake parser on the underlay
 * (bpf/wireguard.bpf.h) with crafted messages over Ethernet + IPv4/IPv6 +
 * UDP, and user/wireguard.c: the UAPI reply parser and client (against fake
 * servers on a unix socket in /tmp), the metrics and the JSON.
 *
 *	test_wireguard_handshakes  initiation/response, index matching, unanswered,
 *				   received, cookies, data, malformed, ports, peers
 *	test_wireguard_truncated   every message cut at every length, both ways
 *	test_wireguard_uapi        canned, garbage, random and capped replies; the
 *				   client: chunks, timeout, early close, size cap
 *	test_wireguard_metrics     exposition from map entries, naming, caps, promtool,
 *				   JSON
 */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "datapath.skel.h"
#include "datapath_check.h"
#include "test_progs.h"
#include "wireguard.h"

#define WG_PORT WP_WIREGUARD_PORT /* the fixture keeps the default rodata */
#define PROMTOOL "/usr/bin/promtool"
#define UNDERLAY (WP_IF_UNDERLAY | WP_IF_L2)

/* ---- crafted messages ---- */

struct wg_msg {
	int ip; /* 4 or 6 */
	const char *remote; /* NULL: node-a */
	__u16 remote_port; /* 0: WG_PORT */
	__u16 local_port; /* 0: WG_PORT */
	__u8 type;
	size_t len; /* UDP payload; 0: the length of the type */
	__u32 sender; /* initiation, response */
	__u32 receiver; /* response (at 8), cookie and data (at 4) */
	__u8 reserved[3];
	bool vlan;
};

static size_t wg_type_len(__u8 type)
{
	switch (type) {
	case WG_MSG_INITIATION:
		return WG_LEN_INITIATION;
	case WG_MSG_RESPONSE:
		return WG_LEN_RESPONSE;
	case WG_MSG_COOKIE:
		return WG_LEN_COOKIE;
	default:
		return WG_LEN_DATA_MIN + 64;
	}
}

/* The message in direction dir; *payload_off: where the WireGuard message starts. */
static int build_wg(struct pkt *p, const struct wg_msg *m, int dir, size_t *payload_off)
{
	const char *remote = m->remote ?: (m->ip == 6 ? NODE_A6 : NODE_A4);
	const char *local = m->ip == 6 ? LOCAL6 : LOCAL4;
	__u16 rport = m->remote_port ?: WG_PORT, lport = m->local_port ?: WG_PORT;
	size_t len = m->len ?: wg_type_len(m->type), off;
	__u8 *w;

	pkt_init(p);
	pkt_eth(p);
	if (m->vlan)
		pkt_vlan(p, ETH_P_8021Q, 7);
	if (m->ip == 6)
		pkt_ipv6(p, dir == WP_DIR_TX ? local : remote, dir == WP_DIR_TX ? remote : local);
	else
		pkt_ipv4(p, dir == WP_DIR_TX ? local : remote, dir == WP_DIR_TX ? remote : local);
	pkt_udp(p, dir == WP_DIR_TX ? lport : rport, dir == WP_DIR_TX ? rport : lport);
	off = p->len;
	pkt_payload(p, len);
	if (pkt_finish(p))
		return -1;
	w = p->data + off;
	if (len >= 4) {
		w[0] = m->type;
		memcpy(w + 1, m->reserved, 3);
	}
	if (m->type == WG_MSG_COOKIE || m->type == WG_MSG_DATA) {
		if (len >= 8)
			memcpy(w + 4, &m->receiver, 4);
	} else {
		if (len >= 8)
			memcpy(w + 4, &m->sender, 4);
		if (len >= 12)
			memcpy(w + 8, &m->receiver, 4);
	}
	if (payload_off)
		*payload_off = off;
	return 0;
}

static int wg_fd(struct dp_fixture *f)
{
	return bpf_map__fd(f->skel->maps.wg_endpoints);
}

static void wg_key(struct wg_endpoint_key *k, const char *addr, __u16 port)
{
	memset(k, 0, sizeof(*k));
	addr_to_key(addr, k->addr);
	k->port = port;
	k->ifindex = DP_TEST_IFINDEX;
}

/* The entry of an endpoint: 0, or -ENOENT. */
static int wg_read(struct dp_fixture *f, const char *addr, __u16 port, struct wg_endpoint_state *st)
{
	struct wg_endpoint_key k;

	wg_key(&k, addr, port);
	memset(st, 0, sizeof(*st));
	return bpf_map_lookup_elem(wg_fd(f), &k, st) ? -errno : 0;
}

static int wg_count(struct dp_fixture *f)
{
	struct wg_endpoint_key k, next, *prev = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(wg_fd(f), prev, &next) && n < 100000) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

static void wg_clear(struct dp_fixture *f)
{
	struct wg_endpoint_key k;

	while (!bpf_map_get_next_key(wg_fd(f), NULL, &k))
		bpf_map_delete_elem(wg_fd(f), &k);
}

/* What one WireGuard-port datagram must do to the stats (and nothing else). */
static struct dp_expect expect_wg(int dir, int stat)
{
	struct dp_expect e = expect_nothing(dir);

	if (stat >= 0)
		e.stats[stat] = 1;
	return e;
}

/* Send one message through the program of dir, checking stats, peers and the packet. */
static bool send_wg(struct dp_fixture *f, const struct wg_msg *m, int dir, int stat,
		    const char *label)
{
	struct dp_expect e = expect_wg(dir, stat);
	struct pkt p;

	if (!ASSERT_OK(build_wg(&p, m, dir, NULL), fmt_name("%s.build", label)))
		return false;
	return check_pkt(f, &p, &e, label);
}

static bool setup_underlay(struct dp_fixture *f)
{
	if (!setup_datapath(f, NULL))
		return false;
	if (!ASSERT_OK(dp_set_iface(f, DP_TEST_IFINDEX, UNDERLAY), "set_underlay")) {
		dp_fixture_close(f);
		return false;
	}
	return true;
}

/* ---- test_wireguard_handshakes ---- */

/* Our initiation out, its response in: one completed handshake with an RTT. */
static void initiated_completed(struct dp_fixture *f, int ip)
{
	const char *remote = ip == 6 ? NODE_A6 : NODE_A4;
	struct wg_msg init = { .ip = ip, .type = WG_MSG_INITIATION, .sender = 0x11223344 };
	struct wg_msg resp = {
		.ip = ip, .type = WG_MSG_RESPONSE, .sender = 0x55667788, .receiver = 0x11223344
	};
	struct wg_endpoint_state st;
	__u64 t0 = dp_now_ns(), t1;

	wg_clear(f);
	if (!send_wg(f, &init, WP_DIR_TX, WP_STAT_WG_HANDSHAKE, "init"))
		return;
	if (!ASSERT_OK(wg_read(f, remote, WG_PORT, &st), "entry_after_init"))
		return;
	ASSERT_EQ(st.side[WP_DIR_TX].initiations, 1, "tx.initiations");
	ASSERT_EQ(st.side[WP_DIR_TX].pending_index, 0x11223344, "tx.pending_index");
	ASSERT_GE(st.side[WP_DIR_TX].pending_ns, t0, "tx.pending_ns");
	ASSERT_EQ(st.side[WP_DIR_TX].completed, 0, "tx.completed_before");
	ASSERT_EQ(st.peer_id, PEER_A + 1, "peer_id");

	send_wg(f, &resp, WP_DIR_RX, WP_STAT_WG_HANDSHAKE, "resp");
	t1 = dp_now_ns();
	if (!ASSERT_OK(wg_read(f, remote, WG_PORT, &st), "entry_after_resp"))
		return;
	ASSERT_EQ(st.side[WP_DIR_TX].initiations, 1, "tx.initiations");
	ASSERT_EQ(st.side[WP_DIR_TX].completed, 1, "tx.completed");
	ASSERT_EQ(st.side[WP_DIR_TX].unanswered, 0, "tx.unanswered");
	ASSERT_EQ(st.side[WP_DIR_TX].pending_ns, 0, "tx.pending_cleared");
	ASSERT_EQ(st.side[WP_DIR_RX].initiations, 0, "rx.initiations");
	ASSERT_EQ(st.side[WP_DIR_RX].completed, 0, "rx.completed");
	ASSERT_EQ(st.rtt.count, 1, "rtt.count");
	ASSERT_GT(st.rtt.sum_ns, 0, "rtt.sum_ns");
	ASSERT_LE(st.rtt.sum_ns, t1 - t0, "rtt.sum_ns<=elapsed");
	ASSERT_GE(st.last_handshake_ns, t0, "last_handshake_ns");
	ASSERT_LE(st.last_handshake_ns, t1, "last_handshake_ns<=now");
	ASSERT_EQ(st.malformed, 0, "malformed");
	ASSERT_EQ(wg_count(f), 1, "one_entry");

	/* the same response again: nothing pending any more */
	send_wg(f, &resp, WP_DIR_RX, WP_STAT_WG_HANDSHAKE, "resp_again");
	wg_read(f, remote, WG_PORT, &st);
	ASSERT_EQ(st.side[WP_DIR_TX].completed, 1, "tx.completed_once");
	ASSERT_EQ(st.rtt.count, 1, "rtt.count_once");
}

static void wrong_index(struct dp_fixture *f)
{
	struct wg_msg init = { .ip = 4, .type = WG_MSG_INITIATION, .sender = 0xa1a2a3a4 };
	struct wg_msg resp = {
		.ip = 4, .type = WG_MSG_RESPONSE, .sender = 1, .receiver = 0xa1a2a3a5
	};
	struct wg_endpoint_state st;

	wg_clear(f);
	send_wg(f, &init, WP_DIR_TX, WP_STAT_WG_HANDSHAKE, "init");
	send_wg(f, &resp, WP_DIR_RX, WP_STAT_WG_HANDSHAKE, "resp_wrong_index");
	/* a response going out does not answer our own initiation either */
	resp.receiver = init.sender;
	send_wg(f, &resp, WP_DIR_TX, WP_STAT_WG_HANDSHAKE, "resp_wrong_direction");
	if (!ASSERT_OK(wg_read(f, NODE_A4, WG_PORT, &st), "entry"))
		return;
	ASSERT_EQ(st.side[WP_DIR_TX].completed, 0, "tx.completed");
	ASSERT_EQ(st.side[WP_DIR_RX].completed, 0, "rx.completed");
	ASSERT_EQ(st.rtt.count, 0, "rtt.count");
	ASSERT_NEQ(st.side[WP_DIR_TX].pending_ns, 0, "still_pending");
	ASSERT_EQ(st.last_handshake_ns, 0, "no_last_handshake");
}

static void unanswered(struct dp_fixture *f)
{
	struct wg_msg init = { .ip = 4, .type = WG_MSG_INITIATION, .sender = 100 };
	struct wg_msg resp = { .ip = 4, .type = WG_MSG_RESPONSE, .sender = 9, .receiver = 100 };
	struct wg_endpoint_state st;

	wg_clear(f);
	send_wg(f, &init, WP_DIR_TX, WP_STAT_WG_HANDSHAKE, "init1");
	init.sender = 101; /* a retry is a new handshake with a new index */
	send_wg(f, &init, WP_DIR_TX, WP_STAT_WG_HANDSHAKE, "init2");
	if (!ASSERT_OK(wg_read(f, NODE_A4, WG_PORT, &st), "entry"))
		return;
	ASSERT_EQ(st.side[WP_DIR_TX].initiations, 2, "initiations");
	ASSERT_EQ(st.side[WP_DIR_TX].unanswered, 1, "unanswered");
	ASSERT_EQ(st.side[WP_DIR_TX].completed, 0, "completed");
	ASSERT_EQ(st.side[WP_DIR_TX].pending_index, 101, "pending_index");

	/* a late response to the first one matches nothing; the second's completes */
	send_wg(f, &resp, WP_DIR_RX, WP_STAT_WG_HANDSHAKE, "resp_late");
	wg_read(f, NODE_A4, WG_PORT, &st);
	ASSERT_EQ(st.side[WP_DIR_TX].completed, 0, "late_response_ignored");
	resp.receiver = 101;
	send_wg(f, &resp, WP_DIR_RX, WP_STAT_WG_HANDSHAKE, "resp");
	wg_read(f, NODE_A4, WG_PORT, &st);
	ASSERT_EQ(st.side[WP_DIR_TX].completed, 1, "completed");
	ASSERT_EQ(st.side[WP_DIR_TX].unanswered, 1, "unanswered_kept");
	ASSERT_EQ(st.rtt.count, 1, "rtt.count");
}

/* The remote initiates (from a NATed port), we respond. */
static void received(struct dp_fixture *f)
{
	struct wg_msg init = {
		.ip = 4, .type = WG_MSG_INITIATION, .sender = 0xdeadbeef, .remote_port = 40001
	};
	struct wg_msg resp = { .ip = 4,
			       .type = WG_MSG_RESPONSE,
			       .sender = 7,
			       .receiver = 0xdeadbeef,
			       .remote_port = 40001 };
	struct wg_endpoint_state st;

	wg_clear(f);
	send_wg(f, &init, WP_DIR_RX, WP_STAT_WG_HANDSHAKE, "init_in");
	send_wg(f, &resp, WP_DIR_TX, WP_STAT_WG_HANDSHAKE, "resp_out");
	if (!ASSERT_OK(wg_read(f, NODE_A4, 40001, &st), "entry_at_nat_port"))
		return;
	ASSERT_EQ(st.side[WP_DIR_RX].initiations, 1, "rx.initiations");
	ASSERT_EQ(st.side[WP_DIR_RX].completed, 1, "rx.completed");
	ASSERT_EQ(st.side[WP_DIR_TX].initiations, 0, "tx.initiations");
	ASSERT_EQ(st.side[WP_DIR_TX].completed, 0, "tx.completed");
	ASSERT_EQ(st.rtt.count, 0, "no_rtt_for_their_handshake");
	ASSERT_NEQ(st.last_handshake_ns, 0, "last_handshake_ns");
	ASSERT_EQ(wg_read(f, NODE_A4, WG_PORT, &st), -ENOENT, "no_entry_at_51820");
}

static void cookies(struct dp_fixture *f)
{
	struct wg_msg ck = { .ip = 6, .type = WG_MSG_COOKIE, .receiver = 5 };
	struct wg_endpoint_state st;

	wg_clear(f);
	send_wg(f, &ck, WP_DIR_TX, WP_STAT_WG_HANDSHAKE, "cookie_out");
	send_wg(f, &ck, WP_DIR_RX, WP_STAT_WG_HANDSHAKE, "cookie_in");
	send_wg(f, &ck, WP_DIR_RX, WP_STAT_WG_HANDSHAKE, "cookie_in2");
	if (!ASSERT_OK(wg_read(f, NODE_A6, WG_PORT, &st), "entry"))
		return;
	ASSERT_EQ(st.cookies_tx, 1, "cookies_tx");
	ASSERT_EQ(st.cookies_rx, 2, "cookies_rx");
	ASSERT_EQ(st.side[0].initiations + st.side[1].initiations, 0, "initiations");
	ASSERT_EQ(st.malformed, 0, "malformed");
	ASSERT_EQ(st.peer_id, PEER_A + 1, "peer_id_v6");
}

/* Data messages: not even an entry, whatever their bytes say. */
static void data_ignored(struct dp_fixture *f)
{
	struct wg_msg d = { .ip = 4, .type = WG_MSG_DATA, .receiver = 3 };
	int dir;

	wg_clear(f);
	for (dir = WP_DIR_TX; dir <= WP_DIR_RX; dir++) {
		send_wg(f, &d, dir, -1, fmt_name("data%d", dir));
		d.len = WG_LEN_DATA_MIN; /* a keepalive */
		send_wg(f, &d, dir, -1, fmt_name("keepalive%d", dir));
		d.len = WG_LEN_INITIATION; /* a data message of handshake length */
		d.reserved[0] = 1;
		send_wg(f, &d, dir, -1, fmt_name("data_148_reserved%d", dir));
		d.len = 0;
		d.reserved[0] = 0;
		d.ip = 6;
	}
	ASSERT_EQ(wg_count(f), 0, "no_entry");
}

static void malformed(struct dp_fixture *f)
{
	static const struct {
		__u8 type;
		size_t len;
		__u8 reserved[3];
		const char *name;
	} bad[] = {
		{ WG_MSG_INITIATION, WG_LEN_INITIATION - 1, {}, "init_147" },
		{ WG_MSG_INITIATION, WG_LEN_INITIATION + 1, {}, "init_149" },
		{ WG_MSG_INITIATION, WG_LEN_RESPONSE, {}, "init_92" },
		{ WG_MSG_RESPONSE, WG_LEN_RESPONSE - 1, {}, "resp_91" },
		{ WG_MSG_RESPONSE, WG_LEN_INITIATION, {}, "resp_148" },
		{ WG_MSG_COOKIE, WG_LEN_COOKIE + 1, {}, "cookie_65" },
		{ WG_MSG_COOKIE, WG_LEN_COOKIE - 8, {}, "cookie_56" },
		{ WG_MSG_INITIATION, WG_LEN_INITIATION, { 1, 0, 0 }, "init_reserved1" },
		{ WG_MSG_RESPONSE, WG_LEN_RESPONSE, { 0, 0, 0x80 }, "resp_reserved3" },
		{ WG_MSG_COOKIE, WG_LEN_COOKIE, { 0, 2, 0 }, "cookie_reserved2" },
		{ 0, WG_LEN_INITIATION, {}, "type0" },
		{ 5, WG_LEN_RESPONSE, {}, "type5" },
		{ 0xff, 64, {}, "type255" },
		{ WG_MSG_INITIATION, 4, {}, "init_4_bytes" },
		{ WG_MSG_RESPONSE, 11, {}, "resp_11_bytes" },
	};
	struct wg_endpoint_state st;
	size_t i;
	int dir, n = 0;

	wg_clear(f);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (dir = WP_DIR_TX; dir <= WP_DIR_RX; dir++) {
			struct wg_msg m = { .ip = 4, .type = bad[i].type, .len = bad[i].len };

			memcpy(m.reserved, bad[i].reserved, 3);
			m.sender = 42;
			m.receiver = 42;
			send_wg(f, &m, dir, WP_STAT_WG_MALFORMED,
				fmt_name("%s.%s", bad[i].name, dir ? "rx" : "tx"));
			n++;
		}
	}
	if (!ASSERT_OK(wg_read(f, NODE_A4, WG_PORT, &st), "entry"))
		return;
	ASSERT_EQ(st.malformed, n, "malformed");
	ASSERT_EQ(st.side[0].initiations + st.side[1].initiations, 0, "no_initiations");
	ASSERT_EQ(st.side[0].completed + st.side[1].completed, 0, "no_completed");
	ASSERT_EQ(st.cookies_tx + st.cookies_rx, 0, "no_cookies");
	ASSERT_EQ(wg_count(f), 1, "one_entry");
}

/* Only our WireGuard port counts; the remote's port is free (NAT). */
static void other_ports(struct dp_fixture *f)
{
	struct wg_msg m = { .ip = 4, .type = WG_MSG_INITIATION, .sender = 1 };

	wg_clear(f);
	m.local_port = WG_PORT + 1;
	m.remote_port = WG_PORT + 1;
	send_wg(f, &m, WP_DIR_TX, -1, "both_other_tx");
	send_wg(f, &m, WP_DIR_RX, -1, "both_other_rx");
	/* the remote end is at 51820, ours is not: not our WireGuard */
	m.remote_port = WG_PORT;
	send_wg(f, &m, WP_DIR_TX, -1, "remote_wg_tx");
	send_wg(f, &m, WP_DIR_RX, -1, "remote_wg_rx");
	ASSERT_EQ(wg_count(f), 0, "no_entry");
	/* ours at 51820, the remote anywhere */
	m.local_port = WG_PORT;
	m.remote_port = 1;
	send_wg(f, &m, WP_DIR_TX, WP_STAT_WG_HANDSHAKE, "remote_port_1");
	ASSERT_EQ(wg_count(f), 1, "one_entry");
}

static void peers_and_vlan(struct dp_fixture *f)
{
	struct wg_msg m = { .ip = 4, .type = WG_MSG_INITIATION, .sender = 1, .remote = STRAY4 };
	struct wg_endpoint_state st;

	wg_clear(f);
	send_wg(f, &m, WP_DIR_TX, WP_STAT_WG_HANDSHAKE, "stray");
	ASSERT_OK(wg_read(f, STRAY4, WG_PORT, &st), "stray_entry");
	ASSERT_EQ(st.peer_id, 0, "stray_peer_id");
	m.remote = NODE_LAST4;
	m.vlan = true;
	send_wg(f, &m, WP_DIR_RX, WP_STAT_WG_HANDSHAKE, "last_vlan");
	ASSERT_OK(wg_read(f, NODE_LAST4, WG_PORT, &st), "last_entry");
	ASSERT_EQ(st.peer_id, PEER_LAST + 1, "last_peer_id");
	ASSERT_EQ(st.side[WP_DIR_RX].initiations, 1, "last_rx_initiations");
	m.ip = 6;
	m.remote = POD_B6;
	send_wg(f, &m, WP_DIR_TX, WP_STAT_WG_HANDSHAKE, "v6_vlan");
	ASSERT_OK(wg_read(f, POD_B6, WG_PORT, &st), "v6_entry");
	ASSERT_EQ(st.peer_id, PEER_B + 1, "v6_peer_id");
}

/* On a tunnel interface (not the underlay) WireGuard UDP is ordinary traffic. */
static void not_underlay(struct dp_fixture *f)
{
	struct wg_msg m = { .ip = 4, .type = WG_MSG_INITIATION, .sender = 1 };
	struct dp_expect e = expect_matched(WP_DIR_TX, PEER_A, ENCAP_NONE, false);
	struct pkt p;

	wg_clear(f);
	if (!ASSERT_OK(dp_set_iface(f, DP_TEST_IFINDEX, WP_IF_L2 | WP_IF_TUNNEL), "set_tunnel"))
		return;
	if (ASSERT_OK(build_wg(&p, &m, WP_DIR_TX, NULL), "build"))
		check_pkt(f, &p, &e, "tunnel");
	ASSERT_EQ(wg_count(f), 0, "no_entry");
	dp_set_iface(f, DP_TEST_IFINDEX, UNDERLAY);
}

void test_wireguard_handshakes(void)
{
	struct dp_fixture f;

	if (!setup_underlay(&f))
		return;
	if (test__start_subtest("initiated_completed_v4"))
		initiated_completed(&f, 4);
	if (test__start_subtest("initiated_completed_v6"))
		initiated_completed(&f, 6);
	if (test__start_subtest("wrong_index"))
		wrong_index(&f);
	if (test__start_subtest("unanswered"))
		unanswered(&f);
	if (test__start_subtest("received"))
		received(&f);
	if (test__start_subtest("cookies"))
		cookies(&f);
	if (test__start_subtest("data_ignored"))
		data_ignored(&f);
	if (test__start_subtest("malformed"))
		malformed(&f);
	if (test__start_subtest("other_ports"))
		other_ports(&f);
	if (test__start_subtest("peers_and_vlan"))
		peers_and_vlan(&f);
	if (test__start_subtest("not_underlay"))
		not_underlay(&f);
	dp_fixture_close(&f);
}

/* ---- test_wireguard_truncated ---- */

/*
 * Every prefix of the message through the program of dir (on an emptied
 * map): retval -1 and the packet unchanged always; nothing before 4 bytes of
 * UDP payload (the type and reserved bytes); malformed while the indexes (12
 * bytes) are cut; from there the parser has what it reads, and the datagram
 * counts exactly once, as a message or as malformed.
 */
static void truncate_msg(struct dp_fixture *f, const struct wg_msg *m, int dir, const char *label)
{
	const char *remote = m->remote ?: (m->ip == 6 ? NODE_A6 : NODE_A4);
	__u64 before[WP_STAT_MAX], after[WP_STAT_MAX];
	struct wg_endpoint_state st;
	struct dp_run_result r;
	size_t off, len;
	struct pkt p;

	if (!ASSERT_OK(build_wg(&p, m, dir, &off), fmt_name("%s.build", label)))
		return;
	for (len = 0; len < p.len; len++) {
		const char *name = fmt_name("%s.len%zu", label, len);
		bool ok = true, has;
		__u64 hs, bad;

		wg_clear(f);
		dp_read_stats(f, before);
		dp_run(dir == WP_DIR_RX ? f->ingress_fd : f->egress_fd, p.data, len,
		       DP_TEST_IFINDEX, 0, &r);
		dp_read_stats(f, after);
		if (len < dp_test_run_min_len(p.data, len)) {
			ok &= ASSERT_EQ(r.err, -EINVAL, fmt_name("%s.refused", name));
			ok &= ASSERT_EQ(wg_count(f), 0, fmt_name("%s.no_entry", name));
			if (!ok)
				break;
			continue;
		}
		ok &= ASSERT_OK(r.err, fmt_name("%s.err", name));
		ok &= ASSERT_EQ(r.retval, -1, fmt_name("%s.retval", name));
		ok &= ASSERT_EQ(r.data_size_out, len, fmt_name("%s.size_out", name));
		ok &= ASSERT_MEMEQ(r.data_out, p.data, len, fmt_name("%s.unchanged", name));
		hs = after[WP_STAT_WG_HANDSHAKE] - before[WP_STAT_WG_HANDSHAKE];
		bad = after[WP_STAT_WG_MALFORMED] - before[WP_STAT_WG_MALFORMED];
		has = !wg_read(f, remote, m->remote_port ?: WG_PORT, &st);
		if (m->type == WG_MSG_DATA || len < off + 4) {
			ok &= ASSERT_EQ(hs + bad, 0, fmt_name("%s.nothing_counted", name));
			ok &= ASSERT_FALSE(has, fmt_name("%s.no_entry", name));
		} else if (len < off + 12) {
			ok &= ASSERT_EQ(bad, 1, fmt_name("%s.malformed", name));
			ok &= ASSERT_EQ(hs, 0, fmt_name("%s.no_handshake", name));
			ok &= ASSERT_TRUE(has && st.malformed == 1,
					  fmt_name("%s.entry_malformed", name));
		} else {
			ok &= ASSERT_EQ(hs + bad, 1, fmt_name("%s.counted_once", name));
		}
		/* nothing but the two WireGuard stats moves */
		for (int i = 0; i < WP_STAT_MAX; i++)
			if (i != WP_STAT_WG_HANDSHAKE && i != WP_STAT_WG_MALFORMED)
				ok &= ASSERT_EQ(after[i], before[i],
						fmt_name("%s.stat%d_unchanged", name, i));
		if (!ok)
			break; /* one failing length tells the story */
	}
}

void test_wireguard_truncated(void)
{
	static const struct {
		__u8 type;
		const char *name;
	} types[] = {
		{ WG_MSG_INITIATION, "init" },
		{ WG_MSG_RESPONSE, "resp" },
		{ WG_MSG_COOKIE, "cookie" },
		{ WG_MSG_DATA, "data" },
	};
	struct dp_fixture f;

	if (!setup_underlay(&f))
		return;
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		for (int ip = 4; ip <= 6; ip += 2) {
			for (int vlan = 0; vlan <= 1; vlan++) {
				struct wg_msg m = { .ip = ip,
						    .type = types[t].type,
						    .sender = 77,
						    .receiver = 77,
						    .vlan = vlan };
				const char *name = fmt_name("%s_v%d%s", types[t].name, ip,
							    vlan ? "_vlan" : "");

				if (!test__start_subtest(name))
					continue;
				truncate_msg(&f, &m, WP_DIR_TX, fmt_name("%s.tx", name));
				truncate_msg(&f, &m, WP_DIR_RX, fmt_name("%s.rx", name));
			}
		}
	}
	dp_fixture_close(&f);
}

/* ---- test_wireguard_uapi ---- */

#define KEY_PRIV "083fa4efff66e016ce387d89c0bf98dc6d081d9725d1f5933c6872108c4a5a71"
#define KEY_A "a8a9e264236b810278f2cebbb4e04d4b849ea01d7074ac6d8861320d7bc6d74d"
#define KEY_B "c4d01a3ad05e18c4af93e8b7eb5d1a5a6a00ac1ae40bd640c7efdf49d4e7f36e"
#define KEY_ZERO "0000000000000000000000000000000000000000000000000000000000000000"

/* What wireguard-go 0.0.20230223 answers, with a second peer and fwmark added. */
static const char canned_reply[] = "private_key=" KEY_PRIV "\n"
				   "listen_port=51999\n"
				   "fwmark=4660\n"
				   "public_key=" KEY_A "\n"
				   "preshared_key=" KEY_ZERO "\n"
				   "protocol_version=1\n"
				   "endpoint=[fd00::1]:51820\n"
				   "last_handshake_time_sec=1700000000\n"
				   "last_handshake_time_nsec=500000000\n"
				   "tx_bytes=1234\n"
				   "rx_bytes=5678\n"
				   "persistent_keepalive_interval=25\n"
				   "allowed_ip=10.9.0.2/32\n"
				   "allowed_ip=fd00::2/128\n"
				   "public_key=" KEY_B "\n"
				   "preshared_key=" KEY_ZERO "\n"
				   "protocol_version=1\n"
				   "endpoint=192.0.2.1:40000\n"
				   "last_handshake_time_sec=0\n"
				   "last_handshake_time_nsec=0\n"
				   "tx_bytes=0\n"
				   "rx_bytes=0\n"
				   "persistent_keepalive_interval=0\n"
				   "allowed_ip=10.244.1.0/24\n"
				   "errno=0\n"
				   "\n";

static void check_canned(const struct wg_device *d, const char *label)
{
	char b64[WG_KEY_B64_LEN + 1], ep[64], pfx[64];

	ASSERT_EQ(d->listen_port, 51999, fmt_name("%s.listen_port", label));
	ASSERT_EQ(d->fwmark, 4660, fmt_name("%s.fwmark", label));
	if (!ASSERT_EQ(d->npeers, 2, fmt_name("%s.npeers", label)))
		return;
	ASSERT_EQ(d->peers[0].public_key[0], 0xa8, fmt_name("%s.key0", label));
	ASSERT_EQ(d->peers[0].public_key[31], 0x4d, fmt_name("%s.key31", label));
	wg_key_to_base64(d->peers[0].public_key, b64);
	/* `echo KEY_A | xxd -r -p | base64` */
	ASSERT_EQ(strcmp(b64, "qKniZCNrgQJ48s67tOBNS4SeoB1wdKxtiGEyDXvG100="), 0,
		  fmt_name("%s.base64 %s", label, b64));
	ASSERT_TRUE(d->peers[0].has_endpoint, fmt_name("%s.has_endpoint", label));
	wg_format_endpoint(d->peers[0].endpoint_addr, d->peers[0].endpoint_port, ep, sizeof(ep));
	ASSERT_EQ(strcmp(ep, "[fd00::1]:51820"), 0, fmt_name("%s.endpoint6 %s", label, ep));
	ASSERT_EQ(d->peers[0].last_handshake_sec, 1700000000, fmt_name("%s.lhs", label));
	ASSERT_EQ(d->peers[0].last_handshake_nsec, 500000000, fmt_name("%s.lhns", label));
	ASSERT_EQ(d->peers[0].tx_bytes, 1234, fmt_name("%s.tx_bytes", label));
	ASSERT_EQ(d->peers[0].rx_bytes, 5678, fmt_name("%s.rx_bytes", label));
	ASSERT_EQ(d->peers[0].persistent_keepalive, 25, fmt_name("%s.keepalive", label));
	if (ASSERT_EQ(d->peers[0].nallowed_ips, 2, fmt_name("%s.nallowed", label))) {
		prefix_format(&d->peers[0].allowed_ips[0], pfx, sizeof(pfx));
		ASSERT_EQ(strcmp(pfx, "10.9.0.2/32"), 0, fmt_name("%s.allowed0 %s", label, pfx));
		prefix_format(&d->peers[0].allowed_ips[1], pfx, sizeof(pfx));
		ASSERT_EQ(strcmp(pfx, "fd00::2/128"), 0, fmt_name("%s.allowed1 %s", label, pfx));
	}
	wg_format_endpoint(d->peers[1].endpoint_addr, d->peers[1].endpoint_port, ep, sizeof(ep));
	ASSERT_EQ(strcmp(ep, "192.0.2.1:40000"), 0, fmt_name("%s.endpoint4 %s", label, ep));
	ASSERT_EQ(d->peers[1].last_handshake_sec, 0, fmt_name("%s.never", label));
	ASSERT_EQ(d->peers[1].nallowed_ips, 1, fmt_name("%s.nallowed1", label));
	ASSERT_FALSE(d->truncated, fmt_name("%s.truncated", label));
}

static int parse_str(const char *s, struct wg_device *d, char *err, size_t errlen)
{
	return wg_uapi_parse(s, strlen(s), d, err, errlen);
}

static void uapi_canned(void)
{
	struct wg_device d;
	char err[256];
	size_t len = strlen(canned_reply);

	if (ASSERT_OK(wg_uapi_parse(canned_reply, len, &d, err, sizeof(err)), "parse"))
		check_canned(&d, "canned");
	wg_device_free(&d);
	/* without the closing empty line */
	if (ASSERT_OK(wg_uapi_parse(canned_reply, len - 1, &d, err, sizeof(err)), "no_blank"))
		check_canned(&d, "no_blank");
	wg_device_free(&d);
	/* no peers; a key of a later protocol version is ignored */
	ASSERT_OK(parse_str("private_key=" KEY_PRIV "\nlisten_port=1\nfuture_key=x y\nerrno=0\n\n",
			    &d, err, sizeof(err)),
		  "no_peers");
	ASSERT_EQ(d.npeers, 0, "no_peers.npeers");
	wg_device_free(&d);
	/* a fresh device: nothing but errno */
	ASSERT_OK(parse_str("errno=0\n\n", &d, err, sizeof(err)), "empty_device");
	ASSERT_OK(parse_str("public_key=" KEY_A "\nendpoint=[fe80::1%eth0]:1\nerrno=0\n\n", &d, err,
			    sizeof(err)),
		  "zone_dropped");
	ASSERT_EQ(d.peers[0].endpoint_port, 1, "zone_dropped.port");
	wg_device_free(&d);
}

static void uapi_garbage(void)
{
	static const struct {
		const char *text;
		int want;
		const char *name;
	} bad[] = {
		{ "", -EPROTO, "empty" },
		{ "\n", -EPROTO, "blank_only" },
		{ "errno=0", -EPROTO, "no_newline" },
		{ "listen_port=1\n", -EPROTO, "no_errno" },
		{ "listen_port=1\n\n", -EPROTO, "no_errno_blank" },
		{ "hello\n\n", -EPROTO, "no_equals" },
		{ "=1\nerrno=0\n\n", -EPROTO, "empty_key" },
		{ "Listen_Port=1\nerrno=0\n\n", -EPROTO, "key_case" },
		{ "list\xffport=1\nerrno=0\n\n", -EPROTO, "key_binary" },
		{ "errno=0\n\nerrno=0\n\n", -EPROTO, "after_blank" },
		{ "errno=0\nlisten_port=1\n\n", -EPROTO, "after_errno" },
		{ "errno=x\n\n", -EPROTO, "errno_text" },
		{ "errno=\n\n", -EPROTO, "errno_empty" },
		{ "errno=5\n\n", -EIO, "errno_5" },
		{ "errno=-5\n\n", -EIO, "errno_minus_5" },
		{ "errno=99999\n\n", -EPROTO, "errno_huge" },
		{ "listen_port=65536\nerrno=0\n\n", -EPROTO, "port_range" },
		{ "listen_port=-1\nerrno=0\n\n", -EPROTO, "port_negative" },
		{ "listen_port=1 \nerrno=0\n\n", -EPROTO, "port_space" },
		{ "listen_port=\nerrno=0\n\n", -EPROTO, "port_empty" },
		{ "private_key=abc\nerrno=0\n\n", -EPROTO, "private_key_short" },
		{ "public_key=" KEY_A "0\nerrno=0\n\n", -EPROTO, "public_key_long" },
		{ "public_key=" KEY_ZERO "\nlisten_port=1\nerrno=0\n\n", -EPROTO,
		  "device_key_after_peer" },
		{ "endpoint=1.2.3.4:5\nerrno=0\n\n", -EPROTO, "peer_key_first" },
		{ "allowed_ip=1.2.3.4/32\nerrno=0\n\n", -EPROTO, "allowed_ip_first" },
		{ "public_key=" KEY_A "\nendpoint=1.2.3.4\nerrno=0\n\n", -EPROTO, "ep_no_port" },
		{ "public_key=" KEY_A "\nendpoint=1.2.3.4:70000\nerrno=0\n\n", -EPROTO,
		  "ep_port_range" },
		{ "public_key=" KEY_A "\nendpoint=[::1:5\nerrno=0\n\n", -EPROTO, "ep_bracket" },
		{ "public_key=" KEY_A "\nendpoint=[]:5\nerrno=0\n\n", -EPROTO, "ep_empty_v6" },
		{ "public_key=" KEY_A "\nendpoint=::1:5\nerrno=0\n\n", -EPROTO,
		  "ep_v6_no_brackets" },
		{ "public_key=" KEY_A "\nendpoint=host:5\nerrno=0\n\n", -EPROTO, "ep_name" },
		{ "public_key=" KEY_A "\nlast_handshake_time_nsec=1000000000\nerrno=0\n\n", -EPROTO,
		  "nsec_range" },
		{ "public_key=" KEY_A "\nrx_bytes=18446744073709551616\nerrno=0\n\n", -EPROTO,
		  "rx_overflow" },
		{ "public_key=" KEY_A "\nallowed_ip=10.0.0.0/33\nerrno=0\n\n", -EPROTO,
		  "allowed_ip_len" },
		{ "public_key=" KEY_A "\nallowed_ip=10.0.0.0/\nerrno=0\n\n", -EPROTO,
		  "allowed_ip_slash" },
		{ "public_key=" KEY_A "\npersistent_keepalive_interval=65536\nerrno=0\n\n", -EPROTO,
		  "keepalive_range" },
	};
	struct wg_device d;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = parse_str(bad[i].text, &d, err, sizeof(err));

		ASSERT_EQ(ret, bad[i].want, fmt_name("%s: %s", bad[i].name, err));
		ASSERT_TRUE(err[0] != '\0', fmt_name("%s.message", bad[i].name));
		ASSERT_TRUE(d.npeers == 0 && !d.peers,
			    fmt_name("%s.empty_after_error", bad[i].name));
		if (env.verbose)
			test__printf("%s: %s\n", bad[i].name, err);
	}
	/* a NUL byte inside a line (strlen would stop there: pass the length) */
	{
		static const char nul[] = "listen_port=1\0\nerrno=0\n\n";

		ASSERT_EQ(wg_uapi_parse(nul, sizeof(nul) - 1, &d, err, sizeof(err)), -EPROTO,
			  "nul_byte");
	}
	/* a line longer than WG_UAPI_MAX_LINE */
	{
		static char s[WG_UAPI_MAX_LINE + 128];
		size_t n = WG_UAPI_MAX_LINE + 64;

		memcpy(s, "future=", 7);
		memset(s + 7, 'x', n - 7);
		memcpy(s + n, "\nerrno=0\n\n", 11);
		ASSERT_EQ(parse_str(s, &d, err, sizeof(err)), -EPROTO, "long_line");
		/* and one just inside the limit is fine */
		memcpy(s + WG_UAPI_MAX_LINE, "\nerrno=0\n\n", 11);
		ASSERT_OK(parse_str(s, &d, err, sizeof(err)), "longest_line");
	}
}

/* xorshift64*: the same sequence on every machine. */
static __u64 prng(__u64 *state)
{
	__u64 x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* The canned reply cut at every length, and with random bytes flipped: never a crash. */
static void uapi_random(void)
{
	size_t len = strlen(canned_reply), i;
	char buf[sizeof(canned_reply)], err[256];
	__u64 rng = 0x77a9e5eedULL;
	int ok_count = 0, fail_count = 0;
	struct wg_device d;

	for (i = 0; i < len; i++) {
		int ret = wg_uapi_parse(canned_reply, i, &d, err, sizeof(err));

		/* every cut short of "errno=0\n" is refused; without the final "\n" it is fine */
		if (!ASSERT_EQ(ret, i == len - 1 ? 0 : -EPROTO, fmt_name("cut%zu", i)))
			break;
		wg_device_free(&d);
	}
	for (i = 0; i < 20000; i++) {
		int flips = 1 + prng(&rng) % 4, ret;

		memcpy(buf, canned_reply, len);
		for (int k = 0; k < flips; k++)
			buf[prng(&rng) % len] = prng(&rng) & 0xff;
		ret = wg_uapi_parse(buf, len, &d, err, sizeof(err));
		if (!ASSERT_TRUE(ret == 0 || (ret < 0 && err[0]), fmt_name("flip%zu", i)))
			break;
		if (ret)
			fail_count++;
		else
			ok_count++;
		if (!ASSERT_TRUE(ret == 0 || (!d.npeers && !d.peers), fmt_name("flip%zu.freed", i)))
			break;
		if (!ret && !ASSERT_LE(d.npeers, 2, fmt_name("flip%zu.npeers", i)))
			break;
		wg_device_free(&d);
	}
	if (env.verbose)
		test__printf("random: %d parsed, %d refused\n", ok_count, fail_count);
	ASSERT_GT(fail_count, 0, "some_refused");
}

/* More peers and allowed IPs than the caps: dropped, flagged, no error. */
static void uapi_caps(void)
{
	size_t cap = (WG_UAPI_MAX_PEERS + 2) * 110 + (WG_UAPI_MAX_ALLOWED_IPS + 5) * 32 + 128;
	size_t n = 0;
	char *s = malloc(cap), err[256];
	struct wg_device d;

	if (!ASSERT_OK_PTR(s, "malloc"))
		return;
	n += sprintf(s + n, "public_key=%s\n", KEY_A);
	for (int i = 0; i < WG_UAPI_MAX_ALLOWED_IPS + 5; i++)
		n += sprintf(s + n, "allowed_ip=10.%d.%d.0/24\n", i / 256, i % 256);
	for (int i = 1; i < WG_UAPI_MAX_PEERS + 2; i++)
		n += sprintf(s + n, "public_key=%064x\nallowed_ip=10.0.0.1/32\n", i);
	n += sprintf(s + n, "errno=0\n\n");
	if (ASSERT_LE(n, cap, "fits") &&
	    ASSERT_OK(wg_uapi_parse(s, n, &d, err, sizeof(err)), err)) {
		ASSERT_EQ(d.npeers, WG_UAPI_MAX_PEERS, "npeers_capped");
		ASSERT_EQ(d.peers[0].nallowed_ips, WG_UAPI_MAX_ALLOWED_IPS, "allowed_capped");
		ASSERT_TRUE(d.truncated, "truncated");
		ASSERT_EQ(d.peers[WG_UAPI_MAX_PEERS - 1].public_key[30] << 8 |
				  d.peers[WG_UAPI_MAX_PEERS - 1].public_key[31],
			  WG_UAPI_MAX_PEERS - 1, "last_kept_peer");
	}
	wg_device_free(&d);
	free(s);
}

/* A fake wireguard-go: one connection on a unix socket in a private /tmp directory. */
enum fake_mode {
	FAKE_REPLY, /* the reply, in chunks */
	FAKE_SILENT, /* read the request, answer nothing */
	FAKE_CLOSE_EARLY, /* half the reply, then close */
	FAKE_FLOOD, /* endless key=value lines without the closing empty line */
};

struct fake_server {
	char dir[64];
	char path[128];
	int lfd;
	enum fake_mode mode;
	const char *reply;
	size_t chunk;
	char request[64];
	pthread_t thread;
};

static void fake_wait_close(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c[256];

	/* until the client hangs up (at most 5 s) */
	while (poll(&p, 1, 5000) == 1 && recv(fd, c, sizeof(c), 0) > 0)
		;
}

static void *fake_main(void *arg)
{
	struct fake_server *s = arg;
	size_t got = 0, len, off = 0;
	struct pollfd p = { .fd = s->lfd, .events = POLLIN };
	int fd;

	if (poll(&p, 1, 5000) != 1)
		return NULL;
	fd = accept(s->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	while (got < sizeof(s->request) - 1 && !strstr(s->request, "\n\n")) {
		ssize_t n = recv(fd, s->request + got, sizeof(s->request) - 1 - got, 0);

		if (n <= 0)
			break;
		got += n;
	}
	len = s->reply ? strlen(s->reply) : 0;
	switch (s->mode) {
	case FAKE_REPLY:
		while (off < len) {
			size_t n = len - off < s->chunk ? len - off : s->chunk;

			if (send(fd, s->reply + off, n, MSG_NOSIGNAL) < 0)
				break;
			off += n;
			usleep(200);
		}
		fake_wait_close(fd);
		break;
	case FAKE_SILENT:
		fake_wait_close(fd);
		break;
	case FAKE_CLOSE_EARLY:
		send(fd, s->reply, len / 2, MSG_NOSIGNAL);
		break;
	case FAKE_FLOOD: {
		static const char line[] =
			"future_key=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n";

		for (int i = 0; i < (int)(2 * WG_UAPI_MAX_REPLY / (sizeof(line) - 1)); i++)
			if (send(fd, line, sizeof(line) - 1, MSG_NOSIGNAL) < 0)
				break;
		break;
	}
	}
	close(fd);
	return NULL;
}

static bool fake_start(struct fake_server *s, enum fake_mode mode, const char *reply, size_t chunk)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	memset(s, 0, sizeof(*s));
	s->lfd = -1;
	s->mode = mode;
	s->reply = reply;
	s->chunk = chunk ?: 1 << 20;
	strcpy(s->dir, "/tmp/wp-wg-uapi.XXXXXX");
	if (!ASSERT_OK_PTR(mkdtemp(s->dir), "mkdtemp"))
		return false;
	snprintf(s->path, sizeof(s->path), "%s/wgfake.sock", s->dir);
	strcpy(sun.sun_path, s->path);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!ASSERT_GE(s->lfd, 0, "socket") ||
	    !ASSERT_OK(bind(s->lfd, (struct sockaddr *)&sun, sizeof(sun)), "bind") ||
	    !ASSERT_OK(listen(s->lfd, 4), "listen") ||
	    !ASSERT_OK(pthread_create(&s->thread, NULL, fake_main, s), "pthread_create")) {
		if (s->lfd >= 0)
			close(s->lfd);
		unlink(s->path);
		rmdir(s->dir);
		return false;
	}
	return true;
}

static void fake_stop(struct fake_server *s)
{
	pthread_join(s->thread, NULL);
	close(s->lfd);
	unlink(s->path);
	rmdir(s->dir);
}

static long long elapsed_ms(__u64 t0)
{
	return (dp_now_ns() - t0) / 1000000;
}

static void uapi_client(void)
{
	struct fake_server s;
	struct wg_device d;
	char err[256];
	__u64 t0;
	int ret;

	if (test__start_subtest("client_reply") && fake_start(&s, FAKE_REPLY, canned_reply, 0)) {
		ret = wg_uapi_query(s.path, 1000, &d, err, sizeof(err));
		if (ASSERT_OK(ret, err))
			check_canned(&d, "client");
		wg_device_free(&d);
		fake_stop(&s);
		ASSERT_EQ(strcmp(s.request, "get=1\n\n"), 0, "request");
	}
	/* 7-byte pieces: lines and the closing "\n\n" split across reads */
	if (test__start_subtest("client_chunks") && fake_start(&s, FAKE_REPLY, canned_reply, 7)) {
		ret = wg_uapi_query(s.path, 2000, &d, err, sizeof(err));
		if (ASSERT_OK(ret, err))
			check_canned(&d, "chunks");
		wg_device_free(&d);
		fake_stop(&s);
	}
	if (test__start_subtest("client_errno") &&
	    fake_start(&s, FAKE_REPLY, "errno=-5\n\nlisten_port=1\n", 0)) {
		ASSERT_EQ(wg_uapi_query(s.path, 1000, &d, err, sizeof(err)), -EIO, "errno");
		fake_stop(&s);
	}
	if (test__start_subtest("client_timeout") && fake_start(&s, FAKE_SILENT, NULL, 0)) {
		t0 = dp_now_ns();
		ret = wg_uapi_query(s.path, 200, &d, err, sizeof(err));
		ASSERT_EQ(ret, -ETIMEDOUT, err);
		ASSERT_GE(elapsed_ms(t0), 190, "waited_ms");
		ASSERT_LT(elapsed_ms(t0), 1000, "not_longer_ms");
		ASSERT_TRUE(d.npeers == 0 && !d.peers, "empty");
		fake_stop(&s);
	}
	/* a slow trickle does not extend the deadline: the timeout is for the whole reply */
	if (test__start_subtest("client_trickle") && fake_start(&s, FAKE_REPLY, canned_reply, 1)) {
		t0 = dp_now_ns();
		ret = wg_uapi_query(s.path, 50, &d, err, sizeof(err));
		ASSERT_EQ(ret, -ETIMEDOUT, err);
		ASSERT_GE(elapsed_ms(t0), 45, "waited_ms");
		ASSERT_LT(elapsed_ms(t0), 500, "bounded_ms");
		fake_stop(&s);
	}
	if (test__start_subtest("client_close_early") &&
	    fake_start(&s, FAKE_CLOSE_EARLY, canned_reply, 0)) {
		ASSERT_EQ(wg_uapi_query(s.path, 1000, &d, err, sizeof(err)), -EPROTO, err);
		fake_stop(&s);
	}
	if (test__start_subtest("client_flood") && fake_start(&s, FAKE_FLOOD, NULL, 0)) {
		ASSERT_EQ(wg_uapi_query(s.path, 5000, &d, err, sizeof(err)), -EMSGSIZE, err);
		fake_stop(&s);
	}
	if (test__start_subtest("client_no_socket")) {
		char dir[] = "/tmp/wp-wg-uapi.XXXXXX", path[64];
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		int fd;

		if (ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp")) {
			snprintf(path, sizeof(path), "%s/none.sock", dir);
			ASSERT_EQ(wg_uapi_query(path, 200, &d, err, sizeof(err)), -ENOENT, err);
			/* a socket file nobody listens on: a wireguard-go that died */
			fd = socket(AF_UNIX, SOCK_STREAM, 0);
			strcpy(sun.sun_path, path);
			if (ASSERT_OK(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), "bind"))
				ASSERT_EQ(wg_uapi_query(path, 200, &d, err, sizeof(err)),
					  -ECONNREFUSED, err);
			close(fd);
			unlink(path);
			rmdir(dir);
		}
		ASSERT_EQ(wg_uapi_get("../etc", &d, err, sizeof(err)), -EINVAL, "bad_ifname");
		ASSERT_EQ(wg_uapi_get("", &d, err, sizeof(err)), -EINVAL, "empty_ifname");
		ASSERT_EQ(wg_uapi_get("0123456789abcdef", &d, err, sizeof(err)), -EINVAL,
			  "long_ifname");
		ASSERT_EQ(wg_uapi_get("wpt-no-such-wg", &d, err, sizeof(err)), -ENOENT,
			  "no_such_device");
		ASSERT_EQ(d.err, -ENOENT, "dev.err");
		ASSERT_EQ(strcmp(d.ifname, "wpt-no-such-wg"), 0, "dev.ifname");
	}
}

void test_wireguard_uapi(void)
{
	if (test__start_subtest("canned"))
		uapi_canned();
	if (test__start_subtest("garbage"))
		uapi_garbage();
	if (test__start_subtest("random"))
		uapi_random();
	if (test__start_subtest("caps"))
		uapi_caps();
	uapi_client();
}

/* ---- test_wireguard_metrics ---- */

static const char *const names_by_id[] = {
	[PEER_A] = "node-a",
	[PEER_B] = "node-b",
	[PEER_C] = "node-c",
};

static const char *fake_peer_name(void *ctx, __u32 id)
{
	int *calls = ctx;

	(*calls)++;
	if (id < sizeof(names_by_id) / sizeof(names_by_id[0]))
		return names_by_id[id];
	return id == PEER_LAST ? "node-last" : NULL;
}

static bool assert_line(const char *text, const char *line, const char *name)
{
	const char *p = text;
	size_t n = strlen(line);

	while (p && (p = strstr(p, line))) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return test__assert_report(true, __FILE__, __LINE__, name, "found");
		p += n;
	}
	return test__assert_report(false, __FILE__, __LINE__, name, "line \"%s\" not in:\n%s", line,
				   text ? text : "(null)");
}

static int count_prefix(const char *text, const char *prefix)
{
	int n = 0;

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		n += !strncmp(p, prefix, strlen(prefix));
	return n;
}

static int promtool_check(const char *text)
{
	FILE *p;
	int status;

	if (access(PROMTOOL, X_OK))
		return -1;
	p = popen(PROMTOOL " check metrics", "w");
	if (!p)
		return -1;
	fwrite(text, 1, strlen(text), p);
	status = pclose(p);
	if (status == -1 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int put_entry(struct dp_fixture *f, const char *addr, __u16 port, __u32 ifindex,
		     const struct wg_endpoint_state *st)
{
	struct wg_endpoint_key k;

	wg_key(&k, addr, port);
	k.ifindex = ifindex;
	return bpf_map_update_elem(wg_fd(f), &k, st, BPF_ANY) ? -errno : 0;
}

/*
 * node-a at 192.0.2.1:51820: 3 initiations (1 unanswered, 2 completed, RTTs
 * 2 ms and 300 ms), one received and completed, cookies; the same endpoint on
 * a second underlay ifindex (merged into one series); a NATed endpoint of
 * node-a that the datapath could not name; a stray address with a stale
 * pending initiation; a scanner with only malformed datagrams.
 */
static bool put_scenario(struct dp_fixture *f, __u64 now)
{
	struct wg_endpoint_state a = {}, a2 = {}, nat = {}, stray = {}, scan = {};

	a.side[WP_DIR_TX].initiations = 3;
	a.side[WP_DIR_TX].completed = 2;
	a.side[WP_DIR_TX].unanswered = 1;
	a.side[WP_DIR_RX].initiations = 1;
	a.side[WP_DIR_RX].completed = 1;
	a.cookies_tx = 4;
	a.cookies_rx = 5;
	a.malformed = 1;
	a.peer_id = PEER_A + 1;
	a.last_handshake_ns = now - 2000000000ull;
	a.rtt.slots[4] = 1; /* 2 ms: <= 2.5 ms */
	a.rtt.slots[11] = 1; /* 300 ms: <= 500 ms */
	a.rtt.sum_ns = 302000000ull;
	a.rtt.count = 2;
	a2.side[WP_DIR_TX].initiations = 1;
	a2.side[WP_DIR_TX].completed = 1;
	a2.peer_id = PEER_A + 1;
	a2.rtt.slots[0] = 1;
	a2.rtt.sum_ns = 50000;
	a2.rtt.count = 1;
	nat.side[WP_DIR_RX].initiations = 2;
	nat.side[WP_DIR_RX].completed = 2;
	stray.side[WP_DIR_TX].initiations = 1;
	stray.side[WP_DIR_TX].pending_ns = now - 10000000000ull; /* 10 s: overdue */
	stray.side[WP_DIR_TX].pending_index = 9;
	scan.malformed = 7;
	return ASSERT_OK(put_entry(f, NODE_A4, WG_PORT, DP_TEST_IFINDEX, &a), "put_a") &&
	       ASSERT_OK(put_entry(f, NODE_A4, WG_PORT, DP_TEST_IFINDEX + 1, &a2), "put_a2") &&
	       ASSERT_OK(put_entry(f, "192.0.2.77", 40000, DP_TEST_IFINDEX, &nat), "put_nat") &&
	       ASSERT_OK(put_entry(f, STRAY4, WG_PORT, DP_TEST_IFINDEX, &stray), "put_stray") &&
	       ASSERT_OK(put_entry(f, "198.51.100.99", 1234, DP_TEST_IFINDEX, &scan), "put_scan");
}

#define HS "warmpath_wireguard_handshakes_total"
#define A_LABELS "peer=\"node-a\",endpoint=\"192.0.2.1:51820\""

static void metrics_basic(struct dp_fixture *f)
{
	struct prom_buf b;
	int calls = 0;

	wg_clear(f);
	if (!put_scenario(f, dp_now_ns()))
		return;
	prom_buf_init(&b);
	if (!ASSERT_OK(wg_emit_metrics(wg_fd(f), fake_peer_name, &calls, &b), "emit"))
		goto out;
	if (env.verbose)
		printf("%s", b.data);
	ASSERT_GT(calls, 0, "callback_used");
	assert_line(b.data, HS "{" A_LABELS ",direction=\"initiated\",result=\"completed\"} 3",
		    "a.completed_merged");
	assert_line(b.data, HS "{" A_LABELS ",direction=\"initiated\",result=\"unanswered\"} 1",
		    "a.unanswered");
	assert_line(b.data, HS "{" A_LABELS ",direction=\"received\",result=\"completed\"} 1",
		    "a.received_completed");
	assert_line(b.data,
		    "warmpath_wireguard_handshake_initiations_total{" A_LABELS
		    ",direction=\"initiated\"} 4",
		    "a.initiations");
	assert_line(b.data, "warmpath_wireguard_cookies_total{" A_LABELS ",direction=\"tx\"} 4",
		    "a.cookies_tx");
	assert_line(b.data, "warmpath_wireguard_cookies_total{" A_LABELS ",direction=\"rx\"} 5",
		    "a.cookies_rx");
	assert_line(b.data,
		    "warmpath_wireguard_handshake_rtt_seconds_bucket{" A_LABELS ",le=\"0.0001\"} 1",
		    "a.rtt_first_bucket");
	assert_line(b.data,
		    "warmpath_wireguard_handshake_rtt_seconds_bucket{" A_LABELS ",le=\"0.0025\"} 2",
		    "a.rtt_2ms");
	assert_line(b.data,
		    "warmpath_wireguard_handshake_rtt_seconds_bucket{" A_LABELS ",le=\"0.5\"} 3",
		    "a.rtt_300ms");
	assert_line(b.data, "warmpath_wireguard_handshake_rtt_seconds_count{" A_LABELS "} 3",
		    "a.rtt_count");
	{
		const char *p = strstr(
			b.data, "warmpath_wireguard_handshake_rtt_seconds_sum{" A_LABELS "} ");
		double sum = p ? strtod(strchr(p, '}') + 2, NULL) : -1;

		ASSERT_TRUE(fabs(sum - 0.30205) < 1e-9, fmt_name("a.rtt_sum %g", sum));
	}
	/* without the trie the NATed endpoint has no name; the overdue initiation counts */
	assert_line(b.data,
		    HS "{peer=\"_unknown\",endpoint=\"192.0.2.77:40000\",direction=\"received\","
		       "result=\"completed\"} 2",
		    "nat.unknown");
	assert_line(b.data,
		    HS "{peer=\"_unknown\",endpoint=\"198.51.100.7:51820\",direction=\"initiated\","
		       "result=\"unanswered\"} 1",
		    "stray.overdue_unanswered");
	assert_line(b.data, "warmpath_wireguard_malformed_total 8", "malformed_total");
	ASSERT_EQ(count_prefix(b.data, HS "{"), 3 * 4, "three_rows_not_the_scanner");
	ASSERT_EQ(promtool_check(b.data), 0, "promtool");
out:
	prom_buf_free(&b);
}

/* With the trie and a wireguard-go device: the NATed endpoint is named through its allowed IPs. */
static void metrics_uapi(struct dp_fixture *f)
{
	char reply[2048], err[256], *b64 = NULL;
	struct wg_names nm = { .peer_name = fake_peer_name, .prefixes_fd = f->prefixes_fd };
	struct wg_device dev;
	struct prom_buf b;
	json_t *js = NULL, *o;
	size_t i;
	int calls = 0;
	time_t now = time(NULL);

	nm.ctx = &calls;
	wg_clear(f);
	if (!put_scenario(f, dp_now_ns()))
		return;
	snprintf(reply, sizeof(reply),
		 "private_key=" KEY_PRIV "\nlisten_port=51820\n"
		 "public_key=" KEY_A "\nendpoint=192.0.2.77:40000\n"
		 "last_handshake_time_sec=%lld\nlast_handshake_time_nsec=0\n"
		 "allowed_ip=10.244.7.9/32\n" /* node-c */
		 "public_key=" KEY_B "\nallowed_ip=172.16.0.0/12\nerrno=0\n\n",
		 (long long)now - 30);
	if (!ASSERT_OK(parse_str(reply, &dev, err, sizeof(err)), err))
		return;
	snprintf(dev.ifname, sizeof(dev.ifname), "wgtest0");
	prom_buf_init(&b);
	if (!ASSERT_OK(wg_emit_metrics_all(wg_fd(f), &nm, &dev, 1, &b), "emit"))
		goto out;
	if (env.verbose)
		printf("%s", b.data);
	assert_line(b.data, HS "{" A_LABELS ",direction=\"initiated\",result=\"completed\"} 3",
		    "a.by_trie");
	assert_line(b.data,
		    HS "{peer=\"node-c\",endpoint=\"192.0.2.77:40000\",direction=\"received\","
		       "result=\"completed\"} 2",
		    "nat.by_allowed_ips");
	assert_line(b.data, "warmpath_wireguard_uapi_up{interface=\"wgtest0\"} 1", "uapi_up");
	ASSERT_EQ(count_prefix(b.data, "warmpath_wireguard_peer_last_handshake_seconds{"), 2,
		  "two_peers");
	assert_line(b.data,
		    "warmpath_wireguard_peer_last_handshake_seconds{interface=\"wgtest0\","
		    "peer=\"_unknown\",public_key=\"xNAaOtBeGMSvk+i3610aWmoArBrkC9ZAx+/fSdTn824=\","
		    "endpoint=\"none\"} +Inf",
		    "never");
	{
		const char *p = strstr(b.data, "warmpath_wireguard_peer_last_handshake_seconds{"
					       "interface=\"wgtest0\",peer=\"node-c\"");
		double age = p ? strtod(strchr(p, '}') + 2, NULL) : -1;

		ASSERT_TRUE(p != NULL, "node-c_age_present");
		ASSERT_TRUE(age >= 29 && age < 40, fmt_name("node-c_age %g", age));
	}
	ASSERT_EQ(promtool_check(b.data), 0, "promtool");

	/* a device whose query failed */
	dev.err = -ETIMEDOUT;
	prom_buf_reset(&b);
	wg_emit_metrics_all(wg_fd(f), &nm, &dev, 1, &b);
	assert_line(b.data, "warmpath_wireguard_uapi_up{interface=\"wgtest0\"} 0", "uapi_down");
	dev.err = 0;

	js = wg_status_json(wg_fd(f), &nm, &dev, 1);
	if (!ASSERT_OK_PTR(js, "json"))
		goto out;
	if (env.verbose) {
		b64 = json_dumps(js, JSON_INDENT(2));
		printf("%s\n", b64);
	}
	ASSERT_EQ(json_integer_value(json_object_get(js, "malformed")), 8, "json.malformed");
	ASSERT_EQ(json_array_size(json_object_get(js, "endpoints")), 4, "json.endpoints_all");
	json_array_foreach(json_object_get(js, "endpoints"), i, o) {
		const char *ep = json_string_value(json_object_get(o, "endpoint"));

		if (!strcmp(ep, "192.0.2.1:51820")) {
			ASSERT_EQ(strcmp(json_string_value(json_object_get(o, "peer")), "node-a"),
				  0, "json.a.peer");
			ASSERT_EQ(json_integer_value(json_object_get(
					  json_object_get(o, "initiated"), "completed")),
				  3, "json.a.completed");
			ASSERT_TRUE(fabs(json_real_value(json_object_get(o, "rtt_mean_seconds")) -
					 0.30205 / 3) < 1e-9,
				    "json.a.rtt_mean");
			ASSERT_TRUE(json_is_null(json_object_get(o, "public_key")),
				    "json.a.no_key");
			ASSERT_TRUE(json_real_value(
					    json_object_get(o, "last_handshake_seconds_ago")) >= 2,
				    "json.a.last_handshake");
		} else if (!strcmp(ep, "192.0.2.77:40000")) {
			ASSERT_EQ(strcmp(json_string_value(json_object_get(o, "public_key")),
					 "qKniZCNrgQJ48s67tOBNS4SeoB1wdKxtiGEyDXvG100="),
				  0, "json.nat.public_key");
			ASSERT_TRUE(json_is_null(json_object_get(o, "rtt_mean_seconds")),
				    "json.nat.no_rtt");
		} else if (!strcmp(ep, "198.51.100.7:51820")) {
			ASSERT_FALSE(json_is_true(json_object_get(json_object_get(o, "initiated"),
								  "pending")),
				     "json.stray.overdue_not_pending");
		}
	}
	o = json_array_get(json_object_get(js, "devices"), 0);
	ASSERT_EQ(strcmp(json_string_value(json_object_get(o, "interface")), "wgtest0"), 0,
		  "json.device");
	ASSERT_EQ(json_array_size(json_object_get(o, "peers")), 2, "json.device.peers");
	if (env.verbose)
		wg_status_print(js, stdout);
out:
	free(b64);
	json_decref(js);
	wg_device_free(&dev);
	prom_buf_free(&b);
}

/* More endpoints than WG_MAX_ENDPOINT_SERIES: named ones kept, the rest in "_other". */
static void metrics_cap(struct dp_fixture *f)
{
	struct wg_endpoint_state st = {};
	struct prom_buf b;
	int calls = 0, n = WG_MAX_ENDPOINT_SERIES + 40;
	char addr[32];

	wg_clear(f);
	st.side[WP_DIR_TX].initiations = 1;
	st.side[WP_DIR_TX].completed = 1;
	for (int i = 0; i < n; i++) {
		snprintf(addr, sizeof(addr), "100.64.%d.%d", i / 200, i % 200 + 1);
		if (!ASSERT_OK(put_entry(f, addr, WG_PORT, DP_TEST_IFINDEX, &st), "put"))
			return;
	}
	st.peer_id = PEER_B + 1;
	put_entry(f, POD_B4, WG_PORT, DP_TEST_IFINDEX, &st);
	prom_buf_init(&b);
	if (ASSERT_OK(wg_emit_metrics(wg_fd(f), fake_peer_name, &calls, &b), "emit")) {
		ASSERT_EQ(count_prefix(b.data, HS "{"), 4 * (WG_MAX_ENDPOINT_SERIES + 1),
			  "rows_capped");
		assert_line(b.data,
			    HS "{peer=\"node-b\",endpoint=\"10.244.1.5:51820\",direction="
			       "\"initiated\",result=\"completed\"} 1",
			    "named_kept");
		assert_line(b.data,
			    HS "{peer=\"_other\",endpoint=\"_other\",direction=\"initiated\","
			       "result=\"completed\"} 41",
			    "other_sum");
		ASSERT_EQ(promtool_check(b.data), 0, "promtool");
	}
	prom_buf_free(&b);
	wg_clear(f);
}

/* The BPF histogram bounds are the exported ones. */
static void metrics_bounds(void)
{
	static const __u64 ns[WP_HIST_BOUNDS] = WP_HIST_BOUNDS_NS;

	for (int i = 0; i < WP_HIST_BOUNDS; i++)
		ASSERT_TRUE(fabs(ns[i] / 1e9 - prom_hist_bounds[i]) < 1e-12,
			    fmt_name("bound%d", i));
}

void test_wireguard_metrics(void)
{
	struct dp_fixture f;

	if (test__start_subtest("bounds"))
		metrics_bounds();
	if (!setup_underlay(&f))
		return;
	if (test__start_subtest("basic"))
		metrics_basic(&f);
	if (test__start_subtest("uapi_and_trie"))
		metrics_uapi(&f);
	if (test__start_subtest("cap"))
		metrics_cap(&f);
	if (test__start_subtest("empty")) {
		struct prom_buf b;
		int calls = 0;

		wg_clear(&f);
		prom_buf_init(&b);
		ASSERT_OK(wg_emit_metrics(wg_fd(&f), fake_peer_name, &calls, &b), "emit");
		assert_line(b.data, "warmpath_wireguard_malformed_total 0", "zero");
		ASSERT_EQ(promtool_check(b.data), 0, "promtool");
		prom_buf_free(&b);
	}
	dp_fixture_close(&f);
}
