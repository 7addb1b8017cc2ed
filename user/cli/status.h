/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Reading the pinned maps: `warmpath status` and the agent's JSON view. */
#ifndef __WARMPATH_STATUS_H
#define __WARMPATH_STATUS_H

#include <jansson.h>
#include <linux/types.h>

#include "util.h"
#include "warmpath.h"

/* Names of the datapath's stats (enum wp_stat), for status and metrics. */
extern const char *const wp_stat_names[WP_STAT_MAX];

/*
 * The per-CPU `stats` map summed over CPUs into sums[]; returns the bit mask
 * of the slots read (1u << enum wp_stat).
 */
__u32 wp_stats_read(int stats_fd, __u64 sums[WP_STAT_MAX]);
/* JSON of the pinned maps under pin_path: {"interfaces":[...],"peers":[...],...}. */
json_t *status_json_from_pins(const char *pin_path, char *err, size_t errlen);
/* One peer object of `status --json`: name, id, then the schema fields (peer_json.h). */
json_t *status_peer_json(struct peer_state *ps, __u32 id, __u64 now);
int cmd_status(int argc, char **argv);

#endif /* __WARMPATH_STATUS_H */
