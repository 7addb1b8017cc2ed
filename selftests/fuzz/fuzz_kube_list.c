// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Node list scanner (user/discovery/kube_list_stream.c): the body of a
 * NodeList page delivered in arbitrary chunks, as libcurl hands them over,
 * into kube_list_feed(), which splits out the items and parses each alone
 * (kube.c is included for its static option parser; the target links
 * without kube.o). The first 4 bytes seed the chunk sizes (1..64). Checked:
 * the page without its items stays within its bound, no item beyond
 * item_max is ever held, the table never holds more than max_nodes.
 */
#include "../../user/discovery/kube.c"
#include "fuzz_kube.h"

/* A list that fails stops there, with the reason set. */
static bool list_feed(struct xfer *x, char *chunk, size_t n)
{
	if (kube_list_feed(x, chunk, n))
		return true;
	FUZZ_CHECK(x->fail != OK);
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct wp_kube k;
	static bool ready;
	struct node_table t = {};
	struct xfer x = {};

	if (!ready) {
		fuzz_kube_init(&k, -1);
		k.max_nodes = 64;
		ready = true;
	}
	x.k = &k;
	x.fresh = &t;
	x.max = 8192;
	x.item_max = 4096;
	x.fail = OK;
	fuzz_kube_chunks(data, size, &x, list_feed);
	FUZZ_CHECK(x.len <= x.max);
	FUZZ_CHECK(x.item_len <= x.item_max);
	FUZZ_CHECK(t.n <= k.max_nodes);
	for (int i = 0; i < t.n; i++)
		FUZZ_CHECK(t.v[i].name[0] && strlen(t.v[i].name) <= NODE_NAME_MAX);
	free(x.buf);
	free(x.item);
	free(t.v);
	return 0;
}
