/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What prober.c (probes out, timeouts, metrics) and prober_rx.c (datagrams in) share. */
#ifndef __WARMPATH_PROBER_INT_H
#define __WARMPATH_PROBER_INT_H

#include <stdbool.h>
#include <sys/socket.h>
#include <linux/types.h>
#include "prober.h"

/* The peer table index of the peer owning an address, or -1. */
int peer_by_addr(const struct prober *p, const struct sockaddr_storage *ss);
/* The port of a socket address (host order). */
int sockaddr_port(const struct sockaddr_storage *ss);
/* The peer whose probe address (not just a prefix) this is, or -1. */
int peer_by_probe_addr(const struct prober *p, const struct sockaddr_storage *ss);
/* The probe in flight to peer idx ended: answered, or failed. */
void probe_done(struct prober *p, int idx, bool answered, __u64 now);

#endif /* __WARMPATH_PROBER_INT_H */
