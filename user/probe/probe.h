/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Keep-alive probes: the UDP echo wire format, and the non-blocking sockets of
 * the three probe kinds (UDP echo, HTTP GET /ping, ICMP echo). Nothing here
 * blocks: the agent's event loop drives every socket.
 */
#ifndef __WARMPATH_PROBE_H
#define __WARMPATH_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <linux/types.h>

#define WP_PROBE_MAGIC 0x57504b41u /* "WPKA" */
#define WP_PROBE_VERSION 1
#define WP_PROBE_REQUEST 1
#define WP_PROBE_REPLY 2
#define WP_PROBE_SENDER_LEN 32

/* UDP probe datagram, network byte order; a reply echoes seq, cookie and ts. */
struct wp_probe_msg {
	__be32 magic;
	__u8 version;
	__u8 type;
	__be16 flags;
	__be32 seq;
	__be32 cookie; /* sender's peer index: O(1) matching of the reply */
	__be64 ts_ns; /* sender's CLOCK_MONOTONIC at send */
	char sender[WP_PROBE_SENDER_LEN];
} __attribute__((packed));

enum wp_probe_verdict {
	WP_PROBE_OK = 0,
	WP_PROBE_BAD_LENGTH,
	WP_PROBE_BAD_MAGIC,
	WP_PROBE_BAD_VERSION,
	WP_PROBE_BAD_TYPE,
};

void probe_msg_build(struct wp_probe_msg *m, __u8 type, __u32 seq, __u32 cookie, __u64 ts_ns,
		     const char *sender);
/* Validate a received datagram; on OK fills *out (host order fields stay in m). */
enum wp_probe_verdict probe_msg_parse(const void *buf, size_t len, struct wp_probe_msg *out);
const char *probe_verdict_name(enum wp_probe_verdict v);

/* A UDP socket bound to port on every address (dual-stack when IPv6 exists). */
int probe_udp_open(int port, char *err, size_t errlen);
/* Raw ICMP (family AF_INET) or ICMPv6 (AF_INET6) socket; needs CAP_NET_RAW. */
int probe_icmp_open(int family, char *err, size_t errlen);
/* ICMP echo request with identifier id and sequence seq; returns 0 or -errno. */
int probe_icmp_send(int fd, const struct sockaddr_storage *dst, __u16 id, __u16 seq);
/* Parse a received ICMP(v6) packet: true for an echo reply, with its id and seq. */
bool probe_icmp_parse_reply(int family, const void *buf, size_t len, __u16 *id, __u16 *seq);

/* Start a non-blocking TCP connect for an HTTP probe; returns the fd or -errno. */
int probe_http_connect(const struct sockaddr_storage *dst, int port);
/* Status code of a complete "HTTP/1.x NNN" status line in buf, or -1 if not yet/invalid. */
int probe_http_status(const char *buf, size_t len);

/* Compare addresses, treating IPv4 and IPv4-mapped IPv6 as equal; ports ignored. */
bool sockaddr_same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
/* The address as 16 bytes, IPv4-mapped for IPv4 (the datapath's form). */
void sockaddr_to_addr16(const struct sockaddr_storage *ss, __u8 out[16]);
socklen_t sockaddr_len(const struct sockaddr_storage *ss);

#endif /* __WARMPATH_PROBE_H */
