// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The kernel WireGuard dump parser, a pure function over buffers: see
 * wg_netlink.h. The socket that fetches the dump is wg_netlink.c.
 *
 * Layout of a WG_CMD_GET_DEVICE dump message (linux/wireguard.h):
 *	nlmsghdr | genlmsghdr | WGDEVICE_A_* attributes, among them
 *	WGDEVICE_A_PEERS { [i] { WGPEER_A_* ..., WGPEER_A_ALLOWEDIPS { [j] { WGALLOWEDIP_A_* } } } }
 * Every length is checked before it is used; anything that does not fit is
 * -EPROTO, never a read past the buffer.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include "wg_genl.h"
#include "wg_netlink.h"

#define MAX_ERRNO 4095 /* the kernel's: an error code is -1..-4095 */

/* ---- attributes ---- */

/* A cursor over the attributes of a container: next_attr() returns 1, 0 at the end, -1 if bad. */
struct attr_iter {
	const __u8 *pos;
	size_t left;
};

static int next_attr(struct attr_iter *it, __u16 *type, const __u8 **data, size_t *len)
{
	struct nlattr a;
	size_t step;

	if (!it->left)
		return 0;
	if (it->left < NLA_HDRLEN)
		return -1;
	memcpy(&a, it->pos, sizeof(a));
	if (a.nla_len < NLA_HDRLEN || a.nla_len > it->left)
		return -1;
	*type = a.nla_type & NLA_TYPE_MASK;
	*data = it->pos + NLA_HDRLEN;
	*len = a.nla_len - NLA_HDRLEN;
	/* the last attribute of a container may go without its padding */
	step = NLA_ALIGN(a.nla_len);
	if (step > it->left)
		step = it->left;
	it->pos += step;
	it->left -= step;
	return 1;
}

static int fail(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "malformed WireGuard netlink dump: %s", what);
	return -EPROTO;
}

/* What the handler of one attribute of a walk (each_attr) works on. */
struct attr_walk {
	struct wg_nl_dump *d;
	struct wg_uapi_peer *p; /* allowed IPs: their peer; NULL when parsed, not kept */
	bool first; /* peers: the next one is the first of its list */
	char *err;
	size_t errlen;
};

typedef int (*attr_fn)(struct attr_walk *w, __u16 type, const __u8 *data, size_t len);

/*
 * Hands every attribute of a container (a message, a nested list) to one()
 * and returns its first nonzero answer; a container cut wrong fails with what.
 */
static int each_attr(struct attr_walk *w, const __u8 *v, size_t n, attr_fn one, const char *what)
{
	struct attr_iter it = { v, n };
	const __u8 *data;
	__u16 type;
	size_t len;
	int r, ret;

	while ((r = next_attr(&it, &type, &data, &len)) > 0) {
		ret = one(w, type, data, len);
		if (ret)
			return ret;
	}
	return r < 0 ? fail(w->err, w->errlen, what) : 0;
}

/* ---- peers ---- */

static struct wg_uapi_peer *peer_find_or_add(struct wg_nl_dump *d, const __u8 *key, bool first,
					     bool *dropped)
{
	struct wg_device *dev = d->dev;
	struct wg_uapi_peer *p;

	*dropped = false;
	/* a continued peer is the last one of the previous message */
	if (dev->npeers && !memcmp(dev->peers[dev->npeers - 1].public_key, key, WG_KEY_LEN))
		return &dev->peers[dev->npeers - 1];
	for (int i = 0; first && i < dev->npeers; i++)
		if (!memcmp(dev->peers[i].public_key, key, WG_KEY_LEN))
			return &dev->peers[i];
	if (dev->npeers == WG_UAPI_MAX_PEERS) {
		dev->truncated = true;
		*dropped = true;
		return NULL;
	}
	if (dev->npeers == d->cap_peers) {
		int cap = d->cap_peers ? d->cap_peers * 2 : 16;
		struct wg_uapi_peer *v;
		int *ca;

		if (cap > WG_UAPI_MAX_PEERS)
			cap = WG_UAPI_MAX_PEERS;
		v = realloc(dev->peers, cap * sizeof(*v));
		if (!v)
			return NULL;
		dev->peers = v;
		ca = realloc(d->cap_allowed, cap * sizeof(*ca));
		if (!ca)
			return NULL;
		d->cap_allowed = ca;
		d->cap_peers = cap;
	}
	p = &dev->peers[dev->npeers];
	memset(p, 0, sizeof(*p));
	memcpy(p->public_key, key, WG_KEY_LEN);
	d->cap_allowed[dev->npeers++] = 0;
	return p;
}

