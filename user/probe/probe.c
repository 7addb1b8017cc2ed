// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <stddef.h>
#include <sys/random.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "probe.h"

int probe_random(void *buf, size_t len)
{
	__u8 *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int probe_key_load(const char *path, struct wp_probe_key *key, char *err, size_t errlen)
{
	__u8 buf[WP_PROBE_KEY_MAX + 2];
	size_t n;
	FILE *f;

	memset(key, 0, sizeof(*key));
	f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "--probe-key-file %s: %s", path, strerror(errno));
		return -errno;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (n && buf[n - 1] == '\n')
		n--;
	if (n < WP_PROBE_KEY_MIN || n > WP_PROBE_KEY_MAX) {
		snprintf(err, errlen,
			 "--probe-key-file %s: the key must be %d to %d bytes (e.g. 'head -c 32 "
			 "/dev/urandom | base64'), got %s",
			 path, WP_PROBE_KEY_MIN, WP_PROBE_KEY_MAX,
			 n < WP_PROBE_KEY_MIN ? "fewer" : "more");
		return -EINVAL;
	}
	memcpy(key->key, buf, n);
	key->len = n;
	return 0;
}

static bool have_key(const struct wp_probe_key *key)
{
	return key && key->len;
}

static void msg_mac(const struct wp_probe_msg *m, const struct wp_probe_key *key,
		    __u8 out[WP_PROBE_MAC_LEN])
{
	unsigned int len = WP_PROBE_MAC_LEN;

	HMAC(EVP_sha256(), key->key, key->len, (const unsigned char *)m,
	     offsetof(struct wp_probe_msg, mac), out, &len);
}

void probe_msg_build(struct wp_probe_msg *m, __u8 type, __u64 counter,
		     const __u8 nonce[WP_PROBE_NONCE_LEN], const char *sender,
		     const struct wp_probe_key *key)
{
	memset(m, 0, sizeof(*m));
	m->magic = htonl(WP_PROBE_MAGIC);
	m->version = WP_PROBE_VERSION;
	m->type = type;
	m->counter = htobe64(counter);
	memcpy(m->nonce, nonce, WP_PROBE_NONCE_LEN);
	memcpy(m->sender, sender, strnlen(sender, sizeof(m->sender) - 1));
	if (have_key(key)) {
		m->flags = htons(WP_PROBE_F_MAC);
		msg_mac(m, key, m->mac);
	}
}

enum wp_probe_verdict probe_msg_parse(const void *buf, size_t len, const struct wp_probe_key *key,
				      struct wp_probe_msg *out, struct wp_probe_msg_v1 *v1)
{
	const __u8 *b = buf;
	__u8 mac[WP_PROBE_MAC_LEN];

	/* exactly one of our sizes: longer datagrams could make us an amplifier's echo */
	if (len < 6)
		return WP_PROBE_BAD_LENGTH;
	if (((__u32)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]) != WP_PROBE_MAGIC)
		return WP_PROBE_BAD_MAGIC;
	if (b[4] == WP_PROBE_VERSION_V1) {
		struct wp_probe_msg_v1 m1;

		if (len != sizeof(m1))
			return WP_PROBE_BAD_LENGTH;
		memcpy(&m1, buf, sizeof(m1));
		if (m1.type != WP_PROBE_REQUEST && m1.type != WP_PROBE_REPLY)
			return WP_PROBE_BAD_TYPE;
		if (have_key(key))
			return WP_PROBE_UNAUTHENTICATED;
		if (v1) {
			m1.sender[sizeof(m1.sender) - 1] = '\0';
			*v1 = m1;
		}
		return WP_PROBE_V1;
	}
	if (b[4] != WP_PROBE_VERSION)
		return WP_PROBE_BAD_VERSION;
	if (len != sizeof(*out))
		return WP_PROBE_BAD_LENGTH;
	memcpy(out, buf, sizeof(*out));
	if (out->type != WP_PROBE_REQUEST && out->type != WP_PROBE_REPLY &&
	    out->type != WP_PROBE_TRIAL)
		return WP_PROBE_BAD_TYPE;
	if (have_key(key)) {
		if (!(ntohs(out->flags) & WP_PROBE_F_MAC))
			return WP_PROBE_UNAUTHENTICATED;
		msg_mac(out, key, mac);
		if (CRYPTO_memcmp(mac, out->mac, sizeof(mac)))
			return WP_PROBE_BAD_MAC;
	}
	out->sender[sizeof(out->sender) - 1] = '\0';
	return WP_PROBE_OK;
}

bool probe_trial_valid(const struct wp_trial_body *b)
{
	__u32 gap = ntohl(b->gap_ms);

	for (size_t i = 0; i < sizeof(b->zero); i++)
		if (b->zero[i])
			return false;
	return b->kind <= WP_TRIAL_ABORT && !(b->flags & ~WP_TRIAL_F_RECEIVER_TESTS) && gap &&
	       gap <= 3600 * 1000;
}

const char *probe_verdict_name(enum wp_probe_verdict v)
{
	switch (v) {
	case WP_PROBE_OK:
		return "ok";
	case WP_PROBE_BAD_LENGTH:
		return "bad_length";
	case WP_PROBE_BAD_MAGIC:
		return "bad_magic";
	case WP_PROBE_BAD_VERSION:
		return "bad_version";
	case WP_PROBE_UNAUTHENTICATED:
		return "unauthenticated";
	case WP_PROBE_BAD_MAC:
		return "bad_mac";
	case WP_PROBE_V1:
		return "v1";
	default:
		return "bad_type";
	}
}

