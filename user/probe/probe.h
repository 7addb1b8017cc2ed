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
#define WP_PROBE_VERSION 2
#define WP_PROBE_VERSION_V1 1 /* answered without a key only (rolling updates) */
#define WP_PROBE_REQUEST 1
#define WP_PROBE_REPLY 2
#define WP_PROBE_TRIAL 3 /* a lifetime trial message: the body replaces the nonce */
#define WP_PROBE_SENDER_LEN 32
#define WP_PROBE_NONCE_LEN 16
#define WP_PROBE_MAC_LEN 32 /* HMAC-SHA256 */
#define WP_PROBE_F_MAC 0x1 /* flags: mac[] authenticates the datagram */
#define WP_PROBE_KEY_MIN 16
#define WP_PROBE_KEY_MAX 128

/*
 * UDP probe datagram v2, network byte order. A request carries a random
 * nonce and the sender's counter (strictly increasing per sender, across
 * restarts: it starts at the wall clock in microseconds); the reply echoes
 * both, same size. With a cluster key mac is HMAC-SHA256 over the bytes
 * before it and flags has WP_PROBE_F_MAC; without one mac is zero.
 */
/*
 * The body of a WP_PROBE_TRIAL datagram (--keepalive-interval auto), in place
 * of the nonce: a message of the trial protocol (user/agent/lifetime.h).
 * Freshness comes from the counter (replay window, with a key), like requests.
 */
#define WP_TRIAL_PROPOSE 0
#define WP_TRIAL_ACCEPT 1
#define WP_TRIAL_REFUSE 2
#define WP_TRIAL_ABORT 3
#define WP_TRIAL_F_RECEIVER_TESTS 0x1
struct wp_trial_body {
	__u8 kind; /* WP_TRIAL_* */
	__u8 flags; /* WP_TRIAL_F_* */
	__u8 zero[6]; /* must be zero */
	__be32 id; /* the trial's, chosen by the proposer */
	__be32 gap_ms; /* the hold: 1 ms to 1 hour */
} __attribute__((packed));

struct wp_probe_msg {
	__be32 magic;
	__u8 version;
	__u8 type;
	__be16 flags;
	__be64 counter;
	union {
		__u8 nonce[WP_PROBE_NONCE_LEN];
		struct wp_trial_body trial; /* type WP_PROBE_TRIAL */
	};
	char sender[WP_PROBE_SENDER_LEN];
	__u8 mac[WP_PROBE_MAC_LEN];
} __attribute__((packed));

/* v1 (warmpath before probe authentication): 56 bytes, answered only without a key. */
struct wp_probe_msg_v1 {
	__be32 magic;
	__u8 version;
	__u8 type;
	__be16 flags;
	__be32 seq;
	__be32 cookie;
	__be64 ts_ns;
	char sender[WP_PROBE_SENDER_LEN];
} __attribute__((packed));

/* The cluster key (--probe-key-file); len 0: none. */
struct wp_probe_key {
	size_t len;
	__u8 key[WP_PROBE_KEY_MAX];
};

enum wp_probe_verdict {
	WP_PROBE_OK = 0,
	WP_PROBE_BAD_LENGTH,
	WP_PROBE_BAD_MAGIC,
	WP_PROBE_BAD_VERSION,
	WP_PROBE_BAD_TYPE,
	WP_PROBE_UNAUTHENTICATED, /* a key is set, the datagram has no MAC (or is v1) */
	WP_PROBE_BAD_MAC,
	WP_PROBE_V1, /* a valid v1 request (no key set): *v1 filled */
};

/* Read a key file: at least WP_PROBE_KEY_MIN bytes, one trailing newline dropped. */
int probe_key_load(const char *path, struct wp_probe_key *key, char *err, size_t errlen);
/* Random bytes from getrandom(2); 0 or -errno. */
int probe_random(void *buf, size_t len);
/* Build a datagram; with a key (len > 0) the MAC is set. */
void probe_msg_build(struct wp_probe_msg *m, __u8 type, __u64 counter,
		     const __u8 nonce[WP_PROBE_NONCE_LEN], const char *sender,
		     const struct wp_probe_key *key);
/*
 * Validate a received datagram against key (NULL or len 0: none). OK fills
 * *out; WP_PROBE_V1 fills *v1 (when non-NULL; never with a key).
 */
enum wp_probe_verdict probe_msg_parse(const void *buf, size_t len, const struct wp_probe_key *key,
				      struct wp_probe_msg *out, struct wp_probe_msg_v1 *v1);
const char *probe_verdict_name(enum wp_probe_verdict v);
/* A trial datagram's body, checked: false when malformed (unknown kind, bits set, bad gap). */
bool probe_trial_valid(const struct wp_trial_body *b);

/*
 * Anti-replay window of the requests of one sender (RFC 4303 style): the
 * highest counter seen and a bitmap of the 64 before it.
 */
struct wp_replay {
	__u64 top;
	__u64 bitmap;
};
/* True (and recorded) when counter is new; false when replayed or too old. */
bool probe_replay_accept(struct wp_replay *w, __u64 counter);

/* A UDP socket bound to port on every address (dual-stack when IPv6 exists). */
int probe_udp_open(int port, char *err, size_t errlen);
/* Raw ICMP (family AF_INET) or ICMPv6 (AF_INET6) socket; needs CAP_NET_RAW. */
int probe_icmp_open(int family, char *err, size_t errlen);
/*
 * ICMP echo request with identifier id, sequence seq and the random nonce as
 * payload (an echo reply carries it back); returns 0 or -errno.
 */
int probe_icmp_send(int fd, const struct sockaddr_storage *dst, __u16 id, __u16 seq,
		    const __u8 nonce[WP_PROBE_NONCE_LEN]);
/*
 * Parse a received ICMP(v6) packet: true for an echo reply, with its id and
 * seq, and its payload's first WP_PROBE_NONCE_LEN bytes in nonce (zero when shorter).
 */
bool probe_icmp_parse_reply(int family, const void *buf, size_t len, __u16 *id, __u16 *seq,
			    __u8 nonce[WP_PROBE_NONCE_LEN]);

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
