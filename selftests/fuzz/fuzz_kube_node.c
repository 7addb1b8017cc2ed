// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A Kubernetes Node object (user/discovery): JSON as the API server sends
 * it, turned into a peer by kube_node_peer() with the default address
 * annotations.
 */
#include <stdio.h>
#include <jansson.h>
#include "fuzz.h"
#include "kube.h"
#include "kube_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const annotations[] = { "projectcalico.org/IPv4IPIPTunnelAddr",
						   "projectcalico.org/IPv4VXLANTunnelAddr",
						   "example.com/probe-address", NULL };
	json_error_t jerr;
	struct wp_peer p;
	char err[256];
	json_t *node;

	node = json_loadb((const char *)data, size, 0, &jerr);
	if (!node)
		return 0;
	node_name_of(node);
	if (!kube_node_peer(node, annotations, &p, err, sizeof(err))) {
		FUZZ_CHECK(p.name[0] && p.nprefixes >= 1 && p.nprefixes <= WP_MAX_PEER_PREFIXES);
	}
	kube_node_peer(node, NULL, &p, err, sizeof(err));
	json_decref(node);
	return 0;
}
