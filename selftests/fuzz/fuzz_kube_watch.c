// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Kubernetes watch stream (user/discovery/kube_watch.c): the body of a
 * watch response delivered in arbitrary chunks, as libcurl hands them over,
 * into kube_watch_feed() (kube.c is included for its static option parser;
 * the target links without kube.o). The first 4 bytes seed the chunk sizes (1..64); a
 * watch that fails starts over, as after a reconnect.
 */
#include "../../user/discovery/kube.c"
#include "fuzz_kube.h"

/* A watch that fails starts over, as after a reconnect. */
static bool watch_feed(struct xfer *x, char *chunk, size_t n)
{
	if (!kube_watch_feed(x, chunk, n)) {
		x->len = 0;
		x->fail = OK;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct wp_kube k;
	static bool ready;
	struct xfer x = {};

	if (!ready) {
		fuzz_kube_init(&k, eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
		k.max_event = 4096;
		ready = true;
	}
	x.k = &k;
	x.watch = true;
	x.max = k.max_event;
	fuzz_kube_chunks(data, size, &x, watch_feed);
	free(x.buf);
	/* the node table must stay sorted by name */
	for (int i = 1; i < k.nodes.n; i++)
		FUZZ_CHECK(strcmp(k.nodes.v[i - 1].name, k.nodes.v[i].name) < 0);
	/* keep the table small across runs: forget the nodes (the array is reused) */
	if (k.nodes.n > 1000)
		k.nodes.n = 0;
	return 0;
}
