// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <math.h>
#include "peer_json.h"
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
#define X(field, kind, key, metric, help) json_object_set_new(o, key, WP_JSON_##kind(field));
	WP_PEER_STATE_FIELDS(X)
#undef X
#undef WP_JSON_COUNTER
#undef WP_JSON_STAMP
#undef WP_JSON_COLD
#undef WP_JSON_SPAN
	json_object_set_new(o, "idle_seconds", age_json(now, idle_since));
}
