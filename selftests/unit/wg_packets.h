/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Crafted WireGuard messages (Ethernet + IPv4/IPv6 + UDP) for the datapath's
 * handshake parser (bpf/wireguard.bpf.h), and the `wg_endpoints` map of a
 * datapath fixture: read, count, clear. Shared by the test_wireguard*.c files.
 */
#ifndef __WARMPATH_WG_PACKETS_H
#define __WARMPATH_WG_PACKETS_H

#include <stdbool.h>
#include "datapath_check.h"
#include <string.h>
#include "warmpath.h"
#include "wg_uapi.h"

#define WG_PORT WP_WIREGUARD_PORT /* the fixture keeps the default rodata */
#define UNDERLAY (WP_IF_UNDERLAY | WP_IF_L2)

/* Keys of the canned UAPI replies, hex as the UAPI carries them. */
#define KEY_PRIV "083fa4efff66e016ce387d89c0bf98dc6d081d9725d1f5933c6872108c4a5a71"
#define KEY_A "a8a9e264236b810278f2cebbb4e04d4b849ea01d7074ac6d8861320d7bc6d74d"
#define KEY_B "c4d01a3ad05e18c4af93e8b7eb5d1a5a6a00ac1ae40bd640c7efdf49d4e7f36e"
#define KEY_ZERO "0000000000000000000000000000000000000000000000000000000000000000"

/* A NUL-terminated UAPI reply through wg_uapi_parse(). */
static inline int parse_str(const char *s, struct wg_device *d, char *err, size_t errlen)
{
	return wg_uapi_parse(s, strlen(s), d, err, errlen);
}

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

size_t wg_type_len(__u8 type);
int build_wg(struct pkt *p, const struct wg_msg *m, int dir, size_t *payload_off);
int wg_fd(struct dp_fixture *f);
void wg_key(struct wg_endpoint_key *k, const char *addr, __u16 port);
int wg_read(struct dp_fixture *f, const char *addr, __u16 port, struct wg_endpoint_state *st);
int wg_count(struct dp_fixture *f);
void wg_clear(struct dp_fixture *f);
struct dp_expect expect_wg(int dir, int stat);
bool send_wg(struct dp_fixture *f, const struct wg_msg *m, int dir, int stat, const char *label);
bool setup_underlay(struct dp_fixture *f);

#endif /* __WARMPATH_WG_PACKETS_H */
