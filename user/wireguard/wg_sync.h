/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What WireGuard tells the agent about its peers (wg_attrib.h applied to the
 * agent's peer set), for `warmpath run`:
 *	- allowed IPs become prefixes of the peer they belong to (unless
 *	  --no-wireguard-prefixes), so pod CIDRs routed through WireGuard are
 *	  attributed without being listed;
 *	- peers held warm by a WireGuard persistent keepalive no longer than the
 *	  keep-alive interval are not probed in idle mode;
 *	- the underlay interface, when --underlay-interface is not given, is the
 *	  one the route to the WireGuard endpoints goes through.
 * One agent a process: the state (what the last sync saw) is this file's.
 *
 *	agent_install_peers():	wg_sync_peers(&set, ifaces_fd, &opts);  (before installing)
 *	agent loop:		if (wg_sync_changed(ifaces_fd)) agent_install_peers(a);
 *	agent tick, idle mode, a probe due: if (wg_sync_keepalive_suppress(name)) suppressed
 */
#ifndef __WARMPATH_WG_SYNC_H
#define __WARMPATH_WG_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "peers.h"
#include "prom.h"

/* How often wg_sync_changed() reads the WireGuard devices again. */
#define WG_SYNC_INTERVAL_NS (10ull * 1000000000ull)

struct wg_sync_opts {
	bool add_prefixes; /* false: --no-wireguard-prefixes */
	double keepalive_interval_s; /* warmpath's keep-alive interval */
};

/*
 * Read the WireGuard devices among the `ifaces` map's interfaces and apply
 * them to @set (before it is installed): allowed IPs as prefixes, and the
 * keepalive-held peers remembered by name. Returns the number of prefixes
 * added, or -errno (then @set is as it was, prefixes aside).
 */
int wg_sync_peers(struct wp_peer_set *set, int ifaces_fd, const struct wg_sync_opts *o);
/*
 * At most every WG_SYNC_INTERVAL_NS: did the WireGuard peers (keys, allowed
 * IPs, keepalive) change since the last wg_sync_peers()? Then the agent
 * installs its peers again.
 */
bool wg_sync_changed(int ifaces_fd);
/* Does WireGuard keep @peer_name warm (persistent keepalive <= the interval)? */
bool wg_sync_keepalive_holds(const char *peer_name);
/* Is any peer held so now? (Once a tick: most nodes have none, no lookup per peer.) */
bool wg_sync_keepalive_any(void);
/* The same, counting a keep-alive suppressed for that reason when true. */
bool wg_sync_keepalive_suppress(const char *peer_name);
/* Has wg_sync_peers() run in this process (the agent, not `warmpath status`)? */
bool wg_sync_active(void);
/* The names of the peers held warm now: a JSON array (NULL on ENOMEM). */
json_t *wg_sync_held_json(void);
/*
 * warmpath_keepalives_suppressed_by_reason_total{peer,reason="wireguard_keepalive"},
 * warmpath_wireguard_keepalive_held{peer}; nothing before the first sync.
 */
void wg_sync_emit_metrics(struct prom_buf *b);
/*
 * When @underlay is empty: set it to the interface the route to the
 * endpoints of the WireGuard devices on this host goes through (logged);
 * "none" (--underlay-interface none) becomes empty: no underlay at all.
 * Returns 0 (set or left), -ENOENT when none was found.
 */
int wg_sync_underlay(char *underlay, size_t len);

#endif /* __WARMPATH_WG_SYNC_H */
