/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Generic netlink messages built byte by byte, for the kernel WireGuard dump
 * parser's tests (test_wireguard_netlink.c): messages, attributes, nests, as
 * the kernel's wg_get_device_dump() lays them out.
 */
#ifndef __WARMPATH_WG_NLBUILD_H
#define __WARMPATH_WG_NLBUILD_H

#include <arpa/inet.h>
#include <string.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/types.h>

#define FAMILY 0x1c /* any id >= NLMSG_MIN_TYPE; the kernel assigns one at load */

/* attribute numbers of linux/wireguard.h, spelled out: the test checks the layout */
enum {
	D_IFINDEX = 1,
	D_IFNAME = 2,
	D_PRIVATE_KEY = 3,
	D_PUBLIC_KEY = 4,
	D_LISTEN_PORT = 6,
	D_FWMARK = 7,
	D_PEERS = 8
};
enum {
	P_PUBLIC_KEY = 1,
	P_PRESHARED_KEY = 2,
	P_ENDPOINT = 4,
	P_KEEPALIVE = 5,
	P_HANDSHAKE = 6,
	P_RX = 7,
	P_TX = 8,
	P_ALLOWEDIPS = 9,
	P_VERSION = 10
};
enum { A_FAMILY = 1, A_IPADDR = 2, A_MASK = 3 };

/* ---- a byte-by-byte dump builder ---- */

struct nlbuf {
	__u8 b[1 << 20];
	size_t len;
	size_t msg; /* offset of the open message */
	size_t nest[8]; /* offsets of open nests */
	int depth;
};

static inline void put(struct nlbuf *n, const void *p, size_t len)
{
	memcpy(n->b + n->len, p, len);
	n->len += len;
}

static inline void pad(struct nlbuf *n)
{
	while (n->len % 4)
		n->b[n->len++] = 0;
}

static inline void msg_begin(struct nlbuf *n, __u16 type)
{
	struct nlmsghdr h = { .nlmsg_type = type, .nlmsg_flags = NLM_F_MULTI, .nlmsg_seq = 2 };
	struct genlmsghdr g = { .cmd = 0 /* WG_CMD_GET_DEVICE */, .version = 1 };

	n->msg = n->len;
	put(n, &h, sizeof(h));
	put(n, &g, sizeof(g));
}

static inline void msg_end(struct nlbuf *n)
{
	__u32 len = n->len - n->msg;

	memcpy(n->b + n->msg, &len, 4); /* nlmsg_len is the first field */
}

static inline void attr(struct nlbuf *n, __u16 type, const void *p, size_t len)
{
	struct nlattr a = { .nla_len = NLA_HDRLEN + len, .nla_type = type };

	put(n, &a, sizeof(a));
	put(n, p, len);
	pad(n);
}

static inline void attr_u16(struct nlbuf *n, __u16 type, __u16 v)
{
	attr(n, type, &v, 2);
}

static inline void attr_u64(struct nlbuf *n, __u16 type, __u64 v)
{
	attr(n, type, &v, 8);
}

static inline void nest_begin(struct nlbuf *n, __u16 type)
{
	struct nlattr a = { .nla_type = type | NLA_F_NESTED };

	n->nest[n->depth++] = n->len;
	put(n, &a, sizeof(a));
}

static inline void nest_end(struct nlbuf *n)
{
	size_t at = n->nest[--n->depth];
	__u16 len = n->len - at;

	memcpy(n->b + at, &len, 2);
}

static inline void done(struct nlbuf *n)
{
	struct nlmsghdr h = { .nlmsg_len = NLMSG_HDRLEN + 4, .nlmsg_type = NLMSG_DONE };
	int zero = 0;

	put(n, &h, sizeof(h));
	put(n, &zero, 4);
}

static inline void key_of(__u8 key[32], int i)
{
	for (int j = 0; j < 32; j++)
		key[j] = (__u8)(i * 7 + j + 1);
	key[0] = (__u8)i; /* unique for i < 65536 */
	key[1] = (__u8)(i >> 8);
}

static inline void allowed(struct nlbuf *n, int idx, int family, const char *addr, __u8 mask)
{
	__u8 a[16];
	__u16 fam = family;

	inet_pton(family, addr, a);
	nest_begin(n, idx);
	attr(n, A_FAMILY, &fam, 2);
	attr(n, A_IPADDR, a, family == AF_INET ? 4 : 16);
	attr(n, A_MASK, &mask, 1);
	nest_end(n);
}

#endif /* __WARMPATH_WG_NLBUILD_H */
