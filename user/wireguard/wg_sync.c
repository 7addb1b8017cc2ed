// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* WireGuard applied to the agent's peers: see wg_sync.h. */
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "util.h"
#include "wg_attrib.h"
#include "wg_sync.h"
#include "wireguard.h"

static pthread_mutex_t sync_lock = PTHREAD_MUTEX_INITIALIZER;
static __u64 last_fingerprint, last_check_ns;
static bool synced;

/* Every peer ever held, sorted by name: whether it is now, and its suppressed keep-alives. */
struct held_peer {
	char name[WP_PEER_NAME_LEN];
	bool held;
	__u64 suppressed;
};
static struct held_peer *held_peers;
static int nheld, capheld;
static int nheld_now; /* of them, held now */

/* FNV-1a over what attribution and keepalive depend on. */
static __u64 fingerprint(const struct wg_device *devs, int ndevs)
{
	__u64 h = 1469598103934665603ull;

#define MIX(p, n)                                                               \
	do {                                                                    \
		for (size_t ___i = 0; ___i < (n); ___i++)                       \
			h = (h ^ ((const __u8 *)(p))[___i]) * 1099511628211ull; \
	} while (0)
	for (int d = 0; d < ndevs; d++) {
		MIX(devs[d].ifname, strlen(devs[d].ifname));
		for (int i = 0; i < devs[d].npeers; i++) {
			const struct wg_uapi_peer *p = &devs[d].peers[i];

			MIX(p->public_key, WG_KEY_LEN);
			MIX(&p->has_endpoint, sizeof(p->has_endpoint));
			if (p->has_endpoint)
				MIX(p->endpoint_addr, 16);
			MIX(&p->persistent_keepalive, sizeof(p->persistent_keepalive));
			MIX(&p->nallowed_ips, sizeof(p->nallowed_ips));
			for (int a = 0; a < p->nallowed_ips; a++)
				MIX(&p->allowed_ips[a], sizeof(p->allowed_ips[a]));
		}
	}
#undef MIX
	return h;
}

static int cmp_name(const void *a, const void *b)
{
	return strncmp(a, b, WP_PEER_NAME_LEN);
}

int wg_sync_peers(struct wp_peer_set *set, int ifaces_fd, const struct wg_sync_opts *o)
{
	struct wg_device *devs = NULL;
	bool *held = NULL;
	int ndevs, added = 0, dropped = 0, n = 0;

	ndevs = ifaces_fd >= 0 ? wg_devices_from_ifaces(ifaces_fd, &devs) : 0;
	if (ndevs < 0)
		return ndevs;
	if (o->add_prefixes && ndevs) {
		added = wg_peers_add_allowed_ips(set, devs, ndevs, &dropped);
		if (added > 0)
			log_info("wireguard: %d allowed IP(s) added to peers' prefixes", added);
		if (dropped)
			log_warn(
				"wireguard: %d allowed IP(s) not added: their peer has %d prefixes",
				dropped, WP_MAX_PEER_PREFIXES);
	}
	held = calloc(set->n ? set->n : 1, sizeof(*held));
	if (!held ||
	    (ndevs && wg_keepalive_held(set, devs, ndevs, o->keepalive_interval_s, held) < 0)) {
		added = -ENOMEM;
		goto out;
	}
	pthread_mutex_lock(&sync_lock);
	for (int i = 0; i < nheld; i++)
		held_peers[i].held = false;
	for (int i = 0; i < set->n; i++) {
		struct held_peer *h;

		if (!held[i])
			continue;
		n++;
		h = bsearch(set->peers[i].name, held_peers, nheld, sizeof(*held_peers), cmp_name);
		if (!h && nheld < WP_MAX_PEERS) {
			if (nheld == capheld) {
				int cap = capheld ? capheld * 2 : 16;
				struct held_peer *v = realloc(held_peers, cap * sizeof(*v));

				if (!v)
					continue;
				held_peers = v;
				capheld = cap;
			}
			h = &held_peers[nheld++];
			memset(h, 0, sizeof(*h));
			memcpy(h->name, set->peers[i].name, WP_PEER_NAME_LEN);
			qsort(held_peers, nheld, sizeof(*held_peers), cmp_name);
			h = bsearch(set->peers[i].name, held_peers, nheld, sizeof(*held_peers),
				    cmp_name);
		}
		if (h)
			h->held = true;
	}
	nheld_now = n;
	last_fingerprint = fingerprint(devs, ndevs);
	last_check_ns = wp_now_ns();
	synced = true;
	pthread_mutex_unlock(&sync_lock);
	if (n)
		log_info("wireguard: %d peer(s) held warm by a persistent keepalive <= %gs: not "
			 "probed in idle mode",
			 n, o->keepalive_interval_s);
out:
	free(held);
	wg_devices_free(devs, ndevs);
	return added;
}

