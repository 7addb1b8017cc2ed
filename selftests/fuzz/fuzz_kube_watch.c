// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Kubernetes watch stream (user/discovery/kube_watch.c): the body of a
 * watch response delivered in arbitrary chunks, as libcurl hands them over,
 * into kube_watch_feed() (kube.c is included for its static option parser;
 * the target links without kube.o). The first 4 bytes seed the chunk sizes (1..64); a
 * watch that fails starts over, as after a reconnect.
 */
#include "../../user/discovery/kube.c"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct wp_kube k;
	static bool ready;
	struct xfer x = {};
	uint32_t seed = 1;
	char err[128];

	if (!ready) {
		pthread_mutex_init(&k.lock, NULL);
		pthread_cond_init(&k.cond, NULL);
		k.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		snprintf(k.node_name, sizeof(k.node_name), "self");
		if (parse_annotations(k.ann_buf, sizeof(k.ann_buf), k.annotations,
				      KUBE_MAX_ANNOTATIONS, KUBE_DEFAULT_ANNOTATIONS, "address",
				      err, sizeof(err)))
			abort();
		k.pfx_ann_default = true;
		k.max_event = 4096;
		ready = true;
	}
	if (size >= 4) {
		memcpy(&seed, data, 4);
		data += 4;
		size -= 4;
	}
	x.k = &k;
	x.watch = true;
	x.max = k.max_event;
	while (size) {
		size_t n;

		seed = seed * 1103515245 + 12345;
		n = 1 + (seed >> 16) % 64;
		if (n > size)
			n = size;
		/* each chunk in its own allocation, like libcurl's buffer: no NUL after it */
		char *chunk = malloc(n);

		FUZZ_CHECK(chunk);
		memcpy(chunk, data, n);
		if (!kube_watch_feed(&x, chunk, n)) {
			x.len = 0;
			x.fail = OK;
		}
		free(chunk);
		data += n;
		size -= n;
	}
	free(x.buf);
	/* the node table must stay sorted by name */
	for (int i = 1; i < k.nodes.n; i++)
		FUZZ_CHECK(strcmp(k.nodes.v[i - 1].name, k.nodes.v[i].name) < 0);
	/* keep the table small across runs: forget the nodes (the array is reused) */
	if (k.nodes.n > 1000)
		k.nodes.n = 0;
	return 0;
}