static int parse_endpoint(struct wg_uapi_peer *p, const __u8 *v, size_t n)
{
	sa_family_t fam;

	if (n < sizeof(fam))
		return -1;
	memcpy(&fam, v, sizeof(fam));
	if (fam == AF_INET && n >= sizeof(struct sockaddr_in)) {
		struct sockaddr_in sin;

		memcpy(&sin, v, sizeof(sin));
		memset(p->endpoint_addr, 0, 10);
		p->endpoint_addr[10] = p->endpoint_addr[11] = 0xff;
		memcpy(p->endpoint_addr + 12, &sin.sin_addr, 4);
		p->endpoint_port = ntohs(sin.sin_port);
	} else if (fam == AF_INET6 && n >= sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 sin6;

		memcpy(&sin6, v, sizeof(sin6));
		memcpy(p->endpoint_addr, &sin6.sin6_addr, 16);
		p->endpoint_port = ntohs(sin6.sin6_port);
	} else if (fam == AF_UNSPEC) {
		p->has_endpoint = false; /* no endpoint (yet) */
		return 0;
	} else {
		return -1;
	}
	p->has_endpoint = true;
	return 0;
}

/* One WGALLOWEDIP nest into @pfx (IPv4-mapped, like the prefixes trie). */
static int parse_allowed_ip(const __u8 *v, size_t n, struct wp_prefix *pfx)
{
	struct attr_iter it = { v, n };
	const __u8 *data, *addr = NULL;
	bool has_family = false, has_mask = false;
	__u16 type, family = 0;
	size_t len, addrlen = 0;
	__u8 mask = 0;
	int r;

	while ((r = next_attr(&it, &type, &data, &len)) > 0) {
		if (type == WGALLOWEDIP_A_FAMILY) {
			if (len != sizeof(family))
				return -1;
			memcpy(&family, data, sizeof(family));
			has_family = true;
		} else if (type == WGALLOWEDIP_A_IPADDR) {
			addr = data;
			addrlen = len;
		} else if (type == WGALLOWEDIP_A_CIDR_MASK) {
			if (len != 1)
				return -1;
			mask = data[0];
			has_mask = true;
		}
	}
	if (r < 0 || !has_family || !has_mask || !addr)
		return -1;
	memset(pfx, 0, sizeof(*pfx));
	if (family == AF_INET && addrlen == 4 && mask <= 32) {
		pfx->addr[10] = pfx->addr[11] = 0xff;
		memcpy(pfx->addr + 12, addr, 4);
		pfx->len = 96 + mask;
	} else if (family == AF_INET6 && addrlen == 16 && mask <= 128) {
		memcpy(pfx->addr, addr, 16);
		pfx->len = mask;
	} else {
		return -1;
	}
	return 0;
}

