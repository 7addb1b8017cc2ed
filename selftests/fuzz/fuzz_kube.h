/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Shared by the Kubernetes stream targets (fuzz_kube_list.c, fuzz_kube_watch.c),
 * which include user/discovery/kube.c before this header: the client both
 * feed, and the input cut into chunks the way libcurl hands a body over.
 */
#ifndef __WARMPATH_FUZZ_KUBE_H
#define __WARMPATH_FUZZ_KUBE_H

#include "fuzz.h"

/* A client as kube_start() would leave it, with the default address annotations. */
static void fuzz_kube_init(struct wp_kube *k, int efd)
{
	char err[128];

	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->cond, NULL);
	k->efd = efd;
	snprintf(k->node_name, sizeof(k->node_name), "self");
	if (parse_annotations(k->ann_buf, sizeof(k->ann_buf), k->annotations, KUBE_MAX_ANNOTATIONS,
			      KUBE_DEFAULT_ANNOTATIONS, "address", err, sizeof(err)))
		abort();
	k->pfx_ann_default = true;
}

/*
 * The input past its first 4 bytes (the seed of the chunk sizes, 1..64) to
 * @feed chunk by chunk, each in its own allocation like libcurl's buffer (no
 * NUL after it); stops where @feed returns false.
 */
static void fuzz_kube_chunks(const uint8_t *data, size_t size, struct xfer *x,
			     bool (*feed)(struct xfer *x, char *chunk, size_t n))
{
	uint32_t seed = 1;

	if (size >= 4) {
		memcpy(&seed, data, 4);
		data += 4;
		size -= 4;
	}
	while (size) {
		size_t n;
		char *chunk;
		bool go_on;

		seed = seed * 1103515245 + 12345;
		n = 1 + (seed >> 16) % 64;
		if (n > size)
			n = size;
		chunk = malloc(n);
		FUZZ_CHECK(chunk);
		memcpy(chunk, data, n);
		go_on = feed(x, chunk, n);
		free(chunk);
		if (!go_on)
			break;
		data += n;
		size -= n;
	}
}

#endif /* __WARMPATH_FUZZ_KUBE_H */