bool wg_sync_changed(int ifaces_fd)
{
	struct wg_device *devs = NULL;
	__u64 now = wp_now_ns(), fp;
	bool changed;
	int ndevs;

	pthread_mutex_lock(&sync_lock);
	if (!synced || now - last_check_ns < WG_SYNC_INTERVAL_NS) {
		pthread_mutex_unlock(&sync_lock);
		return false;
	}
	last_check_ns = now;
	pthread_mutex_unlock(&sync_lock);
	ndevs = wg_devices_from_ifaces(ifaces_fd, &devs);
	if (ndevs < 0)
		return false;
	fp = fingerprint(devs, ndevs);
	wg_devices_free(devs, ndevs);
	pthread_mutex_lock(&sync_lock);
	changed = fp != last_fingerprint;
	pthread_mutex_unlock(&sync_lock);
	if (changed)
		log_info("wireguard: peers changed (keys, allowed IPs, endpoints or keepalive)");
	return changed;
}

static struct held_peer *held_find(const char *peer_name)
{
	char key[WP_PEER_NAME_LEN] = {};
	struct held_peer *h;

	snprintf(key, sizeof(key), "%s", peer_name);
	h = nheld ? bsearch(key, held_peers, nheld, sizeof(*held_peers), cmp_name) : NULL;
	return h && h->held ? h : NULL;
}

bool wg_sync_keepalive_holds(const char *peer_name)
{
	bool found;

	pthread_mutex_lock(&sync_lock);
	found = held_find(peer_name);
	pthread_mutex_unlock(&sync_lock);
	return found;
}

bool wg_sync_keepalive_any(void)
{
	return WP_LOCKED_READ(&sync_lock, nheld_now) > 0;
}

bool wg_sync_keepalive_suppress(const char *peer_name)
{
	struct held_peer *h;

	pthread_mutex_lock(&sync_lock);
	h = held_find(peer_name);
	if (h)
		h->suppressed++;
	pthread_mutex_unlock(&sync_lock);
	return h;
}

bool wg_sync_active(void)
{
	return WP_LOCKED_READ(&sync_lock, synced);
}

json_t *wg_sync_held_json(void)
{
	json_t *arr = json_array();

	pthread_mutex_lock(&sync_lock);
	for (int i = 0; arr && i < nheld; i++)
		if (held_peers[i].held)
			json_array_append_new(arr, json_string(held_peers[i].name));
	pthread_mutex_unlock(&sync_lock);
	return arr;
}

void wg_sync_emit_metrics(struct prom_buf *b)
{
	const char *sr = "warmpath_keepalives_suppressed_by_reason_total";
	const char *kh = "warmpath_wireguard_keepalive_held";

	pthread_mutex_lock(&sync_lock);
	if (!synced) {
		pthread_mutex_unlock(&sync_lock);
		return;
	}
	prom_family(b, sr, PROM_COUNTER,
		    "Keep-alives not sent, by reason: wireguard_keepalive (a WireGuard persistent "
		    "keepalive no longer than the keep-alive interval holds the path open; also "
		    "counted in warmpath_keepalives_suppressed_total)");
	for (int i = 0; i < nheld; i++) {
		const char *l[] = { "peer", held_peers[i].name, "reason", "wireguard_keepalive",
				    NULL };

		prom_sample_u64(b, sr, l, held_peers[i].suppressed);
	}
	prom_family(b, kh, PROM_GAUGE,
		    "1 when a WireGuard persistent keepalive holds the peer's path open (not "
		    "probed in idle mode)");
	for (int i = 0; i < nheld; i++) {
		const char *l[] = { "peer", held_peers[i].name, NULL };

		prom_sample(b, kh, l, held_peers[i].held);
	}
	pthread_mutex_unlock(&sync_lock);
}

int wg_sync_underlay(char *underlay, size_t len)
{
	struct if_nameindex *ifs, *it;
	const char **names;
	struct wg_device *devs = NULL;
	char oif[WP_IFNAME_LEN];
	int n = 0, ndevs, ret;

	if (!strcmp(underlay, "none")) { /* --underlay-interface none: no handshake observation */
		underlay[0] = '\0';
		return 0;
	}
	if (underlay[0])
		return 0;
	ifs = if_nameindex();
	if (!ifs)
		return -errno;
	for (it = ifs; it->if_index; it++)
		n++;
	names = calloc(n ? n : 1, sizeof(*names));
	if (!names) {
		if_freenameindex(ifs);
		return -ENOMEM;
	}
	n = 0;
	for (it = ifs; it->if_index; it++)
		names[n++] = it->if_name;
	ndevs = wg_devices_read(names, n, &devs);
	ret = ndevs > 0 ? wg_underlay_of(devs, ndevs, oif) : -ENOENT;
	if (!ret) {
		snprintf(underlay, len, "%s", oif);
		log_info("underlay interface %s: the route to the WireGuard endpoints (override: "
			 "--underlay-interface)",
			 underlay);
	}
	wg_devices_free(devs, ndevs > 0 ? ndevs : 0);
	free(names);
	if_freenameindex(ifs);
	return ret;
}