static int add_allowed_ip(struct wg_nl_dump *d, struct wg_uapi_peer *p, const struct wp_prefix *a)
{
	int idx = p - d->dev->peers;

	if (p->nallowed_ips == WG_UAPI_MAX_ALLOWED_IPS) {
		d->dev->truncated = true;
		return 0;
	}
	if (p->nallowed_ips == d->cap_allowed[idx]) {
		int cap = d->cap_allowed[idx] ? d->cap_allowed[idx] * 2 : 4;
		struct wp_prefix *v = realloc(p->allowed_ips, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->allowed_ips = v;
		d->cap_allowed[idx] = cap;
	}
	p->allowed_ips[p->nallowed_ips++] = *a;
	return 0;
}

/* One WGPEER_A_ALLOWEDIPS entry, added to w->p (when kept). */
static int one_allowed_ip(struct attr_walk *w, __u16 type, const __u8 *data, size_t len)
{
	struct wp_prefix pfx;

	if (parse_allowed_ip(data, len, &pfx))
		return fail(w->err, w->errlen, "allowed IP");
	if (w->p && add_allowed_ip(w->d, w->p, &pfx)) {
		snprintf(w->err, w->errlen, "out of memory reading allowed IPs");
		return -ENOMEM;
	}
	return 0;
}

static int parse_peer(struct wg_nl_dump *d, const __u8 *v, size_t n, bool first, char *err,
		      size_t errlen)
{
	struct attr_iter it = { v, n };
	struct wg_uapi_peer *p, scratch;
	const __u8 *data, *key = NULL;
	bool dropped;
	__u16 type;
	size_t len;
	int r, ret;

	/* the public key first, wherever it is: it says which peer the rest is about */
	while ((r = next_attr(&it, &type, &data, &len)) > 0)
		if (type == WGPEER_A_PUBLIC_KEY) {
			if (len != WG_KEY_LEN)
				return fail(err, errlen, "peer public key length");
			key = data;
		}
	if (r < 0)
		return fail(err, errlen, "peer attribute length");
	if (!key)
		return fail(err, errlen, "peer without a public key");
	p = peer_find_or_add(d, key, first, &dropped);
	if (!p && !dropped) {
		snprintf(err, errlen, "out of memory reading WireGuard peers");
		return -ENOMEM;
	}
	if (!p) { /* beyond the cap: parsed (to validate), not kept */
		memset(&scratch, 0, sizeof(scratch));
		p = &scratch;
	}
	it = (struct attr_iter){ v, n };
	while (next_attr(&it, &type, &data, &len) > 0) {
		switch (type) {
		case WGPEER_A_ENDPOINT:
			if (parse_endpoint(p, data, len))
				return fail(err, errlen, "peer endpoint");
			break;
		case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL: {
			__u16 ka;

			if (len != sizeof(ka))
				return fail(err, errlen, "persistent keepalive length");
			memcpy(&ka, data, sizeof(ka));
			p->persistent_keepalive = ka;
			break;
		}
		case WGPEER_A_LAST_HANDSHAKE_TIME: {
			struct {
				__s64 sec, nsec;
			} ts;

			if (len != sizeof(ts))
				return fail(err, errlen, "last handshake time length");
			memcpy(&ts, data, sizeof(ts));
			if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1000000000)
				return fail(err, errlen, "last handshake time value");
			p->last_handshake_sec = ts.sec;
			p->last_handshake_nsec = ts.nsec;
			break;
		}
		case WGPEER_A_RX_BYTES:
		case WGPEER_A_TX_BYTES:
			if (len != sizeof(__u64))
				return fail(err, errlen, "byte counter length");
			memcpy(type == WGPEER_A_RX_BYTES ? &p->rx_bytes : &p->tx_bytes, data, 8);
			break;
		case WGPEER_A_ALLOWEDIPS: {
			struct attr_walk w = {
				.d = d, .p = p != &scratch ? p : NULL, .err = err, .errlen = errlen
			};

			ret = each_attr(&w, data, len, one_allowed_ip, "allowed IP list length");
			if (ret)
				return ret;
			break;
		}
		default: /* preshared key, flags, protocol version: not kept */
			break;
		}
	}
	return 0;
}

/* ---- messages ---- */

/* One WGDEVICE_A_PEERS entry. */
static int one_peer(struct attr_walk *w, __u16 type, const __u8 *data, size_t len)
{
	int ret = parse_peer(w->d, data, len, w->first, w->err, w->errlen);

	w->first = false;
	return ret;
}

static int device_attr(struct attr_walk *w, __u16 type, const __u8 *data, size_t len)
{
	struct wg_device *dev = w->d->dev;

	switch (type) {
	case WGDEVICE_A_IFNAME:
		if (!len || len > WP_IFNAME_LEN || !memchr(data, '\0', len))
			return fail(w->err, w->errlen, "interface name");
		snprintf(dev->ifname, sizeof(dev->ifname), "%s", (const char *)data);
		return 0;
	case WGDEVICE_A_LISTEN_PORT:
		if (len != sizeof(__u16))
			return fail(w->err, w->errlen, "listen port length");
		memcpy(&dev->listen_port, data, 2);
		return 0;
	case WGDEVICE_A_FWMARK:
		if (len != sizeof(__u32))
			return fail(w->err, w->errlen, "fwmark length");
		memcpy(&dev->fwmark, data, 4);
		return 0;
	case WGDEVICE_A_PEERS:
		w->first = true;
		return each_attr(w, data, len, one_peer, "peer list length");
	default: /* ifindex, private key (never kept), public key, flags */
		return 0;
	}
}

static int parse_device_msg(struct wg_nl_dump *d, const __u8 *v, size_t n, char *err, size_t errlen)
{
	struct attr_walk w = { .d = d, .err = err, .errlen = errlen };

	return each_attr(&w, v, n, device_attr, "device attribute length");
}