bool probe_replay_accept(struct wp_replay *w, __u64 counter)
{
	__u64 shift;

	if (!counter)
		return false;
	if (counter > w->top) {
		shift = counter - w->top;
		w->bitmap = shift >= 64 ? 0 : w->bitmap << shift;
		w->bitmap |= 1; /* bit 0: top itself */
		w->top = counter;
		return true;
	}
	shift = w->top - counter;
	if (shift >= 64 || (w->bitmap >> shift) & 1)
		return false; /* too old to tell, or seen */
	w->bitmap |= 1ull << shift;
	return true;
}

int probe_udp_open(int port, char *err, size_t errlen)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons(port),
				   .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in a4 = { .sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_ANY) };
	int fd, off = 0, one = 1;

	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (!bind(fd, (struct sockaddr *)&a6, sizeof(a6)))
			return fd;
		close(fd);
	}
	/* no IPv6 in this kernel or namespace: IPv4 only */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "UDP socket: %s", strerror(errno));
		return -errno;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a4, sizeof(a4))) {
		int e = errno;

		snprintf(err, errlen, "binding the UDP probe port %d: %s (--probe-port)", port,
			 strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

int probe_icmp_open(int family, char *err, size_t errlen)
{
	int fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
			family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);

	if (fd < 0) {
		snprintf(err, errlen, "raw ICMP%s socket: %s (--probe icmp needs CAP_NET_RAW)",
			 family == AF_INET ? "" : "v6", strerror(errno));
		return -errno;
	}
	if (family == AF_INET6) {
		struct icmp6_filter f;

		ICMP6_FILTER_SETBLOCKALL(&f);
		ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
		setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f));
	}
	return fd;
}

static __u16 inet_csum(const void *data, size_t len)
{
	const __u8 *p = data;
	__u32 sum = 0;

	for (; len > 1; len -= 2, p += 2)
		sum += (p[0] << 8) | p[1];
	if (len)
		sum += p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

int probe_icmp_send(int fd, const struct sockaddr_storage *dst, __u16 id, __u16 seq,
		    const __u8 nonce[WP_PROBE_NONCE_LEN])
{
	struct {
		struct icmphdr h;
		__u8 payload[WP_PROBE_NONCE_LEN];
	} pkt;

	memset(&pkt, 0, sizeof(pkt));
	memcpy(pkt.payload, nonce, WP_PROBE_NONCE_LEN);
	pkt.h.type = dst->ss_family == AF_INET ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
	pkt.h.un.echo.id = htons(id);
	pkt.h.un.echo.sequence = htons(seq);
	/* ICMPv6 checksums are filled by the kernel on raw ICMPv6 sockets */
	if (dst->ss_family == AF_INET)
		pkt.h.checksum = inet_csum(&pkt, sizeof(pkt));
	if (sendto(fd, &pkt, sizeof(pkt), 0, (const struct sockaddr *)dst, sockaddr_len(dst)) < 0)
		return -errno;
	return 0;
}

bool probe_icmp_parse_reply(int family, const void *buf, size_t len, __u16 *id, __u16 *seq,
			    __u8 nonce[WP_PROBE_NONCE_LEN])
{
	const __u8 *p = buf, *end = p + len, *data;
	const struct icmphdr *h;

	if (family == AF_INET) {
		/* raw IPv4 sockets deliver the IP header too */
		const struct iphdr *ip = buf;

		if (len < sizeof(*ip) || ip->ihl < 5 || len < ip->ihl * 4u + sizeof(*h))
			return false;
		h = (const struct icmphdr *)(p + ip->ihl * 4);
		if (h->type != ICMP_ECHOREPLY)
			return false;
	} else {
		if (len < sizeof(*h))
			return false;
		h = buf;
		if (h->type != ICMP6_ECHO_REPLY)
			return false;
	}
	*id = ntohs(h->un.echo.id);
	*seq = ntohs(h->un.echo.sequence);
	data = (const __u8 *)(h + 1);
	memset(nonce, 0, WP_PROBE_NONCE_LEN);
	if (end - data >= WP_PROBE_NONCE_LEN)
		memcpy(nonce, data, WP_PROBE_NONCE_LEN);
	return true;
}

int probe_http_connect(const struct sockaddr_storage *dst, int port)
{
	struct sockaddr_storage ss = *dst;
	int fd;

	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, sockaddr_len(&ss)) && errno != EINPROGRESS) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

int probe_http_status(const char *buf, size_t len)
{
	int code = 0;

	/* "HTTP/1.1 200 " — 13 bytes at least */
	if (len < 12 || memcmp(buf, "HTTP/1.", 7) || buf[8] != ' ')
		return -1;
	for (int i = 9; i < 12; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return -1;
		code = code * 10 + (buf[i] - '0');
	}
	return code;
}

void sockaddr_to_addr16(const struct sockaddr_storage *ss, __u8 out[16])
{
	memset(out, 0, 16);
	if (ss->ss_family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	} else {
		memcpy(out, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
	}
}

bool sockaddr_same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	__u8 x[16], y[16];

	sockaddr_to_addr16(a, x);
	sockaddr_to_addr16(b, y);
	return !memcmp(x, y, 16);
}

socklen_t sockaddr_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}
