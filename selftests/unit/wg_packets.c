// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Crafted WireGuard messages and the wg_endpoints map of a fixture: see wg_packets.h. */
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

size_t wg_type_len(__u8 type)
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
int build_wg(struct pkt *p, const struct wg_msg *m, int dir, size_t *payload_off)
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

int wg_fd(struct dp_fixture *f)
{
	return bpf_map__fd(f->skel->maps.wg_endpoints);
}

void wg_key(struct wg_endpoint_key *k, const char *addr, __u16 port)
{
	memset(k, 0, sizeof(*k));
	addr_to_key(addr, k->addr);
	k->port = port;
	k->ifindex = DP_TEST_IFINDEX;
}

/* The entry of an endpoint: 0, or -ENOENT. */
int wg_read(struct dp_fixture *f, const char *addr, __u16 port, struct wg_endpoint_state *st)
{
	struct wg_endpoint_key k;

	wg_key(&k, addr, port);
	memset(st, 0, sizeof(*st));
	return bpf_map_lookup_elem(wg_fd(f), &k, st) ? -errno : 0;
}

int wg_count(struct dp_fixture *f)
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

void wg_clear(struct dp_fixture *f)
{
	struct wg_endpoint_key k;

	while (!bpf_map_get_next_key(wg_fd(f), NULL, &k))
		bpf_map_delete_elem(wg_fd(f), &k);
}

/* What one WireGuard-port datagram must do to the stats (and nothing else). */
struct dp_expect expect_wg(int dir, int stat)
{
	struct dp_expect e = expect_nothing(dir);

	if (stat >= 0)
		e.stats[stat] = 1;
	return e;
}

/* Send one message through the program of dir, checking stats, peers and the packet. */
bool send_wg(struct dp_fixture *f, const struct wg_msg *m, int dir, int stat, const char *label)
{
	struct dp_expect e = expect_wg(dir, stat);
	struct pkt p;

	if (!ASSERT_OK(build_wg(&p, m, dir, NULL), fmt_name("%s.build", label)))
		return false;
	return check_pkt(f, &p, &e, label);
}

bool setup_underlay(struct dp_fixture *f)
{
	if (!setup_datapath(f, NULL))
		return false;
	if (!ASSERT_OK(dp_set_iface(f, DP_TEST_IFINDEX, UNDERLAY), "set_underlay")) {
		dp_fixture_close(f);
		return false;
	}
	return true;
}
