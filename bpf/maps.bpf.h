/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Maps shared by the datapath (datapath.bpf.c) and the drop tracer
 * (drops.bpf.c). Both objects pin them by name under the same pin path, so the
 * second object to load reuses the first one's maps.
 */
#ifndef __WARMPATH_MAPS_BPF_H
#define __WARMPATH_MAPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "warmpath.h"

/*
 * A map pinned by name under the loader's pin path (LIBBPF_PIN_BY_NAME): the
 * second object to load reuses the first one's.
 */
#define WP_PINNED_MAP(_name, _type, _max_entries, _key, _value) \
	struct {                                                \
		__uint(type, _type);                            \
		__uint(max_entries, _max_entries);              \
		__type(key, _key);                              \
		__type(value, _value);                          \
		__uint(pinning, LIBBPF_PIN_BY_NAME);            \
	} _name SEC(".maps")

/* ifindex -> configuration; user space's record of what it attached where. */
WP_PINNED_MAP(ifaces, BPF_MAP_TYPE_HASH, WP_MAX_IFACES, __u32, struct iface_cfg);

/* ifindex -> WP_IF_* flags: the hot-path copy of `ifaces` (an array lookup is inlined). */
WP_PINNED_MAP(if_flags, BPF_MAP_TYPE_ARRAY, WP_MAX_IFINDEX, __u32, __u32);

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, WP_MAX_PREFIXES);
	__type(key, struct prefix_key);
	__type(value, struct prefix_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} prefixes SEC(".maps");

/* Mmapable: the agent writes its fields (counters, stamps, arm) with plain atomic stores. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WP_MAX_PEERS);
	__type(key, __u32);
	__type(value, struct peer_state);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} peers SEC(".maps");

/* Per-CPU per-peer packet and byte counters: the only per-packet writes. */
WP_PINNED_MAP(peer_counters, BPF_MAP_TYPE_PERCPU_ARRAY, WP_MAX_PEERS, __u32, struct peer_counters);

WP_PINNED_MAP(stats, BPF_MAP_TYPE_PERCPU_ARRAY, WP_STAT_MAX, __u32, __u64);

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1; /* per-CPU slot: no atomic needed */
}

/*
 * The peer slot of an address (IPv4-mapped), or NULL: with *peer_id 0 when no
 * prefix matched, with the bad id when a prefix points outside the array.
 */
static __always_inline struct peer_state *peer_of_addr(const __u8 *addr, __u32 *peer_id)
{
	struct prefix_key key = { .prefixlen = 128 };
	struct prefix_val *pv;

	*peer_id = 0;
	__builtin_memcpy(key.addr, addr, 16);
	pv = bpf_map_lookup_elem(&prefixes, &key);
	if (!pv)
		return NULL;
	*peer_id = pv->peer_id;
	return bpf_map_lookup_elem(&peers, &pv->peer_id);
}

#ifndef EEXIST
#define EEXIST 17
#endif

/*
 * The value at key, created from *init when absent (as libbpf-tools'
 * bpf_map_lookup_or_try_init): NULL only when the map is full (or the entry
 * vanished again, an LRU evicting it at once). A racing CPU that inserts
 * first is fine: both end up with the same entry.
 */
static __always_inline void *bpf_map_lookup_or_try_init(void *map, const void *key,
							const void *init)
{
	void *val = bpf_map_lookup_elem(map, key);
	long err;

	if (val)
		return val;
	err = bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	if (err && err != -EEXIST)
		return NULL;
	return bpf_map_lookup_elem(map, key);
}

static const __u64 hist_bounds_ns[WP_HIST_BOUNDS] = WP_HIST_BOUNDS_NS;

/* Count one value into a histogram shared between CPUs. */
static __always_inline void hist_observe(struct wp_hist *h, __u64 v)
{
	__u32 slot = WP_HIST_BOUNDS;

	for (__u32 i = 0; i < WP_HIST_BOUNDS; i++) {
		if (v <= hist_bounds_ns[i]) {
			slot = i;
			break;
		}
	}
	__sync_fetch_and_add(&h->slots[slot], 1);
	__sync_fetch_and_add(&h->sum_ns, v);
	__sync_fetch_and_add(&h->count, 1);
}

#endif /* __WARMPATH_MAPS_BPF_H */
