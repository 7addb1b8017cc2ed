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
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct wp_kube k;
	static bool ready;
	struct node_table t = {};
	struct xfer x = {};
	uint32_t seed = 1;
	char err[128];

	if (!ready) {
		pthread_mutex_init(&k.lock, NULL);
		pthread_cond_init(&k.cond, NULL);
		k.efd = -1;
		snprintf(k.node_name, sizeof(k.node_name), "self");
		if (parse_annotations(k.ann_buf, sizeof(k.ann_buf), k.annotations,
				      KUBE_MAX_ANNOTATIONS, KUBE_DEFAULT_ANNOTATIONS, "address",
				      err, sizeof(err)))
			abort();
		k.pfx_ann_default = true;
		k.max_nodes = 64;
		ready = true;
	}
	if (size >= 4) {
		memcpy(&seed, data, 4);
		data += 4;
		size -= 4;
	}
	x.k = &k;
	x.fresh = &t;
	x.max = 8192;
	x.item_max = 4096;
	x.fail = OK;
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
		if (!kube_list_feed(&x, chunk, n)) {
			free(chunk);
			FUZZ_CHECK(x.fail != OK);
			break;
		}
		free(chunk);
		data += n;
		size -= n;
	}
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
