/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Kubernetes discovery internals shared by kube.c (API client) and kube_peers.c (Nodes to peers). */
#ifndef __WARMPATH_KUBE_INT_H
#define __WARMPATH_KUBE_INT_H

#include <jansson.h>

/* metadata.name of a Node object, or NULL. */
static inline const char *node_name_of(const json_t *node)
{
	return json_string_value(json_object_get(json_object_get(node, "metadata"), "name"));
}

#endif /* __WARMPATH_KUBE_INT_H */
