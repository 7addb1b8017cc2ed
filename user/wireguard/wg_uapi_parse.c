// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The wireguard-go UAPI reply parser and base64 keys: see wg_uapi.h. The
 * client that fetches the reply over the UNIX socket is wg_uapi.c.
 *
 * A `get=1` reply (https://www.wireguard.com/xplatform/): key=value lines,
 * device keys first, then per peer a public_key line followed by that peer's
 * keys, "errno=N" and an empty line.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wg_uapi.h"

/* ---- base64 keys ---- */

void wg_key_to_base64(const __u8 key[WG_KEY_LEN], char out[WG_KEY_B64_LEN + 1])
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	int i, o = 0;

	for (i = 0; i + 2 < WG_KEY_LEN; i += 3) {
		__u32 v = key[i] << 16 | key[i + 1] << 8 | key[i + 2];

		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
		out[o++] = tab[v & 63];
	}
	/* 32 = 30 + 2: two bytes left, one '=' of padding */
	{
		__u32 v = key[30] << 16 | key[31] << 8;

		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
}

/* ---- the UAPI reply parser ---- */

struct parse_ctx {
	struct wg_device *dev;
	int cap_peers;
	int cap_allowed; /* of the current peer */
	struct wg_uapi_peer *cur; /* NULL before the first public_key */
	struct wg_uapi_peer scratch; /* a peer beyond WG_UAPI_MAX_PEERS: parsed, not kept */
	int line;
	char *err;
	size_t errlen;
};

/* "UAPI reply line N: what 'key'"; keys are checked to be [a-z0-9_] before they get here. */
static int parse_fail(struct parse_ctx *c, const char *what, const char *key, size_t keylen)
{
	snprintf(c->err, c->errlen, "UAPI reply line %d: %s '%.*s'", c->line, what,
		 (int)(keylen < 32 ? keylen : 32), key);
	return -EPROTO;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* 64 hex digits; out may be NULL (validate only). */
static bool parse_key_hex(const char *v, size_t n, __u8 *out)
{
	if (n != 2 * WG_KEY_LEN)
		return false;
	for (size_t i = 0; i < WG_KEY_LEN; i++) {
		int hi = hexval(v[2 * i]), lo = hexval(v[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		if (out)
			out[i] = hi << 4 | lo;
	}
	return true;
}

/* Decimal digits only, at most max. */
static bool parse_u64(const char *v, size_t n, __u64 max, __u64 *out)
{
	__u64 x = 0;

	if (!n || n > 20)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		if (x > (max - (v[i] - '0')) / 10)
			return false;
		x = x * 10 + (v[i] - '0');
	}
	*out = x;
	return true;
}

/* "a.b.c.d:port", "[v6]:port" or "[v6%zone]:port" (the zone is dropped). */
static bool parse_endpoint(const char *v, size_t n, __u8 addr[16], __u16 *port)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *pct;
	size_t hlen;
	__u64 p;

	if (n && v[0] == '[') {
		const char *close = memchr(v, ']', n);

		if (!close || close + 1 >= v + n || close[1] != ':')
			return false;
		colon = close + 1;
		hlen = close - (v + 1);
		pct = memchr(v + 1, '%', hlen);
		if (pct)
			hlen = pct - (v + 1);
		if (!hlen || hlen >= sizeof(host))
			return false;
		memcpy(host, v + 1, hlen);
		host[hlen] = '\0';
		if (inet_pton(AF_INET6, host, addr) != 1)
			return false;
	} else {
		struct in_addr a4;

		colon = NULL;
		for (size_t i = 0; i < n; i++)
			if (v[i] == ':')
				colon = v + i;
		if (!colon)
			return false;
		hlen = colon - v;
		if (!hlen || hlen >= sizeof(host))
			return false;
		memcpy(host, v, hlen);
		host[hlen] = '\0';
		if (inet_pton(AF_INET, host, &a4) != 1)
			return false;
		memset(addr, 0, 10);
		addr[10] = 0xff;
		addr[11] = 0xff;
		memcpy(addr + 12, &a4, 4);
	}
	if (!parse_u64(colon + 1, v + n - (colon + 1), 65535, &p))
		return false;
	*port = p;
	return true;
}

static bool key_is(const char *k, size_t kn, const char *want)
{
	return strlen(want) == kn && !memcmp(k, want, kn);
}

static int add_allowed_ip(struct parse_ctx *c, const char *v, size_t n)
{
	struct wg_uapi_peer *p = c->cur;
	struct wp_prefix pfx;
	char buf[INET6_ADDRSTRLEN + 8];

	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, v, n);
	buf[n] = '\0';
	if (prefix_parse(buf, &pfx))
		return -EINVAL;
	if (p == &c->scratch)
		return 0;
	if (p->nallowed_ips == WG_UAPI_MAX_ALLOWED_IPS) {
		c->dev->truncated = true;
		return 0;
	}
	if (p->nallowed_ips == c->cap_allowed) {
		int cap = c->cap_allowed ? c->cap_allowed * 2 : 4;
		struct wp_prefix *a;

		if (cap > WG_UAPI_MAX_ALLOWED_IPS)
			cap = WG_UAPI_MAX_ALLOWED_IPS;
		a = realloc(p->allowed_ips, cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		p->allowed_ips = a;
		c->cap_allowed = cap;
	}
	p->allowed_ips[p->nallowed_ips++] = pfx;
	return 0;
}

static int new_peer(struct parse_ctx *c, const char *v, size_t n)
{
	struct wg_device *d = c->dev;

	if (!parse_key_hex(v, n, NULL))
		return -EINVAL;
	c->cap_allowed = 0;
	if (d->npeers == WG_UAPI_MAX_PEERS) {
		d->truncated = true;
		c->cur = &c->scratch;
		return 0;
	}
	if (d->npeers == c->cap_peers) {
		int cap = c->cap_peers ? c->cap_peers * 2 : 8;
		struct wg_uapi_peer *p;

		if (cap > WG_UAPI_MAX_PEERS)
			cap = WG_UAPI_MAX_PEERS;
		p = realloc(d->peers, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		d->peers = p;
		c->cap_peers = cap;
	}
	c->cur = &d->peers[d->npeers++];
	memset(c->cur, 0, sizeof(*c->cur));
	parse_key_hex(v, n, c->cur->public_key);
	return 0;
}

/* One key=value line. Returns 0, -EINVAL for a bad value, -ENOMEM, or -EPROTO (message set). */
static int parse_kv(struct parse_ctx *c, const char *k, size_t kn, const char *v, size_t vn)
{
	struct wg_uapi_peer *p = c->cur;
	__u64 x;

	if (p && (key_is(k, kn, "private_key") || key_is(k, kn, "listen_port") ||
		  key_is(k, kn, "fwmark")))
		return parse_fail(c, "device key after a peer:", k, kn);
	if (key_is(k, kn, "private_key"))
		return parse_key_hex(v, vn, NULL) ? 0 : -EINVAL;
	if (key_is(k, kn, "listen_port")) {
		if (!parse_u64(v, vn, 65535, &x))
			return -EINVAL;
		c->dev->listen_port = x;
		return 0;
	}
	if (key_is(k, kn, "fwmark")) {
		if (!parse_u64(v, vn, 0xffffffffull, &x))
			return -EINVAL;
		c->dev->fwmark = x;
		return 0;
	}
	if (key_is(k, kn, "public_key"))
		return new_peer(c, v, vn);

	/* the rest belong to a peer */
	if (key_is(k, kn, "preshared_key") || key_is(k, kn, "protocol_version") ||
	    key_is(k, kn, "endpoint") || key_is(k, kn, "last_handshake_time_sec") ||
	    key_is(k, kn, "last_handshake_time_nsec") || key_is(k, kn, "rx_bytes") ||
	    key_is(k, kn, "tx_bytes") || key_is(k, kn, "persistent_keepalive_interval") ||
	    key_is(k, kn, "allowed_ip")) {
		if (!p)
			return parse_fail(c, "peer key before any public_key:", k, kn);
	} else {
		return 0; /* a key of a newer protocol: ignored */
	}
	if (key_is(k, kn, "preshared_key"))
		return parse_key_hex(v, vn, NULL) ? 0 : -EINVAL;
	if (key_is(k, kn, "protocol_version"))
		return parse_u64(v, vn, 0xffffffffull, &x) ? 0 : -EINVAL;
	if (key_is(k, kn, "endpoint")) {
		if (!parse_endpoint(v, vn, p->endpoint_addr, &p->endpoint_port))
			return -EINVAL;
		p->has_endpoint = true;
		return 0;
	}
	if (key_is(k, kn, "last_handshake_time_sec")) {
		if (!parse_u64(v, vn, INT64_MAX, &x))
			return -EINVAL;
		p->last_handshake_sec = x;
		return 0;
	}
	if (key_is(k, kn, "last_handshake_time_nsec")) {
		if (!parse_u64(v, vn, 999999999, &x))
			return -EINVAL;
		p->last_handshake_nsec = x;
		return 0;
	}
	if (key_is(k, kn, "rx_bytes"))
		return parse_u64(v, vn, UINT64_MAX, &p->rx_bytes) ? 0 : -EINVAL;
	if (key_is(k, kn, "tx_bytes"))
		return parse_u64(v, vn, UINT64_MAX, &p->tx_bytes) ? 0 : -EINVAL;
	if (key_is(k, kn, "persistent_keepalive_interval")) {
		if (!parse_u64(v, vn, 65535, &x))
			return -EINVAL;
		p->persistent_keepalive = x;
		return 0;
	}
	return add_allowed_ip(c, v, vn);
}

/* errno=N: a decimal, maybe negative (wireguard-go sends -EIO and the like). */
static int parse_errno(const char *v, size_t n, long *out)
{
	bool neg = n && v[0] == '-';
	__u64 x;

	if (!parse_u64(v + neg, n - neg, 1ull << 31, &x))
		return -EINVAL;
	*out = neg ? -(long)x : (long)x;
	return 0;
}

static bool valid_key_chars(const char *k, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)k[i]) && !isdigit((unsigned char)k[i]) && k[i] != '_')
			return false;
	return true;
}