void wg_nl_dump_init(struct wg_nl_dump *d, struct wg_device *dev, __u16 family)
{
	memset(d, 0, sizeof(*d));
	memset(dev, 0, sizeof(*dev));
	dev->kernel = true;
	d->dev = dev;
	d->family = family;
}

void wg_nl_dump_finish(struct wg_nl_dump *d)
{
	free(d->cap_allowed);
	d->cap_allowed = NULL;
	d->cap_peers = 0;
}

int wg_nl_dump_feed(struct wg_nl_dump *d, const void *buf, size_t len, char *err, size_t errlen)
{
	const __u8 *pos = buf;
	size_t left = len;

	while (left && !d->done) {
		struct nlmsghdr h;
		size_t step;
		int ret;

		if (left < NLMSG_HDRLEN)
			return fail(err, errlen, "a message header cut short");
		memcpy(&h, pos, sizeof(h));
		if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > left)
			return fail(err, errlen, "message length");
		if (h.nlmsg_type == NLMSG_DONE) {
			int code = 0;

			if (h.nlmsg_len >= NLMSG_HDRLEN + sizeof(code))
				memcpy(&code, pos + NLMSG_HDRLEN, sizeof(code));
			if (code < -MAX_ERRNO)
				return fail(err, errlen, "error code");
			if (code < 0) {
				snprintf(err, errlen, "WireGuard netlink dump: %s",
					 strerror(-code));
				return code;
			}
			d->done = true;
		} else if (h.nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr e;

			if (h.nlmsg_len < NLMSG_HDRLEN + sizeof(e))
				return fail(err, errlen, "error message length");
			memcpy(&e, pos + NLMSG_HDRLEN, sizeof(e));
			if (e.error > 0 || e.error < -MAX_ERRNO)
				return fail(err, errlen, "error code");
			if (e.error) {
				snprintf(err, errlen, "WireGuard netlink: %s", strerror(-e.error));
				return e.error;
			}
			/* an ACK: nothing */
		} else if (h.nlmsg_type == NLMSG_NOOP) {
			/* nothing */
		} else if (h.nlmsg_type < NLMSG_MIN_TYPE ||
			   (d->family && h.nlmsg_type != d->family)) {
			return fail(err, errlen, "message of another family");
		} else {
			struct genlmsghdr g;

			if (h.nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN)
				return fail(err, errlen, "generic netlink header cut short");
			memcpy(&g, pos + NLMSG_HDRLEN, sizeof(g));
			if (g.cmd != WG_CMD_GET_DEVICE)
				return fail(err, errlen, "not a WG_CMD_GET_DEVICE message");
			ret = parse_device_msg(d, pos + NLMSG_HDRLEN + GENL_HDRLEN,
					       h.nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN, err,
					       errlen);
			if (ret)
				return ret;
		}
		step = NLMSG_ALIGN(h.nlmsg_len);
		if (step > left)
			step = left;
		pos += step;
		left -= step;
	}
	return d->done ? 1 : 0;
}

/* The id of the "wireguard" family in a CTRL_CMD_GETFAMILY reply, or -errno. */
int wg_nl_parse_family(const void *buf, size_t len)
{
	const __u8 *pos = buf;
	struct nlmsghdr h;
	struct attr_iter it;
	const __u8 *data;
	size_t alen;
	__u16 type, id;

	if (len < NLMSG_HDRLEN)
		return -EPROTO;
	memcpy(&h, pos, sizeof(h));
	if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len)
		return -EPROTO;
	if (h.nlmsg_type == NLMSG_ERROR) {
		struct nlmsgerr e;

		if (h.nlmsg_len < NLMSG_HDRLEN + sizeof(e))
			return -EPROTO;
		memcpy(&e, pos + NLMSG_HDRLEN, sizeof(e));
		return e.error < 0 && e.error >= -MAX_ERRNO ? e.error : -EPROTO;
	}
	if (h.nlmsg_type != GENL_ID_CTRL || h.nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN)
		return -EPROTO;
	it = (struct attr_iter){ pos + NLMSG_HDRLEN + GENL_HDRLEN,
				 h.nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN };
	while (next_attr(&it, &type, &data, &alen) > 0)
		if (type == CTRL_ATTR_FAMILY_ID && alen == sizeof(id)) {
			memcpy(&id, data, sizeof(id));
			return id;
		}
	return -EPROTO;
}
