/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A fake wireguard-go UAPI server for the UAPI client tests: one connection
 * on a unix socket in a private /tmp directory, answering in chunks, not at
 * all, half, or with an endless flood (enum fake_mode).
 */
#ifndef __WARMPATH_FAKE_UAPI_H
#define __WARMPATH_FAKE_UAPI_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* A fake wireguard-go: one connection on a unix socket in a private /tmp directory. */
enum fake_mode {
	FAKE_REPLY, /* the reply, in chunks */
	FAKE_SILENT, /* read the request, answer nothing */
	FAKE_CLOSE_EARLY, /* half the reply, then close */
	FAKE_FLOOD, /* endless key=value lines without the closing empty line */
};

struct fake_uapi {
	char dir[64];
	char path[128];
	int lfd;
	enum fake_mode mode;
	const char *reply;
	size_t chunk;
	char request[64];
	pthread_t thread;
};

bool fake_uapi_start(struct fake_uapi *s, enum fake_mode mode, const char *reply, size_t chunk);
void fake_uapi_stop(struct fake_uapi *s);

#endif /* __WARMPATH_FAKE_UAPI_H */
