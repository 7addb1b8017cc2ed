// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * WireGuard: the datapath's handshake parser on the underlay
 * (bpf/wireguard.bpf.h) with crafted messages (wg_packets.c).
 *
 *	test_wireguard_handshakes  initiation/response, index matching, unanswered,
 *				   received, cookies, data, malformed, ports, peers,
 *				   garbage allocates no entry
 *	test_wireguard_truncated   every message cut at every length, both ways
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

#include "wg_packets.h"

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
	struct wg_endpoint_state st = {};
	struct wg_endpoint_key k;
	size_t i;
	int dir, n = 0;

	wg_clear(f);
	/* malformed datagrams count into an endpoint already tracked (see garbage_no_entry) */
	wg_key(&k, NODE_A4, WG_PORT);
	if (!ASSERT_OK(bpf_map_update_elem(wg_fd(f), &k, &st, BPF_NOEXIST), "tracked"))
		return;
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

/*
 * Garbage to the WireGuard port from endpoints not tracked creates no entry
 * (and so evicts none from the LRU): counted in the statistics only, while
 * the state of a tracked endpoint stays as it was.
 */
static void garbage_no_entry(struct dp_fixture *f)
{
	struct wg_msg hs = { .ip = 4, .type = WG_MSG_INITIATION, .sender = 7 };
	struct wg_endpoint_state before, after;
	char addr[32];

	wg_clear(f);
	send_wg(f, &hs, WP_DIR_TX, WP_STAT_WG_HANDSHAKE, "real_initiation");
	if (!ASSERT_OK(wg_read(f, NODE_A4, WG_PORT, &before), "real_entry"))
		return;
	for (int i = 0; i < 64; i++) {
		struct wg_msg m = { .ip = 4,
				    .type = (__u8)(i % 3 ? 0xff : WG_MSG_INITIATION),
				    .len = i % 3 ? 64 : WG_LEN_INITIATION - 1,
				    .remote = addr,
				    .remote_port = (__u16)(1024 + i) };

		snprintf(addr, sizeof(addr), "198.51.100.%d", 10 + i);
		if (!send_wg(f, &m, i % 2 ? WP_DIR_RX : WP_DIR_TX, WP_STAT_WG_MALFORMED,
			     fmt_name("garbage_%d", i)))
			break;
	}
	ASSERT_EQ(wg_count(f), 1, "no_entry_for_garbage");
	if (ASSERT_OK(wg_read(f, NODE_A4, WG_PORT, &after), "real_entry_kept")) {
		ASSERT_EQ(after.side[WP_DIR_TX].initiations, 1, "real_initiations");
		ASSERT_EQ(after.side[WP_DIR_TX].pending_index, 7, "real_pending_index");
		ASSERT_EQ(after.malformed, 0, "real_not_malformed");
		ASSERT_EQ(after.side[WP_DIR_TX].pending_ns, before.side[WP_DIR_TX].pending_ns,
			  "real_pending_unchanged");
	}
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
	if (test__start_subtest("garbage_no_entry"))
		garbage_no_entry(&f);
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
		/* a malformed message counts only into an endpoint already tracked */
		if (m->type != WG_MSG_DATA && len >= off + 4 && len < off + 12) {
			struct wg_endpoint_state zero = {};
			struct wg_endpoint_key k;

			wg_key(&k, remote, m->remote_port ?: WG_PORT);
			bpf_map_update_elem(wg_fd(f), &k, &zero, BPF_NOEXIST);
		}
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
