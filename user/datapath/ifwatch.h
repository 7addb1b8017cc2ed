/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Which interfaces the agent watches: the datapath attached at start, and kept attached. */
#ifndef __WARMPATH_IFWATCH_H
#define __WARMPATH_IFWATCH_H

#include "config.h"
#include "loader.h"

/* At start: attach to what the configuration names. The number attached, or -1 (logged). */
int attach_interfaces(const struct wp_config *cfg, struct wp_loader *ld);
/* From the loop: detach from interfaces that vanished, attach to wanted ones that appeared. */
void reconcile_interfaces(const struct wp_config *cfg, struct wp_loader *ld);

#endif /* __WARMPATH_IFWATCH_H */
