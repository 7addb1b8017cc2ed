/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * WireGuard handshake observation on the underlay interface: UDP to or from
 * this node's WireGuard port. Message type is the first byte of the payload
 * (three reserved zero bytes follow); lengths are fixed for the handshake
 * messages. An initiation (type 1, 148 bytes) carries its sender index at
 * offset 4; the response (type 2, 92 bytes) names it as receiver index at
 * offset 8. Data messages (type 4) cost one comparison and nothing else.
 *
 * Self-contained: the `wg_endpoints` LRU and the `wireguard_port` setting
 * live here; the program that includes this header (datapath.bpf.c) calls
 * handle_underlay() for packets on an underlay interface.
 */
#ifndef __WARMPATH_WIREGUARD_BPF_H
#define __WARMPATH_WIREGUARD_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "parsing.bpf.h"
#include "maps.bpf.h"
#include "warmpath.h"

/* This node's WireGuard UDP port; set by the loader before load. */
const volatile __u16 wireguard_port = WP_WIREGUARD_PORT;

/* (underlay ifindex, remote address, remote port) -> handshake state; pinned. */
WP_PINNED_MAP(wg_endpoints, BPF_MAP_TYPE_LRU_HASH, WP_MAX_WG_ENDPOINTS, struct wg_endpoint_key,
	      struct wg_endpoint_state);

/* A zeroed value to insert from: too large for the 512-byte BPF stack. */
static struct wg_endpoint_state wg_endpoint_zero;

static __always_inline struct wg_endpoint_state *wg_endpoint(struct wg_endpoint_key *key)
{
	struct wg_endpoint_state *st;
	__u32 peer_id;

	st = bpf_map_lookup_elem(&wg_endpoints, key);
	if (st)
		return st;
	bpf_map_update_elem(&wg_endpoints, key, &wg_endpoint_zero, BPF_NOEXIST);
	st = bpf_map_lookup_elem(&wg_endpoints, key);
	if (st && peer_of_addr(key->addr, &peer_id))
		st->peer_id = peer_id + 1;
	return st;
}

static __noinline void handle_underlay(struct hdr_cursor *c, void *end, int eth_type, __u32 ifindex,
				       int dir)
{
	struct wg_endpoint_key key = { .ifindex = ifindex };
	struct addr_key saddr, daddr;
	struct wg_endpoint_state *st;
	struct wg_side *side;
	struct udphdr *udph;
	__u32 plen, sender, receiver;
	__u8 *p, type;
	bool l4_ok = false;
	__u64 now;

	if (eth_type != ETH_P_IP && eth_type != ETH_P_IPV6)
		return;
	if (parse_ip(c, end, eth_type, saddr.addr, daddr.addr, &l4_ok) != IPPROTO_UDP || !l4_ok)
		return;
	udph = c->pos;
	if ((void *)(udph + 1) > end)
		return;
	/* our side of the conversation is the WireGuard port; the remote may be NATed */
	if (bpf_ntohs(dir == WP_DIR_TX ? udph->source : udph->dest) != wireguard_port)
		return;
	p = (void *)(udph + 1);
	if ((void *)(p + 4) > end)
		return;
	type = p[0];
	if (type == WG_MSG_DATA)
		return;
	plen = bpf_ntohs(udph->len);
	plen = plen > sizeof(*udph) ? plen - sizeof(*udph) : 0;

	__builtin_memcpy(key.addr, dir == WP_DIR_TX ? daddr.addr : saddr.addr, 16);
	key.port = bpf_ntohs(dir == WP_DIR_TX ? udph->dest : udph->source);
	/*
	 * Validate before allocating: garbage to the WireGuard port (a scanner,
	 * a spoofed flood) must not create LRU entries and so evict real
	 * handshake state. It counts into an endpoint already tracked, and in
	 * the global statistics always.
	 */
	if (p[1] || p[2] || p[3] || (type == WG_MSG_INITIATION && plen != WG_LEN_INITIATION) ||
	    (type == WG_MSG_RESPONSE && plen != WG_LEN_RESPONSE) ||
	    (type == WG_MSG_COOKIE && plen != WG_LEN_COOKIE) || type < WG_MSG_INITIATION ||
	    type > WG_MSG_COOKIE || (void *)(p + 12) > end) {
		stat_inc(WP_STAT_WG_MALFORMED);
		st = bpf_map_lookup_elem(&wg_endpoints, &key);
		if (st)
			__sync_fetch_and_add(&st->malformed, 1);
		return;
	}
	st = wg_endpoint(&key);
	if (!st)
		return;
	stat_inc(WP_STAT_WG_HANDSHAKE);
	now = bpf_ktime_get_ns();
	sender = *(__u32 *)(p + 4);
	receiver = *(__u32 *)(p + 8);

	if (type == WG_MSG_INITIATION) {
		side = &st->side[dir & 1];
		__sync_fetch_and_add(&side->initiations, 1);
		/* a retry while the previous initiation waits: that one went unanswered */
		if (side->pending_ns)
			__sync_fetch_and_add(&side->unanswered, 1);
		side->pending_ns = now;
		side->pending_index = sender;
	} else if (type == WG_MSG_RESPONSE) {
		/* answers the initiation that went the other way */
		side = &st->side[(dir ^ 1) & 1];
		if (!side->pending_ns || side->pending_index != receiver)
			return;
		__sync_fetch_and_add(&side->completed, 1);
		if (dir == WP_DIR_RX && now > side->pending_ns)
			hist_observe(&st->rtt, now - side->pending_ns);
		side->pending_ns = 0;
		st->last_handshake_ns = now;
	} else if (dir == WP_DIR_TX) {
		__sync_fetch_and_add(&st->cookies_tx, 1);
	} else {
		__sync_fetch_and_add(&st->cookies_rx, 1);
	}
}

#endif /* __WARMPATH_WIREGUARD_BPF_H */
