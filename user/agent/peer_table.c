// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "peer_counters.h"
#include "peer_json.h"
#include "peer_table.h"
#include "util.h"

int peer_table_init(struct peer_table *t, int peers_fd, int hists_fd)
{
	memset(t, 0, sizeof(*t));
	t->peers_fd = peers_fd;
	t->hists_fd = hists_fd;
	t->counters_fd = -1;
	t->bpf_buf = calloc(WP_MAX_PEERS, sizeof(*t->bpf_buf));
	t->id_to_idx = malloc(WP_MAX_PEERS * sizeof(*t->id_to_idx));
	if (!t->bpf_buf || !t->id_to_idx) {
		peer_table_free(t);
		return -ENOMEM;
	}
	for (int i = 0; i < WP_MAX_PEERS; i++)
		t->id_to_idx[i] = -1;
	return 0;
}

int peer_table_attach_counters(struct peer_table *t, int counters_fd, __u64 cold_threshold_ns,
			       __u64 unanswered_ns)
{
	t->unanswered_ns = unanswered_ns;
	t->peers_mem = wp_peers_mmap(t->peers_fd);
	t->fold_ids = calloc(WP_MAX_PEERS, sizeof(*t->fold_ids));
	t->fold_buf = calloc(WP_MAX_PEERS, sizeof(*t->fold_buf));
	if (!t->peers_mem || !t->fold_ids || !t->fold_buf) {
		int err = t->peers_mem ? -ENOMEM : -errno;

		wp_peers_munmap(t->peers_mem);
		t->peers_mem = NULL;
		return err;
	}
	t->counters_fd = counters_fd;
	t->cold_threshold_ns = cold_threshold_ns;
	return 0;
}

void peer_table_free(struct peer_table *t)
{
	wp_peers_munmap(t->peers_mem);
	t->peers_mem = NULL;
	t->counters_fd = -1;
	free(t->fold_ids);
	free(t->fold_buf);
	t->fold_ids = NULL;
	t->fold_buf = NULL;
	free(t->e);
	free(t->bpf_buf);
	free(t->id_to_idx);
	free(t->hists_buf);
	free(t->hists_keys);
	t->hists_buf = NULL;
	t->hists_keys = NULL;
	t->e = NULL;
	t->bpf_buf = NULL;
	t->id_to_idx = NULL;
	t->n = 0;
}

int peer_table_rebuild(struct peer_table *t, const struct wp_peer_set *set, int *old_of)
{
	struct peer_entry *e = calloc(set->n ? set->n : 1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	for (int i = 0; i < set->n; i++) {
		const struct wp_peer *p = &set->peers[i];

		old_of[i] = -1;
		for (int j = 0; j < t->n; j++) {
			if (strcmp(t->e[j].name, p->name))
				continue;
			e[i] = t->e[j]; /* counters, histogram, keep-alive schedule */
			old_of[i] = j;
			break;
		}
		snprintf(e[i].name, sizeof(e[i].name), "%s", p->name);
		snprintf(e[i].addr_str, sizeof(e[i].addr_str), "%s", p->addr_str);
		e[i].addr = p->addr;
		e[i].map_id = p->id;
		/*
		 * A slot the peer set gave a new peer just now (its entry zeroed): the
		 * per-CPU counters may still hold a former peer's. A slot kept by name
		 * (a restart after SIGKILL, a reload) keeps its counters, folded or not.
		 */
		if (p->new_slot)
			wp_peer_counters_zero(t->counters_fd, p->id);
	}
	free(t->e);
	t->e = e;
	t->n = set->n;
	for (int i = 0; i < WP_MAX_PEERS; i++)
		t->id_to_idx[i] = -1;
	for (int i = 0; i < t->n; i++)
		if (t->e[i].map_id < WP_MAX_PEERS)
			t->id_to_idx[t->e[i].map_id] = i;
	return 0;
}

int peer_table_index_of_id(const struct peer_table *t, __u32 map_id)
{
	return map_id < WP_MAX_PEERS ? t->id_to_idx[map_id] : -1;
}

void peer_table_read_states(struct peer_table *t)
{
	__u32 max_id = 0, count, out_batch;
	static __u32 keys[WP_MAX_PEERS];
	int ret, n = 0;

	if (t->peers_mem) {
		for (int i = 0; i < t->n; i++)
			if (t->e[i].map_id < WP_MAX_PEERS)
				t->fold_ids[n++] = t->e[i].map_id;
		__u64 now = wp_now_ns();

		wp_peers_fold(t->peers_mem, t->counters_fd, t->fold_ids, n, t->fold_buf, now,
			      t->cold_threshold_ns);
		wp_peers_judge(t->peers_mem, t->fold_ids, n, now, t->unanswered_ns, &t->cold_gaps);
	}

	for (int i = 0; i < t->n; i++)
		if (t->e[i].map_id > max_id)
			max_id = t->e[i].map_id;
	count = max_id + 1;
	ret = bpf_map_lookup_batch(t->peers_fd, NULL, &out_batch, keys, t->bpf_buf, &count, NULL);
	if (ret && errno != ENOENT) {
		/* no batch support: one lookup per peer */
		for (int i = 0; i < t->n; i++)
			bpf_map_lookup_elem(t->peers_fd, &t->e[i].map_id, &t->e[i].bpf);
		return;
	}
	for (int i = 0; i < t->n; i++)
		if (t->e[i].map_id < count)
			t->e[i].bpf = t->bpf_buf[t->e[i].map_id];
}

bool peer_entry_check_bypass(struct peer_entry *e)
{
	if (!e->probe_check || e->ka.inflight)
		return false;
	e->probe_check = false;
	if (e->bpf.tx_packets != e->probe_tx_mark)
		return false;
	e->probes_bypassed++;
	return true;
}

void peer_table_count_bypass(struct peer_table *t, const struct peer_entry *e)
{
	/* in the pinned map (the agent's own field): status shows it, a restart keeps it */
	if (t->peers_mem && e->map_id < WP_MAX_PEERS)
		__atomic_fetch_add(&t->peers_mem[e->map_id].probes_bypassed, 1, __ATOMIC_RELAXED);
}

json_t *peer_entry_json(const struct peer_entry *e, __u64 now)
{
	json_t *o = json_object();

	json_object_set_new(o, "name", json_string(e->name));
	json_object_set_new(o, "id", json_integer(e->map_id));
	json_object_set_new(o, "address", json_string(e->addr_str));
	wp_peer_state_json(o, &e->bpf, now); /* the same function as status --json */
	json_object_set_new(o, "probes_sent", json_integer(e->probes_sent));
	json_object_set_new(o, "probes_failed", json_integer(e->probes_failed));
	json_object_set_new(o, "probes_answered", json_integer(e->probes_answered));
	json_object_set_new(o, "keepalives_suppressed", json_integer(e->suppressed));
	json_object_set_new(o, "last_probe_rtt_seconds",
			    e->probes_answered ? json_real(e->last_rtt_ns / 1e9) : json_null());
	json_object_set_new(o, "cold_starts_unanswered", json_integer(e->cold_unanswered));
	return o;
}

json_t *peer_table_json(const struct peer_table *t, __u64 now)
{
	json_t *arr = json_array();

	for (int i = 0; i < t->n; i++)
		json_array_append_new(arr, peer_entry_json(&t->e[i], now));
	return arr;
}
