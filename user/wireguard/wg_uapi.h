/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The wireguard-go UAPI client: the peer list of a device (public key,
 * endpoint, last handshake, allowed IPs) read over its UNIX socket under
 * WG_UAPI_DIR, the parser of that reply, and base64 keys as `wg show` prints
 * them. The metrics and JSON built on it are wireguard.h.
 *
 * struct wg_device and struct wg_uapi_peer are also what the kernel
 * WireGuard client (wg_netlink.h) fills, so both kinds are presented alike.
 */
#ifndef __WARMPATH_WG_UAPI_H
#define __WARMPATH_WG_UAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "peers.h"
#include "warmpath.h"

#define WG_UAPI_DIR "/var/run/wireguard"
#define WG_UAPI_TIMEOUT_MS 1000 /* connect + request + whole reply */
#define WG_UAPI_MAX_REPLY (8u << 20) /* bytes; a longer reply is an error */
#define WG_UAPI_MAX_LINE 4096 /* bytes of one key=value line */
#define WG_UAPI_MAX_PEERS WP_MAX_PEERS /* more are dropped (dev->truncated) */
#define WG_UAPI_MAX_ALLOWED_IPS 1024 /* per peer; more are dropped (dev->truncated) */
#define WG_KEY_LEN 32
#define WG_KEY_B64_LEN 44 /* base64 of a key, as `wg show` prints it, without the NUL */

struct wg_uapi_peer {
	__u8 public_key[WG_KEY_LEN];
	bool has_endpoint;
	__u8 endpoint_addr[16]; /* IPv4-mapped for IPv4, as in struct wg_endpoint_key */
	__u16 endpoint_port; /* host order */
	__s64 last_handshake_sec; /* CLOCK_REALTIME; 0 and 0: never */
	__s64 last_handshake_nsec;
	__u64 rx_bytes;
	__u64 tx_bytes;
	__u32 persistent_keepalive; /* seconds, 0: off */
	int nallowed_ips;
	struct wp_prefix *allowed_ips; /* IPv4-mapped, like the prefixes trie */
};

struct wg_device {
	char ifname[WP_IFNAME_LEN];
	int err; /* 0, or the negative errno of a failed query (then error says why) */
	char error[160];
	__u16 listen_port;
	__u32 fwmark;
	bool truncated; /* peers or allowed IPs beyond the WG_UAPI_MAX_* caps were dropped */
	bool kernel; /* read over generic netlink (wg_netlink.h), else over the UAPI socket */
	int npeers;
	struct wg_uapi_peer *peers;
};

/*
 * The text of a `get=1` reply (up to, not including, the closing empty line,
 * or with it) into dev (zeroed first; free with wg_device_free). The private
 * and preshared keys are skipped, never stored. Returns 0, or -EPROTO for
 * anything malformed (message in err), -errno for a non-zero `errno=`.
 */
int wg_uapi_parse(const char *text, size_t len, struct wg_device *dev, char *err, size_t errlen);
/* `get=1` over an AF_UNIX stream socket at sock_path, all within timeout_ms. */
int wg_uapi_query(const char *sock_path, int timeout_ms, struct wg_device *dev, char *err,
		  size_t errlen);
/* wg_uapi_query() of WG_UAPI_DIR/<ifname>.sock; -ENOENT when there is none. */
int wg_uapi_get(const char *ifname, struct wg_device *dev, char *err, size_t errlen);
void wg_device_free(struct wg_device *dev);

/* Does ifname have a UAPI socket under WG_UAPI_DIR (a wireguard-go device)? */
bool wg_uapi_has_socket(const char *ifname);
void wg_devices_free(struct wg_device *devs, int n);

/* Base64 of a key: WG_KEY_B64_LEN characters and a NUL. */
void wg_key_to_base64(const __u8 key[WG_KEY_LEN], char out[WG_KEY_B64_LEN + 1]);

#endif /* __WARMPATH_WG_UAPI_H */
