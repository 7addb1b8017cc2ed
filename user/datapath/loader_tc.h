/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The loader's tc clsact path, shared by loader.c and cleanup.c. */
#ifndef __WARMPATH_LOADER_TC_H
#define __WARMPATH_LOADER_TC_H

#include <stddef.h>
#include <linux/types.h>
#include "loader.h"
#include "tc_filters.h"

/* Our filter on (a, dir), replacing our own in place; refuses a foreign one. */
int wp_loader_attach_tc(struct wp_loader *ld, struct wp_attachment *a, int dir, int prog_fd,
			char *err, size_t errlen);
/*
 * Remove our tc filters from both hooks of ifindex (what this or an earlier run
 * attached; tags may be NULL), then the clsact qdisc if we created it and
 * nothing else is on it, and the record.
 */
void wp_tc_detach_ours(int rec_fd, const __u8 (*tags)[WP_TC_TAG_LEN], int ifindex);

#endif /* __WARMPATH_LOADER_TC_H */
