// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "peer_json.h"
#include "peers.h"
#include "peer_schema.h"
#include "util.h"

double wp_peer_idle_s(const struct peer_state *s, __u64 now)
{
	double age = wp_age_s(now, wp_idle_since_ns(s->last_tx_ns, s->last_rx_ns));

	return age < 0 ? INFINITY : age;
}

/* An age in seconds, null for never (JSON has no infinity). */
static json_t *age_json(__u64 now, __u64 stamp)
{
	return stamp ? json_real(wp_age_s(now, stamp)) : json_null();
}

void wp_peer_state_json(json_t *o, const struct peer_state *s, __u64 now)
{
	__u64 idle_since = wp_idle_since_ns(s->last_tx_ns, s->last_rx_ns);

#define WP_JSON_COUNTER(f) json_integer((json_int_t)s->f)
#define WP_JSON_STAMP(f) age_json(now, s->f)
#define WP_JSON_COLD(f) json_boolean(s->f != 0)
#define WP_JSON_SPAN(f) (s->f ? json_real(s->f / 1e9) : json_null())
#define WP_JSON_SOURCE(f) json_string(wp_interval_source_name(s->f))
#define WP_JSON_FLAG(f) json_boolean(s->f != 0)
#define X(field, kind, key, metric, help) json_object_set_new(o, key, WP_JSON_##kind(field));
	WP_PEER_STATE_FIELDS(X)
#undef X
#undef WP_JSON_SOURCE
#undef WP_JSON_FLAG
#undef WP_JSON_COUNTER
#undef WP_JSON_STAMP
#undef WP_JSON_COLD
#undef WP_JSON_SPAN
	json_object_set_new(o, "idle_seconds", age_json(now, idle_since));
}

void wp_peers_attach_prefixes(json_t *peers, int prefixes_fd, int src_fd)
{
	struct prefix_key key, next;
	size_t n = json_array_size(peers);
	json_t **lists;

	if (!n || prefixes_fd < 0)
		return;
	lists = calloc(WP_MAX_PEERS, sizeof(*lists));
	if (!lists)
		return;
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_array_get(peers, i);
		json_int_t id = json_integer_value(json_object_get(o, "id"));

		if (id >= 0 && id < WP_MAX_PEERS && !lists[id]) {
			lists[id] = json_array();
			json_object_set_new(o, "prefixes", lists[id]);
		}
	}
	for (int more = !bpf_map_get_next_key(prefixes_fd, NULL, &next); more;
	     more = !bpf_map_get_next_key(prefixes_fd, &key, &next)) {
		struct prefix_val val;
		struct wp_prefix p = {};
		__u32 src;
		char text[64];

		key = next;
		if (bpf_map_lookup_elem(prefixes_fd, &key, &val) || val.peer_id >= WP_MAX_PEERS ||
		    !lists[val.peer_id])
			continue;
		memcpy(p.addr, key.addr, 16);
		p.len = key.prefixlen;
		prefix_format(&p, text, sizeof(text));
		json_array_append_new(
			lists[val.peer_id],
			json_pack("{s:s, s:s}", "prefix", text, "source",
				  src_fd >= 0 && !bpf_map_lookup_elem(src_fd, &key, &src) ?
					  prefix_src_name(src) :
					  "unknown"));
	}
	free(lists);
}
