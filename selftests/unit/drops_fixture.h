/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the drop-tracer test and its benchmark both set up. */
#ifndef __WARMPATH_DROPS_FIXTURE_H
#define __WARMPATH_DROPS_FIXTURE_H

#include <linux/types.h>
#include "drops.h"

/* 127.0.0.1 belongs to peer peer_id, "loopback": a watched drop on lo takes
 * the attribution path. 0 or a negative errno. */
int drops_add_loopback_peer(struct wp_drops *d, __u32 peer_id);

#endif /* __WARMPATH_DROPS_FIXTURE_H */
