/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Which way the kernel sends to an address: one RTM_GETROUTE lookup, for
 * telling an operator where a probe that crossed no watched device went.
 */
#ifndef __WARMPATH_ROUTE_H
#define __WARMPATH_ROUTE_H

#include <stddef.h>
#include <sys/socket.h>

/*
 * "dev IF [via GW] [src SRC]" of the route to dst in out; 0, or -errno with
 * the reason in out.
 */
int route_describe(const struct sockaddr_storage *dst, char *out, size_t len);

#endif /* __WARMPATH_ROUTE_H */
