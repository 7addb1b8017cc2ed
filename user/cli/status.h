/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Reading the pinned maps: `warmpath status` and the agent's JSON view. */
#ifndef __WARMPATH_STATUS_H
#define __WARMPATH_STATUS_H

#include <jansson.h>
#include <linux/types.h>

#include "warmpath.h"

/* Names of the datapath's stats (enum wp_stat), for status and metrics. */
extern const char *const wp_stat_names[WP_STAT_MAX];

__u64 wp_now_ns(void);
/* Seconds as a short age for tables: "never" (s < 0), 12.3ms, 4.5s, 7m, 3h. */
void wp_format_age(double s, char *buf, size_t len);
/* An address in the datapath's 16-byte form (IPv4-mapped for IPv4) as text. */
void wp_addr16_format(const __u8 *addr, char *buf,
		      size_t len); /* CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns() */

/* JSON of the pinned maps under pin_path: {"interfaces":[...],"peers":[...],...}. */
json_t *status_json_from_pins(const char *pin_path, char *err, size_t errlen);
int cmd_status(int argc, char **argv);

#endif /* __WARMPATH_STATUS_H */