int wg_uapi_parse(const char *text, size_t len, struct wg_device *dev, char *err, size_t errlen)
{
	struct parse_ctx c = { .dev = dev, .err = err, .errlen = errlen };
	bool got_errno = false, ended = false;
	long errno_val = 0;
	size_t pos = 0;
	int ret = 0;

	memset(dev, 0, sizeof(*dev));
	if (errlen)
		err[0] = '\0';
	while (pos < len) {
		const char *line = text + pos, *nl, *eq;
		size_t n;

		c.line++;
		nl = memchr(line, '\n', len - pos);
		if (!nl) {
			snprintf(err, errlen, "UAPI reply cut off inside line %d", c.line);
			ret = -EPROTO;
			goto fail;
		}
		n = nl - line;
		pos += n + 1;
		if (!n) {
			ended = true;
			break;
		}
		if (n > WG_UAPI_MAX_LINE) {
			snprintf(err, errlen, "UAPI reply line %d longer than %d bytes", c.line,
				 WG_UAPI_MAX_LINE);
			ret = -EPROTO;
			goto fail;
		}
		if (memchr(line, '\0', n)) {
			snprintf(err, errlen, "UAPI reply line %d contains a NUL byte", c.line);
			ret = -EPROTO;
			goto fail;
		}
		if (got_errno) {
			snprintf(err, errlen, "UAPI reply line %d: data after errno=", c.line);
			ret = -EPROTO;
			goto fail;
		}
		eq = memchr(line, '=', n);
		if (!eq || eq == line || !valid_key_chars(line, eq - line)) {
			snprintf(err, errlen, "UAPI reply line %d is not key=value", c.line);
			ret = -EPROTO;
			goto fail;
		}
		if (key_is(line, eq - line, "errno")) {
			if (parse_errno(eq + 1, nl - (eq + 1), &errno_val)) {
				ret = parse_fail(&c, "bad value of", line, eq - line);
				goto fail;
			}
			got_errno = true;
			continue;
		}
		ret = parse_kv(&c, line, eq - line, eq + 1, nl - (eq + 1));
		if (ret == -EINVAL)
			ret = parse_fail(&c, "bad value of", line, eq - line);
		if (ret == -ENOMEM)
			snprintf(err, errlen, "out of memory reading the UAPI reply");
		if (ret)
			goto fail;
	}
	if (ended && pos < len) {
		snprintf(err, errlen, "UAPI reply: data after the closing empty line");
		ret = -EPROTO;
		goto fail;
	}
	if (!got_errno) {
		snprintf(err, errlen, "UAPI reply without errno= (cut off?)");
		ret = -EPROTO;
		goto fail;
	}
	if (errno_val) {
		long e = errno_val < 0 ? -errno_val : errno_val;

		snprintf(err, errlen, "wireguard-go answered errno=%ld", errno_val);
		ret = e > 0 && e < 4096 ? -(int)e : -EPROTO;
		goto fail;
	}
	return 0;
fail:
	wg_device_free(dev);
	return ret;
}

void wg_device_free(struct wg_device *dev)
{
	for (int i = 0; i < dev->npeers; i++)
		free(dev->peers[i].allowed_ips);
	free(dev->peers);
	dev->peers = NULL;
	dev->npeers = 0;
}

void wg_devices_free(struct wg_device *devs, int n)
{
	for (int i = 0; i < n; i++)
		wg_device_free(&devs[i]);
	free(devs);
}
