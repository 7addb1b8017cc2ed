/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Tags of the agent's epoll loop: the kind of source in the high half of
 * epoll_data.u64, a peer index in the low half. The prober and the event log
 * register their descriptors with these; the loop dispatches on them.
 */
#ifndef __WARMPATH_EVTAG_H
#define __WARMPATH_EVTAG_H

#include <linux/types.h>

enum { EV_UDP = 1, EV_ICMP4, EV_ICMP6, EV_HTTP, EV_RING, EV_KUBE, EV_ROUTES };
#define EV_TAG(kind, idx) (((__u64)(kind) << 32) | (__u32)(idx))

#endif /* __WARMPATH_EVTAG_H */
